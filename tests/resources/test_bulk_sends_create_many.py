"""create_many: grouped, chunked, journaled bulk sends; nothing put in a second bulk send."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from mindo_async import (
    AlreadyProcessedError,
    AsyncMindo,
    BulkSendUnknownError,
    DuplicateRequestError,
    InvalidRequestError,
    Outcome,
    SendRequest,
    SQLiteJournal,
)
from mindo_async._journal import IN_FLIGHT
from mindo_async.resources.bulk_sends import DEFAULT_CHUNK_SIZE, CreateManyResult

BASE = "http://127.0.0.1"
KEY = "mindo_test_key"


class FakeServer:
    """Answers send-bulk with 202 (or a scripted status) and remembers every POSTed body."""

    def __init__(self, script: dict[int, int] | None = None) -> None:
        self.script = script or {}
        self.bodies: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        status = self.script.get(len(self.bodies), 202)
        if status != 202:
            return httpx.Response(status, json={"error": "scripted"})
        return httpx.Response(
            202,
            json={
                "bulk_send_id": str(uuid.uuid4()),
                "status": "queued",
                "total_recipients": len(body["recipients"]),
                "unique_recipients": len(body["recipients"]),
                "created_at": "2025-11-16T21:30:00Z",
            },
        )

    def phones(self) -> Counter[str]:
        """How many bulk sends each phone was put in."""
        return Counter(r["phone"] for body in self.bodies for r in body["recipients"])

    async def run(self, requests: list[SendRequest], **options: Any) -> CreateManyResult:
        """create_many over this server."""
        async with (
            httpx.AsyncClient(transport=httpx.MockTransport(self.handle)) as http,
            AsyncMindo(api_key=KEY, base_url=BASE, http_client=http) as mindo,
        ):
            return await mindo.bulk_sends.create_many(requests, **options)


def campaign(count: int, template: str = "welcome_message", start: int = 0) -> list[SendRequest]:
    """``count`` distinct requests of one template."""
    return [
        SendRequest(
            phone_number_id="813497231850626",
            template_name=template,
            recipient_phone=f"+54911{40000000 + start + i}",
            variables={"name": f"User {start + i}", "code": start + i},
        )
        for i in range(count)
    ]


@pytest.mark.anyio
async def test_groups_and_chunks() -> None:
    """Requests are grouped by (number, template, language) and each group chunked."""
    server = FakeServer()
    requests = campaign(3) + campaign(2, "verification_code", start=100) + campaign(2, start=3)
    result = await server.run(requests, chunk_size=2)
    assert [(c.template_name, len(c.requests)) for c in result.chunks] == [
        ("welcome_message", 2),
        ("welcome_message", 2),
        ("welcome_message", 1),
        ("verification_code", 2),
    ]
    assert [b["template_name"] for b in server.bodies] == [
        "welcome_message",
        "welcome_message",
        "welcome_message",
        "verification_code",
    ]
    assert all(c.outcome is Outcome.SENT for c in result.chunks)
    assert len(result.bulk_send_ids) == 4
    assert max(server.phones().values()) == 1
    assert result.count(Outcome.SENT) == 7
    # Numbers in variables are sent as text, as by send.
    assert server.bodies[0]["recipients"][0]["variables"] == {"name": "User 0", "code": "0"}


def test_default_chunk_size_is_documented() -> None:
    """The default chunk size is a positive constant of the module."""
    assert isinstance(DEFAULT_CHUNK_SIZE, int)
    assert DEFAULT_CHUNK_SIZE > 0


@pytest.mark.anyio
async def test_invalid_requests_send_nothing() -> None:
    """Every invalid request is named by index, and no bulk send is created."""
    server = FakeServer()
    requests = campaign(3)
    bad = [requests[0], SendRequest(phone_number_id="x", template_name="t", recipient_phone="1")]
    with pytest.raises(InvalidRequestError) as caught:
        await server.run([*bad, requests[2]])
    assert set(caught.value.errors) == {
        "requests[1].phone_number_id",
        "requests[1].recipient_phone",
    }
    assert server.bodies == []


@pytest.mark.anyio
async def test_repeats() -> None:
    """An identical repeat is skipped and counted; a conflicting repeat is refused up front."""
    server = FakeServer()
    requests = campaign(2)
    result = await server.run([requests[0], requests[1], requests[0]])
    assert result.dropped_repeats == 1
    assert [type(s.error) for s in result.skipped] == [DuplicateRequestError]
    assert server.phones() == Counter(
        {requests[0].recipient_phone: 1, requests[1].recipient_phone: 1}
    )

    other = SendRequest(
        phone_number_id=requests[0].phone_number_id,
        template_name=requests[0].template_name,
        recipient_phone=requests[0].recipient_phone,
        variables={"name": "Someone else", "code": "X"},
    )
    with pytest.raises(InvalidRequestError) as caught:
        await server.run([requests[0], requests[1], other])
    assert "requests[0]" in caught.value.errors["requests[2].recipient_phone"][0]
    assert len(server.bodies) == 1


@pytest.mark.anyio
async def test_rerun_with_other_chunks_sends_nothing_again(tmp_path: Path) -> None:
    """A rerun over the same journal, chunked differently, creates no bulk send."""
    journal = tmp_path / "bulk.sqlite"
    server = FakeServer()
    first = await server.run(campaign(5), chunk_size=2, journal=journal)
    assert len(first.chunks) == 3
    again = await server.run(campaign(5), chunk_size=4, journal=journal)
    assert again.chunks == ()
    assert len(again.skipped) == 5
    assert all(isinstance(s.error, AlreadyProcessedError) for s in again.skipped)
    assert "bulk send" in str(again.skipped[0].error)
    assert len(server.bodies) == 3
    # A rerun with more requests sends only the new ones.
    more = await server.run(campaign(7), chunk_size=10, journal=journal)
    assert [len(c.requests) for c in more.chunks] == [2]
    assert max(server.phones().values()) == 1


@pytest.mark.anyio
async def test_an_ambiguous_chunk_is_unknown_and_never_resent(tmp_path: Path) -> None:
    """A chunk answered 500 is UNKNOWN, the others go on; a rerun does not resend it."""
    journal = tmp_path / "bulk.sqlite"
    server = FakeServer(script={2: 500})
    result = await server.run(campaign(6), chunk_size=2, journal=journal)
    assert [c.outcome for c in result.chunks] == [Outcome.SENT, Outcome.UNKNOWN, Outcome.SENT]
    assert isinstance(result.chunks[1].error, BulkSendUnknownError)
    assert result.count(Outcome.UNKNOWN) == 2
    store = SQLiteJournal(journal)
    states = Counter(store.counts())
    store.close()
    assert states == {"sent": 4, "unknown": 2}
    rerun = await server.run(campaign(6), chunk_size=3, journal=journal)
    assert rerun.chunks == ()
    assert len(server.bodies) == 3
    assert max(server.phones().values()) == 1


@pytest.mark.anyio
async def test_a_rejected_chunk_is_sent_on_rerun(tmp_path: Path) -> None:
    """A chunk the API refused (400) created nothing: a rerun sends those recipients."""
    journal = tmp_path / "bulk.sqlite"
    server = FakeServer(script={1: 400})
    result = await server.run(campaign(2), journal=journal)
    assert [c.outcome for c in result.chunks] == [Outcome.REJECTED]
    rerun = await server.run(campaign(2), journal=journal)
    assert [c.outcome for c in rerun.chunks] == [Outcome.SENT]
    assert len(server.bodies) == 2


@pytest.mark.anyio
async def test_a_crash_with_a_chunk_on_the_wire_leaves_it_unknown(tmp_path: Path) -> None:
    """Keys left in flight by a crashed run are skipped as UNKNOWN, naming their chunk."""
    journal_path = tmp_path / "bulk.sqlite"
    requests = campaign(3)
    from mindo_async._journal import request_key

    store = SQLiteJournal(journal_path)
    store.begin_batch([request_key(r) for r in requests[:2]], "chunk-a")
    store.close()
    server = FakeServer()
    result = await server.run(requests, journal=journal_path)
    assert [len(c.requests) for c in result.chunks] == [1]
    assert all("unknown in chunk chunk-a" in str(s.error) for s in result.skipped)
    store = SQLiteJournal(journal_path)
    assert IN_FLIGHT not in store.counts()
    store.close()


@pytest.mark.anyio
async def test_the_journal_is_shared_with_send_many(tmp_path: Path) -> None:
    """A request send_many already sent (same journal, same key) is not put in a bulk send."""
    from mindo_async._journal import request_digest
    from mindo_async._validation import validate_request

    journal_path = tmp_path / "shared.sqlite"
    requests = campaign(2)
    store = SQLiteJournal(journal_path)
    store.finish(
        request_digest(validate_request(requests[0])).hex(), Outcome.SENT, message_id="wamid.x"
    )
    store.close()
    server = FakeServer()
    result = await server.run(requests, journal=journal_path)
    assert [r.recipient_phone for c in result.chunks for r in c.requests] == [
        requests[1].recipient_phone
    ]
