"""The company's profile, opening hours and holidays."""

from __future__ import annotations

from ._base import AsyncAPIResource


class AsyncBusiness(AsyncAPIResource):
    """The company's profile, opening hours and holidays."""
