"""``python -m benchmarks.opcounts``: where a send's CPU goes, counted, not timed.

CPU time per send varies by a quarter from one run to the next on a shared
machine, more than most of the differences worth knowing. This counts instead:
the Python bytecode instructions executed per send, by function, for raw
aiohttp, the library's ``_deliver`` and ``stream_many`` (the contenders of
``python -m benchmarks``, against the same server), which are the same from one
run to the next whatever else the machine does. With ``--callgrind`` (valgrind
installed) it also counts the machine instructions per send of each, C code
included (aiohttp's parser, the interpreter), each in its own process.

Each figure is the difference between two runs of ``--sends`` and ``2 x
--sends`` sends after the same warm-up, divided by ``--sends``, both after a
first run that is not counted: start-up, imports and warm-up cancel out.
Counting slows the process a hundredfold, so the event loop finds more answers
ready at each turn than in a timed run; the counts are a profile, not a
forecast.

    python -m benchmarks.opcounts [--sends 500] [--concurrency 128] [--callgrind]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from ._contenders import Run, mindo, raw_aiohttp
from ._layers import deliver
from ._server import API_KEY, emulator, nginx, nginx_binary

CONTENDERS: dict[str, Callable[..., Coroutine[Any, Any, Run]]] = {
    "raw aiohttp": raw_aiohttp,
    "_deliver": deliver,
    "stream_many": mindo,
}


def _where(code: CodeType) -> str:
    """``module-ish path:line:qualname`` of ``code``, shortened to the package."""
    path = code.co_filename
    for marker in ("site-packages/", "/lib/python3.", "/mindo_async/", "/benchmarks/"):
        index = path.rfind(marker)
        if index >= 0:
            path = path[index + len(marker) :]
            if marker == "/lib/python3.":
                path = path.partition("/")[2]
            elif marker in ("/mindo_async/", "/benchmarks/"):
                path = marker.strip("/") + "/" + path
            break
    return f"{path}:{code.co_firstlineno}:{getattr(code, 'co_qualname', code.co_name)}"


def _package(where: str) -> str:
    path = where.split(":", 1)[0]
    if path.startswith("<attrs generated"):
        return "attrs (generated)"
    top = path.split("/", 1)[0]
    return top.removesuffix(".py")


def count_opcodes(run: Callable[[], Coroutine[Any, Any, Run]]) -> collections.Counter[CodeType]:
    """Bytecode instructions executed by ``run()``, by code object."""
    counts: collections.Counter[CodeType] = collections.Counter()

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            counts[frame.f_code] += 1
        return tracer

    sys.settrace(tracer)
    try:
        asyncio.run(run())
    finally:
        sys.settrace(None)
    return counts


def per_send(name: str, url: str, sends: int, concurrency: int) -> dict[str, float]:
    """Bytecode instructions per send of contender ``name``, by function."""
    contender = CONTENDERS[name]
    # Once first, so that imports and first-call work (compiling patterns) are done.
    asyncio.run(contender(url, API_KEY, sends, concurrency, 3600.0))
    runs = [
        count_opcodes(functools.partial(contender, url, API_KEY, n, concurrency, 3600.0))
        for n in (sends, 2 * sends)
    ]
    result: dict[str, float] = collections.defaultdict(float)
    for code in set(runs[0]) | set(runs[1]):
        result[_where(code)] += (runs[1][code] - runs[0][code]) / sends
    return dict(result)


def callgrind_per_send(name: str, url: str, sends: int, concurrency: int) -> float:
    """Machine instructions per send of contender ``name`` (valgrind's callgrind)."""
    totals = []
    with tempfile.TemporaryDirectory() as work:
        for n in (sends, 2 * sends):
            out = Path(work) / f"{n}.out"
            child = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    "-m",
                    "benchmarks.opcounts",
                    "--child",
                    name,
                    url,
                    str(n),
                    str(concurrency),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            found = re.search(r"refs:\s+([\d,]+)", child.stderr)
            if found is None:
                raise RuntimeError(f"callgrind printed no total:\n{child.stderr[-2000:]}")
            totals.append(int(found.group(1).replace(",", "")))
    return (totals[1] - totals[0]) / sends


@contextmanager
def _server() -> Iterator[str]:
    if nginx_binary() is not None:
        with nginx("1") as servers:
            yield servers.lat0
    else:
        with emulator() as servers:
            yield servers.lat0


def report(
    counts: dict[str, dict[str, float]], callgrind: dict[str, float], top: int
) -> Iterator[str]:
    """The tables, in Markdown."""
    names = list(counts)
    totals = {name: sum(counts[name].values()) for name in names}
    yield "Bytecode instructions per send (Python code only):\n"
    yield "| | " + " | ".join(names) + " |"
    yield "|---|" + "---:|" * len(names)
    yield "| **total** | " + " | ".join(f"{totals[n]:,.0f}" for n in names) + " |"
    if callgrind:
        yield (
            "| machine instructions (callgrind) | "
            + " | ".join(f"{callgrind[n]:,.0f}" if n in callgrind else "" for n in names)
            + " |"
        )
    packages: dict[str, dict[str, float]] = collections.defaultdict(
        lambda: collections.defaultdict(float)
    )
    for name in names:
        for where, value in counts[name].items():
            packages[_package(where)][name] += value
    for package, values in sorted(packages.items(), key=lambda item: -max(item[1].values())):
        if max(abs(v) for v in values.values()) >= 5:
            yield f"| {package} | " + " | ".join(f"{values.get(n, 0):,.0f}" for n in names) + " |"
    last = names[-1]
    yield f"\nThe {top} costliest functions of {last} outside raw aiohttp's:\n"
    yield "| function | " + " | ".join(names) + " |"
    yield "|---|" + "---:|" * len(names)
    first = counts[names[0]]
    extra = sorted(counts[last].items(), key=lambda item: -(item[1] - first.get(item[0], 0.0)))
    for where, _ in extra[:top]:
        cells = " | ".join(f"{counts[n].get(where, 0):,.1f}" for n in names)
        yield f"| `{where}` | {cells} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.opcounts", description=__doc__)
    parser.add_argument("--sends", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--callgrind", action="store_true", help="also count machine instructions")
    parser.add_argument("--json", type=Path, help="write the counts here too")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, url, n, concurrency = args.child
        asyncio.run(CONTENDERS[name](url, API_KEY, int(n), int(concurrency), 3600.0))
        return 0
    counts: dict[str, dict[str, float]] = {}
    callgrind: dict[str, float] = {}
    with _server() as url:
        for name in CONTENDERS:
            counts[name] = per_send(name, url, args.sends, args.concurrency)
            if args.callgrind:
                callgrind[name] = callgrind_per_send(
                    name, url, max(args.sends, 200), args.concurrency
                )
    text = "\n".join(report(counts, callgrind, args.top))
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps({"opcodes": counts, "callgrind": callgrind}, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
