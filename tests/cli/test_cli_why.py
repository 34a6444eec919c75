"""``mindo bulk`` says why (issue 14 item 4): rows not sent are grouped by reason, with lines."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mindo_async.campaign import RowResult, Tally
from mindo_async.cli import app
from mindo_async.testing import Emulator, EmulatorServer, serve

BULK_ARGS = ["bulk", "--phone-number-id", "813497231850626"]


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A fresh emulator served over loopback sockets."""
    with serve(Emulator(seed=4)) as running:
        yield running


def test_summary_groups_rows_by_reason_with_line_numbers(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """A missing template: one rejected row with the API's message, the rest skipped by the
    breaker, each group with its count and first lines."""
    path = tmp_path / "c.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "template_name", "name", "code"])
        for i in range(8):
            template = "no_such_template" if i % 2 else "verification_code"
            writer.writerow([f"+54911{70000000 + i}", template, f"U{i}", "C1"])
    result = CliRunner().invoke(
        app,
        [*BULK_ARGS, str(path), "--concurrency", "1", "--no-preflight"],
        env={
            "MINDO_API_KEY": server.api_key,
            "MINDO_BASE_URL": server.base_url,
            "MINDO_DEFAULT_REGION": "",
            "COLUMNS": "200",
        },
    )
    assert result.exit_code == 1, result.output
    assert "1 rejected: TemplateNotFoundError" in result.stderr
    assert "(line 3)" in result.stderr
    assert "3 skipped: not attempted: this template is missing" in result.stderr
    assert "(lines 5, 7, 9)" in result.stderr


def test_why_keeps_a_few_lines_and_counts_all() -> None:
    """Each reason shows its count and at most five line numbers, most frequent first."""
    tally = Tally(rows=20)
    for line in range(2, 14):
        tally.add(RowResult(line, "+5491100000000", "rejected", None, "HTTP 400: bad", "rejected"))
    tally.add(RowResult(20, "+5491100000000", "unknown", None, "ReadTimeout", "unknown"))
    assert tally.why() == [
        "12 rejected: HTTP 400: bad (lines 2, 3, 4, 5, 6, ...)",
        "1 unknown: ReadTimeout (line 20)",
    ]


def test_sigterm_exit_status_is_143() -> None:
    """A run stopped by SIGTERM exits 143; by Ctrl-C, 130."""
    tally = Tally(rows=1, interrupted=True)
    assert tally.exit_code == 130
    tally.terminated = True
    assert tally.exit_code == 143
