"""The thread-based stand-ins of the anyio primitives the async code uses.

``scripts/unasync.py`` rewrites ``anyio.CapacityLimiter``, ``anyio.WouldBlock``
and ``anyio.move_on_after`` of the async modules to these, for the sync client
(``Mindo``), and points imports of ``mindo_async/_concurrency.py`` (``notify``,
``collect``) here.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")

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


class move_on_after:
    """A deadline ``seconds`` from now (anyio's ``move_on_after`` in the async code).

    A thread cannot be cancelled: the code under it reads ``deadline`` and stops
    by itself (``bulk_sends.wait`` polls no more once it is past). ``cancelled_caught``
    stays false.
    """

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds if math.isfinite(seconds) else math.inf
        self.cancelled_caught = False

    def __enter__(self) -> move_on_after:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


def notify(callback: Callable[[T], object], value: T) -> None:
    """Call ``callback(value)``: a plain function in the sync client.

    A coroutine function's coroutine is closed unrun and ``TypeError`` says so:
    nothing here would ever await it.
    """
    result = callback(value)
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()
        raise TypeError(
            "the sync client (Mindo) calls its callbacks as plain functions, and this one "
            "returned an awaitable: pass a function, or use AsyncMindo"
        )


def collect(items: Iterable[T]) -> list[T]:
    """Every item of ``items``, in order."""
    return list(items)
