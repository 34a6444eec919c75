"""``mindo bulk FILE --enqueue``: a campaign handed to queue workers, then followed.

The file is read and checked exactly as ``mindo bulk`` does (``checked_file``),
then each distinct valid row becomes one job of ``mindo_async.queue.SendQueue``;
the workers (``mindo worker``) send them through the shared Redis limiter and
journal. The run then follows the jobs' results until every job has one, and
reports them like ``mindo bulk``: the same progress, summary, ``--out`` and exit
statuses.

Enqueuing the same file again sends nothing twice: each job's request has the
journal key ``mindo bulk`` gives it, and the Redis journal's claim lets one job
send a request; the others report it sent by an earlier job. That is also how a
run stopped with Ctrl-C is followed again: the jobs stay queued and the workers
go on; the same command enqueues the file again, and its new jobs report what
the first ones did.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import anyio
import attrs

from .._fanout import Progress
from .._journal import request_key
from .._validation import validate_request
from ._check import FileCheck, checked_rows
from ._results import (
    EXIT_NOT_ALL_SENT,
    EXIT_OK,
    EXIT_USAGE,
    InOrder,
    RowResult,
    Tally,
    invalid_row,
)
from ._run import (
    CampaignOptions,
    CampaignReport,
    CampaignView,
    ProgressCallback,
    checked_file,
    configuration_problem,
    open_out,
    plural,
    preflight_step,
    watch_signals,
)
from ._writing import ResultWriter

if TYPE_CHECKING:
    from ..queue import JobResult, SendQueue


#: How many pending jobs one poll reads (the oldest): bounds a poll's Redis calls.
FOLLOW_WINDOW = 1000


@attrs.frozen(kw_only=True)
class QueueTarget:
    """Where ``--enqueue`` hands the jobs: the queue's Redis and key namespace."""

    #: ``redis://host:port/db`` (``$MINDO_REDIS_URL``).
    redis_url: str
    #: The prefix of the queue's keys: the same as the workers' ``--namespace``.
    namespace: str = "mindo"
    #: Seconds between two reads of the jobs' results while following.
    poll: float = 0.5


def redacted_url(url: str) -> str:
    """``url`` without its password (``redis://:secret@host`` shows as ``redis://:***@host``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@attrs.define
class _Job:
    """One job and the row it was enqueued for."""

    job_id: str
    ordinal: int
    line: int
    recipient: str
    recipient_e164: str
    #: Later rows identical to this one: ``(ordinal, line, recipient)``; they are not
    #: enqueued, and take this job's result.
    repeats: list[tuple[int, int, str]] = attrs.Factory(list)


def job_row(job: _Job, result: JobResult) -> RowResult:
    """The ``--out`` line of the row of a job that has its result."""
    line, recipient, e164 = job.line, job.recipient, job.recipient_e164
    if result.outcome == "sent":
        return RowResult(line, recipient, "sent", result.message_id, None, "sent", e164)
    if result.outcome == "rejected":
        return RowResult(line, recipient, "rejected", None, result.error, "rejected", e164)
    if result.outcome == "unknown":
        error = result.error or "may have been delivered"
        return RowResult(line, recipient, "unknown", None, error, "unknown", e164)
    if result.message_id is not None:
        # Its request was sent by another job: an earlier enqueue of this file
        # (or a delivery of this job before its worker died).
        return RowResult(
            line,
            recipient,
            "skipped",
            result.message_id,
            "already sent by an earlier job (the journal has it)",
            "already_sent",
            e164,
        )
    error = result.error or "not sent"
    return RowResult(line, recipient, "skipped", None, error, "not_attempted", e164)


def _repeat_row(ordinal_line: tuple[int, int, str], original: RowResult) -> RowResult:
    _, line, recipient = ordinal_line
    if original.kind in ("sent", "already_sent"):
        return RowResult(
            line,
            recipient,
            "skipped",
            original.message_id,
            "already sent by an identical earlier row of this file",
            "duplicate_sent",
            original.recipient_e164,
        )
    return RowResult(
        line,
        recipient,
        "skipped",
        None,
        f"not attempted: identical to line {original.line}, which was {original.outcome}",
        "not_attempted",
        original.recipient_e164,
    )


def _count(progress: Progress, row: RowResult) -> None:
    if row.outcome == "sent":
        progress.sent += 1
    elif row.outcome == "rejected":
        progress.rejected += 1
    elif row.outcome == "unknown":
        progress.unknown += 1
    else:
        progress.skipped += 1


@attrs.define
class _Followed:
    tally: Tally
    elapsed: float
    enqueued: int
    #: Jobs enqueued that had no result when the run stopped following.
    pending: int
    #: Valid rows not enqueued (interrupted while enqueuing).
    not_enqueued: int
    #: Why the run could not go on (Redis out of reach), if it could not.
    failure: str | None = None


async def _enqueue_and_follow(
    options: CampaignOptions,
    target: QueueTarget,
    check: FileCheck,
    writer: ResultWriter | None,
    view: CampaignView,
    make_queue: Callable[[], SendQueue],
) -> _Followed:
    from redis.exceptions import RedisError  # the queue extra is installed

    tally = Tally(rows=check.rows)
    region = options.defaults.default_region

    def emit(_ordinal: int, row: RowResult) -> None:
        tally.add(row)
        if writer is not None:
            writer.write(row)

    in_order = InOrder(emit)
    jobs: list[_Job] = []
    by_key: dict[str, _Job] = {}
    progress = Progress(total=check.valid)

    def record(ordinal: int, row: RowResult) -> None:
        in_order.put(ordinal, row)
        _count(progress, row)
        if row.error and row.error.startswith("AuthenticationError") and not tally.auth_error:
            tally.auth_error = row.error

    started = time.monotonic()
    pending: dict[str, _Job] = {}
    failure: str | None = None

    async def enqueue_rows(queue: SendQueue) -> None:
        for row in checked_rows(check, defaults=options.defaults, declared=options.declared):
            if not row.ok or row.request is None:
                in_order.put(row.ordinal, invalid_row(row))
                continue
            request = validate_request(row.request, region)
            key = request_key(request)
            earlier = by_key.get(key)
            if earlier is not None:
                earlier.repeats.append((row.ordinal, row.line, row.recipient))
                continue
            job_id = await queue.enqueue(request)
            job = _Job(job_id, row.ordinal, row.line, row.recipient, request.recipient_phone)
            jobs.append(job)
            by_key[key] = job
            pending[job_id] = job

    async def follow(queue: SendQueue, on_progress: ProgressCallback) -> None:
        on_progress(progress)
        while pending:
            # The oldest jobs first, a bounded number per poll: the queue hands jobs
            # out in order, so later ones rarely finish first (they are read later).
            ready = await queue.results(list(itertools.islice(pending, FOLLOW_WINDOW)))
            for job_id, result in ready.items():
                job = pending.pop(job_id)
                row_result = job_row(job, result)
                record(job.ordinal, row_result)
                for repeat in job.repeats:
                    record(repeat[0], _repeat_row(repeat, row_result))
            on_progress(progress)
            if pending:
                await anyio.sleep(target.poll)

    try:
        async with make_queue() as queue:
            with (
                view.progress(total=check.valid, invalid=check.invalid) as on_progress,
                anyio.CancelScope() as scope,
            ):
                async with anyio.create_task_group() as watchers:
                    watchers.start_soon(watch_signals, scope, tally)
                    try:
                        await enqueue_rows(queue)
                        view.warn(
                            f"Enqueued {plural(len(jobs), 'job')} on "
                            f"{redacted_url(target.redis_url)} (namespace "
                            f"{target.namespace!r}): the workers (mindo worker) send them. "
                            "Following their results; Ctrl-C stops following, not the sending."
                        )
                        await follow(queue, on_progress)
                    except (RedisError, OSError) as exc:
                        failure = f"{type(exc).__name__}: {exc}"
                    watchers.cancel_scope.cancel()
    except (RedisError, OSError) as exc:  # while connecting or closing
        failure = failure or f"{type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - started
    enqueued = len(jobs)
    not_enqueued = check.valid - enqueued - sum(len(job.repeats) for job in jobs)
    if in_order.next < check.rows:
        # Stopped following: every row without a result says why.
        waiting_ordinals = {job.ordinal for job in pending.values()} | {
            repeat[0] for job in pending.values() for repeat in job.repeats
        }
        for row in checked_rows(check, defaults=options.defaults, declared=options.declared):
            if in_order.has(row.ordinal):
                continue
            if not row.ok:
                in_order.put(row.ordinal, invalid_row(row))
                continue
            waiting = row.ordinal in waiting_ordinals
            in_order.put(
                row.ordinal,
                RowResult(
                    row.line,
                    row.recipient,
                    "skipped",
                    None,
                    "still queued when the run stopped following: the workers send it; "
                    "run the same command again to follow"
                    if waiting
                    else "not enqueued: the run was interrupted; run the same command again",
                    "not_attempted",
                ),
            )
    return _Followed(tally, elapsed, enqueued, len(pending), max(0, not_enqueued), failure)


def _advice(followed: _Followed) -> list[str]:
    tally = followed.tally
    kinds = tally.kinds
    lines = []
    if tally.interrupted and followed.failure is None:
        lines.append(
            f"Stopped following: {plural(followed.pending, 'job')} still queued or being "
            "sent; the workers go on sending them"
            + (
                f", and {plural(followed.not_enqueued, 'row')} were not enqueued"
                if followed.not_enqueued
                else ""
            )
            + ". To follow again, run the same command: it enqueues the file again, and "
            "the journal in Redis sends each row once (rows sent meanwhile show as "
            "'already sent by an earlier job')."
        )
    if tally.auth_error:
        lines.append(
            f"The API refused the workers' API key ({tally.auth_error}): check the "
            "MINDO_API_KEY of `mindo worker`, then run the same command again."
        )
    if kinds["rejected"] and not tally.auth_error:
        lines.append(
            f"{plural(kinds['rejected'], 'row')} rejected: nothing was delivered to them. "
            "Enqueuing the same file again sends them again."
        )
    if kinds["invalid"]:
        lines.append(f"{plural(kinds['invalid'], 'invalid row')} not sent: fix them and rerun.")
    if kinds["unknown"]:
        lines.append(
            f"{plural(kinds['unknown'], 'row')} may have been delivered (unknown): the "
            "journal keeps them from being sent again; check with the recipients."
        )
    return lines


def enqueue_campaign(
    options: CampaignOptions,
    target: QueueTarget,
    view: CampaignView,
    *,
    make_queue: Callable[[], SendQueue] | None = None,
) -> CampaignReport:
    """``mindo bulk FILE --enqueue``: check the file, enqueue one job per distinct valid
    row, follow the results, summarize. Returns the exit status with what happened.

    ``options.rate``, ``concurrency`` and ``journal`` do not apply (the workers' limiter
    and the Redis journal do). The API key is needed only for the pre-flight; the
    workers send with their own. Runs its own event loop (asyncio: redis-py).
    """
    check = checked_file(options, view)
    if isinstance(check, CampaignReport):
        return check
    if options.dry_run:
        view.print(
            f"Dry run: {check.valid:,} rows would be enqueued"
            + (f", {check.invalid:,} skipped as invalid" if check.invalid else "")
            + ". Nothing was enqueued."
        )
        return CampaignReport(EXIT_OK, check)
    if make_queue is None:
        try:
            from ..queue import SendQueue
        except ModuleNotFoundError as exc:
            view.warn(
                f"Error: --enqueue needs the 'queue' extra ({exc.name} is not installed): "
                'pip install "mindo-async[queue]". Nothing was enqueued.'
            )
            return CampaignReport(EXIT_USAGE, check)

        def make_queue() -> SendQueue:
            return SendQueue(target.redis_url, namespace=target.namespace)

    writer = open_out(options, check, view)
    if isinstance(writer, CampaignReport):
        return writer
    try:
        configured = configuration_problem(options.api_key, options.base_url) is None
        step = preflight_step(options, check, None, configured, view)
        if isinstance(step, int):
            return CampaignReport(step, check)
        followed = anyio.run(_enqueue_and_follow, options, target, check, writer, view, make_queue)
    finally:
        if writer is not None:
            writer.close()
    tally = followed.tally
    elapsed = followed.elapsed
    throughput = tally.kinds["sent"] / elapsed if elapsed > 0 else 0.0
    view.summary(tally, name=options.path.name, elapsed=elapsed, throughput=throughput)
    if options.out is not None:
        view.print(f"Results: {options.out} (one line per row)")
    for text in tally.why():
        view.warn(text)
    for text in _advice(followed):
        view.warn(text)
    code = EXIT_USAGE if tally.auth_error and not tally.interrupted else tally.exit_code
    if followed.failure is not None:
        view.warn(
            f"Error: the queue's Redis at {redacted_url(target.redis_url)} cannot be reached "
            f"({followed.failure}). "
            + (
                f"{plural(followed.enqueued, 'job')} were enqueued: the workers send them once "
                "Redis is back; run the same command again then to enqueue the rest and follow."
                if followed.enqueued
                else "Nothing was enqueued."
            )
        )
        code = EXIT_NOT_ALL_SENT if followed.enqueued else EXIT_USAGE
    return CampaignReport(code, check, tally, elapsed, throughput)
