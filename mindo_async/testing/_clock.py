"""The emulator's clock: real time by default, or a virtual clock a test moves by hand.

Everything in the emulator that depends on time reads one clock: the
timestamps it answers (``sent_at``), the rolling 24-hour quota window of each
phone number, the ``sent -> delivered -> read`` transitions of messages, the
24-hour session window opened by a reply (and, later, bulk-send progress).
A ``VirtualClock`` makes all of that deterministic: nothing moves until the
test calls ``advance``.

Fault latency and the per-number rate limit stay in real time: they model
the network and Meta's throughput, which a client experiences as real waits.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock"]

#: Where a ``VirtualClock`` starts unless told otherwise (the reference's example time).
VIRTUAL_EPOCH = datetime(2025, 11, 16, 21, 30, tzinfo=timezone.utc)


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC ``datetime``."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock (the default)."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(timezone.utc)

    def __repr__(self) -> str:
        return "SystemClock()"


class VirtualClock:
    """A clock that only moves when told to; safe to read and move from any thread.

    ``VirtualClock()`` starts at 2025-11-16T21:30:00Z; ``VirtualClock(start)``
    at ``start`` (an aware ``datetime``). ``advance(seconds)`` moves it forward.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = VIRTUAL_EPOCH if start is None else start
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("a VirtualClock needs a timezone-aware start time")
        self._lock = threading.Lock()
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        """The current virtual time (UTC)."""
        with self._lock:
            return self._now

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the clock forward by ``seconds`` (>= 0) and return the new time."""
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("a VirtualClock only moves forward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware, not earlier than now)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("a VirtualClock needs a timezone-aware time")
        with self._lock:
            if when < self._now:
                raise ValueError("a VirtualClock only moves forward")
            self._now = when.astimezone(timezone.utc)

    def __repr__(self) -> str:
        return f"VirtualClock({self.now().isoformat()})"


def iso(moment: datetime) -> str:
    """``moment`` as the API writes timestamps: ISO 8601 UTC, to the second, with ``Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
