"""Server-side bulk sends in the sync client: not available yet (hand-written stand-in).

The async resource (``AsyncMindo.bulk_sends``) waits with anyio's cancel scopes
and awaits callbacks; ``scripts/unasync.py`` does not rewrite it (``EXCLUDED``).
"""

from __future__ import annotations

from typing import Any, NoReturn

from mindo_async._sync.resources._base import SyncAPIResource


class SyncBulkSends(SyncAPIResource):
    """Server-side bulk sends: use ``AsyncMindo.bulk_sends`` (not in ``Mindo`` yet)."""

    def __getattr__(self, name: str) -> NoReturn:
        raise NotImplementedError(
            f"Mindo.bulk_sends.{name} is not available in the sync client yet: "
            "use AsyncMindo().bulk_sends"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("use AsyncMindo().bulk_sends")
