"""The journal: a campaign killed at any moment resumes without sending anything twice."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from mindo_async import (
    AlreadyProcessedError,
    AsyncMindo,
    Outcome,
    SendRequest,
    SendResult,
    SQLiteJournal,
    request_key,
)
from mindo_async._journal import IN_FLIGHT
from mindo_async.testing import Emulator, FaultConfig, serve

CHILD = Path(__file__).with_name("journal_child.py")
COUNT = 400


def campaign(count: int) -> list[SendRequest]:
    """The same requests as journal_child.py sends."""
    return [
        SendRequest(
            phone_number_id="813497231850626",
            template_name="verification_code",
            recipient_phone=f"+54911{40000000 + i}",
            variables={"name": f"User {i}", "code": f"C{i:05d}"},
        )
        for i in range(count)
    ]


def test_request_key_is_stable_and_covers_every_field() -> None:
    """The default key is the same for equal requests and differs when any field differs."""
    base = campaign(1)[0]
    assert request_key(base) == request_key(campaign(1)[0])
    import attrs

    for change in (
        {"phone_number_id": "1"},
        {"template_name": "other"},
        {"language": "en"},
        {"recipient_phone": "+5491100000000"},
        {"variables": {"name": "x", "code": "y"}},
        {"button_variables": {"button_0": "a"}},
    ):
        assert request_key(attrs.evolve(base, **change)) != request_key(base), change


def test_sqlite_journal_survives_reopening(tmp_path: Path) -> None:
    """What one SQLiteJournal recorded, another one opened on the same file reads back."""
    path = tmp_path / "j.sqlite"
    journal = SQLiteJournal(path)
    journal.begin("a")
    journal.begin("b")
    journal.finish("b", Outcome.SENT, message_id="wamid.1", attempts=1)
    journal.close()
    again = SQLiteJournal(path)
    a, b = again.lookup("a"), again.lookup("b")
    assert a is not None
    assert a.state == IN_FLIGHT
    assert a.may_have_been_delivered
    assert b is not None
    assert (b.state, b.message_id) == ("sent", "wamid.1")
    assert again.lookup("c") is None
    again.close()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_kill_9_mid_campaign_then_rerun_sends_nothing_twice(tmp_path: Path, backend: str) -> None:
    """A child killed with SIGKILL mid-campaign; the rerun completes it with no duplicate."""
    journal = tmp_path / "campaign.sqlite"
    emulator = Emulator(faults=FaultConfig(latency=0.03))
    with serve(emulator) as server:
        child = subprocess.Popen(
            [sys.executable, str(CHILD), server.base_url, server.api_key, str(journal), str(COUNT)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            deadline = time.monotonic() + 30
            while len(emulator.ledger.messages) < COUNT // 4:
                assert child.poll() is None, "the child finished before it could be killed"
                assert time.monotonic() < deadline, "the child sent nothing in time"
                time.sleep(0.01)
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
        sent_before_rerun = len(emulator.ledger.messages)
        assert sent_before_rerun < COUNT

        with sqlite3.connect(journal) as db:
            states = collections.Counter(s for (s,) in db.execute("SELECT state FROM requests"))

        async def rerun() -> list[SendResult]:
            async with AsyncMindo(
                api_key=server.api_key, base_url=server.base_url, rate_limit=None
            ) as mindo:
                return await mindo.send_many(campaign(COUNT), concurrency=8, journal=journal)

        results = anyio.run(rerun, backend=backend)
        # Requests the server may still be answering for the dead child finish first.
        time.sleep(0.1)

    assert emulator.ledger.duplicates() == []
    assert len(results) == COUNT
    skipped = [r for r in results if r.outcome is Outcome.SKIPPED]
    assert all(isinstance(r.error, AlreadyProcessedError) for r in skipped)
    assert len(skipped) == states["sent"] + states[IN_FLIGHT]
    assert collections.Counter(r.outcome for r in results) == {
        Outcome.SENT: COUNT - len(skipped),
        Outcome.SKIPPED: len(skipped),
    }
    # Every request reached the server at most once, and every one sent is there.
    recipients = collections.Counter(m.recipient_phone for m in emulator.ledger.messages)
    assert max(recipients.values()) == 1
    for result in results:
        if result.outcome is Outcome.SENT:
            assert recipients[result.request.recipient_phone] == 1
    # After the rerun nothing is left on the wire: every request has an outcome.
    with sqlite3.connect(journal) as db:
        final = collections.Counter(s for (s,) in db.execute("SELECT state FROM requests"))
    assert IN_FLIGHT not in final
    assert sum(final.values()) == COUNT
