"""Issue 13's done-when measurements: many worker processes, one limit, one journal.

    python -m benchmarks.shared_state                 # everything, about two minutes
    python -m benchmarks.shared_state --only shared   # shared | unshared | kill
    python -m benchmarks.shared_state --messages 400  # a quicker, smaller run

Starts its own redis-server (Debian's ``redis-server``) on a free loopback port and
the emulator over loopback sockets with its per-number rate limit (Meta's 80/s)
on, then:

* ``shared``: 4 worker processes send ONE campaign (every process is handed all of
  it) over 2 sender numbers through ``RedisRateLimiter`` at 95% of the limit and
  one ``RedisJournal``. Reports the busiest 1-second window per number (counted
  where the emulator receives them), the 429s and the duplicates.
* ``unshared``: the same with each process pacing itself at 95% (the in-process
  limiter): 4 x 76/s against 80/s, the 429s show.
* ``kill``: 4 Taskiq workers (``mindo_async.queue``) on the campaign; one is
  killed with ``kill -9`` mid-campaign and started again. Reports duplicates and
  what was reported UNKNOWN.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from mindo_async import SendRequest
from mindo_async.testing import Emulator, EmulatorData, serve
from mindo_async.testing._faults import META_RATE_LIMIT

NUMBERS = ("813497231850626", "813497231850627")
WORKERS = 4
#: The emulator's per-number limit (``--limit``; Meta's 80/s by default), and the
#: limiters' rate: 95% of it.
LIMIT = float(os.environ.get("MINDO_BENCH_LIMIT", META_RATE_LIMIT))
#: The limiters' rate as a fraction of LIMIT (``--fraction``).
FRACTION = float(os.environ.get("MINDO_BENCH_FRACTION", "0.95"))
RATE = LIMIT * FRACTION
#: The shared limiter's burst (``--burst``; default: its own default).
BURST = float(os.environ["MINDO_BENCH_BURST"]) if os.environ.get("MINDO_BENCH_BURST") else None


def campaign(count: int) -> list[SendRequest]:
    """``count`` requests alternating over the two NUMBERS."""
    return [
        SendRequest(
            phone_number_id=NUMBERS[i % 2],
            template_name="verification_code",
            recipient_phone=f"+54911{40000000 + i}",
            variables={"name": f"User {i}", "code": f"C{i:05d}"},
        )
        for i in range(count)
    ]


# -- one worker process of the shared / unshared scenarios -------------------------


class _Recorded:
    """A ``RateLimiter`` that notes when each slot is granted (the machine's wall clock)."""

    def __init__(self, inner: Any, grants: list[tuple[str, float]]) -> None:
        self.inner = inner
        self.grants = grants

    async def acquire(self, number: str, priority: Any = None) -> None:
        if priority is None:
            await self.inner.acquire(number)
        else:
            await self.inner.acquire(number, priority)
        self.grants.append((number, time.time()))

    async def pause(self, number: str, seconds: float) -> None:
        await self.inner.pause(number, seconds)

    async def paused_for(self, number: str) -> float:
        return float(await self.inner.paused_for(number))


async def _worker(
    base_url: str, api_key: str, redis_url: str, mode: str, count: int, index: int
) -> None:
    import httpx

    from mindo_async import AsyncMindo, LocalRateLimiter
    from mindo_async.redis import RedisJournal, RedisRateLimiter

    grants: list[tuple[str, float]] = []
    sends: list[tuple[str, str, float]] = []
    inner: Any = (
        RedisRateLimiter.from_url(redis_url, rate=RATE, burst=BURST)
        if mode == "shared"
        else LocalRateLimiter(RATE)
    )

    async def on_request(request: httpx.Request) -> None:
        # When httpx starts sending the request: (number, recipient, wall clock).
        body = json.loads(request.content)
        sends.append((body["phone_number_id"], body["recipient_phone"], time.time()))

    journal = RedisJournal.from_url(redis_url, namespace="bench")
    async with (
        httpx.AsyncClient(
            event_hooks={"request": [on_request]},
            trust_env=False,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        ) as http,
        AsyncMindo(
            api_key=api_key,
            base_url=base_url,
            rate_limit=_Recorded(inner, grants),
            http_client=http,
        ) as mindo,
    ):
        # Every process is handed the whole campaign, each starting at its own
        # quarter: they meet (and the journal keeps each request to one send) at the ends.
        requests = campaign(count)
        start = index * count // WORKERS
        requests = requests[start:] + requests[:start]
        results = await mindo.send_many(requests, concurrency=32, journal=journal)
    print(
        json.dumps(
            {
                "outcomes": collections.Counter(r.outcome.value for r in results),
                "grants": grants,
                "sends": sends,
            }
        )
    )


# -- helpers ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not found: apt-get install redis-server")
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        try:
            yield url
        finally:
            process.terminate()
            process.wait(10)


def emulator() -> Emulator:
    """The two-number emulator with Meta's per-number limit on."""
    emu = Emulator(EmulatorData(phone_number_ids=frozenset(NUMBERS)))
    emu.set_faults(phone_rate_limit=LIMIT, retry_after=1)
    return emu


def busiest_window(stamps: list[float], width: float = 1.0) -> int:
    """The most stamps in any window of ``width`` seconds."""
    stamps = sorted(stamps)
    return max(
        (bisect.bisect_right(stamps, start + width) - i for i, start in enumerate(stamps)),
        default=0,
    )


def busiest_second(emu: Emulator) -> dict[str, int]:
    """Per number, the most messages accepted in any 1-second window."""
    times: dict[str, list[float]] = collections.defaultdict(list)
    for entry in emu.ledger.messages:
        times[entry.phone_number_id].append(entry.received_at.timestamp())
    return {number: busiest_window(stamps) for number, stamps in times.items()}


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of ``values``, in milliseconds."""
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(ordered[-1] * 1000, 1)}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}


# -- scenarios ---------------------------------------------------------------------------


def run_processes(mode: str, count: int, nice: int = 0) -> dict[str, object]:
    """4 processes, each handed the whole campaign, one Redis journal.

    ``nice``: the worker processes' niceness, so that on a small machine the
    emulator and Redis (the "server side") get the CPU first, as they would on
    machines of their own.
    """
    emu = emulator()
    with redis_server() as redis_url, serve(emu) as server:
        started = time.monotonic()
        children = [
            subprocess.Popen(
                [
                    *(["nice", "-n", str(nice)] if nice else []),
                    sys.executable,
                    "-m",
                    "benchmarks.shared_state",
                    "--child",
                    mode,
                    server.base_url,
                    server.api_key,
                    redis_url,
                    str(count),
                    str(index),
                ],
                env=_env(),
                stdout=subprocess.PIPE,
            )
            for index in range(WORKERS)
        ]
        outcomes: collections.Counter[str] = collections.Counter()
        grants: dict[str, list[float]] = collections.defaultdict(list)
        sends: dict[str, list[float]] = collections.defaultdict(list)
        sent_at: dict[str, list[float]] = collections.defaultdict(list)
        for child in children:
            output = child.communicate(timeout=600)[0].decode().strip().splitlines()
            report: dict[str, Any] = (
                json.loads(output[-1]) if output else {"outcomes": {"crashed": 1}}
            )
            outcomes.update(report["outcomes"])
            for number, stamp in report.get("grants", []):
                grants[number].append(stamp)
            for number, recipient, stamp in report.get("sends", []):
                sends[number].append(stamp)
                sent_at[recipient].append(stamp)
        elapsed = time.monotonic() - started
    counts = emu.ledger.counts
    # From httpx starting the request to the emulator's receipt stamp, per message
    # (of a recipient's attempts, the last one started before the receipt).
    transit = []
    for entry in emu.ledger.messages:
        received = entry.received_at.timestamp()
        before = [stamp for stamp in sent_at.get(entry.recipient_phone, ()) if stamp <= received]
        if before:
            transit.append(received - max(before))
    return {
        "scenario": mode,
        "messages": count,
        "workers": WORKERS,
        "limiter": f"{'RedisRateLimiter' if mode == 'shared' else 'in-process'} at {RATE:g}/s",
        "accepted": len(emu.ledger.messages),
        "duplicates": len(emu.ledger.duplicates()),
        "429s": counts["rate_limited"],
        "busiest_1s_window": busiest_second(emu),
        # The same windows counted where the slots were granted and where httpx began
        # each request (all processes together, the machine's clock).
        "busiest_1s_window_at_grant": {n: busiest_window(t) for n, t in grants.items()},
        "busiest_1s_window_at_send": {n: busiest_window(t) for n, t in sends.items()},
        "send_to_receipt": percentiles(transit),
        "emulator_limit_per_number": LIMIT,
        # The shared limiter's burst (its default: a tenth of a second's worth).
        "limit_plus_burst": LIMIT + (BURST if BURST is not None else max(1.0, RATE / 10)),
        "outcomes": dict(outcomes),
        "workers_nice": nice,
        "elapsed_s": round(elapsed, 1),
        "throughput_per_s": round(len(emu.ledger.messages) / elapsed, 1),
    }


def run_kill(count: int) -> dict[str, object]:
    """4 Taskiq workers; one killed with kill -9 mid-campaign, then started again."""
    from mindo_async.queue import SendQueue

    emu = emulator()
    with redis_server() as redis_url, serve(emu) as server:
        env = {
            **_env(),
            "MINDO_REDIS_URL": redis_url,
            "MINDO_BASE_URL": server.base_url,
            "MINDO_API_KEY": server.api_key,
            "MINDO_RATE_LIMIT": str(RATE),
            "MINDO_QUEUE_IDLE_TIMEOUT": "5",
            "MINDO_QUEUE_LEASE": "2.5",
            "MINDO_TRANSPORT": "httpx",
        }

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "taskiq", "worker", "mindo_async.queue.worker:broker",
                 "--workers", "1", "--max-async-tasks", "64", "--log-level", "WARNING"],
                env=env,
                start_new_session=True,
            )  # fmt: skip

        workers = [start() for _ in range(WORKERS)]

        async def drive() -> tuple[list[object], int]:
            queue = SendQueue(redis_url, rate=RATE)
            async with queue:
                jobs = await queue.enqueue_campaign(campaign(count))
                while len(emu.ledger.messages) < count // 3:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                os.killpg(workers[0].pid, signal.SIGKILL)
                workers[0].wait()
                killed_at = len(emu.ledger.messages)
                workers[0] = start()
                return list(await queue.wait(jobs)), killed_at

        started = time.monotonic()
        try:
            results, killed_at = asyncio.run(drive())
        finally:
            for worker in workers:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait()
        elapsed = time.monotonic() - started
    outcomes = collections.Counter(r.outcome for r in results)  # type: ignore[attr-defined]
    return {
        "scenario": "kill -9 one of 4 Taskiq workers mid-campaign, restart it",
        "messages": count,
        "killed_after_accepted": killed_at,
        "accepted": len(emu.ledger.messages),
        "duplicates": len(emu.ledger.duplicates()),
        "429s": emu.ledger.counts["rate_limited"],
        "job_outcomes": dict(outcomes),
        "elapsed_s": round(elapsed, 1),
    }


async def _overhead(redis_url: str, tmp: Path, count: int) -> dict[str, float]:
    """Microseconds per send of the shared-state steps alone (no HTTP), one at a time.

    Per send the client asks the limiter ``paused_for`` and ``acquire``; the
    fan-out's journal ``claim``, ``mark_in_flight`` and ``record``. The limit is
    set far above what is reached, so nothing waits.
    """
    from mindo_async import LocalRateLimiter, Outcome, Priority, SQLiteJournal
    from mindo_async.redis import RedisJournal, RedisRateLimiter

    async def per_send(limiter: object, journal: object) -> float:
        started = time.perf_counter()
        for i in range(count):
            number = NUMBERS[i % 2]
            key = f"k{i}"
            await limiter.paused_for(number)  # type: ignore[attr-defined]
            await limiter.acquire(number, Priority.FANOUT)  # type: ignore[attr-defined]
            await journal.claim(key)  # type: ignore[attr-defined]
            await journal.mark_in_flight(key)  # type: ignore[attr-defined]
            await journal.record(key, Outcome.SENT, message_id="wamid.x")  # type: ignore[attr-defined]
        return (time.perf_counter() - started) / count * 1e6

    local = await per_send(LocalRateLimiter(1e9), SQLiteJournal(tmp / "journal.sqlite"))
    redis_limiter = RedisRateLimiter.from_url(redis_url, rate=1e9)
    redis_journal = RedisJournal.from_url(redis_url, namespace="overhead")
    shared = await per_send(redis_limiter, redis_journal)
    await redis_limiter.aclose()
    await redis_journal.aclose()
    return {"in_process_us_per_send": round(local, 1), "redis_us_per_send": round(shared, 1)}


def run_overhead(count: int) -> dict[str, object]:
    """The cost per send of the Redis limiter and journal against the in-process ones."""
    with redis_server() as redis_url, tempfile.TemporaryDirectory() as tmp:
        costs = asyncio.run(_overhead(redis_url, Path(tmp), count))
    return {
        "scenario": "overhead per send: limiter (paused_for, acquire) + journal "
        "(claim, mark_in_flight, record), sequential, loopback Redis",
        "sends": count,
        **costs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=["shared", "unshared", "kill", "overhead"], action="append"
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument(
        "--limit",
        type=float,
        help="the emulator's per-number limit (default Meta's 80/s); lower it on a "
        "machine that cannot reach 4 x 80/s, so that the unshared run still shows its 429s",
    )
    parser.add_argument(
        "--fraction",
        type=float,
        help="the limiters' rate as a fraction of the limit (default 0.95)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the worker processes with this niceness (shared/unshared): on a small "
        "machine, gives the emulator and Redis the CPU first, as on their own machines",
    )
    parser.add_argument("--child", nargs=6, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global LIMIT, FRACTION, RATE
    if args.limit is not None:
        # Read again by this module in the worker processes, which inherit it.
        os.environ["MINDO_BENCH_LIMIT"] = str(args.limit)
        LIMIT = args.limit
    if args.fraction is not None:
        os.environ["MINDO_BENCH_FRACTION"] = str(args.fraction)
        FRACTION = args.fraction
    RATE = LIMIT * FRACTION
    if args.child:
        mode, base_url, api_key, redis_url, count, index = args.child
        asyncio.run(_worker(base_url, api_key, redis_url, mode, int(count), int(index)))
        return
    for scenario in args.only or ["shared", "unshared", "kill", "overhead"]:
        if scenario == "overhead":
            result = run_overhead(args.messages)
        elif scenario == "kill":
            result = run_kill(args.messages)
        else:
            result = run_processes(scenario, args.messages, args.nice)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
