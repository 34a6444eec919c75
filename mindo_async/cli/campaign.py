"""``mindo bulk``: one message per row of a file, drawn with rich.

The campaign itself (reading and checking the file, sending, results, ``--out``)
is ``mindo_async.campaign``; this module holds the command's options, the
progress bar and the summary table (``RichView``).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

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

from .._fanout import Progress as SendProgress
from .._validation import check_region
from ..campaign import (
    CampaignOptions,
    ProgressCallback,
    QueueTarget,
    RowDefaults,
    Tally,
    default_journal,
    enqueue_campaign,
    plural,
    run_campaign,
)
from ._common import (
    EXIT_INTERRUPTED,
    ApiKeyOption,
    BaseUrlOption,
    TimeoutOption,
    VerboseOption,
    configure_logging,
    consoles,
)

app = typer.Typer()


def _send_rate(progress: SendProgress) -> float:
    """Requests attempted per second: rows skipped (a resume's journal hits, repeats)
    take no time, so they do not count in the rate or the ETA."""
    elapsed = progress.elapsed
    attempted = progress.done - progress.skipped
    return attempted / elapsed if elapsed > 0 else 0.0


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

    def __enter__(self) -> ProgressCallback:
        if self._live:
            self._progress.start()
        return self.on_progress

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
        """Redraw the bar with the latest progress."""
        progress = self._latest
        if progress is None:
            return
        # Skipped rows leave the bar's total, so its ETA follows the sends alone.
        self._progress.update(
            self._task,
            total=self._total - progress.skipped,
            completed=progress.done - progress.skipped,
            rate=f"{_send_rate(progress):,.0f}/s",
            counts=_counts_text(progress, self._invalid),
        )

    def _line(self) -> None:
        progress = self._latest
        if progress is None:
            return
        rate = _send_rate(progress)
        left = self._total - progress.done
        eta = f", ETA {left / rate:,.0f} s" if rate > 0 and left > 0 else ""
        self._console.print(
            f"Sending: {progress.done:,}/{self._total:,} rows, {rate:,.0f}/s{eta}: "
            f"sent {progress.sent:,}, rejected {progress.rejected + self._invalid:,}, "
            f"unknown {progress.unknown:,}, skipped {progress.skipped:,}",
            markup=False,
        )


def _summary(tally: Tally, out: Console, *, name: str, elapsed: float, throughput: float) -> None:
    kinds = tally.kinds
    table = Table(title=f"{name}: {plural(tally.rows, 'row')}", title_justify="left")
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


class RichView:
    """A campaign run drawn on two rich consoles: the report on ``out``, the rest on ``err``."""

    def __init__(self, out: Console, err: Console) -> None:
        self.out = out
        self.err = err

    def print(self, text: str) -> None:
        """A line of the report, on ``out`` (plain text: the engine writes no markup, and
        a row's values may hold brackets)."""
        self.out.print(text, markup=False)

    def warn(self, text: str) -> None:
        """A line for the user's attention, on ``err`` (plain text)."""
        self.err.print(text, markup=False)

    def progress(self, *, total: int, invalid: int) -> AbstractContextManager[ProgressCallback]:
        """The progress bar (a plain line every few seconds when ``err`` is no terminal)."""
        return _Bar(self.err, total=total, invalid=invalid)

    def summary(self, tally: Tally, *, name: str, elapsed: float, throughput: float) -> None:
        """The table of outcomes, and the throughput."""
        _summary(tally, self.out, name=name, elapsed=elapsed, throughput=throughput)


#: Options of a run that sends here, which ``--enqueue`` refuses: the workers' own
#: ``--rate`` and the Redis journal apply to the jobs.
_NOT_WITH_ENQUEUE = {
    "rate": ("--rate", "the workers' shared limit applies: mindo worker --rate"),
    "concurrency": ("--concurrency", "the workers send: mindo worker --max-async-tasks"),
    "journal": ("--journal", "the journal is the workers' one, in Redis"),
    "no_journal": ("--no-journal", "the journal is the workers' one, in Redis"),
    "campaign_name": ("--campaign", "the journal is the workers' one: use another --namespace"),
    "retry_unknown": ("--retry-unknown", "not supported with --enqueue"),
    "allow_partial_quota": ("--allow-partial-quota", "not supported with --enqueue"),
}


def _check_enqueue_flags(ctx: typer.Context, *, enqueue: bool, redis_url: str | None) -> None:
    """Usage errors (exit status 2) for --enqueue, --redis and the flags they exclude."""
    given = set()
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name == "COMMANDLINE":
            given.add(name)
    if not enqueue:
        for name, flag in (("redis_url", "--redis"), ("namespace", "--namespace")):
            if name in given:
                raise typer.BadParameter(
                    f"{flag} is for --enqueue (hand the rows to queue workers)", param_hint=flag
                )
        return
    if not redis_url:
        raise typer.BadParameter(
            "--enqueue needs the queue's Redis: --redis redis://HOST:6379/0 "
            "(or the MINDO_REDIS_URL environment variable)",
            param_hint="--redis",
        )
    for name, (flag, why) in _NOT_WITH_ENQUEUE.items():
        if name in given:
            raise typer.BadParameter(f"not with --enqueue: {why}", param_hint=flag)


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
    preflight: Annotated[
        str,
        typer.Option(
            "--preflight",
            help="Check the rows against the account (templates, variables, quota) before "
            "sending: auto (warn and go on if the account cannot be read) or required.",
        ),
    ] = "auto",
    no_preflight: Annotated[
        bool, typer.Option("--no-preflight", help="Send without checking against the account.")
    ] = False,
    allow_partial_quota: Annotated[
        bool,
        typer.Option(
            "--allow-partial-quota",
            help="When a number's daily quota is short, send to the recipients that fit and "
            "stop; the same command run later continues from the journal.",
        ),
    ] = False,
    phone_column: Annotated[
        str | None,
        typer.Option(
            "--phone-column",
            help="The column holding the recipients, when it is not recipient_phone "
            "(e.g. Telefono).",
            show_default=False,
        ),
    ] = None,
    rename: Annotated[
        list[str] | None,
        typer.Option(
            "--rename",
            help="Rename a column of the file: --rename Nombre=name (repeatable).",
            show_default=False,
        ),
    ] = None,
    campaign_name: Annotated[
        str | None,
        typer.Option(
            "--campaign",
            help="Start a new campaign with the same file (its own journal, "
            "FILE.NAME.journal.sqlite): rows an earlier campaign sent are sent again.",
            show_default=False,
        ),
    ] = None,
    default_region: Annotated[
        str | None,
        typer.Option(
            "--default-region",
            envvar="MINDO_DEFAULT_REGION",
            help="Read phone numbers written in national forms of this country (AR: "
            "011 15-2345-6789 is +5491123456789); --out shows the number sent next to "
            "the one written.",
            show_default=False,
        ),
    ] = None,
    enqueue: Annotated[
        bool,
        typer.Option(
            "--enqueue",
            help="Hand the rows to queue workers (mindo worker) instead of sending them "
            "here, then follow their results. Needs --redis and the 'queue' extra.",
        ),
    ] = False,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis",
            metavar="URL",
            envvar="MINDO_REDIS_URL",
            show_envvar=True,
            show_default=False,
            help="With --enqueue: the queue's Redis (redis://host:port/db), the workers' one.",
        ),
    ] = None,
    namespace: Annotated[
        str,
        typer.Option(
            "--namespace", help="With --enqueue: the queue's key prefix, the workers' one."
        ),
    ] = "mindo",
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
    *,
    ctx: typer.Context,
) -> None:
    """Send one template message per row of a CSV or JSON Lines file.

    The whole file is checked before anything is sent, then checked against the
    account (templates, variables, each number's quota). A journal next to the file
    makes it safe to run the same command again after a crash or Ctrl-C: nothing
    already sent is sent twice. Exit status: 0 every row sent, 1 some rejected or
    unknown, 2 usage, file or configuration error, 130 interrupted.

    With --enqueue --redis URL, the checked rows become jobs of the queue that
    `mindo worker` processes send (one shared rate limit, one Redis journal);
    the command follows their results. Ctrl-C stops following, not the sending:
    run the same command again to follow (nothing is sent twice).
    """
    out_console, err_console = consoles()
    configure_logging(verbose)
    _check_enqueue_flags(ctx, enqueue=enqueue, redis_url=redis_url)
    if journal is not None and no_journal:
        raise typer.BadParameter("give --journal or --no-journal, not both", param_hint="--journal")
    if file_format is not None and file_format not in ("csv", "jsonl"):
        raise typer.BadParameter("use csv or jsonl", param_hint="--format")
    if preflight not in ("auto", "required"):
        raise typer.BadParameter("use auto or required", param_hint="--preflight")
    if no_preflight and preflight == "required":
        raise typer.BadParameter(
            "give --preflight=required or --no-preflight, not both", param_hint="--no-preflight"
        )
    renames: list[tuple[str, str]] = []
    for item in rename or []:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise typer.BadParameter(
                f"{item!r}: use COLUMN=NAME, e.g. --rename Nombre=name", param_hint="--rename"
            )
        renames.append((source.strip(), target.strip()))
    if phone_column is not None:
        renames.append((phone_column.strip(), "recipient_phone"))
    if campaign_name is not None and (journal is not None or no_journal):
        raise typer.BadParameter(
            "--campaign names the journal: give it without --journal or --no-journal",
            param_hint="--campaign",
        )
    try:
        journal_for_campaign = default_journal(file, campaign_name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--campaign") from None
    try:
        region = check_region(default_region)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--default-region") from None
    declared: frozenset[str] | None = None
    if variables is not None:
        declared = frozenset(name.strip() for name in variables.split(",") if name.strip())
    options = CampaignOptions(
        path=file,
        defaults=RowDefaults(
            phone_number_id=phone_number_id,
            template_name=template,
            language=language,
            default_region=region,
            renames=tuple(renames),
        ),
        declared=declared,
        file_format="csv" if file_format == "csv" else "jsonl" if file_format else None,
        concurrency=concurrency,
        rate=rate if rate > 0 else None,
        journal=None if no_journal else (journal or journal_for_campaign),
        out=out,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        retry_unknown=retry_unknown,
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        preflight="off" if no_preflight else "required" if preflight == "required" else "auto",
        allow_partial_quota=allow_partial_quota,
    )
    view = RichView(out_console, err_console)
    try:
        if enqueue:
            assert redis_url is not None  # _check_enqueue_flags
            report = enqueue_campaign(
                options, QueueTarget(redis_url=redis_url, namespace=namespace), view
            )
        else:
            report = run_campaign(options, view)
    except KeyboardInterrupt:  # while checking the file: nothing was sent yet
        err_console.print("Interrupted before sending anything.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    raise typer.Exit(report.exit_code)
