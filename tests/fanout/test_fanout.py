"""The fan-out: one honest outcome per request, pacing, breakers, dedupe and cancellation."""

from __future__ import annotations

import collections
import itertools
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import anyio
import httpx
import pytest

from mindo_async import (
    AlreadyProcessedError,
    APIConnectionError,
    AsyncMindo,
    AuthenticationError,
    DeliveryUnknownError,
    DuplicateRequestError,
    InvalidRequestError,
    Outcome,
    PhoneNumberNotFoundError,
    Progress,
    SendRequest,
    SendResult,
    SkipReason,
    TemplateNotFoundError,
)
from mindo_async.testing import DEFAULT_API_KEY, Emulator, Fault, FaultConfig, serve

pytestmark = pytest.mark.anyio

NUMBER_ID = "813497231850626"


def phone(i: int) -> str:
    """A valid Argentine mobile number, distinct for each ``i``."""
    return f"+54911{40000000 + i}"


def request(i: int, **changes: object) -> SendRequest:
    fields: dict[str, object] = {
        "phone_number_id": NUMBER_ID,
        "template_name": "verification_code",
        "recipient_phone": phone(i),
        "language": "es",
        "variables": {"name": f"User {i}", "code": f"C{i:05d}"},
    }
    fields.update(changes)
    return SendRequest(**fields)  # type: ignore[arg-type]


def requests(n: int, start: int = 0) -> Iterator[SendRequest]:
    return (request(i) for i in range(start, start + n))


def in_process(emulator: Emulator, **options: object) -> AsyncMindo:
    """A client wired to ``emulator`` through httpx's ASGI transport."""
    transport = httpx.ASGITransport(app=emulator)
    options.setdefault("rate_limit", None)
    return AsyncMindo(
        api_key=options.pop("api_key", DEFAULT_API_KEY),  # type: ignore[arg-type]
        base_url="http://127.0.0.1",
        http_client=httpx.AsyncClient(transport=transport),
        **options,  # type: ignore[arg-type]
    )


def client_over(transport: httpx.AsyncBaseTransport) -> AsyncMindo:
    """A client, without a rate cap, whose network is ``transport``."""
    return AsyncMindo(
        api_key=DEFAULT_API_KEY,
        base_url="http://127.0.0.1",
        http_client=httpx.AsyncClient(transport=transport),
        rate_limit=None,
    )


def assert_results_match_ledger(results: list[SendResult], emulator: Emulator) -> None:
    """Every SENT is in the ledger with its id; nothing REJECTED or SKIPPED is; no duplicates."""
    assert emulator.ledger.duplicates() == []
    ledger_ids = {entry.message_id for entry in emulator.ledger.messages}
    for result in results:
        recipients = emulator.ledger.by_recipient(result.request.recipient_phone)
        if result.outcome is Outcome.SENT:
            assert result.message is not None
            assert result.message.message_id in ledger_ids
        elif result.outcome in (Outcome.REJECTED, Outcome.SKIPPED) and not isinstance(
            result.error, DuplicateRequestError
        ):
            # (A duplicate's recipient is in the ledger through its first copy.)
            assert recipients == (), result


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
async def test_every_request_gets_exactly_one_result_under_faults_over_sockets() -> None:
    """Thousands of sends against faults over real sockets: one result each, matching the ledger."""
    emulator = Emulator(
        faults=FaultConfig(
            latency=0.001,
            jitter=0.004,
            rate_limited_probability=0.03,
            unavailable_probability=0.03,
            server_error_probability=0.02,
            drop_probability=0.02,
            retry_after=0,
        ),
        seed=7,
    )
    emulator.script(*[Fault.slow(3.0)] * 3)
    count = 2000
    with serve(emulator) as server:
        async with AsyncMindo(
            api_key=server.api_key, base_url=server.base_url, rate_limit=None, timeout=2.0
        ) as mindo:
            results = await mindo.send_many(requests(count), concurrency=64)
    assert [r.index for r in results] == list(range(count))
    outcomes = collections.Counter(r.outcome for r in results)
    assert sum(outcomes.values()) == count
    assert outcomes[Outcome.UNKNOWN] > 0
    assert outcomes[Outcome.SENT] > count * 0.8
    assert_results_match_ledger(results, emulator)
    # Every ambiguous fault of this emulator happens after processing.
    for result in results:
        if result.outcome is Outcome.UNKNOWN:
            assert isinstance(result.error, DeliveryUnknownError)
            assert result.attempts >= 1
            assert len(emulator.ledger.by_recipient(result.request.recipient_phone)) == 1


async def test_refused_connection_rejects_every_request_without_sending() -> None:
    """Nothing listening: every request is REJECTED with APIConnectionError after its retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AsyncMindo(
        api_key=DEFAULT_API_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=1, rate_limit=None
    ) as mindo:
        results = await mindo.send_many(requests(5), concurrency=5)
    assert {r.outcome for r in results} == {Outcome.REJECTED}
    assert all(isinstance(r.error, APIConnectionError) for r in results)
    assert all(r.attempts == 2 for r in results)


class HeldTransport(httpx.AsyncBaseTransport):
    """Forwards to ``inner``, but holds the request to ``held_phone`` until ``release`` is set.

    ``answered`` lists the recipients in the order their answers came back; with
    ``release_after``, ``release`` is set once that many answers have come back.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, held_phone: str, release_after: int | None = None
    ) -> None:
        self.inner = inner
        self.held_phone = held_phone
        self.release_after = release_after
        self.release = anyio.Event()
        self.answered: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        recipient = json.loads(request.content)["recipient_phone"]
        if recipient == self.held_phone:
            await self.release.wait()
        response = await self.inner.handle_async_request(request)
        self.answered.append(recipient)
        if self.release_after is not None and len(self.answered) >= self.release_after:
            self.release.set()
        return response


class Tripwire(httpx.AsyncBaseTransport):
    """Forwards to ``inner``, and sets ``tripped`` once ``after`` requests have gone through it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, after: int) -> None:
        self.inner = inner
        self.after = after
        self.seen = 0
        self.tripped = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen >= self.after:
            self.tripped.set()
        return await self.inner.handle_async_request(request)


async def cancelled_when_tripped(wire: Tripwire, run: Callable[[], Awaitable[object]]) -> None:
    """Run ``run()``, cancelled as soon as ``wire`` trips (mid-run, however slow the machine)."""

    async def cancel_on_trip(scope: anyio.CancelScope) -> None:
        await wire.tripped.wait()
        scope.cancel()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cancel_on_trip, tasks.cancel_scope)
        await run()
        tasks.cancel_scope.cancel()  # finished untripped: the test's assertions say so


async def test_send_many_returns_input_order_and_stream_many_completion_order() -> None:
    """send_many sorts by input position; stream_many yields as results complete."""
    emulator = Emulator()
    # The first request of each run is held until the four others are done, so it
    # completes last whatever the machine's speed.
    streamed = HeldTransport(httpx.ASGITransport(app=emulator), held_phone=phone(0))
    gathered = HeldTransport(
        httpx.ASGITransport(app=emulator), held_phone=phone(10), release_after=4
    )
    yielded: list[int] = []
    with anyio.fail_after(10):  # a stream that waited for input order would hang: fail
        async with (
            client_over(streamed) as mindo,
            mindo.stream_many(requests(5), concurrency=5) as stream,
        ):
            async for result in stream:
                yielded.append(result.index)
                if len(yielded) == 4:
                    streamed.release.set()  # four results out before the first is sent
        async with client_over(gathered) as mindo:
            ordered = await mindo.send_many(requests(5, start=10), concurrency=5)
    assert sorted(yielded) == list(range(5))
    assert yielded[-1] == 0, "the held request's result comes last"
    assert streamed.answered[-1] == phone(0)
    assert gathered.answered[-1] == phone(10), "the first request completed last"
    assert [r.index for r in ordered] == list(range(5))
    assert [r.request.recipient_phone for r in ordered] == [phone(i) for i in range(10, 15)]


async def test_async_iterable_input_is_accepted() -> None:
    """An async generator of requests is consumed like a plain iterable."""

    async def generate() -> AsyncIterator[SendRequest]:
        for i in range(20):
            await anyio.lowlevel.checkpoint()
            yield request(i)

    emulator = Emulator()
    async with in_process(emulator) as mindo:
        results = await mindo.send_many(generate(), concurrency=4)
    assert [r.outcome for r in results] == [Outcome.SENT] * 20
    assert len(emulator.ledger.messages) == 20


async def test_input_is_pulled_lazily() -> None:
    """Breaking out early leaves a huge generator almost untouched: memory follows concurrency."""
    pulled = 0

    def generate() -> Iterator[SendRequest]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield request(i % 1_000_000)

    emulator = Emulator()
    async with (
        in_process(emulator) as mindo,
        mindo.stream_many(generate(), concurrency=4) as stream,
    ):
        seen = 0
        async for _ in stream:
            seen += 1
            if seen == 10:
                break
    # Results read + the bounded result buffer + those in the workers' hands.
    assert pulled <= 10 + 4 + 4 + 1


async def test_invalid_request_is_rejected_and_the_rest_go_on() -> None:
    """A bad item becomes REJECTED with InvalidRequestError, is never sent, and others are sent."""
    emulator = Emulator()
    items = [request(0), request(1, recipient_phone="12345"), request(2)]
    async with in_process(emulator) as mindo:
        results = await mindo.send_many(items)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.REJECTED, Outcome.SENT]
    assert isinstance(results[1].error, InvalidRequestError)
    assert "recipient_phone" in results[1].error.errors
    assert results[1].attempts == 0
    assert emulator.ledger.counts["total_requests"] == 2


async def test_failing_input_iterable_raises_after_the_results_pulled() -> None:
    """When the caller's iterable raises, pulled requests get results, then the error is raised."""

    def generate() -> Iterator[SendRequest]:
        yield request(0)
        yield request(1)
        raise LookupError("the CSV went away")

    emulator = Emulator()
    seen: list[SendResult] = []

    async def consume(mindo: AsyncMindo) -> None:
        async with mindo.stream_many(generate(), concurrency=1) as stream:
            async for result in stream:
                seen.append(result)

    async with in_process(emulator) as mindo:
        with pytest.raises(LookupError, match="CSV went away"):
            await consume(mindo)
    assert sorted(r.index for r in seen) == [0, 1]


async def test_send_many_error_from_the_input_carries_the_results() -> None:
    """send_many re-raises the iterable's error with the results of what it read and sent."""

    def generate() -> Iterator[SendRequest]:
        yield request(0)
        yield request(1)
        raise LookupError("the CSV went away")

    emulator = Emulator()
    async with in_process(emulator) as mindo:
        with pytest.raises(LookupError, match="CSV went away") as caught:
            await mindo.send_many(generate(), concurrency=2)
    results = caught.value.send_results  # type: ignore[attr-defined]
    assert [(r.index, r.outcome) for r in results] == [(0, Outcome.SENT), (1, Outcome.SENT)]
    # The answers are those of the two messages the emulator accepted.
    assert {r.message.message_id for r in results if r.message is not None} == {
        entry.message_id for entry in emulator.ledger.messages
    }
    assert len(emulator.ledger.messages) == 2


async def test_duplicates_in_one_run_are_sent_once() -> None:
    """Identical requests (numbers and their text alike) are sent once; repeats are SKIPPED."""
    emulator = Emulator()
    same = request(1)
    as_number = request(1, variables={"name": "User 1", "code": "C00001"})
    items = [same, request(2), same, as_number]
    async with in_process(emulator) as mindo:
        results = await mindo.send_many(items, concurrency=1)
    assert [r.outcome for r in results] == [
        Outcome.SENT,
        Outcome.SENT,
        Outcome.SKIPPED,
        Outcome.SKIPPED,
    ]
    assert isinstance(results[2].error, DuplicateRequestError)
    assert results[2].reason
    assert len(emulator.ledger.messages) == 2


async def test_dedupe_false_sends_every_copy() -> None:
    """dedupe=False sends identical requests as many times as they are given."""
    emulator = Emulator()
    async with in_process(emulator) as mindo:
        results = await mindo.send_many([request(1)] * 3, dedupe=False)
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert len(emulator.ledger.messages) == 3


async def test_numbers_in_variables_dedupe_with_their_text() -> None:
    """A variable given as 7 and as "7" is the same message."""
    emulator = Emulator()
    items = [
        request(1, template_name="order_update", variables={"order_id": 7, "status": "ok"}),
        request(1, template_name="order_update", variables={"order_id": "7", "status": "ok"}),
    ]
    async with in_process(emulator) as mindo:
        results = await mindo.send_many(items, concurrency=1)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SKIPPED]


async def test_authentication_failure_stops_the_whole_run() -> None:
    """A 401 skips every later request, each carrying the AuthenticationError; one request made."""
    emulator = Emulator()
    async with in_process(emulator, api_key="mindo_wrong_key") as mindo:
        results = await mindo.send_many(requests(10), concurrency=1)
    assert results[0].outcome is Outcome.REJECTED
    assert isinstance(results[0].error, AuthenticationError)
    assert [r.outcome for r in results[1:]] == [Outcome.SKIPPED] * 9
    assert all(r.error is results[0].error for r in results[1:])
    assert all(r.reason is SkipReason.BREAKER_AUTH for r in results[1:])
    assert all(r.reason == "breaker_auth" for r in results[1:])
    assert emulator.ledger.counts["total_requests"] == 1


async def test_missing_template_skips_only_that_template() -> None:
    """A 404 template skips the rest of that (number, template, language); other templates go on."""
    emulator = Emulator()
    items = [request(i, template_name="no_such_template") for i in range(4)]
    items += [request(i) for i in range(10, 14)]
    async with in_process(emulator) as mindo:
        results = await mindo.send_many(items, concurrency=1)
    outcomes = [r.outcome for r in results]
    assert outcomes[0] is Outcome.REJECTED
    assert isinstance(results[0].error, TemplateNotFoundError)
    assert outcomes[1:4] == [Outcome.SKIPPED] * 3
    assert outcomes[4:] == [Outcome.SENT] * 4
    assert emulator.ledger.counts["total_requests"] == 5


async def test_unknown_phone_number_id_skips_that_number() -> None:
    """A 404 phone number id skips the rest of the requests from that number only."""
    emulator = Emulator()
    items = [request(i, phone_number_id="111111111") for i in range(3)] + [request(9)]
    async with in_process(emulator) as mindo:
        results = await mindo.send_many(items, concurrency=1)
    assert isinstance(results[0].error, PhoneNumberNotFoundError)
    assert [r.outcome for r in results[1:3]] == [Outcome.SKIPPED] * 2
    assert results[3].outcome is Outcome.SENT


async def test_progress_callback_counts_every_outcome() -> None:
    """on_progress sees running counts per outcome that end equal to the results."""
    emulator = Emulator()
    emulator.script(Fault.status(500))
    snapshots: list[tuple[int, int, int, int]] = []

    def on_progress(progress: object) -> None:
        assert isinstance(progress, Progress)
        snapshots.append((progress.sent, progress.rejected, progress.unknown, progress.skipped))

    items = [request(0), request(1), request(1), request(2, recipient_phone="bad")]
    async with in_process(emulator) as mindo:
        results = await mindo.send_many(items, concurrency=1, on_progress=on_progress)
    assert len(snapshots) == len(results)
    counts = collections.Counter(r.outcome for r in results)
    assert snapshots[-1] == (
        counts[Outcome.SENT],
        counts[Outcome.REJECTED],
        counts[Outcome.UNKNOWN],
        counts[Outcome.SKIPPED],
    )
    assert snapshots[-1] == (1, 1, 1, 1)


async def test_cancelling_a_run_sends_nothing_more_and_leaves_no_task() -> None:
    """Cancelling send_many mid-way stops the sends; no request arrives after the cancel."""
    emulator = Emulator(faults=FaultConfig(latency=0.02))
    wire = Tripwire(httpx.ASGITransport(app=emulator), after=20)
    async with client_over(wire) as mindo:
        await cancelled_when_tripped(wire, lambda: mindo.send_many(requests(1000), concurrency=8))
        after_cancel = emulator.ledger.counts["total_requests"]
        await anyio.sleep(0.1)
        assert emulator.ledger.counts["total_requests"] == after_cancel
    assert 0 < after_cancel < 1000


async def test_breaking_out_of_stream_many_stops_sending() -> None:
    """An early break leaves the stream: the requests made stay bounded by the concurrency."""
    emulator = Emulator(faults=FaultConfig(latency=0.01))
    async with in_process(emulator) as mindo:
        async with mindo.stream_many(requests(500), concurrency=4) as stream:
            async for _ in stream:
                break
        made = emulator.ledger.counts["total_requests"]
        await anyio.sleep(0.05)
        assert emulator.ledger.counts["total_requests"] == made
    assert made <= 1 + 4 + 4


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
async def test_concurrency_beyond_the_pool_waits_instead_of_timing_out() -> None:
    """64 workers on a 4-connection pool all succeed: no PoolTimeout storm."""
    emulator = Emulator(faults=FaultConfig(latency=0.02))
    with serve(emulator) as server:
        async with AsyncMindo(
            api_key=server.api_key,
            base_url=server.base_url,
            rate_limit=None,
            max_connections=4,
            timeout=httpx.Timeout(5.0, pool=0.05),
        ) as mindo:
            results = await mindo.send_many(requests(128), concurrency=64)
    assert [r.outcome for r in results] == [Outcome.SENT] * 128


async def test_journal_rerun_sends_nothing_twice(tmp_path: object) -> None:
    """A second run with the same journal skips what was sent and sends what was not delivered."""
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    journal = tmp_path / "campaign.sqlite"
    emulator = Emulator()
    # Request 1 is refused before processing (503, no retries): not delivered.
    # Request 2 meets a 500 after processing: it may have been delivered.
    emulator.script(Fault.none(), Fault.status(503), Fault.status(500))
    async with in_process(emulator, max_retries=0) as mindo:
        first = await mindo.send_many(requests(4), concurrency=1, journal=journal)
        second = await mindo.send_many(requests(4), concurrency=1, journal=journal)
        third = await mindo.send_many(
            requests(4), concurrency=1, journal=journal, retry_unknown=True
        )
    assert [r.outcome for r in first] == [
        Outcome.SENT,
        Outcome.REJECTED,
        Outcome.UNKNOWN,
        Outcome.SENT,
    ]
    assert [r.outcome for r in second] == [
        Outcome.SKIPPED,
        Outcome.SENT,
        Outcome.SKIPPED,
        Outcome.SKIPPED,
    ]
    assert all(
        isinstance(r.error, AlreadyProcessedError) for r in second if r.outcome is Outcome.SKIPPED
    )
    assert [r.outcome for r in third] == [
        Outcome.SKIPPED,
        Outcome.SKIPPED,
        Outcome.SENT,
        Outcome.SKIPPED,
    ]
    # The only repeat is the one the caller asked for with retry_unknown=True.
    duplicates = emulator.ledger.duplicates()
    assert len(duplicates) == 1
    assert duplicates[0][0].recipient_phone == phone(2)


async def test_cancelled_run_leaves_no_request_in_flight_in_the_journal(tmp_path: object) -> None:
    """After a cancel, the journal has an outcome for every request it began."""
    import pathlib
    import sqlite3

    assert isinstance(tmp_path, pathlib.Path)
    journal = tmp_path / "campaign.sqlite"
    emulator = Emulator(faults=FaultConfig(latency=0.05))
    wire = Tripwire(httpx.ASGITransport(app=emulator), after=12)
    async with client_over(wire) as mindo:
        await cancelled_when_tripped(
            wire, lambda: mindo.send_many(requests(100), concurrency=8, journal=journal)
        )
    with sqlite3.connect(journal) as db:
        states = collections.Counter(state for (state,) in db.execute("SELECT state FROM requests"))
    assert "in_flight" not in states
    assert states["unknown"] + states["skipped"] >= 1
    # Everything the server processed is in the journal as sent or unknown.
    assert states["sent"] <= len(emulator.ledger.messages) <= states["sent"] + states["unknown"]
