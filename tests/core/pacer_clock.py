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

import asyncio

import anyio
import anyio.lowlevel
import sniffio


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

    def advance_to_next(self) -> bool:
        """Jump to the earliest sleeper's wake-up time and wake it; ``False`` if none sleeps."""
        if not self.sleepers:
            return False
        self.now = max(self.now, min(deadline for deadline, _ in self.sleepers))
        self.advance(0.0)
        return True

    async def wait_for_sleepers(self, count: int) -> None:
        """Return once ``count`` tasks sleep on this clock."""
        while len(self.sleepers) < count:
            self._changed = anyio.Event()
            await self._changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()


async def wait_all_tasks_blocked() -> None:
    """Return once every other task waits on something (on trio, anyio's own check).

    anyio's asyncio version re-checks every 0.1 s, which makes a loop of a hundred
    clock jumps last seconds; this one re-checks after each pass of the event loop,
    and only counts a task as waiting when no callback is queued (nothing timed or
    threaded may run meanwhile: the tests using it have neither).
    """
    if sniffio.current_async_library() != "asyncio":
        await anyio.wait_all_tasks_blocked()
        return
    this_task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(0)
        if getattr(loop, "_ready", None):
            continue  # callbacks are queued: one may wake a task
        waiters = (
            getattr(task, "_fut_waiter", None)
            for task in asyncio.all_tasks()
            if task is not this_task
        )
        if all(waiter is not None and not waiter.done() for waiter in waiters):
            return
