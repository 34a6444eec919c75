"""The fan-out: many sends, a fixed set of workers, one honest outcome per request.

A fixed set of ``concurrency`` workers pulls requests straight from the
caller's (async) iterable, so memory stays proportional to ``concurrency``
whatever the number of requests, and pushes results into a bounded stream
that the caller reads. Every request pulled gets exactly one ``SendResult``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._dedupe import DigestSet
from ._errors import (
    AlreadyProcessedError,
    APIError,
    AuthenticationError,
    DeliveryUnknownError,
    DuplicateRequestError,
    InvalidRequestError,
    PhoneNumberNotFoundError,
    QuotaExceededError,
    SharedStateUnavailableError,
    SkippedError,
    TemplateNotApprovedError,
    TemplateNotFoundError,
)
from ._journal import AsyncJournal, Journal, JournalEntry, open_journal, request_digest
from ._models import Outcome, SendRequest, SendResult, SkipReason
from ._ratelimit import Priority
from ._requester import Flight
from ._validation import validate_request

if TYPE_CHECKING:
    from ._requester import Deliverer

logger = logging.getLogger("mindo_async")

#: Seconds a cancelled request has to record where it stood (shielded from the cancel).
FINISH_GRACE = 10.0


@attrs.define
class Progress:
    """Live counts of a fan-out run, handed to ``on_progress`` after every result."""

    #: How many requests were handed in, when the input has a length.
    total: int | None = None
    sent: int = 0
    rejected: int = 0
    unknown: int = 0
    skipped: int = 0
    #: Requests between being pulled from the input and having a result.
    in_flight: int = 0
    started_at: float = attrs.field(factory=time.monotonic)
    #: The latest result.
    last: SendResult | None = None

    @property
    def done(self) -> int:
        """Requests that have their result."""
        return self.sent + self.rejected + self.unknown + self.skipped

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started_at

    @property
    def rate(self) -> float:
        """Results per second since the run started."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def count(self, outcome: Outcome) -> int:
        """The number of results with ``outcome``."""
        return int(getattr(self, outcome.value))


ProgressCallback = Callable[[Progress], Any]


class ResultStream:
    """The results of ``stream_many``, in completion order: ``async for result in stream``."""

    def __init__(self, receive: MemoryObjectReceiveStream[SendResult], run: _Run) -> None:
        self._receive = receive
        self._run = run
        #: The results not read when the ``async with`` block was left early (a
        #: ``break``, an exception): what was on the wire, finished (or cancelled
        #: past the drain timeout and so ``UNKNOWN``), in no particular order; at most
        #: ``concurrency`` (in flight) plus ``concurrency`` (buffered). Empty while
        #: the block runs, and after a stream read to its end. With a journal, each
        #: is journaled too.
        self.unread: list[SendResult] = []

    @property
    def progress(self) -> Progress:
        """The live counts of this run."""
        return self._run.progress

    def __aiter__(self) -> ResultStream:
        return self

    async def __anext__(self) -> SendResult:
        try:
            try:
                return self._receive.receive_nowait()
            except anyio.WouldBlock:
                return await self._receive.receive()
        except anyio.EndOfStream:
            error = self._run.input_error
            if error is not None:
                self._run.input_error = None
                raise error from None
            raise StopAsyncIteration from None


class _Run:
    """The state of one ``stream_many`` call: input, breakers, dedupe and journal."""

    def __init__(
        self,
        client: Deliverer,
        requests: Iterable[SendRequest] | AsyncIterable[SendRequest],
        *,
        dedupe: bool,
        journal: AsyncJournal | None,
        retry_unknown: bool,
        key: Callable[[SendRequest], str] | None,
        on_progress: ProgressCallback | None,
        default_region: str | None = None,
    ) -> None:
        self.client = client
        self.default_region = default_region
        self.journal = journal
        self.retry_unknown = retry_unknown
        self.key_function = key
        self.on_progress = on_progress
        total = len(requests) if hasattr(requests, "__len__") else None  # type: ignore[arg-type]
        self.progress = Progress(total=total)
        self.next_index = 0
        self.exhausted = False
        #: Set when the caller leaves the stream; no new request is pulled after it.
        self.stopped = False
        self.input_error: BaseException | None = None
        #: Results that could not be handed to the caller's stream (cancelled mid-way
        #: once the drain timeout passed or the caller was cancelled, or pulled as the
        #: caller left), kept for ``ResultStream.unread``.
        self.leftover: list[SendResult] = []
        self.sync_input: Iterator[SendRequest] | None = None
        self.async_input: AsyncIterator[SendRequest] | None = None
        # An async generator must not be resumed by two workers at once.
        self.input_lock = anyio.Lock()
        if isinstance(requests, AsyncIterable):
            self.async_input = aiter(requests)
        else:
            self.sync_input = iter(requests)
        # 8 bytes of each request's digest, 16-32 bytes a request (see DigestSet).
        self.seen: DigestSet | None = DigestSet() if dedupe else None
        self.auth_error: AuthenticationError | None = None
        self.number_errors: dict[str, APIError] = {}
        self.template_errors: dict[tuple[str, str, str], APIError] = {}

    def finished(self) -> bool:
        """Whether no more requests are to be pulled."""
        return self.exhausted or self.stopped

    def pull_sync(self, source: Iterator[SendRequest]) -> tuple[int, SendRequest] | None:
        """``pull`` for a plain iterable: no await (it runs for every request)."""
        if self.exhausted or self.stopped:
            return None
        try:
            request = next(source)
        except StopIteration:
            self.exhausted = True
            return None
        except Exception as exc:
            self.input_failed(exc)
            return None
        index = self.next_index
        self.next_index = index + 1
        return index, request

    def input_failed(self, error: Exception) -> None:
        """The caller's iterable raised ``error``: stop pulling, finish what is in
        flight, and raise it once the results are read."""
        self.exhausted = True
        self.input_error = error

    async def pull(self) -> tuple[int, SendRequest] | None:
        """The next request of an async iterable and its index, or ``None`` when the
        input is done."""
        if self.finished():
            return None
        assert self.async_input is not None
        try:
            async with self.input_lock:
                # Another worker may have met the end while this one waited.
                if self.finished():
                    return None
                request = await anext(self.async_input)
        except StopAsyncIteration:
            self.exhausted = True
            return None
        except Exception as exc:
            self.input_failed(exc)
            return None
        index = self.next_index
        self.next_index += 1
        return index, request

    def breaker_for(self, request: SendRequest) -> APIError | None:
        """The earlier error that rules this request out, if any."""
        if self.auth_error is not None:
            return self.auth_error
        if self.number_errors:
            error = self.number_errors.get(request.phone_number_id)
            if error is not None:
                return error
        if self.template_errors:
            return self.template_errors.get(
                (request.phone_number_id, request.template_name, request.language)
            )
        return None

    def trip(self, request: SendRequest, error: BaseException) -> None:
        """Open the breaker that ``error`` calls for."""
        if isinstance(error, AuthenticationError):
            if self.auth_error is None:
                self.auth_error = error
        elif isinstance(error, (PhoneNumberNotFoundError, QuotaExceededError)):
            # Past the quota, every later send from the number would be refused too.
            self.number_errors.setdefault(request.phone_number_id, error)
        elif isinstance(error, (TemplateNotFoundError, TemplateNotApprovedError)):
            self.template_errors.setdefault(
                (request.phone_number_id, request.template_name, request.language), error
            )

    def count(self, result: SendResult) -> None:
        progress = self.progress
        outcome = result.outcome
        if outcome is Outcome.SENT:
            progress.sent += 1
        elif outcome is Outcome.REJECTED:
            progress.rejected += 1
        elif outcome is Outcome.UNKNOWN:
            progress.unknown += 1
        else:
            progress.skipped += 1
        progress.last = result
        if self.on_progress is not None:
            try:
                self.on_progress(progress)
            except Exception:
                logger.exception("on_progress callback failed; the run goes on")

    async def process(self, index: int, request: SendRequest) -> SendResult:
        """Everything that happens to one request, ending in its one result."""
        try:
            ready = validate_request(request, self.default_region)
        except (InvalidRequestError, TypeError) as exc:
            # A bad row (invalid, or not a SendRequest at all) is its own REJECTED
            # result; the run goes on.
            return SendResult(request=request, outcome=Outcome.REJECTED, error=exc, index=index)
        to = ready.recipient_phone

        journal_key: str | None = None
        if self.seen is not None and self.journal is None:
            # No journal: a key for this run alone, at a seventh of request_digest's cost.
            if not self.seen.add(_run_key(ready)):
                return _skipped(
                    request,
                    index,
                    DuplicateRequestError("an identical request earlier in this run was sent"),
                    SkipReason.DUPLICATE_IN_RUN,
                    to,
                )
        elif self.seen is not None or self.journal is not None:
            digest = request_digest(ready)
            if self.seen is not None and not self.seen.add(int.from_bytes(digest[:8], "big")):
                return _skipped(
                    request,
                    index,
                    DuplicateRequestError("an identical request earlier in this run was sent"),
                    SkipReason.DUPLICATE_IN_RUN,
                    to,
                )
            if self.journal is not None:
                if self.key_function is None:
                    journal_key = digest.hex()
                else:
                    try:
                        journal_key = self.key_function(request)
                        if not isinstance(journal_key, str):
                            raise TypeError(
                                "key= must return a str, not " + type(journal_key).__name__
                            )
                    except Exception as exc:
                        # The caller's key function failed on this row: nothing was
                        # sent for it, and the others go on.
                        return SendResult(
                            request=request, outcome=Outcome.REJECTED, error=exc, index=index
                        )
                try:
                    entry = await self.claim(journal_key)
                except SharedStateUnavailableError as exc:
                    return _skipped(request, index, exc, SkipReason.SHARED_STATE_UNAVAILABLE, to)
                if entry is not None:
                    return _skipped(
                        request,
                        index,
                        _already(entry),
                        SkipReason.JOURNAL_SENT
                        if entry.state == Outcome.SENT.value
                        else SkipReason.JOURNAL_UNKNOWN,
                        to,
                        previous_message_id=entry.message_id,
                    )

        if self.auth_error is not None or self.number_errors or self.template_errors:
            breaker = self.breaker_for(ready)
            if breaker is not None:
                if journal_key is not None:
                    await self.settle(journal_key, None)
                return _skipped(request, index, breaker, _breaker_reason(breaker), to)

        flight = Flight(Priority.FANOUT)
        if journal_key is not None:
            flight.before_send = self._marker(journal_key)
        try:
            message, attempts = await self.client.deliver(ready, flight)
        except AlreadyProcessedError as exc:
            # Raised by the marker only (see _marker): another worker took the claim over.
            return _skipped(
                request, index, exc, SkipReason.CLAIMED_ELSEWHERE, ready.recipient_phone
            )
        except Exception as exc:
            if (
                isinstance(exc, SharedStateUnavailableError)
                and not flight.marked
                and not flight.maybe_sent
            ):
                # The shared limiter or journal was out of reach before anything left.
                if journal_key is not None:
                    await self.settle(journal_key, flight)
                return _skipped(
                    request, index, exc, SkipReason.SHARED_STATE_UNAVAILABLE, ready.recipient_phone
                )
            attempts = int(getattr(exc, "attempts", flight.attempts) or flight.attempts)
            if isinstance(exc, DeliveryUnknownError):
                outcome = Outcome.UNKNOWN
            elif isinstance(exc, APIError) or not flight.maybe_sent:
                outcome = Outcome.REJECTED
            else:
                # An error we did not foresee, after the request may have left.
                outcome = Outcome.UNKNOWN
            self.trip(ready, exc)
            if journal_key is not None:
                await self.settle(
                    journal_key, flight, outcome, error=_describe(exc), attempts=attempts
                )
            return SendResult(
                request=request,
                outcome=outcome,
                error=exc,
                attempts=attempts,
                index=index,
                recipient_e164=to,
            )
        except BaseException:
            # Cancelled: record where it stood, so a rerun neither loses nor repeats it
            # (shielded, so the cancellation cannot interrupt it), and keep its result
            # for ``ResultStream.unread``.
            if flight.maybe_sent:
                outcome = Outcome.UNKNOWN
                error: BaseException = DeliveryUnknownError(
                    "cancelled while in flight", request=ready, attempts=flight.attempts
                )
            else:
                outcome = Outcome.SKIPPED
                error = SkippedError("cancelled before it was sent")
            if journal_key is not None:
                with anyio.CancelScope(shield=True) as scope:
                    scope.deadline = anyio.current_time() + FINISH_GRACE
                    await self.settle(
                        journal_key, flight, outcome, error=str(error), attempts=flight.attempts
                    )
            cancelled = SendResult(
                request=request,
                outcome=outcome,
                error=error,
                attempts=flight.attempts,
                index=index,
                reason=SkipReason.CANCELLED if outcome is Outcome.SKIPPED else None,
                recipient_e164=ready.recipient_phone,
            )
            self.leftover.append(cancelled)
            self.count(cancelled)
            raise
        if journal_key is not None:
            await self.settle(
                journal_key, flight, Outcome.SENT, message_id=message.message_id, attempts=attempts
            )
        return SendResult(
            request=request,
            outcome=Outcome.SENT,
            message=message,
            attempts=attempts,
            index=index,
            recipient_e164=to,
        )

    async def claim(self, key: str) -> JournalEntry | None:
        """Own ``key`` (``None``), or the final entry that rules it out.

        While another live worker holds it (claimed, or in flight), wait for its
        outcome: it is being sent now, or its owner stopped and its lease runs out.
        """
        assert self.journal is not None
        delay = 0.02
        while True:
            entry = await self.journal.claim(key, retry_unknown=self.retry_unknown)
            if entry is None or not entry.busy:
                return entry
            await anyio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _marker(self, key: str) -> Callable[[], Awaitable[None]]:
        journal = self.journal
        assert journal is not None

        async def mark() -> None:
            # Durable before the request can leave; see AsyncJournal.mark_in_flight.
            if not await journal.mark_in_flight(key):
                raise AlreadyProcessedError(
                    "another worker took this request over while it waited; not sent"
                )

        return mark

    async def settle(
        self,
        key: str,
        flight: Any,
        outcome: Outcome | None = None,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        """Record ``outcome`` for a request that went in flight; release one that did not.

        A journal out of reach is logged, not raised: the entry stays claimed (taken
        over once its owner is gone) or in flight (unknown), so nothing is sent twice.
        """
        journal = self.journal
        assert journal is not None
        try:
            if flight is None or not flight.marked:
                await journal.release(key)
                return
            assert outcome is not None
            await journal.record(
                key, outcome, message_id=message_id, error=error, attempts=attempts
            )
        except SharedStateUnavailableError as exc:
            logger.error("the journal could not record a %s outcome: %s", outcome, exc)

    async def worker(self, results: MemoryObjectSendStream[SendResult]) -> None:
        source = self.sync_input
        async with results:
            while True:
                item = self.pull_sync(source) if source is not None else await self.pull()
                if item is None:
                    return
                if self.stopped:
                    # Pulled while the caller was leaving: not sent, but not lost either.
                    index, request = item
                    result = _skipped(
                        request,
                        index,
                        SkippedError("the stream was left before it was sent"),
                        SkipReason.STREAM_LEFT,
                        None,
                    )
                    self.count(result)
                    self.leftover.append(result)
                    return
                self.progress.in_flight += 1
                try:
                    result = await self.process(*item)
                finally:
                    self.progress.in_flight -= 1
                self.count(result)
                try:
                    try:
                        results.send_nowait(result)
                    except anyio.WouldBlock:
                        await results.send(result)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    # The caller stopped reading: nothing more is sent.
                    self.stopped = True
                    self.leftover.append(result)
                    return
                except BaseException:
                    # Cancelled while handing it over: the result is kept all the same.
                    self.leftover.append(result)
                    raise


def _run_key(request: SendRequest) -> int:
    """A 64-bit key of every field of a validated request, equal for identical requests.

    Like the first 8 bytes of ``request_digest`` (the same fields, variables in
    sorted order, so as unlikely to collide), without JSON or blake2b; but
    Python's hash is salted per process, so it serves one run only, never a journal.
    """
    variables = request.variables
    buttons = request.button_variables
    fields = (
        request.phone_number_id,
        request.template_name,
        request.language,
        request.recipient_phone,
        # Validated: every key and value is text, so the pairs sort.
        None if variables is None else tuple(sorted(variables.items())),
        None if buttons is None else tuple(sorted(buttons.items())),
    )
    return hash(fields) & 0xFFFF_FFFF_FFFF_FFFF


def _skipped(
    request: SendRequest,
    index: int,
    error: BaseException,
    reason: SkipReason,
    to: str | None,
    *,
    previous_message_id: str | None = None,
) -> SendResult:
    return SendResult(
        request=request,
        outcome=Outcome.SKIPPED,
        error=error,
        index=index,
        reason=reason,
        recipient_e164=to,
        previous_message_id=previous_message_id,
    )


def _breaker_reason(error: APIError) -> SkipReason:
    if isinstance(error, AuthenticationError):
        return SkipReason.BREAKER_AUTH
    if isinstance(error, PhoneNumberNotFoundError):
        return SkipReason.BREAKER_NUMBER
    if isinstance(error, QuotaExceededError):
        return SkipReason.BREAKER_QUOTA
    return SkipReason.BREAKER_TEMPLATE


def describe_skip(result: SendResult) -> str:
    """A skipped result's reason in words (for a report or a CSV column)."""
    error = result.error
    reason = result.reason
    if reason in _BREAKER_WORDS and isinstance(error, APIError):
        return f"not attempted: {_BREAKER_WORDS[reason]}: {error.message}"
    return str(error) if error is not None else str(reason)


_BREAKER_WORDS = {
    SkipReason.BREAKER_AUTH: "the API key was refused (401) earlier in this run",
    SkipReason.BREAKER_NUMBER: "this phone_number_id was not found earlier in this run",
    SkipReason.BREAKER_TEMPLATE: (
        "this template is missing or not approved (seen earlier in this run)"
    ),
    SkipReason.BREAKER_QUOTA: "this phone number's daily quota was used up earlier in this run",
}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _already(entry: JournalEntry) -> AlreadyProcessedError:
    return AlreadyProcessedError(
        f"the journal has this request as {entry.state}"
        + (f" ({entry.message_id})" if entry.message_id else "")
    )


#: Seconds ``stream_many`` waits, when its block is left early, for the sends on
#: the wire to finish; past it they are cancelled and reported ``UNKNOWN``.
DEFAULT_DRAIN_TIMEOUT = 30.0


class StreamManyContext(AbstractAsyncContextManager[ResultStream]):
    """What ``stream_many`` returns: use it as ``async with ... as stream``.

    Iterating it directly (``async for r in mindo.stream_many(...)``) raises a
    ``TypeError`` that says so: without the block nobody would wait for the sends
    still on the wire, or close them.
    """

    def __init__(self, manager: AbstractAsyncContextManager[ResultStream]) -> None:
        self._manager = manager

    async def __aenter__(self) -> ResultStream:
        return await self._manager.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._manager.__aexit__(exc_type, exc, tb)

    def __aiter__(self) -> NoReturn:
        raise TypeError(
            "stream_many() must be used with 'async with': "
            "async with mindo.stream_many(requests) as stream: async for result in stream: ..."
        )


def stream_many(
    client: Deliverer,
    requests: Iterable[SendRequest] | AsyncIterable[SendRequest],
    *,
    concurrency: int,
    dedupe: bool,
    journal: str | os.PathLike[str] | Journal | AsyncJournal | None,
    retry_unknown: bool,
    key: Callable[[SendRequest], str] | None,
    on_progress: ProgressCallback | None,
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    default_region: str | None = None,
) -> StreamManyContext:
    """See ``AsyncMindo.stream_many``."""
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency must be a whole number >= 1")
    if not drain_timeout >= 0:
        raise ValueError("drain_timeout must be a number of seconds >= 0")
    return StreamManyContext(
        _stream_many(
            client,
            requests,
            concurrency=concurrency,
            dedupe=dedupe,
            journal=journal,
            retry_unknown=retry_unknown,
            key=key,
            on_progress=on_progress,
            drain_timeout=drain_timeout,
            default_region=default_region,
        )
    )


@asynccontextmanager
async def _stream_many(
    client: Deliverer,
    requests: Iterable[SendRequest] | AsyncIterable[SendRequest],
    *,
    concurrency: int,
    dedupe: bool,
    journal: str | os.PathLike[str] | Journal | AsyncJournal | None,
    retry_unknown: bool,
    key: Callable[[SendRequest], str] | None,
    on_progress: ProgressCallback | None,
    drain_timeout: float,
    default_region: str | None = None,
) -> AsyncIterator[ResultStream]:
    store, owned = open_journal(journal)
    try:
        run = _Run(
            client,
            requests,
            dedupe=dedupe,
            journal=store,
            retry_unknown=retry_unknown,
            key=key,
            on_progress=on_progress,
            default_region=default_region,
        )
        send, receive = anyio.create_memory_object_stream[SendResult](concurrency)
        stream = ResultStream(receive, run)
        caller_error: Exception | None = None
        # The receiving end outlives the workers, so that whatever they hand over
        # while stopping is still there to be collected into ``unread``.
        async with receive:
            try:
                async with anyio.create_task_group() as workers:
                    async with send:
                        for _ in range(concurrency):
                            workers.start_soon(run.worker, send.clone())
                    cancelled = False
                    try:
                        yield stream
                    except Exception as exc:
                        # Raised as it is below, not wrapped in the task group's
                        # ExceptionGroup.
                        caller_error = exc
                    except BaseException:
                        # Cancelled (or the process is stopping): no waiting.
                        cancelled = True
                        raise
                    finally:
                        # The caller left (done, break, error or cancel): nothing new
                        # is pulled.
                        run.stopped = True
                        if not cancelled:
                            # What is on the wire finishes, within the drain timeout;
                            # its results (and those buffered) are kept, not lost.
                            with anyio.move_on_after(drain_timeout, shield=True):
                                async for result in receive:
                                    stream.unread.append(result)
                        # Past the drain timeout (or on cancellation): what is still in
                        # flight is cancelled, and the worker records its result
                        # (UNKNOWN, or SKIPPED if it never left).
                        workers.cancel_scope.cancel()
            finally:
                # Everything the workers produced but nobody read.
                while True:
                    try:
                        stream.unread.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                stream.unread.extend(run.leftover)
                run.leftover.clear()
        if caller_error is not None:
            raise caller_error
    finally:
        if owned and store is not None:
            await store.aclose()


__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "Progress",
    "ProgressCallback",
    "ResultStream",
    "StreamManyContext",
    "stream_many",
]
