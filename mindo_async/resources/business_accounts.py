"""The business accounts, phone numbers (with tier and quota) and templates of the API key."""

from __future__ import annotations

from ._base import AsyncAPIResource


class AsyncBusinessAccounts(AsyncAPIResource):
    """The business accounts, phone numbers (with tier and quota) and templates of the API key."""
