"""mindo.bulk_sends against the emulator in-process: create, get, wait, messages, list."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from mindo_async import (
    AsyncMindo,
    BulkMessage,
    BulkRecipient,
    BulkSend,
    BulkSendStatus,
    BulkSendTimeoutError,
    InvalidRequestError,
    MessageStatus,
    NotFoundError,
    PreflightError,
    SendRequest,
)
from mindo_async.resources import bulk_sends as bulk_sends_module
from mindo_async.testing import Emulator
from mindo_async.testing._clock import VirtualClock
from mindo_async.testing._state import MessageLifecycle

BASE = "http://127.0.0.1"
NUMBER = "813497231850626"


def recipients(count: int, start: int = 0) -> list[BulkRecipient]:
    """``count`` valid recipients of the welcome_message template."""
    return [
        BulkRecipient(
            phone=f"+54911{40000000 + start + i}",
            variables={"name": f"User {start + i}", "code": f"C{start + i}"},
            button_variables={"button_0": f"B{start + i}"},
        )
        for i in range(count)
    ]


@pytest.fixture
def emulator() -> Emulator:
    """An emulator on a virtual clock whose messages never fail."""
    return Emulator(
        clock=VirtualClock(),
        lifecycle=MessageLifecycle(failure_share=0.0, read_share=1.0),
        seed=7,
    )


@pytest.fixture
async def mindo(emulator: Emulator) -> AsyncIterator[AsyncMindo]:
    """A client talking to ``emulator`` in-process."""
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator), base_url=BASE) as http,
        AsyncMindo(api_key=emulator.api_key, base_url=BASE, http_client=http) as client,
    ):
        yield client


async def create(mindo: AsyncMindo, count: int = 3, **changes: Any) -> Any:
    """Create a welcome_message bulk send of ``count`` recipients."""
    fields: dict[str, Any] = {
        "phone_number_id": NUMBER,
        "template_name": "welcome_message",
        "language": "es",
        "recipients": recipients(count),
        **changes,
    }
    return await mindo.bulk_sends.create(**fields)


@pytest.mark.anyio
async def test_create_answers_queued_and_ledgers_every_message(
    mindo: AsyncMindo, emulator: Emulator
) -> None:
    """create returns the 202 body (status QUEUED) and the ledger holds one entry per recipient."""
    created = await create(mindo, 3)
    assert created.status is BulkSendStatus.QUEUED
    assert (created.total_recipients, created.unique_recipients, created.dropped_repeats) == (
        3,
        3,
        0,
    )
    assert created.whatsapp_phone_number is not None
    assert created.whatsapp_phone_number.phone_number_id == NUMBER
    assert created.quota_info is not None
    assert created.quota_info.quota_needed == 3
    entries = emulator.ledger.messages
    assert len(entries) == 3
    assert {entry.bulk_send_id for entry in entries} == {created.bulk_send_id}
    assert emulator.ledger.duplicates() == []


@pytest.mark.anyio
async def test_identical_repeats_are_sent_once_and_counted(
    mindo: AsyncMindo, emulator: Emulator
) -> None:
    """A recipient repeated identically reaches the API once; dropped_repeats says so."""
    people = recipients(2)
    created = await create(mindo, recipients=[people[0], people[1], people[0], people[0]])
    assert created.dropped_repeats == 2
    assert created.total_recipients == 2
    assert len(emulator.ledger.messages) == 2


@pytest.mark.anyio
async def test_invalid_recipients_send_nothing(mindo: AsyncMindo, emulator: Emulator) -> None:
    """A bad recipient raises before any I/O: the emulator sees no request at all."""
    bad = [*recipients(2), BulkRecipient(phone="12345")]
    with pytest.raises(InvalidRequestError) as caught:
        await create(mindo, recipients=bad)
    assert list(caught.value.errors) == ["recipients[2].phone"]
    assert emulator.ledger.counts["total_requests"] == 0


@pytest.mark.anyio
async def test_get_follows_the_virtual_clock(mindo: AsyncMindo, emulator: Emulator) -> None:
    """get reports QUEUED, then PROCESSING with cumulative counters, then COMPLETED."""
    created = await create(mindo, 3)
    first = await mindo.bulk_sends.get(created.bulk_send_id)
    assert first.status is BulkSendStatus.QUEUED
    assert first.counts.pending == 3
    emulator.advance(5)
    second = await mindo.bulk_sends.get(created.bulk_send_id)
    assert second.status is BulkSendStatus.PROCESSING
    assert second.started_at is not None
    emulator.advance(3600)
    last = await mindo.bulk_sends.get(created.bulk_send_id)
    assert last.status is BulkSendStatus.COMPLETED
    assert (last.sent_count, last.delivered_count, last.read_count) == (3, 3, 3)
    assert last.progress_percentage == 100.0
    assert last.completed_at is not None


@pytest.mark.anyio
async def test_get_unknown_id_is_not_found(mindo: AsyncMindo) -> None:
    """An unknown bulk send id raises NotFoundError."""
    with pytest.raises(NotFoundError):
        await mindo.bulk_sends.get("a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c")


@pytest.fixture
def virtual_sleep(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """wait's sleeps move the emulator's virtual clock instead of real time; returns them."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        emulator.advance(seconds)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(bulk_sends_module, "_sleep", sleep)
    return slept


@pytest.mark.anyio
async def test_wait_calls_on_update_with_each_new_state(
    mindo: AsyncMindo, emulator: Emulator, virtual_sleep: list[float]
) -> None:
    """wait returns the terminal state; on_update sees each distinct state once, in order."""
    created = await create(mindo, 3)
    seen: list[BulkSend] = []
    bulk = await mindo.bulk_sends.wait(
        created.bulk_send_id, poll_interval=1.0, on_update=seen.append
    )
    assert bulk.status is BulkSendStatus.COMPLETED
    assert seen[-1] == bulk
    assert seen[0].status is BulkSendStatus.QUEUED
    assert all(a != b for a, b in itertools.pairwise(seen))
    processed = [s.counts.processed for s in seen]
    assert processed == sorted(processed)


@pytest.mark.anyio
async def test_wait_accepts_a_coroutine_callback(
    mindo: AsyncMindo, virtual_sleep: list[float]
) -> None:
    """An async on_update is awaited."""
    created = await create(mindo, 1)
    statuses: list[object] = []

    async def on_update(bulk: BulkSend) -> None:
        await anyio.lowlevel.checkpoint()
        statuses.append(bulk.status)

    await mindo.bulk_sends.wait(created.bulk_send_id, poll_interval=5.0, on_update=on_update)
    assert statuses[-1] is BulkSendStatus.COMPLETED


@pytest.mark.anyio
async def test_wait_timeout_carries_the_last_state(mindo: AsyncMindo) -> None:
    """Past timeout, BulkSendTimeoutError (a TimeoutError) carries the last BulkSend read."""
    created = await create(mindo, 1)
    with pytest.raises(BulkSendTimeoutError) as caught:
        await mindo.bulk_sends.wait(created.bulk_send_id, poll_interval=0.005, timeout=0.05)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.last is not None
    assert caught.value.last.status is BulkSendStatus.QUEUED
    assert caught.value.bulk_send_id == created.bulk_send_id


@pytest.mark.anyio
async def test_cancelling_wait_stops_polling_only(mindo: AsyncMindo, emulator: Emulator) -> None:
    """A cancelled wait stops; the bulk send goes on and completes at the server."""
    created = await create(mindo, 2)
    with anyio.move_on_after(0.03):
        await mindo.bulk_sends.wait(created.bulk_send_id, poll_interval=0.005)
    emulator.advance(3600)
    bulk = await mindo.bulk_sends.get(created.bulk_send_id)
    assert bulk.status is BulkSendStatus.COMPLETED


@pytest.mark.anyio
async def test_messages_pages_and_filters(mindo: AsyncMindo, emulator: Emulator) -> None:
    """messages walks every sent message across pages, and status= keeps only that status."""
    created = await create(mindo, 5)
    emulator.advance(5.2)  # started 5 s after creation; tier pace puts all 5 out by now
    page = await mindo.bulk_sends.messages(created.bulk_send_id, page_size=2)
    assert (page.count, len(page.results), page.has_next) == (5, 2, True)
    assert page.next is not None
    assert page.next.startswith(BASE + "/")
    every = [m async for m in mindo.bulk_sends.messages(created.bulk_send_id, page_size=2)]
    assert all(isinstance(m, BulkMessage) for m in every)
    assert sorted(m.recipient_phone for m in every) == sorted(r.phone for r in recipients(5))
    assert [m.status for m in every] == [MessageStatus.SENT] * 5
    emulator.advance(3600)
    read = [m async for m in mindo.bulk_sends.messages(created.bulk_send_id, status="read")]
    assert len(read) == 5
    failed = [m async for m in mindo.bulk_sends.messages(created.bulk_send_id, status="failed")]
    assert failed == []


@pytest.mark.anyio
async def test_list_filters_and_pages(mindo: AsyncMindo, emulator: Emulator) -> None:
    """list pages through every bulk send newest first; status, template and dates filter."""
    first = await create(mindo, 1)
    emulator.advance(3600)
    second = await mindo.bulk_sends.create(
        phone_number_id=NUMBER,
        template_name="verification_code",
        recipients=[BulkRecipient(phone="+5491155551234", variables={"name": "A", "code": "1"})],
    )
    every = [b.id async for b in mindo.bulk_sends.list(page_size=1)]
    assert every == [second.bulk_send_id, first.bulk_send_id]
    completed = [b.id async for b in mindo.bulk_sends.list(status="completed")]
    assert completed == [first.bulk_send_id]
    page = await mindo.bulk_sends.list(page_size=1)
    assert (page.count, page.has_next) == (2, True)
    bulk = await mindo.bulk_sends.get(first.bulk_send_id)
    assert bulk.template is not None
    by_template = [b.id async for b in mindo.bulk_sends.list(template=bulk.template.id)]
    assert by_template == [first.bulk_send_id]
    today = bulk.created_at.date()
    assert [b.id async for b in mindo.bulk_sends.list(created_before=today - timedelta(1))] == []
    since_today = [b.id async for b in mindo.bulk_sends.list(created_after=today)]
    assert len(since_today) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "DONE"},
        {"template": "welcome_message"},
        {"created_after": "16/11/2025"},
        {"page_size": 0},
        {"created_before": datetime(2025, 1, 1, tzinfo=timezone.utc)},
    ],
)
async def test_list_refuses_bad_filters_before_any_request(
    mindo: AsyncMindo, emulator: Emulator, kwargs: dict[str, Any]
) -> None:
    """A bad filter raises InvalidRequestError and the emulator sees no request."""
    with pytest.raises(InvalidRequestError):
        mindo.bulk_sends.list(**kwargs)
    assert emulator.ledger.counts["total_requests"] == 0


@pytest.mark.anyio
async def test_preflight_refuses_before_creating(mindo: AsyncMindo, emulator: Emulator) -> None:
    """preflight=True checks the account first: a missing variable creates nothing."""
    bad = [BulkRecipient(phone="+5491155551234", variables={"code": "1"})]
    with pytest.raises(PreflightError) as caught:
        await mindo.bulk_sends.create(
            phone_number_id=NUMBER,
            template_name="verification_code",
            recipients=bad,
            preflight=True,
        )
    assert "name" in str(caught.value)
    assert emulator.ledger.bulk_send_ids() == ()
    created = await create(mindo, 2, preflight=True)
    assert created.unique_recipients == 2


@pytest.mark.anyio
async def test_create_many_preflight_checks_every_group(
    mindo: AsyncMindo, emulator: Emulator
) -> None:
    """create_many(preflight=True) refuses the whole run when one group has a problem."""
    good = [
        SendRequest(
            phone_number_id=NUMBER,
            template_name="verification_code",
            recipient_phone=f"+54911{42000000 + i}",
            variables={"name": "A", "code": "1"},
        )
        for i in range(3)
    ]
    unknown = SendRequest(
        phone_number_id=NUMBER, template_name="no_such_template", recipient_phone="+5491155551234"
    )
    with pytest.raises(PreflightError):
        await mindo.bulk_sends.create_many([*good, unknown], preflight=True)
    assert emulator.ledger.bulk_send_ids() == ()
    result = await mindo.bulk_sends.create_many(good, preflight=True, chunk_size=2)
    assert len(result.bulk_send_ids) == 2


@pytest.fixture
async def mindo_ar(emulator: Emulator) -> AsyncIterator[AsyncMindo]:
    """A client with ``default_region="AR"`` talking to ``emulator`` in-process."""
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator), base_url=BASE) as http,
        AsyncMindo(
            api_key=emulator.api_key, base_url=BASE, http_client=http, default_region="AR"
        ) as client,
    ):
        yield client


def _person(phone: str) -> BulkRecipient:
    return BulkRecipient(phone=phone, variables={"name": "Ana", "code": "C1"})


@pytest.mark.anyio
async def test_create_reads_national_numbers_with_the_default_region(
    mindo_ar: AsyncMindo, emulator: Emulator
) -> None:
    """With default_region, national spellings are sent as E.164 and count as one recipient."""
    created = await create(
        mindo_ar,
        recipients=[_person("011 15-2345-6789"), _person("+54 9 11 2345-6789")],
    )
    assert created.dropped_repeats == 1
    assert [entry.recipient_phone for entry in emulator.ledger.messages] == ["+5491123456789"]


@pytest.mark.anyio
async def test_create_without_a_region_refuses_national_numbers(
    mindo: AsyncMindo, emulator: Emulator
) -> None:
    """Without default_region, a national spelling is refused before any I/O, as for send."""
    with pytest.raises(InvalidRequestError) as caught:
        await create(mindo, recipients=[_person("011 15-2345-6789")])
    assert list(caught.value.errors) == ["recipients[0].phone"]
    assert emulator.ledger.counts["total_requests"] == 0


@pytest.mark.anyio
async def test_create_many_reads_national_numbers_with_the_default_region(
    mindo_ar: AsyncMindo, emulator: Emulator
) -> None:
    """create_many sends the E.164 form of a national number when the client has a region."""
    request = SendRequest(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone="011 15-2345-6789",
        variables={"name": "Ana", "code": "C1"},
        button_variables={"button_0": "B1"},
    )
    result = await mindo_ar.bulk_sends.create_many([request])
    assert len(result.chunks) == 1
    assert [entry.recipient_phone for entry in emulator.ledger.messages] == ["+5491123456789"]
