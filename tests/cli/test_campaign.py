"""Campaign files without any network: reading, checking, results, counting."""

from __future__ import annotations

import ast
import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import mindo_async
from mindo_async import AlreadyProcessedError, DuplicateRequestError, Outcome, SendRequest
from mindo_async._fanout import Progress
from mindo_async._journal import IN_FLIGHT, JournalEntry, request_key
from mindo_async._models import SendResult
from mindo_async.campaign import (
    EXIT_NOT_ALL_SENT,
    EXIT_OK,
    EXIT_USAGE,
    MAX_REPORTED,
    CampaignFileError,
    CampaignOptions,
    InOrder,
    ProgressCallback,
    ResultWriter,
    Row,
    RowDefaults,
    RowResult,
    Tally,
    check_encoding,
    check_file,
    checked_rows,
    default_journal,
    detect_format,
    interrupted_row,
    journal_key,
    read_rows,
    result_row,
    run_campaign,
    variables_problem,
)
from mindo_async.testing import Emulator, serve

DEFAULTS = RowDefaults(phone_number_id="813497231850626", template_name="welcome_message")


def phone(i: int) -> str:
    return f"+54911{20000000 + i}"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_format_from_extension_then_content(tmp_path: Path) -> None:
    """The format comes from --format, else the extension, else a leading '{'."""
    assert detect_format(write(tmp_path / "a.CSV", "{")) == "csv"
    assert detect_format(write(tmp_path / "a.ndjson", "x")) == "jsonl"
    assert detect_format(write(tmp_path / "a.data", '\ufeff  {"a": 1}')) == "jsonl"
    assert detect_format(write(tmp_path / "b.data", "recipient_phone\n")) == "csv"
    assert detect_format(tmp_path / "a.CSV", "jsonl") == "jsonl"
    with pytest.raises(CampaignFileError):
        detect_format(tmp_path / "a.CSV", "xlsx")


def test_encoding_errors_name_the_line(tmp_path: Path) -> None:
    """A Windows-1252 byte on line 3 is reported on line 3 with the byte."""
    path = tmp_path / "a.csv"
    path.write_bytes("a\nb\nca\u00f1a\n".encode("cp1252"))
    with pytest.raises(CampaignFileError) as caught:
        check_encoding(path)
    assert caught.value.line == 3
    assert "0xf1" in str(caught.value)


def test_utf8_with_bom_is_fine(tmp_path: Path) -> None:
    """Excel's 'CSV UTF-8' byte order mark is accepted and not part of the first column."""
    path = tmp_path / "a.csv"
    path.write_bytes(f"\ufeffrecipient_phone,name,code\n{phone(1)},Ñandú,1\n".encode())
    check_encoding(path)
    (row,) = read_rows(path, file_format="csv", defaults=DEFAULTS)
    assert row.ok
    assert row.request is not None
    assert row.request.recipient_phone == phone(1)
    assert row.request.variables == {"name": "Ñandú", "code": "1"}


def test_line_numbers_skip_blank_lines_and_follow_multiline_cells(tmp_path: Path) -> None:
    """A row's line is where it starts, counting blank lines and quoted line breaks."""
    path = write(
        tmp_path / "a.csv",
        f'\nrecipient_phone,name,code\n\n{phone(1)},"two\nlines",1\n,,\n{phone(2)},B,2\n',
    )
    rows = list(read_rows(path, file_format="csv", defaults=DEFAULTS))
    assert [(row.ordinal, row.line) for row in rows] == [(0, 4), (1, 7)]
    assert rows[0].request is not None
    assert rows[0].request.variables == {"name": "two\nlines", "code": "1"}


def test_row_columns_override_defaults_and_empty_cells_do_not(tmp_path: Path) -> None:
    """Non-empty phone_number_id/template_name/language cells win; empty ones use the flags."""
    path = write(
        tmp_path / "a.csv",
        "recipient_phone,template_name,language,name\n"
        f"{phone(1)},order_update,en,A\n{phone(2)},,,B\n",
    )
    first, second = (row.request for row in read_rows(path, file_format="csv", defaults=DEFAULTS))
    assert first is not None
    assert second is not None
    assert (first.template_name, first.language) == ("order_update", "en")
    assert (second.template_name, second.language) == ("welcome_message", "es")


def test_button_columns_become_button_variables(tmp_path: Path) -> None:
    """button_0 goes to button_variables; a malformed button column refuses the file."""
    path = write(tmp_path / "a.csv", f"recipient_phone,button_0,name\n{phone(1)},X,A\n")
    (row,) = read_rows(path, file_format="csv", defaults=DEFAULTS)
    assert row.request is not None
    assert row.request.button_variables == {"button_0": "X"}
    assert row.request.variables == {"name": "A"}
    bad = write(tmp_path / "b.csv", f"recipient_phone,button-1\n{phone(1)},X\n")
    with pytest.raises(CampaignFileError, match="button_0, button_1"):
        list(read_rows(bad, file_format="csv", defaults=DEFAULTS))


def test_jsonl_keeps_numbers_as_written_and_refuses_other_types(tmp_path: Path) -> None:
    """JSON numbers are sent as written ("1.50"); booleans and lists are row problems."""
    path = write(
        tmp_path / "a.jsonl",
        '{"recipient_phone": "+5491120000001", "code": 1.50, "name": 12345678901234567890}\n'
        '{"recipient_phone": "+5491120000002", "code": 1, "name": true}\n'
        '{"recipient_phone": "+5491120000003", "code": [1], "name": "C"}\n',
    )
    first, second, third = read_rows(path, file_format="jsonl", defaults=DEFAULTS)
    assert first.request is not None
    assert first.request.variables == {"code": "1.50", "name": "12345678901234567890"}
    assert not second.ok
    assert any("name" in problem for problem in second.problems)
    assert not third.ok
    assert any(problem.startswith("code:") for problem in third.problems)


def test_problems_never_echo_the_phone_number(tmp_path: Path) -> None:
    """Row problems name the field and the reason, never the value."""
    path = write(tmp_path / "a.csv", "recipient_phone,name\n+54 9 11 2000-0001,A\n")
    (row,) = read_rows(path, file_format="csv", defaults=DEFAULTS)
    assert row.problems
    assert not any("2000" in problem for problem in row.problems)


def test_majority_decides_a_templates_variables(tmp_path: Path) -> None:
    """The variable set most rows of a template fill is the template's; other rows are flagged."""
    lines = [json.dumps({"recipient_phone": phone(i), "name": "A", "code": "1"}) for i in range(3)]
    lines.insert(1, json.dumps({"recipient_phone": phone(9), "nmae": "A", "code": "1"}))
    path = write(tmp_path / "a.jsonl", "\n".join(lines) + "\n")
    check = check_file(path, defaults=DEFAULTS)
    assert check.expected == {("welcome_message", "es"): frozenset({"name", "code"})}
    assert check.invalid == 1
    ((line, problems),) = check.problems
    assert line == 2
    assert "unknown variable(s) 'nmae'" in problems[-1]
    assert "missing: 'name'" in problems[-1]


def test_on_a_tie_the_larger_variable_set_wins(tmp_path: Path) -> None:
    """Two rows, one with an empty cell: the row missing a value is the one flagged."""
    path = write(tmp_path / "a.csv", f"recipient_phone,name,code\n{phone(1)},A,\n{phone(2)},B,2\n")
    check = check_file(path, defaults=DEFAULTS)
    assert [line for line, _ in check.problems] == [2]


def test_different_templates_may_have_different_variables(tmp_path: Path) -> None:
    """The agreement check is per template and language."""
    path = write(
        tmp_path / "a.jsonl",
        json.dumps({"recipient_phone": phone(1), "name": "A", "code": "1"})
        + "\n"
        + json.dumps(
            {
                "recipient_phone": phone(2),
                "template_name": "order_update",
                "order_id": "1",
                "status": "ok",
            }
        )
        + "\n",
    )
    check = check_file(path, defaults=DEFAULTS)
    assert check.invalid == 0
    assert len(check.campaigns) == 2


def test_variables_problem_wording() -> None:
    """The message names the unknown and the missing variables and the template."""
    problem = variables_problem(
        ("t", "es"), frozenset({"a", "x"}), {("t", "es"): frozenset({"a", "b"})}
    )
    assert problem is not None
    assert "unknown variable(s) 'x'" in problem
    assert "missing or empty: 'b'" in problem
    assert "template 't' (es)" in problem
    assert variables_problem(("t", "es"), frozenset({"a"}), {("t", "es"): frozenset({"a"})}) is None


def test_declared_variables(tmp_path: Path) -> None:
    """--variables: an unknown column refuses the file; a missing value is a row problem."""
    unknown = write(tmp_path / "a.csv", f"recipient_phone,name,extra\n{phone(1)},A,B\n")
    with pytest.raises(CampaignFileError, match="unknown variable 'extra'"):
        check_file(unknown, defaults=DEFAULTS, declared=frozenset({"name", "code"}))
    missing = write(tmp_path / "b.csv", f"recipient_phone,name,code\n{phone(1)},A,\n")
    check = check_file(missing, defaults=DEFAULTS, declared=frozenset({"name", "code"}))
    assert check.invalid == 1
    assert "missing variable(s) 'code'" in check.problems[0][1][0]


def test_problem_list_is_capped_but_counted(tmp_path: Path) -> None:
    """Thousands of bad rows: every one counted, the first MAX_REPORTED kept, in line order."""
    rows = "".join(f"+54911{i:04d},A,1\n" for i in range(MAX_REPORTED + 300))
    path = write(tmp_path / "a.csv", "recipient_phone,name,code\n" + rows)
    check = check_file(path, defaults=DEFAULTS)
    assert check.invalid == MAX_REPORTED + 300
    assert len(check.problems) == MAX_REPORTED
    assert [line for line, _ in check.problems] == list(range(2, MAX_REPORTED + 2))


def test_duplicates_are_noted_not_refused(tmp_path: Path) -> None:
    """An exact repeat of a row is counted as a duplicate, with both line numbers."""
    path = write(tmp_path / "a.csv", f"recipient_phone,name,code\n{phone(1)},A,1\n{phone(1)},A,1\n")
    check = check_file(path, defaults=DEFAULTS)
    assert check.invalid == 0
    assert check.duplicates == 1
    assert check.duplicate_lines == [(3, 2)]


def test_checked_rows_repeat_the_checks_findings(tmp_path: Path) -> None:
    """The send pass flags exactly the rows the check flagged, with the same reasons."""
    path = write(
        tmp_path / "a.csv",
        f"recipient_phone,name,code\n{phone(1)},A,1\n+5491,B,2\n{phone(3)},,3\n{phone(4)},D,4\n",
    )
    check = check_file(path, defaults=DEFAULTS)
    rows = list(checked_rows(check, defaults=DEFAULTS))
    assert [row.ok for row in rows] == [True, False, False, True]
    assert [(row.line, row.problems) for row in rows if not row.ok] == check.problems


def test_in_order_emits_in_row_order() -> None:
    """Results arriving out of order are emitted in row order, as soon as they can be."""
    emitted: list[int] = []
    in_order = InOrder(lambda ordinal, _item: emitted.append(ordinal))
    in_order.put(2, "c")
    in_order.put(1, "b")
    assert emitted == []
    assert in_order.has(2)
    assert not in_order.has(0)
    in_order.put(0, "a")
    assert emitted == [0, 1, 2]
    assert in_order.next == 3


def test_result_writer_jsonl_and_csv(tmp_path: Path) -> None:
    """--out writes the six documented fields, JSON Lines or CSV by suffix."""
    result = RowResult(2, phone(1), "sent", "wamid.X", None, recipient_e164=phone(1))
    jsonl = ResultWriter(tmp_path / "r.jsonl")
    jsonl.write(result)
    jsonl.close()
    assert json.loads((tmp_path / "r.jsonl").read_text(encoding="utf-8")) == {
        "line": 2,
        "recipient_phone": phone(1),
        "outcome": "sent",
        "message_id": "wamid.X",
        "error": None,
        "recipient_e164": phone(1),
    }
    as_csv = ResultWriter(tmp_path / "r.csv")
    as_csv.write(result)
    as_csv.close()
    with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as file:
        assert list(csv.reader(file)) == [
            ["line", "recipient_phone", "outcome", "message_id", "error", "recipient_e164"],
            ["2", phone(1), "sent", "wamid.X", "", phone(1)],
        ]
    with pytest.raises(CampaignFileError):
        ResultWriter(tmp_path / "r.txt")


def _request() -> SendRequest:
    return SendRequest(
        phone_number_id="813497231850626",
        template_name="welcome_message",
        recipient_phone=phone(1),
        variables={"name": "A"},
    )


def test_journal_skips_read_the_journal() -> None:
    """A row skipped by the journal reports the earlier message id (sent) or stays not done."""
    request = _request()
    skipped = SendResult(
        request=request, outcome=Outcome.SKIPPED, error=AlreadyProcessedError("x"), index=0
    )
    sent = JournalEntry(journal_key(request), "sent", "wamid.OLD")
    row = result_row(5, skipped, lambda _r: sent)
    assert (row.outcome, row.message_id, row.kind) == ("skipped", "wamid.OLD", "already_sent")
    in_flight = JournalEntry(journal_key(request), IN_FLIGHT)
    row = result_row(5, skipped, lambda _r: in_flight)
    assert row.kind == "already_unknown"
    assert "--retry-unknown" in str(row.error)
    duplicate = SendResult(
        request=request, outcome=Outcome.SKIPPED, error=DuplicateRequestError("x"), index=1
    )
    assert result_row(6, duplicate, lambda _r: sent).kind == "duplicate_sent"


def test_journal_key_is_the_fan_outs_key() -> None:
    """The key the command looks up is the one the fan-out writes (numbers as text)."""
    request = SendRequest(
        phone_number_id="1", template_name="t", recipient_phone=phone(1), variables={"n": 5}
    )
    as_text = SendRequest(
        phone_number_id="1", template_name="t", recipient_phone=phone(1), variables={"n": "5"}
    )
    assert journal_key(request) == request_key(as_text)


def test_interrupted_rows_follow_the_journal() -> None:
    """After Ctrl-C, rows in flight are unknown, rows never begun are not attempted."""
    row = Row(ordinal=0, line=2, recipient=phone(1), request=_request())
    assert interrupted_row(row, JournalEntry("k", "unknown")).outcome == "unknown"
    assert interrupted_row(row, JournalEntry("k", IN_FLIGHT)).outcome == "unknown"
    assert interrupted_row(row, None).kind == "not_attempted"
    assert interrupted_row(row, JournalEntry("k", "skipped")).kind == "not_attempted"
    assert interrupted_row(row, JournalEntry("k", "sent", "wamid.Y")).message_id == "wamid.Y"


@pytest.mark.parametrize(
    ("kinds", "interrupted", "code"),
    [
        ({"sent": 3}, False, 0),
        ({"sent": 1, "already_sent": 1, "duplicate_sent": 1}, False, 0),
        ({"sent": 2, "unknown": 1}, False, 1),
        ({"sent": 2, "already_unknown": 1}, False, 1),
        ({"sent": 2, "invalid": 1}, False, 1),
        ({"sent": 2, "not_attempted": 1}, False, 1),
        ({"sent": 3}, True, 130),
    ],
)
def test_exit_status(kinds: dict[str, int], interrupted: bool, code: int) -> None:
    """0 when every row went out (now, earlier or as a duplicate), 1 otherwise, 130 interrupted."""
    tally = Tally(rows=3, interrupted=interrupted)
    for kind, count in kinds.items():
        for _ in range(count):
            tally.add(RowResult(1, "", "x", kind=kind))
    assert tally.exit_code == code


def test_tally_outcomes_group_kinds() -> None:
    """The four --out outcomes are sums of the finer kinds."""
    tally = Tally(rows=4)
    for kind in ("sent", "invalid", "already_sent", "not_attempted"):
        tally.add(RowResult(1, "", "x", kind=kind))
    assert [tally.outcome(o) for o in ("sent", "rejected", "unknown", "skipped")] == [1, 1, 0, 2]
    assert tally.done == 2


# -- the run, without a terminal -------------------------------------------------------


class Collected:
    """A ``CampaignView`` that keeps what a run shows, instead of drawing it."""

    def __init__(self) -> None:
        self.printed: list[str] = []
        self.warned: list[str] = []
        self.progress_calls: list[tuple[int, int]] = []
        self.updates: list[Progress] = []
        self.summaries: list[tuple[Tally, str]] = []

    def print(self, text: str) -> None:
        self.printed.append(text)

    def warn(self, text: str) -> None:
        self.warned.append(text)

    @contextlib.contextmanager
    def progress(self, *, total: int, invalid: int) -> Iterator[ProgressCallback]:
        self.progress_calls.append((total, invalid))
        yield self.updates.append

    def summary(self, tally: Tally, *, name: str, elapsed: float, throughput: float) -> None:
        self.summaries.append((tally, name))


def test_run_campaign_reports_through_its_view(tmp_path: Path) -> None:
    """``run_campaign`` checks, sends and summarizes through a plain view: no typer, no rich."""
    source = write(
        tmp_path / "c.csv",
        "recipient_phone,name\n"
        + "".join(f"{phone(i)},User {i}\n" for i in range(4))
        + "+54 bad,Nobody\n",
    )
    view = Collected()
    with serve(Emulator(seed=8)) as server:
        options = CampaignOptions(
            path=source,
            defaults=DEFAULTS,
            rate=None,
            journal=default_journal(source),
            out=tmp_path / "results.jsonl",
            skip_invalid=True,
            api_key=server.api_key,
            base_url=server.base_url,
        )
        report = run_campaign(options, view)
        accepted = len(server.ledger.messages)
    assert report.exit_code == EXIT_NOT_ALL_SENT  # the invalid row was not sent
    assert view.printed[0] == "Checked c.csv (CSV): 5 rows, 4 valid, 1 with problems."
    assert view.progress_calls == [(4, 1)]
    ((tally, name),) = view.summaries
    assert (name, tally.kinds["sent"], tally.kinds["invalid"]) == ("c.csv", 4, 1)
    assert accepted == 4
    assert f"Journal: {default_journal(source)}" in view.warned
    assert "1 invalid row not sent: fix them and rerun." in view.warned
    assert len((tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 5


def test_run_campaign_without_a_key_sends_nothing(tmp_path: Path) -> None:
    """No API key: one error line on the view's warnings, exit 2, the file not even read."""
    view = Collected()
    options = CampaignOptions(path=tmp_path / "absent.csv", defaults=DEFAULTS, api_key=None)
    report = run_campaign(options, view)
    assert report.exit_code == EXIT_USAGE
    assert report.check is None
    assert view.printed == []
    assert view.warned[0].startswith("Error: no API key: set the MINDO_API_KEY")


def test_dry_run_prints_what_would_be_sent(tmp_path: Path) -> None:
    """A dry run reports the check and what would be sent, needing no key and no server."""
    source = write(tmp_path / "c.csv", f"recipient_phone,name\n{phone(1)},A\n{phone(2)},B\n")
    view = Collected()
    report = run_campaign(
        CampaignOptions(path=source, defaults=DEFAULTS, dry_run=True, api_key=None), view
    )
    assert report.exit_code == EXIT_OK
    assert view.printed[-1] == "Dry run: 2 rows would be sent. Nothing was sent."
    assert view.progress_calls == []


# -- where things live -----------------------------------------------------------------

PACKAGE = Path(mindo_async.__file__).parent


def _module_imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports (anywhere in it), relative imports made absolute."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[module] = _module_imports(path, module)
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [name for name in graph if name == start or name.startswith(start + ".")]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(target for target in graph.get(name, ()) if target not in seen)
    return seen


def test_the_campaign_engine_imports_no_cli_typer_or_rich() -> None:
    """Nothing ``mindo_async.campaign`` imports, however indirectly, is the CLI, typer or rich."""
    graph = _import_graph()
    reached = _reachable(graph, "mindo_async.campaign")
    assert "mindo_async.campaign._run" in reached  # the walk did follow the package
    assert not {name for name in reached if name.startswith("mindo_async.cli")}
    third_party = {name.split(".")[0] for name in reached if not name.startswith("mindo_async")}
    assert not third_party & {"typer", "rich", "click"}


def test_the_cli_depends_on_the_campaign_engine_not_the_other_way() -> None:
    """``cli`` imports ``campaign``; no module outside ``cli`` imports ``cli`` (no cycle)."""
    graph = _import_graph()
    assert "mindo_async.campaign" in graph["mindo_async.cli.campaign"]
    importers = {
        module
        for module, targets in graph.items()
        if not module.startswith("mindo_async.cli")
        and any(target.startswith("mindo_async.cli") for target in targets)
    }
    assert importers == {"mindo_async.__main__"}


def test_no_campaign_module_is_named_bulk() -> None:
    """Client-side campaign modules never say "bulk": that names the server-side send-bulk."""
    names = [path.name for path in (PACKAGE / "campaign").glob("*.py")]
    assert "_run.py" in names
    assert not [name for name in names if "bulk" in name]
    assert not (PACKAGE / "_bulk.py").exists()
