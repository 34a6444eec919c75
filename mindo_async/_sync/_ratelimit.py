# GENERATED from mindo_async/_ratelimit.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""The rate-limiter seam: one small async protocol, and the in-process implementation.

``Mindo(rate_limit=...)`` takes a number (an in-process ``LocalRateLimiter``
at that rate), ``None`` (no cap; 429 pauses still apply) or any object that has
the three methods of ``RateLimiter``, such as ``mindo_async.redis.RedisRateLimiter``,
which many processes share.
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable

from mindo_async._errors import ConfigurationError
from mindo_async._sync._concurrency import Lock
from mindo_async._sync._pacing import Pacer


class Priority(enum.IntEnum):
    """Who asks for a sending slot: single sends go before fan-out reservations."""

    #: ``send`` / ``send_request``: a user is waiting for this one message.
    SINGLE = 0
    #: ``send_many`` / ``stream_many``: one of many; it may wait behind single sends.
    FANOUT = 1


@runtime_checkable
class RateLimiter(Protocol):
    """Sending slots per ``phone_number_id``, and pauses after a 429.

    One limiter is shared by every send of a client; a shared implementation
    (``RedisRateLimiter``) is shared by every client that uses it, in any process.
    """

    def acquire(self, number: str, priority: Priority = Priority.SINGLE) -> None:
        """Wait until ``number`` may send once more (a pause included), and count that send."""
        ...

    def pause(self, number: str, seconds: float) -> None:
        """Hold every send of ``number`` for ``seconds`` from now (a pause never shortens)."""
        ...

    def paused_for(self, number: str) -> float:
        """Seconds left in the pause of ``number`` (0 when it is not paused)."""
        ...


class FanoutLine:
    """Per number, one fan-out request at a time reserves a slot; single sends skip the line.

    A GCRA reservation is taken before its caller sleeps, so 32 fan-out workers
    would otherwise hold the next 32 slots and a single send would wait behind
    all of them. Here the fan-out waits in a FIFO line (``Lock`` is fair)
    and only its head holds a reservation: a single send waits for at most one.
    """

    def __init__(self) -> None:
        self._locks: dict[str, Lock] = {}

    def lock(self, number: str) -> Lock:
        """The line of ``number``."""
        lock = self._locks.get(number)
        if lock is None:
            lock = self._locks[number] = Lock()
        return lock


class LocalRateLimiter:
    """The in-process ``RateLimiter``: a GCRA ``Pacer`` per client, single sends first.

    ``rate`` sends per second per number, with bursts of at most ``burst``
    (default: one second's worth); ``rate=None`` turns the cap off (pauses still
    apply). It holds for one process only: for several, use ``RedisRateLimiter``.
    """

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self.pacer = Pacer(rate, burst)
        self._line = FanoutLine()

    @property
    def rate(self) -> float | None:
        """Sends per second per number, or ``None`` for no cap."""
        return self.pacer.rate

    def acquire(self, number: str, priority: Priority = Priority.SINGLE) -> None:
        """Wait for a slot of ``number``; fan-out waits behind single sends."""
        if priority is Priority.SINGLE or self.pacer.rate is None:
            self.pacer.acquire(number)
            return
        with self._line.lock(number):
            self.pacer.acquire(number)

    def pause(self, number: str, seconds: float) -> None:
        """Hold every send of ``number`` for ``seconds`` (a pause never shortens)."""
        self.pacer.pause(number, seconds)

    def paused_for(self, number: str) -> float:
        """Seconds left in the pause of ``number``."""
        return self.pacer.paused_for(number)

    def __repr__(self) -> str:
        return f"<LocalRateLimiter rate={self.pacer.rate!r}>"


def as_rate_limiter(value: float | RateLimiter | None) -> RateLimiter:
    """The limiter that ``Mindo(rate_limit=value)`` uses."""
    if value is None:
        return LocalRateLimiter(None)
    if isinstance(value, bool):
        raise ConfigurationError("rate_limit must be a number, None or a RateLimiter, not a bool")
    if isinstance(value, (int, float)):
        if not value > 0:
            raise ConfigurationError("rate_limit must be positive, or None to turn it off")
        return LocalRateLimiter(float(value))
    if isinstance(value, RateLimiter):
        return value
    raise ConfigurationError(
        "rate_limit must be a number, None or a RateLimiter "
        f"(acquire, pause, paused_for), not {type(value).__name__}"
    )


__all__ = ["FanoutLine", "LocalRateLimiter", "Priority", "RateLimiter", "as_rate_limiter"]
