"""The `mindo` command against a socket-served emulator: send, bulk, bad files, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mindo_async.cli import app
from mindo_async.testing import DEFAULT_API_KEY, Emulator, EmulatorServer, Fault, serve

NUMBER_ID = "813497231850626"
TEMPLATE = "verification_code"


def phone(i: int) -> str:
    """A valid Argentine mobile number, distinct for each ``i``."""
    return f"+54911{50000000 + i}"


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    """A fresh emulator served over loopback sockets."""
    with serve(Emulator(seed=5)) as running:
        yield running


def invoke(server: EmulatorServer | None, args: Sequence[str], **env: str) -> Result:
    """Run `mindo ARGS` in-process with the emulator's URL and key in the environment."""
    environment = {"MINDO_API_KEY": "", "MINDO_BASE_URL": "", "COLUMNS": "200"}
    if server is not None:
        environment.update(MINDO_API_KEY=server.api_key, MINDO_BASE_URL=server.base_url)
    environment.update(env)
    return CliRunner().invoke(app, list(args), env=environment)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def campaign(path: Path, count: int, start: int = 0) -> Path:
    """A valid campaign for the verification_code template."""
    return write_csv(
        path,
        ["recipient_phone", "name", "code"],
        [[phone(i), f"User {i}", f"C{i:04d}"] for i in range(start, start + count)],
    )


BULK = ["bulk", "--phone-number-id", NUMBER_ID, "--template", TEMPLATE, "--rate", "0"]


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def no_duplicates(server: EmulatorServer) -> bool:
    recipients = [message.recipient_phone for message in server.ledger.messages]
    return len(recipients) == len(set(recipients)) and not server.ledger.duplicates()


# -- send ------------------------------------------------------------------------------


def test_send_prints_the_message_id(server: EmulatorServer) -> None:
    """`mindo send` sends one message with its variables and prints its wamid, phone masked."""
    result = invoke(
        server,
        [
            "send",
            "--phone-number-id",
            NUMBER_ID,
            "--template",
            "welcome_message",
            "--to",
            "+5491112345678",
            "--var",
            "name=Juan Perez",
            "--var",
            "code=ABC123",
            "--button-var",
            "button_0=ABC-123",
        ],
    )
    assert result.exit_code == 0, result.output
    (message,) = server.ledger.messages
    assert message.variables == {"name": "Juan Perez", "code": "ABC123"}
    assert message.button_variables == {"button_0": "ABC-123"}
    assert message.message_id in result.stdout
    assert "+5491112345678" not in result.output
    assert "5678" in result.stdout


def test_send_json_prints_the_api_body(server: EmulatorServer) -> None:
    """`mindo send --json` prints the documented 200 body as JSON."""
    result = invoke(
        server,
        [
            "send",
            "--phone-number-id",
            NUMBER_ID,
            "--template",
            "order_update",
            "--to",
            "+5491112345678",
            "--var",
            "order_id=ORD-001",
            "--var",
            "status=In transit",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "sent"
    assert body["success"] is True
    assert body["message_id"] == server.ledger.messages[0].message_id
    assert body["sent_at"].endswith("Z")


def test_send_refused_template_exits_1_with_advice(server: EmulatorServer) -> None:
    """A 404 for a missing template exits 1, says what happened and what to do."""
    result = invoke(
        server,
        [
            "send",
            "--phone-number-id",
            NUMBER_ID,
            "--template",
            "no_such_template",
            "--to",
            "+5491112345678",
        ],
    )
    assert result.exit_code == 1
    assert "TemplateNotFoundError" in result.stderr
    assert "Check the template name" in result.stderr
    assert len(server.ledger) == 0


def test_send_json_error_body(server: EmulatorServer) -> None:
    """With --json an API error is printed as JSON with its status and advice."""
    result = invoke(
        server,
        [
            "send",
            "--phone-number-id",
            "999",
            "--template",
            TEMPLATE,
            "--to",
            "+5491112345678",
            "--json",
        ],
    )
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "PhoneNumberNotFoundError"
    assert error["status_code"] == 404
    assert error["may_have_been_delivered"] is False


def test_send_invalid_input_exits_2_without_a_request(server: EmulatorServer) -> None:
    """A bad phone number is refused before any I/O, with the field named, exit 2."""
    result = invoke(
        server,
        ["send", "--phone-number-id", NUMBER_ID, "--template", TEMPLATE, "--to", "12345"],
    )
    assert result.exit_code == 2
    assert "recipient_phone" in result.stderr
    assert server.ledger.counts["total_requests"] == 0


def test_send_may_have_been_delivered_says_so(server: EmulatorServer) -> None:
    """A 500 after processing exits 1 and tells the user it may have been delivered."""
    server.emulator.script(Fault.status(500))
    result = invoke(
        server,
        [
            "send",
            "--phone-number-id",
            NUMBER_ID,
            "--template",
            TEMPLATE,
            "--to",
            phone(1),
            "--var",
            "name=A",
            "--var",
            "code=B",
        ],
    )
    assert result.exit_code == 1
    assert "may have been delivered" in result.stderr
    assert server.ledger.counts["total_requests"] == 1


def test_send_without_api_key_exits_2_and_says_what_to_do() -> None:
    """No MINDO_API_KEY: exit 2, and the message names the variable to set."""
    result = invoke(
        None, ["send", "--phone-number-id", NUMBER_ID, "--template", TEMPLATE, "--to", phone(1)]
    )
    assert result.exit_code == 2
    assert "MINDO_API_KEY" in result.stderr


def test_send_bad_var_syntax_is_a_usage_error(server: EmulatorServer) -> None:
    """--var without NAME=VALUE is a usage error (exit 2) and nothing is sent."""
    result = invoke(
        server,
        [
            "send",
            "--phone-number-id",
            NUMBER_ID,
            "--template",
            TEMPLATE,
            "--to",
            phone(1),
            "--var",
            "name",
        ],
    )
    assert result.exit_code == 2
    assert server.ledger.counts["total_requests"] == 0


def test_api_key_never_printed(server: EmulatorServer) -> None:
    """Neither output nor the verbose log ever shows the API key."""
    secret = "mindo_secret_key_never_printed_0123"
    result = invoke(
        server,
        [
            "send",
            "--phone-number-id",
            NUMBER_ID,
            "--template",
            TEMPLATE,
            "--to",
            phone(1),
            "--verbose",
        ],
        MINDO_API_KEY=secret,
    )
    assert result.exit_code == 2  # the emulator refuses the key: a configuration error
    assert "AuthenticationError" in result.stderr
    assert secret not in result.output


# -- bulk: happy paths -----------------------------------------------------------------


def test_bulk_sends_every_row_and_writes_jsonl(server: EmulatorServer, tmp_path: Path) -> None:
    """A valid CSV: every row sent once, exit 0, --out has one JSON line per row."""
    source = campaign(tmp_path / "campaign.csv", 40)
    out = tmp_path / "results.jsonl"
    result = invoke(server, [*BULK, str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert [row["line"] for row in rows] == list(range(2, 42))
    assert {row["outcome"] for row in rows} == {"sent"}
    assert set(rows[0]) == {
        "line",
        "recipient_phone",
        "outcome",
        "message_id",
        "error",
        "recipient_e164",
    }
    ledger_ids = {message.message_id for message in server.ledger.messages}
    assert {row["message_id"] for row in rows} == ledger_ids
    assert [row["recipient_phone"] for row in rows] == [phone(i) for i in range(40)]
    assert len(server.ledger) == 40
    assert no_duplicates(server)
    assert "campaign.csv.journal.sqlite" in result.stderr
    assert (tmp_path / "campaign.csv.journal.sqlite").exists()


def test_bulk_writes_csv_results(server: EmulatorServer, tmp_path: Path) -> None:
    """--out results.csv has the same columns as the JSON Lines results."""
    source = campaign(tmp_path / "c.csv", 5)
    out = tmp_path / "results.csv"
    result = invoke(server, [*BULK, str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == [
        "line",
        "recipient_phone",
        "outcome",
        "message_id",
        "error",
        "recipient_e164",
    ]
    assert [row["outcome"] for row in rows] == ["sent"] * 5
    assert rows[0]["line"] == "2"
    assert rows[0]["error"] == ""


def test_bulk_jsonl_input_with_nested_variables(server: EmulatorServer, tmp_path: Path) -> None:
    """JSON Lines rows work with flat keys or the request body's nested objects."""
    source = tmp_path / "c.jsonl"
    source.write_text(
        json.dumps({"recipient_phone": phone(1), "name": "Ana", "code": 7})
        + "\n\n"
        + json.dumps({"recipient_phone": phone(2), "variables": {"name": "Bo", "code": "8"}})
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "r.jsonl"
    result = invoke(server, [*BULK, str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [row["line"] for row in read_jsonl(out)] == [1, 3]
    assert server.ledger.by_recipient(phone(1))[0].variables == {"name": "Ana", "code": "7"}


def test_row_columns_override_the_flags(server: EmulatorServer, tmp_path: Path) -> None:
    """phone_number_id, template_name and language columns override the flags per row."""
    # Different templates in one file need different variables: JSON Lines says it best.
    source = tmp_path / "c.jsonl"
    source.write_text(
        json.dumps({"recipient_phone": phone(1), "name": "A", "code": "1"})
        + "\n"
        + json.dumps(
            {
                "recipient_phone": phone(2),
                "template_name": "order_update",
                "order_id": "O-1",
                "status": "ok",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    result = invoke(server, [*BULK, str(source)])
    assert result.exit_code == 0, result.output
    assert server.ledger.by_recipient(phone(1))[0].template_name == TEMPLATE
    assert server.ledger.by_recipient(phone(2))[0].template_name == "order_update"


def test_semicolon_csv_and_button_columns(server: EmulatorServer, tmp_path: Path) -> None:
    """A ';'-separated CSV (Excel in many locales) works; button_0 becomes a button variable."""
    source = tmp_path / "c.csv"
    source.write_text(
        f"\ufeffrecipient_phone;name;code;button_0\n{phone(1)};Juan;X1;abc\n", encoding="utf-8"
    )
    result = invoke(
        server,
        ["bulk", str(source), "--phone-number-id", NUMBER_ID, "--template", "welcome_message"],
    )
    assert result.exit_code == 0, result.output
    (message,) = server.ledger.messages
    assert message.button_variables == {"button_0": "abc"}
    assert message.variables == {"name": "Juan", "code": "X1"}


def test_dry_run_checks_and_sends_nothing(server: EmulatorServer, tmp_path: Path) -> None:
    """--dry-run checks the whole file, exits 0, sends nothing and creates no journal."""
    source = campaign(tmp_path / "c.csv", 10)
    result = invoke(server, [*BULK, str(source), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "10 valid" in result.stdout
    assert "Nothing was sent" in result.stdout
    assert server.ledger.counts["total_requests"] == 0
    assert not (tmp_path / "c.csv.journal.sqlite").exists()


def test_dry_run_needs_no_api_key(tmp_path: Path) -> None:
    """A dry run works without any configuration."""
    result = invoke(None, [*BULK, str(campaign(tmp_path / "c.csv", 3)), "--dry-run"])
    assert result.exit_code == 0, result.output


def test_duplicate_rows_are_sent_once_and_count_as_done(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """A row repeated in the file is sent once; the repeat is skipped with the same id; exit 0."""
    source = write_csv(
        tmp_path / "c.csv",
        ["recipient_phone", "name", "code"],
        [[phone(1), "A", "1"], [phone(2), "B", "2"], [phone(1), "A", "1"]],
    )
    out = tmp_path / "r.jsonl"
    result = invoke(server, [*BULK, str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    first, _, repeat = read_jsonl(out)
    assert repeat["outcome"] == "skipped"
    assert repeat["message_id"] == first["message_id"]
    assert "repeat an earlier row" in result.stdout
    assert len(server.ledger) == 2


# -- bulk: bad files -----------------------------------------------------------------------

GOOD = f"{phone(1)},Juan,A1\n"

BAD_FILES: dict[str, tuple[str, bytes, list[str]]] = {
    # name: (file name, content, text that must be in the output)
    "missing recipient column": (
        "c.csv",
        f"phone,name,code\n{phone(1)},Juan,A1\n".encode(),
        ["line 1", "no 'recipient_phone' column", "rename 'phone'"],
    ),
    "bad numbers on some rows": (
        "c.csv",
        (
            "recipient_phone,name,code\n"
            + GOOD
            + "+549111234,Ana,B2\n"
            + GOOD.replace("1,", "2,", 1)
            + "11 5555-1234,Pedro,C3\n"
        ).encode(),
        ["line 3: recipient_phone", "line 5: recipient_phone", "2 with problems"],
    ),
    "unknown variable (inconsistent keys)": (
        "c.jsonl",
        (
            json.dumps({"recipient_phone": phone(1), "name": "A", "code": "1"})
            + "\n"
            + json.dumps({"recipient_phone": phone(2), "name": "B", "code": "2"})
            + "\n"
            + json.dumps({"recipient_phone": phone(3), "nmae": "C", "code": "3"})
            + "\n"
        ).encode(),
        ["line 3: variables: unknown variable(s) 'nmae'", "missing: 'name'"],
    ),
    "empty variable cell": (
        "c.csv",
        f"recipient_phone,name,code\n{GOOD}{phone(2)},,B2\n{phone(3)},Ana,C3\n".encode(),
        ["line 3: variables: missing or empty: 'name'"],
    ),
    "column that cannot be a variable": (
        "c.csv",
        f"recipient_phone,First Name,code\n{GOOD}".encode(),
        ["line 1", "'First Name' cannot be a template variable", "first_name"],
    ),
    "empty file": ("c.csv", b"", ["the file is empty"]),
    "whitespace only": ("c.csv", b"\n  \n", ["the file is empty"]),
    "header but no rows": ("c.csv", b"recipient_phone,name\n", ["header but no rows"]),
    "binary file": ("c.csv", bytes(range(256)) * 4, ["line 1", "binary file"]),
    "excel workbook": ("c.csv", b"PK\x03\x04" + bytes(100), ["binary file", "xlsx"]),
    "latin-1": (
        "c.csv",
        f"recipient_phone,name,code\n{GOOD}{phone(2)},José,B2\n".encode("latin-1"),
        ["line 3", "not valid UTF-8", "Latin-1"],
    ),
    "utf-16": (
        "c.csv",
        f"recipient_phone,name,code\n{GOOD}".encode("utf-16"),
        ["line 1", "UTF-16"],
    ),
    "wrong number of cells": (
        "c.csv",
        f"recipient_phone,name,code\n{GOOD}{phone(2)},Ana,B,2\n".encode(),
        ["line 3", "4 values but the header has 3 columns"],
    ),
    "not JSON": (
        "c.jsonl",
        (
            json.dumps({"recipient_phone": phone(1), "name": "A", "code": "1"}) + "\n{oops\n"
        ).encode(),
        ["line 2: not valid JSON"],
    ),
    "a JSON array": (
        "c.json",
        b'[{"recipient_phone": "+5491150000001"}]\n',
        ["line 1", "JSON Lines"],
    ),
    "no recipient key in JSON Lines": (
        "c.jsonl",
        b'{"phone": "+5491150000001", "name": "A", "code": "1"}\n',
        ["no row has a 'recipient_phone' key"],
    ),
    "multi-line quoted cell keeps line numbers": (
        "c.csv",
        f'recipient_phone,name,code\n{phone(1)},"Juan\nPerez",A1\n{phone(2)},Ana,\n'.encode(),
        ["line 4: variables: missing or empty: 'code'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_files_are_refused_with_line_numbers_and_no_sends(
    case: str, server: EmulatorServer, tmp_path: Path
) -> None:
    """Each bad file gets a clear message (with its line when it has one), exit 2, zero requests."""
    name, content, expected = BAD_FILES[case]
    source = tmp_path / name
    source.write_bytes(content)
    result = invoke(server, [*BULK, str(source)])
    assert result.exit_code == 2, result.output
    for text in expected:
        assert text in result.output, (text, result.output)
    assert "Nothing was sent" in result.output
    assert server.ledger.counts["total_requests"] == 0
    assert "50000002" not in result.output.replace("line", "")  # phone numbers are not echoed


def test_declared_variables_refuse_unknown_columns(server: EmulatorServer, tmp_path: Path) -> None:
    """With --variables, a column the template does not have is refused before sending."""
    source = write_csv(
        tmp_path / "c.csv", ["recipient_phone", "name", "cdoe"], [[phone(1), "A", "1"]]
    )
    result = invoke(server, [*BULK, str(source), "--variables", "name,code"])
    assert result.exit_code == 2
    assert "line 1: unknown variable 'cdoe'" in result.stderr
    assert server.ledger.counts["total_requests"] == 0


def test_declared_variables_require_every_variable(server: EmulatorServer, tmp_path: Path) -> None:
    """With --variables, a row that leaves a variable empty is refused with its line."""
    source = write_csv(
        tmp_path / "c.csv",
        ["recipient_phone", "name", "code"],
        [[phone(1), "A", "1"], [phone(2), "B", ""]],
    )
    result = invoke(server, [*BULK, str(source), "--variables", "name,code"])
    assert result.exit_code == 2
    assert "line 3: missing variable(s) 'code'" in result.stdout
    assert server.ledger.counts["total_requests"] == 0


def test_missing_template_everywhere_is_a_usage_error(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """No --template and no template_name column: exit 2 saying what to pass."""
    source = campaign(tmp_path / "c.csv", 2)
    result = invoke(server, ["bulk", str(source), "--phone-number-id", NUMBER_ID])
    assert result.exit_code == 2
    assert "pass --template" in result.stderr
    assert server.ledger.counts["total_requests"] == 0


def test_missing_file_is_a_usage_error(server: EmulatorServer, tmp_path: Path) -> None:
    """A file that does not exist: exit 2 and a clear message."""
    result = invoke(server, [*BULK, str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_skip_invalid_sends_the_valid_rows(server: EmulatorServer, tmp_path: Path) -> None:
    """--skip-invalid sends the valid rows; invalid ones are rejected in --out; exit 1."""
    source = write_csv(
        tmp_path / "c.csv",
        ["recipient_phone", "name", "code"],
        [[phone(1), "A", "1"], ["+549111234", "B", "2"], [phone(3), "C", "3"]],
    )
    out = tmp_path / "r.jsonl"
    result = invoke(server, [*BULK, str(source), "--skip-invalid", "--out", str(out)])
    assert result.exit_code == 1, result.output
    rows = read_jsonl(out)
    assert [(row["line"], row["outcome"]) for row in rows] == [
        (2, "sent"),
        (3, "rejected"),
        (4, "sent"),
    ]
    assert "recipient_phone" in str(rows[1]["error"])
    assert len(server.ledger) == 2


# -- bulk: exit codes and the journal ------------------------------------------------------


def test_rows_refused_by_the_api_exit_1(server: EmulatorServer, tmp_path: Path) -> None:
    """Rows of a template that is not approved: one rejected, the rest skipped by the breaker."""
    source = write_csv(
        tmp_path / "c.csv",
        ["recipient_phone", "template_name", "name"],
        [[phone(i), "promo_pending", "A"] for i in range(5)],
    )
    out = tmp_path / "r.jsonl"
    # --no-preflight: this test counts sends (the pre-flight reads the account first).
    result = invoke(
        server, [*BULK, str(source), "--out", str(out), "--concurrency", "1", "--no-preflight"]
    )
    assert result.exit_code == 1, result.output
    outcomes = [row["outcome"] for row in read_jsonl(out)]
    assert outcomes == ["rejected"] + ["skipped"] * 4
    assert server.ledger.counts["total_requests"] == 1


def test_refused_api_key_in_bulk_exits_2(server: EmulatorServer, tmp_path: Path) -> None:
    """A 401 stops the run: exit 2 (configuration), with what to check."""
    source = campaign(tmp_path / "c.csv", 5)
    result = invoke(
        server, [*BULK, str(source), "--concurrency", "1"], MINDO_API_KEY="mindo_wrong_key"
    )
    assert result.exit_code == 2, result.output
    assert "check MINDO_API_KEY" in result.stderr
    assert server.ledger.counts["unauthorized"] == 1


def test_rerun_sends_nothing_twice_and_reports_rows_done(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """Running the same command again sends nothing; rows are reported already sent, exit 0."""
    source = campaign(tmp_path / "c.csv", 30)
    first_out, second_out = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    # --no-preflight: this test counts sends (the pre-flight reads the account first).
    command = [*BULK, "--no-preflight", str(source)]
    assert invoke(server, [*command, "--out", str(first_out)]).exit_code == 0
    result = invoke(server, [*command, "--out", str(second_out)])
    assert result.exit_code == 0, result.output
    assert "resuming" in result.stderr
    assert "30 already sent by an earlier run" in result.stdout
    first, second = read_jsonl(first_out), read_jsonl(second_out)
    assert {row["outcome"] for row in second} == {"skipped"}
    assert [row["message_id"] for row in second] == [row["message_id"] for row in first]
    assert server.ledger.counts["total_requests"] == 30
    assert no_duplicates(server)


def test_rerun_after_adding_rows_sends_only_the_new_ones(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """The journal is keyed by each row's content: rows added later are sent, the rest not."""
    source = campaign(tmp_path / "c.csv", 10)
    assert invoke(server, [*BULK, str(source)]).exit_code == 0
    campaign(source, 15)
    result = invoke(server, [*BULK, str(source)])
    assert result.exit_code == 0, result.output
    assert len(server.ledger) == 15
    assert no_duplicates(server)


def test_unknown_rows_exit_1_and_are_not_resent(server: EmulatorServer, tmp_path: Path) -> None:
    """A row whose answer was lost is unknown (exit 1); a rerun does not send it again."""
    source = campaign(tmp_path / "c.csv", 3)
    server.emulator.script(Fault.drop_after_processing())
    out = tmp_path / "r.jsonl"
    result = invoke(server, [*BULK, str(source), "--concurrency", "1", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert [row["outcome"] for row in read_jsonl(out)] == ["unknown", "sent", "sent"]
    assert "may have been delivered" in result.stderr
    rerun = invoke(server, [*BULK, str(source), "--out", str(out)])
    assert rerun.exit_code == 1
    assert read_jsonl(out)[0]["outcome"] == "skipped"
    assert "left it unknown" in str(read_jsonl(out)[0]["error"])
    assert len(server.ledger) == 3
    assert no_duplicates(server)
    forced = invoke(server, [*BULK, str(source), "--retry-unknown"])
    assert forced.exit_code == 0
    assert len(server.ledger.by_recipient(phone(0))) == 2  # resent, knowingly


def test_rejected_rows_are_sent_on_rerun(server: EmulatorServer, tmp_path: Path) -> None:
    """Rows that never reached the API (503 to the end) are sent by the rerun; exit 0 then."""
    source = campaign(tmp_path / "c.csv", 2)
    server.emulator.script(*[Fault.status(503)] * 3)
    first = invoke(server, [*BULK, str(source), "--concurrency", "1"])
    assert first.exit_code == 1, first.output
    assert len(server.ledger) == 1
    second = invoke(server, [*BULK, str(source)])
    assert second.exit_code == 0, second.output
    assert len(server.ledger) == 2
    assert no_duplicates(server)


def test_custom_journal_and_no_journal(server: EmulatorServer, tmp_path: Path) -> None:
    """--journal puts the journal where asked; --no-journal keeps none (a rerun sends again)."""
    source = campaign(tmp_path / "c.csv", 2)
    journal = tmp_path / "elsewhere.sqlite"
    assert invoke(server, [*BULK, str(source), "--journal", str(journal)]).exit_code == 0
    assert journal.exists()
    assert not (tmp_path / "c.csv.journal.sqlite").exists()
    other = campaign(tmp_path / "d.csv", 2, start=10)
    assert invoke(server, [*BULK, str(other), "--no-journal"]).exit_code == 0
    assert invoke(server, [*BULK, str(other), "--no-journal"]).exit_code == 0
    assert not (tmp_path / "d.csv.journal.sqlite").exists()
    assert len(server.ledger.by_recipient(phone(10))) == 2


def test_bad_out_suffix_is_a_usage_error(server: EmulatorServer, tmp_path: Path) -> None:
    """--out must be .jsonl or .csv; otherwise exit 2 before sending."""
    source = campaign(tmp_path / "c.csv", 2)
    result = invoke(server, [*BULK, str(source), "--out", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 2
    assert ".jsonl or .csv" in result.stderr
    assert server.ledger.counts["total_requests"] == 0


# -- emulator, demo, entry points ----------------------------------------------------------


def test_emulator_command_is_registered() -> None:
    """`mindo emulator --help` is the emulator's own command."""
    result = invoke(None, ["emulator", "--help"])
    assert result.exit_code == 0
    assert "--latency-ms" in result.output


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_demo_runs_and_agrees_with_the_ledger() -> None:
    """`mindo demo --count 150` runs the bulk path with faults and checks it against the ledger."""
    result = invoke(None, ["demo", "--count", "150"])
    assert result.exit_code == 0, result.output
    assert "150 rows" in result.stdout
    assert "agree with the ledger" in result.stdout
    assert "0 duplicates" in result.stdout


def test_python_dash_m_runs_the_command() -> None:
    """`python -m mindo_async --help` lists the commands."""
    done = subprocess.run(
        [sys.executable, "-m", "mindo_async", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for command in ("send", "bulk", "emulator", "demo"):
        assert command in done.stdout


def test_api_key_from_environment_only(server: EmulatorServer, tmp_path: Path) -> None:
    """The --api-key flag overrides the environment, and the default key works."""
    source = campaign(tmp_path / "c.csv", 1)
    result = invoke(server, [*BULK, str(source), "--api-key", DEFAULT_API_KEY], MINDO_API_KEY="")
    assert result.exit_code == 0, result.output


def test_out_cannot_overwrite_the_input(server: EmulatorServer, tmp_path: Path) -> None:
    """--out pointing at the input file is refused before anything is sent or overwritten."""
    source = campaign(tmp_path / "c.csv", 2)
    before = source.read_bytes()
    result = invoke(server, [*BULK, str(source), "--out", str(source)])
    assert result.exit_code == 2
    assert source.read_bytes() == before
    assert server.ledger.counts["total_requests"] == 0


def test_missing_cli_extra_gives_one_clear_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without typer installed, `mindo` says which extra to install and exits 2."""
    from mindo_async import cli

    monkeypatch.setitem(sys.modules, "typer", None)
    for name in [name for name in sys.modules if name.startswith("mindo_async.cli.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 2
    assert 'pip install "mindo-async[cli]"' in capsys.readouterr().err
