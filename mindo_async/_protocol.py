"""The sans-I/O core: what to send, and what an answer or a failure means.

Nothing here does I/O, so every decision about the protocol is testable
without a socket. The client only moves bytes and sleeps.
"""

from __future__ import annotations

import enum
import json
import math
import re
import ssl
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import attrs
import httpx
import phonenumbers

from ._conversion import parse_timestamp
from ._endpoints import SEND
from ._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    DeliveryUnknownError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    PhoneNumberNotFoundError,
    QuotaExceededError,
    RateLimitError,
    ServerDeliveryUnknownError,
    ServerError,
    TemplateNotApprovedError,
    TemplateNotFoundError,
    UnexpectedResponseError,
    ValidationError,
)
from ._models import MessageStatus, SendRequest, SentMessage
from ._pacing import MAX_PAUSE
from ._version import __version__

SEND_PATH = SEND.path
USER_AGENT = f"mindo-async/{__version__}"


def build_headers(api_key: str) -> dict[str, str]:
    """The headers of every send: the key, JSON in and out, and who we are."""
    return {
        "X-API-Key": api_key,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def redact(content: bytes, secret: str) -> bytes:
    """``content`` with every copy of ``secret`` replaced, so no error or log can carry it.

    A server may echo the API key in an error body; that body becomes the
    exception's message and ``body``. The key is looked for in the decoded
    text, whatever its escaping or case: a JSON body is decoded first (so
    ``\\u006d\\u0069...`` escapes are undone) and every string in it, keys
    included, is redacted case-insensitively; any other body is redacted as
    text, case-insensitively. A body that cannot hold the key (no copy of it in
    any case, and no JSON escape of an ASCII character) is returned as is, at the
    cost of two searches.
    """
    token = secret.encode()
    if not token:
        return content
    lowered = content.lower()
    if token.lower() not in lowered and _ESCAPED_ASCII.search(content) is None:
        # Neither the key in any case, nor a JSON escape of a printable ASCII
        # character (which a key spelled with escapes needs): nothing to decode.
        return content
    pattern = re.compile(re.escape(secret), re.IGNORECASE)
    try:
        decoded = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        text = content.decode("utf-8", errors="replace")
        return pattern.sub(REDACTED, text).encode()
    cleaned = _redact_decoded(decoded, pattern)
    if cleaned is decoded and token.lower() not in lowered:
        # JSON escapes, but none of them spelled the key.
        return content
    return json.dumps(cleaned).encode()


#: A JSON escape of a printable ASCII character (``\\u0020`` to ``\\u007f``): encoders
#: escape only control and non-ASCII characters, so it is rare in an honest body.
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7][0-9a-fA-F]")

#: What a redacted secret is replaced with.
REDACTED = "<redacted>"


def _redact_decoded(value: Any, pattern: re.Pattern[str]) -> Any:
    """``value`` (decoded JSON) with ``pattern`` replaced in every string, keys included.

    Returns ``value`` itself when nothing in it matched.
    """
    if isinstance(value, str):
        return pattern.sub(REDACTED, value) if pattern.search(value) else value
    if isinstance(value, list):
        items = [_redact_decoded(item, pattern) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        pairs = [
            (_redact_decoded(key, pattern), _redact_decoded(item, pattern))
            for key, item in value.items()
        ]
        unchanged = all(
            k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True)
        )
        return value if unchanged else dict(pairs)
    return value


def mask_phone(phone: str) -> str:
    """A phone number fit for logs: only its last four digits."""
    return "*" * max(len(phone) - 4, 0) + phone[-4:] if len(phone) > 4 else "****"


_decode_json_text = json.JSONDecoder().decode


def loads_json(content: bytes) -> Any:
    """``json.loads(content)``; raises ``ValueError`` (or ``UnicodeDecodeError``) as it does.

    Tried first as UTF-8 text (what JSON is on the wire), which skips
    ``json.loads``'s encoding detection on every answer; anything else (a BOM,
    UTF-16 or UTF-32, or not JSON) goes to ``json.loads`` itself, so the answer
    and the errors are always its own.
    """
    try:
        return _decode_json_text(content.decode("utf-8"))
    except ValueError:
        return json.loads(content)


def _decode_body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return loads_json(content)
    except (ValueError, UnicodeDecodeError):
        return content.decode("utf-8", errors="replace")


def _server_message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str) and error:
            return error
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return detail
        fields = _field_errors(body)
        if fields:
            return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
    if isinstance(body, str) and body.strip():
        return body.strip()[:_MESSAGE_LIMIT]
    if isinstance(body, (dict, list)) and body:
        # A shape this library does not know: its JSON still tells the caller what happened.
        return json.dumps(body, ensure_ascii=False)[:_MESSAGE_LIMIT]
    return fallback


_MESSAGE_LIMIT = 500


def _field_errors(body: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """The ``{"field": ["message", ...]}`` part of a 400 body; nested fields as ``a.b``."""
    errors: dict[str, list[str]] = {}
    for name, value in body.items():
        if not prefix and name in ("error", "detail"):
            continue
        field = f"{prefix}{name}"
        if isinstance(value, list) and value and all(isinstance(m, str) for m in value):
            errors[field] = list(value)
        elif isinstance(value, str):
            errors[field] = [value]
        elif isinstance(value, Mapping):
            errors.update(_field_errors(value, f"{field}."))
    return errors


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to ``Retry-After`` (seconds or an HTTP date) or
    ``retry-after-ms``; ``None`` when absent or unreadable (negative, NaN, infinite).

    The result is at most ``MAX_PAUSE`` (an hour), whatever the server asks.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = -1.0
        if math.isfinite(value) and value >= 0:
            return min(value, MAX_PAUSE)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = now or datetime.now(timezone.utc)
        return min(max(0.0, (when - current).total_seconds()), MAX_PAUSE)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_PAUSE)


# The documented messages (in Spanish), matched loosely so that small wording
# changes still reach the specific class.
def _is_not_approved(message: str) -> bool:
    return "APPROVED" in message and message.startswith("Template")


def _is_template_not_found(message: str) -> bool:
    return message.startswith("Template") and "no encontrado" in message


def _is_quota_exceeded(body: Mapping[str, Any]) -> bool:
    # Not documented by the API: the emulator answers a send beyond the number's
    # 24-hour quota with 400 {"error": "...", "code": "quota_exceeded"}.
    code = body.get("code")
    return isinstance(code, str) and code.lower() == "quota_exceeded"


def _is_number_not_found(message: str) -> bool:
    return "WhatsApp" in message and "no encontrado" in message


def error_for_response(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    request: object = None,
    attempts: int = 1,
    idempotent: bool = False,
) -> APIError:
    """The exception that a non-success answer means (not raised here).

    ``idempotent`` is the endpoint's: an ambiguous answer to a read (a 5xx, a
    2xx of another shape) cannot mean that something was delivered. A 3xx to a
    non-idempotent POST may follow processing (a 303 is the usual answer after
    one), so it is an ``UnexpectedResponseError`` (a ``DeliveryUnknownError``);
    to a read it is an ``InvalidResponseError``. Neither is ever followed.
    """
    body = _decode_body(content)
    reason = httpx.codes.get_reason_phrase(status_code) or "error"
    message = _server_message(body, f"{reason}")
    common: dict[str, Any] = {
        "status_code": status_code,
        "body": body,
        "attempts": attempts,
        "request": request,
    }
    if status_code == 400:
        if isinstance(body, dict):
            if _is_quota_exceeded(body):
                return QuotaExceededError(message, **common)
            if _is_not_approved(message):
                return TemplateNotApprovedError(message, **common)
            fields = _field_errors(body)
            if fields and not isinstance(body.get("error"), str):
                return ValidationError(message, field_errors=fields, **common)
        return BadRequestError(message, **common)
    if status_code == 401:
        return AuthenticationError(message, **common)
    if status_code == 403:
        return PermissionDeniedError(message, **common)
    if status_code == 404:
        if _is_template_not_found(message):
            return TemplateNotFoundError(message, **common)
        if _is_number_not_found(message):
            return PhoneNumberNotFoundError(message, **common)
        return NotFoundError(message, **common)
    if status_code == 429:
        return RateLimitError(message, retry_after=parse_retry_after(headers), **common)
    if status_code >= 500 and idempotent:
        return ServerError(message, retry_after=parse_retry_after(headers), **common)
    if idempotent and 200 <= status_code < 400:
        return InvalidResponseError(
            f"unexpected HTTP {status_code} (redirects are never followed): {message}", **common
        )
    if status_code in (501, 503):
        return ServerError(message, retry_after=parse_retry_after(headers), **common)
    if status_code >= 500:
        return ServerDeliveryUnknownError(message, retry_after=parse_retry_after(headers), **common)
    if 300 <= status_code < 400:
        # To a POST: it may have been processed first; the usual answer after
        # processing a POST is a 303. Never followed, never retried.
        return UnexpectedResponseError(
            f"unexpected redirect (redirects are never followed): {message}", **common
        )
    if 200 <= status_code < 300:
        return UnexpectedResponseError(message, **common)
    return APIError(message, **common)


def interpret_response(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    request: SendRequest,
    attempts: int = 1,
) -> SentMessage | APIError:
    """What an HTTP answer to a send means: the ``SentMessage``, or the error (not raised)."""
    if status_code != 200 and status_code != 201:
        return error_for_response(status_code, headers, content, request=request, attempts=attempts)
    body = _decode_body(content)
    if not (
        # The common case, decided in one expression: what the two checks below
        # accept when the answer echoes the request exactly.
        type(body) is dict
        and type(body.get("message_id")) is str
        and body["message_id"]
        and body.get("success", True) is True
        and body.get("template_name") == request.template_name
        and body.get("recipient_phone") == request.recipient_phone
    ):
        problem = _success_body_problem(body)
        if problem is not None:
            return UnexpectedResponseError(
                f"the answer is not the documented success body: {problem}",
                status_code=status_code,
                body=body,
                attempts=attempts,
                request=request,
            )
        assert isinstance(body, dict)
        mismatch = _echo_problem(body, request)
        if mismatch is not None:
            # Another request's answer (a stray response read off a reused
            # connection), or a server that is not the documented API: the message
            # may or may not have been sent, and this message_id is not its proof.
            return UnexpectedResponseError(
                f"the answer does not echo this request: {mismatch}",
                status_code=status_code,
                body=body,
                attempts=attempts,
                request=request,
            )
    try:
        sent_at = parse_timestamp(body.get("sent_at"))
    except (TypeError, ValueError):
        # Never invented: an answer without a readable sent_at is not the documented
        # body, so the send's fate is UNKNOWN (the error carries the body and its id).
        return UnexpectedResponseError(
            "the answer is not the documented success body: "
            f"sent_at is missing or not an ISO 8601 timestamp ({body.get('sent_at')!r})",
            status_code=status_code,
            body=body,
            attempts=attempts,
            request=request,
        )
    # Every field is checked above (message_id, the echoed template and phone are
    # non-empty strings, sent_at a datetime): built directly, without the converter's
    # pass over each field (the hot path of every send).
    status = _text_or(body.get("status"), "sent")
    return SentMessage(
        success=True,
        message_id=body["message_id"],
        template_name=body["template_name"],
        recipient_phone=body["recipient_phone"],
        status=_STATUSES.get(status, status),
        sent_at=sent_at,
    )


#: ``MessageStatus`` by value; a value not in it stays a plain string (an open enum).
_STATUSES: dict[str, MessageStatus | str] = {status.value: status for status in MessageStatus}


def _echo_problem(body: Mapping[str, Any], request: SendRequest) -> str | None:
    """Why a success body is not the answer to ``request``, or ``None`` when it is.

    The documented answer echoes ``template_name`` and ``recipient_phone``. The
    template must be the same text; the phone the same number (compared with
    libphonenumber, since the server may format it differently: spaces, dashes,
    no ``+``). The common case, both echoed exactly as sent, costs two string
    comparisons.
    """
    template = body.get("template_name")
    phone = body.get("recipient_phone")
    if template == request.template_name and phone == request.recipient_phone:
        return None
    if not isinstance(template, str) or not template:
        return "no template_name"
    if template != request.template_name:
        return "another template_name"
    if not isinstance(phone, str) or not phone:
        return "no recipient_phone"
    if not same_phone_number(phone, request.recipient_phone):
        return "another recipient_phone"
    return None


#: What a server may put between the digits of a phone number.
_FORMATTING = re.compile(r"[\s().\-/]")


def same_phone_number(echoed: str, sent: str) -> bool:
    """Whether ``echoed`` (as a server wrote it) is the number ``sent`` (E.164).

    ``echoed`` may carry spaces, dashes, dots, parentheses, or lack the
    leading ``+``; both are parsed with libphonenumber and must be the exact
    same number (country code, national number, leading zeros).
    """
    if len(echoed) > 64:
        return False
    digits = _FORMATTING.sub("", echoed)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif not digits.startswith("+"):
        digits = "+" + digits
    if digits == sent:
        # The same digits, only formatted otherwise: no need to parse.
        return True
    text = echoed.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    elif not text.startswith("+"):
        # Without a '+', a server still means the international number.
        text = "+" + text
    try:
        left = phonenumbers.parse(text, None)
        right = phonenumbers.parse(sent, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_number_match(left, right) == phonenumbers.MatchType.EXACT_MATCH)


def _text_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _success_body_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "not a JSON object"
    message_id = body.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        return "no message_id"
    if body.get("success", True) is not True:
        return f"success is {body.get('success')!r}"
    return None


class FailureKind(enum.Enum):
    """What a failed attempt proves about delivery."""

    #: The request never left (connect error or timeout, pool timeout): safe to retry.
    NEVER_SENT = "never_sent"
    #: It never left, and trying again cannot help (TLS certificate, bad URL, proxy refused).
    NEVER_SENT_PERMANENT = "never_sent_permanent"
    #: The server may have received and processed it.
    MAYBE_SENT = "maybe_sent"


@attrs.frozen
class TransportFailure:
    """A failed attempt, classified."""

    kind: FailureKind
    description: str


def _aiohttp_cause(exc: BaseException) -> BaseException | None:
    """The aiohttp exception behind ``exc``, when an aiohttp transport raised it."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        module = type(current).__module__
        if module.startswith("aiohttp"):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _has_cert_error(exc: BaseException) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _classify_aiohttp(cause: BaseException) -> TransportFailure:
    # Imported here: aiohttp is only loaded where its transport is in use.
    from aiohttp import client_exceptions as aio

    name = type(cause).__name__
    if isinstance(cause, (aio.ClientConnectorCertificateError, aio.ClientConnectorSSLError)):
        return TransportFailure(FailureKind.NEVER_SENT_PERMANENT, f"TLS failure ({name})")
    if isinstance(cause, aio.ClientProxyConnectionError):
        return TransportFailure(FailureKind.NEVER_SENT_PERMANENT, f"proxy refused ({name})")
    if isinstance(cause, aio.ClientConnectorError):
        return TransportFailure(FailureKind.NEVER_SENT, f"could not connect ({name})")
    connection_timeout = getattr(aio, "ConnectionTimeoutError", None)
    if connection_timeout is not None and isinstance(cause, connection_timeout):
        # Raised only around connector.connect(): waiting for a pooled
        # connection or opening one; the request was not written.
        return TransportFailure(FailureKind.NEVER_SENT, f"connect timeout ({name})")
    if type(cause) is aio.ClientConnectionError and "Connector is closed" in str(cause):
        # Raised by connector.connect() once the pool is closed: nothing was written.
        return TransportFailure(FailureKind.NEVER_SENT, f"client closed ({name})")
    if isinstance(cause, (aio.InvalidURL,)):
        return TransportFailure(FailureKind.NEVER_SENT_PERMANENT, f"invalid URL ({name})")
    # ServerDisconnectedError, SocketTimeoutError, ClientOSError, ClientPayloadError, ...:
    # the request may have been written and processed. httpx-aiohttp surfaced a
    # disconnect as httpx.ConnectTimeout; the cause decides here, so that a caller's
    # own http_client on that adapter is classified right too. (This library's
    # transport names it httpx.RemoteProtocolError: both agree.)
    return TransportFailure(FailureKind.MAYBE_SENT, f"{name}: {cause}".rstrip(": "))


def classify_exception(exc: BaseException) -> TransportFailure:
    """What a transport exception proves about whether the request reached the server."""
    cause = _aiohttp_cause(exc)
    if cause is not None:
        return _classify_aiohttp(cause)
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if _has_cert_error(exc):
            return TransportFailure(FailureKind.NEVER_SENT_PERMANENT, f"TLS certificate ({name})")
        return TransportFailure(FailureKind.NEVER_SENT, f"could not connect ({name})")
    if isinstance(exc, httpx.ConnectTimeout):
        return TransportFailure(FailureKind.NEVER_SENT, f"connect timeout ({name})")
    if isinstance(exc, httpx.PoolTimeout):
        return TransportFailure(FailureKind.NEVER_SENT, f"no free connection in time ({name})")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.ProxyError)):
        return TransportFailure(FailureKind.NEVER_SENT_PERMANENT, f"{name}: {exc}")
    if isinstance(exc, httpx.ReadTimeout):
        return TransportFailure(FailureKind.MAYBE_SENT, f"no answer in time ({name})")
    if isinstance(exc, (TimeoutError,)) and not isinstance(exc, httpx.HTTPError):
        return TransportFailure(FailureKind.MAYBE_SENT, "no answer within the attempt timeout")
    detail = str(exc)
    return TransportFailure(FailureKind.MAYBE_SENT, f"{name}: {detail}" if detail else name)


def error_for_failure(
    failure: TransportFailure, *, request: object, attempts: int, idempotent: bool = False
) -> APIConnectionError | DeliveryUnknownError:
    """The exception that a classified transport failure means (not raised here).

    For an idempotent endpoint (a read) a failure after the request may have
    left is a retryable ``APIConnectionError``: repeating a read is harmless.
    """
    if failure.kind is FailureKind.MAYBE_SENT and not idempotent:
        return DeliveryUnknownError(failure.description, request=request, attempts=attempts)
    return APIConnectionError(
        failure.description,
        attempts=attempts,
        retryable=failure.kind is not FailureKind.NEVER_SENT_PERMANENT,
        request=request,
    )
