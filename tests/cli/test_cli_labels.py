"""``mindo bulk``'s labels and numbers (issue 14 item 11): UNKNOWN rows are counted the
same way by the summary table and the lines under it, in-file repeats are this run's
repeats, and the live bar's ETA follows the sends only."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mindo_async import Progress
from mindo_async.cli import app
from mindo_async.cli.campaign import _Bar
from mindo_async.testing import Emulator, EmulatorServer, Fault, serve

NUMBER = "813497231850626"


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A fresh emulator served over loopback sockets."""
    with serve(Emulator(seed=4)) as running:
        yield running


def write_rows(path: Path, phones: list[str]) -> None:
    """A verification_code campaign, one row per phone, in order."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "template_name", "name", "code"])
        for i, phone in enumerate(phones):
            writer.writerow([phone, "verification_code", f"U{i}", "C1"])


def run_bulk(server: EmulatorServer, path: Path, *extra: str) -> tuple[int, str, str]:
    """``mindo bulk`` over ``path`` one row at a time: exit status, stdout, stderr."""
    result = CliRunner().invoke(
        app,
        [
            *("bulk", "--phone-number-id", NUMBER, str(path)),
            *("--concurrency", "1", "--no-preflight", *extra),
        ],
        env={
            "MINDO_API_KEY": server.api_key,
            "MINDO_BASE_URL": server.base_url,
            "MINDO_DEFAULT_REGION": "",
            "COLUMNS": "200",
        },
    )
    return result.exit_code, result.stdout, result.stderr


def table_count(stdout: str, outcome: str) -> int:
    """The rows column of the summary table's ``outcome`` line."""
    match = re.search(rf"│ {outcome}\s*│\s*([\d,]+) │", stdout)
    assert match is not None, stdout
    return int(match.group(1).replace(",", ""))


def footer_count(text: str, pattern: str) -> int:
    """The count in front of ``pattern`` in the lines under the table (0 when absent)."""
    match = re.search(rf"([\d,]+) rows? {pattern}", text)
    return int(match.group(1).replace(",", "")) if match else 0


def test_table_and_footer_count_unknown_rows_the_same_way(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """Dropped sends (UNKNOWN) and rows an earlier run left unknown: the footer's counts are
    the table's, run after run (it once added the earlier run's rows to this run's)."""
    path = tmp_path / "c.csv"
    phones = [f"+54911{70000000 + i}" for i in range(8)]
    write_rows(path, phones[:6])
    server.emulator.script(Fault.drop_after_processing(), Fault.drop_after_processing())
    status, stdout, stderr = run_bulk(server, path)
    assert status == 1, stdout + stderr
    assert table_count(stdout, "unknown") == 2
    assert footer_count(stderr, r"may have been delivered \(unknown\)") == 2
    assert footer_count(stderr, "left unknown by an earlier run") == 0

    # The rerun: two rows left unknown are skipped, a new row is dropped (UNKNOWN).
    write_rows(path, phones)
    server.emulator.script(Fault.none(), Fault.drop_after_processing())
    status, stdout, stderr = run_bulk(server, path)
    assert status == 1, stdout + stderr
    unknown_now = table_count(stdout, "unknown")
    assert unknown_now == 1
    assert footer_count(stderr, r"may have been delivered \(unknown\)") == unknown_now
    skipped_line = re.search(r"│ skipped\s*│.*│ (.*)│", stdout)
    assert skipped_line is not None
    earlier_in_table = re.search(r"([\d,]+) left unknown by an earlier run", skipped_line.group(1))
    assert earlier_in_table is not None
    assert int(earlier_in_table.group(1)) == 2
    assert footer_count(stderr, "left unknown by an earlier run") == 2
    assert "Sending: 8/8 rows" in stderr
    assert "unknown 1, skipped 6" in stderr  # the progress line counts as the table does


def test_in_file_repeats_are_labelled_as_this_runs_repeats(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """A row repeating an earlier row of the file is "a repeat of a row sent once" (with its
    message id), never "already sent by an earlier run", in the table, the why and --out."""
    path = tmp_path / "c.csv"
    out = tmp_path / "out.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "template_name", "name", "code"])
        writer.writerow(["+5491170000001", "verification_code", "Ana", "C1"])
        writer.writerow(["+5491170000002", "verification_code", "Bea", "C1"])
        writer.writerow(["+5491170000001", "verification_code", "Ana", "C1"])
    status, stdout, stderr = run_bulk(server, path, "--out", str(out))
    assert status == 0, stdout + stderr
    assert "1 repeats of a row sent once" in stdout
    assert "earlier run" not in stdout + stderr
    with out.open(encoding="utf-8", newline="") as handle:
        rows = {int(row["line"]): row for row in csv.DictReader(handle)}
    assert rows[4]["outcome"] == "skipped"
    assert rows[4]["error"] == "already sent by an identical earlier row of this file"
    assert rows[4]["message_id"] == rows[2]["message_id"] != ""
    assert len(server.emulator.ledger.messages) == 2


def test_the_live_bar_leaves_skipped_rows_out_of_its_eta() -> None:
    """After a resume (1,000 rows skipped, 10 sent), the bar's total and completed count only
    the rows to send, so rich's ETA follows the sends."""

    class Resumed(Progress):
        """Ten seconds in, whatever the clock says."""

        @property
        def elapsed(self) -> float:
            return 10.0

    bar = _Bar(Console(file=io.StringIO(), force_terminal=True, width=200), total=2000, invalid=0)
    bar._latest = Resumed(total=2000, sent=10, skipped=1000)
    bar.refresh()
    task = bar._progress.tasks[0]
    assert (task.total, task.completed) == (1000, 10)
    assert task.fields["rate"] == "1/s"
