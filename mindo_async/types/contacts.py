"""The contact-lookup answer (camelCase): the contact, replies and the 24-hour window."""

from __future__ import annotations

from datetime import datetime

import attrs

from .._conversion import register_camel_case

__all__ = ["Contact", "ContactLookup"]


@register_camel_case
@attrs.frozen(kw_only=True)
class Contact:
    """A contact of one of the company's lists."""

    id: int
    #: E.164, as the API normalised it.
    phone: str
    full_name: str | None = None
    email: str | None = None
    #: The list the contact belongs to.
    contact_list_id: int | None = None
    #: Not described by the API (named from its example), like ``source`` and ``created_at``.
    contact_list_name: str | None = None
    #: Where the contact came from, e.g. ``"organic"``.
    source: str | None = None
    created_at: datetime | None = None


@register_camel_case
@attrs.frozen(kw_only=True)
class ContactLookup:
    """What the API knows about a phone number (the answer is 200 even when not ``found``)."""

    #: Whether the contact exists in any of the company's lists.
    found: bool
    #: ``None`` when not found.
    contact: Contact | None = None
    #: Whether the contact ever sent a message (if not, a follow-up candidate).
    has_replied: bool = False
    last_reply_at: datetime | None = None
    #: Whether WhatsApp's 24-hour session window is open (free text allowed).
    session_window_active: bool = False
    session_expires_at: datetime | None = None
