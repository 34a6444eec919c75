"""`mindo bulk-sends` against a socket-served emulator: create (journaled, watched, --out),
list, show, messages, --json, and Ctrl-C that stops the watching only."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mindo_async.cli import app
from mindo_async.testing import BulkSendSettings, Emulator, EmulatorServer, serve
from mindo_async.testing._data import EmulatorData, PhoneNumber
from mindo_async.testing._state import MessageLifecycle

NUMBER_ID = "813497231850626"
TEMPLATE = "verification_code"
CREATE = ["bulk-sends", "create", "--phone-number-id", NUMBER_ID, "--template", TEMPLATE]


def make_emulator(*, speed: float = 10_000.0, tier: str = "TIER_100000") -> Emulator:
    """An emulator whose bulk sends end almost at once (or are paced, with a low speed)."""
    emulator = Emulator(
        EmulatorData(phone_numbers=[PhoneNumber(NUMBER_ID, tier=tier, id=123)]),
        lifecycle=MessageLifecycle(failure_share=0.0),
        seed=3,
    )
    emulator.bulk_send_settings = BulkSendSettings(speed=speed, start_delay=0.0)
    return emulator


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A fast emulator served over loopback sockets."""
    with serve(make_emulator()) as running:
        yield running


def invoke(server: EmulatorServer, args: Sequence[str]) -> Result:
    """Run `mindo ARGS` in-process against ``server``."""
    environment = {
        "MINDO_API_KEY": server.api_key,
        "MINDO_BASE_URL": server.base_url,
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, list(args), env=environment)


def campaign(path: Path, count: int) -> Path:
    """A CSV campaign of ``count`` valid rows."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "name", "code"])
        writer.writerows([f"+54911{50000000 + i}", f"User {i}", f"C{i}"] for i in range(count))
    return path


def test_create_chunks_watches_and_writes_out(server: EmulatorServer, tmp_path: Path) -> None:
    """create makes one bulk send per chunk, follows them to the end and writes every message."""
    file = campaign(tmp_path / "c.csv", 7)
    out = tmp_path / "out.jsonl"
    result = invoke(
        server,
        [
            *CREATE,
            str(file),
            "--chunk-size",
            "3",
            "--poll-interval",
            "0.05",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert [b["status"] for b in body["bulk_sends"]] == ["COMPLETED"] * 3
    assert [b["total_recipients"] for b in body["bulk_sends"]] == [3, 3, 1]
    assert len(server.ledger.bulk_send_ids()) == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["recipient_phone"] for line in lines) == [
        f"+54911{50000000 + i}" for i in range(7)
    ]


def test_rerun_creates_nothing_again(server: EmulatorServer, tmp_path: Path) -> None:
    """The same command again, chunked otherwise, creates no bulk send and exits 0."""
    file = campaign(tmp_path / "c.csv", 5)
    first = invoke(server, [*CREATE, str(file), "--chunk-size", "2", "--poll-interval", "0.05"])
    assert first.exit_code == 0, first.output
    again = invoke(server, [*CREATE, str(file), "--chunk-size", "4", "--poll-interval", "0.05"])
    assert again.exit_code == 0, again.output
    assert "earlier run" in again.stderr
    assert len(server.ledger.bulk_send_ids()) == 3
    assert server.ledger.duplicates() == []


def test_bad_rows_create_nothing(server: EmulatorServer, tmp_path: Path) -> None:
    """A file with a bad row exits 2 and creates nothing, as `mindo bulk` does."""
    file = campaign(tmp_path / "c.csv", 2)
    with file.open("a", encoding="utf-8") as handle:
        handle.write("12345,Bad,C9\n")
    result = invoke(server, [*CREATE, str(file)])
    assert result.exit_code == 2
    assert "line 4" in result.stderr
    assert server.ledger.bulk_send_ids() == ()


def test_list_show_messages(server: EmulatorServer, tmp_path: Path) -> None:
    """list, show and messages print JSON; messages --status filters and --out writes CSV."""
    file = campaign(tmp_path / "c.csv", 3)
    assert invoke(server, [*CREATE, str(file), "--no-watch"]).exit_code == 0
    (bulk_id,) = server.ledger.bulk_send_ids()
    listed = invoke(server, ["bulk-sends", "list", "--status", "completed", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [bulk_id]
    shown = invoke(server, ["bulk-sends", "show", bulk_id, "--json"])
    assert json.loads(shown.stdout)["total_recipients"] == 3
    table = invoke(server, ["bulk-sends", "show", bulk_id])
    assert bulk_id in table.stdout
    failed = invoke(server, ["bulk-sends", "messages", bulk_id, "--status", "failed", "--json"])
    assert (failed.exit_code, failed.stdout.strip()) == (0, "")
    out = tmp_path / "m.csv"
    written = invoke(server, ["bulk-sends", "messages", bulk_id, "--out", str(out)])
    assert written.exit_code == 0, written.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 3
    assert {row["bulk_send_id"] for row in rows} == {bulk_id}


def test_list_refuses_a_bad_date(server: EmulatorServer) -> None:
    """--from must be YYYY-MM-DD: a usage error, before any request."""
    result = invoke(server, ["bulk-sends", "list", "--from", "16/11/2025"])
    assert result.exit_code == 2
    assert server.ledger.counts["total_requests"] == 0


def test_unknown_bulk_send(server: EmulatorServer) -> None:
    """show with an unknown id exits 1 with the API's 404, in JSON with --json."""
    result = invoke(server, ["bulk-sends", "show", "nope", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["status_code"] == 404


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_ctrl_c_stops_watching_not_the_bulk_send(tmp_path: Path) -> None:
    """SIGINT while watching exits 130, says how to resume; the bulk send goes on."""
    file = campaign(tmp_path / "c.csv", 20)
    with serve(make_emulator(speed=1.0, tier="TIER_50")) as running:
        child = subprocess.Popen(
            [sys.executable, "-m", "mindo_async", *CREATE, str(file), "--poll-interval", "0.1"],
            env={
                **os.environ,
                "MINDO_API_KEY": running.api_key,
                "MINDO_BASE_URL": running.base_url,
                "PYTHONPATH": os.pathsep.join(sys.path),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not running.ledger.bulk_send_ids():
                assert child.poll() is None, child.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            # Watching once the server has three reads since the creation: the first
            # reads the total, then two polls. The child's Ctrl-C handler starts while
            # the first poll is on the wire, so it is in place by the second.
            created = running.ledger.counts["total_requests"]
            while running.ledger.counts["total_requests"] < created + 3:
                assert child.poll() is None, child.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
        (bulk_id,) = running.ledger.bulk_send_ids()
    assert child.returncode == 130, stderr
    assert f"mindo bulk-sends show {bulk_id} --watch" in stderr


def test_preflight_refuses_an_unknown_template(server: EmulatorServer, tmp_path: Path) -> None:
    """The pre-flight of `mindo bulk` runs first: an unknown template creates nothing, exit 2."""
    file = campaign(tmp_path / "c.csv", 2)
    args = ["bulk-sends", "create", "--phone-number-id", NUMBER_ID, "--template", "nope"]
    result = invoke(server, [*args, str(file)])
    assert result.exit_code == 2, result.output
    assert "pre-flight" in result.stderr.lower()
    assert server.ledger.bulk_send_ids() == ()
    skipped = invoke(server, [*args, str(file), "--no-preflight", "--no-watch"])
    assert skipped.exit_code == 1  # the API refuses the chunk: not created
    assert server.ledger.bulk_send_ids() == ()
