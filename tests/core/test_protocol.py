"""The sans-I/O protocol: request encoding, response mapping and failure classification.

No sockets here: every decision about what a request looks like and what an
answer or a failure means is a pure function.
"""

from __future__ import annotations

import json
import re
import ssl
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from httpx_aiohttp.transport import map_aiohttp_exceptions
from hypothesis import given, settings
from hypothesis import strategies as st

import mindo_async
from mindo_async import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    DeliveryUnknownError,
    InvalidResponseError,
    MessageStatus,
    NotFoundError,
    PermissionDeniedError,
    PhoneNumberNotFoundError,
    RateLimitError,
    SendRequest,
    SentMessage,
    ServerDeliveryUnknownError,
    ServerError,
    TemplateNotApprovedError,
    TemplateNotFoundError,
    UnexpectedResponseError,
    ValidationError,
)
from mindo_async._conversion import encode_request
from mindo_async._pacing import MAX_PAUSE
from mindo_async._protocol import (
    SEND_PATH,
    FailureKind,
    build_headers,
    classify_exception,
    error_for_failure,
    error_for_response,
    interpret_response,
    mask_phone,
    parse_retry_after,
    redact,
    same_phone_number,
)
from mindo_async._retry import is_retryable

API_KEY = "mindo_test0123456789abcdefABCDEF"
#: The send endpoint's reference page, vendored from the API documentation.
SPEC = Path(__file__).resolve().parents[1] / "reference" / "send-message.md"

REQUEST = SendRequest(
    phone_number_id="813497231850626",
    template_name="welcome_message",
    recipient_phone="+5491112345678",
    variables={"name": "Juan Perez", "code": "ABC123"},
    button_variables={"button_0": "ABC-123"},
)

# An inline copy of the spec's examples, so these tests run without the spec file.
INLINE_REQUEST_EXAMPLE: dict[str, Any] = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "language": "es",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}
INLINE_RESPONSE_EXAMPLES: dict[tuple[int, str], Any] = {
    (200, "OK"): {
        "success": True,
        "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
        "template_name": "welcome_message",
        "recipient_phone": "+5491112345678",
        "status": "sent",
        "sent_at": "2025-11-16T21:30:00Z",
    },
    (400, "Validation"): {
        "phone_number_id": ["This field is required."],
        "recipient_phone": ["This field is required."],
    },
    (400, "Template not approved"): {
        "error": "Template 'welcome_message' no tiene estado APPROVED",
    },
    (404, "Template not found"): {
        "error": "Template 'welcome_message' (language: es) no encontrado en este business account",
    },
    (404, "Number not found"): {
        "error": "Numero de WhatsApp con ID '813497231850626' no encontrado",
    },
    (401, "Not authenticated"): {
        "error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)",
    },
}

#: The exception class each documented error example maps to.
EXPECTED_ERROR: dict[tuple[int, str], type[APIError]] = {
    (400, "Validation"): ValidationError,
    (400, "Template not approved"): TemplateNotApprovedError,
    (404, "Template not found"): TemplateNotFoundError,
    (404, "Number not found"): PhoneNumberNotFoundError,
    (401, "Not authenticated"): AuthenticationError,
}


def _spec_text() -> str:
    return SPEC.read_text(encoding="utf-8")


def _spec_response_examples(text: str) -> dict[tuple[int, str], Any]:
    blocks = re.findall(r"```json (\d{3}) - (.+?) theme=\{null\}\n(.*?)```", text, re.DOTALL)
    return {(int(status), title.strip()): json.loads(body) for status, title, body in blocks}


def _spec_request_example(text: str) -> Any:
    match = re.search(r"-d '(\{.*?\})'", text, re.DOTALL)
    assert match is not None, "the spec's cURL example has no -d body"
    return json.loads(match.group(1))


def _examples() -> list[Any]:
    params = [
        pytest.param(key, body, id=f"inline-{key[0]}-{key[1]}")
        for key, body in INLINE_RESPONSE_EXAMPLES.items()
    ]
    params += [
        pytest.param(key, body, id=f"spec-{key[0]}-{key[1]}")
        for key, body in _spec_response_examples(_spec_text()).items()
    ]
    return params


def respond(
    status: int,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    raw: bytes | None = None,
) -> SentMessage | APIError:
    """Interpret an answer as the client would (no I/O)."""
    content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return interpret_response(
        status, httpx.Headers(headers or {}), content, request=REQUEST, attempts=1
    )


# -- the spec's own examples ------------------------------------------------------------


def test_spec_examples_match_the_inline_copy() -> None:
    """The spec's request and response examples are exactly the ones these tests carry inline."""
    text = _spec_text()
    assert _spec_response_examples(text) == INLINE_RESPONSE_EXAMPLES
    assert _spec_request_example(text) == INLINE_REQUEST_EXAMPLE


@pytest.mark.parametrize(("key", "body"), _examples())
def test_every_spec_response_example_maps_to_its_documented_result(
    key: tuple[int, str], body: Any
) -> None:
    """Each documented answer becomes its documented class, carrying the server's message."""
    status, _title = key
    outcome = respond(status, body)
    if status == 200:
        assert outcome == SentMessage(
            success=True,
            message_id=body["message_id"],
            template_name=body["template_name"],
            recipient_phone=body["recipient_phone"],
            status=MessageStatus.SENT,
            sent_at=datetime(2025, 11, 16, 21, 30, tzinfo=timezone.utc),
        )
        return
    assert type(outcome) is EXPECTED_ERROR[key]
    assert isinstance(outcome, APIError)
    assert not isinstance(outcome, DeliveryUnknownError)
    assert outcome.status_code == status
    assert outcome.body == body
    assert outcome.request is REQUEST
    assert outcome.attempts == 1
    if "error" in body:
        assert outcome.message == body["error"]
        assert body["error"] in str(outcome)
    else:
        for field, messages in body.items():
            assert field in str(outcome)
            for message in messages:
                assert message in str(outcome)


def test_validation_example_exposes_field_errors() -> None:
    """The documented 400 validation body becomes ``ValidationError.field_errors``."""
    body = INLINE_RESPONSE_EXAMPLES[400, "Validation"]
    error = respond(400, body)
    assert isinstance(error, ValidationError)
    assert isinstance(error, BadRequestError)
    assert error.field_errors == body


def test_success_example_has_an_aware_sent_at() -> None:
    """``sent_at`` ending in ``Z`` becomes a timezone-aware UTC datetime."""
    message = respond(200, INLINE_RESPONSE_EXAMPLES[200, "OK"])
    assert isinstance(message, SentMessage)
    assert message.sent_at.tzinfo is not None
    assert message.sent_at.utcoffset() == timedelta(0)
    assert message.status is MessageStatus.SENT
    assert message.success is True


# -- other answers ----------------------------------------------------------------------


def test_403_is_permission_denied() -> None:
    """403 is ``PermissionDeniedError`` with the server's message."""
    error = respond(403, {"error": "Esta API Key no tiene acceso a este numero"})
    assert type(error) is PermissionDeniedError
    assert "Esta API Key no tiene acceso a este numero" in str(error)
    assert "403" in str(error)


def test_unknown_400_message_is_a_plain_bad_request() -> None:
    """A 400 whose message is not a documented one falls back to ``BadRequestError``."""
    error = respond(400, {"error": "Algo salio mal"})
    assert type(error) is BadRequestError
    assert "Algo salio mal" in str(error)


def test_unknown_404_message_is_a_plain_not_found() -> None:
    """A 404 whose message is not a documented one falls back to ``NotFoundError``."""
    error = respond(404, {"detail": "Not found."})
    assert type(error) is NotFoundError
    assert "Not found." in str(error)


def test_nested_field_errors_keep_the_server_message() -> None:
    """A 400 with nested per-field errors names each field and message in ``str(exc)``."""
    body = {"variables": {"name": ["Este campo es requerido."]}, "language": ["Invalido."]}
    error = respond(400, body)
    assert isinstance(error, ValidationError)
    assert error.field_errors == {
        "variables.name": ["Este campo es requerido."],
        "language": ["Invalido."],
    }
    assert "variables.name" in str(error)
    assert "Este campo es requerido." in str(error)


def test_unknown_error_shape_keeps_its_json_in_the_message() -> None:
    """A 400 body of a shape this library does not know still appears in ``str(exc)``."""
    body = {"errors": [{"code": 132000, "title": "Number of parameters does not match"}]}
    error = respond(400, body)
    assert type(error) is BadRequestError
    assert error.body == body
    assert "Number of parameters does not match" in str(error)


@pytest.mark.parametrize("status", [405, 408, 409, 410, 413, 415, 418, 422, 451])
def test_other_4xx_are_plain_api_errors(status: int) -> None:
    """Other 4xx answers are ``APIError`` (not delivered), with status and message."""
    error = respond(status, {"error": "nope"})
    assert type(error) is APIError
    assert error.status_code == status
    assert "nope" in str(error)
    assert not isinstance(error, DeliveryUnknownError)


def test_429_with_retry_after_seconds() -> None:
    """A 429's ``Retry-After`` in seconds becomes ``RateLimitError.retry_after``."""
    error = respond(429, {"error": "Too many requests"}, {"Retry-After": "7"})
    assert type(error) is RateLimitError
    assert error.retry_after == 7.0
    assert "Too many requests" in str(error)
    assert not isinstance(error, DeliveryUnknownError)


def test_429_with_retry_after_http_date() -> None:
    """A 429's ``Retry-After`` as an HTTP date becomes the seconds until that date."""
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    error = respond(429, None, {"Retry-After": format_datetime(when, usegmt=True)})
    assert isinstance(error, RateLimitError)
    assert error.retry_after is not None
    assert 27.0 <= error.retry_after <= 30.0


def test_429_with_retry_after_ms() -> None:
    """``retry-after-ms`` is honoured, in milliseconds."""
    error = respond(429, None, {"retry-after-ms": "1500"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 1.5


def test_429_without_retry_after() -> None:
    """A 429 without ``Retry-After`` has ``retry_after`` None, and its reason as message."""
    error = respond(429)
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None
    assert "Too Many Requests" in str(error)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"Retry-After": "0"}, 0.0, id="zero"),
        pytest.param({"Retry-After": " 2.5 "}, 2.5, id="fraction-with-spaces"),
        pytest.param({"retry-after": "3"}, 3.0, id="lowercase-name"),
        pytest.param({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0, id="date-in-past"),
        pytest.param({"Retry-After": "Sun, 16 Nov 2025 21:31:00 GMT"}, 60.0, id="date"),
        pytest.param({"Retry-After": "soon"}, None, id="garbage"),
        pytest.param({"Retry-After": "-5"}, None, id="negative"),
        pytest.param({"Retry-After": "nan"}, None, id="nan"),
        pytest.param({"Retry-After": "inf"}, None, id="infinite"),
        pytest.param({"retry-after-ms": "inf", "Retry-After": "9"}, 9.0, id="ms-infinite"),
        pytest.param({"retry-after-ms": "nan"}, None, id="ms-nan"),
        pytest.param({"Retry-After": "1e308"}, MAX_PAUSE, id="huge-capped"),
        pytest.param({"retry-after-ms": "1e300"}, MAX_PAUSE, id="huge-ms-capped"),
        pytest.param({"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}, MAX_PAUSE, id="year-2100"),
        pytest.param({"Retry-After": "Fri, 01 Jan 9999 23:59:59 GMT"}, MAX_PAUSE, id="year-9999"),
        pytest.param({"retry-after-ms": "250", "Retry-After": "9"}, 0.25, id="ms-wins"),
        pytest.param({"retry-after-ms": "x", "Retry-After": "9"}, 9.0, id="bad-ms-falls-back"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    """``Retry-After`` in seconds or as an HTTP date, and ``retry-after-ms``, are read safely."""
    now = datetime(2025, 11, 16, 21, 30, tzinfo=timezone.utc)
    assert parse_retry_after(headers, now=now) == expected


@pytest.mark.parametrize("status", [500, 502, 504, 505, 507, 520, 599])
def test_ambiguous_5xx_is_server_delivery_unknown(status: int) -> None:
    """5xx but 501/503 are both ``ServerError`` and ``DeliveryUnknownError``."""
    error = respond(status, {"error": "Meta timeout"})
    assert type(error) is ServerDeliveryUnknownError
    assert isinstance(error, ServerError)
    assert isinstance(error, DeliveryUnknownError)
    assert error.status_code == status
    assert error.request is REQUEST
    assert "Meta timeout" in str(error)
    assert "may have been delivered" in str(error)


def test_html_502_keeps_the_proxy_text() -> None:
    """A non-JSON 502 page still ends up in ``str(exc)``."""
    error = respond(502, raw=b"<html><body>502 Bad Gateway</body></html>")
    assert isinstance(error, ServerDeliveryUnknownError)
    assert "502 Bad Gateway" in str(error)


@pytest.mark.parametrize("status", [501, 503])
def test_501_and_503_are_plain_server_errors(status: int) -> None:
    """501 and 503 were refused before processing: ``ServerError``, never DeliveryUnknownError."""
    error = respond(status, {"error": "maintenance"})
    assert type(error) is ServerError
    assert not isinstance(error, DeliveryUnknownError)
    assert "maintenance" in str(error)


def test_503_keeps_its_retry_after() -> None:
    """A 503's ``Retry-After`` is kept on the ``ServerError`` so the retry can honour it."""
    error = respond(503, None, {"Retry-After": "4"})
    assert type(error) is ServerError
    assert error.retry_after == 4.0


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308])
def test_redirect_to_a_send_is_delivery_unknown(status: int) -> None:
    """A 3xx to the (non-idempotent) send may follow processing: it is UNKNOWN, not REJECTED."""
    error = respond(status, None, {"Location": "https://elsewhere.example/steal"})
    assert type(error) is UnexpectedResponseError
    assert isinstance(error, DeliveryUnknownError)
    assert error.status_code == status
    assert "redirect" in str(error)
    assert "may have been delivered" in str(error)
    assert not is_retryable(error, retry_ambiguous=True), "a redirect is never retried"


@pytest.mark.parametrize("status", [301, 303, 307])
def test_redirect_to_a_read_is_invalid_response_not_unknown(status: int) -> None:
    """A 3xx to a GET is ``InvalidResponseError``: never followed, not retried, not 'unknown'."""
    error = error_for_response(status, httpx.Headers({"Location": "/x"}), b"", idempotent=True)
    assert type(error) is InvalidResponseError
    assert not isinstance(error, DeliveryUnknownError)
    assert error.status_code == status
    assert not is_retryable(error, idempotent=True)


@pytest.mark.parametrize(
    ("status", "raw"),
    [
        pytest.param(200, b"<html>OK</html>", id="html"),
        pytest.param(200, b"", id="empty"),
        pytest.param(200, b"[1, 2]", id="json-list"),
        pytest.param(200, b'"sent"', id="json-string"),
        pytest.param(200, b'{"success": true, "status": "sent"}', id="no-message-id"),
        pytest.param(200, b'{"success": true, "message_id": ""}', id="empty-message-id"),
        pytest.param(200, b'{"success": true, "message_id": 12}', id="non-text-message-id"),
        pytest.param(200, b'{"success": false, "message_id": "wamid.x"}', id="success-false"),
        pytest.param(200, b'{"success": false, "error": "Meta said no"}', id="failure-body"),
        pytest.param(200, b"\xff\xfe not utf-8", id="not-utf8"),
        pytest.param(202, b'{"queued": true}', id="202"),
        pytest.param(204, b"", id="204"),
    ],
)
def test_undocumented_2xx_is_unexpected_response(status: int, raw: bytes) -> None:
    """A 2xx that is not the documented body is ``UnexpectedResponseError``: maybe delivered."""
    error = respond(status, raw=raw)
    assert type(error) is UnexpectedResponseError
    assert isinstance(error, DeliveryUnknownError)
    assert isinstance(error, APIError)
    assert error.status_code == status
    assert error.request is REQUEST
    assert "may have been delivered" in str(error)


def test_unknown_fields_are_ignored() -> None:
    """New fields in a success body change nothing."""
    body = {
        **INLINE_RESPONSE_EXAMPLES[200, "OK"],
        "conversation": {"id": "c1", "category": "utility"},
        "pricing": 0.05,
    }
    message = respond(200, body)
    assert message == respond(200, INLINE_RESPONSE_EXAMPLES[200, "OK"])


def test_unknown_status_is_kept_as_text() -> None:
    """A ``status`` this library does not know stays a plain string; the send still succeeds."""
    message = respond(200, {**INLINE_RESPONSE_EXAMPLES[200, "OK"], "status": "queued"})
    assert isinstance(message, SentMessage)
    assert message.status == "queued"
    assert not isinstance(message.status, MessageStatus)


@pytest.mark.parametrize("status", list(MessageStatus))
def test_documented_statuses_are_enum_members(status: MessageStatus) -> None:
    """Each documented status becomes its ``MessageStatus`` member."""
    message = respond(200, {**INLINE_RESPONSE_EXAMPLES[200, "OK"], "status": status.value})
    assert isinstance(message, SentMessage)
    assert message.status is status


def test_sent_at_with_offset_is_aware() -> None:
    """A ``sent_at`` with an explicit offset keeps the same instant, timezone-aware."""
    body = {**INLINE_RESPONSE_EXAMPLES[200, "OK"], "sent_at": "2025-11-16T18:30:00-03:00"}
    message = respond(200, body)
    assert isinstance(message, SentMessage)
    assert message.sent_at == datetime(2025, 11, 16, 21, 30, tzinfo=timezone.utc)
    assert message.sent_at.tzinfo is not None


def test_naive_sent_at_is_taken_as_utc() -> None:
    """A ``sent_at`` without an offset is read as UTC, never as a naive datetime."""
    body = {**INLINE_RESPONSE_EXAMPLES[200, "OK"], "sent_at": "2025-11-16T21:30:00"}
    message = respond(200, body)
    assert isinstance(message, SentMessage)
    assert message.sent_at == datetime(2025, 11, 16, 21, 30, tzinfo=timezone.utc)


def test_an_answer_with_only_a_message_id_is_unexpected() -> None:
    """A 2xx with only ``{"message_id": ...}`` is UnexpectedResponseError (UNKNOWN)."""
    body = {"message_id": "wamid.only"}
    error = respond(200, body)
    assert isinstance(error, UnexpectedResponseError)
    assert isinstance(error, DeliveryUnknownError)
    assert error.body == body


@pytest.mark.parametrize(
    "sent_at",
    [
        pytest.param(None, id="no-sent-at"),
        pytest.param("yesterday", id="unreadable"),
        pytest.param(12, id="not-text"),
    ],
)
def test_success_without_a_readable_sent_at_is_unexpected(sent_at: object) -> None:
    """A 2xx without a readable ``sent_at`` is UnexpectedResponseError (UNKNOWN), never invented."""
    body = {k: v for k, v in INLINE_RESPONSE_EXAMPLES[200, "OK"].items() if k != "sent_at"}
    if sent_at is not None:
        body["sent_at"] = sent_at
    error = respond(200, body)
    assert isinstance(error, UnexpectedResponseError)
    assert isinstance(error, DeliveryUnknownError)
    assert "sent_at" in error.message
    assert error.body == body


def test_error_for_response_attaches_attempts() -> None:
    """``attempts`` passed in is carried by the error."""
    error = error_for_response(503, {}, b"", request=REQUEST, attempts=3)
    assert error.attempts == 3


# -- the request ------------------------------------------------------------------------


def test_request_body_is_the_documented_example() -> None:
    """The spec's request example encodes to exactly the documented JSON, in documented order."""
    body = json.loads(encode_request(REQUEST))
    assert body == INLINE_REQUEST_EXAMPLE
    assert list(body) == list(INLINE_REQUEST_EXAMPLE)


def test_language_is_always_sent() -> None:
    """The default language ``es`` is sent even though it is the default."""
    request = SendRequest(
        phone_number_id="813497231850626",
        template_name="welcome_message",
        recipient_phone="+5491112345678",
    )
    assert json.loads(encode_request(request)) == {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "language": "es",
        "recipient_phone": "+5491112345678",
    }


def test_optional_maps_are_omitted_when_none() -> None:
    """``variables`` and ``button_variables`` are absent from the body when not given."""
    request = SendRequest(
        phone_number_id="1", template_name="t", recipient_phone="+5491112345678", language="en"
    )
    body = json.loads(encode_request(request))
    assert "variables" not in body
    assert "button_variables" not in body
    assert body["language"] == "en"


def test_non_ascii_text_is_utf8_json() -> None:
    """Accented text travels as UTF-8 JSON and decodes back unchanged."""
    request = SendRequest(
        phone_number_id="1",
        template_name="t",
        recipient_phone="+5491112345678",
        variables={"name": "José Müller 😀"},
    )
    raw = encode_request(request)
    assert json.loads(raw.decode("utf-8"))["variables"] == {"name": "José Müller 😀"}


def test_headers() -> None:
    """Every send carries the key, JSON content type, and a User-Agent naming the library."""
    headers = build_headers(API_KEY)
    assert headers["X-API-Key"] == API_KEY
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"mindo-async/{mindo_async.__version__}"


def test_send_path() -> None:
    """Requests go to the documented path."""
    assert SEND_PATH == "/api/v1/meta-templates/send/"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+5491112345678", "**********5678"), ("+12015550123", "********0123"), ("123", "****")],
)
def test_mask_phone_keeps_only_the_last_four_digits(phone: str, masked: str) -> None:
    """Logged phone numbers show only their last four digits."""
    assert mask_phone(phone) == masked


# -- what a transport failure proves ------------------------------------------------------


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """``exc`` as it looks after ``raise exc from cause``."""
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def _mapped_by_httpx_aiohttp(aiohttp_exc: BaseException) -> BaseException:
    """The httpx exception that httpx-aiohttp raises for ``aiohttp_exc``."""
    try:
        with map_aiohttp_exceptions():
            raise aiohttp_exc
    except Exception as caught:
        return caught
    raise AssertionError("map_aiohttp_exceptions swallowed the exception")


def _connection_key() -> ConnectionKey:
    return ConnectionKey("127.0.0.1", 9, False, True, None, None, None, None)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        pytest.param(httpx.ConnectError("refused"), FailureKind.NEVER_SENT, id="ConnectError"),
        pytest.param(httpx.ConnectTimeout("slow"), FailureKind.NEVER_SENT, id="ConnectTimeout"),
        pytest.param(httpx.PoolTimeout("busy"), FailureKind.NEVER_SENT, id="PoolTimeout"),
        pytest.param(
            _raised(
                httpx.ConnectError("tls"),
                ssl.SSLCertVerificationError(1, "certificate verify failed"),
            ),
            FailureKind.NEVER_SENT_PERMANENT,
            id="ConnectError-from-cert-failure",
        ),
        pytest.param(
            httpx.UnsupportedProtocol("ftp"),
            FailureKind.NEVER_SENT_PERMANENT,
            id="UnsupportedProtocol",
        ),
        pytest.param(httpx.ReadTimeout("slow"), FailureKind.MAYBE_SENT, id="ReadTimeout"),
        pytest.param(httpx.WriteTimeout("slow"), FailureKind.MAYBE_SENT, id="WriteTimeout"),
        pytest.param(httpx.ReadError("reset"), FailureKind.MAYBE_SENT, id="ReadError"),
        pytest.param(httpx.WriteError("reset"), FailureKind.MAYBE_SENT, id="WriteError"),
        pytest.param(
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            FailureKind.MAYBE_SENT,
            id="RemoteProtocolError",
        ),
        pytest.param(TimeoutError(), FailureKind.MAYBE_SENT, id="attempt-deadline"),
        pytest.param(OSError("what"), FailureKind.MAYBE_SENT, id="unknown-error"),
        pytest.param(
            _raised(httpx.ConnectTimeout(""), aiohttp.ServerDisconnectedError()),
            FailureKind.MAYBE_SENT,
            id="ConnectTimeout-from-ServerDisconnectedError",
        ),
        pytest.param(
            _raised(
                httpx.ConnectTimeout(""),
                aiohttp.ClientConnectorError(_connection_key(), ConnectionRefusedError(111, "no")),
            ),
            FailureKind.NEVER_SENT,
            id="ConnectTimeout-from-ClientConnectorError",
        ),
    ],
)
def test_classify_exception(exc: BaseException, kind: FailureKind) -> None:
    """Only failures that prove the request never left are 'never sent'; the rest are 'maybe'."""
    assert classify_exception(exc).kind is kind


@pytest.mark.parametrize(
    ("aiohttp_exc", "mapped", "kind"),
    [
        pytest.param(
            aiohttp.ServerDisconnectedError(),
            httpx.ConnectTimeout,
            FailureKind.MAYBE_SENT,
            id="server-disconnected",
        ),
        pytest.param(
            aiohttp.ClientOSError(104, "Connection reset by peer"),
            httpx.ConnectTimeout,
            FailureKind.MAYBE_SENT,
            id="connection-reset",
        ),
        pytest.param(
            aiohttp.ClientConnectorError(_connection_key(), ConnectionRefusedError(111, "no")),
            httpx.ConnectTimeout,
            FailureKind.NEVER_SENT,
            id="connection-refused",
        ),
        pytest.param(
            aiohttp.ConnectionTimeoutError("connect"),
            httpx.ConnectTimeout,
            FailureKind.NEVER_SENT,
            id="connection-timeout",
        ),
        pytest.param(
            aiohttp.SocketTimeoutError("read"),
            httpx.ReadTimeout,
            FailureKind.MAYBE_SENT,
            id="socket-read-timeout",
        ),
        pytest.param(
            aiohttp.ClientPayloadError("truncated"),
            httpx.ReadError,
            FailureKind.MAYBE_SENT,
            id="payload-error",
        ),
        pytest.param(
            aiohttp.ClientConnectorCertificateError(
                _connection_key(), ssl.SSLCertVerificationError(1, "certificate verify failed")
            ),
            httpx.ConnectTimeout,
            FailureKind.NEVER_SENT_PERMANENT,
            id="certificate",
        ),
    ],
)
def test_classify_what_httpx_aiohttp_raises(
    aiohttp_exc: BaseException, mapped: type[Exception], kind: FailureKind
) -> None:
    """httpx-aiohttp's exceptions (a disconnect is a ConnectTimeout) are classified by cause."""
    exc = _mapped_by_httpx_aiohttp(aiohttp_exc)
    assert type(exc) is mapped
    assert classify_exception(exc).kind is kind


def test_never_sent_becomes_a_retryable_connection_error() -> None:
    """A 'never sent' failure is an ``APIConnectionError`` marked retryable, with the request."""
    failure = classify_exception(httpx.ConnectError("refused"))
    error = error_for_failure(failure, request=REQUEST, attempts=2)
    assert type(error) is APIConnectionError
    assert error.retryable is True
    assert error.attempts == 2
    assert error.request is REQUEST
    assert "never reached the server" in str(error)


def test_permanent_failure_is_not_retryable() -> None:
    """A TLS certificate failure is an ``APIConnectionError`` that is not retryable."""
    exc = _raised(
        httpx.ConnectError("tls"), ssl.SSLCertVerificationError(1, "certificate verify failed")
    )
    error = error_for_failure(classify_exception(exc), request=REQUEST, attempts=1)
    assert isinstance(error, APIConnectionError)
    assert error.retryable is False


def test_maybe_sent_becomes_delivery_unknown() -> None:
    """A 'maybe sent' failure is a ``DeliveryUnknownError`` carrying the request and attempts."""
    failure = classify_exception(httpx.ReadTimeout("slow"))
    error = error_for_failure(failure, request=REQUEST, attempts=1)
    assert type(error) is DeliveryUnknownError
    assert error.request is REQUEST
    assert error.attempts == 1
    assert "may have been delivered" in str(error)


# -- the answer must echo the request (issue 15, item 1) ---------------------------------


def test_success_echoing_the_request_exactly_is_sent() -> None:
    """The documented 200, echoing the request's phone and template as sent, is SENT."""
    assert isinstance(respond(200, INLINE_RESPONSE_EXAMPLES[200, "OK"]), SentMessage)


@pytest.mark.parametrize(
    "phone", ["5491112345678", "+54 9 11 1234-5678", "005491112345678", "+54 (9) 11.1234.5678"]
)
def test_success_echoing_the_phone_formatted_otherwise_is_sent(phone: str) -> None:
    """The echoed phone is compared as a number: another formatting of it is still SENT."""
    body = {**INLINE_RESPONSE_EXAMPLES[200, "OK"], "recipient_phone": phone}
    message = respond(200, body)
    assert isinstance(message, SentMessage)
    assert message.recipient_phone == phone


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({"recipient_phone": "+5491187654321"}, "recipient_phone", id="other-phone"),
        pytest.param({"recipient_phone": "+549111234567"}, "recipient_phone", id="phone-prefix"),
        pytest.param({"recipient_phone": "not a phone"}, "recipient_phone", id="garbage-phone"),
        pytest.param({"recipient_phone": None}, "recipient_phone", id="null-phone"),
        pytest.param({"recipient_phone": 5491112345678}, "recipient_phone", id="number-phone"),
        pytest.param({"template_name": "order_update"}, "template_name", id="other-template"),
        pytest.param({"template_name": "WELCOME_MESSAGE"}, "template_name", id="template-case"),
        pytest.param({"template_name": ""}, "template_name", id="empty-template"),
    ],
)
def test_success_not_echoing_the_request_is_unexpected(
    change: dict[str, Any], problem: str
) -> None:
    """A 2xx echoing another phone or template is ``UnexpectedResponseError``, not SENT."""
    body = {**INLINE_RESPONSE_EXAMPLES[200, "OK"], **change}
    error = respond(200, body)
    assert type(error) is UnexpectedResponseError
    assert isinstance(error, DeliveryUnknownError)
    assert problem in str(error)


@pytest.mark.parametrize("missing", ["recipient_phone", "template_name"])
def test_success_lacking_an_echoed_field_is_unexpected(missing: str) -> None:
    """A 2xx without ``recipient_phone`` or ``template_name`` is not proof of this send."""
    body = dict(INLINE_RESPONSE_EXAMPLES[200, "OK"])
    del body[missing]
    error = respond(200, body)
    assert type(error) is UnexpectedResponseError
    assert f"no {missing}" in str(error)


def test_same_phone_number_is_strict_about_the_number() -> None:
    """Numbers differing in a digit, a country code or length never match; formatting does."""
    sent = "+5491112345678"
    assert same_phone_number("+54-9-11-1234-5678", sent)
    assert not same_phone_number("+5491112345679", sent)
    assert not same_phone_number("+5591112345678", sent)
    assert not same_phone_number("+54911123456789", sent)
    assert not same_phone_number("+" + "5" * 100, sent)
    assert not same_phone_number("", sent)


# -- the key is redacted whatever its escaping or case (issue 15, item 8) ----------------


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


#: The key's tail escaped with upper-case hex digits (``\\u006D``).
_ESCAPED_TAIL = "".join(f"\\u{ord(c):04X}" for c in API_KEY[8:])


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(f'{{"error": "bad key {API_KEY}"}}'.encode(), id="plain"),
        pytest.param(f'{{"error": "bad key {_escaped(API_KEY)}"}}'.encode(), id="json-escaped"),
        pytest.param(
            f'{{"error": "bad key {_escaped(API_KEY.upper())}"}}'.encode(), id="escaped-upper"
        ),
        pytest.param(f'{{"error": "bad key {API_KEY.upper()}"}}'.encode(), id="upper"),
        pytest.param(f'{{"{API_KEY.lower()}": ["unknown"]}}'.encode(), id="as-a-key-lower"),
        pytest.param(f'{{"detail": {{"k": ["{API_KEY}"]}}}}'.encode(), id="nested"),
        pytest.param(
            f'{{"error": "{API_KEY[:8]}{_ESCAPED_TAIL}"}}'.encode(), id="partly-escaped-upper-hex"
        ),
        pytest.param(f"<html>bad key {API_KEY.upper()}</html>".encode(), id="text-upper"),
        pytest.param(f"not json \xff {API_KEY}".encode("latin-1"), id="not-utf8"),
    ],
)
def test_redact_finds_the_key_whatever_the_escaping_or_case(raw: bytes) -> None:
    """Neither the decoded body nor the error text holds the key, in any case or escaping."""
    content = redact(raw, API_KEY)
    error = error_for_response(401, httpx.Headers(), content, request=REQUEST)
    for text in (str(error), json.dumps(error.body), repr(error.body), content.decode("utf-8")):
        assert API_KEY.lower() not in text.lower()
        assert _escaped(API_KEY).lower() not in text.lower()
    assert "<redacted>" in json.dumps(error.body, ensure_ascii=False)


def test_redact_leaves_bodies_without_the_key_untouched() -> None:
    """A body that does not hold the key comes back as the very same bytes."""
    plain = json.dumps(INLINE_RESPONSE_EXAMPLES[200, "OK"]).encode()
    escaped = b'{"error": "Caf\\u00e9 cerrado"}'
    assert redact(plain, API_KEY) is plain
    assert redact(escaped, API_KEY) is escaped


def _json_or_error(load: Any, content: bytes) -> tuple[str, Any]:
    try:
        return "value", load(content)
    except ValueError as exc:
        return "error", type(exc).__name__


_JSON_SAMPLES = [
    b'{"message_id":"wamid.1","success":true}',
    '{"name":"José ☃"}'.encode(),
    b"\xef\xbb\xbf" + b'{"bom":1}',
    '{"utf16":"x"}'.encode("utf-16"),
    '{"utf16be":"x"}'.encode("utf-16-be"),
    '{"utf32le":"x"}'.encode("utf-32-le"),
    b"[1, 2, 3]",
    b"not json",
    b"\xff\xfe\xfd",
    b"\x00\x00\x00",
    b"1\x00",
    b"",
    b"  null  ",
]


@pytest.mark.parametrize("content", _JSON_SAMPLES)
def test_loads_json_answers_as_json_loads(content: bytes) -> None:
    """The answer decoder's UTF-8 shortcut gives json.loads's value or error type."""
    from mindo_async._protocol import loads_json

    assert _json_or_error(loads_json, content) == _json_or_error(json.loads, content)


@given(
    st.one_of(st.binary(max_size=64), st.text(max_size=32).map(lambda t: json.dumps(t).encode()))
)
@settings(max_examples=300)
def test_loads_json_agrees_with_json_loads_on_any_bytes(content: bytes) -> None:
    """On arbitrary bytes and JSON texts the shortcut and json.loads agree."""
    from mindo_async._protocol import loads_json

    assert _json_or_error(loads_json, content) == _json_or_error(json.loads, content)


def _timestamp_as_before(value: str) -> datetime:
    """``parse_timestamp``'s reading before its Python 3.11 shortcut."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text",
    [
        "2025-11-16T21:30:00Z",
        "2025-11-16T21:30:00z",
        " 2025-11-16T21:30:00Z ",
        "2025-11-16T21:30:00.123456Z",
        "2025-11-16T21:30:00+03:00",
        "2025-11-16T21:30:00-0300",
        "2025-11-16T21:30:00",
        "2025-11-16 21:30:00Z",
        "2025-11-16",
        "20251116T213000Z",
        "2025-11-16T21:30Z",
        "not a time",
        "Z",
        "",
    ],
)
def test_parse_timestamp_reads_as_it_did(text: str) -> None:
    """The sent_at shortcut gives the same aware datetime (or the same refusal) as before."""
    from mindo_async._conversion import parse_timestamp

    try:
        expected: object = _timestamp_as_before(text)
    except ValueError:
        expected = ValueError
    try:
        got: object = parse_timestamp(text)
    except ValueError:
        got = ValueError
    assert got == expected
    if isinstance(got, datetime):
        assert got.utcoffset() == expected.utcoffset()  # type: ignore[union-attr]


_json_text = st.text(max_size=12)


@given(
    st.dictionaries(
        _json_text,
        st.one_of(
            _json_text,
            st.dictionaries(_json_text, _json_text, max_size=3),
            st.integers(),
            st.decimals(allow_nan=False, allow_infinity=False),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        max_size=5,
    )
)
@settings(max_examples=300)
def test_the_body_encoder_writes_what_json_encoder_writes(body: dict[str, Any]) -> None:
    """The send body's prebuilt C encoder writes the same text as the JSONEncoder it stands for."""
    from mindo_async._conversion import _encode_chunks, _encode_json

    assert "".join(_encode_chunks(body, 0)) == _encode_json(body)
