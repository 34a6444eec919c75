"""Results map back to the caller's data (issue 14 item 6): metadata and machine-readable skips."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mindo_async import AsyncMindo, Outcome, SendRequest, SkipReason, request_key
from mindo_async.testing import DEFAULT_API_KEY, DEFAULT_PHONE_NUMBER_ID, Emulator


def request(phone: str, **metadata: object) -> SendRequest:
    return SendRequest(
        phone_number_id=DEFAULT_PHONE_NUMBER_ID,
        template_name="verification_code",
        recipient_phone=phone,
        variables={"name": "Ana", "code": "1"},
        metadata=metadata or None,
    )


def client(emulator: Emulator, seen: list[bytes]) -> AsyncMindo:
    asgi = httpx.ASGITransport(app=emulator)

    async def record(request: httpx.Request) -> None:
        seen.append(request.content)

    return AsyncMindo(
        api_key=DEFAULT_API_KEY,
        base_url="http://127.0.0.1",
        http_client=httpx.AsyncClient(transport=asgi, event_hooks={"request": [record]}),
        rate_limit=None,
    )


def test_skip_reasons_compare_as_strings() -> None:
    """``SkipReason`` members are strings: existing comparisons keep working."""
    assert SkipReason.DUPLICATE_IN_RUN == "duplicate_in_run"
    assert {str(reason) for reason in SkipReason} == {
        "duplicate_in_run",
        "journal_sent",
        "journal_unknown",
        "breaker_auth",
        "breaker_number",
        "breaker_template",
        "breaker_quota",
        "cancelled",
        "stream_left",
        "shared_state_unavailable",
        "claimed_elsewhere",
    }


def test_metadata_is_not_part_of_the_journal_key() -> None:
    """Two requests that differ only in metadata have the same journal key."""
    assert request_key(request("+5491123456789", row=1)) == request_key(
        request("+5491123456789", row=2)
    )


@pytest.mark.anyio
async def test_metadata_comes_back_on_every_result_and_is_never_sent() -> None:
    """Each result carries its request's metadata; no body sent holds it."""
    emulator = Emulator()
    seen: list[bytes] = []
    requests = [request("+5491123456789", row=1, order="A"), request("bad", row=2, order="B")]
    async with client(emulator, seen) as mindo:
        results = await mindo.send_many(requests)
    assert [r.metadata for r in results] == [{"row": 1, "order": "A"}, {"row": 2, "order": "B"}]
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.REJECTED]
    assert len(seen) == 1
    assert "metadata" not in json.loads(seen[0])
    assert b"order" not in seen[0]


@pytest.mark.anyio
async def test_requests_differing_only_in_metadata_are_duplicates() -> None:
    """Metadata stays out of the dedupe key: the second is SKIPPED as a duplicate in this run."""
    emulator = Emulator()
    async with client(emulator, []) as mindo:
        results = await mindo.send_many(
            [request("+5491123456789", row=1), request("+5491123456789", row=2)], concurrency=1
        )
    assert results[1].outcome is Outcome.SKIPPED
    assert results[1].reason is SkipReason.DUPLICATE_IN_RUN
    assert results[1].metadata == {"row": 2}
    assert len(emulator.ledger.messages) == 1


@pytest.mark.anyio
async def test_journal_skips_carry_the_earlier_message_id(tmp_path: Path) -> None:
    """A rerun skips what the journal has as sent, with reason JOURNAL_SENT and its message id."""
    emulator = Emulator()
    journal = tmp_path / "campaign.sqlite"
    async with client(emulator, []) as mindo:
        first = await mindo.send_many([request("+5491123456789")], journal=journal)
        again = await mindo.send_many([request("+5491123456789")], journal=journal)
    assert first[0].message is not None
    assert again[0].outcome is Outcome.SKIPPED
    assert again[0].reason is SkipReason.JOURNAL_SENT
    assert again[0].reason == "journal_sent"
    assert again[0].previous_message_id == first[0].message.message_id
    assert len(emulator.ledger.messages) == 1
