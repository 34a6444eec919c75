"""The Taskiq queue against a real redis-server and real worker processes."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator

import pytest
import redis
from queue_workers import Workers
from redis_server import NUMBERS, RedisServer, two_number_emulator

from mindo_async import SendRequest
from mindo_async.queue import SendQueue
from mindo_async.testing import FaultConfig, serve

pytestmark = pytest.mark.asyncio


def request(i: int) -> SendRequest:
    return SendRequest(
        phone_number_id=NUMBERS[i % 2],
        template_name="verification_code",
        recipient_phone=f"+54911{40000000 + i}",
        variables={"name": f"User {i}", "code": f"C{i:05d}"},
    )


@pytest.fixture
def workers_for(redis_server: RedisServer) -> Iterator[list[Workers]]:
    made: list[Workers] = []
    redis.Redis.from_url(redis_server.url).flushdb()
    yield made
    for workers in made:
        workers.stop_all()


async def test_the_same_job_enqueued_twice_is_sent_once(
    redis_server: RedisServer, workers_for: list[Workers]
) -> None:
    """Every request enqueued twice, two workers: each request is sent once, both jobs report it."""
    emulator = two_number_emulator()
    with serve(emulator) as server:
        workers = Workers(redis_server.url, server.base_url, server.api_key, "twice", 60)
        workers_for.append(workers)
        workers.start()
        workers.start()
        queue = SendQueue(redis_server.url, namespace="twice")
        async with queue:
            requests = [request(i) for i in range(30)]
            jobs = await queue.enqueue_campaign(requests + requests)
            results = await asyncio.wait_for(queue.wait(jobs), 120)
    assert emulator.ledger.duplicates() == []
    assert len(emulator.ledger.messages) == 30
    for first, second in zip(results[:30], results[30:], strict=True):
        assert first.key == second.key
        assert sorted((first.outcome, second.outcome)) == ["sent", "skipped"], (first, second)
        assert first.message_id is not None
        assert first.message_id == second.message_id


@pytest.mark.slow
async def test_a_worker_killed_mid_campaign_duplicates_nothing(
    redis_server: RedisServer, workers_for: list[Workers]
) -> None:
    """kill -9 a worker mid-campaign, start another: no duplicate, every job has a result."""
    emulator = two_number_emulator()
    emulator.set_faults(FaultConfig(latency=0.2))
    count = 240
    with serve(emulator) as server:
        workers = Workers(redis_server.url, server.base_url, server.api_key, "kill", 4)
        workers_for.append(workers)
        victim = workers.start()
        queue = SendQueue(redis_server.url, namespace="kill")
        async with queue:
            jobs = await queue.enqueue_campaign(request(i) for i in range(count))
            while len(emulator.ledger.messages) < count // 4:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            workers.kill(victim)
            sent_before = len(emulator.ledger.messages)
            workers.start()
            results = await asyncio.wait_for(queue.wait(jobs), 180)
    assert sent_before < count
    assert emulator.ledger.duplicates() == []
    outcomes = collections.Counter(r.outcome for r in results)
    assert set(outcomes) <= {"sent", "unknown", "skipped"}
    delivered = collections.Counter(m.recipient_phone for m in emulator.ledger.messages)
    for i, result in enumerate(results):
        if result.outcome == "sent":
            assert delivered[request(i).recipient_phone] == 1
        elif result.outcome == "skipped":
            # Sent by the killed worker, which died before saving the job's result.
            assert result.message_id is not None, result
        else:
            # On the wire when the worker died (or cut off by the server): reported, not resent.
            error = result.error or ""
            assert "as unknown" in error or "DeliveryUnknownError" in error, result
    # Only what the killed worker had on the wire may be unknown; nothing else is lost.
    assert outcomes["sent"] + outcomes["skipped"] >= count - 32
