"""``GET meta-templates/messages/{message_id}/``: one message's delivery status, on the clock.

Every message sent through ``send`` moves ``sent -> delivered -> read`` (or
``sent -> failed``) along the fate drawn when it was sent
(``MessageLifecycle``); this handler reports where it stands at the clock's
time, with the timestamp of each transition reached so far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._clock import iso
from ._common import Reply, Request, not_found_detail, ok

if TYPE_CHECKING:
    from .._state import EmulatorState


def get(state: EmulatorState, request: Request) -> Reply:
    """The documented §2.3 body, or ``{"detail": "No encontrado."}`` (404) for an unknown wamid."""
    message_id = request.params["message_id"]
    record = state.message(message_id)
    if record is None:
        return not_found_detail()
    now = request.now
    status = record.status(now)
    failed_at = record.reached(record.failed_at, now)
    life = state.lifecycle
    contact = request.data.contact(record.recipient_phone)
    delivered_at = record.reached(record.delivered_at, now)
    read_at = record.reached(record.read_at, now)
    return ok(
        {
            "id": record.id,
            "template": {
                "id": record.template_id,
                "name": record.template_name,
                "language": record.language,
                "category": record.category,
            },
            "recipient": {
                "phone": record.recipient_phone,
                "contact_name": contact.full_name if contact is not None else None,
                "contact_id": contact.id if contact is not None else None,
            },
            "variables_used": dict(record.variables),
            "delivery_status": {
                "current": status,
                "sent_at": iso(record.sent_at),
                "delivered_at": iso(delivered_at) if delivered_at else None,
                "read_at": iso(read_at) if read_at else None,
                "failed_at": iso(failed_at) if failed_at else None,
                "error_code": life.error_code if failed_at else None,
                "error_message": life.error_message if failed_at else None,
            },
            "meta_message_id": record.message_id,
            "was_successful": True,
            "error_message": None,
            "sent_at": iso(record.sent_at),
        }
    )
