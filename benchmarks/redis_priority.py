"""Issue 14 item 8 across processes: a single send's wait behind fan-out workers in Redis.

    python -m benchmarks.redis_priority

Starts a redis-server (as ``benchmarks.shared_state`` does), then for 1, 8 and 32
simulated processes (one ``RedisRateLimiter`` each, 4 fan-out workers each, all
on one number at 80/s) makes 10 single sends, spread over about 2 s, and reports
the wait the limiter's script gave each single send (Redis server time) and the
fan-out's grants per second. ``old`` replays the previous behaviour (fan-out
reserves future slots like a single send); ``new`` is the current script.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

import anyio
import redis.asyncio as aioredis

from mindo_async import Priority
from mindo_async.redis import RedisRateLimiter

from .shared_state import redis_server

NUMBER = "813497231850626"
Reserve = Callable[[list[str], Priority], Awaitable[tuple[int, int, int]]]


def _as_single(limiter: RedisRateLimiter) -> None:
    """Make every request of ``limiter`` reserve like a single send (the old script)."""
    reserve: Reserve = limiter._reserve

    async def always_reserve(keys: list[str], priority: Priority) -> tuple[int, int, int]:
        return await reserve(keys, Priority.SINGLE)

    limiter._reserve = always_reserve  # type: ignore[method-assign]


async def run(url: str, processes: int, *, old: bool, rate: float = 80.0) -> tuple[float, ...]:
    """(median, max) single-send wait in ms, and fan-out grants per second."""
    client = aioredis.Redis.from_url(url)
    await client.flushdb()
    limiters = [RedisRateLimiter(client, rate=rate) for _ in range(processes)]
    if old:
        for limiter in limiters:
            _as_single(limiter)
    grants = 0

    async def worker(limiter: RedisRateLimiter) -> None:
        nonlocal grants
        while True:
            await limiter.acquire(NUMBER, Priority.FANOUT)
            grants += 1

    single = RedisRateLimiter(client, rate=rate)
    reserve: Reserve = single._reserve
    waits: list[float] = []

    async def recording(keys: list[str], priority: Priority) -> tuple[int, int, int]:
        answer = await reserve(keys, priority)
        waits.append(answer[1] / 1000)
        return answer

    single._reserve = recording  # type: ignore[method-assign]
    async with anyio.create_task_group() as group:
        for limiter in limiters:
            for _ in range(4):
                group.start_soon(worker, limiter)
        await anyio.sleep(0.5)
        before, started = grants, time.monotonic()
        for _ in range(10):
            await single.acquire(NUMBER, Priority.SINGLE)
            await anyio.sleep(0.2)
        per_second = (grants - before) / (time.monotonic() - started)
        group.cancel_scope.cancel()
    await client.aclose()
    return statistics.median(waits), max(waits), per_second


async def main(url: str) -> None:
    """Print one line per (processes, variant)."""
    print("processes  variant  single wait median ms  single wait max ms  fan-out grants/s")
    for processes in (1, 8, 32):
        for old in (True, False):
            median, longest, per_second = await run(url, processes, old=old)
            variant = "old" if old else "new"
            print(
                f"{processes:9d}  {variant:7s}  {median:21.1f}  {longest:18.1f}  {per_second:16.1f}"
            )


if __name__ == "__main__":
    with redis_server() as redis_url:
        anyio.run(main, redis_url, backend="asyncio")
