"""What every contender sends: the documented example, with a different code each time.

Every request goes to the documented example's recipient: nginx answers every
send with the same documented body, and the library reports a 2xx that does
not echo the request's recipient as UNKNOWN (issue 15), so the recipient must
match it. The ``code`` variable differs per request, so that neither dedupe
nor any cache can skip work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mindo_async import SendRequest

from ._server import PHONE_NUMBER_ID, SEND_PATH, SUCCESS_BODY

TEMPLATE = "welcome_message"
VARIABLES = {"name": "Juan Perez", "code": "ABC123"}
#: The recipient the documented answer (``SUCCESS_BODY``) echoes.
RECIPIENT = str(SUCCESS_BODY["recipient_phone"])
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


def variables(index: int) -> dict[str, str]:
    """The variables of request ``index``: its own ``code``."""
    return {**VARIABLES, "code": f"C{index:08d}"}


def make_request(index: int) -> SendRequest:
    """The ``index``-th ``SendRequest``."""
    return SendRequest(
        phone_number_id=PHONE_NUMBER_ID,
        template_name=TEMPLATE,
        recipient_phone=RECIPIENT,
        language="es",
        variables=variables(index),
        button_variables=BUTTON_VARIABLES,
    )


def send_requests(count: int, start: int = 0) -> Iterator[SendRequest]:
    """``count`` distinct ``SendRequest``, built lazily."""
    for index in range(start, start + count):
        yield make_request(index)


def payload(index: int) -> dict[str, Any]:
    """The JSON body a hand-written client would send for request ``index``."""
    return {
        "phone_number_id": PHONE_NUMBER_ID,
        "template_name": TEMPLATE,
        "language": "es",
        "recipient_phone": RECIPIENT,
        "variables": variables(index),
        "button_variables": BUTTON_VARIABLES,
    }


def send_url(base_url: str) -> str:
    """The send endpoint under ``base_url``."""
    return base_url.rstrip("/") + SEND_PATH
