"""Over real sockets: an ambiguous send-bulk is never retried, find_candidates finds it, and a
create_many killed with SIGKILL and rerun puts no recipient in a second bulk send."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from mindo_async import (
    AlreadyProcessedError,
    AsyncMindo,
    BulkRecipient,
    BulkSendUnknownError,
    Outcome,
)
from mindo_async._endpoints import SEND_BULK
from mindo_async._journal import IN_FLIGHT
from mindo_async.resources.bulk_sends import CreateManyResult
from mindo_async.testing import Emulator, EmulatorServer, Fault, FaultConfig, serve
from mindo_async.testing._clock import VirtualClock
from mindo_async.testing._state import MessageLifecycle

sys.path.insert(0, str(Path(__file__).parent))
from bulk_child import campaign

CHILD = Path(__file__).with_name("bulk_child.py")
PEOPLE = [
    BulkRecipient(phone="+5491112345678", variables={"name": "Juan", "code": "A"}),
    BulkRecipient(phone="+5491187654321", variables={"name": "Maria", "code": "B"}),
    BulkRecipient(phone="+5491155551234", variables={"name": "Carlos", "code": "C"}),
]


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A socket-served emulator on the real clock (the client's attempt time is real)."""
    emulator = Emulator(lifecycle=MessageLifecycle(failure_share=0.0))
    with serve(emulator) as running:
        yield running


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["drop_after_processing", "read_timeout", "500"])
async def test_ambiguous_create_is_not_retried_and_is_found(
    server: EmulatorServer, fault: str
) -> None:
    """The POST reaches the emulator once (one campaign in the ledger), and it is found."""
    emulator = server.emulator
    scripted = {
        "drop_after_processing": Fault.drop_after_processing(),
        "read_timeout": Fault.slow(1.5),
        "500": Fault.status(500),
    }[fault]
    emulator.script(scripted, path=SEND_BULK.path)
    async with AsyncMindo(
        api_key=server.api_key, base_url=server.base_url, timeout=0.3, max_retries=3
    ) as mindo:
        with pytest.raises(BulkSendUnknownError) as caught:
            await mindo.bulk_sends.create(
                phone_number_id="813497231850626",
                template_name="welcome_message",
                recipients=PEOPLE,
            )
        campaigns = emulator.ledger.bulk_send_ids()
        assert len(campaigns) == 1
        assert emulator.ledger.counts["total_requests"] == 1  # one POST, no retry
        assert len(emulator.ledger.messages) == len(PEOPLE)
        candidates = await caught.value.find_candidates(mindo)
    assert [c.id for c in candidates] == list(campaigns)


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_kill_9_mid_create_many_then_rerun_creates_no_chunk_twice(
    tmp_path: Path, backend: str
) -> None:
    """A child killed by SIGKILL between chunks; a rerun chunked differently repeats nobody."""
    count, chunk = 60, 5
    journal = tmp_path / "bulk.sqlite"
    emulator = Emulator(
        clock=VirtualClock(),
        faults={SEND_BULK.path: FaultConfig(latency=0.05)},
        lifecycle=MessageLifecycle(failure_share=0.0),
    )
    with serve(emulator) as running:
        child = subprocess.Popen(
            [
                sys.executable,
                str(CHILD),
                running.base_url,
                running.api_key,
                str(journal),
                str(count),
                str(chunk),
            ],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            deadline = time.monotonic() + 30
            while len(emulator.ledger.bulk_send_ids()) < 3:
                assert child.poll() is None, "the child finished before it could be killed"
                assert time.monotonic() < deadline, "the child created nothing in time"
                time.sleep(0.01)
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
        time.sleep(0.2)  # a POST the dead child left on the wire finishes first
        before = len(emulator.ledger.bulk_send_ids())
        assert before < count // chunk

        async def rerun() -> CreateManyResult:
            async with AsyncMindo(api_key=running.api_key, base_url=running.base_url) as mindo:
                return await mindo.bulk_sends.create_many(
                    campaign(count), chunk_size=7, journal=journal
                )

        result = anyio.run(rerun, backend=backend)

    ledger = emulator.ledger
    recipients = collections.Counter(m.recipient_phone for m in ledger.messages)
    assert max(recipients.values()) == 1, "a recipient is in two bulk sends"
    assert ledger.duplicates() == []
    assert all(c.outcome is Outcome.SENT for c in result.chunks)
    for chunk_result in result.chunks:
        for request in chunk_result.requests:
            assert recipients[request.recipient_phone] == 1
    assert all(isinstance(s.error, AlreadyProcessedError) for s in result.skipped)
    assert len(result.skipped) + result.count(Outcome.SENT) == count
    # Everything in the ledger before the rerun was skipped by it.
    assert len(result.skipped) >= len(ledger.messages) - result.count(Outcome.SENT)
    with sqlite3.connect(journal) as db:
        states = collections.Counter(s for (s,) in db.execute("SELECT state FROM requests"))
    assert IN_FLIGHT not in states
    assert sum(states.values()) == count
