"""RedisJournal against a real redis-server: one owner per request, whatever the workers."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
import redis.asyncio as aioredis
from redis_server import NUMBERS, RedisServer, two_number_emulator

from mindo_async import (
    AlreadyProcessedError,
    AsyncJournal,
    AsyncMindo,
    Outcome,
    SendRequest,
    SharedStateUnavailableError,
    request_key,
)
from mindo_async._journal import CLAIMED, IN_FLIGHT
from mindo_async.redis import RedisJournal
from mindo_async.testing import DEFAULT_API_KEY, Emulator, FaultConfig, serve

pytestmark = pytest.mark.asyncio


def request(i: int) -> SendRequest:
    return SendRequest(
        phone_number_id=NUMBERS[i % 2],
        template_name="verification_code",
        recipient_phone=f"+54911{40000000 + i}",
        variables={"name": f"User {i}", "code": f"C{i:05d}"},
    )


def second_client(client: aioredis.Redis) -> aioredis.Redis:
    """Another connection pool to the same server: another worker."""
    kwargs = client.connection_pool.connection_kwargs
    return aioredis.Redis(host=kwargs["host"], port=kwargs["port"])


def in_memory(emulator: Emulator) -> AsyncMindo:
    return AsyncMindo(
        api_key=DEFAULT_API_KEY,
        base_url="http://127.0.0.1",
        rate_limit=None,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator)),
    )


async def test_of_two_concurrent_claimers_exactly_one_wins(redis_client: aioredis.Redis) -> None:
    """Two journals on two connections claim the same 200 keys at once: one winner per key."""
    other = second_client(redis_client)
    first = RedisJournal(redis_client, "t")
    second = RedisJournal(other, "t")
    assert isinstance(first, AsyncJournal)
    keys = [f"k{i}" for i in range(200)]
    try:
        results = await asyncio.gather(
            *(journal.claim(key) for key in keys for journal in (first, second))
        )
    finally:
        await other.aclose()
    for i in range(200):
        mine, theirs = results[2 * i], results[2 * i + 1]
        assert (mine is None) != (theirs is None), keys[i]
        loser = mine or theirs
        assert loser is not None
        assert (loser.state, loser.busy) == (CLAIMED, True)


async def test_claim_in_flight_record_and_release(redis_client: aioredis.Redis) -> None:
    """The steps: a lost claim cannot go in flight; release frees; outcomes keep the message id."""
    first = RedisJournal(redis_client, "t", ttl=3600)
    second = RedisJournal(redis_client, "t")
    assert await first.claim("a") is None
    again = await first.claim("a")  # another claim of the same journal: not its own
    assert again is not None
    assert again.busy
    assert await second.mark_in_flight("a") is False
    await second.release("a")  # not its claim
    assert (await first.get("a")).state == CLAIMED  # type: ignore[union-attr]
    await first.release("a")
    assert await first.get("a") is None
    assert await second.claim("a") is None
    assert await second.mark_in_flight("a") is True
    busy = await first.claim("a")
    assert busy is not None
    assert busy.state == IN_FLIGHT
    await second.record("a", Outcome.SENT, message_id="wamid.X", attempts=2)
    done = await first.claim("a", retry_unknown=True)
    assert done is not None
    assert (done.state, done.message_id, done.attempts) == ("sent", "wamid.X", 2)
    await first.record("b", Outcome.REJECTED, error="400")
    assert await second.claim("b") is None  # refused before: may be sent again
    await first.record("b", Outcome.SENT, message_id="wamid.B")
    ttl = await redis_client.pttl("t:b")
    assert 0 < ttl <= 3600 * 1000  # outcomes expire after ttl


async def test_a_silent_owner_claim_is_taken_over_and_its_in_flight_is_unknown(
    redis_client: aioredis.Redis,
) -> None:
    """A worker killed mid-way: its claim is taken over, its in-flight entry becomes unknown."""
    dead = RedisJournal(redis_client, "t", lease=0.2)
    alive = RedisJournal(redis_client, "t")
    assert await dead.claim("claimed") is None
    assert await dead.claim("wire") is None
    assert await dead.mark_in_flight("wire")
    assert (await alive.claim("wire")).busy  # type: ignore[union-attr]
    await asyncio.sleep(0.3)
    assert await alive.claim("claimed") is None
    assert await dead.mark_in_flight("claimed") is False  # it lost the claim: it must not send
    unknown = await alive.claim("wire")
    assert unknown is not None
    assert unknown.state == Outcome.UNKNOWN.value
    assert unknown.error is not None
    assert "earlier run stopped" in unknown.error
    assert await alive.claim("wire", retry_unknown=True) is None


async def test_the_same_campaign_run_twice_at_once_is_sent_once(
    redis_client: aioredis.Redis,
) -> None:
    """Two clients with two journals given the same 120 requests at once: each sent exactly once."""
    emulator = two_number_emulator()
    other = second_client(redis_client)
    requests = [request(i) for i in range(120)]

    async def worker(client: aioredis.Redis) -> list[Outcome]:
        async with in_memory(emulator) as mindo:
            results = await mindo.send_many(
                requests, concurrency=16, journal=RedisJournal(client, "campaign")
            )
        return [r.outcome for r in results]

    try:
        first, second = await asyncio.gather(worker(redis_client), worker(other))
    finally:
        await other.aclose()
    assert emulator.ledger.duplicates() == []
    assert len(emulator.ledger.messages) == 120
    for a, b in zip(first, second, strict=True):
        assert sorted((a, b)) == [Outcome.SENT, Outcome.SKIPPED]
    # A rerun sends nothing: the journal has every request as sent, with its message id.
    async with in_memory(emulator) as mindo:
        again = await mindo.send_many(requests, journal=RedisJournal(redis_client, "campaign"))
    assert all(isinstance(r.error, AlreadyProcessedError) for r in again)
    assert "wamid" in str(again[0].error)
    assert len(emulator.ledger.messages) == 120


async def test_unreachable_redis_sends_nothing() -> None:
    """With Redis out of reach and outage_timeout set, every request is skipped, none sent."""
    emulator = Emulator()
    journal = RedisJournal.from_url("redis://127.0.0.1:1/0", outage_timeout=0.3)
    async with in_memory(emulator) as mindo:
        results = await mindo.send_many([request(0), request(2)], journal=journal)
    await journal.aclose()
    assert [r.outcome for r in results] == [Outcome.SKIPPED, Outcome.SKIPPED]
    assert all(isinstance(r.error, SharedStateUnavailableError) for r in results)
    assert "nothing was sent" in str(results[0].error)
    assert len(emulator.ledger.messages) == 0


@pytest.mark.slow  # Redis is down for 2 s by design
async def test_redis_stopped_mid_campaign_pauses_it_and_it_resumes(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis killed mid-campaign: sends stop, the log says so, and it all goes once when back."""
    caplog.set_level(logging.WARNING, logger="mindo_async.redis")
    emulator = two_number_emulator()
    emulator.set_faults(FaultConfig(latency=0.02))
    count = 300
    requests = [request(i) for i in range(count)]
    journal = RedisJournal.from_url(own_redis_server.url, "campaign")
    with serve(emulator) as server:
        async with AsyncMindo(
            api_key=server.api_key, base_url=server.base_url, rate_limit=None
        ) as mindo:

            async def chaos() -> tuple[int, int]:
                while len(emulator.ledger.messages) < count // 4:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                own_redis_server.stop()
                await asyncio.sleep(1.0)
                stopped_at = len(emulator.ledger.messages)
                await asyncio.sleep(1.0)
                still = len(emulator.ledger.messages)
                await asyncio.to_thread(own_redis_server.start)
                return stopped_at, still

            task = asyncio.create_task(chaos())
            started = time.monotonic()
            results = await mindo.send_many(requests, concurrency=16, journal=journal)
            stopped_at, still = await task
    await journal.aclose()
    assert stopped_at == still < count  # nothing went out while Redis was down
    assert time.monotonic() - started >= 2.0
    assert [r.outcome for r in results] == [Outcome.SENT] * count
    assert emulator.ledger.duplicates() == []
    assert len(emulator.ledger.messages) == count
    messages = [r.getMessage() for r in caplog.records]
    assert any("Redis cannot be reached" in m and "nothing is sent" in m for m in messages)
    assert any("Redis is back" in m for m in messages)
    keys = {request_key(r) for r in requests}
    assert len(keys) == count
