# GENERATED from mindo_async/resources/contacts.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""``mindo.contacts``: look a contact up by phone."""

from __future__ import annotations

import re

from mindo_async._endpoints import CONTACT_LOOKUP
from mindo_async._errors import InvalidRequestError
from mindo_async._sync.resources._base import SyncAPIResource
from mindo_async._sync.resources._parse import structure
from mindo_async.types.contacts import ContactLookup

# What the API's own normalisation accepts: digits with an optional leading +,
# spaces, dashes, dots and parentheses (``+54 223 15-596-1983``).
_PHONE_LIKE = re.compile(r"\+?[0-9 ().-]+")


def phone_lookup_problem(phone: object) -> str | None:
    """Why ``phone`` is not phone-like, or ``None``; the API normalises the rest."""
    if not isinstance(phone, str) or not phone.strip():
        return "is required (a phone number, e.g. '+5492235961983')"
    text = phone.strip()
    digits = sum(ch.isdigit() for ch in text)
    if _PHONE_LIKE.fullmatch(text) is None or not 6 <= digits <= 20:
        return "must be a phone number: digits, optionally with +, spaces or dashes"
    return None


class SyncContacts(SyncAPIResource):
    """``GET /contact-lookup/``."""

    def lookup(self, phone: str) -> ContactLookup:
        """What the API knows of ``phone``: the contact, replies and the 24-hour window.

        ``phone`` is sent as given: the API accepts E.164 with or without ``+``,
        Argentine "15" forms, spaces and dashes. Only a value that is not
        phone-like at all is refused (``InvalidRequestError``). The answer is a
        ``ContactLookup`` with ``found`` false when the contact does not exist.
        """
        problem = phone_lookup_problem(phone)
        if problem is not None:
            raise InvalidRequestError({"phone": [problem]})
        body = self._get(CONTACT_LOOKUP, params={"phone": phone})
        return structure(body, ContactLookup, CONTACT_LOOKUP)  # type: ignore[no-any-return]
