"""``mindo bulk --default-region`` (issue 14 item 1): national numbers, E.164 sent and shown."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mindo_async.cli import app
from mindo_async.testing import Emulator, EmulatorServer, serve

BULK = ["bulk", "--phone-number-id", "813497231850626", "--template", "verification_code"]
ROWS = [
    ("011 15-2345-6789", "Ana"),  # line 2
    ("+54 9 11 3423-6671", "Luis"),  # line 3
    ("15-2345", "Corto"),  # line 4: invalid
    ("5491123456789", "Ana"),  # line 5: line 2 written differently
]


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A fresh emulator served over loopback sockets."""
    with serve(Emulator(seed=3)) as running:
        yield running


def source(tmp_path: Path) -> Path:
    path = tmp_path / "campaign.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "name", "code"])
        writer.writerows([phone, name, "C1"] for phone, name in ROWS)
    return path


def invoke(server: EmulatorServer, args: list[str], **env: str) -> Result:
    environment = {
        "MINDO_API_KEY": server.api_key,
        "MINDO_BASE_URL": server.base_url,
        "MINDO_DEFAULT_REGION": "",
        "COLUMNS": "200",
        **env,
    }
    return CliRunner().invoke(app, args, env=environment)


def test_default_region_sends_e164_and_shows_it_next_to_the_original(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """--default-region AR: national rows are sent as E.164, --out shows both forms."""
    out = tmp_path / "out.jsonl"
    result = invoke(
        server,
        [
            *BULK,
            str(source(tmp_path)),
            "--default-region",
            "AR",
            "--skip-invalid",
            "--out",
            str(out),
        ],
    )
    rows = {row["line"]: row for row in map(json.loads, out.read_text("utf-8").splitlines())}
    assert result.exit_code == 1, result.output  # line 4 is rejected
    assert rows[2]["recipient_phone"] == "011 15-2345-6789"
    assert rows[2]["recipient_e164"] == "+5491123456789"
    assert rows[2]["outcome"] == "sent"
    assert rows[3]["recipient_e164"] == "+5491134236671"
    assert rows[4]["outcome"] == "rejected"
    assert rows[5]["outcome"] == "skipped"  # the same number as line 2
    assert sorted(e.recipient_phone for e in server.ledger.messages) == [
        "+5491123456789",
        "+5491134236671",
    ]


def test_region_from_the_environment(server: EmulatorServer, tmp_path: Path) -> None:
    """MINDO_DEFAULT_REGION gives the command its region."""
    result = invoke(
        server, [*BULK, str(source(tmp_path)), "--skip-invalid"], MINDO_DEFAULT_REGION="AR"
    )
    assert result.exit_code == 1, result.output
    assert len(server.ledger.messages) == 2


def test_without_a_region_national_rows_are_problems(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """Without a region nothing changes: national forms are refused before sending."""
    result = invoke(server, [*BULK, str(source(tmp_path))])
    assert result.exit_code == 2, result.output
    assert len(server.ledger.messages) == 0


def test_a_bad_region_is_a_usage_error(server: EmulatorServer, tmp_path: Path) -> None:
    """An unknown region is refused as a usage error, before reading the file."""
    result = invoke(server, [*BULK, str(source(tmp_path)), "--default-region", "Argentina"])
    assert result.exit_code == 2
    assert "default_region" in result.output
