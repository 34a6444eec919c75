"""One measurement in a fresh process, optionally against another copy of mindo_async.

``python -m benchmarks._one --lib DIR --what NAME ...`` puts ``DIR`` first on
``sys.path`` before anything imports ``mindo_async``, runs one contender or
layer (or the library's pure work) and prints its result as JSON. This is how
``python -m benchmarks --baseline DIR`` measures a change before and after in
one invocation.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def main() -> None:
    """Parse, measure once, print JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._one")
    parser.add_argument("--lib", help="directory holding the mindo_async package to measure")
    parser.add_argument("--what", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--time-limit", type=float, default=15.0)
    parser.add_argument("--sequential", action="store_true")
    args = parser.parse_args()
    if args.lib:
        sys.path.insert(0, args.lib)

    import asyncio

    import mindo_async

    from ._contenders import CONTENDERS
    from ._layers import LAYERS, library_work

    report: dict[str, Any] = {"mindo_async": mindo_async.__file__}
    if args.what == "library_work":
        report["library_work_us"] = library_work(args.count)
    else:
        function = {**CONTENDERS, **LAYERS}[args.what]
        extra = {"sequential": True} if args.sequential else {}
        run = asyncio.run(
            function(
                args.base_url, args.api_key, args.count, args.concurrency, args.time_limit, **extra
            )
        )
        report.update(run.as_dict())
        if run.latencies:
            ordered = sorted(run.latencies)
            report["p50_us"] = round(ordered[len(ordered) // 2] * 1e6, 1)
            report["p99_us"] = round(
                ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e6, 1
            )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
