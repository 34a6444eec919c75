"""Single sends go before fan-out sends across processes (issue 14 item 8) in the Redis limiter.

Each ``RedisRateLimiter`` below stands for one process (its own in-process fan-out
line). The assertions read what the Lua script reports, in the Redis server's
microseconds (the wait it gave, the slot it reserved), never the wall clock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

import anyio
import pytest
import redis.asyncio as aioredis

from mindo_async import Priority
from mindo_async.redis import RedisRateLimiter

NUMBER = "813497231850626"
RATE = 20.0  # one slot every 50 ms
INTERVAL_US = round(1_000_000 / RATE)

Reservation = tuple[Priority, int, int, int]  # priority, reserved, wait (us), slot (us)


def record(limiter: RedisRateLimiter, seen: list[Reservation]) -> None:
    """Keep every answer of ``limiter``'s script in ``seen``."""
    reserve: Callable[[list[str], Priority], Awaitable[tuple[int, int, int]]] = limiter._reserve

    async def recording(keys: list[str], priority: Priority) -> tuple[int, int, int]:
        answer = await reserve(keys, priority)
        seen.append((priority, *answer))
        return answer

    limiter._reserve = recording  # type: ignore[method-assign]


@pytest.mark.asyncio
@pytest.mark.parametrize("processes", [1, 8, 64])
async def test_a_single_send_waits_at_most_one_interval_however_many_processes_queue(
    redis_client: aioredis.Redis, processes: int
) -> None:
    """``processes`` fan-out heads ask three times each; then a single send's wait is at most one
    interval (the old script queued it behind every fan-out reservation: 3 x processes)."""
    limiters = [RedisRateLimiter(redis_client, rate=RATE, burst=1) for _ in range(processes)]
    keys = limiters[0]._keys(NUMBER)
    fanout = [
        await limiter._reserve(keys, Priority.FANOUT) for _ in range(3) for limiter in limiters
    ]
    # Fan-out never holds a future slot: granted only when free now, else told when.
    assert all(wait == 0 for reserved, wait, _ in fanout if reserved)
    assert all(wait > 0 for reserved, wait, _ in fanout if not reserved)
    reserved, wait, _ = await limiters[-1]._reserve(keys, Priority.SINGLE)
    assert reserved == 1
    assert wait <= INTERVAL_US


@pytest.mark.asyncio
async def test_hammering_fan_out_workers_do_not_delay_a_priority_send(
    redis_client: aioredis.Redis,
) -> None:
    """16 processes x 4 fan-out workers on one number through ``acquire``: a single send is
    granted within one interval, and every granted slot keeps the per-number limit."""
    seen: list[Reservation] = []
    limiters = [RedisRateLimiter(redis_client, rate=RATE, burst=1) for _ in range(16)]
    for limiter in limiters:
        record(limiter, seen)
    granted = asyncio.Event()

    async def worker(limiter: RedisRateLimiter) -> None:
        while True:
            await limiter.acquire(NUMBER, Priority.FANOUT)
            if sum(1 for s in seen if s[0] is Priority.FANOUT and s[1]) >= 6:
                granted.set()

    async with anyio.create_task_group() as group:
        for limiter in limiters:
            for _ in range(4):
                group.start_soon(worker, limiter)
        await granted.wait()  # the fan-out is in full swing: every worker is queued
        await limiters[0].acquire(NUMBER, Priority.SINGLE)
        # An anyio cancel scope, as the fan-out's: redis-py may swallow a bare
        # task.cancel() that lands mid-command, a scope re-delivers it.
        group.cancel_scope.cancel()
    single = [s for s in seen if s[0] is Priority.SINGLE]
    assert len(single) == 1
    assert single[0][1] == 1
    assert single[0][2] <= INTERVAL_US
    # The limit still holds: with a burst of 1, granted slots are one interval apart at least.
    slots = sorted(slot for _, reserved, _, slot in seen if reserved)
    assert len(slots) >= 7
    assert all(b - a >= INTERVAL_US for a, b in itertools.pairwise(slots))
