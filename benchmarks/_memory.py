"""Peak RSS of ``stream_many`` over a generator, measured in a fresh process.

``python -m benchmarks._memory --base-url URL --api-key KEY --count N`` prints
one JSON object: the peak RSS of the bare interpreter, after the imports, after
a client was made (the baseline), at the end, and what was sent. A peak never
goes down, so every measurement needs its own process.

The peak is ``VmHWM`` from ``/proc/self/status``: the high-water mark of this
process image. ``getrusage(RUSAGE_SELF).ru_maxrss`` is only the fallback, because
Linux carries it across ``fork`` + ``exec``: a child of a 50 MB harness starts
with ``ru_maxrss`` = 50 MB whatever it does.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    # Linux and most BSDs report kilobytes (macOS bytes; not a target here).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1024.0 / 1024.0


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    interpreter_mb = _peak_mb()
    # Everything a run loads, aiohttp included (the default transport imports it lazily).
    import httpx_aiohttp  # noqa: F401

    from mindo_async import AsyncMindo, Outcome

    from ._workload import send_requests

    imports_mb = _peak_mb()

    async with AsyncMindo(
        api_key=args.api_key,
        base_url=args.base_url,
        rate_limit=None,
        max_connections=args.concurrency,
    ) as client:
        baseline_peak, baseline_now = _peak_mb(), _current_mb()
        counts = {outcome.value: 0 for outcome in Outcome}
        deadline = time.perf_counter() + args.time_limit
        started = time.perf_counter()
        truncated = False
        samples: list[float] = []
        async with client.stream_many(
            send_requests(args.count), concurrency=args.concurrency, dedupe=args.dedupe
        ) as stream:
            async for result in stream:
                counts[result.outcome.value] += 1
                done = sum(counts.values())
                if done % 50_000 == 0:
                    samples.append(round(_current_mb(), 1))
                if time.perf_counter() > deadline:
                    truncated = True
                    break
        wall = time.perf_counter() - started
    return {
        "count": args.count,
        "concurrency": args.concurrency,
        "dedupe": args.dedupe,
        "results": counts,
        "truncated": truncated,
        "wall_s": round(wall, 2),
        "interpreter_rss_mb": round(interpreter_mb, 1),
        "imports_rss_mb": round(imports_mb, 1),
        "baseline_peak_rss_mb": round(baseline_peak, 1),
        "baseline_rss_mb": round(baseline_now, 1),
        "peak_rss_mb": round(_peak_mb(), 1),
        "rss_every_50k_mb": samples,
    }


def measure(
    base_url: str,
    api_key: str,
    count: int,
    *,
    concurrency: int = 64,
    dedupe: bool = True,
    time_limit: float = 900.0,
) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON report."""
    command = [
        sys.executable,
        "-m",
        "benchmarks._memory",
        "--base-url",
        base_url,
        "--api-key",
        api_key,
        "--count",
        str(count),
        "--concurrency",
        str(concurrency),
        "--time-limit",
        str(time_limit),
    ]
    if not dedupe:
        command.append("--no-dedupe")
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=time_limit + 60
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    """Parse the arguments, measure, print the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._memory")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--time-limit", type=float, default=900.0)
    parser.add_argument("--no-dedupe", dest="dedupe", action="store_false")
    args = parser.parse_args()

    import asyncio

    print(json.dumps(asyncio.run(_run(args))))


if __name__ == "__main__":
    main()
