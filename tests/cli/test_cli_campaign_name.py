"""Recurring campaigns (issue 14 item 12): ``--campaign NAME`` and "nothing to send"."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mindo_async.cli import app
from mindo_async.testing import Emulator, EmulatorServer, serve

BULK = ["bulk", "--phone-number-id", "813497231850626", "--template", "verification_code"]


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A fresh emulator served over loopback sockets."""
    with serve(Emulator(seed=6)) as running:
        yield running


def source(tmp_path: Path) -> Path:
    path = tmp_path / "weekly.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "name", "code"])
        writer.writerows([f"+54911{80000000 + i}", f"U{i}", "C1"] for i in range(3))
    return path


def invoke(server: EmulatorServer, args: list[str]) -> Result:
    env = {
        "MINDO_API_KEY": server.api_key,
        "MINDO_BASE_URL": server.base_url,
        "MINDO_DEFAULT_REGION": "",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, args, env=env)


def test_rerun_says_nothing_to_send_and_campaign_sends_again(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """The same file again: nothing sent, exit 0, says so; --campaign starts a new journal."""
    path = source(tmp_path)
    assert invoke(server, [*BULK, str(path)]).exit_code == 0
    again = invoke(server, [*BULK, str(path)])
    assert again.exit_code == 0, again.output
    assert "Nothing to send: 3 rows already done by an earlier run" in again.stderr
    assert "weekly.csv.journal.sqlite" in again.stderr
    assert "--campaign" in again.stderr
    assert len(server.ledger.messages) == 3
    next_week = invoke(server, [*BULK, str(path), "--campaign", "2026-w49"])
    assert next_week.exit_code == 0, next_week.output
    assert len(server.ledger.messages) == 6
    assert (tmp_path / "weekly.csv.2026-w49.journal.sqlite").exists()
    assert (tmp_path / "weekly.csv.journal.sqlite").exists()


def test_a_bad_campaign_name_is_a_usage_error(server: EmulatorServer, tmp_path: Path) -> None:
    """A campaign name that would not make a plain file name is refused, nothing sent."""
    result = invoke(server, [*BULK, str(source(tmp_path)), "--campaign", "../x"])
    assert result.exit_code == 2
    assert len(server.ledger.messages) == 0
