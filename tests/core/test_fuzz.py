"""Fuzzing ``send()`` (issue 15, item 2): every input ends in a ``SentMessage`` or a
library exception (``MindoError``), never a ``ValueError``, ``UnicodeEncodeError``
or anything else."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mindo_async import AsyncMindo, InvalidRequestError, MindoError, SentMessage

API_KEY = "mindo_test0123456789abcdefABCDEF"
VALID_PHONES = ["+5491112345678", "+14155552671", "+447911123456", "+390612345678"]


def echo(request: httpx.Request) -> httpx.Response:
    """The documented 200, echoing what was sent."""
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "success": True,
            "message_id": "wamid.fuzz",
            "template_name": body["template_name"],
            "recipient_phone": body["recipient_phone"],
            "status": "sent",
            "sent_at": "2025-11-16T21:30:00Z",
        },
    )


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=4290, max_value=4310).map(lambda digits: 10**digits),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
)
hashable = st.one_of(
    st.none(), st.integers(), st.text(max_size=5), st.sampled_from(["\ud800", " ", ""])
)
text_or_anything = st.one_of(st.text(), st.text(alphabet="\ud800\udfffab"), anything)
variable_value = st.one_of(
    st.text(min_size=1),
    st.sampled_from(["\ud800", "a\udfffb", " ", ""]),
    st.integers(),
    st.sampled_from([4299, 4300, 4301]).map(lambda digits: -(10**digits)),
    st.floats(),
    st.decimals(),
    anything,
)


VALID: dict[str, Any] = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "recipient_phone": VALID_PHONES[0],
    "language": "es",
}
JUNK: dict[str, st.SearchStrategy[Any]] = {
    "phone_number_id": st.one_of(st.text(max_size=20), anything),
    "template_name": text_or_anything,
    "recipient_phone": st.one_of(st.sampled_from(VALID_PHONES), text_or_anything),
    "language": text_or_anything,
    "variables": anything,
    "button_variables": st.one_of(
        anything,
        st.dictionaries(
            st.one_of(st.sampled_from(["button_0", "button_1"]), hashable),
            text_or_anything,
            max_size=2,
        ),
    ),
}


@st.composite
def fields(draw: st.DrawFn) -> dict[str, Any]:
    """A request valid but for one field (or none), with fuzzed variable values."""
    kwargs: dict[str, Any] = dict(VALID)
    kwargs["variables"] = draw(
        st.dictionaries(
            st.one_of(st.sampled_from(["name", "code"]), hashable), variable_value, max_size=3
        )
    )
    broken = draw(st.sampled_from([None, *JUNK]))
    if broken is not None:
        kwargs[broken] = draw(JUNK[broken])
    return kwargs


async def _send(kwargs: dict[str, Any]) -> SentMessage | BaseException:
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(echo)) as http,
        AsyncMindo(API_KEY, http_client=http, rate_limit=None) as mindo,
    ):
        try:
            return await mindo.send(**kwargs)
        except Exception as exc:  # the property below decides what is allowed
            return exc


# How many examples: the profile's (150 in ``full``, the default; 25 in ``fast``).
@settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(fields())
def test_send_gives_a_message_or_a_library_error(kwargs: dict[str, Any]) -> None:
    """Whatever ``send()`` is given, it returns a ``SentMessage`` or raises a ``MindoError``."""
    outcome = anyio.run(_send, kwargs)
    assert isinstance(outcome, (SentMessage, MindoError)), repr(outcome)


def test_the_reported_crashes_are_invalid_requests() -> None:
    """The issue's two crashes (4,301 digits, a lone surrogate) name their field."""
    base = {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "recipient_phone": VALID_PHONES[0],
    }
    for variables, field in [
        ({"code": 10**4300}, "variables.code"),
        ({"name": "\ud800"}, "variables.name"),
        ({"name": Decimal("1")}, None),
    ]:
        outcome = anyio.run(_send, {**base, "variables": variables})
        if field is None:
            assert isinstance(outcome, SentMessage)
        else:
            assert isinstance(outcome, InvalidRequestError), repr(outcome)
            assert field in outcome.errors
