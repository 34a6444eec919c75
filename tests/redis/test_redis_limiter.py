"""RedisRateLimiter against a real redis-server: one limit and one pause for every process."""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
import redis.asyncio as aioredis
from redis_server import RedisServer, two_number_emulator

from mindo_async import ConfigurationError, Priority, RateLimiter
from mindo_async.redis import RedisRateLimiter
from mindo_async.testing import serve

NUMBER = "813497231850626"
CHILD = Path(__file__).with_name("redis_child.py")


@pytest.mark.asyncio
async def test_limiter_is_a_rate_limiter(redis_client: aioredis.Redis) -> None:
    """RedisRateLimiter satisfies the RateLimiter protocol that AsyncMindo(rate_limit=) takes."""
    assert isinstance(RedisRateLimiter(redis_client), RateLimiter)


@pytest.mark.asyncio
async def test_two_limiters_share_one_limit(redis_client: aioredis.Redis) -> None:
    """Two limiters on two connections, 10 slots each at 10/s, burst 5: 1.5 s at least, not 0.5."""
    other = aioredis.Redis(
        connection_pool=aioredis.ConnectionPool.from_url(
            f"redis://127.0.0.1:{redis_client.connection_pool.connection_kwargs['port']}/0"
        )
    )
    first = RedisRateLimiter(redis_client, rate=10.0, burst=5)
    second = RedisRateLimiter(other, rate=10.0, burst=5)
    started = time.monotonic()

    async def take(limiter: RedisRateLimiter) -> None:
        for _ in range(10):
            await limiter.acquire(NUMBER, Priority.FANOUT)

    try:
        await asyncio.gather(take(first), take(second))
    finally:
        await other.aclose()
    # GCRA: 20 slots with a burst of 5 at 10/s need (20 - 5) / 10 s; apart, 0.5 s each.
    assert time.monotonic() - started >= 1.5 - 0.02


@pytest.fixture
def limiter_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every ``anyio.sleep`` the limiter asks for (it still sleeps): its waits, whatever the
    machine's speed. The limiter is the only user of ``anyio.sleep`` in these tests."""
    asked: list[float] = []
    sleep = anyio.sleep

    async def recorded(seconds: float) -> None:
        asked.append(seconds)
        await sleep(seconds)

    monkeypatch.setattr(anyio, "sleep", recorded)
    return asked


@pytest.mark.asyncio
async def test_other_numbers_are_not_slowed(
    redis_client: aioredis.Redis, limiter_sleeps: list[float]
) -> None:
    """Each phone number id has its own limit: another number's slots are all free."""
    limiter = RedisRateLimiter(redis_client, rate=2.0, burst=1)
    await limiter.acquire(NUMBER)
    keys = sorted(k.decode() for k in await redis_client.keys("mindo:rate:*"))
    assert keys == [f"mindo:rate:{{{NUMBER}}}:tat"]
    ttl = await redis_client.pttl(keys[0])
    assert 0 < ttl <= 1500 + 1000  # the state expires once the number is idle
    await limiter.acquire("another")
    assert limiter_sleeps == [], "another number waited for NUMBER's next slot (0.5 s on)"


@pytest.mark.asyncio
async def test_a_waiting_acquire_holds_no_slot(redis_client: aioredis.Redis) -> None:
    """A fan-out slot is granted for now only: a fan-out acquire that waits, then is
    cancelled, took none."""
    limiter = RedisRateLimiter(redis_client, rate=0.01, burst=1)  # one slot per 100 s
    await limiter.acquire(NUMBER, Priority.FANOUT)
    key = f"mindo:rate:{{{NUMBER}}}:tat"
    after_grant = int(await redis_client.get(key))
    with anyio.move_on_after(0.05):  # the next slot is 100 s away: this waits
        await limiter.acquire(NUMBER, Priority.FANOUT)
    # A reserving limiter would have moved the arrival time another 100 s on.
    assert int(await redis_client.get(key)) == after_grant


@pytest.mark.asyncio
async def test_a_pause_holds_every_limiter_of_that_number(redis_client: aioredis.Redis) -> None:
    """A pause set through one limiter (a 429's Retry-After) holds another client's sends."""
    first = RedisRateLimiter(redis_client, rate=None)
    second = RedisRateLimiter(aioredis.Redis(connection_pool=redis_client.connection_pool))
    await first.pause("long", 600)
    await first.pause("long", 0.1)  # a pause never shortens
    assert await second.paused_for("long") > 300
    assert await second.paused_for("another") == 0
    started = time.monotonic()
    await first.pause(NUMBER, 0.3)
    await second.acquire(NUMBER)
    assert time.monotonic() - started >= 0.3 - 0.002  # Redis expires keys to the ms
    assert await second.paused_for(NUMBER) == 0


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_the_redis_limiter_refuses_trio(anyio_backend: str) -> None:
    """On trio the Redis limiter raises a ConfigurationError that says asyncio only."""
    limiter = RedisRateLimiter(aioredis.Redis(port=1), rate=1.0)
    with pytest.raises(ConfigurationError, match="asyncio only"):
        await limiter.acquire(NUMBER)


@pytest.mark.slow  # two processes paced at 19/s for 60 sends each: over 3 s by design
def test_worker_processes_share_the_limit_and_get_no_429(redis_server: RedisServer) -> None:
    """Two processes sharing 19/s against 20/s per number: no 429 (apart: 38/s); all sent once."""
    import redis

    redis.Redis.from_url(redis_server.url).flushdb()
    emulator = two_number_emulator()
    emulator.set_faults(phone_rate_limit=20, retry_after=1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with serve(emulator) as server:
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(CHILD),
                    server.base_url,
                    server.api_key,
                    redis_server.url,
                    "19",
                    str(first),
                    "60",
                ],
                env=env,
                stdout=subprocess.PIPE,
            )
            for first in (0, 60)
        ]
        outputs = [child.communicate(timeout=120)[0].decode().split() for child in children]
    assert [child.returncode for child in children] == [0, 0]
    assert collections.Counter(o for output in outputs for o in output) == {"sent": 120}
    assert emulator.ledger.counts["rate_limited"] == 0
    assert emulator.ledger.duplicates() == []
    assert len(emulator.ledger.messages) == 120


@pytest.mark.asyncio
async def test_an_unreachable_limiter_sends_nothing() -> None:
    """Limiter's Redis out of reach (outage_timeout): send raises, send_many skips; none sent."""
    import httpx

    from mindo_async import AsyncMindo, Outcome, SendRequest, SharedStateUnavailableError
    from mindo_async.testing import Emulator

    emulator = Emulator()
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0", outage_timeout=0.2)
    request = SendRequest(
        phone_number_id=NUMBER,
        template_name="verification_code",
        recipient_phone="+5491140000000",
        variables={"name": "Juan", "code": "1"},
    )
    async with AsyncMindo(
        api_key=emulator.api_key,
        base_url="http://127.0.0.1",
        rate_limit=limiter,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator)),
    ) as mindo:
        with pytest.raises(SharedStateUnavailableError, match="nothing was sent"):
            await mindo.send_request(request)
        results = await mindo.send_many([request])
    await limiter.aclose()
    assert [r.outcome for r in results] == [Outcome.SKIPPED]
    assert isinstance(results[0].error, SharedStateUnavailableError)
    assert emulator.ledger.counts["total_requests"] == 0
