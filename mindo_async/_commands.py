"""The ``mindo`` command: ``send``, ``bulk``, ``emulator`` and ``demo``.

Built with typer and rich (the ``cli`` extra). ``mindo_async._cli.main`` is the
entry point; it imports this module only once it knows typer and rich are there.

Exit status, for every command: 0 when everything asked for was sent, 1 when
something was rejected or may have been delivered (unknown), 2 for usage and
configuration errors (bad flags, a bad file, a missing or refused API key),
130 when interrupted (Ctrl-C): run the same command again to resume.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import anyio
import attrs
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ._bulk import (
    BulkFileError,
    FileCheck,
    FileFormat,
    InOrder,
    ResultWriter,
    Row,
    RowDefaults,
    RowResult,
    Tally,
    check_file,
    checked_rows,
    interrupted_row,
    invalid_row,
    journal_key,
    result_row,
)
from ._client import AsyncMindo
from ._config import check_api_key, check_base_url
from ._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DeliveryUnknownError,
    InvalidRequestError,
    MindoError,
    NotFoundError,
    PermissionDeniedError,
    PhoneNumberNotFoundError,
    RateLimitError,
    ServerError,
    TemplateNotApprovedError,
    TemplateNotFoundError,
)
from ._fanout import Progress as SendProgress
from ._journal import JournalEntry, SQLiteJournal
from ._models import SendRequest, SendResult, SentMessage
from ._protocol import mask_phone

EXIT_OK = 0
EXIT_NOT_ALL_SENT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="mindo",
    help="Send WhatsApp template messages through the Mindo API, one or a whole CSV.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# -- shared options ------------------------------------------------------------------

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="MINDO_API_KEY",
        show_envvar=True,
        show_default=False,
        help="Your Mindo API key. Prefer the environment variable: a flag shows in `ps`.",
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="MINDO_BASE_URL",
        show_envvar=True,
        show_default=False,
        help="The API's base URL (default: https://api.mindosoftware.com).",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds for each attempt of a send.")
]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Log every HTTP attempt (phone numbers masked) to stderr."
    ),
]


def _consoles() -> tuple[Console, Console]:
    # Built per command, so that they write to the streams of the moment (tests swap them).
    return (
        Console(highlight=False, soft_wrap=True),
        Console(stderr=True, highlight=False, soft_wrap=True),
    )


def _configure_logging(verbose: bool) -> None:
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger = logging.getLogger("mindo_async")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def _check_configuration(api_key: str | None, base_url: str | None) -> str | None:
    """Why the client cannot be configured from these values, or ``None``."""
    try:
        check_api_key(api_key)
        if base_url:
            check_base_url(base_url)
    except ConfigurationError as exc:
        message = str(exc)
        if "no API key" in message:
            message = (
                "no API key: set the MINDO_API_KEY environment variable (or pass --api-key). "
                "To try the command without an account, run `mindo demo`, or point "
                "MINDO_BASE_URL at `mindo emulator`"
            )
        return message
    return None


# -- send ------------------------------------------------------------------------------


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{value!r} is not NAME=VALUE", param_hint=option)
        name = name.strip()
        if name in pairs:
            raise typer.BadParameter(f"{name!r} is given twice", param_hint=option)
        pairs[name] = text
    return pairs


def what_to_do(error: BaseException) -> str:
    """One sentence telling the user what to do about ``error``."""
    if isinstance(error, InvalidRequestError):
        return "Fix the fields listed; nothing was sent."
    if isinstance(error, AuthenticationError):
        return "Check MINDO_API_KEY (or --api-key): the API refused it. Nothing was sent."
    if isinstance(error, PermissionDeniedError):
        return "This API key may not use that phone number or template. Nothing was sent."
    if isinstance(error, TemplateNotFoundError):
        return "Check the template name and --language in your Meta account. Nothing was sent."
    if isinstance(error, TemplateNotApprovedError):
        return "Wait until Meta approves the template, then send again. Nothing was sent."
    if isinstance(error, PhoneNumberNotFoundError):
        return "Check --phone-number-id (Meta's id of your WhatsApp number). Nothing was sent."
    if isinstance(error, DeliveryUnknownError):
        return (
            "The message may have been delivered: check with the recipient before sending it again."
        )
    if isinstance(error, RateLimitError):
        wait = f" after {error.retry_after:g} s" if error.retry_after is not None else " later"
        return f"Rate limited: send again{wait}. Nothing was sent."
    if isinstance(error, ServerError):
        return "The API is unavailable: send again later. Nothing was sent."
    if isinstance(error, (BadRequestError, NotFoundError, APIError)):
        return "The API refused the request: fix it and send again. Nothing was sent."
    if isinstance(error, APIConnectionError):
        return (
            "The request never reached the API: check MINDO_BASE_URL and the network, then "
            "send again (safe: nothing was sent)."
        )
    return "Nothing was sent."


def _exit_code_for(error: BaseException) -> int:
    if isinstance(
        error, (InvalidRequestError, AuthenticationError, PermissionDeniedError, ConfigurationError)
    ):
        return EXIT_USAGE
    return EXIT_NOT_ALL_SENT


def sent_message_json(message: SentMessage) -> dict[str, Any]:
    """``message`` as the API's JSON body."""
    return {
        "success": message.success,
        "message_id": message.message_id,
        "template_name": message.template_name,
        "recipient_phone": message.recipient_phone,
        "status": str(message.status),
        "sent_at": message.sent_at.isoformat().replace("+00:00", "Z"),
    }


def error_json(error: BaseException) -> dict[str, Any]:
    """``error`` as JSON for ``--json``: what happened and what to do."""
    body: dict[str, Any] = {
        "type": type(error).__name__,
        "message": str(error),
        "may_have_been_delivered": isinstance(error, DeliveryUnknownError),
        "what_to_do": what_to_do(error),
    }
    if isinstance(error, APIError):
        body["status_code"] = error.status_code
    if isinstance(error, InvalidRequestError):
        body["errors"] = error.errors
    if isinstance(error, RateLimitError):
        body["retry_after"] = error.retry_after
    return {"error": body}


@app.command()
def send(
    phone_number_id: Annotated[
        str, typer.Option("--phone-number-id", help="Meta's id of the sending WhatsApp number.")
    ],
    template: Annotated[str, typer.Option("--template", "-t", help="Approved template name.")],
    to: Annotated[
        str, typer.Option("--to", help="Recipient in international format: +5491112345678.")
    ],
    language: Annotated[str, typer.Option("--language", "-l", help="Template language.")] = "es",
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="Template variable NAME=VALUE (repeat for more)."),
    ] = None,
    button_var: Annotated[
        list[str] | None,
        typer.Option("--button-var", help="Button variable button_N=VALUE (repeat for more)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result (or the error) as JSON.")
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Send one template message and print the result."""
    out, err = _consoles()
    _configure_logging(verbose)
    variables = _pairs(var, "--var")
    buttons = _pairs(button_var, "--button-var")
    problem = _check_configuration(api_key, base_url)
    if problem is not None:
        if json_output:
            out.print_json(data={"error": {"type": "ConfigurationError", "message": problem}})
        else:
            err.print(f"Error: {problem}")
        raise typer.Exit(EXIT_USAGE)
    request = SendRequest(
        phone_number_id=phone_number_id,
        template_name=template,
        recipient_phone=to,
        language=language,
        variables=variables or None,
        button_variables=buttons or None,
    )

    async def deliver() -> SentMessage:
        async with AsyncMindo(
            api_key=api_key, base_url=base_url, timeout=timeout, rate_limit=None
        ) as mindo:
            return await mindo.send_request(request)

    try:
        message = anyio.run(deliver)
    except MindoError as exc:
        if json_output:
            out.print_json(data=error_json(exc))
        else:
            err.print(f"Not sent to {mask_phone(to)}: {type(exc).__name__}: {exc}")
            if isinstance(exc, InvalidRequestError):
                for field, messages in exc.errors.items():
                    err.print(f"  {field}: {'; '.join(messages)}")
            err.print(what_to_do(exc))
        raise typer.Exit(_exit_code_for(exc)) from None
    except KeyboardInterrupt:
        err.print(
            "Interrupted: the message may have been delivered if the request had left; "
            "check before sending it again."
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if json_output:
        out.print_json(data=sent_message_json(message))
        return
    out.print(f"Sent {message.message_id}")
    out.print(f"  to        {mask_phone(message.recipient_phone)}")
    out.print(f"  template  {message.template_name} ({language})")
    out.print(f"  status    {message.status}")
    out.print(f"  sent_at   {message.sent_at.isoformat()}")


# -- bulk ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class BulkOptions:
    """Everything ``mindo bulk`` was asked to do."""

    path: Path
    defaults: RowDefaults
    declared: frozenset[str] | None = None
    file_format: FileFormat | None = None
    concurrency: int = 32
    #: Sends per second per phone number id; ``None`` for no cap.
    rate: float | None = 80.0
    #: The journal file; ``None`` keeps it in memory (``--no-journal``).
    journal: Path | None = None
    out: Path | None = None
    dry_run: bool = False
    skip_invalid: bool = False
    retry_unknown: bool = False
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = 30.0
    #: Where the emulator behind ``mindo demo`` is, for the summary (never the key).
    label: str | None = None


@attrs.define
class BulkReport:
    """What a ``mindo bulk`` run did: for the caller (``mindo demo``) and the exit status."""

    exit_code: int
    check: FileCheck | None = None
    tally: Tally | None = None
    elapsed: float = 0.0
    #: Messages this run sent per second.
    throughput: float = 0.0


def default_journal(path: Path) -> Path:
    """Where ``mindo bulk FILE`` keeps its journal: ``FILE.journal.sqlite``, next to it."""
    return path.with_name(path.name + ".journal.sqlite")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _print_check(check: FileCheck, out: Console, *, shown: int = 30) -> None:
    kind = "CSV" if check.format == "csv" else "JSON Lines"
    if check.delimiter and check.delimiter != ",":
        kind += f", {'tab' if check.delimiter == chr(9) else repr(check.delimiter)}-separated"
    out.print(
        f"Checked {check.path.name} ({kind}): {_plural(check.rows, 'row')}, "
        f"{check.valid:,} valid, {check.invalid:,} with problems."
    )
    for line, problems in check.problems[:shown]:
        out.print(f"  line {line}: {'; '.join(problems)}")
    more = check.invalid - min(shown, len(check.problems))
    if more > 0:
        out.print(f"  ... and {_plural(more, 'more row')} with problems.")
    if check.duplicates:
        examples = ", ".join(f"line {a} = line {b}" for a, b in check.duplicate_lines[:5])
        out.print(
            f"  {_plural(check.duplicates, 'row')} repeat an earlier row exactly ({examples}): "
            "each message is sent once, the repeats are reported as skipped."
        )
    for (number_id, template, language), count in check.campaigns.most_common(5):
        out.print(
            f"  {count:,} x template {template!r} ({language}) from phone number id {number_id}"
        )
    if len(check.campaigns) > 5:
        out.print(f"  ... and {len(check.campaigns) - 5} more template/number combinations")


def _counts_text(progress: SendProgress, invalid: int) -> str:
    rejected = progress.rejected + invalid
    return (
        f"[green]sent {progress.sent:,}[/]  [red]rejected {rejected:,}[/]  "
        f"[yellow]unknown {progress.unknown:,}[/]  [dim]skipped {progress.skipped:,}[/]"
    )


class _Bar:
    """The live progress, refreshed a few times a second whatever the send rate.

    On a terminal, a rich progress bar; elsewhere (a pipe, a CI log), one plain
    line every ``LOG_INTERVAL`` seconds and one at the end.
    """

    #: Seconds between two redraws of the bar from ``on_progress``.
    INTERVAL = 0.1
    #: Seconds between two plain progress lines when the output is not a terminal.
    LOG_INTERVAL = 5.0

    def __init__(self, console: Console, total: int, invalid: int) -> None:
        self._console = console
        self._total = total
        self._invalid = invalid
        self._live = console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]Sending[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
            refresh_per_second=8,
            transient=False,
        )
        self._task = self._progress.add_task("send", total=total, rate="0/s", counts="")
        self._last = 0.0
        self._last_line = time.monotonic()
        self._latest: SendProgress | None = None

    def __enter__(self) -> _Bar:
        if self._live:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live:
            self.refresh()
            self._progress.stop()
        else:
            self._line()

    def on_progress(self, progress: SendProgress) -> None:
        """The fan-out's callback: cheap on every result, redraws at most every INTERVAL."""
        self._latest = progress
        now = time.monotonic()
        if now - self._last >= self.INTERVAL:
            self._last = now
            if self._live:
                self.refresh()
            elif now - self._last_line >= self.LOG_INTERVAL:
                self._last_line = now
                self._line()

    def refresh(self) -> None:
        progress = self._latest
        if progress is None:
            return
        self._progress.update(
            self._task,
            completed=progress.done,
            rate=f"{progress.rate:,.0f}/s",
            counts=_counts_text(progress, self._invalid),
        )

    def _line(self) -> None:
        progress = self._latest
        if progress is None:
            return
        rate = progress.rate
        left = self._total - progress.done
        eta = f", ETA {left / rate:,.0f} s" if rate > 0 and left > 0 else ""
        self._console.print(
            f"Sending: {progress.done:,}/{self._total:,} rows, {rate:,.0f}/s{eta}: "
            f"sent {progress.sent:,}, rejected {progress.rejected + self._invalid:,}, "
            f"unknown {progress.unknown:,}, skipped {progress.skipped:,}",
            markup=False,
        )


def _summary(
    tally: Tally, out: Console, *, elapsed: float, throughput: float, options: BulkOptions
) -> None:
    kinds = tally.kinds
    table = Table(title=f"{options.path.name}: {_plural(tally.rows, 'row')}", title_justify="left")
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    table.add_column("what it means")
    table.add_row("sent", f"{tally.outcome('sent'):,}", "sent now")
    table.add_row(
        "rejected",
        f"{tally.outcome('rejected'):,}",
        "not delivered: refused by the API, never reached it, or an invalid row"
        + (f" ({kinds['invalid']:,} invalid)" if kinds["invalid"] else ""),
    )
    table.add_row(
        "unknown", f"{tally.outcome('unknown'):,}", "may have been delivered: do not resend blindly"
    )
    skipped_parts = []
    if kinds["already_sent"]:
        skipped_parts.append(f"{kinds['already_sent']:,} already sent by an earlier run")
    if kinds["duplicate_sent"]:
        skipped_parts.append(f"{kinds['duplicate_sent']:,} repeats of a row sent once")
    if kinds["already_unknown"]:
        skipped_parts.append(f"{kinds['already_unknown']:,} left unknown by an earlier run")
    if kinds["not_attempted"]:
        skipped_parts.append(f"{kinds['not_attempted']:,} not attempted")
    table.add_row(
        "skipped", f"{tally.outcome('skipped'):,}", "; ".join(skipped_parts) or "not sent now"
    )
    out.print(table)
    out.print(
        f"{tally.done:,} of {tally.rows:,} rows done (sent now or before); "
        f"{elapsed:.1f} s, {throughput:,.0f} messages/s sent."
    )


def _advice(tally: Tally, err: Console, options: BulkOptions) -> None:
    kinds = tally.kinds
    if tally.auth_error:
        err.print(
            f"The API refused the API key ({tally.auth_error}): check MINDO_API_KEY. "
            "Nothing more was attempted; rerun the same command once it is fixed."
        )
    if tally.interrupted:
        err.print(
            "Interrupted. Run the same command again to resume: the journal makes sure "
            "nothing already sent is sent again."
            if options.journal is not None
            else "Interrupted. Without a journal (--no-journal), a rerun would send every row "
            "again: use --out to see which were sent."
        )
    if kinds["rejected"] and not tally.auth_error:
        err.print(
            f"{_plural(kinds['rejected'], 'row')} rejected: nothing was delivered to them. "
            + ("See the error column of --out; " if options.out else "Use --out to see why; ")
            + "rerunning the same command sends them again."
        )
    if kinds["invalid"]:
        err.print(f"{_plural(kinds['invalid'], 'invalid row')} not sent: fix them and rerun.")
    unknown = kinds["unknown"] + kinds["already_unknown"]
    if unknown:
        err.print(
            f"{_plural(unknown, 'row')} may have been delivered (unknown). A rerun does not "
            "send them again; check with the recipients, then use --retry-unknown to resend "
            "the ones that did not get it."
        )


async def _watch_signals(scope: anyio.CancelScope, tally: Tally) -> None:
    """On Ctrl-C (or SIGTERM), stop sending: cancelling the fan-out records what was in flight."""
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                tally.interrupted = True
                scope.cancel()
                return
    except (ValueError, RuntimeError, NotImplementedError):
        # Signals can only be caught in the main thread; elsewhere Ctrl-C is the caller's.
        await anyio.sleep_forever()


async def _send_rows(
    options: BulkOptions,
    check: FileCheck,
    journal: SQLiteJournal,
    writer: ResultWriter | None,
    err: Console,
) -> tuple[Tally, float]:
    tally = Tally(rows=check.rows)
    indexes_to_ordinals = array("q")
    indexes_to_lines = array("q")

    def lookup(request: SendRequest) -> JournalEntry | None:
        return journal.lookup(journal_key(request))

    def emit(_ordinal: int, item: RowResult | tuple[int, SendResult]) -> None:
        if isinstance(item, RowResult):
            row_result = item
        else:
            line, result = item
            row_result = result_row(line, result, lookup)
            if isinstance(result.error, AuthenticationError) and tally.auth_error is None:
                tally.auth_error = str(result.error)
        tally.add(row_result)
        if writer is not None:
            writer.write(row_result)

    in_order = InOrder(emit)

    def requests() -> Iterator[SendRequest]:
        for row in checked_rows(check, defaults=options.defaults, declared=options.declared):
            if row.ok and row.request is not None:
                indexes_to_ordinals.append(row.ordinal)
                indexes_to_lines.append(row.line)
                yield row.request
            else:
                in_order.put(row.ordinal, invalid_row(row))

    started = time.monotonic()
    bar = _Bar(err, total=check.valid, invalid=check.invalid)
    async with AsyncMindo(
        api_key=options.api_key,
        base_url=options.base_url,
        timeout=options.timeout,
        rate_limit=options.rate,
        max_connections=max(options.concurrency, 1),
    ) as mindo:
        with bar, anyio.CancelScope() as run_scope:
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(_watch_signals, run_scope, tally)
                async with mindo.stream_many(
                    requests(),
                    concurrency=options.concurrency,
                    journal=journal,
                    retry_unknown=options.retry_unknown,
                    on_progress=bar.on_progress,
                ) as stream:
                    async for result in stream:
                        index = result.index
                        in_order.put(indexes_to_ordinals[index], (indexes_to_lines[index], result))
                watchers.cancel_scope.cancel()
    elapsed = time.monotonic() - started
    if in_order.next < check.rows:
        # Interrupted: every row without a result gets one, from what the journal knows.
        for row in checked_rows(check, defaults=options.defaults, declared=options.declared):
            if in_order.has(row.ordinal):
                continue
            in_order.put(row.ordinal, _unfinished_row(row, lookup))
    return tally, elapsed


def _unfinished_row(row: Row, lookup: Any) -> RowResult:
    if not row.ok or row.request is None:
        return invalid_row(row)
    return interrupted_row(row, lookup(row.request))


def _same_file(path: Path, *others: Path | None) -> bool:
    target = path.resolve()
    return any(other is not None and other.resolve() == target for other in others)


def run_bulk(options: BulkOptions, out: Console, err: Console) -> BulkReport:
    """Everything ``mindo bulk`` does: check the file, then send, then summarize.

    Returns the exit status with what happened; prints as it goes. Nothing is
    sent unless every check passed (or ``skip_invalid`` was given).
    """
    if not options.dry_run:
        problem = _check_configuration(options.api_key, options.base_url)
        if problem is not None:
            err.print(f"Error: {problem}. Nothing was sent.")
            return BulkReport(EXIT_USAGE)
    try:
        check = check_file(
            options.path,
            file_format=options.file_format,
            defaults=options.defaults,
            declared=options.declared,
        )
    except BulkFileError as exc:
        err.print(f"Error: {options.path.name}: {exc}")
        err.print("Nothing was sent.")
        return BulkReport(EXIT_USAGE)
    _print_check(check, out)
    if check.invalid and not options.skip_invalid:
        err.print(
            f"Refusing to send: {_plural(check.invalid, 'row')} of {check.rows:,} "
            "have problems (listed above). Fix them, or pass --skip-invalid to send the "
            f"{check.valid:,} valid rows and report the others as rejected. Nothing was sent."
        )
        return BulkReport(EXIT_USAGE, check)
    if options.dry_run:
        out.print(
            f"Dry run: {check.valid:,} rows would be sent"
            + (f", {check.invalid:,} skipped as invalid" if check.invalid else "")
            + ". Nothing was sent."
        )
        return BulkReport(EXIT_OK, check)

    if options.out is not None and _same_file(options.out, options.path, options.journal):
        err.print("Error: --out must not be the input file or the journal. Nothing was sent.")
        return BulkReport(EXIT_USAGE, check)
    try:
        writer = ResultWriter(options.out) if options.out is not None else None
    except (BulkFileError, OSError) as exc:
        err.print(f"Error: cannot write --out: {exc}. Nothing was sent.")
        return BulkReport(EXIT_USAGE, check)
    journal_path = ":memory:" if options.journal is None else os.fspath(options.journal)
    try:
        journal = SQLiteJournal(journal_path)
    except Exception as exc:  # sqlite3.Error and OSError: a bad path, or not a journal
        err.print(f"Error: cannot open the journal {journal_path}: {exc}. Nothing was sent.")
        if writer is not None:
            writer.close()
        return BulkReport(EXIT_USAGE, check)
    try:
        if options.journal is not None:
            counts = journal.counts()
            earlier = sum(counts.values())
            err.print(f"Journal: {options.journal}")
            if earlier:
                err.print(
                    f"  resuming: the journal knows {_plural(earlier, 'request')} from earlier "
                    f"runs ({', '.join(f'{v:,} {k}' for k, v in sorted(counts.items()))}); "
                    "those already sent (or maybe sent) are skipped."
                )
        else:
            err.print("Journal: none (--no-journal): a rerun would send every row again.")
        if options.label:
            err.print(options.label)
        try:
            tally, elapsed = anyio.run(_send_rows, options, check, journal, writer, err)
        except KeyboardInterrupt:  # pragma: no cover - the signal watcher handles Ctrl-C
            err.print("Interrupted. Run the same command again to resume.")
            return BulkReport(EXIT_INTERRUPTED, check)
    finally:
        journal.close()
        if writer is not None:
            writer.close()
    throughput = tally.kinds["sent"] / elapsed if elapsed > 0 else 0.0
    _summary(tally, out, elapsed=elapsed, throughput=throughput, options=options)
    if options.out is not None:
        out.print(f"Results: {options.out} (one line per row)")
    _advice(tally, err, options)
    code = EXIT_USAGE if tally.auth_error and not tally.interrupted else tally.exit_code
    return BulkReport(code, check, tally, elapsed, throughput)


@app.command()
def bulk(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or JSON Lines file: a recipient_phone column, template variables as "
            "the other columns (button_0, button_1, ... for buttons).",
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
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=1024, help="Sends in flight at once.")
    ] = 32,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            min=0,
            help="Sends per second per phone number id (Meta's default limit is 80); 0: no cap.",
        ),
    ] = 80.0,
    journal: Annotated[
        Path | None,
        typer.Option(
            "--journal",
            help="Journal that makes reruns resume (default: FILE.journal.sqlite, next to it).",
            show_default=False,
        ),
    ] = None,
    no_journal: Annotated[
        bool,
        typer.Option("--no-journal", help="Keep no journal: a rerun sends every row again."),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write one result per row to a .jsonl or .csv file."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file and stop: send nothing.")
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Send the valid rows even if some rows have problems (those are rejected).",
        ),
    ] = False,
    retry_unknown: Annotated[
        bool,
        typer.Option(
            "--retry-unknown",
            help="Resend rows an earlier run left unknown. They may have been delivered: "
            "this can send them twice.",
        ),
    ] = False,
    variables: Annotated[
        str | None,
        typer.Option(
            "--variables",
            help="The template's variable names, comma-separated: any other column is "
            "refused as unknown, and every row must fill them all.",
            show_default=False,
        ),
    ] = None,
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv or jsonl (default: from the extension, else the content)."
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Send one template message per row of a CSV or JSON Lines file.

    The whole file is checked before anything is sent. A journal next to the file
    makes it safe to run the same command again after a crash or Ctrl-C: nothing
    already sent is sent twice. Exit status: 0 every row sent, 1 some rejected or
    unknown, 2 usage, file or configuration error, 130 interrupted.
    """
    out_console, err_console = _consoles()
    _configure_logging(verbose)
    if journal is not None and no_journal:
        raise typer.BadParameter("give --journal or --no-journal, not both", param_hint="--journal")
    if file_format is not None and file_format not in ("csv", "jsonl"):
        raise typer.BadParameter("use csv or jsonl", param_hint="--format")
    declared: frozenset[str] | None = None
    if variables is not None:
        declared = frozenset(name.strip() for name in variables.split(",") if name.strip())
    options = BulkOptions(
        path=file,
        defaults=RowDefaults(
            phone_number_id=phone_number_id, template_name=template, language=language
        ),
        declared=declared,
        file_format="csv" if file_format == "csv" else "jsonl" if file_format else None,
        concurrency=concurrency,
        rate=rate if rate > 0 else None,
        journal=None if no_journal else (journal or default_journal(file)),
        out=out,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        retry_unknown=retry_unknown,
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
    )
    try:
        report = run_bulk(options, out_console, err_console)
    except KeyboardInterrupt:  # while checking the file: nothing was sent yet
        err_console.print("Interrupted before sending anything.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(report.exit_code)


# -- emulator and demo -------------------------------------------------------------------


def _register_emulator() -> None:
    from .testing._command import emulator_command

    app.command(
        "emulator",
        help="Serve a local Mindo API emulator (for tests and trials) until Ctrl-C.",
    )(emulator_command)


_register_emulator()


@app.command()
def demo(
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=200_000, help="Recipients to generate.")
    ] = 3000,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=1024, help="Sends in flight.")
    ] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the recipients and the faults.")] = 2024,
) -> None:
    """Run a whole campaign against a local emulator, with faults: no account needed."""
    from ._demo import run_demo

    out_console, err_console = _consoles()
    raise typer.Exit(
        run_demo(count=count, concurrency=concurrency, seed=seed, out=out_console, err=err_console)
    )


def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mindo-async {version('mindo-async')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Send WhatsApp template messages through the Mindo API, one or a whole CSV."""


__all__ = ["BulkOptions", "BulkReport", "app", "run_bulk", "default_journal"]
