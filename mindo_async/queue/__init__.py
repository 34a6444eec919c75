"""A task queue of sends on Redis: Taskiq workers sharing one rate limit and one journal.

``pip install "mindo-async[queue]"``. Enqueue a campaign anywhere, run any number of
workers (``mindo worker --redis URL``, or ``taskiq worker mindo_async.queue.worker:broker``)::

    queue = SendQueue("redis://localhost:6379/0")
    async with queue:
        jobs = await queue.enqueue_campaign(requests)
        results = await queue.wait(jobs)

Each job sends one ``SendRequest`` through the worker's single ``AsyncMindo``,
built when the worker starts, with the shared ``RedisRateLimiter`` and
``RedisJournal``: the limit holds for all workers together, and a request given
to two jobs (enqueued twice, or delivered again after a worker died) is sent once.

Taskiq was chosen over arq and SAQ because it is asyncio-native, typed, and its
Redis Streams broker acknowledges a job only once its result is saved: a job
taken by a worker killed with ``kill -9`` is delivered again to another worker
(after ``idle_timeout``). arq re-runs such jobs too, but only once a job timeout
lapses and with its own retry counting; SAQ sweeps stuck jobs similarly. With
the journal, delivery more than once is harmless: the claim keeps it to one send.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import Any

import anyio
import attrs
from redis.asyncio import Redis
from taskiq import (
    AckableMessage,
    AsyncBroker,
    AsyncTaskiqDecoratedTask,
    Context,
    TaskiqDepends,
    TaskiqEvents,
    TaskiqState,
)
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from .._client import AsyncMindo
from .._errors import AlreadyProcessedError, ConfigurationError
from .._journal import request_key
from .._models import Outcome, SendRequest
from ..redis import RedisJournal, RedisRateLimiter

#: The task's name, the same for the workers and for whoever enqueues.
TASK_NAME = "mindo_async.send"
#: Seconds after which a job taken by a worker that died is delivered again.
DEFAULT_IDLE_TIMEOUT = 60.0
#: How long job results are kept (seconds).
DEFAULT_RESULT_TTL = 7 * 24 * 3600


@attrs.frozen
class JobResult:
    """What one job did: its request's outcome, as the fan-out reports it."""

    #: ``"sent"``, ``"rejected"``, ``"unknown"`` or ``"skipped"`` (see ``Outcome``).
    outcome: str
    #: The journal key of the request.
    key: str
    message_id: str | None = None
    #: The error (type and text) when it was not sent.
    error: str | None = None
    attempts: int = 0


class _StreamBroker(RedisStreamBroker):
    """``RedisStreamBroker`` that also takes over dead workers' jobs while no new job arrives.

    taskiq-redis (1.2) claims idle, unacknowledged messages only after a read that
    returned new messages: once a campaign is fully handed out, the jobs of a
    worker killed with ``kill -9`` would wait for the next enqueue. Here every
    round (each ``xread_block``) also claims them.
    """

    async def listen(self) -> AsyncIterator[AckableMessage]:  # type: ignore[override]
        async with Redis(connection_pool=self.connection_pool) as redis_conn:
            while True:
                fetched: Any = await redis_conn.xreadgroup(
                    self.consumer_group_name,
                    self.consumer_name,
                    {self.queue_name: ">"},
                    block=self.block,
                    noack=False,
                    count=self.count,
                )
                for stream, messages in fetched or ():
                    for message_id, message in messages:
                        yield AckableMessage(
                            data=message[b"data"],
                            ack=self._ack_generator(id=message_id, queue_name=stream),
                        )
                claimed: Any = await redis_conn.xautoclaim(
                    name=self.queue_name,
                    groupname=self.consumer_group_name,
                    consumername=self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=self.unacknowledged_batch_size,
                )
                for message_id, message in claimed[1]:
                    if message is None:  # deleted from the stream meanwhile
                        continue
                    yield AckableMessage(
                        data=message[b"data"],
                        ack=self._ack_generator(id=message_id, queue_name=self.queue_name),
                    )


def _request_to_json(request: SendRequest) -> dict[str, Any]:
    return {
        "phone_number_id": request.phone_number_id,
        "template_name": request.template_name,
        "recipient_phone": request.recipient_phone,
        "language": request.language,
        "variables": None if request.variables is None else dict(request.variables),
        "button_variables": (
            None if request.button_variables is None else dict(request.button_variables)
        ),
    }


class SendQueue:
    """A Redis-backed queue of sends: enqueue ``SendRequest`` jobs, and run workers.

    Args:
        redis_url: The Redis of the queue, the results, the rate limit and the journal.
        rate: The shared limit per sender number (sends per second, all workers
            together); set it a little under Meta's (80 by default).
        namespace: Prefix of every key (the stream, the journal, the limiter).
        idle_timeout: Seconds after which a job taken by a worker that died (or
            stalled) is delivered to another one. Must exceed a send's longest
            run (timeouts, retries, 429 pauses).
        lease: How long a dead worker's claim or in-flight entry holds in the
            journal (see ``RedisJournal``); kept under ``idle_timeout`` so that a
            redelivered job finds it lapsed.
        result_ttl: Seconds job results are kept.
        client_options: Keyword arguments of the workers' ``AsyncMindo`` (``api_key``,
            ``base_url``, ``timeout``...; by default from ``$MINDO_API_KEY`` and
            ``$MINDO_BASE_URL``). ``rate_limit`` is the shared limiter.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        rate: float = 80.0,
        namespace: str = "mindo",
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        lease: float | None = None,
        result_ttl: int = DEFAULT_RESULT_TTL,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        if not idle_timeout > 0:
            raise ConfigurationError("idle_timeout must be a positive number of seconds")
        if client_options and "rate_limit" in client_options:
            raise ConfigurationError("rate_limit is the queue's shared limiter: pass rate=")
        self.redis_url = redis_url
        self.rate = rate
        self.namespace = namespace
        self.idle_timeout = idle_timeout
        self.lease = lease if lease is not None else max(idle_timeout / 2, 1.0)
        self.client_options = dict(client_options or {})
        self.broker: AsyncBroker = _StreamBroker(
            redis_url,
            queue_name=f"{namespace}:sends",
            consumer_group_name=f"{namespace}:workers",
            consumer_id="0",
            idle_timeout=round(idle_timeout * 1000),
            xread_block=1000,
            xread_count=10,
        ).with_result_backend(RedisAsyncResultBackend(redis_url, result_ex_time=result_ttl))
        self.send_task: AsyncTaskiqDecoratedTask[
            [dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]
        ] = self.broker.register_task(self._task(), task_name=TASK_NAME)
        self.broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, self._worker_startup)
        self.broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, self._worker_shutdown)
        self._mindo: AsyncMindo | None = None
        self._journal: RedisJournal | None = None

    @classmethod
    def from_env(cls) -> SendQueue:
        """A queue configured by ``$MINDO_REDIS_URL`` (and ``$MINDO_RATE_LIMIT``,
        ``$MINDO_QUEUE_NAMESPACE``, ``$MINDO_QUEUE_IDLE_TIMEOUT``, ``$MINDO_QUEUE_LEASE``,
        ``$MINDO_TRANSPORT``: the workers' HTTP transport, "auto", "aiohttp" or "httpx")."""
        environ = os.environ
        lease = environ.get("MINDO_QUEUE_LEASE")
        transport = environ.get("MINDO_TRANSPORT")
        return cls(
            environ.get("MINDO_REDIS_URL", "redis://127.0.0.1:6379/0"),
            rate=float(environ.get("MINDO_RATE_LIMIT", "80")),
            namespace=environ.get("MINDO_QUEUE_NAMESPACE", "mindo"),
            idle_timeout=float(environ.get("MINDO_QUEUE_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT)),
            lease=float(lease) if lease else None,
            client_options={"transport": transport} if transport else None,
        )

    # -- the worker side ---------------------------------------------------------

    def _open_client(self) -> None:
        self._journal = RedisJournal.from_url(
            self.redis_url, f"{self.namespace}:journal", lease=self.lease
        )
        limiter = RedisRateLimiter.from_url(
            self.redis_url, rate=self.rate, prefix=f"{self.namespace}:rate"
        )
        self._mindo = AsyncMindo(rate_limit=limiter, **self.client_options)

    async def _worker_startup(self, _state: TaskiqState) -> None:
        """Build the worker-wide client, limiter and journal (once per worker process)."""
        self._open_client()

    async def _worker_shutdown(self, _state: TaskiqState) -> None:
        if self._mindo is not None:
            await self._mindo.aclose()
            limiter = self._mindo.rate_limiter
            if isinstance(limiter, RedisRateLimiter):
                await limiter.aclose()
        if self._journal is not None:
            await self._journal.aclose()
        self._mindo = self._journal = None

    def _task(self) -> Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]:
        # Taskiq registers plain functions, not bound methods.
        async def send_request(
            request: dict[str, Any],
            context: Context = TaskiqDepends(),  # noqa: B008 - Taskiq's injection
        ) -> dict[str, Any]:
            """Send one request (a ``SendRequest``'s fields) through the worker's client."""
            result = await self._send(request)
            if result["outcome"] == Outcome.SKIPPED.value and result["message_id"]:
                # Delivered again (at least once) while or after its first run sent it:
                # keep that run's result rather than overwrite it with "skipped".
                earlier = await self.result(context.message.task_id)
                if earlier is not None and earlier.outcome == Outcome.SENT.value:
                    return attrs.asdict(earlier)
            return result

        return send_request

    async def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        """The task: send one request through the worker's client, limiter and journal."""
        if self._mindo is None:
            self._open_client()
        assert self._mindo is not None
        send_request = SendRequest(**request)
        [result] = await self._mindo.send_many(
            [send_request], concurrency=1, dedupe=False, journal=self._journal
        )
        message_id = result.message.message_id if result.message is not None else None
        outcome = result.outcome.value
        if (
            result.outcome is Outcome.SKIPPED
            and isinstance(result.error, AlreadyProcessedError)
            and self._journal is not None
        ):
            entry = await self._journal.get(request_key(send_request))
            if entry is not None:
                # Sent by an earlier job: its message id is in the journal. Or left
                # on the wire by a worker that died: it may have been delivered.
                message_id = entry.message_id
                if entry.state == Outcome.UNKNOWN.value:
                    outcome = Outcome.UNKNOWN.value
        error = None if result.error is None else f"{type(result.error).__name__}: {result.error}"
        return attrs.asdict(
            JobResult(
                outcome=outcome,
                key=request_key(send_request),
                message_id=message_id,
                error=error,
                attempts=result.attempts,
            )
        )

    # -- the enqueuing side --------------------------------------------------------

    async def __aenter__(self) -> SendQueue:
        await self.broker.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.broker.shutdown()

    async def enqueue(self, request: SendRequest) -> str:
        """Enqueue one send; returns its job id."""
        task = await self.send_task.kiq(_request_to_json(request))
        return task.task_id

    async def enqueue_campaign(self, requests: Iterable[SendRequest]) -> list[str]:
        """Enqueue one job per request; returns the job ids, in order."""
        return [await self.enqueue(request) for request in requests]

    async def result(self, job_id: str) -> JobResult | None:
        """The result of a job, or ``None`` while it has none."""
        backend = self.broker.result_backend
        if not await backend.is_result_ready(job_id):
            return None
        outcome: Any = await backend.get_result(job_id)
        if outcome.is_err:
            return JobResult(
                outcome=Outcome.UNKNOWN.value, key="", error=f"the job failed: {outcome.error}"
            )
        return JobResult(**outcome.return_value)

    async def results(self, job_ids: Sequence[str], *, batch: int = 32) -> dict[str, JobResult]:
        """The results ready among ``job_ids``, by job id (jobs still queued or running
        are left out). Reads ``batch`` jobs at a time, concurrently."""
        ready: dict[str, JobResult] = {}

        async def read(job_id: str) -> None:
            result = await self.result(job_id)
            if result is not None:
                ready[job_id] = result

        for start in range(0, len(job_ids), batch):
            async with anyio.create_task_group() as group:
                for job_id in job_ids[start : start + batch]:
                    group.start_soon(read, job_id)
        return ready

    async def wait(self, job_ids: Sequence[str], *, poll: float = 0.2) -> list[JobResult]:
        """Wait for every job's result; returns them in the order of ``job_ids``."""
        results: dict[str, JobResult] = {}
        while len(results) < len(job_ids):
            for job_id in job_ids:
                if job_id not in results:
                    result = await self.result(job_id)
                    if result is not None:
                        results[job_id] = result
            if len(results) < len(job_ids):
                await anyio.sleep(poll)
        return [results[job_id] for job_id in job_ids]


def run_worker(
    redis_url: str,
    *,
    workers: int = 1,
    max_async_tasks: int = 64,
    rate: float | None = None,
    namespace: str | None = None,
) -> int | None:
    """Run Taskiq worker processes for the queue at ``redis_url`` (blocks until stopped)."""
    from taskiq.cli.worker.args import WorkerArgs
    from taskiq.cli.worker.run import run_worker as taskiq_run_worker

    os.environ["MINDO_REDIS_URL"] = redis_url
    if rate is not None:
        os.environ["MINDO_RATE_LIMIT"] = str(rate)
    if namespace is not None:
        os.environ["MINDO_QUEUE_NAMESPACE"] = namespace
    args = WorkerArgs(
        broker="mindo_async.queue.worker:broker",
        modules=[],
        workers=workers,
        max_async_tasks=max_async_tasks,
        configure_logging=True,
    )
    return taskiq_run_worker(args)


__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_RESULT_TTL",
    "TASK_NAME",
    "JobResult",
    "SendQueue",
    "run_worker",
]
