"""``GET contact-lookup/?phone=``: a contact, whether they replied, and their session window.

The number is normalised (every form of the reference's table is the same
number, the Argentine "15" forms included); the answer is 200 even when no
contact has it. Replies are recorded with ``Emulator.reply(phone)``, on the
emulator's clock; each opens a 24-hour session window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._clock import iso
from .._data import normalize_phone
from .._state import WINDOW
from ._common import Reply, Request, ok

if TYPE_CHECKING:
    from .._state import EmulatorState

#: The 400 body for a missing or blank ``phone`` (the emulator's choice; the API documents none).
PHONE_REQUIRED = {"phone": ["Este campo es requerido."]}


def lookup(state: EmulatorState, request: Request) -> Reply:
    """The documented §2.8 body; 400 ``{"phone": ["Este campo es requerido."]}`` without a phone."""
    phone = request.query_value("phone")
    if phone is None or not phone.strip():
        return Reply(400, PHONE_REQUIRED, "bad_request")
    normalized = normalize_phone(phone)
    contact = request.data.contact(phone) if normalized is not None else None
    last_reply = state.last_reply(normalized) if normalized is not None else None
    now = request.now
    active = last_reply is not None and last_reply + WINDOW > now
    return ok(
        {
            "found": contact is not None,
            "contact": None
            if contact is None
            else {
                "id": contact.id,
                "fullName": contact.full_name,
                "phone": contact.phone,
                "email": contact.email,
                "contactListId": contact.contact_list_id,
                "contactListName": contact.contact_list_name,
                "source": contact.source,
                "createdAt": contact.created_at,
            },
            "hasReplied": last_reply is not None,
            "lastReplyAt": iso(last_reply) if last_reply is not None else None,
            "sessionWindowActive": active,
            "sessionExpiresAt": iso(last_reply + WINDOW)
            if active and last_reply is not None
            else None,
        }
    )
