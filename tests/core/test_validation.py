"""Client-side validation: every bad input is refused before any I/O, all problems at once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mindo_async import AsyncMindo, InvalidRequestError, MindoError, SendRequest, SentMessage

pytestmark = pytest.mark.anyio

API_KEY = "mindo_test0123456789abcdefABCDEF"

SENT_BODY = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}

#: A valid request; each test breaks one or more of its fields.
GOOD: dict[str, Any] = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "language": "es",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}


def fullwidth(digits: str) -> str:
    """``digits`` in FULLWIDTH DIGIT characters: digits to ``str.isdigit``, not to the API."""
    return "".join(chr(0xFF10 + int(digit)) for digit in digits)


class Recorder:
    """An ``httpx.MockTransport`` handler that answers the documented 200 (echoing the
    request's template and recipient) and keeps every request it got."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        sent = json.loads(request.content)
        echo = {key: sent[key] for key in ("template_name", "recipient_phone")}
        return httpx.Response(200, json={**SENT_BODY, **echo})

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


@pytest.fixture
def recorder() -> Recorder:
    """Counts the requests that reach the (mock) network."""
    return Recorder()


@pytest.fixture
async def mindo(recorder: Recorder) -> AsyncIterator[AsyncMindo]:
    """A client whose HTTP traffic goes to ``recorder``."""
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http,
        AsyncMindo(api_key=API_KEY, http_client=http, rate_limit=None) as client,
    ):
        yield client


async def refused(mindo: AsyncMindo, recorder: Recorder, **changes: Any) -> InvalidRequestError:
    """Send ``GOOD`` with ``changes`` and return the refusal; fail if anything was sent."""
    fields = {**GOOD, **changes}
    with pytest.raises(InvalidRequestError) as caught:
        await mindo.send(**fields)
    assert recorder.requests == [], "a refused request must not reach the network"
    return caught.value


# -- recipient_phone ----------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        pytest.param("5491112345678", id="no-plus"),
        pytest.param("005491112345678", id="international-prefix-instead-of-plus"),
        pytest.param("+54 9 11 1234 5678", id="spaces"),
        pytest.param("+54 911 12345678", id="one-space"),
        pytest.param(" +5491112345678", id="leading-space"),
        pytest.param("+5491112345678\n", id="trailing-newline"),
        pytest.param("+54-911-1234-5678", id="dashes"),
        pytest.param("+54(911)12345678", id="parentheses"),
        pytest.param("+54911CALLME1", id="letters"),
        pytest.param("+1800FLOWERS", id="vanity-letters"),
        pytest.param("+5491112345678 ext. 12", id="extension-words"),
        pytest.param("+5491112345678x12", id="extension-x"),
        pytest.param("+5491112345678;ext=12", id="extension-rfc3966"),
        pytest.param("+1 555 0100", id="us-555-with-spaces"),
        pytest.param("+15550100", id="impossible-too-short-for-nanp"),
        pytest.param("+15555550100", id="impossible-area-code-555"),
        pytest.param("+12345678901234", id="impossible-too-long"),
        pytest.param("+1234567890123456", id="longer-than-e164"),
        pytest.param("+0123456789", id="country-code-zero"),
        pytest.param("+999123456789", id="unassigned-country-code"),
        pytest.param("+", id="plus-only"),
        pytest.param("", id="empty"),
        pytest.param("+" + fullwidth("5491112345678"), id="fullwidth-digits"),
        pytest.param(5491112345678, id="integer"),
        pytest.param(None, id="none"),
    ],
)
async def test_bad_recipient_phone_is_refused(
    mindo: AsyncMindo, recorder: Recorder, phone: Any
) -> None:
    """A recipient that is not a valid E.164 number (per libphonenumber) is refused, unsent."""
    error = await refused(mindo, recorder, recipient_phone=phone)
    assert list(error.errors) == ["recipient_phone"]
    assert "recipient_phone" in str(error)


# -- phone_number_id ------------------------------------------------------------------


@pytest.mark.parametrize(
    "number_id",
    [
        pytest.param("", id="empty"),
        pytest.param("81349723185062a", id="letter"),
        pytest.param("813 497 231", id="spaces"),
        pytest.param("-813497231850626", id="negative"),
        pytest.param("+813497231850626", id="plus"),
        pytest.param("813497231850626\n", id="trailing-newline"),
        pytest.param(fullwidth("813497"), id="fullwidth-digits"),
        pytest.param("٨١٣٤٩٧", id="arabic-indic-digits"),
        pytest.param(813497231850626, id="integer"),
        pytest.param(None, id="none"),
    ],
)
async def test_non_digit_phone_number_id_is_refused(
    mindo: AsyncMindo, recorder: Recorder, number_id: Any
) -> None:
    """``phone_number_id`` must be a non-empty string of ASCII digits; anything else is unsent."""
    error = await refused(mindo, recorder, phone_number_id=number_id)
    assert list(error.errors) == ["phone_number_id"]
    assert "phone_number_id" in str(error)


# -- template_name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("Welcome_Message", id="uppercase"),
        pytest.param("WELCOME", id="all-uppercase"),
        pytest.param("welcome-message", id="dashed"),
        pytest.param("welcome message", id="space"),
        pytest.param("welcome.message", id="dot"),
        pytest.param("bienvenida_ñ", id="non-ascii"),
        pytest.param("welcome_message\n", id="trailing-newline"),
        pytest.param("x" * 513, id="too-long"),
        pytest.param(None, id="none"),
        pytest.param(42, id="integer"),
    ],
)
async def test_bad_template_name_is_refused(
    mindo: AsyncMindo, recorder: Recorder, name: Any
) -> None:
    """Template names must have Meta's shape (lowercase letters, digits, underscores)."""
    error = await refused(mindo, recorder, template_name=name)
    assert list(error.errors) == ["template_name"]
    assert "template_name" in str(error)


# -- language -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "language",
    [
        pytest.param("", id="empty"),
        pytest.param("EN", id="uppercase"),
        pytest.param("pt-BR", id="dash"),
        pytest.param("pt_br", id="lowercase-region"),
        pytest.param("english", id="word"),
        pytest.param("e", id="one-letter"),
        pytest.param("es_", id="dangling-underscore"),
        pytest.param("12", id="digits"),
        pytest.param(" es", id="space"),
        pytest.param(None, id="none"),
    ],
)
async def test_bad_language_code_is_refused(
    mindo: AsyncMindo, recorder: Recorder, language: Any
) -> None:
    """``language`` must be a code like ``es``, ``en`` or ``pt_BR``."""
    error = await refused(mindo, recorder, language=language)
    assert list(error.errors) == ["language"]
    assert "language" in str(error)


@pytest.mark.parametrize("language", ["es", "en", "pt_BR", "en_US", "es_AR", "fil", "zh_HK"])
async def test_documented_language_codes_are_sent(
    mindo: AsyncMindo, recorder: Recorder, language: str
) -> None:
    """The documented language codes (and Meta's other shapes) pass and are sent as given."""
    await mindo.send(**{**GOOD, "language": language})
    assert recorder.bodies()[0]["language"] == language


# -- variables --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        pytest.param({"name": True}, "variables.name", id="bool-true"),
        pytest.param({"name": False}, "variables.name", id="bool-false"),
        pytest.param({"name": None}, "variables.name", id="none"),
        pytest.param({"name": ["Juan"]}, "variables.name", id="list"),
        pytest.param({"name": {"first": "Juan"}}, "variables.name", id="dict"),
        pytest.param({"name": b"Juan"}, "variables.name", id="bytes"),
        pytest.param({"name": ""}, "variables.name", id="empty-text"),
        pytest.param({"name": "   "}, "variables.name", id="blank-text"),
        pytest.param({"total": float("nan")}, "variables.total", id="nan"),
        pytest.param({"total": float("inf")}, "variables.total", id="infinity"),
        pytest.param({"total": Decimal("NaN")}, "variables.total", id="decimal-nan"),
        pytest.param({"": "Juan"}, "variables", id="empty-key"),
        pytest.param({"  ": "Juan"}, "variables", id="blank-key"),
        pytest.param({1: "Juan"}, "variables", id="int-key"),
        pytest.param({None: "Juan"}, "variables", id="none-key"),
        pytest.param(["name", "Juan"], "variables", id="not-a-mapping"),
        pytest.param("name=Juan", "variables", id="a-string"),
    ],
)
async def test_bad_variables_are_refused(
    mindo: AsyncMindo, recorder: Recorder, variables: Any, field: str
) -> None:
    """Variables need non-empty text keys and text (or number) values; bool/None/list/dict fail."""
    error = await refused(mindo, recorder, variables=variables)
    assert list(error.errors) == [field]
    assert field in str(error)


async def test_numbers_in_variables_are_sent_as_text(mindo: AsyncMindo, recorder: Recorder) -> None:
    """int, float and Decimal variable values are converted to their text before sending."""
    await mindo.send(
        **{
            **GOOD,
            "variables": {"count": 3, "price": 9.5, "total": Decimal("10.50"), "name": "Juan"},
        }
    )
    assert recorder.bodies()[0]["variables"] == {
        "count": "3",
        "price": "9.5",
        "total": "10.50",
        "name": "Juan",
    }


# -- button_variables -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("buttons", "field"),
    [
        pytest.param({"button": "x"}, "button_variables", id="no-index"),
        pytest.param({"button_a": "x"}, "button_variables", id="letter-index"),
        pytest.param({"Button_0": "x"}, "button_variables", id="uppercase"),
        pytest.param({"button-0": "x"}, "button_variables", id="dash"),
        pytest.param({"button_-1": "x"}, "button_variables", id="negative-index"),
        pytest.param({"button_01": "x"}, "button_variables", id="leading-zero"),
        pytest.param({"url": "x"}, "button_variables", id="other-name"),
        pytest.param({0: "x"}, "button_variables", id="int-key"),
        pytest.param({"button_0": ""}, "button_variables.button_0", id="empty-value"),
        pytest.param({"button_0": "  "}, "button_variables.button_0", id="blank-value"),
        pytest.param({"button_0": 5}, "button_variables.button_0", id="int-value"),
        pytest.param({"button_0": None}, "button_variables.button_0", id="none-value"),
        pytest.param({"button_0": ["x"]}, "button_variables.button_0", id="list-value"),
        pytest.param(["button_0"], "button_variables", id="not-a-mapping"),
    ],
)
async def test_bad_button_variables_are_refused(
    mindo: AsyncMindo, recorder: Recorder, buttons: Any, field: str
) -> None:
    """Button keys must be ``button_<index>`` and values non-empty strings."""
    error = await refused(mindo, recorder, button_variables=buttons)
    assert list(error.errors) == [field]
    assert field in str(error)


# -- all at once ------------------------------------------------------------------------


async def test_every_problem_is_reported_at_once(mindo: AsyncMindo, recorder: Recorder) -> None:
    """One refusal lists every offending field, not just the first one found."""
    error = await refused(
        mindo,
        recorder,
        phone_number_id="abc",
        template_name="Welcome-Message",
        recipient_phone="5491112345678",
        language="Spanish",
        variables={"name": None, "": "x", "code": True},
        button_variables={"button_x": "a", "button_1": ""},
    )
    assert set(error.errors) == {
        "phone_number_id",
        "template_name",
        "recipient_phone",
        "language",
        "variables",
        "variables.name",
        "variables.code",
        "button_variables",
        "button_variables.button_1",
    }
    for field in error.errors:
        assert field in str(error)


async def test_send_request_validates_like_send(mindo: AsyncMindo, recorder: Recorder) -> None:
    """A ``SendRequest`` handed to ``send_request`` is validated the same way, before any I/O."""
    request = SendRequest(
        phone_number_id="x", template_name="welcome_message", recipient_phone="+1 555 0100"
    )
    with pytest.raises(InvalidRequestError) as caught:
        await mindo.send_request(request)
    assert set(caught.value.errors) == {"phone_number_id", "recipient_phone"}
    assert recorder.requests == []


async def test_invalid_request_error_is_a_value_error(
    mindo: AsyncMindo, recorder: Recorder
) -> None:
    """``InvalidRequestError`` is caught by ``except ValueError`` and ``except MindoError``."""
    error = await refused(mindo, recorder, recipient_phone="nope")
    assert isinstance(error, ValueError)
    assert isinstance(error, MindoError)
    assert "nothing was sent" in str(error)


# -- the documented examples pass ---------------------------------------------------------

#: The request bodies of the spec's examples (send-message.md).
SPEC_EXAMPLES: list[dict[str, Any]] = [
    GOOD,
    {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "recipient_phone": "+5491112345678",
        "variables": {"name": "Juan Perez"},
    },
    {
        "phone_number_id": "813497231850626",
        "template_name": "verification_code",
        "recipient_phone": "+5491112345678",
        "variables": {"name": "Juan", "code": "A1B2C3"},
    },
    {
        "phone_number_id": "813497231850626",
        "template_name": "order_update",
        "recipient_phone": "+5491112345678",
        "variables": {"order_id": "ORD-001", "status": "In transit"},
    },
]


@pytest.mark.parametrize(
    "example", SPEC_EXAMPLES, ids=["full", "welcome", "verification", "order-update"]
)
async def test_spec_examples_are_sent_unchanged(
    mindo: AsyncMindo, recorder: Recorder, example: Mapping[str, Any]
) -> None:
    """Every request example in the spec passes validation and is sent with its fields as given."""
    message = await mindo.send(**example)
    assert isinstance(message, SentMessage)
    (body,) = recorder.bodies()
    assert body == {"language": "es", **example}


@pytest.mark.parametrize(
    "phone",
    ["+5491112345678", "+12015550123", "+14155552671", "+442071838750", "+4915112345678"],
)
async def test_valid_international_numbers_pass(
    mindo: AsyncMindo, recorder: Recorder, phone: str
) -> None:
    """Valid E.164 numbers of several countries are accepted and sent as given."""
    await mindo.send(**{**GOOD, "recipient_phone": phone})
    assert recorder.bodies()[0]["recipient_phone"] == phone


@pytest.mark.parametrize(
    "buttons", [{"button_0": "ABC-123"}, {"button_0": "a", "button_1": "b", "button_10": "c"}]
)
async def test_button_indexes_pass(
    mindo: AsyncMindo, recorder: Recorder, buttons: dict[str, str]
) -> None:
    """``button_0``, ``button_1``, ... with non-empty values are accepted."""
    await mindo.send(**{**GOOD, "button_variables": buttons})
    assert recorder.bodies()[0]["button_variables"] == buttons
