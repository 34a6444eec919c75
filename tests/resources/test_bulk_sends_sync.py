"""``Mindo.bulk_sends`` (the sync client) against the emulator over loopback sockets.

The sync resource is generated from the async one by ``scripts/unasync.py``: these
tests prove the generated code does what the async code promises (create, get,
wait, messages, list, create_many), and that an ambiguous create is never retried.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mindo_async import (
    BulkMessage,
    BulkRecipient,
    BulkSend,
    BulkSendStatus,
    BulkSendTimeoutError,
    BulkSendUnknownError,
    InvalidRequestError,
    MessageStatus,
    Mindo,
    Outcome,
    SendRequest,
    SQLiteJournal,
)
from mindo_async._endpoints import SEND_BULK
from mindo_async._sync.resources import bulk_sends as sync_bulk_sends_module
from mindo_async.testing import Emulator, EmulatorServer, Fault, serve
from mindo_async.testing._clock import VirtualClock
from mindo_async.testing._state import MessageLifecycle

NUMBER = "813497231850626"


def recipients(count: int, start: int = 0) -> list[BulkRecipient]:
    """``count`` valid recipients of the welcome_message template."""
    return [
        BulkRecipient(
            phone=f"+54911{40000000 + start + i}",
            variables={"name": f"User {start + i}", "code": f"C{start + i}"},
        )
        for i in range(count)
    ]


def campaign(count: int, start: int = 0) -> list[SendRequest]:
    """``count`` distinct welcome_message requests."""
    return [
        SendRequest(
            phone_number_id=NUMBER,
            template_name="welcome_message",
            recipient_phone=f"+54911{41000000 + start + i}",
            variables={"name": f"User {start + i}", "code": str(start + i)},
        )
        for i in range(count)
    ]


@pytest.fixture
def virtual_server() -> Iterator[EmulatorServer]:
    """A socket-served emulator on a virtual clock whose messages never fail."""
    emulator = Emulator(
        clock=VirtualClock(),
        lifecycle=MessageLifecycle(failure_share=0.0, read_share=1.0),
        seed=7,
    )
    with serve(emulator) as running:
        yield running


@pytest.fixture
def real_server() -> Iterator[EmulatorServer]:
    """A socket-served emulator on the real clock (find_candidates compares real times)."""
    with serve(Emulator(lifecycle=MessageLifecycle(failure_share=0.0))) as running:
        yield running


@pytest.fixture
def mindo(virtual_server: EmulatorServer) -> Iterator[Mindo]:
    """A sync client of ``virtual_server``."""
    with Mindo(api_key=virtual_server.api_key, base_url=virtual_server.base_url) as client:
        yield client


@pytest.fixture
def virtual_sleep(virtual_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sync wait's sleeps move the emulator's virtual clock instead of real time."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        virtual_server.emulator.advance(seconds)

    monkeypatch.setattr(sync_bulk_sends_module, "_sleep", sleep)
    return slept


def test_sync_bulk_sends_is_the_generated_resource() -> None:
    """``Mindo.bulk_sends`` comes from the async code (a generated module), not a stand-in."""
    source = Path(sync_bulk_sends_module.__file__).read_text(encoding="utf-8")
    assert source.startswith("# GENERATED from mindo_async/resources/bulk_sends.py")
    assert "NotImplementedError" not in source


def test_create_and_get_over_sockets(mindo: Mindo, virtual_server: EmulatorServer) -> None:
    """create returns QUEUED with one ledger entry per recipient; get follows the clock."""
    created = mindo.bulk_sends.create(
        phone_number_id=NUMBER, template_name="welcome_message", recipients=recipients(3)
    )
    assert created.status is BulkSendStatus.QUEUED
    assert created.total_recipients == 3
    emulator = virtual_server.emulator
    assert {e.bulk_send_id for e in emulator.ledger.messages} == {created.bulk_send_id}
    assert len(emulator.ledger.messages) == 3
    assert mindo.bulk_sends.get(created.bulk_send_id).status is BulkSendStatus.QUEUED
    emulator.advance(3600)
    done = mindo.bulk_sends.get(created.bulk_send_id)
    assert done.status is BulkSendStatus.COMPLETED
    assert done.sent_count == 3


def test_create_validates_before_any_request(mindo: Mindo, virtual_server: EmulatorServer) -> None:
    """A bad recipient raises InvalidRequestError naming it, and nothing reaches the server."""
    with pytest.raises(InvalidRequestError) as caught:
        mindo.bulk_sends.create(
            phone_number_id=NUMBER,
            template_name="welcome_message",
            recipients=[*recipients(1), BulkRecipient(phone="12345")],
        )
    assert list(caught.value.errors) == ["recipients[1].phone"]
    assert virtual_server.emulator.ledger.counts["total_requests"] == 0


def test_wait_polls_to_the_end_and_reports_each_new_state(
    mindo: Mindo, virtual_sleep: list[float]
) -> None:
    """wait returns the terminal state; on_update sees each distinct state, in order."""
    created = mindo.bulk_sends.create(
        phone_number_id=NUMBER, template_name="welcome_message", recipients=recipients(3)
    )
    seen: list[BulkSend] = []
    bulk = mindo.bulk_sends.wait(created.bulk_send_id, poll_interval=1.0, on_update=seen.append)
    assert bulk.status is BulkSendStatus.COMPLETED
    assert seen[0].status is BulkSendStatus.QUEUED
    assert seen[-1] == bulk
    assert all(a != b for a, b in itertools.pairwise(seen))
    assert virtual_sleep
    assert set(virtual_sleep) == {1.0}


def test_wait_past_its_timeout_carries_the_last_state(mindo: Mindo) -> None:
    """With timeout=0 the sync wait polls once, then raises BulkSendTimeoutError with it."""
    created = mindo.bulk_sends.create(
        phone_number_id=NUMBER, template_name="welcome_message", recipients=recipients(1)
    )
    with pytest.raises(BulkSendTimeoutError) as caught:
        mindo.bulk_sends.wait(created.bulk_send_id, poll_interval=5.0, timeout=0)
    assert caught.value.last is not None
    assert caught.value.last.status is BulkSendStatus.QUEUED
    assert caught.value.bulk_send_id == created.bulk_send_id


def test_wait_refuses_a_coroutine_callback(mindo: Mindo) -> None:
    """An async on_update cannot be awaited by the sync client: TypeError, not a silent no-op."""
    created = mindo.bulk_sends.create(
        phone_number_id=NUMBER, template_name="welcome_message", recipients=recipients(1)
    )

    async def on_update(bulk: BulkSend) -> None:
        """Never awaited."""

    with pytest.raises(TypeError, match="plain functions"):
        mindo.bulk_sends.wait(created.bulk_send_id, on_update=on_update)


def test_messages_and_list_iterate_every_page(mindo: Mindo, virtual_server: EmulatorServer) -> None:
    """messages and list page through with plain iteration; first_page() gives one page."""
    emulator = virtual_server.emulator
    created = mindo.bulk_sends.create(
        phone_number_id=NUMBER, template_name="welcome_message", recipients=recipients(5)
    )
    emulator.advance(5.2)  # started 5 s after creation; all 5 are out by now
    page = mindo.bulk_sends.messages(created.bulk_send_id, page_size=2).first_page()
    assert (page.count, len(page.results), page.has_next) == (5, 2, True)
    second = page.next_page()
    assert second is not None
    assert len(second.results) == 2
    every = list(mindo.bulk_sends.messages(created.bulk_send_id, page_size=2))
    assert all(isinstance(m, BulkMessage) for m in every)
    assert sorted(m.recipient_phone for m in every) == sorted(r.phone for r in recipients(5))
    assert [m.status for m in every] == [MessageStatus.SENT] * 5
    emulator.advance(3600)
    other = mindo.bulk_sends.create(
        phone_number_id=NUMBER, template_name="welcome_message", recipients=recipients(1, 9)
    )
    ids = [bulk.id for bulk in mindo.bulk_sends.list(page_size=1)]
    assert ids == [other.bulk_send_id, created.bulk_send_id]
    pages = list(mindo.bulk_sends.list(page_size=1).pages())
    assert [len(p.results) for p in pages] == [1, 1]


def test_create_many_journals_and_a_rerun_sends_nothing_again(
    mindo: Mindo, virtual_server: EmulatorServer, tmp_path: Path
) -> None:
    """create_many chunks the requests; a rerun with the same journal creates no bulk send."""
    journal = tmp_path / "bulk.sqlite"
    chunks: list[int] = []
    result = mindo.bulk_sends.create_many(
        campaign(5), chunk_size=2, journal=journal, on_chunk=lambda c: chunks.append(c.index)
    )
    assert [c.outcome for c in result.chunks] == [Outcome.SENT] * 3
    assert chunks == [0, 1, 2]
    emulator = virtual_server.emulator
    assert len(emulator.ledger.bulk_send_ids()) == 3
    rerun = mindo.bulk_sends.create_many(campaign(5), chunk_size=5, journal=journal)
    assert rerun.chunks == ()
    assert len(rerun.skipped) == 5
    assert len(emulator.ledger.bulk_send_ids()) == 3
    assert emulator.ledger.duplicates() == []


@pytest.mark.parametrize("fault", ["drop_after_processing", "500"])
def test_an_ambiguous_create_is_never_retried(real_server: EmulatorServer, fault: str) -> None:
    """A dropped or 500 send-bulk raises BulkSendUnknownError after one POST, and is found."""
    emulator = real_server.emulator
    emulator.script(
        Fault.drop_after_processing() if fault == "drop_after_processing" else Fault.status(500),
        path=SEND_BULK.path,
    )
    with Mindo(api_key=real_server.api_key, base_url=real_server.base_url, max_retries=3) as mindo:
        with pytest.raises(BulkSendUnknownError) as caught:
            mindo.bulk_sends.create(
                phone_number_id=NUMBER, template_name="welcome_message", recipients=recipients(3)
            )
        assert emulator.ledger.counts["total_requests"] == 1  # one POST, no retry
        campaigns = emulator.ledger.bulk_send_ids()
        assert len(campaigns) == 1
        candidates = mindo.bulk_sends.find_candidates(caught.value)
    assert [c.id for c in candidates] == list(campaigns)


def test_create_many_leaves_an_ambiguous_chunk_unknown_and_never_resends_it(
    real_server: EmulatorServer, tmp_path: Path
) -> None:
    """A chunk answered 500 is UNKNOWN (not retried); a rerun does not put it in a bulk send."""
    emulator = real_server.emulator
    journal = tmp_path / "bulk.sqlite"
    emulator.script(Fault.none(), Fault.status(500), path=SEND_BULK.path)
    with Mindo(api_key=real_server.api_key, base_url=real_server.base_url, max_retries=3) as mindo:
        result = mindo.bulk_sends.create_many(campaign(6), chunk_size=2, journal=journal)
        assert [c.outcome for c in result.chunks] == [Outcome.SENT, Outcome.UNKNOWN, Outcome.SENT]
        assert isinstance(result.chunks[1].error, BulkSendUnknownError)
        rerun = mindo.bulk_sends.create_many(campaign(6), chunk_size=3, journal=journal)
    assert rerun.chunks == ()
    store = SQLiteJournal(journal)
    states = Counter(store.counts())
    store.close()
    assert states == {"sent": 4, "unknown": 2}
    phones = Counter(e.recipient_phone for e in emulator.ledger.messages)
    assert max(phones.values()) == 1
    assert len(emulator.ledger.bulk_send_ids()) == 3
