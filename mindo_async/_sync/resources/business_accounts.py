# GENERATED from mindo_async/resources/business_accounts.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""``mindo.business_accounts``: the account's numbers, quota and templates."""

from __future__ import annotations

import time

from mindo_async._endpoints import BUSINESS_ACCOUNTS
from mindo_async._sync.resources._base import SyncAPIResource
from mindo_async._sync.resources._parse import structure
from mindo_async.types.business_accounts import BusinessAccounts


class SyncBusinessAccounts(SyncAPIResource):
    """``GET /business-accounts/``, with a small cache for the pre-flight and the CLI."""

    _cached: tuple[float, BusinessAccounts] | None = None

    def get(self, *, max_age: float | None = None) -> BusinessAccounts:
        """Everything tied to the API key: company, numbers with their quota, templates.

        Args:
            max_age: Accept an answer fetched at most this many seconds ago by this
                client instead of asking again. ``None`` (the default) always asks.
                The quota in a cached answer is as old as the answer.
        """
        cached = self._cached
        if max_age is not None and cached is not None:
            fetched_at, accounts = cached
            if time.monotonic() - fetched_at <= max_age:
                return accounts
        body = self._get(BUSINESS_ACCOUNTS)
        accounts = structure(body, BusinessAccounts, BUSINESS_ACCOUNTS)
        self._cached = (time.monotonic(), accounts)
        return accounts  # type: ignore[no-any-return]

    def forget(self) -> None:
        """Drop the cached answer, so the next ``get(max_age=...)`` asks the API."""
        self._cached = None
