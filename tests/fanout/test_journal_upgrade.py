"""A campaign journal written by mindo_async 0.1.0 resumes correctly after the upgrade."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from mindo_async import (
    AlreadyProcessedError,
    AsyncMindo,
    Outcome,
    SendRequest,
    SQLiteJournal,
    request_key,
)
from mindo_async.testing import Emulator

pytestmark = pytest.mark.anyio

#: Written by 0.1.0 (commit 0c075f1): requests 0-3 sent, request 4 left in flight
#: (begin() without finish(), as after a kill -9). Key: the default request key.
FIXTURE = Path(__file__).parent.parent / "fixtures" / "journal-0.1.0.sqlite3"


def request(index: int) -> SendRequest:
    """The fixture's campaign: one request per recipient, as 0.1.0 journaled it."""
    return SendRequest(
        phone_number_id="813497231850626",
        template_name="welcome_message",
        recipient_phone=f"+54911{10000000 + index}",
        variables={"name": f"N{index}", "code": f"C{index}"},
    )


async def test_a_journal_from_0_1_0_skips_what_it_sent_and_never_resends_what_was_in_flight(
    tmp_path: Path,
) -> None:
    """Resuming a 0.1.0 journal: sent rows skipped, the in-flight row UNKNOWN-skipped, the
    rest sent; the emulator receives only the new request."""
    journal = tmp_path / "campaign.journal"
    shutil.copy(FIXTURE, journal)
    emulator = Emulator()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator))
    async with (
        http,
        AsyncMindo(
            api_key=emulator.api_key, base_url="http://127.0.0.1", http_client=http, rate_limit=None
        ) as mindo,
    ):
        results = await mindo.send_many([request(i) for i in range(6)], journal=journal)
    outcomes = [r.outcome for r in results]
    assert outcomes == [Outcome.SKIPPED] * 5 + [Outcome.SENT]
    assert all(isinstance(r.error, AlreadyProcessedError) for r in results[:5])
    assert "unknown" in str(results[4].error)
    assert [e.recipient_phone for e in emulator.ledger.messages] == [request(5).recipient_phone]
    store = SQLiteJournal(journal)
    try:
        states = {}
        for index in range(6):
            entry = store.lookup(request_key(request(index)))
            states[index] = entry.state if entry is not None else None
    finally:
        store.close()
    assert states == {0: "sent", 1: "sent", 2: "sent", 3: "sent", 4: "unknown", 5: "sent"}
