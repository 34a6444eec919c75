"""``python -m benchmarks.workers --smoke`` runs end to end (tiny sizes, no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a dozen subprocesses, nginx and redis-server: run by nox -s tests
def test_the_workers_benchmark_measures_every_row(tmp_path: Path) -> None:
    """Every process count and every limiter/journal pair sends its messages, and the
    JSON and Markdown results are written."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.workers", "--smoke", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "workers-smoke.json").read_text())
    for name in ("1 process", "2 processes", "4 processes"):
        row = result["scaling"][name]
        assert row["rate"] > 0, name
        assert row["errors"] == 0, name
    assert set(result["overhead"]) == {
        "in-process limiter + SQLite journal",
        "Redis limiter + Redis journal",
        "none",
    }
    for mode, row in result["overhead"].items():
        assert row["errors"] == 0, mode
        assert row["wall_us_per_send"] > 0, mode
    assert "| 4 processes |" in (tmp_path / "workers-smoke.md").read_text()
