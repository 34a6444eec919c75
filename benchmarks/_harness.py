"""``python -m benchmarks``: every scenario of issue 6 in one invocation.

Contenders run interleaved (A B C D, A B C D, ...) for several rounds against
the same loopback server, and the medians are reported, so that a noisy
neighbour slows every contender alike instead of one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import attrs

from . import _memory
from ._contenders import CONTENDERS, Run, mindo
from ._layers import LAYERS, library_work
from ._report import render_markdown
from ._server import HERE, Servers, servers

RESULTS = HERE / "results"
SCENARIOS = ("s1", "s2", "s3", "s4", "layers", "profile")
PACKAGES = (
    "mindo-async",
    "httpx",
    "httpcore",
    "aiohttp",
    "httpx-aiohttp",
    "anyio",
    "phonenumbers",
    "cattrs",
    "attrs",
)


@attrs.define
class Settings:
    """The counts of one invocation (full or smoke)."""

    rounds: int = 5
    time_limit: float = 15.0
    s1_count: int = 10_000
    s1_concurrency: int = 128
    s2_count: int = 20_000
    s2_concurrency: int = 64
    s3_counts: tuple[int, ...] = (200_000, 1_000_000)
    s3_concurrency: int = 64
    s4_count: int = 2_000
    layers_count: int = 20_000
    wrk_seconds: int = 5
    library_count: int = 20_000
    profile_count: int = 20_000

    @classmethod
    def smoke(cls) -> Settings:
        """Tiny counts: proves the harness runs, measures nothing."""
        return cls(
            rounds=1,
            time_limit=3.0,
            s1_count=40,
            s1_concurrency=8,
            s2_count=60,
            s2_concurrency=8,
            s3_counts=(300,),
            s3_concurrency=8,
            s4_count=10,
            layers_count=40,
            wrk_seconds=1,
            library_count=50,
            profile_count=40,
        )


def machine_info(server: Servers) -> dict[str, Any]:
    """CPU, cores, Python, OS, library versions and the server, for the report."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    os_name = platform.platform()
    try:
        with open("/etc/os-release") as release:
            match = re.search(r'^PRETTY_NAME="?([^"\n]*)', release.read(), re.M)
            if match:
                os_name = f"{match.group(1)} ({platform.system()} {platform.release()})"
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": os_name,
        "event_loop": "asyncio (default loop)",
        "server": server.description,
        "server_kind": server.kind,
        "wrk": _wrk_version(),
        "versions": versions,
    }


def _wrk_version() -> str | None:
    binary = shutil.which("wrk")
    if binary is None:
        return None
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].strip() if lines else "wrk"


def wrk(base_url: str, connections: int, seconds: int) -> Run | None:
    """The server's ceiling, measured by ``wrk`` POSTing the same body; None without wrk."""
    binary = shutil.which("wrk")
    if binary is None:
        return None
    from ._workload import send_url

    threads = min(2, connections)
    done = subprocess.run(
        [
            binary,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(HERE / "post.lua"),
            send_url(base_url),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 30,
    )
    requests = re.search(r"(\d+) requests in ([\d.]+)(m?s)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if requests is None:
        return None
    wall = float(requests.group(2)) / (1000.0 if requests.group(3) == "ms" else 1.0)
    sends = int(requests.group(1))
    failed = int(errors.group(1)) if errors else 0
    return Run(sends, sends - failed, failed, wall, float("nan"), truncated=False)


def _run(coroutine: Coroutine[Any, Any, Run]) -> Run:
    gc.collect()
    return asyncio.run(coroutine)


def _median_run(runs: list[Run]) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        clean = [value for value in values if value == value]
        return statistics.median(clean) if clean else float("nan")

    return {
        "rate": round(median([run.rate for run in runs]), 1),
        "cpu_us_per_send": round(median([run.cpu_us for run in runs]), 1),
        "sends": int(median([float(run.sends) for run in runs])),
        "errors": sum(run.errors for run in runs),
        "truncated_rounds": sum(run.truncated for run in runs),
    }


def _interleaved(
    title: str,
    contenders: dict[str, Callable[[], Awaitable[Run] | Run | None]],
    rounds: int,
) -> dict[str, Any]:
    """Run every contender once per round, in turn; medians over the rounds."""
    runs: dict[str, list[Run]] = {name: [] for name in contenders}
    for number in range(1, rounds + 1):
        for name, start in contenders.items():
            outcome = start()
            run = _run(outcome) if asyncio.iscoroutine(outcome) else outcome
            if run is None:
                continue
            assert isinstance(run, Run)
            runs[name].append(run)
            print(
                f"  [{title} round {number}/{rounds}] {name:48s} {run.rate:9.1f} req/s "
                f"{run.cpu_us:8.1f} us/send  ({run.sends} sends, {run.errors} errors"
                f"{', time limit hit' if run.truncated else ''})",
                flush=True,
            )
    return {
        name: {"rounds": [run.as_dict() for run in found], "median": _median_run(found)}
        for name, found in runs.items()
        if found
    }


def _bind(function: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: function(*args)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def scenario_throughput(
    server: Servers, settings: Settings, *, latency: str, extra_dedupe_off: bool
) -> dict[str, Any]:
    """Scenarios 1 and 2: many sends at a fixed concurrency, per contender."""
    if latency == "lat50":
        base, count, concurrency, title = (
            server.lat50,
            settings.s1_count,
            settings.s1_concurrency,
            "s1",
        )
    else:
        base, count, concurrency, title = (
            server.lat0,
            settings.s2_count,
            settings.s2_concurrency,
            "s2",
        )
    limit = settings.time_limit
    contenders: dict[str, Callable[[], Any]] = {
        name: _bind(function, base, server.api_key, count, concurrency, limit)
        for name, function in CONTENDERS.items()
    }
    if extra_dedupe_off:
        contenders["mindo_async (default transport, dedupe=False)"] = lambda: mindo(
            base, server.api_key, count, concurrency, limit, dedupe=False
        )
    contenders["server ceiling (wrk)"] = lambda: wrk(base, concurrency, settings.wrk_seconds)
    return {
        "settings": {
            "server": latency,
            "count": count,
            "concurrency": concurrency,
            "rounds": settings.rounds,
            "time_limit_s": limit,
        },
        "contenders": _interleaved(title, contenders, settings.rounds),
    }


def scenario_latency(server: Servers, settings: Settings) -> dict[str, Any]:
    """Scenario 4: one send at a time; p50 and p99 per contender."""
    count = settings.s4_count
    limit = settings.time_limit
    latencies: dict[str, list[tuple[float, float]]] = {name: [] for name in CONTENDERS}
    for number in range(1, settings.rounds + 1):
        for name, function in CONTENDERS.items():
            run = _run(function(server.lat0, server.api_key, count, 1, limit, sequential=True))
            values = run.latencies or [float("nan")]
            p50, p99 = _percentile(values, 0.5), _percentile(values, 0.99)
            latencies[name].append((p50, p99))
            print(
                f"  [s4 round {number}/{settings.rounds}] {name:48s} p50 {p50 * 1e6:8.0f} us "
                f"p99 {p99 * 1e6:8.0f} us ({run.sends} sends, {run.errors} errors)",
                flush=True,
            )
    return {
        "settings": {"server": "lat0", "count": count, "rounds": settings.rounds},
        "contenders": {
            name: {
                "p50_us": round(statistics.median(p50 for p50, _ in found) * 1e6, 1),
                "p99_us": round(statistics.median(p99 for _, p99 in found) * 1e6, 1),
                "rounds": [
                    {"p50_us": round(p50 * 1e6, 1), "p99_us": round(p99 * 1e6, 1)}
                    for p50, p99 in found
                ],
            }
            for name, found in latencies.items()
        },
    }


def scenario_memory(server: Servers, settings: Settings) -> dict[str, Any]:
    """Scenario 3: peak RSS of stream_many over a generator, one fresh process each."""
    reports = []
    for count in settings.s3_counts:
        for dedupe in (True, False):
            print(f"  [s3] {count} sends, dedupe={dedupe} ...", flush=True)
            report = _memory.measure(
                server.lat0,
                server.api_key,
                count,
                concurrency=settings.s3_concurrency,
                dedupe=dedupe,
                time_limit=max(60.0, count / 500.0),
            )
            print(
                f"  [s3] {count} sends, dedupe={dedupe}: peak {report['peak_rss_mb']} MB "
                f"(baseline {report['baseline_peak_rss_mb']} MB) in {report['wall_s']} s",
                flush=True,
            )
            reports.append(report)
    return {"settings": {"server": "lat0", "concurrency": settings.s3_concurrency}, "runs": reports}


def scenario_layers(server: Servers, settings: Settings) -> dict[str, Any]:
    """Per-layer CPU per send, interleaved; plus the library's pure work."""
    count, concurrency, limit = settings.layers_count, settings.s2_concurrency, settings.time_limit
    contenders: dict[str, Callable[[], Any]] = {
        name: _bind(function, server.lat0, server.api_key, count, concurrency, limit)
        for name, function in LAYERS.items()
    }
    layers = _interleaved("layers", contenders, settings.rounds)
    work = library_work(settings.library_count)
    print(f"  [layers] library work without I/O, us per request: {work}", flush=True)
    return {
        "settings": {"server": "lat0", "count": count, "concurrency": concurrency},
        "layers": layers,
        "library_work_us": work,
    }


def profile(server: Servers, settings: Settings, output: Path) -> dict[str, Any]:
    """pyinstrument over one scenario-2 run of stream_many; the tree goes to a text file."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"skipped": "pyinstrument is not installed"}
    profiler = Profiler(interval=0.0005)
    profiler.start()
    run = asyncio.run(
        mindo(
            server.lat0,
            server.api_key,
            settings.profile_count,
            settings.s2_concurrency,
            settings.time_limit,
        )
    )
    profiler.stop()
    path = output / "profile-stream_many.txt"
    path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    print(f"  [profile] {run.sends} sends profiled; tree in {path}", flush=True)
    return {"file": path.name, "sends": run.sends}


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios asked for and write the table and the JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="mindo_async fan-out benchmarks against a loopback nginx (issue 6).",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny counts; proves it runs")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios among {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--server", choices=("nginx", "emulator"), default="nginx")
    parser.add_argument(
        "--nginx-workers", default="1", help="nginx worker_processes: 1 (default) or auto"
    )
    parser.add_argument("--time-limit", type=float, help="seconds per timed run (default 15)")
    parser.add_argument(
        "--memory-counts",
        help="comma-separated counts for scenario 3 (default 200000,1000000)",
    )
    parser.add_argument("--output", type=Path, help="where to write results.md/.json")
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        help="compare mode: a directory holding an older mindo_async package (repeat it for "
        "several, oldest first); measure each and the working tree interleaved (scenarios "
        "s1, s2, s4, layers) and write compare.md",
    )
    args = parser.parse_args(argv)

    settings = Settings.smoke() if args.smoke else Settings()
    if args.rounds:
        settings.rounds = args.rounds
    if args.time_limit:
        settings.time_limit = args.time_limit
    if args.memory_counts:
        settings.s3_counts = tuple(int(n) for n in args.memory_counts.split(","))
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {sorted(unknown)}")
    if args.output is not None:
        output = args.output
    elif args.smoke:
        output = Path(tempfile.mkdtemp(prefix="mindo-bench-smoke-"))
    else:
        output = RESULTS
    output.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    command = "python -m benchmarks" + ("" if argv is None else " " + " ".join(argv))
    if argv is None:
        command = "python -m benchmarks " + " ".join(sys.argv[1:])
    with servers(args.server, args.nginx_workers) as server:
        print(f"server: {server.description} ({server.lat0}, {server.lat50})", flush=True)
        if args.baseline is not None:
            from ._compare import compare

            compare(server, settings, chosen, args.baseline, output)
            return 0
        results: dict[str, Any] = {
            "command": command.strip(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "smoke": args.smoke,
            "machine": machine_info(server),
            "settings": attrs.asdict(settings),
            "notes": {
                "mindo_async": "rate_limit=None (no pacing), dedupe=True unless stated, "
                "max_connections at its default (the pool follows the concurrency), journal off",
                "raw clients": "fixed workers over one iterator; json.dumps body, read, json.loads",
                "naive httpx": "httpx.AsyncClient() defaults (100 connections, 20 kept alive)",
                "raw aiohttp": "ClientSession(connector=TCPConnector(limit=concurrency))",
                "cpu": "time.process_time() of the client process / sends answered",
            },
            "scenarios": {},
        }
        scenarios = results["scenarios"]
        if "s1" in chosen:
            print("scenario 1: 50 ms server, throughput", flush=True)
            scenarios["s1"] = scenario_throughput(
                server, settings, latency="lat50", extra_dedupe_off=False
            )
        if "s2" in chosen:
            print("scenario 2: 0 ms server, CPU per send", flush=True)
            scenarios["s2"] = scenario_throughput(
                server, settings, latency="lat0", extra_dedupe_off=True
            )
        if "layers" in chosen:
            print("layers: CPU per send, layer by layer", flush=True)
            scenarios["layers"] = scenario_layers(server, settings)
        if "s4" in chosen:
            print("scenario 4: one send at a time, latency", flush=True)
            scenarios["s4"] = scenario_latency(server, settings)
        if "s3" in chosen:
            print("scenario 3: peak RSS of stream_many over a generator", flush=True)
            scenarios["s3"] = scenario_memory(server, settings)
        if "profile" in chosen and not args.smoke:
            print("profile: pyinstrument over scenario 2", flush=True)
            scenarios["profile"] = profile(server, settings, output)
    results["elapsed_s"] = round(time.monotonic() - started, 1)

    (output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = render_markdown(results)
    (output / "results.md").write_text(markdown)
    print()
    print(markdown)
    print(f"written: {output / 'results.md'} and {output / 'results.json'}")
    return 0
