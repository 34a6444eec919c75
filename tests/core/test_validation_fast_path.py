"""The cheap parse of plain E.164 numbers agrees with ``phonenumbers.parse`` everywhere."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from mindo_async._validation import _E164, _parse_plain_e164, phone_problem, valid_number


def _reference_problem(value: str) -> str | None:
    """``phone_problem`` as it was before the fast path: parse, then is_valid_number."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return "is not a valid phone number"
    if not phonenumbers.is_valid_number(number):
        return "is not a valid phone number for its country code"
    return None


def _samples() -> list[str]:
    rng = random.Random(20261126)
    found: list[str] = []
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for length in range(4, 15):
            for first in "0123456789":
                rest = "".join(rng.choice("0123456789") for _ in range(length - 1))
                found.append(f"+{code}{first}{rest}")
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in range(12):
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                code = str(example.country_code)
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                found.append(e164)
                # The same number written with its national prefix after the country code.
                prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix
                if prefix:
                    found.append(f"+{code}{prefix}{e164[len(code) + 1 :]}")
    # Argentina's mobile forms (9, 15), Mexico's old 1, Italy's leading zeros.
    found += ["+5491112345678", "+54111512345678", "+541115123456", "+5215512345678"]
    found += ["+390612345678", "+39312345678", "+3900612345678", "+4401234567890"]
    return [value for value in found if _E164.fullmatch(value)]


SAMPLES = _samples()


def test_fast_path_builds_what_parse_builds() -> None:
    """Whenever the fast path answers, its PhoneNumber equals parse's, field by field."""
    answered = 0
    for value in SAMPLES:
        fast = _parse_plain_e164(value)
        if fast is None:
            continue
        answered += 1
        assert fast == phonenumbers.parse(value, None), value
    # It must actually be the common path, or it saves nothing.
    assert answered > len(SAMPLES) // 2


@pytest.mark.parametrize("chunk", range(4))
@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_phone_problem_is_unchanged(chunk: int) -> None:
    """phone_problem gives the same verdict as parse + is_valid_number for every sample."""
    for value in SAMPLES[chunk::4]:
        assert phone_problem(value) == _reference_problem(value), value


def test_valid_number_is_libphonenumbers_answer() -> None:
    """The three-match validity check gives is_valid_number's answer on every sample."""
    checked = valid = 0
    for value in _samples():
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            continue
        expected = phonenumbers.is_valid_number(number)
        assert valid_number(number) is expected, value
        checked += 1
        valid += expected
    # Both answers are well represented, so neither branch goes untested.
    assert checked > 10_000
    assert valid > 1_000
    assert checked - valid > 1_000
