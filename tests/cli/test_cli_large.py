"""A 10,000-row CSV through `mindo bulk` against a socket-served emulator with faults."""

from __future__ import annotations

import csv
import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mindo_async.cli import app
from mindo_async.testing import Emulator, FaultConfig, serve

ROWS = 10_000
FAULTS = FaultConfig(
    latency=0.002,
    jitter=0.004,
    unavailable_probability=0.004,
    server_error_probability=0.002,
    drop_probability=0.002,
    rate_limited_probability=0.0002,
    retry_after=1,
)


@pytest.mark.slow  # 13-25 s on a shared 2-core machine
def test_ten_thousand_rows_with_faults_give_a_correct_summary(tmp_path: Path) -> None:
    """10,000 rows: one result each, the summary matches --out, and --out matches the ledger."""
    source = tmp_path / "big.csv"
    with source.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "name", "code"])
        writer.writerows([f"+54911{70000000 + i}", f"User {i}", f"C{i:05d}"] for i in range(ROWS))
    out = tmp_path / "results.jsonl"
    emulator = Emulator(faults=FAULTS, seed=11)
    with serve(emulator) as server:
        started = time.monotonic()
        result = CliRunner().invoke(
            app,
            [
                "bulk",
                str(source),
                "--phone-number-id",
                "813497231850626",
                "--template",
                "verification_code",
                "--rate",
                "0",
                "--concurrency",
                "64",
                "--out",
                str(out),
            ],
            env={
                "MINDO_API_KEY": server.api_key,
                "MINDO_BASE_URL": server.base_url,
                "COLUMNS": "200",
            },
        )
        elapsed = time.monotonic() - started
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    outcomes = Counter(row["outcome"] for row in rows)
    assert len(rows) == ROWS
    assert [row["line"] for row in rows] == list(range(2, ROWS + 2))

    ledger = emulator.ledger
    accepted = Counter(message.recipient_phone for message in ledger.messages)
    assert not ledger.duplicates()
    assert max(accepted.values()) == 1
    accepted_ids = {message.message_id for message in ledger.messages}
    assert {row["message_id"] for row in rows if row["outcome"] == "sent"} <= accepted_ids
    assert not [
        row for row in rows if row["outcome"] == "rejected" and accepted[row["recipient_phone"]]
    ]
    unknown = [row for row in rows if row["outcome"] == "unknown"]
    assert unknown, "the faults make some rows unknown"
    assert len(ledger) == outcomes["sent"] + sum(
        1 for row in unknown if accepted[row["recipient_phone"]]
    )

    # The summary table reports the same counts as --out.
    for outcome in ("sent", "rejected", "unknown", "skipped"):
        match = re.search(rf"│ {outcome}\s+│\s+([\d,]+) │", result.stdout)
        assert match, result.stdout
        assert int(match.group(1).replace(",", "")) == outcomes[outcome], outcome
    assert result.exit_code == 1  # some rows are unknown
    # Timing is printed for the curious, never asserted: the machine is shared.
    print(f"10,000 rows in {elapsed:.1f} s: {dict(outcomes)}")
