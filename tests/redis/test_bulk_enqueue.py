"""``mindo bulk FILE --enqueue --redis URL``: a real worker process, the emulator over
loopback and a real redis-server."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import Result
from queue_workers import Workers
from redis_server import NUMBERS, RedisServer, two_number_emulator
from typer.testing import CliRunner

from mindo_async.cli import app
from mindo_async.testing import EmulatorServer, FaultConfig, serve

ROWS = 24


def phone(i: int) -> str:
    return f"+54911{50000000 + i}"


@pytest.fixture
def workers_for(redis_server: RedisServer) -> Iterator[list[Workers]]:
    """Worker groups a test starts, killed when it ends; the session's Redis emptied first."""
    made: list[Workers] = []
    redis.Redis.from_url(redis_server.url).flushdb()
    yield made
    for workers in made:
        workers.stop_all()


def campaign_file(tmp_path: Path) -> Path:
    """ROWS distinct rows (column ``Telefono``; row 0 in Argentina's national form), then a
    repeat of row 1: a file that needs --phone-column and --default-region."""
    path = tmp_path / "campaign.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Telefono", "name", "code"])
        writer.writerow(["011 15-5000-0000", "User 0", "C0"])  # +5491150000000
        writer.writerows([phone(i), f"User {i}", f"C{i}"] for i in range(1, ROWS))
        writer.writerow([phone(1), "User 1", "C1"])
    return path


def bulk_args(path: Path, redis_url: str, namespace: str, out: Path) -> list[str]:
    return [
        "bulk",
        str(path),
        "--enqueue",
        "--redis",
        redis_url,
        "--namespace",
        namespace,
        "--phone-number-id",
        NUMBERS[0],
        "--template",
        "verification_code",
        "--phone-column",
        "Telefono",
        "--default-region",
        "AR",
        "--no-preflight",
        "--out",
        str(out),
    ]


def invoke(server: EmulatorServer, args: list[str]) -> Result:
    environment = {
        "MINDO_API_KEY": server.api_key,
        "MINDO_BASE_URL": server.base_url,
        "MINDO_DEFAULT_REGION": "",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, args, env=environment)


def read_out(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_same_file_enqueued_twice_sends_each_message_once(
    redis_server: RedisServer, workers_for: list[Workers], tmp_path: Path
) -> None:
    """Enqueued twice, one worker: every row sent once, the rerun reports them already sent."""
    source = campaign_file(tmp_path)
    emulator = two_number_emulator()
    with serve(emulator) as server:
        workers = Workers(redis_server.url, server.base_url, server.api_key, "enq-twice", 60)
        workers_for.append(workers)
        workers.start()
        first = invoke(
            server, bulk_args(source, redis_server.url, "enq-twice", tmp_path / "1.jsonl")
        )
        second = invoke(
            server, bulk_args(source, redis_server.url, "enq-twice", tmp_path / "2.jsonl")
        )
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert emulator.ledger.duplicates() == []
    ledger = {m.recipient_phone: m.message_id for m in emulator.ledger.messages}
    assert sorted(ledger) == sorted(phone(i) for i in range(ROWS))  # row 0 read with AR

    first_rows = read_out(tmp_path / "1.jsonl")
    assert [r["line"] for r in first_rows] == list(range(2, ROWS + 3))
    assert [r["outcome"] for r in first_rows] == ["sent"] * ROWS + ["skipped"]
    assert first_rows[-1]["message_id"] == ledger[phone(1)]  # the repeat of row 1
    second_rows = read_out(tmp_path / "2.jsonl")
    assert [r["outcome"] for r in second_rows] == ["skipped"] * (ROWS + 1)
    for row in (*first_rows, *second_rows):
        assert row["message_id"] == ledger[str(row["recipient_e164"])], row
    assert "already sent by an earlier job" in second.output
    assert "25 of 25 rows done" in first.output


def test_bad_rows_are_refused_with_their_lines_and_nothing_is_enqueued(
    redis_server: RedisServer, workers_for: list[Workers], tmp_path: Path
) -> None:
    """A row with a bad number: exit 2, its line named, the queue's stream never created."""
    source = tmp_path / "bad.csv"
    source.write_text(
        "recipient_phone,name,code\n+5491150000001,Ana,C1\n12,Luis,C2\n", encoding="utf-8"
    )
    with serve(two_number_emulator()) as server:
        result = invoke(
            server,
            ["bulk", str(source), "--enqueue", "--redis", redis_server.url,
             "--namespace", "enq-bad", "--phone-number-id", NUMBERS[0],
             "--template", "verification_code", "--no-preflight"],
        )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "line 3:" in result.output
    assert "Nothing was sent" in result.output
    assert redis.Redis.from_url(redis_server.url).exists("enq-bad:sends") == 0


@pytest.mark.slow  # a `mindo` process signalled, a worker process, a rerun: seconds
def test_ctrl_c_stops_following_and_the_same_command_follows_again(
    redis_server: RedisServer, workers_for: list[Workers], tmp_path: Path
) -> None:
    """SIGINT with no worker running: exit 130, jobs stay queued; a rerun follows, sends once."""
    source = campaign_file(tmp_path)
    emulator = two_number_emulator()
    emulator.set_faults(FaultConfig(latency=0.01))
    with serve(emulator) as server:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            "MINDO_API_KEY": server.api_key,
            "MINDO_BASE_URL": server.base_url,
            "MINDO_DEFAULT_REGION": "",
            "COLUMNS": "200",
        }
        args = bulk_args(source, redis_server.url, "enq-int", tmp_path / "1.jsonl")
        child = subprocess.Popen(
            [sys.executable, "-m", "mindo_async", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stderr is not None
        seen = []
        for line in child.stderr:  # the command says when the jobs are enqueued
            seen.append(line)
            if line.startswith("Enqueued"):
                break
        assert any("Enqueued 24 jobs" in line for line in seen), seen
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 130, stderr
        assert "Stopped following: 24 jobs still queued" in stderr
        assert len(emulator.ledger.messages) == 0
        interrupted = read_out(tmp_path / "1.jsonl")
        assert all("still queued" in str(row["error"]) for row in interrupted[:-1])

        workers = Workers(redis_server.url, server.base_url, server.api_key, "enq-int", 60)
        workers_for.append(workers)
        workers.start()
        again = invoke(server, bulk_args(source, redis_server.url, "enq-int", tmp_path / "2.jsonl"))
    assert again.exit_code == 0, again.output
    assert emulator.ledger.duplicates() == []
    assert len(emulator.ledger.messages) == ROWS
    outcomes = [row["outcome"] for row in read_out(tmp_path / "2.jsonl")]
    # Each row: sent by its first job (the rerun's job then skips it), or by the rerun's.
    assert outcomes[-1] == "skipped"  # the repeat of row 1
    assert set(outcomes[:-1]) <= {"sent", "skipped"}
