"""The pre-flight step of ``mindo bulk``: the file checked against the account before sending.

Runs after the file check. Problems are listed like bad rows (by line);
nothing is sent while any remain, unless ``--skip-invalid`` (those rows are
then reported rejected) or ``--no-preflight``. A number's quota shortfall
stops the run, saying how many recipients fit today, unless
``--allow-partial-quota``: then the first recipients that fit are sent, the
rest are reported skipped, and the same command run later continues from the
journal. No typer here; the console is rich's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import anyio
import attrs

from .._client import AsyncMindo
from .._dedupe import DigestSet
from .._errors import AuthenticationError, MindoError
from .._journal import JournalEntry, SQLiteJournal
from .._models import SendRequest
from .._preflight import PreflightChecker, PreflightReport, ProblemCode, recipient_key
from .._validation import validate_request
from ..types.business_accounts import BusinessAccounts
from ._check import FileCheck, checked_rows
from ._results import EXIT_USAGE, RowResult, journal_key
from ._rows import Row, RowDefaults

PreflightMode = Literal["auto", "required", "off"]
#: Where a line of the report goes: standard output (``say``) or standard error (``warn``).
Say = Callable[[str], None]
Lookup = Callable[[SendRequest], "JournalEntry | None"]


@attrs.frozen(kw_only=True)
class PreflightSettings:
    """What ``mindo bulk`` was asked to do about the pre-flight."""

    mode: PreflightMode = "auto"
    allow_partial_quota: bool = False
    skip_invalid: bool = False
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = 30.0


class RowGate:
    """Decides, row by row while sending, what the pre-flight rules out.

    ``__call__`` returns the row's result when it must not be sent (a problem
    found by the pre-flight with ``--skip-invalid``, or over today's quota with
    ``--allow-partial-quota``), else ``None``.
    """

    def __init__(
        self,
        report: PreflightReport,
        *,
        budgets: dict[str, int],
    ) -> None:
        self._reasons: dict[int, str] = {}
        for problem in report.request_problems:
            assert problem.index is not None
            previous = self._reasons.get(problem.index)
            self._reasons[problem.index] = (
                problem.message if previous is None else f"{previous}; {problem.message}"
            )
        self._blocked = {
            p.phone_number_id: p.message
            for p in report.number_problems
            if p.code is not ProblemCode.QUOTA_EXCEEDED and p.phone_number_id is not None
        }
        self._budgets = dict(budgets)
        self._admitted: dict[str, DigestSet] = {number: DigestSet() for number in budgets}
        #: Rows left for another day by the quota.
        self.deferred = 0
        #: Reads the journal: rows it already has do not use today's quota.
        self.lookup: Lookup | None = None

    def __call__(self, row: Row) -> RowResult | None:
        request = row.request
        if request is None:
            return None
        reason = self._reasons.get(row.line)
        if reason is not None:
            return RowResult(
                row.line,
                row.recipient,
                "rejected",
                None,
                f"pre-flight, not sent: {reason}",
                "invalid",
            )
        blocked = self._blocked.get(request.phone_number_id)
        if blocked is not None:
            return RowResult(
                row.line,
                row.recipient,
                "rejected",
                None,
                f"pre-flight, not sent: {blocked}",
                "invalid",
            )
        budget = self._budgets.get(request.phone_number_id)
        if budget is None:
            return None
        if self.lookup is not None:
            entry = self.lookup(request)
            if entry is not None and entry.may_have_been_delivered:
                return None  # the fan-out skips it; it uses no quota today
        admitted = self._admitted[request.phone_number_id]
        key = recipient_key(request.recipient_phone)
        if key in admitted:
            return None
        if len(admitted) < budget:
            admitted.add(key)
            return None
        self.deferred += 1
        return RowResult(
            row.line,
            row.recipient,
            "skipped",
            None,
            f"over today's quota of phone number {request.phone_number_id}: not sent; run the "
            "same command again once the 24-hour window has room (the journal continues here)",
            "not_attempted",
        )


@attrs.define
class PreflightStep:
    """What the pre-flight step decided."""

    #: Set when the run must stop (nothing was sent).
    exit_code: int | None = None
    gate: RowGate | None = None
    report: PreflightReport | None = None
    accounts: BusinessAccounts | None = None


async def _fetch_accounts(settings: PreflightSettings) -> BusinessAccounts:
    async with AsyncMindo(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=settings.timeout,
        rate_limit=None,
    ) as mindo:
        return await mindo.business_accounts.get()


def fetch_accounts(settings: PreflightSettings) -> BusinessAccounts:
    """The account, fetched now (``MindoError`` when it cannot be read)."""
    return anyio.run(_fetch_accounts, settings)


def check_rows(
    accounts: BusinessAccounts,
    check: FileCheck,
    *,
    defaults: RowDefaults,
    declared: frozenset[str] | None,
    lookup: Lookup | None,
) -> PreflightReport:
    """The pre-flight of the file's valid rows, by line number; journal-sent rows left out."""
    # The file check validated every row already.
    checker = PreflightChecker(accounts, validate=False)
    for row in checked_rows(check, defaults=defaults, declared=declared):
        if not row.ok or row.request is None:
            continue
        if lookup is not None:
            entry = lookup(row.request)
            if entry is not None and entry.may_have_been_delivered:
                continue
        request = row.request
        if defaults.default_region is not None:
            # Recipients as they will be sent (E.164), so the quota counts each once.
            request = validate_request(request, defaults.default_region)
        checker.check(row.line, request)
    return checker.report()


def print_report(report: PreflightReport, say: Say, *, shown: int = 30) -> None:
    """The report, like the file check's: one line per problem row, then the numbers."""
    rows = len(report.invalid_indexes)
    say(
        f"Pre-flight against the account: {report.requests:,} rows checked, "
        f"{rows:,} with problems, {len(report.number_problems)} phone number problem(s)."
    )
    by_line: dict[int, list[str]] = {}
    for problem in report.request_problems:
        assert problem.index is not None
        by_line.setdefault(problem.index, []).append(problem.message)
    for line in sorted(by_line)[:shown]:
        say(f"  line {line}: {'; '.join(by_line[line])}")
    if len(by_line) > shown:
        say(f"  ... and {len(by_line) - shown:,} more rows with problems.")
    for problem in report.number_problems:
        say(f"  {problem.message}")
    for number in report.numbers:
        if number.known and number.remaining is not None:
            pace = f", pace {number.pace}" if number.pace else ""
            say(
                f"  phone number {number.phone_number_id} ({number.tier}{pace}): "
                f"{number.recipients:,} distinct recipients, {number.remaining:,} left "
                f"in its 24-hour quota"
            )


def run_preflight(
    settings: PreflightSettings,
    check: FileCheck,
    *,
    defaults: RowDefaults,
    declared: frozenset[str] | None,
    journal: SQLiteJournal | None,
    configured: bool,
    say: Say,
    warn: Say,
) -> PreflightStep:
    """The whole pre-flight step: fetch, check, print, decide.

    ``journal`` (the run's) tells which rows an earlier run already sent: they
    are left out, so a campaign spread over days is checked for what is left.
    """
    if settings.mode == "off":
        return PreflightStep()
    if not configured:
        if settings.mode == "required":
            warn("Error: --preflight=required needs an API key. Nothing was sent.")
            return PreflightStep(EXIT_USAGE)
        warn("Pre-flight skipped: no API key to read the account with.")
        return PreflightStep()
    try:
        accounts = fetch_accounts(settings)
    except MindoError as exc:
        if isinstance(exc, AuthenticationError):
            warn(
                f"Error: the API refused the API key ({exc}): check MINDO_API_KEY. "
                "Nothing was sent."
            )
            return PreflightStep(EXIT_USAGE)
        if settings.mode == "required":
            warn(
                f"Error: cannot read the account for the pre-flight ({type(exc).__name__}: "
                f"{exc}); --preflight=required: nothing was sent."
            )
            return PreflightStep(EXIT_USAGE)
        warn(
            f"Warning: cannot read the account ({type(exc).__name__}: {exc}); going on "
            "without the pre-flight (templates and quota are not checked before sending)."
        )
        return PreflightStep()

    lookup: Lookup | None = None
    if journal is not None:
        opened = journal

        def lookup(request: SendRequest) -> JournalEntry | None:
            return opened.lookup(journal_key(request, defaults.default_region))

    report = check_rows(accounts, check, defaults=defaults, declared=declared, lookup=lookup)
    print_report(report, say)
    if report.ok:
        return PreflightStep(report=report, accounts=accounts)

    blocked = report.blocked_numbers()
    problem_rows = len(report.invalid_indexes)
    if (problem_rows or blocked) and not settings.skip_invalid:
        warn(
            "Refusing to send: the pre-flight found problems (listed above). Fix them, or "
            "pass --skip-invalid to send the other rows and report these as rejected, or "
            "--no-preflight to send without checking. Nothing was sent."
        )
        return PreflightStep(EXIT_USAGE, report=report, accounts=accounts)

    short = [n for n in report.numbers if n.known and n.can_send and n.would_fail]
    budgets: dict[str, int] = {}
    if short:
        if not settings.allow_partial_quota:
            for number in short:
                warn(
                    f"Refusing to send: phone number {number.phone_number_id} ({number.tier}) "
                    f"has room for {number.fits_today:,} more recipients today; this campaign "
                    f"has {number.recipients:,} on it, so {number.would_fail:,} would fail."
                )
            warn(
                "Send at most that many today, or pass --allow-partial-quota to send the "
                "recipients that fit and stop; the same command run later continues from "
                "the journal. Nothing was sent."
            )
            return PreflightStep(EXIT_USAGE, report=report, accounts=accounts)
        for number in short:
            budgets[number.phone_number_id] = number.fits_today
            warn(
                f"Quota: phone number {number.phone_number_id} sends to {number.fits_today:,} "
                f"of {number.recipients:,} recipients today (--allow-partial-quota); "
                "run the same command again later for the rest."
            )
    return PreflightStep(gate=RowGate(report, budgets=budgets), report=report, accounts=accounts)


def print_quota_change(
    before: BusinessAccounts, after: BusinessAccounts | None, numbers: list[str], say: Say
) -> None:
    """Each number's quota before and after the run."""
    for number_id in numbers:
        try:
            old = before.phone_number(number_id).quota
        except KeyError:
            continue
        if old is None:
            continue
        new = None
        if after is not None:
            try:
                new = after.phone_number(number_id).quota
            except KeyError:
                new = None
        limit = f"{old.daily_limit:,}" if old.daily_limit else "no limit"
        text = f"Quota of {number_id}: before {old.unique_numbers_sent_24h:,} used of {limit}" + (
            f" ({old.remaining:,} left)" if old.remaining is not None else ""
        )
        if new is not None:
            text += f"; after {new.unique_numbers_sent_24h:,} used" + (
                f" ({new.remaining:,} left)" if new.remaining is not None else ""
            )
        else:
            text += "; after: could not be read"
        say(text)


__all__ = [
    "PreflightMode",
    "PreflightSettings",
    "PreflightStep",
    "RowGate",
    "check_rows",
    "fetch_accounts",
    "print_quota_change",
    "print_report",
    "run_preflight",
]
