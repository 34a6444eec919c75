"""`mindo account/message/contact/business` and the pre-flight of `mindo bulk`, over sockets."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mindo_async.cli import app
from mindo_async.testing import (
    DEFAULT_API_KEY,
    DEFAULT_PHONE_NUMBER_ID,
    Emulator,
    EmulatorData,
    EmulatorServer,
    MessageLifecycle,
    PhoneNumber,
    VirtualClock,
    serve,
)

NUMBER_ID = DEFAULT_PHONE_NUMBER_ID
TEMPLATE = "verification_code"
OTHER_KEY = "mindo_" + "s" * 24
OLD_KEY = "mindo_" + "o" * 24


def data(tier: str = "TIER_100000") -> EmulatorData:
    """The emulator's seed, the number at ``tier``; a key that may only send, an expired one."""
    return EmulatorData(
        api_keys=[DEFAULT_API_KEY, OTHER_KEY, OLD_KEY],
        phone_numbers=[PhoneNumber(NUMBER_ID, tier=tier, is_primary=True, id=123)],
        api_key_scopes={OTHER_KEY: ["send"]},
        expired_api_keys=[OLD_KEY],
    )


@pytest.fixture
def emulator() -> Emulator:
    """The emulator on a virtual clock; every message is read an hour after it is sent."""
    return Emulator(
        data(),
        seed=7,
        clock=VirtualClock(),
        lifecycle=MessageLifecycle(failure_share=0.0, read_share=1.0),
    )


@pytest.fixture
def server(emulator: Emulator) -> Iterator[EmulatorServer]:
    """The emulator over loopback sockets."""
    with serve(emulator) as running:
        yield running


def invoke(server: EmulatorServer, args: Sequence[str], key: str | None = None) -> Result:
    """Run `mindo ARGS` in-process against the server."""
    env = {
        "MINDO_API_KEY": key or server.api_key,
        "MINDO_BASE_URL": server.base_url,
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, list(args), env=env)


def phone(i: int) -> str:
    return f"+54911{60000000 + i}"


def campaign(path: Path, count: int, *, extra: str | None = None) -> Path:
    header = ["recipient_phone", "name", "code"] + ([extra] if extra else [])
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for i in range(count):
            writer.writerow([phone(i), f"User {i}", f"C{i:04d}"] + (["x"] if extra else []))
    return path


BULK = ["bulk", "--phone-number-id", NUMBER_ID, "--template", TEMPLATE, "--rate", "0"]


# -- account, contact, business, message ------------------------------------------------


def test_account_shows_numbers_tier_quota_and_templates(server: EmulatorServer) -> None:
    """`mindo account` lists the number with its tier and quota and every template's variables."""
    result = invoke(server, ["account"])
    assert result.exit_code == 0, result.output
    assert NUMBER_ID in result.stdout
    assert "TIER_100000" in result.stdout
    assert "0/100000" in result.stdout
    assert "verification_code" in result.stdout
    assert "name* TEXT" in result.stdout


def test_account_json_is_the_parsed_model(server: EmulatorServer) -> None:
    """`mindo account --json` prints the model in snake_case, enums as their values."""
    result = invoke(server, ["account", "--json"])
    assert result.exit_code == 0, result.output
    (account,) = json.loads(result.stdout)["business_accounts"]
    number = account["phone_numbers"][0]
    assert number["phone_number_id"] == NUMBER_ID
    assert number["messaging_limit_tier"] == "TIER_100000"
    assert number["quota"]["remaining"] == 100_000
    assert TEMPLATE in [t["name"] for t in account["templates"]]


def test_account_with_an_expired_key_exits_2(server: EmulatorServer) -> None:
    """A 401 "API Key expirada" is a usage error: exit 2 with what to check."""
    result = invoke(server, ["account"], key=OLD_KEY)
    assert result.exit_code == 2
    assert "AuthenticationError" in result.stderr
    assert "expirada" in result.stderr
    assert "MINDO_API_KEY" in result.stderr


def test_contact_masks_the_phone_and_json_has_every_field(
    server: EmulatorServer, emulator: Emulator
) -> None:
    """`mindo contact` finds the seeded contact (phone masked in text); --json after a reply."""
    text = invoke(server, ["contact", "+54 223 15-596-1983"])
    assert text.exit_code == 0, text.output
    assert "Juan Perez" in text.stdout
    assert "+5492235961983" not in text.stdout
    assert "closed" in text.stdout
    emulator.reply("+5492235961983")
    data = json.loads(invoke(server, ["contact", "5492235961983", "--json"]).stdout)
    assert data["found"] is True
    assert data["has_replied"] is True
    assert data["session_window_active"] is True
    assert data["contact"]["full_name"] == "Juan Perez"


def test_contact_refuses_what_is_not_a_phone(server: EmulatorServer) -> None:
    """A value that is not phone-like exits 2 without a request."""
    result = invoke(server, ["contact", "hola"])
    assert result.exit_code == 2
    assert "phone" in result.stderr
    assert server.ledger.counts["total_requests"] == 0


def test_business_commands(server: EmulatorServer) -> None:
    """`mindo business info|hours|holidays` print each answer; holidays honours --from/--to."""
    info = invoke(server, ["business", "info"])
    assert info.exit_code == 0, info.output
    assert "America/Argentina/Buenos_Aires" in info.stdout
    hours = json.loads(invoke(server, ["business", "hours", "--json"]).stdout)
    assert hours[0]["schedules"][0]["start_time"] == "09:00:00"
    text = invoke(server, ["business", "holidays", "--from", "2026-12-01", "--to", "2026-12-31"])
    assert text.exit_code == 0, text.output
    assert "Nochebuena" in text.stdout
    assert "09:00-13:00" in text.stdout
    assert "Año Nuevo" not in text.stdout
    selected = json.loads(
        invoke(
            server, ["business", "holidays", "--from", "2026-01-01", "--to", "2026-01-01", "--json"]
        ).stdout
    )
    assert [h["date"] for h in selected] == ["2026-01-01"]
    assert invoke(server, ["business", "holidays", "--from", "1/1/2026"]).exit_code == 2


def test_message_shows_the_status(server: EmulatorServer, emulator: Emulator) -> None:
    """`mindo message WAMID` prints the status as it moves; --json the model."""
    sent = invoke(
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
            "name=Ana",
            "--var",
            "code=1",
            "--json",
        ],
    )
    wamid = json.loads(sent.stdout)["message_id"]
    first = invoke(server, ["message", wamid])
    assert first.exit_code == 0, first.output
    assert ": sent" in first.stdout
    emulator.advance(3600)
    data = json.loads(invoke(server, ["message", wamid, "--json"]).stdout)
    assert data["delivery_status"]["current"] == "read"
    assert data["meta_message_id"] == wamid


def test_message_of_an_unknown_id_exits_1(server: EmulatorServer) -> None:
    """An unknown wamid (the API's JSON 404) is NotFoundError: exit 1."""
    result = invoke(server, ["message", "wamid.NOPE="])
    assert result.exit_code == 1
    assert "NotFoundError" in result.stderr


def test_message_on_a_server_without_the_endpoint() -> None:
    """A server that does not offer message status (HTML 404) says so; exit 1."""
    with serve(Emulator(message_status_available=False)) as running:
        result = invoke(running, ["message", "wamid.ABC="])
    assert result.exit_code == 1
    assert "does not offer" in result.stderr


# -- bulk: the pre-flight ----------------------------------------------------------------


def test_bulk_runs_the_preflight_and_sends(server: EmulatorServer, tmp_path: Path) -> None:
    """A clean campaign passes the pre-flight, is sent, and the quota is shown before/after."""
    result = invoke(server, [*BULK, str(campaign(tmp_path / "c.csv", 5))])
    assert result.exit_code == 0, result.output
    assert "Pre-flight against the account: 5 rows checked, 0 with problems" in result.stdout
    assert f"Quota of {NUMBER_ID}: before 0 used of 100,000 (100,000 left); after 5 used" in (
        result.stdout
    )
    assert len(server.ledger.messages) == 5


def test_bulk_preflight_problems_are_listed_by_line_and_nothing_is_sent(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """A column the template does not have is a problem on every line: exit 2, nothing sent."""
    source = campaign(tmp_path / "c.csv", 3, extra="coupon")
    result = invoke(server, [*BULK, str(source)])
    assert result.exit_code == 2, result.output
    assert "line 2:" in result.stdout
    assert "line 4:" in result.stdout
    assert "has no variable 'coupon'" in result.stdout
    assert "--skip-invalid" in result.stderr
    assert server.ledger.messages == ()


def test_bulk_skip_invalid_rejects_the_rows_with_problems(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """--skip-invalid: the pre-flight's problem rows are reported rejected, the rest sent."""
    source = tmp_path / "c.csv"
    with source.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "template_name", "name", "code"])
        writer.writerow([phone(1), TEMPLATE, "A", "1"])
        writer.writerow([phone(2), "no_such_template", "B", "2"])
        writer.writerow([phone(3), TEMPLATE, "C", "3"])
    out = tmp_path / "r.jsonl"
    result = invoke(
        server,
        [
            "bulk",
            "--phone-number-id",
            NUMBER_ID,
            "--rate",
            "0",
            str(source),
            "--skip-invalid",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["outcome"] for r in rows] == ["sent", "rejected", "sent"]
    assert "pre-flight" in rows[1]["error"]
    assert len(server.ledger.messages) == 2


def test_bulk_refuses_a_campaign_beyond_the_quota(emulator: Emulator, tmp_path: Path) -> None:
    """53 recipients on a TIER_50 number: exit 2, the message says 50 fit today, nothing sent."""
    emulator.data = data("TIER_50")
    with serve(emulator) as server:
        result = invoke(server, [*BULK, str(campaign(tmp_path / "c.csv", 53))])
    assert result.exit_code == 2, result.output
    assert "room for 50 more recipients today" in result.stderr
    assert "3 would fail" in result.stderr
    assert "--allow-partial-quota" in result.stderr
    assert emulator.ledger.messages == ()


def test_allow_partial_quota_sends_what_fits_and_the_next_day_continues(
    emulator: Emulator, tmp_path: Path
) -> None:
    """--allow-partial-quota sends 50 of 53 (exit 0); a day later the same command sends 3."""
    emulator.data = data("TIER_50")
    source = campaign(tmp_path / "c.csv", 53)
    out = tmp_path / "r.jsonl"
    with serve(emulator) as server:
        first = invoke(server, [*BULK, str(source), "--allow-partial-quota", "--out", str(out)])
        assert first.exit_code == 0, first.output
        outcomes = [json.loads(line)["outcome"] for line in out.read_text().splitlines()]
        assert outcomes == ["sent"] * 50 + ["skipped"] * 3
        assert "left for later by the quota" in first.stderr
        assert "after 50 used (0 left)" in first.stdout
        emulator.advance(24 * 3600 + 1)
        second = invoke(server, [*BULK, str(source), "--allow-partial-quota"])
    assert second.exit_code == 0, second.output
    assert "3 distinct recipients" in second.stdout
    assert len(emulator.ledger.messages) == 53
    assert len({m.recipient_phone for m in emulator.ledger.messages}) == 53
    assert emulator.ledger.counts["quota_exceeded"] == 0


def test_unreadable_account_warns_and_goes_on_unless_required(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """A key that may only send (403 on the account): a warning and the run goes on;
    --preflight=required stops it."""
    required = invoke(
        server, [*BULK, str(campaign(tmp_path / "a.csv", 2)), "--preflight=required"], OTHER_KEY
    )
    assert required.exit_code == 2, required.output
    assert "--preflight=required" in required.stderr
    assert server.ledger.messages == ()
    auto = invoke(server, [*BULK, str(campaign(tmp_path / "b.csv", 2))], OTHER_KEY)
    assert auto.exit_code == 0, auto.output
    assert "Warning: cannot read the account" in auto.stderr
    assert len(server.ledger.messages) == 2


def test_no_preflight_does_not_read_the_account(server: EmulatorServer, tmp_path: Path) -> None:
    """--no-preflight sends without reading business-accounts: only the sends reach the server."""
    result = invoke(server, [*BULK, str(campaign(tmp_path / "c.csv", 2)), "--no-preflight"])
    assert result.exit_code == 0, result.output
    assert server.ledger.counts["total_requests"] == 2


# -- message over a campaign -------------------------------------------------------------


def test_message_reads_every_status_of_a_campaign_journal(
    server: EmulatorServer, emulator: Emulator, tmp_path: Path
) -> None:
    """`mindo message JOURNAL --out` fetches each sent message's status and summarises them."""
    source = campaign(tmp_path / "c.csv", 4)
    assert invoke(server, [*BULK, str(source)]).exit_code == 0
    journal = tmp_path / "c.csv.journal.sqlite"
    with sqlite3.connect(journal) as db:
        sent = {row[0] for row in db.execute("SELECT message_id FROM requests")}
    emulator.advance(3600)
    statuses = tmp_path / "statuses.csv"
    result = invoke(server, ["message", str(journal), "--out", str(statuses), "-c", "2"])
    assert result.exit_code == 0, result.output
    assert "4 messages" in result.stdout
    with statuses.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert {row["message_id"] for row in rows} == sent
    assert {row["status"] for row in rows} == {"read"}
    summary = json.loads(invoke(server, ["message", str(journal), "--json"]).stdout)
    assert summary == {"messages": 4, "statuses": {"read": 4}}


def test_message_reads_the_ids_of_a_results_file(server: EmulatorServer, tmp_path: Path) -> None:
    """`mindo message results.jsonl` reads the message ids of a bulk --out file (all still sent)."""
    out = tmp_path / "r.jsonl"
    assert (
        invoke(server, [*BULK, str(campaign(tmp_path / "c.csv", 3)), "--out", str(out)]).exit_code
        == 0
    )
    result = invoke(server, ["message", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"messages": 3, "statuses": {"sent": 3}}


def test_message_refuses_a_file_without_message_ids(server: EmulatorServer, tmp_path: Path) -> None:
    """A CSV without a message_id column is a usage error (exit 2)."""
    source = campaign(tmp_path / "c.csv", 2)
    result = invoke(server, ["message", str(source)])
    assert result.exit_code == 2
    assert "message_id" in result.stderr
