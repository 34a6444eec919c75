"""The thread-based stand-ins of the anyio primitives the async code uses.

``scripts/unasync.py`` rewrites ``anyio.CapacityLimiter`` and ``anyio.WouldBlock``
of the async modules to these, for the sync client (``Mindo``).
"""

from __future__ import annotations

import threading

#: ``anyio.Lock`` in the async code.
Lock = threading.Lock


class WouldBlock(Exception):
    """``acquire_nowait`` found no free slot."""


class CapacityLimiter:
    """At most ``total_tokens`` holders at once, across threads (anyio's shape)."""

    def __init__(self, total_tokens: int) -> None:
        self._total = total_tokens
        self._semaphore = threading.BoundedSemaphore(total_tokens)

    @property
    def total_tokens(self) -> int:
        """How many holders are allowed at once."""
        return self._total

    def acquire_nowait(self) -> None:
        """Take a slot now, or raise ``WouldBlock``."""
        if not self._semaphore.acquire(blocking=False):
            raise WouldBlock

    def acquire(self) -> None:
        """Take a slot, waiting for one."""
        self._semaphore.acquire()

    def release(self) -> None:
        """Give a slot back."""
        self._semaphore.release()
