"""What the Redis limiter and journal share: asyncio only, and riding out an outage."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import sniffio
from redis import exceptions as redis_errors

from .._errors import ConfigurationError, SharedStateUnavailableError

logger = logging.getLogger("mindo_async.redis")

T = TypeVar("T")

#: What redis-py raises when the server cannot be reached (or is still loading).
UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)

#: The first and the longest wait between two tries while Redis is out of reach.
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 2.0


def ensure_asyncio() -> None:
    """Refuse to run on anything but asyncio (redis-py's client is asyncio-only)."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        library = None
    if library != "asyncio":
        raise ConfigurationError(
            "mindo_async.redis runs on asyncio only (redis-py's asyncio client), "
            f"not on {library or 'no event loop'}; on trio, use the in-process rate "
            "limiter and SQLiteJournal"
        )


class OutageGuard:
    """Retries a Redis call while Redis is out of reach, with backoff, and logs the outage.

    Fail closed: the caller's send waits (nothing leaves without its slot and its
    claim) and goes on by itself once Redis answers again. With ``outage_timeout``
    set, a call that could not reach Redis for that long raises
    ``SharedStateUnavailableError`` instead.
    """

    def __init__(self, what: str, outage_timeout: float | None) -> None:
        if outage_timeout is not None and not outage_timeout > 0:
            raise ConfigurationError("outage_timeout must be positive, or None to wait")
        self.what = what
        self.outage_timeout = outage_timeout
        #: When this process last found Redis out of reach (monotonic), while it is.
        self.down_since: float | None = None

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``await operation()``, again and again while Redis cannot be reached."""
        ensure_asyncio()
        delay = FIRST_BACKOFF
        started: float | None = None
        while True:
            try:
                result = await operation()
            except UNREACHABLE as exc:
                now = time.monotonic()
                if started is None:
                    started = now
                if self.down_since is None:
                    self.down_since = now
                    logger.warning(
                        "%s: Redis cannot be reached (%s); nothing is sent until it is "
                        "back, retrying with backoff",
                        self.what,
                        _describe(exc),
                    )
                if self.outage_timeout is not None and now - started >= self.outage_timeout:
                    raise SharedStateUnavailableError(
                        f"{self.what}: Redis could not be reached for {now - started:.1f} s "
                        f"({_describe(exc)}); nothing was sent"
                    ) from exc
                await anyio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            if self.down_since is not None:
                logger.warning(
                    "%s: Redis is back after %.1f s; sending goes on",
                    self.what,
                    time.monotonic() - self.down_since,
                )
                self.down_since = None
            return result


def _describe(error: BaseException) -> str:
    # redis-py's messages name the host and port, never the password.
    return f"{type(error).__name__}: {error}"
