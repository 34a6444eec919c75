# GENERATED from mindo_async/_pacing.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""Pacing shared by a whole client: a send-rate cap and 429 pauses, per phone number id."""

from __future__ import annotations

import time

#: The longest pause a ``Retry-After`` (or ``retry-after-ms``) can impose, in seconds:
#: an hour. A larger value (``1e308``, a date in 2100) is read as this one. It is not
#: the retry cap (``RetryPolicy.max_retry_after``, 60 s by default): a send does not
#: wait out a pause longer than that cap (it fails fast), but the pause still holds
#: the phone number id, for at most this long.
MAX_PAUSE = 3600.0


class Pacer:
    """Caps sends per second for each key (a phone number id), and pauses a key on demand.

    The cap is a GCRA token bucket: ``rate`` per second with bursts of at most
    ``burst`` (default: one second's worth). Each caller reserves its slot
    before sleeping, so concurrent callers queue in order without a lock, on
    asyncio and trio alike. ``rate=None`` turns the cap off; pauses still apply.
    """

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive, or None to turn the cap off")
        self.rate = rate
        self._interval = 0.0 if rate is None else 1.0 / rate
        size = max(1.0, burst if burst is not None else (rate or 1.0))
        self._tolerance = (size - 1.0) * self._interval
        self._theoretical_arrival: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}

    def pause(self, key: str, seconds: float) -> None:
        """Hold every send for ``key`` for ``seconds`` from now (a pause never shortens).

        ``seconds`` is capped at ``MAX_PAUSE``; a NaN or negative value pauses nothing.
        """
        if not seconds > 0:
            return
        until = time.monotonic() + min(seconds, MAX_PAUSE)
        if until > self._paused_until.get(key, 0.0):
            self._paused_until[key] = until

    def paused_for(self, key: str) -> float:
        """Seconds left in the pause of ``key`` (0 when it is not paused)."""
        until = self._paused_until.get(key)
        return 0.0 if until is None else max(0.0, until - time.monotonic())

    def unpaced(self, key: str) -> bool:
        """Whether ``key`` may send now without ``acquire``: no rate, and no pause."""
        return self.rate is None and (not self._paused_until or not self.paused_for(key))

    def acquire(self, key: str) -> None:
        """Wait until ``key`` may send once more, and count that send."""
        self._wait_out_pause(key)
        if self.rate is None:
            return
        now = time.monotonic()
        arrival = max(self._theoretical_arrival.get(key, now), now)
        self._theoretical_arrival[key] = arrival + self._interval
        allowed_at = arrival - self._tolerance
        if allowed_at > now:
            time.sleep(allowed_at - now)
            # A 429 may have paused this key while we slept.
            self._wait_out_pause(key)

    def _wait_out_pause(self, key: str) -> None:
        while True:
            until = self._paused_until.get(key)
            if until is None:
                return
            left = until - time.monotonic()
            if left <= 0:
                # Dropped, so that the common case stays one dict lookup.
                del self._paused_until[key]
                return
            time.sleep(left)
