"""The one cattrs converter, and the JSON encoding of requests and decoding of responses."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._models import MessageStatus, SendRequest, SentMessage

converter = cattrs.Converter()


def _structure_status(value: Any, _: Any) -> MessageStatus | str:
    # An unknown status must not turn a successful send into an error.
    try:
        return MessageStatus(value)
    except ValueError:
        if isinstance(value, str):
            return value
        raise


#: Whether ``datetime.fromisoformat`` takes a trailing "Z" (Python 3.11+).
_READS_Z = sys.version_info >= (3, 11)


def parse_timestamp(value: Any) -> datetime:
    """Parse an ISO 8601 timestamp; a trailing ``Z`` and a naive value both mean UTC."""
    if _READS_Z and type(value) is str:
        # Python 3.11+ reads a trailing "Z" itself: one call for the common case;
        # anything it refuses (spaces around it, an older form) takes the path below.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    else:
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


converter.register_structure_hook(MessageStatus | str, _structure_status)
converter.register_structure_hook(date, lambda value, _: _parse_date(value))
converter.register_structure_hook(time, lambda value, _: _parse_time(value))
converter.register_structure_hook(datetime, lambda value, _: parse_timestamp(value))
converter.register_unstructure_hook(datetime, lambda value: value.isoformat())
converter.register_unstructure_hook(
    SendRequest,
    make_dict_unstructure_fn(SendRequest, converter, _cattrs_omit_if_default=True),
)


def _parse_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise TypeError(f"expected a YYYY-MM-DD string, got {type(value).__name__}")


def _parse_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        return time.fromisoformat(value.strip())
    raise TypeError(f"expected an HH:MM:SS string, got {type(value).__name__}")


def camel(name: str) -> str:
    """``snake_case`` to ``camelCase``: ``unique_numbers_sent_24h`` -> ``uniqueNumbersSent24h``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_C = TypeVar("_C")
_E = TypeVar("_E", bound=enum.Enum)


def register_camel_case(cls: type[_C]) -> type[_C]:
    """Structure ``cls`` (an attrs class) from a camelCase answer: one rename hook per class.

    Use as a decorator on the models of the camelCase endpoints (see
    ``_endpoints.Casing``); their field names stay snake_case in Python.
    Unknown keys are ignored, as everywhere.
    """
    fields: Any = attrs.fields(cls)  # type: ignore[arg-type]
    renames: dict[str, Any] = {field.name: override(rename=camel(field.name)) for field in fields}
    converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **renames))
    return cls


def open_enum(enum_type: type[_E]) -> Callable[[Any, Any], _E | str]:
    """A structure hook for ``enum_type | str``: unknown values stay plain strings.

    Register it for the union: ``converter.register_structure_hook(Tier | str, open_enum(Tier))``.
    """

    def structure(value: Any, _: Any) -> _E | str:
        try:
            return enum_type(value)
        except ValueError:
            if isinstance(value, str):
                return value
            raise

    return structure


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: One encoder for every body: ``json.dumps`` with options builds a new one per call.
_encode_json = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, default=_json_default
).encode


def _chunk_encoder() -> Callable[[Any, int], Sequence[str]]:
    """``_encode_json`` as the chunks of its C encoder, built once.

    ``JSONEncoder.encode`` builds that C encoder anew on every call, which costs
    more than encoding a send's small body. Used only when it gives exactly
    ``_encode_json``'s text on a sample (any Python without the C encoder, or
    with another signature, keeps ``_encode_json``). Without the circular
    check: request bodies are validated text and numbers, never a cycle.
    """

    def whole(value: Any, _level: int) -> Sequence[str]:
        return (_encode_json(value),)

    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return whole
    try:
        chunks = make(
            None, _json_default, json.encoder.encode_basestring, None, ":", ",", False, False, True
        )
        sample = {"a": 'ñ\u2028"', "b": {"c": "1", "d": 2}, "e": Decimal("1.50"), "f": [1.5]}
        if "".join(chunks(sample, 0)) != _encode_json(sample):
            return whole
    except Exception:
        return whole
    return chunks  # type: ignore[no-any-return]


_encode_chunks = _chunk_encoder()


def encode_request(request: SendRequest) -> bytes:
    """The JSON body for ``request``: ``language`` always, empty optional fields omitted."""
    # Built by hand, in the documented order, rather than through the converter:
    # it runs for every send, and unstructuring a request only copies its fields.
    body: dict[str, Any] = {
        "phone_number_id": request.phone_number_id,
        "template_name": request.template_name,
        # The default language is still sent: the documented body always names it.
        "language": request.language,
        "recipient_phone": request.recipient_phone,
    }
    if request.variables is not None:
        body["variables"] = dict(request.variables)
    if request.button_variables is not None:
        body["button_variables"] = dict(request.button_variables)
    return "".join(_encode_chunks(body, 0)).encode()


def structure_sent_message(body: dict[str, Any]) -> SentMessage:
    """Build a ``SentMessage`` from a decoded 2xx body (unknown keys are ignored)."""
    return converter.structure(body, SentMessage)
