"""The cheap parse of plain E.164 numbers agrees with ``phonenumbers.parse`` everywhere."""

from __future__ import annotations

import itertools
import random

import phonenumbers
import pytest
from phonenumbers import PhoneMetadata, PhoneNumberDesc, PhoneNumberType
from phonenumbers.phonenumberutil import (
    _number_type_helper,
    _region_code_for_number_from_list,
    is_valid_number_for_region,
)

from mindo_async._validation import (
    _E164,
    _parse_plain_e164,
    _region_rule,
    _region_validity,
    _surely_valid_e164,
    _valid_in_regions,
    _validity_pattern,
    phone_problem,
    valid_number,
)


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
E164 = phonenumbers.PhoneNumberFormat.E164


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


def _shared_code_samples() -> list[str]:
    """Numbers of the country codes shared by several regions (+1, +44, +7, ...): each
    region's example numbers, with their last digits changed at random and their
    length changed by one, so that numbers land in every region, valid or not."""
    rng = random.Random(20261202)
    found: list[str] = []
    for code, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
        if len(regions) == 1:
            continue
        for region in regions:
            for number_type in range(12):
                example = phonenumbers.example_number_for_type(region, number_type)
                if example is None:
                    continue
                national = phonenumbers.national_significant_number(example)
                for kept in range(1, len(national) + 1):
                    for extra in (-1, 0, 0, 1):
                        size = max(len(national) - kept + extra, 0)
                        tail = "".join(rng.choice("0123456789") for _ in range(size))
                        found.append(f"+{code}{national[:kept]}{tail}")
    return [value for value in found if _E164.fullmatch(value)]


def _check_surely_valid(values: list[str]) -> tuple[int, set[str]]:
    """Assert the per-country-code verdict on ``values``; return how many it accepted
    and the regions of those numbers."""
    accepted = 0
    regions: set[str] = set()
    for value in values:
        plain = _parse_plain_e164(value)
        expected = plain is not None and phonenumbers.is_valid_number(plain)
        assert _surely_valid_e164(value) is expected, value
        if expected:
            assert plain is not None
            accepted += 1
            regions.add(phonenumbers.region_code_for_number(plain))
    return accepted, regions


def test_surely_valid_is_is_valid_number() -> None:
    """The per-country-code verdict accepts exactly the numbers parse reads as written
    that is_valid_number finds valid, for numbers of every country code."""
    accepted, regions = _check_surely_valid(SAMPLES)
    # Valid numbers of most regions, and plenty of refusals, were checked.
    assert accepted > 2_000
    assert len(SAMPLES) - accepted > 10_000
    assert len(regions) > 200


def test_surely_valid_follows_the_region_rule_of_shared_codes() -> None:
    """For a country code several regions share, the verdict is is_valid_number's: that
    of the first region whose leading digits (or, without them, patterns) match."""
    values = _shared_code_samples()
    accepted, regions = _check_surely_valid(values)
    assert accepted > 1_000
    assert len(values) - accepted > 1_000
    # Valid numbers were judged in every region an example number of a shared code
    # (written without leading zero or prefix) belongs to, not just the first ones.
    reachable = set()
    for regions_of_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.values():
        for region in regions_of_code if len(regions_of_code) > 1 else ():
            for number_type in range(12):
                example = phonenumbers.example_number_for_type(region, number_type)
                if example is None:
                    continue
                if _parse_plain_e164(phonenumbers.format_number(example, E164)) is not None:
                    reachable.add(phonenumbers.region_code_for_number(example))
    assert len(reachable) > 20
    assert reachable <= regions, sorted(reachable - regions)


# The regexes of _surely_valid_e164 against libphonenumber's own functions, on
# made-up metadata: real metadata never exercises some of the rules (types whose
# pattern allows lengths their possible lengths exclude, a general description
# narrower than its types, fixed-line and mobile patterns that are equal with
# different lengths), so these check the rules themselves on every short number.
SYNTHETIC_PATTERNS = [None, "", "[0-3]+", "1[0-3]*", "[23][0-3]{2}", "2?1[0-3]?", "1|12", "3[0-3]"]
SYNTHETIC_LENGTHS: list[tuple[int, ...]] = [(), (-1,), (2,), (3, 5), (1, 2, 3, 4), (1, 4)]
SYNTHETIC_CODE = 999
NATIONALS = [
    "".join(digits)
    for size in range(1, 6)
    for digits in itertools.product("0123", repeat=size)
    if digits[0] != "0"
]
TYPES = ["premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan"]
TYPES += ["voicemail"]


def _synthetic_desc(rng: random.Random) -> PhoneNumberDesc:
    return PhoneNumberDesc(
        national_number_pattern=rng.choice(SYNTHETIC_PATTERNS),
        possible_length=rng.choice(SYNTHETIC_LENGTHS),
    )


def _synthetic_metadata(rng: random.Random, region: str, leading: str | None) -> PhoneMetadata:
    """Made-up metadata: random descriptions, rare types mostly absent, and fixed
    line and mobile often sharing a pattern."""
    descs = {name: _synthetic_desc(rng) for name in ("general_desc", "fixed_line", "mobile")}
    if rng.random() < 0.5:  # a general description wider than the types, as in real data
        descs["general_desc"] = PhoneNumberDesc(national_number_pattern="[0-3]+")
    for name in TYPES:
        descs[name] = _synthetic_desc(rng) if rng.random() < 0.15 else None
    if rng.random() < 0.4:
        pattern = descs["fixed_line"].national_number_pattern
        descs["mobile"] = PhoneNumberDesc(
            national_number_pattern=pattern, possible_length=rng.choice(SYNTHETIC_LENGTHS)
        )
    return PhoneMetadata(
        id=region,
        country_code=SYNTHETIC_CODE,
        leading_digits=leading,
        register=False,
        **descs,
    )


def test_validity_pattern_is_number_type_helper() -> None:
    """A region's validity regex fully matches exactly the numbers libphonenumber
    gives a type with that region's metadata."""
    rng = random.Random(20261202)
    valid = invalid = 0
    for _ in range(60):
        metadata = _synthetic_metadata(rng, "ZZ", None)
        pattern = _validity_pattern(metadata)
        for national in NATIONALS:
            expected = _number_type_helper(national, metadata) != PhoneNumberType.UNKNOWN
            assert (pattern is not None and pattern.fullmatch(national) is not None) is expected
            valid += expected
            invalid += not expected
    assert valid > 2_000
    assert invalid > 20_000


def test_region_walk_is_libphonenumbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a country code several regions share, a number is valid exactly when it is
    valid in the region libphonenumber assigns it (by leading digits, or validity)."""
    rng = random.Random(20261203)
    regions = ("Z1", "Z2", "Z3")
    valid = invalid = 0
    for _ in range(40):
        metadata = [
            _synthetic_metadata(rng, region, rng.choice([None, None, "1", "2", "12|3", "[13]"]))
            for region in regions
        ]
        for one in metadata:
            monkeypatch.setitem(PhoneMetadata._region_metadata, one.id, one)
        _region_validity.cache_clear()  # made-up regions, new metadata each round
        rules = tuple(_region_rule(one) for one in metadata)
        for national in NATIONALS:
            number = phonenumbers.PhoneNumber(
                country_code=SYNTHETIC_CODE, national_number=int(national)
            )
            region = _region_code_for_number_from_list(number, regions)
            expected = region is not None and is_valid_number_for_region(number, region)
            assert _valid_in_regions(national, rules) is expected, national
            valid += expected
            invalid += not expected
    assert valid > 2_000
    assert invalid > 20_000
    _region_validity.cache_clear()


def test_valid_number_follows_the_region_rule_of_shared_codes() -> None:
    """valid_number gives is_valid_number's answer on numbers of the country codes
    several regions share (+1, +44, +7, ...), written as E.164 or nationally."""
    checked = valid = 0
    for value in _shared_code_samples():
        number = phonenumbers.parse(value, None)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        region = phonenumbers.region_code_for_country_code(number.country_code)
        for read in (number, phonenumbers.parse(national, region)):
            expected = phonenumbers.is_valid_number(read)
            assert valid_number(read) is expected, value
            checked += 1
            valid += expected
    assert valid > 1_000
    assert checked - valid > 1_000
