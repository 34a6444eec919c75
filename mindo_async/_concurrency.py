"""Small async helpers whose sync twins are hand-written in ``_sync/_concurrency.py``.

The async code calls these where a line-by-line rewrite (``scripts/unasync.py``)
has no sync equivalent: awaiting a callback that may or may not be a coroutine
function, reading an iterable that may be async. The generated sync modules
import the twins of the same names instead.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import TypeVar

__all__ = ["collect", "notify"]

T = TypeVar("T")


async def notify(callback: Callable[[T], Awaitable[None] | None], value: T) -> None:
    """Call ``callback(value)``; await what it returns when it is awaitable."""
    result = callback(value)
    if inspect.isawaitable(result):
        await result


async def collect(items: Iterable[T] | AsyncIterable[T]) -> list[T]:
    """Every item of ``items`` (an iterable or an async iterable), in order."""
    if isinstance(items, AsyncIterable):
        return [item async for item in items]
    return list(items)
