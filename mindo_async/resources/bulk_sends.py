"""Server-side bulk sends (``send-bulk`` and ``bulk-sends/``): create, follow, page through."""

from __future__ import annotations

from ._base import AsyncAPIResource


class AsyncBulkSends(AsyncAPIResource):
    """Server-side bulk sends (``send-bulk`` and ``bulk-sends/``): create, follow, page through."""
