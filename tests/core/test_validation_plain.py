"""The fast verdict on a whole request (``_plainly_valid``) is ``request_problems``' verdict.

``validate_request`` and ``request_problems`` first ask ``_plainly_valid``, and
run every check (with its messages) only when it does not answer "valid". These
tests hold it to the full checks: it never calls valid what they refuse, it
calls valid what they accept in the common shape (text variables, a recipient
parse reads as written), and ``validate_request`` answers as it did before the
fast path on every request.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mindo_async import InvalidRequestError, SendRequest
from mindo_async._validation import (
    _as_text,
    _parse_plain_e164,
    _plainly_valid,
    _problems,
    phone_to_e164,
    request_problems,
    validate_request,
)


class Text(str):
    """A str subclass that changes nothing."""


class BlankText(str):
    """A str subclass whose ``strip`` says it is blank: both paths must ask it."""

    def strip(self, chars: str | None = None) -> str:
        """Always blank."""
        return ""


class OtherText(str):
    """A str subclass whose ``str()`` is another number (phone_to_e164 answers ``str(value)``)."""

    def __str__(self) -> str:
        return "+5491187654321"


class Variables(Mapping[str, Any]):
    """A mapping that is not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


GOOD: dict[str, Any] = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "language": "es",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}

NOT_TEXT: list[Any] = [None, 0, 7, True, 1.5, float("nan"), Decimal("1"), b"123", ["1"], 10**4301]
ODD_TEXT: list[Any] = [
    "",
    " ",
    "\t\n",
    "\u00a0",  # no-break space: whitespace to str.strip
    "\u200b",  # zero-width space: not whitespace to str.strip
    "\ud800",
    "a\udfffb",
    "José",
    "名前",
    "x\0y",
    "\0",
    Text("abc"),
    BlankText("abc"),
]


def _phones() -> list[Any]:
    """Recipients of many country codes and shapes, valid or not, E.164 or not."""
    rng = random.Random(20261202)
    found: list[Any] = [
        "+5491112345678",
        "+12015550123",
        "+16135550123",  # Canada: the second region of +1 without leading digits
        "+18765550123",  # Jamaica: a region of +1 with leading digits
        "+447400123456",
        "+447624123456",  # Isle of Man
        "+79161234567",
        "+77012345678",  # Kazakhstan
        "+390612345678",  # a leading zero
        "+80012345678",  # a non-geographic code
        "+541115123456",
        "+5491112345678 ",
        "5491112345678",
        "01112345678",
        "+54 9 11 1234-5678",
        "+0123456789",
        "+1",
        "+999123456789",
        Text("+5491112345678"),
        OtherText("+5491112345678"),
        "",
        *NOT_TEXT,
    ]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)[::3]:
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is not None:
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            found.append(e164)
            found.append(e164[:-2] + "".join(rng.choice("0123456789") for _ in range(2)))
            found.append(e164 + "1")
    return found


PHONES = _phones()
IDS: list[Any] = ["1", "12a", " 1", "\uff11\uff12\uff13", *ODD_TEXT, *NOT_TEXT]
TEMPLATES: list[Any] = ["t", "Welcome", "a" * 512, "a" * 513, "a\0b", *ODD_TEXT, *NOT_TEXT]
LANGUAGES: list[Any] = ["en", "pt_BR", "fil", "EN", "e", "es_", "es\0", *ODD_TEXT, *NOT_TEXT]
BUTTON_KEYS: list[Any] = ["button_0", "button_9", "button_10", "button_999", "button_1000"]
BUTTON_KEYS += ["button_01", "Button_0", "button_0\n", "", 0, None, b"button_0", Text("button_1")]
NAMES: list[Any] = ["name", "code", "first_name", "", " ", "\ud800", "José", 0, None, b"k"]
NAMES += [Text("name"), BlankText("name"), ("a",)]
VALUES: list[Any] = ["Juan Perez", "ABC123", *ODD_TEXT, *NOT_TEXT]
REGIONS = [None, "AR", "US"]


def _mappings(keys: list[Any], values: list[Any]) -> st.SearchStrategy[Any]:
    """``None``, dicts of those keys and values, and other kinds of mapping (or not)."""
    dicts = st.dictionaries(st.sampled_from(keys), st.sampled_from(values), max_size=3)
    return st.one_of(
        st.none(),
        dicts,
        dicts.map(OrderedDict),
        dicts.map(MappingProxyType),
        dicts.map(Variables),
        st.sampled_from(["abc", [("name", "x")], 3]),
    )


def _good_or(field: str, others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``GOOD[field]`` most of the time, so that most requests are near misses."""
    return st.one_of(st.just(GOOD[field]), st.just(GOOD[field]), others)


requests = st.builds(
    SendRequest,
    phone_number_id=_good_or("phone_number_id", st.sampled_from(IDS)),
    template_name=_good_or("template_name", st.sampled_from(TEMPLATES)),
    language=_good_or("language", st.sampled_from(LANGUAGES)),
    recipient_phone=st.one_of(st.sampled_from(PHONES), st.sampled_from(PHONES)),
    variables=_good_or("variables", _mappings(NAMES, VALUES)),
    button_variables=_good_or("button_variables", _mappings(BUTTON_KEYS, VALUES)),
)


def _common_shape(request: SendRequest) -> bool:
    """The shape ``_plainly_valid`` decides on its own: text variables in dicts, and a
    recipient that parse reads as written."""
    phone: object = request.recipient_phone
    if type(phone) is not str or not phone.startswith("+") or not phone[1:].isdigit():
        return False
    if not phone.isascii() or not 8 <= len(phone) <= 16 or _parse_plain_e164(phone) is None:
        return False
    for mapping in (request.variables, request.button_variables):
        if mapping is None:
            continue
        if type(mapping) is not dict:
            return False
        if not all(type(item) is str for pair in mapping.items() for item in pair):
            return False
    return True


def _reference_validate(request: SendRequest, default_region: str | None) -> SendRequest:
    """``validate_request`` as it was before the fast path: every check, every time."""
    problems = _problems(request, default_region)
    if problems:
        raise InvalidRequestError(problems)
    if default_region is not None:
        e164, _ = phone_to_e164(request.recipient_phone, default_region)
        if e164 is not None and e164 != request.recipient_phone:
            request = attrs.evolve(request, recipient_phone=e164)
    variables = request.variables
    if variables and not all(isinstance(value, str) for value in variables.values()):
        return attrs.evolve(
            request, variables={key: _as_text(value) for key, value in variables.items()}
        )
    return request


def _outcome(function: Any, request: SendRequest, region: str | None) -> tuple[str, Any]:
    """What ``function(request, region)`` returns, or the errors it raises."""
    try:
        return "valid", function(request, region)
    except InvalidRequestError as exc:
        return "invalid", exc.errors


def _check(request: SendRequest, region: str | None) -> None:
    """The fast verdict agrees with the full checks on ``request``."""
    problems = _problems(request, region)
    fast = _plainly_valid(request)
    if fast:
        assert problems == {}, request
    if _common_shape(request):
        assert fast is (problems == {}), request
    assert request_problems(request, region) == problems
    assert _outcome(validate_request, request, region) == _outcome(
        _reference_validate, request, region
    )


# How many examples: the profile's (150 in ``full``, the default; 25 in ``fast``).
@settings(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(requests, st.sampled_from(REGIONS))
def test_fast_verdict_is_the_full_verdict(request: SendRequest, region: str | None) -> None:
    """On random near-miss requests, the fast verdict never contradicts the full checks,
    and validate_request and request_problems answer as without the fast path."""
    _check(request, region)


def _one_field_changed() -> Iterator[tuple[str, Any]]:
    for value in IDS:
        yield "phone_number_id", value
    for value in TEMPLATES:
        yield "template_name", value
    for value in LANGUAGES:
        yield "language", value
    for value in PHONES:
        yield "recipient_phone", value
    for name in NAMES:
        for value in VALUES:
            yield "variables", {"code": "ABC123", name: value}
    for key in BUTTON_KEYS:
        for value in VALUES:
            yield "button_variables", {key: value}
    for kind in (OrderedDict, MappingProxyType, Variables):
        yield "variables", kind({"name": "x"})
        yield "button_variables", kind({"button_0": "x"})
    for value in [None, {}, "abc", [("name", "x")], 3]:
        yield "variables", value
        yield "button_variables", value


@pytest.mark.parametrize("region", REGIONS)
def test_every_single_change_gets_the_full_verdict(region: str | None) -> None:
    """Each listed value of each field, the others valid, gets the full checks' verdict."""
    decided = 0
    for field, value in _one_field_changed():
        request = SendRequest(**{**GOOD, field: value})
        _check(request, region)
        decided += _plainly_valid(request)
    # The fast path answers for a good share of them, or it would save nothing.
    assert decided > 100


def test_the_common_request_takes_the_fast_path() -> None:
    """A valid request of the common shape is decided without the full checks, and
    validate_request hands it back as it is."""
    request = SendRequest(**GOOD)
    assert _plainly_valid(request)
    assert validate_request(request) is request
    assert validate_request(request, "AR") is request
