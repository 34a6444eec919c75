"""Pacing shared by a client: a per-phone-number rate cap, and 429 pauses for everyone."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
import httpx
import pytest
from pacer_clock import PacerClock, wait_all_tasks_blocked

from mindo_async import AsyncMindo, Outcome, SendRequest, _pacing
from mindo_async._pacing import MAX_PAUSE, Pacer
from mindo_async.testing import DEFAULT_API_KEY, Emulator, Fault
from mindo_async.testing._clock import VIRTUAL_EPOCH

pytestmark = pytest.mark.anyio

NUMBER_ID = "813497231850626"


def request(i: int) -> SendRequest:
    return SendRequest(
        phone_number_id=NUMBER_ID,
        template_name="verification_code",
        recipient_phone=f"+54911{40000000 + i}",
        variables={"name": "Juan", "code": f"{i}"},
    )


def client(emulator: Emulator, rate_limit: float | None) -> AsyncMindo:
    return AsyncMindo(
        api_key=DEFAULT_API_KEY,
        base_url="http://127.0.0.1",
        rate_limit=rate_limit,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator)),
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> PacerClock:
    """The pacer's clock: moved on by exactly what each of its sleeps asks (autojump)."""
    clock = PacerClock(autojump=True)
    monkeypatch.setattr(_pacing, "anyio", clock)
    return clock


async def test_pacer_allows_one_burst_then_the_rate(clock: PacerClock) -> None:
    """rate=20: 20 acquisitions pass at once, the next 10 take half a second."""
    pacer = Pacer(20.0)
    for _ in range(20):
        await pacer.acquire("n")
    assert clock.now == pytest.approx(0.0, abs=1e-9), "the burst waited"
    for _ in range(10):
        await pacer.acquire("n")
    assert clock.now == pytest.approx(0.5)


async def test_pacer_keys_are_independent(clock: PacerClock) -> None:
    """One phone number's cap does not slow another's."""
    pacer = Pacer(5.0)
    for _ in range(5):
        await pacer.acquire("a")
    for _ in range(5):
        await pacer.acquire("b")
    assert clock.now == pytest.approx(0.0, abs=1e-9), "b waited for a's cap"
    await pacer.acquire("a")
    assert clock.now == pytest.approx(0.2), "a's sixth send within its second is not held"


async def test_pause_holds_every_sender_of_that_key(clock: PacerClock) -> None:
    """pause() holds acquisitions for that key until it ends, also with the cap off."""
    pacer = Pacer(None)
    pacer.pause("n", 0.3)
    await pacer.acquire("other")
    assert clock.now == pytest.approx(0.0, abs=1e-9), "another key waited"
    await pacer.acquire("n")
    assert clock.now == pytest.approx(0.3)


class PacerTime:
    """The emulator's clock, reading the pacer's: ledger times are pacer times."""

    def __init__(self, clock: PacerClock) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return VIRTUAL_EPOCH + timedelta(seconds=self.clock.now)


async def test_cap_holds_across_concurrent_send_many_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two send_many calls on one client share the cap: the ledger never shows more than allowed."""
    rate = 50.0
    clock = PacerClock()  # moved to the next wake-up each time every task is blocked
    monkeypatch.setattr(_pacing, "anyio", clock)
    emulator = Emulator(clock=PacerTime(clock))
    done = anyio.Event()
    async with client(emulator, rate) as mindo:

        async def both() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: mindo.send_many((request(i) for i in range(50)), concurrency=16)
                )
                tg.start_soon(
                    lambda: mindo.send_many((request(i) for i in range(50, 100)), concurrency=16)
                )
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(both)
            with anyio.fail_after(30):
                while not done.is_set():
                    await wait_all_tasks_blocked()
                    if not done.is_set():
                        assert clock.advance_to_next(), "blocked, and not on the pacer"
    times = sorted(
        (entry.received_at - VIRTUAL_EPOCH).total_seconds() for entry in emulator.ledger.messages
    )
    assert len(times) == 100
    # GCRA: over any span of t seconds, at most burst + rate * t sends (the slack: the
    # ledger's microsecond timestamps). Two unshared caps would let 100 through at once.
    slack = rate * 1e-5
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            assert j - i + 1 <= rate + rate * (times[j] - times[i]) + slack, (i, j)
    assert times[-1] - times[0] >= (100 - rate) / rate - 1e-5


async def test_retry_after_pauses_the_number_for_other_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 429 with Retry-After holds a concurrent send to the same number until the pause ends."""
    clock = PacerClock()  # moved by hand: the pause ends when the test says so
    monkeypatch.setattr(_pacing, "anyio", clock)
    emulator = Emulator()
    emulator.script(Fault.status(429, retry_after=1))
    results: dict[str, object] = {}
    with anyio.fail_after(10):  # a send held for good fails instead of blocking
        async with client(emulator, None) as mindo:
            paused = anyio.Event()
            pause = mindo.pacer.pause

            def pause_and_tell(key: str, seconds: float) -> None:
                pause(key, seconds)
                paused.set()

            monkeypatch.setattr(mindo.pacer, "pause", pause_and_tell)

            async def first() -> None:
                results["first"] = await mindo.send_request(request(1))

            async def second() -> None:
                results["second"] = await mindo.send_request(request(2))
                results["second_at"] = clock.now

            async with anyio.create_task_group() as tg:
                tg.start_soon(first)
                await paused.wait()  # the client read the 429
                assert mindo.pacer.paused_for(NUMBER_ID) == pytest.approx(1.0)
                tg.start_soon(second)
                await clock.wait_for_sleepers(1)  # the second send waits out the pause
                assert len(emulator.ledger.messages) == 0
                clock.advance(1.0)
    assert emulator.ledger.counts["rate_limited"] == 1
    assert len(emulator.ledger.messages) == 2
    assert results["second_at"] == pytest.approx(1.0)


async def test_rate_limited_campaign_is_paced_and_completes() -> None:
    """With the emulator's Meta-like 429 limit on, a paced campaign sends everything once."""
    emulator = Emulator()
    emulator.set_faults(phone_rate_limit=40, retry_after=1)
    async with client(emulator, 40.0) as mindo:
        results = await mindo.send_many((request(i) for i in range(60)), concurrency=16)
    assert [r.outcome for r in results] == [Outcome.SENT] * 60
    assert emulator.ledger.duplicates() == []


async def test_pause_longer_than_the_cap_fails_fast_without_sending(clock: PacerClock) -> None:
    """After a 429 asking for 120 s, other sends to that number raise at once and send nothing."""
    from mindo_async import RateLimitError

    emulator = Emulator()
    emulator.script(Fault.status(429, retry_after=120))
    async with client(emulator, None) as mindo:
        with pytest.raises(RateLimitError) as first:
            await mindo.send_request(request(1))
        assert first.value.retry_after == 120
        with pytest.raises(RateLimitError, match="paused") as second:
            await mindo.send_request(request(2))
        assert clock.now == 0.0, "the second send waited on the pause"
        assert second.value.retry_after is not None
        assert second.value.retry_after > 100
    assert emulator.ledger.counts["total_requests"] == 1


async def test_pause_is_capped_and_ignores_unreadable_values() -> None:
    """A pause of inf or 1e308 s lasts at most ``MAX_PAUSE``; NaN or negative pauses nothing."""
    pacer = Pacer(None)
    pacer.pause("a", float("inf"))
    pacer.pause("b", 1e308)
    pacer.pause("c", float("nan"))
    pacer.pause("d", -5.0)
    assert 0 < pacer.paused_for("a") <= MAX_PAUSE
    assert 0 < pacer.paused_for("b") <= MAX_PAUSE
    assert pacer.paused_for("c") == 0.0
    assert pacer.paused_for("d") == 0.0
