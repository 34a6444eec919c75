"""Contacts: look one up by phone number, with its 24-hour session window."""

from __future__ import annotations

from ._base import AsyncAPIResource


class AsyncContacts(AsyncAPIResource):
    """Contacts: look one up by phone number, with its 24-hour session window."""
