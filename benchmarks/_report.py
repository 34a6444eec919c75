"""The markdown table of a benchmark run, from its JSON results."""

from __future__ import annotations

from typing import Any

MINDO = "mindo_async (default transport)"
AIOHTTP = "raw aiohttp"
NAIVE = "naive httpx.AsyncClient"
CEILING = "server ceiling (wrk)"


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator or numerator != numerator or denominator != denominator:
        return None
    return numerator / denominator


def _fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:,.{digits}f}{suffix}"


def _rate(scenario: dict[str, Any], name: str) -> float | None:
    found = scenario.get("contenders", {}).get(name)
    return None if found is None else float(found["median"]["rate"])


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target of issue 6 that was measured."""
    rows: list[tuple[str, str, str]] = []
    scenarios = results["scenarios"]

    def verdict(value: float | None, goal: float, higher: bool = True) -> str:
        if value is None:
            return "not measured"
        met = value >= goal if higher else value < goal
        if met:
            return "met"
        gap = (goal - value) / goal * 100 if higher else (value - goal) / goal * 100
        return f"missed by {gap:.0f} %"

    if "s1" in scenarios:
        s1 = scenarios["s1"]
        vs_aiohttp = _ratio(_rate(s1, MINDO), _rate(s1, AIOHTTP))
        vs_naive = _ratio(_rate(s1, MINDO), _rate(s1, NAIVE))
        rows.append(
            (
                "S1: mindo_async >= 0.95 x raw aiohttp",
                _fmt(vs_aiohttp, 2, " x"),
                verdict(vs_aiohttp, 0.95),
            )
        )
        bound = _ratio(_rate(s1, CEILING), _rate(s1, NAIVE))
        rows.append(
            (
                "S1: mindo_async >= 20 x naive httpx",
                _fmt(vs_naive, 1, " x")
                + ("" if bound is None else f" (server ceiling: {bound:.1f} x)"),
                verdict(vs_naive, 20.0),
            )
        )
    if "s2" in scenarios:
        s2 = scenarios["s2"]
        vs_aiohttp = _ratio(_rate(s2, MINDO), _rate(s2, AIOHTTP))
        rows.append(
            (
                "S2: mindo_async >= 0.45 x raw aiohttp",
                _fmt(vs_aiohttp, 2, " x"),
                verdict(vs_aiohttp, 0.45),
            )
        )
    if "s3" in scenarios:
        for run in scenarios["s3"]["runs"]:
            if run["count"] == 200_000 and run["dedupe"]:
                peak = float(run["peak_rss_mb"])
                rows.append(
                    (
                        "S3: 200k peak RSS < 100 MB",
                        _fmt(peak, 1, " MB"),
                        verdict(peak, 100, higher=False),
                    )
                )
                rows.append(
                    (
                        "S3: 200k peak RSS < 64 MB (goal)",
                        _fmt(peak, 1, " MB"),
                        verdict(peak, 64, higher=False),
                    )
                )
    return rows


def _throughput_table(scenario: dict[str, Any]) -> list[str]:
    contenders = scenario["contenders"]
    base = _rate(scenario, AIOHTTP)
    lines = [
        "| contender | req/s (median) | x raw aiohttp | CPU us/send | sends per round |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, found in contenders.items():
        median = found["median"]
        cpu = "n/a" if name == CEILING else _fmt(median["cpu_us_per_send"])
        sends = _fmt(median["sends"])
        if median["truncated_rounds"]:
            sends += " (time limit)"
        if median["errors"]:
            sends += f", {median['errors']} errors"
        lines.append(
            f"| {name} | {_fmt(median['rate'])} | {_fmt(_ratio(median['rate'], base), 2)} "
            f"| {cpu} | {sends} |"
        )
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    """The whole report: machine, targets, one table per scenario."""
    machine = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    settings = results["settings"]
    out: list[str] = []
    if results.get("smoke"):
        out.append("**Smoke run: tiny counts, the numbers mean nothing.**\n")
    if machine.get("server_kind") != "nginx":
        out.append(
            "**Server: the emulator, not nginx (nginx with the echo module is missing, or "
            "`--server emulator`). "
            "Its ceiling is far lower, so these numbers measure uvicorn, not the clients.**\n"
        )
    out.append(
        f"Machine: {machine['cpu']}, {machine['cores']} cores (shared with the server), "
        f"{machine['python']}, {machine['os']}, {machine['event_loop']}.  "
    )
    out.append(f"Server: {machine['server']}, on loopback.  ")
    out.append(f"Versions: {versions}.  ")
    out.append(
        f"Command: `{results['command']}` ({settings['rounds']} interleaved rounds, medians; "
        f"{results['date']}; {results.get('elapsed_s', 0):.0f} s)."
    )
    out.append("")
    out.append(
        "mindo_async runs with `rate_limit=None` (no pacing), `dedupe=True` unless stated, "
        "`max_connections` at its default (the pool follows the concurrency), no journal. "
        "The raw clients use fixed workers "
        "over one iterator, encode with `json.dumps` and decode the answer. CPU is "
        "`time.process_time()` of the client process per answered send; each timed run "
        f"stops at its count or after {settings['time_limit']:.0f} s."
    )
    rows = targets(results)
    if rows:
        out += ["", "| target (issue 6) | measured | verdict |", "|---|---:|---|"]
        out += [f"| {target} | {measured} | {result} |" for target, measured, result in rows]
    scenarios = results["scenarios"]
    if "s1" in scenarios:
        s1 = scenarios["s1"]["settings"]
        out += [
            "",
            f"**Scenario 1: throughput.** Server answers after 50 ms; {s1['concurrency']} "
            f"concurrent, {s1['count']:,} sends (ideal: {s1['concurrency'] * 20:,} req/s).",
            "",
        ]
        out += _throughput_table(scenarios["s1"])
    if "s2" in scenarios:
        s2 = scenarios["s2"]["settings"]
        out += [
            "",
            f"**Scenario 2: CPU per send.** Server answers at once; {s2['concurrency']} "
            f"concurrent, {s2['count']:,} sends.",
            "",
        ]
        out += _throughput_table(scenarios["s2"])
    if "s3" in scenarios:
        out += [
            "",
            "**Scenario 3: memory.** `stream_many` over a generator, concurrency "
            f"{scenarios['s3']['settings']['concurrency']}, a fresh process per line "
            "(peak RSS: `VmHWM`; interpreter, + imports and + client are the peaks before "
            "the first send).",
            "",
            "| sends | dedupe | peak RSS | interpreter | + imports | + client | sent | time |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for run in scenarios["s3"]["runs"]:
            sent = run["results"]["sent"]
            out.append(
                f"| {run['count']:,} | {'on' if run['dedupe'] else 'off'} "
                f"| {run['peak_rss_mb']:.1f} MB | {run['interpreter_rss_mb']:.1f} MB "
                f"| {run['imports_rss_mb']:.1f} MB | {run['baseline_peak_rss_mb']:.1f} MB "
                f"| {sent:,}{' (time limit)' if run['truncated'] else ''} | {run['wall_s']:.0f} s |"
            )
    if "s4" in scenarios:
        s4 = scenarios["s4"]
        base = s4["contenders"].get(AIOHTTP)
        out += [
            "",
            f"**Scenario 4: latency, one send at a time** (server answers at once, "
            f"{s4['settings']['count']:,} sends per round; medians of the rounds' percentiles).",
            "",
            "| contender | p50 | p99 | p50 over raw aiohttp | p99 over raw aiohttp |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, found in s4["contenders"].items():
            over50 = over99 = "n/a"
            if base is not None:
                over50 = f"{found['p50_us'] - base['p50_us']:+,.0f} us"
                over99 = f"{found['p99_us'] - base['p99_us']:+,.0f} us"
            out.append(
                f"| {name} | {found['p50_us']:,.0f} us | {found['p99_us']:,.0f} us "
                f"| {over50} | {over99} |"
            )
    if "layers" in scenarios:
        layers = scenarios["layers"]
        out += [
            "",
            f"**CPU per send, layer by layer** (server answers at once, "
            f"{layers['settings']['concurrency']} concurrent). Each row runs the same sends "
            "through one more layer; `AsyncMindo._deliver` calls the transport of the client it "
            "built directly, without httpx's Request and Response (row 2c), not "
            "`AsyncClient.send` (row 3).",
            "",
            "| layer | CPU us/send | over raw aiohttp | req/s |",
            "|---|---:|---:|---:|",
        ]
        floor: float | None = None
        for name, found in layers["layers"].items():
            cpu = float(found["median"]["cpu_us_per_send"])
            over = "" if floor is None else f"{cpu - floor:+,.0f}"
            out.append(f"| {name} | {cpu:,.0f} | {over} | {_fmt(found['median']['rate'])} |")
            if floor is None:
                floor = cpu
        work = layers.get("library_work_us", {})
        if work:
            parts = ", ".join(f"{name} {value:.1f}" for name, value in work.items())
            out += [
                "",
                f"The library's own work, us per request, without the network: {parts}. "
                "(The stubbed lines include one trip through the event loop per request.)",
            ]
    if "profile" in scenarios and "file" in scenarios["profile"]:
        out += [
            "",
            "pyinstrument profile of scenario 2: "
            f"`benchmarks/results/{scenarios['profile']['file']}`.",
        ]
    return "\n".join(out) + "\n"
