"""Every code block of the README runs against the emulator, so the docs cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mindo_async.testing import Emulator, EmulatorServer, serve

README = Path(__file__).resolve().parents[2] / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCK = re.compile(r"^```python(?P<info>[^\n]*)\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)

DEMO_COMMAND = 'python -m pip install -e ".[cli]" && python -m mindo_async demo'
TEST_COMMAND = "python -m pip install nox && python -m nox -s tests"


def blocks(kind: str) -> list[tuple[int, str]]:
    """The README's python blocks of ``kind`` ("run" or "test"), with their line numbers."""
    found = []
    for match in BLOCK.finditer(TEXT):
        info = match.group("info").split()
        line = TEXT.count("\n", 0, match.start()) + 1
        if "no-run" in info:
            continue
        if ("test" in info) == (kind == "test"):
            found.append((line, match.group("code")))
    return found


RUNNABLE = blocks("run")
TESTS = blocks("test")


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with serve(Emulator()) as running:
        yield running


def test_readme_has_code_to_run() -> None:
    """The README has runnable blocks and a test block (so the extraction cannot silently break)."""
    assert len(RUNNABLE) >= 4
    assert len(TESTS) >= 1


@pytest.mark.parametrize(("line", "code"), RUNNABLE, ids=[f"line{line}" for line, _ in RUNNABLE])
def test_python_block_runs(
    line: int,
    code: str,
    server: EmulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A ```python block of the README runs as written against a socket-served emulator."""
    monkeypatch.setenv("MINDO_API_KEY", server.api_key)
    monkeypatch.setenv("MINDO_BASE_URL", server.base_url)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.strip(), "every README example prints what it did"


@pytest.mark.parametrize(("line", "code"), TESTS, ids=[f"line{line}" for line, _ in TESTS])
@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_python_test_block_passes_under_pytest(line: int, code: str, tmp_path: Path) -> None:
    """A ```python test block of the README passes when run by pytest, as a user would run it."""
    (tmp_path / "test_from_readme.py").write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_from_readme.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b\d+ passed\b", done.stdout), done.stdout


def test_the_two_commands_appear_verbatim() -> None:
    """The demo and test commands are in the README exactly as CI and noxfile run them."""
    assert DEMO_COMMAND in TEXT
    assert TEST_COMMAND in TEXT


def test_benchmark_markers_are_there() -> None:
    """The benchmark section has the markers the benchmark script fills in."""
    start, end = TEXT.find("<!-- bench:start -->"), TEXT.find("<!-- bench:end -->")
    assert 0 <= start < end


def test_readme_links_resolve() -> None:
    """Every relative link of the README points at a file of the repository."""
    for target in re.findall(r"\]\((?!https?://|#)([^)#]+)", TEXT):
        assert (README.parent / target).exists(), target
