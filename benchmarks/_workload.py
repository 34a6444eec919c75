"""What every contender sends: the documented example, to a different recipient each time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mindo_async import SendRequest

from ._server import PHONE_NUMBER_ID, SEND_PATH

TEMPLATE = "welcome_message"
VARIABLES = {"name": "Juan Perez", "code": "ABC123"}
BUTTON_VARIABLES = {"button_0": "ABC-123"}
# Argentine mobiles +54 9 11 2xxx xxxx .. 5xxx xxxx: all valid for libphonenumber,
# and distinct, so that neither dedupe nor any cache can skip work.
_FIRST = 20_000_000
_LAST = 59_999_999


def recipient(index: int) -> str:
    """The ``index``-th recipient: a valid, distinct E.164 number."""
    if index > _LAST - _FIRST:
        raise ValueError("too many recipients for the number range")
    return f"+54911{_FIRST + index}"


def make_request(index: int) -> SendRequest:
    """The ``SendRequest`` for recipient ``index``."""
    return SendRequest(
        phone_number_id=PHONE_NUMBER_ID,
        template_name=TEMPLATE,
        recipient_phone=recipient(index),
        language="es",
        variables=VARIABLES,
        button_variables=BUTTON_VARIABLES,
    )


def send_requests(count: int, start: int = 0) -> Iterator[SendRequest]:
    """``count`` distinct ``SendRequest``, built lazily."""
    for index in range(start, start + count):
        yield make_request(index)


def payload(index: int) -> dict[str, Any]:
    """The JSON body a hand-written client would send for recipient ``index``."""
    return {
        "phone_number_id": PHONE_NUMBER_ID,
        "template_name": TEMPLATE,
        "language": "es",
        "recipient_phone": recipient(index),
        "variables": VARIABLES,
        "button_variables": BUTTON_VARIABLES,
    }


def send_url(base_url: str) -> str:
    """The send endpoint under ``base_url``."""
    return base_url.rstrip("/") + SEND_PATH
