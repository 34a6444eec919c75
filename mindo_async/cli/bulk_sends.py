"""``mindo bulk-sends``: server-side bulk sends (create from a file, list, show, messages).

``create`` reads and checks its file exactly as ``mindo bulk`` does (the
campaign engine's ``check_file``), then hands the valid rows to
``bulk_sends.create_many``: the server sends them, paced at the number's
tier, while the command follows progress with a live bar. Ctrl-C stops the
watching only; the bulk sends go on at the server.
"""

from __future__ import annotations

import csv
import json
import signal
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._client import AsyncMindo
from .._errors import AuthenticationError, BulkSendUnknownError, MindoError
from .._journal import SQLiteJournal
from .._models import Outcome, SendRequest
from ..campaign import (
    CampaignFileError,
    RowDefaults,
    check_file,
    checked_rows,
    configuration_problem,
    default_journal,
    describe_check,
    journal_key,
    plural,
)
from ..campaign._preflight import PreflightSettings, run_preflight
from ..resources.bulk_sends import DEFAULT_CHUNK_SIZE, CreateManyResult
from ..types.bulk_sends import BulkMessage, BulkSend, BulkSendStatus
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_SENT,
    EXIT_OK,
    EXIT_USAGE,
    ApiKeyOption,
    BaseUrlOption,
    TimeoutOption,
    VerboseOption,
    configure_logging,
    consoles,
    error_json,
    exit_code_for,
    what_to_do,
)

app = typer.Typer(
    help="Server-side bulk sends: the API paces the campaign itself (see `mindo bulk` for "
    "the client-side fan-out).",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
PollOption = Annotated[
    float, typer.Option("--poll-interval", min=0.05, help="Seconds between two status polls.")
]

#: The fields of ``--out``, in order.
MESSAGE_FIELDS = (
    "bulk_send_id",
    "id",
    "recipient_phone",
    "status",
    "meta_message_id",
    "sent_at",
    "delivered_at",
    "read_at",
    "error_message",
)


# -- JSON shapes -------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else value


def bulk_json(bulk: BulkSend) -> dict[str, Any]:
    """``bulk`` as the API's snake_case JSON."""
    template = bulk.template
    number = bulk.phone_number
    return {
        "id": bulk.id,
        "status": str(bulk.status),
        "template": None
        if template is None
        else {
            "id": template.id,
            "template_name": template.template_name,
            "language": template.language,
            "status": template.status,
        },
        "phone_number": None
        if number is None
        else {
            "id": number.id,
            "display_phone_number": number.display_phone_number,
            "verified_name": number.verified_name,
        },
        "total_recipients": bulk.total_recipients,
        "sent_count": bulk.sent_count,
        "delivered_count": bulk.delivered_count,
        "read_count": bulk.read_count,
        "failed_count": bulk.failed_count,
        "pending_count": bulk.pending_count,
        "progress_percentage": bulk.progress_percentage,
        "started_at": _iso(bulk.started_at),
        "completed_at": _iso(bulk.completed_at),
        "created_at": _iso(bulk.created_at),
    }


def message_json(message: BulkMessage, bulk_send_id: str) -> dict[str, Any]:
    """One message of a bulk send, for ``--json`` and ``--out``."""
    return {
        "bulk_send_id": bulk_send_id,
        "id": message.id,
        "recipient_phone": message.recipient_phone,
        "status": str(message.status),
        "meta_message_id": message.meta_message_id,
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
        "error_message": message.error_message,
    }


class MessageWriter:
    """Writes messages to a ``.jsonl`` or ``.csv`` file (``--out``)."""

    def __init__(self, path: Path) -> None:
        if path.suffix.lower() not in (".jsonl", ".csv"):
            raise typer.BadParameter("--out must end in .jsonl or .csv", param_hint="--out")
        self.path = path
        self._file = path.open("w", encoding="utf-8", newline="")
        self._csv = None
        if path.suffix.lower() == ".csv":
            self._csv = csv.DictWriter(self._file, fieldnames=MESSAGE_FIELDS)
            self._csv.writeheader()
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        """Write one message."""
        if self._csv is not None:
            self._csv.writerow({k: "" if row[k] is None else row[k] for k in MESSAGE_FIELDS})
        else:
            self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()


# -- the live bar ------------------------------------------------------------------------


class _Watch:
    """A live bar of the summed counters of several bulk sends (plain lines off a terminal)."""

    LOG_INTERVAL = 5.0

    def __init__(self, console: Console, total: int) -> None:
        self._console = console
        self._live = console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]Server[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("watch", total=total, counts="")
        self._last_line = 0.0

    def __enter__(self) -> _Watch:
        if self._live:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live:
            self._progress.stop()

    def update(self, states: Sequence[BulkSend]) -> None:
        """Show the summed counters of ``states``."""
        sent = sum(b.sent_count for b in states)
        delivered = sum(b.delivered_count for b in states)
        read = sum(b.read_count for b in states)
        failed = sum(b.failed_count for b in states)
        pending = sum(b.pending_count for b in states)
        counts = (
            f"[green]sent {sent:,}[/]  delivered {delivered:,}  read {read:,}  "
            f"[red]failed {failed:,}[/]  [dim]pending {pending:,}[/]"
        )
        if self._live:
            self._progress.update(self._task, completed=sent + failed, counts=counts)
            return
        now = time.monotonic()
        done = all(b.is_terminal for b in states)
        if done or now - self._last_line >= self.LOG_INTERVAL:
            self._last_line = now
            self._console.print(
                f"Server: sent {sent:,}, delivered {delivered:,}, read {read:,}, "
                f"failed {failed:,}, pending {pending:,}",
                markup=False,
            )


async def _watch_until_done(
    mindo: AsyncMindo, ids: Sequence[str], watch: _Watch, poll_interval: float
) -> list[BulkSend]:
    """Poll every bulk send of ``ids`` until all are terminal; the last states."""
    states: dict[str, BulkSend] = {}
    while True:
        for bulk_id in ids:
            if bulk_id in states and states[bulk_id].is_terminal:
                continue
            states[bulk_id] = await mindo.bulk_sends.get(bulk_id)
        ordered = [states[bulk_id] for bulk_id in ids]
        watch.update(ordered)
        if all(bulk.is_terminal for bulk in ordered):
            return ordered
        await anyio.sleep(poll_interval)


async def _until_signal(scope: anyio.CancelScope, interrupted: list[bool]) -> None:
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                interrupted.append(True)
                scope.cancel()
                return
    except (ValueError, RuntimeError, NotImplementedError):
        await anyio.sleep_forever()


async def _watched(
    mindo: AsyncMindo, ids: Sequence[str], console: Console, total: int, poll_interval: float
) -> list[BulkSend] | None:
    """Watch ``ids`` with the live bar; ``None`` when Ctrl-C stopped the watching."""
    interrupted: list[bool] = []
    result: list[BulkSend] | None = None
    with _Watch(console, total) as watch, anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(_until_signal, scope, interrupted)
            try:
                result = await _watch_until_done(mindo, ids, watch, poll_interval)
            finally:
                group.cancel_scope.cancel()
    return None if interrupted or result is None else result


def _summary_table(states: Sequence[BulkSend]) -> Table:
    table = Table(title="Bulk sends", title_justify="left")
    for column in ("id", "status", "template", "recipients", "sent", "delivered", "read"):
        table.add_column(column, justify="right" if column not in ("id", "status") else "left")
    table.add_column("failed", justify="right")
    table.add_column("pending", justify="right")
    for bulk in states:
        table.add_row(
            bulk.id,
            str(bulk.status),
            bulk.template.template_name if bulk.template else "",
            f"{bulk.total_recipients:,}",
            f"{bulk.sent_count:,}",
            f"{bulk.delivered_count:,}",
            f"{bulk.read_count:,}",
            f"{bulk.failed_count:,}",
            f"{bulk.pending_count:,}",
        )
    return table


def _client(api_key: str | None, base_url: str | None, timeout: float) -> AsyncMindo:
    problem = configuration_problem(api_key, base_url)
    if problem is not None:
        raise _UsageError(problem)
    return AsyncMindo(api_key=api_key, base_url=base_url, timeout=timeout)


class _UsageError(Exception):
    """A configuration problem, reported with exit status 2."""


def _fail(error: BaseException, err: Console, as_json: bool) -> typer.Exit:
    if isinstance(error, _UsageError):
        if as_json:
            typer.echo(json.dumps({"error": {"type": "ConfigurationError", "message": str(error)}}))
        else:
            err.print(f"Error: {error}", markup=False)
        return typer.Exit(EXIT_USAGE)
    if as_json:
        typer.echo(json.dumps(error_json(error), ensure_ascii=False))
    else:
        err.print(f"Error: {error}. {what_to_do(error)}", markup=False)
    return typer.Exit(exit_code_for(error))


def _run(main: Any, err: Console, as_json: bool) -> None:
    """Run ``main`` (an async function); map library errors to messages and exit codes."""
    try:
        code = anyio.run(main)
    except (MindoError, _UsageError) as exc:
        raise _fail(exc, err, as_json) from None
    raise typer.Exit(code)


# -- create ----------------------------------------------------------------------------


def _earlier_bulk_sends(
    journal: Path | None, requests: Sequence[SendRequest], result: CreateManyResult
) -> list[str]:
    """The bulk sends an earlier run created for the rows this run skipped (from the journal)."""
    if journal is None or not result.skipped:
        return []
    store = SQLiteJournal(journal)
    try:
        ids: dict[str, None] = {}
        for skipped in result.skipped:
            entry = store.lookup(journal_key(skipped.request))
            if entry is not None and entry.state == Outcome.SENT.value and entry.message_id:
                ids[entry.message_id] = None
        return list(ids)
    finally:
        store.close()


@app.command("create")
def create(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or JSON Lines file, as for `mindo bulk`: a recipient_phone column, "
            "template variables as the other columns.",
            show_default=False,
        ),
    ],
    phone_number_id: Annotated[
        str | None,
        typer.Option(
            "--phone-number-id", help="Sending number id for rows with no phone_number_id."
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", "-t", help="Template for rows with no template_name."),
    ] = None,
    language: Annotated[
        str, typer.Option("--language", "-l", help="Language for rows with no language.")
    ] = "es",
    chunk_size: Annotated[
        int,
        typer.Option("--chunk-size", min=1, help="Recipients per bulk send."),
    ] = DEFAULT_CHUNK_SIZE,
    journal: Annotated[
        Path | None,
        typer.Option(
            "--journal",
            help="Journal that makes reruns resume (default: FILE.journal.sqlite, shared "
            "with `mindo bulk`).",
            show_default=False,
        ),
    ] = None,
    no_journal: Annotated[
        bool,
        typer.Option(
            "--no-journal", help="Keep no journal: a rerun creates every bulk send again."
        ),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option("--watch/--no-watch", help="Follow the bulk sends until they end."),
    ] = True,
    poll_interval: PollOption = 2.0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write every message's result (.jsonl or .csv) once they end."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file and stop: create nothing.")
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Create the valid rows even if some have problems."),
    ] = False,
    variables: Annotated[
        str | None,
        typer.Option(
            "--variables",
            help="The template's variable names, comma-separated (as for `mindo bulk`).",
            show_default=False,
        ),
    ] = None,
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="csv or jsonl (default: from the extension)."),
    ] = None,
    preflight: Annotated[
        str,
        typer.Option(
            "--preflight",
            help="auto: check the file against the account when it can be read; required: "
            "refuse to create without that check (as `mindo bulk`).",
        ),
    ] = "auto",
    no_preflight: Annotated[
        bool, typer.Option("--no-preflight", help="Create without checking against the account.")
    ] = False,
    as_json: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Create server-side bulk sends from a file, then follow them with a live bar.

    The file is checked exactly as `mindo bulk` checks it, before anything is
    created. Rows are grouped by number, template and language and created in
    chunks of --chunk-size, each recorded in the journal before and after its
    request: run the same command again after a crash or Ctrl-C and no recipient
    is put in a second bulk send. Ctrl-C while watching stops the watching only
    (the bulk sends go on at the server): `mindo bulk-sends show ID --watch`.
    Exit status: 0 every row created and delivered or read or sent, 1 some row
    not created, unknown, or failed, 2 usage or file error, 130 interrupted.
    """
    out_console, err = consoles()
    configure_logging(verbose)
    if journal is not None and no_journal:
        raise typer.BadParameter("give --journal or --no-journal, not both", param_hint="--journal")
    if file_format is not None and file_format not in ("csv", "jsonl"):
        raise typer.BadParameter("use csv or jsonl", param_hint="--format")
    if preflight not in ("auto", "required"):
        raise typer.BadParameter("use auto or required", param_hint="--preflight")
    declared = (
        frozenset(n.strip() for n in variables.split(",") if n.strip()) if variables else None
    )
    defaults = RowDefaults(
        phone_number_id=phone_number_id, template_name=template, language=language
    )
    try:
        check = check_file(
            file,
            file_format="csv" if file_format == "csv" else "jsonl" if file_format else None,
            defaults=defaults,
            declared=declared,
        )
    except (CampaignFileError, OSError) as exc:
        err.print(f"Error: {file.name}: {exc}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    for line in describe_check(check):
        err.print(line, markup=False)
    if check.invalid and not skip_invalid:
        err.print(
            f"{plural(check.invalid, 'row')} with problems: fix them, or pass --skip-invalid to "
            "create the valid rows only. Nothing was created.",
            markup=False,
        )
        raise typer.Exit(EXIT_USAGE)
    if dry_run:
        err.print("Dry run: nothing was created.", markup=False)
        raise typer.Exit(EXIT_OK)
    journal_path = None if no_journal else (journal or default_journal(file))
    # The pre-flight of `mindo bulk`, on the same file check: the same report and rules.
    store = SQLiteJournal(journal_path) if journal_path is not None else None
    try:
        step = run_preflight(
            PreflightSettings(
                mode="off" if no_preflight else "required" if preflight == "required" else "auto",
                skip_invalid=skip_invalid,
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
            ),
            check,
            defaults=defaults,
            declared=declared,
            journal=store,
            configured=configuration_problem(api_key, base_url) is None,
            say=lambda text: err.print(text, markup=False),
            warn=lambda text: err.print(text, markup=False),
        )
    finally:
        if store is not None:
            store.close()
    if step.exit_code is not None:
        raise typer.Exit(step.exit_code)
    gate = step.gate
    requests = [
        row.request
        for row in checked_rows(check, defaults=defaults, declared=declared)
        if row.ok and row.request is not None and (gate is None or gate(row) is None)
    ]
    writer = MessageWriter(out) if out is not None else None

    async def main() -> int:
        async with _client(api_key, base_url, timeout) as mindo:
            result = await mindo.bulk_sends.create_many(
                requests, chunk_size=chunk_size, journal=journal_path
            )
            earlier = _earlier_bulk_sends(journal_path, requests, result)
            created = list(result.bulk_send_ids)
            for chunk in result.chunks:
                if chunk.created is not None:
                    err.print(
                        f"Created bulk send {chunk.created.bulk_send_id}: "
                        f"{plural(len(chunk.requests), 'recipient')}, template "
                        f"{chunk.template_name!r} ({chunk.language}).",
                        markup=False,
                    )
                elif isinstance(chunk.error, BulkSendUnknownError):
                    candidates = await chunk.error.find_candidates(mindo)
                    found = ", ".join(c.id for c in candidates) or "none found"
                    err.print(
                        f"Chunk of {plural(len(chunk.requests), 'recipient')} may or may not "
                        f"have been created ({chunk.error.message}); matching bulk sends: "
                        f"{found}. Its recipients are not sent again by a rerun.",
                        markup=False,
                    )
                else:
                    err.print(
                        f"Chunk of {plural(len(chunk.requests), 'recipient')} not created: "
                        f"{chunk.error}. {what_to_do(chunk.error) if chunk.error else ''}",
                        markup=False,
                    )
                    if isinstance(chunk.error, AuthenticationError):
                        return EXIT_USAGE
            if earlier:
                err.print(
                    f"{plural(len(result.skipped), 'row')} already in bulk sends of an earlier "
                    f"run: {', '.join(earlier)}.",
                    markup=False,
                )
            ids = created + [i for i in earlier if i not in created]
            not_created = result.count(Outcome.REJECTED) + result.count(Outcome.UNKNOWN)
            if not ids:
                if as_json:
                    typer.echo(json.dumps({"bulk_sends": [], "not_created": not_created}))
                return EXIT_NOT_ALL_SENT if not_created else EXIT_OK
            if not watch:
                states = [await mindo.bulk_sends.get(i) for i in ids]
            else:
                total = 0
                for bulk_id in ids:
                    total += (await mindo.bulk_sends.get(bulk_id)).total_recipients
                watched = await _watched(mindo, ids, err, total, poll_interval)
                if watched is None:
                    err.print(
                        "Stopped watching; the bulk sends go on at the server. Resume with: "
                        + "; ".join(f"mindo bulk-sends show {i} --watch" for i in ids),
                        markup=False,
                    )
                    return EXIT_INTERRUPTED
                states = watched
            if writer is not None:
                for bulk in states:
                    async for message in mindo.bulk_sends.messages(bulk.id):
                        writer.write(message_json(message, bulk.id))
                err.print(f"Wrote {plural(writer.count, 'message')} to {writer.path}.")
            if as_json:
                typer.echo(
                    json.dumps(
                        {
                            "bulk_sends": [bulk_json(b) for b in states],
                            "not_created": not_created,
                        },
                        ensure_ascii=False,
                    )
                )
            else:
                out_console.print(_summary_table(states))
            failed = sum(b.failed_count for b in states)
            unfinished = any(not b.is_terminal for b in states)
            if not_created or failed or unfinished or check.invalid:
                return EXIT_NOT_ALL_SENT
            return EXIT_OK

    try:
        _run(main, err, as_json)
    finally:
        if writer is not None:
            writer.close()


# -- list, show, messages --------------------------------------------------------------------


def _date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("use YYYY-MM-DD", param_hint=flag) from None


@app.command("list")
def list_command(
    status: Annotated[
        str | None,
        typer.Option("--status", help="QUEUED, PROCESSING, COMPLETED, PARTIAL, FAILED, CANCELLED."),
    ] = None,
    from_date: Annotated[
        str | None,
        typer.Option(
            "--from", help="Created on or after this date (YYYY-MM-DD; sent as created_after)."
        ),
    ] = None,
    to_date: Annotated[
        str | None,
        typer.Option(
            "--to", help="Created on or before this date (YYYY-MM-DD; sent as created_before)."
        ),
    ] = None,
    as_json: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """List past bulk sends, newest first (every page).

    --from and --to are passed as the API's created_after and created_before;
    the API does not document whether it includes the dates themselves.
    """
    out_console, err = consoles()
    configure_logging(verbose)
    after, before = _date(from_date, "--from"), _date(to_date, "--to")
    if status is not None:
        try:
            status = BulkSendStatus(status).value
        except ValueError:
            raise typer.BadParameter(
                "use one of " + ", ".join(s.value for s in BulkSendStatus), param_hint="--status"
            ) from None

    async def main() -> int:
        async with _client(api_key, base_url, timeout) as mindo:
            rows = [
                bulk
                async for bulk in mindo.bulk_sends.list(
                    status=status, created_after=after, created_before=before
                )
            ]
        if as_json:
            for bulk in rows:
                typer.echo(json.dumps(bulk_json(bulk), ensure_ascii=False))
        else:
            out_console.print(_summary_table(rows))
        return EXIT_OK

    _run(main, err, as_json)


@app.command("show")
def show(
    bulk_send_id: Annotated[str, typer.Argument(help="The bulk send's id.", show_default=False)],
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow it with a live bar until it ends.")
    ] = False,
    poll_interval: PollOption = 2.0,
    as_json: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Show a bulk send's status and counters (--watch: until it ends; Ctrl-C stops watching)."""
    out_console, err = consoles()
    configure_logging(verbose)

    async def main() -> int:
        async with _client(api_key, base_url, timeout) as mindo:
            bulk = await mindo.bulk_sends.get(bulk_send_id)
            if watch and not bulk.is_terminal:
                watched = await _watched(
                    mindo, [bulk_send_id], err, bulk.total_recipients, poll_interval
                )
                if watched is None:
                    err.print(
                        f"Stopped watching; it goes on at the server: "
                        f"mindo bulk-sends show {bulk_send_id} --watch",
                        markup=False,
                    )
                    return EXIT_INTERRUPTED
                bulk = watched[0]
        if as_json:
            typer.echo(json.dumps(bulk_json(bulk), ensure_ascii=False))
        else:
            out_console.print(_summary_table([bulk]))
        return EXIT_OK

    _run(main, err, as_json)


@app.command("messages")
def messages(
    bulk_send_id: Annotated[str, typer.Argument(help="The bulk send's id.", show_default=False)],
    status: Annotated[
        str | None, typer.Option("--status", help="sent, delivered, read or failed.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write them to a .jsonl or .csv file.")
    ] = None,
    as_json: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """List the messages of a bulk send (every page), or write them to --out."""
    out_console, err = consoles()
    configure_logging(verbose)
    writer = MessageWriter(out) if out is not None else None

    async def main() -> int:
        table = Table(title=f"Messages of {bulk_send_id}", title_justify="left")
        for column in ("recipient", "status", "sent_at", "error"):
            table.add_column(column)
        count = 0
        async with _client(api_key, base_url, timeout) as mindo:
            async for message in mindo.bulk_sends.messages(bulk_send_id, status=status):
                count += 1
                row = message_json(message, bulk_send_id)
                if writer is not None:
                    writer.write(row)
                elif as_json:
                    typer.echo(json.dumps(row, ensure_ascii=False))
                else:
                    table.add_row(
                        message.recipient_phone,
                        str(message.status),
                        row["sent_at"] or "",
                        message.error_message or "",
                    )
        if writer is not None:
            err.print(f"Wrote {plural(count, 'message')} to {writer.path}.")
        elif not as_json:
            out_console.print(table)
        return EXIT_OK

    try:
        _run(main, err, as_json)
    finally:
        if writer is not None:
            writer.close()


__all__ = ["app"]
