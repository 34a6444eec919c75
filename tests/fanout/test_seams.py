"""The shared-state seams: any RateLimiter and any journal, claimed, marked, finished, released."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import anyio.lowlevel
import httpx
import pytest

from mindo_async import (
    AlreadyProcessedError,
    AsyncJournal,
    AsyncMindo,
    ConfigurationError,
    Journal,
    JournalEntry,
    LocalRateLimiter,
    Outcome,
    Priority,
    RateLimiter,
    RateLimitError,
    SendRequest,
    SQLiteJournal,
    request_key,
)
from mindo_async._journal import CLAIMED, IN_FLIGHT, open_journal
from mindo_async.testing import DEFAULT_API_KEY, Emulator, Fault

pytestmark = pytest.mark.anyio

NUMBER_ID = "813497231850626"
OLD_JOURNAL = Path(__file__).parent.parent / "fixtures" / "journal_before_issue13.sqlite"


def request(i: int) -> SendRequest:
    """The requests of tests/fixtures/journal_before_issue13.sqlite (and more)."""
    return SendRequest(
        phone_number_id=NUMBER_ID,
        template_name="verification_code",
        recipient_phone=f"+54911{40000000 + i}",
        variables={"name": f"User {i}", "code": f"C{i:05d}"},
    )


def client(emulator: Emulator, rate_limit: float | RateLimiter | None) -> AsyncMindo:
    return AsyncMindo(
        api_key=DEFAULT_API_KEY,
        base_url="http://127.0.0.1",
        rate_limit=rate_limit,
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator)),
    )


class RecordingLimiter:
    """A RateLimiter that lets everything through and records what it was asked."""

    def __init__(self) -> None:
        self.acquired: list[tuple[str, Priority]] = []
        self.paused: list[tuple[str, float]] = []

    async def acquire(self, number: str, priority: Priority = Priority.SINGLE) -> None:
        self.acquired.append((number, priority))

    async def pause(self, number: str, seconds: float) -> None:
        self.paused.append((number, seconds))

    async def paused_for(self, number: str) -> float:
        return 0.0


class DictJournal(Journal):
    """A synchronous Journal subclass as written before the async protocol."""

    def __init__(self) -> None:
        self.entries: dict[str, JournalEntry] = {}

    def lookup(self, key: str) -> JournalEntry | None:
        return self.entries.get(key)

    def begin(self, key: str) -> None:
        self.entries[key] = JournalEntry(key, IN_FLIGHT)

    def finish(
        self,
        key: str,
        outcome: Outcome,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        self.entries[key] = JournalEntry(key, outcome.value, message_id, error, attempts)


async def test_a_custom_rate_limiter_paces_every_send_with_its_priority() -> None:
    """rate_limit=<RateLimiter>: send asks SINGLE, send_many FANOUT, and a 429 pauses through it."""
    emulator = Emulator()
    limiter = RecordingLimiter()
    assert isinstance(limiter, RateLimiter)
    async with client(emulator, limiter) as mindo:
        assert mindo.rate_limiter is limiter
        await mindo.send_request(request(0))
        await mindo.send_many([request(1), request(2)])
        emulator.script(Fault.status(429, retry_after=7))
        with pytest.raises(RateLimitError):
            await mindo.send_request(request(3))
    assert limiter.acquired == [
        (NUMBER_ID, Priority.SINGLE),
        (NUMBER_ID, Priority.FANOUT),
        (NUMBER_ID, Priority.FANOUT),
        (NUMBER_ID, Priority.SINGLE),
    ]
    assert limiter.paused == [(NUMBER_ID, 7.0)]


@pytest.mark.parametrize("bad", ["80", True, object(), 0, -1.0])
def test_rate_limit_refuses_what_is_not_a_number_none_or_a_limiter(bad: object) -> None:
    """rate_limit accepts a positive number, None or a RateLimiter; anything else is refused."""
    with pytest.raises(ConfigurationError, match="rate_limit"):
        AsyncMindo(api_key=DEFAULT_API_KEY, rate_limit=bad)  # type: ignore[arg-type]


async def test_single_sends_go_before_queued_fanout_reservations() -> None:
    """With 6 fan-out acquisitions queued on a slow cap, a single send waits behind one at most."""
    limiter = LocalRateLimiter(5.0, burst=1)
    order: list[str] = []

    async def take(name: str, priority: Priority) -> None:
        await limiter.acquire(NUMBER_ID, priority)
        order.append(name)

    await limiter.acquire(NUMBER_ID)  # the burst of one is spent
    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(take, f"fanout{i}", Priority.FANOUT)
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        tg.start_soon(take, "single", Priority.SINGLE)
    assert order.index("single") <= 1, order
    assert sorted(name for name in order if name != "single") == [f"fanout{i}" for i in range(6)]


async def test_sqlite_claim_is_owned_by_one_journal_and_released_for_a_rerun(
    tmp_path: Path,
) -> None:
    """Of two journals on one file, one claims a key; a released claim is claimable again."""
    path = tmp_path / "j.sqlite"
    first, second = SQLiteJournal(path), SQLiteJournal(path)
    try:
        assert await first.claim("k") is None
        lost = await second.claim("k")
        assert lost is not None
        assert (lost.state, lost.busy) == (CLAIMED, True)
        assert await second.mark_in_flight("k") is False
        await second.release("k")  # not its claim: nothing happens
        assert (await first.get("k")) == JournalEntry("k", CLAIMED)
        await first.release("k")
        assert await first.get("k") is None
        assert await second.claim("k") is None
        assert await second.mark_in_flight("k") is True
        busy = await first.claim("k")
        assert busy is not None
        assert busy.state == IN_FLIGHT
        await second.record("k", Outcome.SENT, message_id="wamid.1", attempts=1)
        done = await first.claim("k")
        assert done is not None
        assert (done.state, done.message_id, done.busy) == ("sent", "wamid.1", False)
    finally:
        first.close()
        second.close()


async def test_sqlite_entries_left_by_a_closed_journal_are_taken_over_or_unknown(
    tmp_path: Path,
) -> None:
    """A claim left by a stopped run is taken over; an in-flight entry becomes unknown."""
    path = tmp_path / "j.sqlite"
    old = SQLiteJournal(path)
    assert await old.claim("claimed") is None
    assert await old.claim("wire") is None
    assert await old.mark_in_flight("wire")
    old.close()
    new = SQLiteJournal(path)
    try:
        assert await new.claim("claimed") is None
        unknown = await new.claim("wire")
        assert unknown is not None
        assert unknown.state == Outcome.UNKNOWN.value
        assert await new.claim("wire", retry_unknown=True) is None
    finally:
        new.close()


async def test_a_journal_file_from_before_claims_resumes(tmp_path: Path) -> None:
    """The pre-claim fixture: sent, unknown and in-flight rows are skipped; the rest are sent."""
    path = tmp_path / "old.sqlite"
    shutil.copy(OLD_JOURNAL, path)
    emulator = Emulator()
    async with client(emulator, None) as mindo:
        results = await mindo.send_many([request(i) for i in range(6)], journal=path)
    outcomes = [r.outcome for r in results]
    # 0 sent, 1 rejected, 2 unknown, 3 skipped, 4 in flight (left by a crash), 5 new.
    assert outcomes == [
        Outcome.SKIPPED,
        Outcome.SENT,
        Outcome.SKIPPED,
        Outcome.SENT,
        Outcome.SKIPPED,
        Outcome.SENT,
    ]
    assert isinstance(results[0].error, AlreadyProcessedError)
    assert "wamid.OLD0" in str(results[0].error)
    sent = sorted(m.recipient_phone for m in emulator.ledger.messages)
    assert sent == sorted(request(i).recipient_phone for i in (1, 3, 5))
    journal = SQLiteJournal(path)
    try:
        states = [journal.lookup(request_key(request(i))) for i in range(6)]
    finally:
        journal.close()
    assert [s.state if s else None for s in states] == [
        "sent",
        "sent",
        "unknown",
        "sent",
        "unknown",
        "sent",
    ]


async def test_a_synchronous_journal_subclass_keeps_working() -> None:
    """A Journal subclass from before the async protocol is adapted: rerun skips what was sent."""
    journal = DictJournal()
    store, owned = open_journal(journal)
    assert isinstance(store, AsyncJournal)
    assert not owned
    emulator = Emulator()
    async with client(emulator, None) as mindo:
        first = await mindo.send_many([request(i) for i in range(3)], journal=journal)
        journal.begin(request_key(request(3)))  # left on the wire by a crash
        second = await mindo.send_many([request(i) for i in range(5)], journal=journal)
    assert [r.outcome for r in first] == [Outcome.SENT] * 3
    assert [r.outcome for r in second] == [Outcome.SKIPPED] * 4 + [Outcome.SENT]
    assert journal.entries[request_key(request(3))].state == Outcome.UNKNOWN.value
    assert emulator.ledger.duplicates() == []
    assert len(emulator.ledger.messages) == 4


async def test_a_claim_cancelled_while_waiting_for_a_slot_is_released(tmp_path: Path) -> None:
    """Cancelled while its number is paused (never in flight): released; a rerun sends it."""
    path = tmp_path / "j.sqlite"
    emulator = Emulator()
    journal = SQLiteJournal(path)
    try:
        async with client(emulator, LocalRateLimiter(None)) as mindo:
            await mindo.rate_limiter.pause(NUMBER_ID, 30)
            with anyio.move_on_after(0.3):
                await mindo.send_many([request(7)], journal=journal)
            assert await journal.get(request_key(request(7))) is None
        async with client(emulator, None) as mindo:
            results = await mindo.send_many([request(7)], journal=journal)
    finally:
        journal.close()
    assert [r.outcome for r in results] == [Outcome.SENT]
    assert len(emulator.ledger.messages) == 1


async def test_two_fanouts_sharing_a_journal_send_each_request_once(tmp_path: Path) -> None:
    """Two concurrent send_many calls given the same requests and one journal: each sent once."""
    emulator = Emulator()
    requests = [request(i) for i in range(40)]
    journal = SQLiteJournal(tmp_path / "j.sqlite")
    try:
        async with client(emulator, None) as mindo, anyio.create_task_group() as tg:
            outcomes: list[list[Outcome]] = []

            async def run() -> None:
                results = await mindo.send_many(requests, concurrency=8, journal=journal)
                outcomes.append([r.outcome for r in results])

            tg.start_soon(run)
            tg.start_soon(run)
    finally:
        journal.close()
    assert emulator.ledger.duplicates() == []
    assert len(emulator.ledger.messages) == 40
    for i in range(40):
        assert sorted(o[i] for o in outcomes) == [Outcome.SENT, Outcome.SKIPPED]
