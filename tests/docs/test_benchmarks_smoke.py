"""The benchmark harness runs end to end with tiny counts, so that it cannot rot.

Nothing here asserts a timing: the counts are far too small to mean anything,
and the machine running the suite is shared. The harness runs in a child
process from the repository root, as ``nox -s bench`` runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (ROOT / "benchmarks" / "__main__.py").exists(), reason="benchmarks/ is not shipped here"
)


def _run(tmp_path: Path, *args: str) -> tuple[dict[str, Any], str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--output", str(tmp_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    markdown = (tmp_path / "results.md").read_text()
    return results, markdown, done.stderr


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_smoke_run_measures_every_scenario(tmp_path: Path) -> None:
    """Every scenario runs, every contender answers, and the table and JSON are written."""
    results, markdown, _ = _run(tmp_path)
    scenarios = results["scenarios"]
    assert set(scenarios) >= {"s1", "s2", "s3", "s4", "layers"}
    for name in ("s1", "s2"):
        contenders = scenarios[name]["contenders"]
        for contender in (
            "mindo_async (default transport)",
            'mindo_async (transport="httpx")',
            "raw aiohttp",
            "naive httpx.AsyncClient",
        ):
            median = contenders[contender]["median"]
            assert median["sends"] > 0, (name, contender)
            assert median["errors"] == 0, (name, contender)
    assert all(run["results"]["sent"] > 0 for run in scenarios["s3"]["runs"])
    assert all(run["peak_rss_mb"] > 0 for run in scenarios["s3"]["runs"])
    assert all(c["p50_us"] > 0 for c in scenarios["s4"]["contenders"].values())
    layers = scenarios["layers"]["layers"]
    # Every layer of benchmarks._layers.LAYERS, raw aiohttp to stream_many, the fast path too.
    assert len(layers) == 9
    assert "2c mindo_async's AiohttpTransport.exchange (the fast path)" in layers
    assert scenarios["layers"]["library_work_us"]
    machine = results["machine"]
    assert machine["versions"]["httpx"]
    assert machine["python"]
    assert machine["cores"]
    assert "Smoke run" in markdown
    assert "| contender | req/s (median) |" in markdown


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_without_nginx_the_emulator_serves_and_says_so(tmp_path: Path) -> None:
    """Forced onto the emulator (as without nginx), the run works and the table warns."""
    results, markdown, _ = _run(tmp_path, "--server", "emulator", "--only", "s2")
    assert results["machine"]["server_kind"] == "emulator"
    contenders = results["scenarios"]["s2"]["contenders"]
    assert contenders["mindo_async (default transport)"]["median"]["sends"] > 0
    assert "the emulator" in markdown


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_opcounts_profiles_every_contender(tmp_path: Path) -> None:
    """``python -m benchmarks.opcounts`` counts a positive number of bytecode instructions
    per send for raw aiohttp, ``_deliver`` and ``stream_many``, and names the library's
    functions in its table."""
    out = tmp_path / "opcounts.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.opcounts",
            "--sends",
            "4",
            "--concurrency",
            "2",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    counts = json.loads(out.read_text())["opcodes"]
    assert set(counts) == {"raw aiohttp", "_deliver", "stream_many"}
    for name, functions in counts.items():
        assert sum(functions.values()) > 1000, name  # a send runs thousands
    assert any(where.startswith("mindo_async/_fanout.py") for where in counts["stream_many"])
    assert "stream_many" in done.stdout
