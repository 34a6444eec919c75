"""A campaign run: check the file, then send every row once, then say what happened.

``run_campaign`` is everything ``mindo bulk`` does, with no terminal in it: it
reports through a ``CampaignView`` (plain lines for standard output and
standard error, a progress display, a summary), which the command draws with
rich and a test can simply collect. ``mindo demo`` runs it too.
"""

from __future__ import annotations

import os
import re
import signal
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import anyio
import attrs

from .._client import AsyncMindo
from .._config import check_api_key, check_base_url
from .._errors import AuthenticationError, ConfigurationError, MindoError
from .._fanout import Progress
from .._journal import JournalEntry, SQLiteJournal
from .._models import SendRequest, SendResult
from ..types.business_accounts import BusinessAccounts
from ._check import FileCheck, check_file, checked_rows
from ._preflight import (
    PreflightMode,
    PreflightSettings,
    PreflightStep,
    RowGate,
    fetch_accounts,
    print_quota_change,
    run_preflight,
)
from ._results import (
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_SENT,
    EXIT_OK,
    EXIT_USAGE,
    InOrder,
    JournalLookup,
    RowResult,
    Tally,
    interrupted_row,
    invalid_row,
    journal_key,
    result_row,
)
from ._rows import CampaignFileError, FileFormat, Row, RowDefaults
from ._writing import ResultWriter

#: What the fan-out calls with its progress, a few times a second at most.
ProgressCallback = Callable[[Progress], None]


@attrs.frozen(kw_only=True)
class CampaignOptions:
    """Everything a campaign run was asked to do (the flags of ``mindo bulk``)."""

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
    #: The pre-flight against the account: ``auto`` (warn and go on when the account
    #: cannot be read), ``required`` or ``off``.
    preflight: PreflightMode = "auto"
    #: Send what today's quota allows and stop, instead of refusing the run.
    allow_partial_quota: bool = False


@attrs.define
class CampaignReport:
    """What a run did: for the caller (``mindo demo``) and the exit status."""

    exit_code: int
    check: FileCheck | None = None
    tally: Tally | None = None
    elapsed: float = 0.0
    #: Messages this run sent per second.
    throughput: float = 0.0


class CampaignView(Protocol):
    """How a run shows what it does. ``mindo bulk`` draws with rich; tests collect."""

    def print(self, text: str) -> None:
        """A line of the run's report, for standard output."""

    def warn(self, text: str) -> None:
        """A line for the user's attention (errors, the journal, advice), for standard error."""

    def progress(self, *, total: int, invalid: int) -> AbstractContextManager[ProgressCallback]:
        """A progress display for ``total`` rows to send (``invalid`` more are not sent).

        Entered while sending; what it gives is the fan-out's progress callback.
        """

    def summary(self, tally: Tally, *, name: str, elapsed: float, throughput: float) -> None:
        """What happened to the rows of file ``name``, once the run is over."""


def default_journal(path: Path, campaign: str | None = None) -> Path:
    """Where ``mindo bulk FILE`` keeps its journal: ``FILE.journal.sqlite``, next to it;
    with ``--campaign NAME``, ``FILE.NAME.journal.sqlite`` (a new campaign, same file)."""
    if campaign is not None:
        if CAMPAIGN_NAME.fullmatch(campaign) is None:
            raise ValueError(
                f"--campaign {campaign!r}: use letters, digits, '.', '_' or '-' (e.g. 2026-w49)"
            )
        return path.with_name(f"{path.name}.{campaign}.journal.sqlite")
    return path.with_name(path.name + ".journal.sqlite")


#: What a ``--campaign`` name may be: it becomes part of a file name.
CAMPAIGN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def plural(count: int, word: str) -> str:
    """``"1 row"``, ``"1,200 rows"``."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def configuration_problem(api_key: str | None, base_url: str | None) -> str | None:
    """Why the client cannot be configured from these values (the command's words), or ``None``."""
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


def describe_check(check: FileCheck, *, shown: int = 30) -> Iterator[str]:
    """The lines that tell what checking the file found: counts, problems, repeats, templates."""
    kind = "CSV" if check.format == "csv" else "JSON Lines"
    if check.delimiter and check.delimiter != ",":
        kind += f", {'tab' if check.delimiter == chr(9) else repr(check.delimiter)}-separated"
    yield (
        f"Checked {check.path.name} ({kind}): {plural(check.rows, 'row')}, "
        f"{check.valid:,} valid, {check.invalid:,} with problems."
    )
    for line, problems in check.problems[:shown]:
        yield f"  line {line}: {'; '.join(problems)}"
    more = check.invalid - min(shown, len(check.problems))
    if more > 0:
        yield f"  ... and {plural(more, 'more row')} with problems."
    if check.duplicates:
        examples = ", ".join(f"line {a} = line {b}" for a, b in check.duplicate_lines[:5])
        yield (
            f"  {plural(check.duplicates, 'row')} repeat an earlier row exactly ({examples}): "
            "each message is sent once, the repeats are reported as skipped."
        )
    for (number_id, template, language), count in check.campaigns.most_common(5):
        yield f"  {count:,} x template {template!r} ({language}) from phone number id {number_id}"
    if len(check.campaigns) > 5:
        yield f"  ... and {len(check.campaigns) - 5} more template/number combinations"


def advice(tally: Tally, options: CampaignOptions) -> Iterator[str]:
    """What to do next, given what happened: one line per kind of trouble."""
    kinds = tally.kinds
    if tally.auth_error:
        yield (
            f"The API refused the API key ({tally.auth_error}): check MINDO_API_KEY. "
            "Nothing more was attempted; rerun the same command once it is fixed."
        )
    if tally.interrupted:
        yield (
            "Interrupted. Run the same command again to resume: the journal makes sure "
            "nothing already sent is sent again."
            if options.journal is not None
            else "Interrupted. Without a journal (--no-journal), a rerun would send every row "
            "again: use --out to see which were sent."
        )
    if kinds["rejected"] and not tally.auth_error:
        yield (
            f"{plural(kinds['rejected'], 'row')} rejected: nothing was delivered to them. "
            + ("See the error column of --out; " if options.out else "Why, above; ")
            + "rerunning the same command sends them again."
        )
    if kinds["invalid"]:
        yield f"{plural(kinds['invalid'], 'invalid row')} not sent: fix them and rerun."
    # Counted as the summary table counts them: "unknown" is this run's unknown
    # rows (the --out outcome); the rows an earlier run left unknown are skipped now,
    # and named as the table's skipped line names them.
    unknown = tally.outcome("unknown")
    earlier = kinds["already_unknown"]
    parts = []
    if unknown:
        parts.append(f"{plural(unknown, 'row')} may have been delivered (unknown)")
    if earlier:
        parts.append(
            f"{plural(earlier, 'row')} left unknown by an earlier run "
            f"{'was' if earlier == 1 else 'were'} skipped (they may have been delivered too)"
        )
    if parts:
        yield (
            "; ".join(parts) + ". A rerun does not send them again; check with the "
            "recipients, then use --retry-unknown to resend the ones that did not get it."
        )


async def watch_signals(scope: anyio.CancelScope, tally: Tally) -> None:
    """On Ctrl-C (or SIGTERM), stop sending: cancelling the fan-out records what was in flight."""
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for received in signals:
                tally.interrupted = True
                tally.terminated = received == signal.SIGTERM
                scope.cancel()
                return
    except (ValueError, RuntimeError, NotImplementedError):
        # Signals can only be caught in the main thread; elsewhere Ctrl-C is the caller's.
        await anyio.sleep_forever()


async def _send_rows(
    options: CampaignOptions,
    check: FileCheck,
    journal: SQLiteJournal,
    writer: ResultWriter | None,
    view: CampaignView,
    gate: RowGate | None = None,
) -> tuple[Tally, float]:
    tally = Tally(rows=check.rows)
    indexes_to_ordinals = array("q")
    indexes_to_lines = array("q")

    def lookup(request: SendRequest) -> JournalEntry | None:
        return journal.lookup(journal_key(request, options.defaults.default_region))

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
    if gate is not None:
        gate.lookup = lookup

    def requests() -> Iterator[SendRequest]:
        for row in checked_rows(check, defaults=options.defaults, declared=options.declared):
            ruled_out = gate(row) if gate is not None and row.ok else None
            if ruled_out is not None:
                in_order.put(row.ordinal, ruled_out)
            elif row.ok and row.request is not None:
                indexes_to_ordinals.append(row.ordinal)
                indexes_to_lines.append(row.line)
                yield row.request
            else:
                in_order.put(row.ordinal, invalid_row(row))

    started = time.monotonic()
    async with AsyncMindo(
        api_key=options.api_key,
        base_url=options.base_url,
        timeout=options.timeout,
        rate_limit=options.rate,
        max_connections=max(options.concurrency, 1),
        # The check read the rows with this region; "" keeps MINDO_DEFAULT_REGION
        # from giving the client another one (the command reads it into --default-region).
        default_region=options.defaults.default_region or "",
    ) as mindo:
        with (
            view.progress(total=check.valid, invalid=check.invalid) as on_progress,
            anyio.CancelScope() as run_scope,
        ):
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(watch_signals, run_scope, tally)
                async with mindo.stream_many(
                    requests(),
                    concurrency=options.concurrency,
                    journal=journal,
                    retry_unknown=options.retry_unknown,
                    on_progress=on_progress,
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


def _unfinished_row(row: Row, lookup: JournalLookup) -> RowResult:
    if not row.ok or row.request is None:
        return invalid_row(row)
    return interrupted_row(row, lookup(row.request))


def _same_file(path: Path, *others: Path | None) -> bool:
    target = path.resolve()
    return any(other is not None and other.resolve() == target for other in others)


def checked_file(options: CampaignOptions, view: CampaignView) -> FileCheck | CampaignReport:
    """Check the whole file and say what was found: the check, or the report to stop
    with (the file cannot be read, or rows have problems and no ``skip_invalid``)."""
    try:
        check = check_file(
            options.path,
            file_format=options.file_format,
            defaults=options.defaults,
            declared=options.declared,
        )
    except CampaignFileError as exc:
        view.warn(f"Error: {options.path.name}: {exc}")
        view.warn("Nothing was sent.")
        return CampaignReport(EXIT_USAGE)
    for text in describe_check(check):
        view.print(text)
    if check.invalid and not options.skip_invalid:
        view.warn(
            f"Refusing to send: {plural(check.invalid, 'row')} of {check.rows:,} "
            "have problems (listed above). Fix them, or pass --skip-invalid to send the "
            f"{check.valid:,} valid rows and report the others as rejected. Nothing was sent."
        )
        return CampaignReport(EXIT_USAGE, check)
    return check


def open_out(
    options: CampaignOptions, check: FileCheck, view: CampaignView
) -> ResultWriter | CampaignReport | None:
    """The ``--out`` writer (``None`` without ``--out``), or the report to stop with."""
    if options.out is not None and _same_file(options.out, options.path, options.journal):
        view.warn("Error: --out must not be the input file or the journal. Nothing was sent.")
        return CampaignReport(EXIT_USAGE, check)
    try:
        return ResultWriter(options.out) if options.out is not None else None
    except (CampaignFileError, OSError) as exc:
        view.warn(f"Error: cannot write --out: {exc}. Nothing was sent.")
        return CampaignReport(EXIT_USAGE, check)


def run_campaign(options: CampaignOptions, view: CampaignView) -> CampaignReport:
    """Everything ``mindo bulk`` does: check the file, then send, then summarize.

    Returns the exit status with what happened; reports through ``view`` as it
    goes. Nothing is sent unless every check passed (or ``skip_invalid`` was
    given). Runs its own event loop (``anyio.run``): call it from synchronous code.
    """
    problem = configuration_problem(options.api_key, options.base_url)
    if not options.dry_run and problem is not None:
        view.warn(f"Error: {problem}. Nothing was sent.")
        return CampaignReport(EXIT_USAGE)
    check = checked_file(options, view)
    if isinstance(check, CampaignReport):
        return check
    if options.dry_run:
        if options.preflight == "required":
            stop = preflight_step(options, check, None, problem is None, view)
            if isinstance(stop, int):
                return CampaignReport(stop, check)
        view.print(
            f"Dry run: {check.valid:,} rows would be sent"
            + (f", {check.invalid:,} skipped as invalid" if check.invalid else "")
            + ". Nothing was sent."
        )
        return CampaignReport(EXIT_OK, check)

    writer = open_out(options, check, view)
    if isinstance(writer, CampaignReport):
        return writer
    journal_path = ":memory:" if options.journal is None else os.fspath(options.journal)
    try:
        journal = SQLiteJournal(journal_path)
    except Exception as exc:  # sqlite3.Error and OSError: a bad path, or not a journal
        view.warn(f"Error: cannot open the journal {journal_path}: {exc}. Nothing was sent.")
        if writer is not None:
            writer.close()
        return CampaignReport(EXIT_USAGE, check)
    try:
        stop = preflight_step(options, check, journal, problem is None, view)
        if isinstance(stop, int):
            return CampaignReport(stop, check)
        step = stop
        if options.journal is not None:
            counts = journal.counts()
            earlier = sum(counts.values())
            view.warn(f"Journal: {options.journal}")
            if earlier:
                view.warn(
                    f"  resuming: the journal knows {plural(earlier, 'request')} from earlier "
                    f"runs ({', '.join(f'{v:,} {k}' for k, v in sorted(counts.items()))}); "
                    "those already sent (or maybe sent) are skipped."
                )
        else:
            view.warn("Journal: none (--no-journal): a rerun would send every row again.")
        if options.label:
            view.warn(options.label)
        try:
            tally, elapsed = anyio.run(_send_rows, options, check, journal, writer, view, step.gate)
        except KeyboardInterrupt:  # pragma: no cover - the signal watcher handles Ctrl-C
            view.warn("Interrupted. Run the same command again to resume.")
            return CampaignReport(EXIT_INTERRUPTED, check)
    finally:
        journal.close()
        if writer is not None:
            writer.close()
    throughput = tally.kinds["sent"] / elapsed if elapsed > 0 else 0.0
    view.summary(tally, name=options.path.name, elapsed=elapsed, throughput=throughput)
    if options.out is not None:
        view.print(f"Results: {options.out} (one line per row)")
    if step.accounts is not None and step.report is not None:
        try:
            after: BusinessAccounts | None = fetch_accounts(
                PreflightSettings(
                    api_key=options.api_key, base_url=options.base_url, timeout=options.timeout
                )
            )
        except MindoError:
            after = None
        print_quota_change(
            step.accounts, after, [n.phone_number_id for n in step.report.numbers], view.print
        )
    already = tally.kinds["already_sent"]
    if already and already == tally.rows and options.journal is not None:
        view.warn(
            f"Nothing to send: {plural(already, 'row')} already done by an earlier run "
            f"(journal {options.journal}); use --campaign NAME to send them again as a "
            "new campaign."
        )
    for text in tally.why():
        view.warn(text)
    for text in advice(tally, options):
        view.warn(text)
    deferred = step.gate.deferred if step.gate is not None else 0
    if deferred:
        view.warn(
            f"{plural(deferred, 'row')} left for later by the quota (--allow-partial-quota): "
            "run the same command again once the 24-hour window has room; the journal "
            "continues from here."
        )
    code = EXIT_USAGE if tally.auth_error and not tally.interrupted else tally.exit_code
    if code == EXIT_NOT_ALL_SENT and deferred and tally.done + deferred == tally.rows:
        # Stopped cleanly at the quota, as asked: everything else was sent.
        code = EXIT_OK
    return CampaignReport(code, check, tally, elapsed, throughput)


def preflight_step(
    options: CampaignOptions,
    check: FileCheck,
    journal: SQLiteJournal | None,
    configured: bool,
    view: CampaignView,
) -> PreflightStep | int:
    """The pre-flight against the account: its decision, or the exit status to stop with."""
    step = run_preflight(
        PreflightSettings(
            mode=options.preflight,
            allow_partial_quota=options.allow_partial_quota,
            skip_invalid=options.skip_invalid,
            api_key=options.api_key,
            base_url=options.base_url,
            timeout=options.timeout,
        ),
        check,
        defaults=options.defaults,
        declared=options.declared,
        journal=journal,
        configured=configured,
        say=view.print,
        warn=view.warn,
    )
    if step.exit_code is not None:
        return step.exit_code
    return step
