"""`mindo account/message/contact/business` and the pre-flight of `mindo bulk`, over sockets.

The emulator's own handlers for the account endpoints belong to another
change; until they land, ``AccountEmulator`` (below) answers them from the
vendored reference examples, on top of the emulator's send endpoint.
"""

from __future__ import annotations

import copy
import csv
import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mindo_async._endpoints import (
    BUSINESS_ACCOUNTS,
    BUSINESS_HOURS,
    BUSINESS_INFO,
    CONTACT_LOOKUP,
    HOLIDAYS,
    MESSAGE_STATUS,
)
from mindo_async.cli import app
from mindo_async.testing import Emulator, EmulatorServer, serve

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
NUMBER_ID = "813497231850626"
TEMPLATE = "verification_code"
MESSAGES_PREFIX = MESSAGE_STATUS.path.split("{")[0]


def example(name: str) -> Any:
    """The documented 200 body of the endpoint ``name`` (vendored)."""
    return json.loads((REFERENCE / f"{name}.json").read_text(encoding="utf-8"))["responses"]["200"]


def account_body(*, remaining: int = 955, limit: int = 1000, can_send: bool = True) -> Any:
    """The documented business-accounts example, with the emulator's templates and this quota."""
    body = copy.deepcopy(example("business_accounts.get"))
    account = body["businessAccounts"][0]
    account["phoneNumbers"][0]["quota"] = {
        "dailyLimit": limit,
        "uniqueNumbersSent24h": limit - remaining,
        "remaining": remaining,
        "usagePercentage": (limit - remaining) / limit * 100,
        "canSend": can_send,
    }

    def variables(*names: str) -> list[dict[str, Any]]:
        return [
            {"name": n, "type": "TEXT", "position": i, "isRequired": True, "component": "BODY"}
            for i, n in enumerate(names, 1)
        ]

    account["templates"] = [
        {
            "name": "welcome_message",
            "language": "es",
            "category": "MARKETING",
            "variables": variables("name", "code"),
        },
        {
            "name": TEMPLATE,
            "language": "es",
            "category": "AUTHENTICATION",
            "variables": variables("name", "code"),
        },
        {
            "name": "order_update",
            "language": "es",
            "category": "UTILITY",
            "variables": variables("order_id", "status"),
        },
    ]
    return body


class AccountEmulator(Emulator):
    """The emulator, plus the account-area GET endpoints answered from set bodies."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.answers: dict[str, tuple[int, Any]] = {
            BUSINESS_ACCOUNTS.path: (200, account_body()),
            CONTACT_LOOKUP.path: (200, example("contacts.lookup")),
            BUSINESS_INFO.path: (200, example("business.info")),
            BUSINESS_HOURS.path: (200, example("business.hours")),
            HOLIDAYS.path: (200, example("business.holidays")),
        }
        self.message_status: tuple[int, Any] | None = (200, None)
        self.reads: list[tuple[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await super().__call__(scope, receive, send)
            return
        path: str = scope["path"]
        self.reads.append((path, scope["query_string"].decode()))
        headers = dict(scope["headers"])
        if headers.get(b"x-api-key", b"").decode() != self.api_key:
            await _reply(send, 401, {"detail": "API Key expirada"})
        elif path.startswith(MESSAGES_PREFIX) and self.message_status is not None:
            status, body = self.message_status
            if body is None:
                body = example("messages.get")
                body["meta_message_id"] = path[len(MESSAGES_PREFIX) :].rstrip("/")
            await _reply(send, status, body)
        elif path in self.answers:
            await _reply(send, *self.answers[path])
        else:
            await _reply(send, 404, "<h1>Not Found</h1>")


async def _reply(send: Any, status: int, body: Any) -> None:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    kind = b"text/html" if isinstance(body, str) else b"application/json"
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]}
    )
    await send({"type": "http.response.body", "body": content})


@pytest.fixture
def emulator() -> AccountEmulator:
    return AccountEmulator(seed=7)


@pytest.fixture
def server(emulator: AccountEmulator) -> Iterator[EmulatorServer]:
    """The account emulator over loopback sockets."""
    with serve(emulator) as running:
        yield running


def invoke(server: EmulatorServer, args: Sequence[str]) -> Result:
    """Run `mindo ARGS` in-process against the server."""
    env = {
        "MINDO_API_KEY": server.api_key,
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
    assert "TIER_1000" in result.stdout
    assert "45/1000" in result.stdout
    assert "955" in result.stdout
    assert "verification_code" in result.stdout
    assert "name* TEXT" in result.stdout


def test_account_json_is_the_parsed_model(server: EmulatorServer) -> None:
    """`mindo account --json` prints the model in snake_case, enums as their values."""
    result = invoke(server, ["account", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (account,) = data["business_accounts"]
    number = account["phone_numbers"][0]
    assert number["phone_number_id"] == NUMBER_ID
    assert number["messaging_limit_tier"] == "TIER_1000"
    assert number["quota"]["remaining"] == 955
    assert [t["name"] for t in account["templates"]][1] == TEMPLATE


def test_account_with_a_refused_key_exits_2(
    server: EmulatorServer, emulator: AccountEmulator
) -> None:
    """A 401 ("API Key expirada") is a usage error: exit 2 with what to check."""
    result = CliRunner().invoke(
        app,
        ["account"],
        env={"MINDO_API_KEY": "mindo_" + "z" * 24, "MINDO_BASE_URL": server.base_url},
    )
    assert result.exit_code == 2
    assert "AuthenticationError" in result.stderr
    assert "MINDO_API_KEY" in result.stderr


def test_contact_masks_the_phone_and_json_has_every_field(server: EmulatorServer) -> None:
    """`mindo contact` sends the number as given, masks it in text, and --json has the model."""
    text = invoke(server, ["contact", "+54 223 15-596-1983"])
    assert text.exit_code == 0, text.output
    assert "Juan Perez" in text.stdout
    assert "+5492235961983" not in text.stdout
    assert "open until" in text.stdout
    data = json.loads(invoke(server, ["contact", "5492235961983", "--json"]).stdout)
    assert data["found"] is True
    assert data["contact"]["contact_list_id"] == 5
    assert datetime.fromisoformat(data["session_expires_at"]) == datetime(
        2025, 3, 29, 14, 22, tzinfo=timezone.utc
    )


def test_contact_refuses_what_is_not_a_phone(
    server: EmulatorServer, emulator: AccountEmulator
) -> None:
    """A value that is not phone-like exits 2 without a request."""
    result = invoke(server, ["contact", "hola"])
    assert result.exit_code == 2
    assert "phone" in result.stderr
    assert emulator.reads == []


def test_business_commands(server: EmulatorServer, emulator: AccountEmulator) -> None:
    """`mindo business info|hours|holidays` print each answer; holidays forwards --from/--to."""
    info = invoke(server, ["business", "info"])
    assert info.exit_code == 0, info.output
    assert "America/Argentina/Buenos_Aires" in info.stdout
    hours = invoke(server, ["business", "hours", "--json"])
    assert json.loads(hours.stdout)[0]["schedules"][0]["start_time"] == "09:00:00"
    holidays = invoke(
        server, ["business", "holidays", "--from", "2026-01-01", "--to", "2026-12-31"]
    )
    assert holidays.exit_code == 0, holidays.output
    assert "Nochebuena" in holidays.stdout
    assert "09:00-13:00" in holidays.stdout
    assert (HOLIDAYS.path, "from=2026-01-01&to=2026-12-31") in emulator.reads
    bad = invoke(server, ["business", "holidays", "--from", "1/1/2026"])
    assert bad.exit_code == 2


def test_message_shows_the_status(server: EmulatorServer) -> None:
    """`mindo message WAMID` prints the current status and its times; --json the model."""
    wamid = "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA="
    text = invoke(server, ["message", wamid])
    assert text.exit_code == 0, text.output
    assert "read" in text.stdout
    assert "2025-11-16T21:31:00Z" in text.stdout
    data = json.loads(invoke(server, ["message", wamid, "--json"]).stdout)
    assert data["delivery_status"]["current"] == "read"


def test_message_on_a_server_without_the_endpoint(
    server: EmulatorServer, emulator: AccountEmulator
) -> None:
    """A non-JSON 404 says the server does not offer the endpoint yet; exit 1."""
    emulator.message_status = (404, "<h1>Not Found</h1>")
    result = invoke(server, ["message", "wamid.ABC="])
    assert result.exit_code == 1
    assert "does not offer" in result.stderr


# -- bulk: the pre-flight ----------------------------------------------------------------


def test_bulk_runs_the_preflight_and_sends(server: EmulatorServer, tmp_path: Path) -> None:
    """A clean campaign passes the pre-flight, is sent, and the quota is shown before/after."""
    result = invoke(server, [*BULK, str(campaign(tmp_path / "c.csv", 5))])
    assert result.exit_code == 0, result.output
    assert "Pre-flight against the account: 5 rows checked, 0 with problems" in result.stdout
    assert "Quota of 813497231850626: before 45 used of 1,000 (955 left)" in result.stdout
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


def test_bulk_refuses_a_campaign_beyond_the_quota(
    server: EmulatorServer, emulator: AccountEmulator, tmp_path: Path
) -> None:
    """5 recipients with room for 3: exit 2, the message says 3 fit today, nothing is sent."""
    emulator.answers[BUSINESS_ACCOUNTS.path] = (200, account_body(remaining=3, limit=50))
    result = invoke(server, [*BULK, str(campaign(tmp_path / "c.csv", 5))])
    assert result.exit_code == 2, result.output
    assert "room for 3 more recipients today" in result.stderr
    assert "2 would fail" in result.stderr
    assert "--allow-partial-quota" in result.stderr
    assert server.ledger.messages == ()


def test_allow_partial_quota_sends_what_fits_and_a_later_run_continues(
    server: EmulatorServer, emulator: AccountEmulator, tmp_path: Path
) -> None:
    """--allow-partial-quota sends 3 of 5 (exit 0); a rerun with room sends the 2 left."""
    emulator.answers[BUSINESS_ACCOUNTS.path] = (200, account_body(remaining=3, limit=50))
    source = campaign(tmp_path / "c.csv", 5)
    out = tmp_path / "r.jsonl"
    first = invoke(server, [*BULK, str(source), "--allow-partial-quota", "--out", str(out)])
    assert first.exit_code == 0, first.output
    outcomes = [json.loads(line)["outcome"] for line in out.read_text().splitlines()]
    assert outcomes == ["sent"] * 3 + ["skipped"] * 2
    assert "left for later by the quota" in first.stderr
    assert len(server.ledger.messages) == 3
    # The next day: the window has room again, and the journal skips what was sent.
    emulator.answers[BUSINESS_ACCOUNTS.path] = (200, account_body(remaining=50, limit=50))
    second = invoke(server, [*BULK, str(source), "--allow-partial-quota"])
    assert second.exit_code == 0, second.output
    assert "2 distinct recipients" in second.stdout
    assert len(server.ledger.messages) == 5
    assert len({m.recipient_phone for m in server.ledger.messages}) == 5


def test_unreadable_account_warns_and_goes_on_unless_required(
    server: EmulatorServer, emulator: AccountEmulator, tmp_path: Path
) -> None:
    """A 403 on business-accounts: a warning and the run goes on; --preflight=required stops it."""
    emulator.answers[BUSINESS_ACCOUNTS.path] = (
        403,
        {"detail": "API Key no tiene acceso a este recurso"},
    )
    required = invoke(server, [*BULK, str(campaign(tmp_path / "a.csv", 2)), "--preflight=required"])
    assert required.exit_code == 2, required.output
    assert "--preflight=required" in required.stderr
    assert server.ledger.messages == ()
    auto = invoke(server, [*BULK, str(campaign(tmp_path / "b.csv", 2))])
    assert auto.exit_code == 0, auto.output
    assert "Warning: cannot read the account" in auto.stderr
    assert len(server.ledger.messages) == 2


def test_no_preflight_does_not_read_the_account(
    server: EmulatorServer, emulator: AccountEmulator, tmp_path: Path
) -> None:
    """--no-preflight sends without reading business-accounts."""
    result = invoke(server, [*BULK, str(campaign(tmp_path / "c.csv", 2)), "--no-preflight"])
    assert result.exit_code == 0, result.output
    assert emulator.reads == []


# -- message over a campaign -------------------------------------------------------------


def test_message_reads_every_status_of_a_campaign_journal(
    server: EmulatorServer, emulator: AccountEmulator, tmp_path: Path
) -> None:
    """`mindo message JOURNAL --out` fetches each sent message's status and summarises them."""
    source = campaign(tmp_path / "c.csv", 4)
    assert invoke(server, [*BULK, str(source)]).exit_code == 0
    journal = tmp_path / "c.csv.journal.sqlite"
    with sqlite3.connect(journal) as db:
        sent = {row[0] for row in db.execute("SELECT message_id FROM requests")}
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
    """`mindo message results.jsonl` reads the message ids of a bulk --out file."""
    out = tmp_path / "r.jsonl"
    assert (
        invoke(server, [*BULK, str(campaign(tmp_path / "c.csv", 3)), "--out", str(out)]).exit_code
        == 0
    )
    result = invoke(server, ["message", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"messages": 3, "statuses": {"read": 3}}


def test_message_refuses_a_file_without_message_ids(server: EmulatorServer, tmp_path: Path) -> None:
    """A CSV without a message_id column is a usage error (exit 2)."""
    source = campaign(tmp_path / "c.csv", 2)
    result = invoke(server, ["message", str(source)])
    assert result.exit_code == 2
    assert "message_id" in result.stderr
