"""An async worker that sends WhatsApp templates from a job queue, with graceful shutdown.

Jobs come from an ``asyncio.Queue`` (in production: your broker's consumer puts
them there). A few consumers share one ``AsyncMindo``. On SIGINT or SIGTERM the
worker stops taking jobs, lets the jobs in hand finish (a send is never cut in
the middle, where it may or may not have been delivered), and leaves the rest
in the queue for the next start.

What happens to a job:

- sent: its message id is recorded;
- never reached the API, or refused before processing (connection failure,
  429, 503, after the library's own retries): put back in the queue, up to
  ``max_attempts`` times, since nothing was delivered;
- may have been delivered (``DeliveryUnknownError``): set aside as unknown,
  never retried automatically;
- refused by the API or invalid: set aside as failed, with the reason.

Run it against the local emulator (no account needed)::

    mindo emulator --port 8000 &
    MINDO_BASE_URL=http://127.0.0.1:8000 MINDO_API_KEY=mindo_emulator_0123456789abcdef \
        python examples/worker.py jobs.jsonl

where each line of ``jobs.jsonl`` holds the fields of ``AsyncMindo.send``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import dataclass, field

from mindo_async import (
    APIConnectionError,
    AsyncMindo,
    DeliveryUnknownError,
    MindoError,
    RateLimitError,
    SendRequest,
    ServerError,
)


@dataclass
class Job:
    id: str
    request: SendRequest
    attempts: int = 0


@dataclass
class Report:
    """What the worker did, by job id."""

    sent: dict[str, str] = field(default_factory=dict)  # job id -> message id
    unknown: dict[str, str] = field(default_factory=dict)  # may have been delivered
    failed: dict[str, str] = field(default_factory=dict)  # not delivered, not retried
    requeued: int = 0


def _retry_later(error: MindoError) -> bool:
    """Whether nothing was delivered and trying again later may work."""
    if isinstance(error, DeliveryUnknownError):
        return False
    if isinstance(error, ServerError):
        return error.status_code == 503
    return isinstance(error, (APIConnectionError, RateLimitError))


class Worker:
    def __init__(
        self,
        mindo: AsyncMindo,
        queue: asyncio.Queue[Job],
        *,
        consumers: int = 8,
        max_attempts: int = 3,
    ) -> None:
        self.mindo = mindo
        self.queue = queue
        self.consumers = consumers
        self.max_attempts = max_attempts
        self.report = Report()
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop taking jobs; the jobs in hand finish."""
        self.stopping.set()

    async def run(self) -> Report:
        """Consume jobs until ``stop()``; return what was done."""
        await asyncio.gather(*(self._consume() for _ in range(self.consumers)))
        return self.report

    async def _consume(self) -> None:
        stopping = asyncio.ensure_future(self.stopping.wait())
        try:
            while not self.stopping.is_set():
                taking = asyncio.ensure_future(self.queue.get())
                await asyncio.wait({taking, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not taking.done():
                    taking.cancel()
                    break
                job = taking.result()
                try:
                    await self._handle(job)
                finally:
                    self.queue.task_done()
        finally:
            stopping.cancel()

    async def _handle(self, job: Job) -> None:
        job.attempts += 1
        try:
            message = await self.mindo.send_request(job.request)
        except MindoError as error:
            if isinstance(error, DeliveryUnknownError):
                self.report.unknown[job.id] = str(error)
            elif _retry_later(error) and job.attempts < self.max_attempts:
                self.report.requeued += 1
                self.queue.put_nowait(job)
            else:
                self.report.failed[job.id] = f"{type(error).__name__}: {error}"
        else:
            self.report.sent[job.id] = message.message_id


async def main(path: str) -> None:
    queue: asyncio.Queue[Job] = asyncio.Queue()
    with open(path, encoding="utf-8") as file:  # noqa: ASYNC230 - read once at start-up
        for number, line in enumerate(file, start=1):
            if line.strip():
                queue.put_nowait(Job(f"line-{number}", SendRequest(**json.loads(line))))
    async with AsyncMindo() as mindo:
        worker = Worker(mindo, queue)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        running = asyncio.ensure_future(worker.run())
        finished = asyncio.ensure_future(queue.join())
        await asyncio.wait({running, finished}, return_when=asyncio.FIRST_COMPLETED)
        worker.stop()
        report = await running
        finished.cancel()
    print(
        f"sent {len(report.sent)}, unknown {len(report.unknown)}, failed {len(report.failed)}, "
        f"left in the queue {queue.qsize()}"
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
