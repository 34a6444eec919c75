"""Issue 13's benchmark row: how far worker processes scale, and what shared state costs.

    python -m benchmarks.workers                      # about two minutes
    python -m benchmarks.workers --smoke              # tiny sizes: only checks it runs
    python -m benchmarks.workers --output benchmarks/results   # also writes workers.{json,md}

Against nginx answering at once over loopback (``benchmarks/_server.py``: the
echo module returns the documented 200 body), in interleaved rounds:

* **scaling**: 1, 2 and 4 worker processes, each an ``AsyncMindo`` with the
  limit off (``rate_limit=None``) and no journal, sending one campaign split
  between them (``--messages`` in all, ``--concurrency`` each); aggregate
  throughput = messages / (last process done - first process started, once all
  were ready). Next to it, the server's ceiling: ``wrk`` POSTing the same body
  with as many connections as the 4 processes together.
* **overhead**: one process sending through the in-process limiter and SQLite
  journal, then through ``RedisRateLimiter`` and ``RedisJournal`` (loopback
  redis-server), then with neither; the limiter's rate is far above what is
  reached, so it is asked but never waits. Per send: wall time and the
  process's CPU time (Redis's own CPU is not in it).

Medians over ``--rounds``. A 2-core machine shared with other jobs bounds every
number here: read the ceiling next to them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._harness import machine_info, wrk
from ._server import Servers, servers
from ._workload import send_requests
from .shared_state import redis_server

PROCESS_COUNTS = (1, 2, 4)
OVERHEAD_MODES = ("in-process limiter + SQLite journal", "Redis limiter + Redis journal", "none")

# -- the child processes -----------------------------------------------------------


async def _scaling_child(
    base_url: str, api_key: str, first: int, count: int, concurrency: int
) -> None:
    """One worker: warm up, say ready, wait for "go", send its slice, report."""
    from mindo_async import AsyncMindo

    async with AsyncMindo(api_key=api_key, base_url=base_url, rate_limit=None) as mindo:
        await mindo.send_many(list(send_requests(concurrency, start=10_000_000 + first)))
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        started = time.time()
        results = await mindo.send_many(send_requests(count, start=first), concurrency=concurrency)
        ended = time.time()
    sent = sum(1 for result in results if result.ok)
    print(json.dumps({"started": started, "ended": ended, "sent": sent}), flush=True)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}


def run_scaling(server: Servers, processes: int, messages: int, concurrency: int) -> dict[str, Any]:
    """``processes`` workers sharing ``messages``: aggregate messages per second."""
    share = messages // processes
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.workers",
                "--child",
                server.lat0,
                server.api_key,
                str(index * share),
                str(share),
                str(concurrency),
            ],
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for index in range(processes)
    ]
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("a worker process did not start")
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    reports = []
    for child in children:
        output, _ = child.communicate(timeout=600)
        reports.append(json.loads(output.strip().splitlines()[-1]))
    wall = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    sent = sum(r["sent"] for r in reports)
    return {"sent": sent, "errors": processes * share - sent, "wall_s": wall, "rate": sent / wall}


async def _overhead_once(
    server: Servers, redis_url: str, tmp: Path, mode: str, first: int, count: int, concurrency: int
) -> dict[str, Any]:
    from mindo_async import AsyncMindo, LocalRateLimiter, RateLimiter, SQLiteJournal
    from mindo_async.redis import RedisJournal, RedisRateLimiter

    limiter: RateLimiter | None
    journal: Any
    closers: list[Any] = []
    if mode == OVERHEAD_MODES[0]:
        limiter = LocalRateLimiter(1e9)
        journal = SQLiteJournal(tmp / f"journal-{first}.sqlite")
    elif mode == OVERHEAD_MODES[1]:
        limiter = RedisRateLimiter.from_url(redis_url, rate=1e9)
        journal = RedisJournal.from_url(redis_url, namespace=f"overhead-{first}")
        closers = [limiter, journal]
    else:
        limiter, journal = None, None
    async with AsyncMindo(
        api_key=server.api_key, base_url=server.lat0, rate_limit=limiter
    ) as mindo:
        await mindo.send_many(list(send_requests(concurrency, start=20_000_000 + first)))
        cpu, wall = time.process_time(), time.perf_counter()
        results = await mindo.send_many(
            send_requests(count, start=first), concurrency=concurrency, journal=journal
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for closer in closers:
        await closer.aclose()
    if isinstance(journal, SQLiteJournal):
        journal.close()
    sent = sum(1 for result in results if result.ok)
    return {
        "sent": sent,
        "errors": count - sent,
        "rate": sent / wall,
        "wall_us_per_send": wall / count * 1e6,
        "cpu_us_per_send": cpu / count * 1e6,
    }


# -- the run -----------------------------------------------------------------------------


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(run[key] for run in runs)), 1)


def run(messages: int, concurrency: int, rounds: int, wrk_seconds: int) -> dict[str, Any]:
    """Every scenario, interleaved round by round; medians."""
    scaling: dict[str, list[dict[str, Any]]] = {}
    overhead: dict[str, list[dict[str, Any]]] = {mode: [] for mode in OVERHEAD_MODES}
    with (
        servers("nginx") as server,
        redis_server() as redis_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        if server.kind != "nginx":
            print("WARNING: no nginx: these numbers measure the emulator", file=sys.stderr)
        info = machine_info(server)
        info["redis"] = subprocess.run(
            [shutil.which("redis-server") or "redis-server", "--version"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        for number in range(rounds):
            ceiling = wrk(server.lat0, concurrency * max(PROCESS_COUNTS), wrk_seconds)
            if ceiling is not None:
                scaling.setdefault("server ceiling (wrk)", []).append(
                    {"sent": ceiling.sends, "errors": ceiling.errors, "rate": ceiling.rate}
                )
            for processes in PROCESS_COUNTS:
                result = run_scaling(server, processes, messages, concurrency)
                scaling.setdefault(f"{processes} process{'es' * (processes > 1)}", []).append(
                    result
                )
            for mode in OVERHEAD_MODES:
                first = number * messages * 10 + OVERHEAD_MODES.index(mode) * messages
                overhead[mode].append(
                    asyncio.run(
                        _overhead_once(
                            server, redis_url, Path(tmp), mode, first, messages, concurrency
                        )
                    )
                )
            print(f"round {number + 1}/{rounds} done", file=sys.stderr, flush=True)
    base = _median(overhead["none"], "wall_us_per_send")
    base_cpu = _median(overhead["none"], "cpu_us_per_send")
    return {
        "benchmark": "workers",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.workers " + " ".join(sys.argv[1:]),
        "machine": info,
        "load_average_at_end": os.getloadavg(),
        "settings": {
            "messages": messages,
            "concurrency_per_process": concurrency,
            "rounds": rounds,
            "wrk_seconds": wrk_seconds,
        },
        "scaling": {
            name: {
                "rate": _median(runs, "rate"),
                "errors": sum(run["errors"] for run in runs),
                "rounds": [round(run["rate"], 1) for run in runs],
            }
            for name, runs in scaling.items()
        },
        "overhead": {
            mode: {
                "rate": _median(runs, "rate"),
                "wall_us_per_send": _median(runs, "wall_us_per_send"),
                "cpu_us_per_send": _median(runs, "cpu_us_per_send"),
                "wall_us_over_none": round(_median(runs, "wall_us_per_send") - base, 1),
                "cpu_us_over_none": round(_median(runs, "cpu_us_per_send") - base_cpu, 1),
                "errors": sum(run["errors"] for run in runs),
            }
            for mode, runs in overhead.items()
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """The results as the Markdown table committed under ``benchmarks/results/``."""
    info = result["machine"]
    settings = result["settings"]
    lines = [
        "# Worker processes against nginx, and the cost of shared state (issue 13)",
        "",
        f"`{result['command']}`, {result['date']}.",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['os']}, {info['python']}; "
        f"server {info['server']}; {info.get('wrk') or 'no wrk'}; {info['redis']}. "
        f"Load average at the end: {', '.join(f'{x:.1f}' for x in result['load_average_at_end'])}.",
        f"Versions: {', '.join(f'{k} {v}' for k, v in info['versions'].items() if v)}.",
        "",
        f"## Scaling: {settings['messages']:,} messages per run, limit off, no journal, "
        f"concurrency {settings['concurrency_per_process']} per process; "
        f"median of {settings['rounds']} interleaved rounds",
        "",
        "| | messages/s | errors | each round |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, row in result["scaling"].items():
        lines.append(
            f"| {name} | {row['rate']:,.0f} | {row['errors']} | "
            f"{', '.join(f'{r:,.0f}' for r in row['rounds'])} |"
        )
    lines += [
        "",
        f"## Overhead per send: one process, {settings['messages']:,} sends, concurrency "
        f"{settings['concurrency_per_process']}, limiter asked but never waiting",
        "",
        "| limiter + journal | messages/s | wall µs/send | over none | CPU µs/send | over none |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, row in result["overhead"].items():
        lines.append(
            f"| {mode} | {row['rate']:,.0f} | {row['wall_us_per_send']:,.0f} | "
            f"{row['wall_us_over_none']:+,.0f} | {row['cpu_us_per_send']:,.0f} | "
            f"{row['cpu_us_over_none']:+,.0f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it runs")
    parser.add_argument("--output", type=Path, help="write workers.json and workers.md here")
    parser.add_argument("--child", nargs=5, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        base_url, api_key, first, count, concurrency = args.child
        asyncio.run(_scaling_child(base_url, api_key, int(first), int(count), int(concurrency)))
        return
    if args.smoke:
        args.messages, args.concurrency, args.rounds, args.wrk_seconds = 40, 4, 1, 1
    result = run(args.messages, args.concurrency, args.rounds, args.wrk_seconds)
    print(json.dumps(result), flush=True)
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        name = "workers-smoke" if args.smoke else "workers"
        (args.output / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.output / f"{name}.md").write_text(markdown(result))


if __name__ == "__main__":
    main()
