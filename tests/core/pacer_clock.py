"""A test clock for the pacer: ``mindo_async._pacing`` reads time and sleeps through it.

The pacer uses two names from ``anyio``, ``current_time`` and ``sleep``; a test
installs a ``PacerClock`` in their place (``monkeypatch.setattr(_pacing, "anyio",
clock)``), so pauses and the rate cap run on a clock that only the test moves:
a result cannot depend on how busy the machine is.

- Hand-moved (the default): a ``sleep`` lasts until the test ``advance``s the
  clock past its end; ``wait_for_sleepers(n)`` waits until ``n`` tasks sleep.
- ``autojump=True``: a ``sleep`` moves the clock on by its length at once (for one
  task acquiring in turn, where "how long it waited" is the point).
"""

from __future__ import annotations

import anyio
import anyio.lowlevel


class PacerClock:
    """A clock the test moves, with the ``current_time()`` and ``sleep()`` of ``anyio``."""

    def __init__(self, *, autojump: bool = False) -> None:
        self.now = 0.0
        self.autojump = autojump
        self.sleepers: list[tuple[float, anyio.Event]] = []
        self._changed: anyio.Event | None = None

    def current_time(self) -> float:
        """The clock's time, in seconds (it starts at 0)."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has moved ``seconds`` on (at once if ``seconds <= 0``)."""
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        if self.autojump:
            self.advance(seconds)
            await anyio.lowlevel.checkpoint()
            return
        entry = (self.now + seconds, anyio.Event())
        self.sleepers.append(entry)
        self._notify()
        try:
            await entry[1].wait()
        finally:
            self.sleepers.remove(entry)
            self._notify()

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, and wake the sleepers whose time has come."""
        self.now += seconds
        for deadline, wake in self.sleepers:
            if deadline <= self.now:
                wake.set()

    async def wait_for_sleepers(self, count: int) -> None:
        """Return once ``count`` tasks sleep on this clock."""
        while len(self.sleepers) < count:
            self._changed = anyio.Event()
            await self._changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
