"""`mindo bulk` in a child process: killed with SIGKILL or stopped with Ctrl-C, then resumed.

The emulator is served from this test process, so its ledger outlives the child.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mindo_async.testing import Emulator, EmulatorServer, FaultConfig, serve

ROWS = 600
CONCURRENCY = 8


def phone(i: int) -> str:
    return f"+54911{60000000 + i}"


@pytest.fixture
def slow_server() -> Iterator[EmulatorServer]:
    """An emulator answering after 30 ms, so a campaign of 600 takes a couple of seconds."""
    with serve(Emulator(faults=FaultConfig(latency=0.03), seed=9)) as running:
        yield running


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "campaign.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "name", "code"])
        writer.writerows([phone(i), f"User {i}", f"C{i:04d}"] for i in range(ROWS))
    return path


def start(server: EmulatorServer, source: Path, out: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "MINDO_API_KEY": server.api_key,
        "MINDO_BASE_URL": server.base_url,
        "COLUMNS": "200",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mindo_async",
            "bulk",
            str(source),
            "--phone-number-id",
            "813497231850626",
            "--template",
            "verification_code",
            "--rate",
            "0",
            "--concurrency",
            str(CONCURRENCY),
            "--out",
            str(out),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_ledger(server: EmulatorServer, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(server.ledger) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the child never got going"
        time.sleep(0.01)


def rows_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_ledger_clean(server: EmulatorServer) -> Counter[str]:
    recipients = Counter(message.recipient_phone for message in server.ledger.messages)
    assert not [phone for phone, times in recipients.items() if times > 1], "sent twice"
    assert not server.ledger.duplicates()
    assert set(recipients) <= {phone(i) for i in range(ROWS)}
    return recipients


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_kill_9_mid_campaign_then_rerun_sends_nothing_twice(
    slow_server: EmulatorServer, source: Path, tmp_path: Path
) -> None:
    """SIGKILL mid-way, then the same command: every row ends with an outcome, none sent twice."""
    child = start(slow_server, source, tmp_path / "first.jsonl")
    wait_for_ledger(slow_server, ROWS // 4, child)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    accepted_before = len(slow_server.ledger)
    assert accepted_before < ROWS

    rerun = start(slow_server, source, tmp_path / "second.jsonl")
    stdout, stderr = rerun.communicate(timeout=120)
    rows = rows_of(tmp_path / "second.jsonl")
    recipients = assert_ledger_clean(slow_server)

    assert [row["line"] for row in rows] == list(range(2, ROWS + 2))
    outcomes = Counter(str(row["outcome"]) for row in rows)
    assert set(outcomes) <= {"sent", "skipped"}
    left_unknown = [row for row in rows if "left it unknown" in str(row["error"] or "")]
    done = [row for row in rows if row not in left_unknown]
    # Rows in flight at the kill are the only ones not known to be sent, at most one per worker.
    assert len(left_unknown) <= CONCURRENCY
    for row in done:
        assert row["message_id"], row
        assert recipients[str(row["recipient_phone"])] == 1
    assert outcomes["skipped"] >= accepted_before - CONCURRENCY
    assert "resuming" in stderr
    assert rerun.returncode == (1 if left_unknown else 0), stdout + stderr
    if left_unknown:
        assert "may have been delivered" in stderr


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_ctrl_c_stops_cleanly_with_a_summary_and_resumes(
    slow_server: EmulatorServer, source: Path, tmp_path: Path
) -> None:
    """SIGINT stops the run with a summary and exit 130; --out still has a row per input row."""
    first_out = tmp_path / "first.jsonl"
    child = start(slow_server, source, first_out)
    wait_for_ledger(slow_server, ROWS // 4, child)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stdout + stderr
    assert "Interrupted. Run the same command again to resume" in stderr
    assert "outcome" in stdout
    assert "rows" in stdout
    assert "Traceback" not in stderr
    first = rows_of(first_out)
    assert len(first) == ROWS
    not_attempted = [row for row in first if "interrupted" in str(row["error"] or "")]
    assert not_attempted, "the run was stopped before the end"

    rerun = start(slow_server, source, tmp_path / "second.jsonl")
    stdout, stderr = rerun.communicate(timeout=120)
    recipients = assert_ledger_clean(slow_server)
    second = rows_of(tmp_path / "second.jsonl")
    unknown = [row for row in second if "left it unknown" in str(row["error"] or "")]
    assert len(unknown) <= CONCURRENCY
    assert len(recipients) >= ROWS - len(unknown)
    assert rerun.returncode in (0, 1), stdout + stderr


@pytest.mark.slow  # a subprocess signalled mid-campaign, then a rerun: seconds
def test_sigterm_is_handled_like_ctrl_c_with_exit_143(
    slow_server: EmulatorServer, source: Path, tmp_path: Path
) -> None:
    """SIGTERM (a container stopping) finishes what is on the wire, journals it, exits 143."""
    out = tmp_path / "first.jsonl"
    child = start(slow_server, source, out)
    wait_for_ledger(slow_server, ROWS // 4, child)
    child.send_signal(signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 143, stdout + stderr
    assert "Interrupted. Run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    assert len(rows_of(out)) == ROWS
    assert_ledger_clean(slow_server)
