"""What happened to each row of a campaign, and to the whole run.

``RowResult`` is one line of ``--out``; ``result_row``, ``invalid_row`` and
``interrupted_row`` make one from what the fan-out (or the check, or the
journal) knows. ``Tally`` counts them and decides the exit status; ``InOrder``
puts results that arrive in completion order back in row order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs

from .._errors import AlreadyProcessedError, DuplicateRequestError
from .._fanout import describe_skip
from .._journal import IN_FLIGHT, JournalEntry, request_key
from .._models import Outcome, SendRequest, SendResult
from .._validation import validate_request
from ._rows import Row

#: Exit status of every ``mindo`` command: everything asked for was done.
EXIT_OK = 0
#: Something was rejected, or may have been delivered (unknown).
EXIT_NOT_ALL_SENT = 1
#: Usage and configuration errors: bad flags, a bad file, a missing or refused API key.
EXIT_USAGE = 2
#: Interrupted (Ctrl-C or SIGTERM): run the same command again to resume.
EXIT_INTERRUPTED = 130
#: Stopped by SIGTERM (a container or service manager), handled like Ctrl-C: 128 + 15.
EXIT_TERMINATED = 143

#: How many line numbers the summary shows for each reason.
REASON_LINES = 5
#: How many distinct reasons are kept; the rest are counted as "other".
MAX_REASONS = 200


@attrs.frozen
class RowResult:
    """One line of ``--out``: what happened to one input row."""

    line: int
    recipient_phone: str
    #: ``sent``, ``rejected``, ``unknown`` or ``skipped``.
    outcome: str
    message_id: str | None = None
    error: str | None = None
    #: Why it counts as it does in the summary (not written to ``--out``): one of
    #: ``RESULT_KINDS``.
    kind: str = "sent"
    #: The recipient as sent (E.164; read with ``--default-region``), when the row was valid.
    recipient_e164: str | None = None


#: How each row ended, finer than the four outcomes.
RESULT_KINDS = (
    "sent",  # sent by this run
    "already_sent",  # skipped: the journal says an earlier run sent it
    "duplicate_sent",  # skipped: an identical earlier row of this file was sent
    "rejected",  # refused by the API, or it never reached the API
    "invalid",  # refused before sending: the row has problems (--skip-invalid)
    "unknown",  # may have been delivered (this run)
    "already_unknown",  # skipped: an earlier run left it unknown (or in flight)
    "not_attempted",  # skipped: a breaker tripped, a duplicate of an unsent row, or interrupted
)

JournalLookup = Callable[[SendRequest], "JournalEntry | None"]


def _describe_error(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return f"{type(error).__name__}: {error}"


def result_row(line: int, result: SendResult, lookup: JournalLookup) -> RowResult:
    """The ``--out`` line of a row sent through the fan-out (see ``_result_row``), with
    the recipient as sent next to the one written."""
    row = _result_row(line, result, lookup)
    return attrs.evolve(row, recipient_e164=result.recipient_e164)


def _result_row(line: int, result: SendResult, lookup: JournalLookup) -> RowResult:
    """The ``--out`` line of a row sent through the fan-out.

    ``lookup`` reads the journal, which knows what an earlier run (or an
    identical earlier row) did: call it only once every earlier row has its
    result, so that a duplicate's original is final.
    """
    request = result.request
    outcome = result.outcome
    recipient = request.recipient_phone
    if outcome is Outcome.SENT:
        assert result.message is not None
        return RowResult(line, recipient, "sent", result.message.message_id, None, "sent")
    if outcome is Outcome.REJECTED:
        return RowResult(
            line, recipient, "rejected", None, _describe_error(result.error), "rejected"
        )
    if outcome is Outcome.UNKNOWN:
        return RowResult(
            line,
            recipient,
            "unknown",
            None,
            _describe_error(result.error) or "may have been delivered",
            "unknown",
        )
    error = result.error
    if isinstance(error, (AlreadyProcessedError, DuplicateRequestError)):
        entry = lookup(request)
        earlier = (
            "an earlier run"
            if isinstance(error, AlreadyProcessedError)
            else ("an identical earlier row of this file")
        )
        if entry is not None and entry.state == Outcome.SENT.value:
            kind = "already_sent" if isinstance(error, AlreadyProcessedError) else "duplicate_sent"
            return RowResult(
                line, recipient, "skipped", entry.message_id, f"already sent by {earlier}", kind
            )
        if entry is not None and entry.state in (Outcome.UNKNOWN.value, IN_FLIGHT):
            return RowResult(
                line,
                recipient,
                "skipped",
                None,
                f"not sent again: {earlier} left it unknown (it may have been delivered); "
                "rerun with --retry-unknown only once you know it was not",
                "already_unknown",
            )
        state = entry.state if entry is not None else "not sent"
        return RowResult(
            line,
            recipient,
            "skipped",
            None,
            f"not attempted: identical to {earlier}, which was {state}",
            "not_attempted",
        )
    return RowResult(line, recipient, "skipped", None, describe_skip(result), "not_attempted")


def invalid_row(row: Row) -> RowResult:
    """The ``--out`` line of a row refused before sending (``--skip-invalid``)."""
    return RowResult(
        row.line,
        row.recipient,
        "rejected",
        None,
        "invalid row, not sent: " + "; ".join(row.problems),
        "invalid",
    )


def interrupted_row(row: Row, entry: JournalEntry | None) -> RowResult:
    """The ``--out`` line of a row that has no result because the run was interrupted."""
    if entry is not None and entry.state in (Outcome.UNKNOWN.value, IN_FLIGHT):
        return RowResult(
            row.line,
            row.recipient,
            "unknown",
            None,
            "interrupted while in flight: it may have been delivered",
            "unknown",
        )
    if entry is not None and entry.state == Outcome.SENT.value:
        # An earlier run, or an identical earlier row, sent it.
        return RowResult(
            row.line,
            row.recipient,
            "skipped",
            entry.message_id,
            "already sent (the journal has it)",
            "already_sent",
        )
    return RowResult(
        row.line,
        row.recipient,
        "skipped",
        None,
        "not attempted: the run was interrupted; rerun the same command to send it",
        "not_attempted",
    )


@attrs.define
class Tally:
    """Counts of what happened to the rows of one run, and the exit status they call for."""

    rows: int = 0
    kinds: Counter[str] = attrs.Factory(Counter)
    interrupted: bool = False
    #: Stopped by SIGTERM rather than Ctrl-C (exit status 143, not 130).
    terminated: bool = False
    #: The API refused the key (401): a configuration error, not a per-row one.
    auth_error: str | None = None
    #: (outcome, reason) of the rows not sent now: how many, and their first lines.
    reasons: dict[tuple[str, str], list[int]] = attrs.Factory(dict)
    reason_counts: Counter[tuple[str, str]] = attrs.Factory(Counter)

    def add(self, result: RowResult) -> None:
        self.kinds[result.kind] += 1
        if result.outcome != "sent" and result.error:
            key = (result.outcome, result.error)
            if key not in self.reasons and len(self.reasons) >= MAX_REASONS:
                key = (result.outcome, "other reasons")
            lines = self.reasons.setdefault(key, [])
            if len(lines) < REASON_LINES:
                lines.append(result.line)
            self.reason_counts[key] += 1

    def why(self, *, limit: int = 10) -> list[str]:
        """The reasons rows were not sent now, most frequent first: count, outcome,
        reason (the API's message, the breaker and its cause) and a few line numbers."""
        out = []
        for key, count in self.reason_counts.most_common(limit):
            outcome, reason = key
            lines = self.reasons[key]
            where = ", ".join(str(line) for line in lines) + (", ..." if count > len(lines) else "")
            out.append(f"{count:,} {outcome}: {reason} (line{'s' if count > 1 else ''} {where})")
        hidden = len(self.reason_counts) - limit
        if hidden > 0:
            out.append(f"... and {hidden:,} more reasons: see --out")
        return out

    @property
    def counted(self) -> int:
        """Rows that have a result."""
        return sum(self.kinds.values())

    def outcome(self, outcome: str) -> int:
        """Rows whose ``--out`` outcome is ``outcome``."""
        members = {
            "sent": ("sent",),
            "rejected": ("rejected", "invalid"),
            "unknown": ("unknown",),
            "skipped": ("already_sent", "duplicate_sent", "already_unknown", "not_attempted"),
        }[outcome]
        return sum(self.kinds[kind] for kind in members)

    @property
    def done(self) -> int:
        """Rows whose message went out exactly once: now, earlier, or through an identical row."""
        return self.kinds["sent"] + self.kinds["already_sent"] + self.kinds["duplicate_sent"]

    @property
    def exit_code(self) -> int:
        """0 when every row's message was sent, 130 when interrupted, else 1."""
        if self.interrupted:
            return EXIT_TERMINATED if self.terminated else EXIT_INTERRUPTED
        return EXIT_OK if self.done == self.rows else EXIT_NOT_ALL_SENT


class InOrder:
    """Hands results to ``emit`` in row order, whatever order they arrive in.

    Results arrive in completion order; a result waits here only until every
    earlier row has its own, so this holds about as many as are in flight.
    """

    def __init__(self, emit: Callable[[int, Any], None]) -> None:
        self._emit = emit
        self._waiting: dict[int, Any] = {}
        #: The ordinal of the next row to emit: every row before it was emitted.
        self.next = 0

    def put(self, ordinal: int, item: Any) -> None:
        """Add the result of row ``ordinal``, and emit every row that is now next."""
        self._waiting[ordinal] = item
        while self.next in self._waiting:
            self._emit(self.next, self._waiting.pop(self.next))
            self.next += 1

    def has(self, ordinal: int) -> bool:
        """Whether row ``ordinal`` has its result (emitted or waiting)."""
        return ordinal < self.next or ordinal in self._waiting

    def drain(self) -> None:
        """Emit whatever waits, in order, leaving gaps (after an interruption)."""
        for ordinal in sorted(self._waiting):
            self._emit(ordinal, self._waiting.pop(ordinal))


def journal_key(request: SendRequest, default_region: str | None = None) -> str:
    """The key the fan-out's journal gives ``request`` (its default key), read with
    the client's ``default_region``."""
    return request_key(validate_request(request, default_region))
