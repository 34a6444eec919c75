"""Before/after in one invocation: ``python -m benchmarks --baseline DIR [--baseline DIR2 ...]``.

Each ``DIR`` holds an older copy of the ``mindo_async`` package (for example
``mkdir DIR && git archive HEAD mindo_async | tar -x -C DIR``), oldest first.
Every measurement runs in a fresh process, on each copy and on the working
tree in turn, round after round (the order flips every round), and the medians
are compared. Raw aiohttp runs in the same rounds as the reference the targets
are ratios of.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs

from ._server import Servers

MINDO = "mindo_async (default transport)"


@attrs.frozen
class Measurement:
    """One line of the comparison."""

    label: str
    what: str
    server: str
    count: int
    concurrency: int
    sequential: bool = False
    #: Whether it depends on the library (else it runs once per round, as a reference).
    library: bool = True


def _child(
    measurement: Measurement, server: Servers, lib: str | None, time_limit: float
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks._one",
        "--what",
        measurement.what,
        "--base-url",
        server.lat50 if measurement.server == "lat50" else server.lat0,
        "--api-key",
        server.api_key,
        "--count",
        str(measurement.count),
        "--concurrency",
        str(measurement.concurrency),
        "--time-limit",
        str(time_limit),
    ]
    if lib:
        command += ["--lib", lib]
    if measurement.sequential:
        command.append("--sequential")
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=time_limit * 3 + 120
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measurements(settings: Any, chosen: list[str]) -> list[Measurement]:
    """What to compare, from the harness settings and the scenarios chosen."""
    found: list[Measurement] = []
    if "s1" in chosen:
        found += [
            Measurement(
                "S1 stream_many", MINDO, "lat50", settings.s1_count, settings.s1_concurrency
            ),
            Measurement(
                "S1 raw aiohttp",
                "raw aiohttp",
                "lat50",
                settings.s1_count,
                settings.s1_concurrency,
                library=False,
            ),
        ]
    if "s2" in chosen:
        found += [
            Measurement(
                "S2 stream_many", MINDO, "lat0", settings.s2_count, settings.s2_concurrency
            ),
            Measurement(
                "S2 raw aiohttp",
                "raw aiohttp",
                "lat0",
                settings.s2_count,
                settings.s2_concurrency,
                library=False,
            ),
        ]
    if "layers" in chosen:
        found.append(
            Measurement(
                "AsyncMindo._deliver",
                "4 AsyncMindo._deliver",
                "lat0",
                settings.layers_count,
                settings.s2_concurrency,
            )
        )
        found.append(Measurement("library work", "library_work", "lat0", settings.library_count, 1))
    if "s4" in chosen:
        found.append(
            Measurement(
                "S4 send one at a time", MINDO, "lat0", settings.s4_count, 1, sequential=True
            )
        )
    return found


def compare(
    server: Servers, settings: Any, chosen: list[str], baselines: list[Path], output: Path
) -> dict[str, Any]:
    """Run every measurement on each version, interleaved; write compare.md/.json.

    ``baselines`` are directories holding older ``mindo_async`` packages, oldest
    first; the working tree comes last. Each round runs every version in turn
    (the order flips every round) and raw aiohttp once, as the reference.
    """
    versions: dict[str, str | None] = {}
    for baseline in baselines:
        if not (baseline / "mindo_async" / "__init__.py").exists():
            raise SystemExit(f"{baseline} holds no mindo_async package")
        versions[baseline.name] = str(baseline.resolve())
    versions["working tree"] = None
    plan = measurements(settings, chosen)
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {
        m.label: {name: [] for name in versions} if m.library else {"reference": []} for m in plan
    }
    for number in range(1, settings.rounds + 1):
        order = list(versions) if number % 2 else list(reversed(versions))
        for measurement in plan:
            sides = order if measurement.library else ["reference"]
            for side in sides:
                result = _child(measurement, server, versions.get(side), settings.time_limit)
                raw[measurement.label][side].append(result)
                label = f"{measurement.label:24s} {side:14s}"
                print(f"  [compare round {number}] {label} {_brief(result)}", flush=True)
    summary = {
        label: {side: _medians(runs) for side, runs in sides.items()}
        for label, sides in raw.items()
    }
    report = {
        "versions": {name: path or "working tree" for name, path in versions.items()},
        "rounds": settings.rounds,
        "summary": summary,
        "raw": raw,
    }
    (output / "compare.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render(report)
    (output / "compare.md").write_text(markdown)
    print()
    print(markdown)
    return report


def _brief(result: dict[str, Any]) -> str:
    if "library_work_us" in result:
        return f"{sum(result['library_work_us'].values()):.1f} us/request without I/O"
    text = f"{result['rate']:9.1f} req/s {result['cpu_us_per_send']:8.1f} us/send"
    if "p50_us" in result:
        text += f"  p50 {result['p50_us']:.0f} us p99 {result['p99_us']:.0f} us"
    return text


def _medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys: set[str] = set()
    for run in runs:
        keys |= {
            k for k, v in run.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if "library_work_us" in run:
            keys |= {f"work: {k}" for k in run["library_work_us"]}
    medians: dict[str, float] = {}
    for key in sorted(keys):
        if key.startswith("work: "):
            values = [
                run["library_work_us"][key[6:]] for run in runs if key[6:] in run["library_work_us"]
            ]
        else:
            values = [run[key] for run in runs if key in run]
        if values:
            medians[key] = round(statistics.median(values), 1)
    return medians


_METRICS = {
    "rate": "req/s",
    "cpu_us_per_send": "CPU us/send",
    "p50_us": "p50 us",
    "p99_us": "p99 us",
}


def render(report: dict[str, Any]) -> str:
    """One column per version, oldest first; the last column compares the ends."""
    names = list(report["versions"])
    lines = [
        "Versions: "
        + "; ".join(f"`{name}` = {path}" for name, path in report["versions"].items())
        + f". {report['rounds']} interleaved rounds, each measurement in a fresh process; medians.",
        "",
        "| measurement | " + " | ".join(f"`{name}`" for name in names) + " | first to last |",
        "|---|" + "---:|" * len(names) + "---:|",
    ]
    summary = report["summary"]
    for label, sides in summary.items():
        if "reference" in sides:
            ref = sides["reference"]
            cells = f"{ref.get('rate', 0):,.0f} req/s, {ref.get('cpu_us_per_send', 0):,.0f} us/send"
            lines.append(f"| {label} (reference, same rounds) | {cells} |" + " |" * len(names))
            continue
        first = sides[names[0]]
        metrics = [k for k in _METRICS if k in first]
        metrics += sorted(k for k in first if k.startswith("work: "))
        for metric in metrics:
            values = [sides[name].get(metric, float("nan")) for name in names]
            b, a = values[0], values[-1]
            change = f"{(a - b) / b * 100:+.0f} %" if b else "n/a"
            title = _METRICS.get(metric, metric[6:] + " (us)")
            cells = " | ".join(f"{value:,.1f}" for value in values)
            lines.append(f"| {label}: {title} | {cells} | {change} |")
    for scenario in ("S1", "S2"):
        ours, ref = summary.get(f"{scenario} stream_many"), summary.get(f"{scenario} raw aiohttp")
        if ours and ref and ref["reference"].get("rate"):
            base = ref["reference"]["rate"]
            cells = " | ".join(f"{ours[name]['rate'] / base:.2f}" for name in names)
            lines.append(f"| {scenario}: stream_many / raw aiohttp | {cells} | |")
    return "\n".join(lines) + "\n"
