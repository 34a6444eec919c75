"""Column mapping in ``mindo bulk`` (issue 14 item 7), on the vendored Excel export."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mindo_async.campaign import RowDefaults
from mindo_async.cli import app
from mindo_async.testing import Emulator, EmulatorServer, serve

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "campaign-ar-excel.csv"
BULK = ["bulk", "--phone-number-id", "813497231850626", "--template", "verification_code"]


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A fresh emulator served over loopback sockets."""
    with serve(Emulator(seed=8)) as running:
        yield running


def invoke(server: EmulatorServer, args: list[str]) -> Result:
    env = {
        "MINDO_API_KEY": server.api_key,
        "MINDO_BASE_URL": server.base_url,
        "MINDO_DEFAULT_REGION": "",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, args, env=env)


def test_reserved_columns_match_whatever_their_case() -> None:
    """Recipient_Phone, TEMPLATE_NAME, Button_0 are the reserved columns; variables keep case."""
    defaults = RowDefaults(renames=(("Telefono", "recipient_phone"),))
    assert defaults.column("Recipient_Phone") == "recipient_phone"
    assert defaults.column("TEMPLATE_NAME") == "template_name"
    assert defaults.column("Button_0") == "button_0"
    assert defaults.column("Telefono") == "recipient_phone"
    assert defaults.column("Nombre") == "Nombre"


def test_the_excel_export_runs_as_is_with_column_flags(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """--phone-column, --rename and --default-region send the export's 201 distinct numbers."""
    out = tmp_path / "out.jsonl"
    copy = tmp_path / SAMPLE.name  # the journal goes next to the file: not into tests/
    shutil.copyfile(SAMPLE, copy)
    result = invoke(
        server,
        [
            *BULK,
            str(copy),
            "--phone-column",
            "Telefono",
            "--rename",
            "Nombre=name",
            "--rename",
            "Pedido=code",
            "--default-region",
            "AR",
            "--skip-invalid",
            "--rate",
            "0",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output  # two rows are invalid
    rows = {row["line"]: row for row in map(json.loads, out.read_text("utf-8").splitlines())}
    assert len(server.ledger.messages) == 201
    assert server.ledger.duplicates() == []
    assert rows[19]["outcome"] == "rejected"
    assert rows[93]["outcome"] == "rejected"
    assert rows[45]["recipient_e164"] == "+12025550143"
    assert rows[63]["outcome"] == "skipped"
    assert sum(row["outcome"] == "sent" for row in rows.values()) == 201


def test_a_bad_rename_is_a_usage_error(server: EmulatorServer) -> None:
    """--rename needs COLUMN=NAME (refused before the file is read: no journal is made)."""
    result = invoke(server, [*BULK, str(SAMPLE), "--rename", "Nombre"])
    assert result.exit_code == 2
    assert "COLUMN=NAME" in result.output
