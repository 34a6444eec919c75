"""Generate the sync client's I/O code from the async code: ``python scripts/unasync.py``.

The sync client (``mindo_async.Mindo``) must not carry a second, hand-kept copy
of the retry loop, the pacing or the resources. They are written once, async,
and this script rewrites them line by line into ``mindo_async/_sync/``:
``async def`` becomes ``def``, ``await`` goes, httpx's async names become their
sync twins, anyio's primitives become the thread-based ones of
``mindo_async/_sync/_concurrency.py``, and imports of generated modules point at
their sync copies. The output is then formatted by ruff.

What has no line-by-line twin lives behind a small helper of
``mindo_async/_concurrency.py`` (awaiting a callback that may be a coroutine
function, reading an async iterable), whose sync twin of the same names is
hand-written in ``_sync/_concurrency.py``; and lines between
``# unasync: async only`` and ``# unasync: end`` are left out of the sync copy
(``AsyncPaginator.__await__``).

``python scripts/unasync.py --check`` writes nothing and fails when a generated
file is stale (the lint session and ``tests/test_unasync.py`` run it): edit the
async file, run the script, commit both.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mindo_async"
SYNC_PACKAGE = f"{PACKAGE}._sync"

#: The async modules rewritten, as paths relative to the package; each goes to
#: the same relative path under ``_sync/``. Every module of ``resources/`` is
#: rewritten, so a new resource needs no change here.
SOURCES = ("_requester.py", "_pacing.py", "_ratelimit.py", "_pagination.py", "resources/*.py")

#: Async modules not rewritten: each has a hand-written sync twin at the same path
#: under ``_sync/`` (the helpers that have no line-by-line rewrite), which the
#: generated modules import instead.
EXCLUDED = ("_concurrency.py",)

#: Hand-written files under ``_sync/resources/``, not stale for having no source.
HAND_WRITTEN: tuple[str, ...] = ()

HEADER = (
    "# GENERATED from {source} by scripts/unasync.py:\n"
    "# do not edit by hand; edit the async file and run `python scripts/unasync.py`.\n"
)

#: (pattern, replacement) applied to every line, in order.
SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    # A cancellation checkpoint: nothing to do in a thread.
    (r"^\s*await anyio\.lowlevel\.checkpoint_if_cancelled\(\)\n$", ""),
    (r"^import anyio\.lowlevel\n$", ""),
    # The sync client has no AutoTransport (aiohttp runs on asyncio only).
    (r"^\s*if isinstance\(transport, AutoTransport\):\n$", ""),
    (r"^\s*transport = transport\.inner\n$", ""),
    (
        r"^import anyio\n$",
        f"import time\nfrom {SYNC_PACKAGE}._concurrency import "
        "CapacityLimiter, Lock, WouldBlock, move_on_after\n",
    ),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\banyio\.CapacityLimiter\b", "CapacityLimiter"),
    (r"\banyio\.WouldBlock\b", "WouldBlock"),
    (r"\banyio\.Lock\(fast_acquire=True\)", "Lock()"),
    (r"\banyio\.Lock\b", "Lock"),
    (r"\banyio\.sleep\b", "time.sleep"),
    (r"\banyio\.move_on_after\b", "move_on_after"),
    # A callback's awaitable result: the sync client's callbacks return nothing.
    (r"\bAwaitable\[None\] \| None\b", "None"),
    (r"\bAwaitable\[Any\]", "Any"),
    # The async linter's exemptions mean nothing in sync code.
    (r"  # noqa: ASYNC\d+[^\n]*", ""),
    # The pre-flight over a plain iterable.
    (r"\bcheck_campaign_async\b", "check_campaign"),
    (r"\banyio\.current_time\(\)", "time.monotonic()"),
    (r"\bhandle_async_request\b", "handle_request"),
    (r"\baread\(\)", "read()"),
    (r"\baclose\(\)", "close()"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    # httpx's and the standard library's async names have sync twins of the same name
    # without "Async"; so has the client (AsyncMindo -> Mindo).
    (
        r"\bAsync(Client|BaseTransport|HTTPTransport|Iterator|Iterable|Generator|Mindo)\b",
        r"\1",
    ),
    # The library's own async classes (resources): AsyncMessages -> SyncMessages, so
    # that no name meets a model's (types.BusinessAccounts).
    (r"\bAsync([A-Z][A-Za-z]*)\b", r"Sync\1"),
)

_RELATIVE_IMPORT = re.compile(r"^(\s*)from (\.+)([\w.]*) import ")

#: Lines from a comment ``# unasync: async only`` to ``# unasync: end`` (both
#: included) are left out of the sync code: the aiohttp fast path, for one.
_SKIP_START = re.compile(r"^\s*# unasync: async only\b")
_SKIP_END = re.compile(r"^\s*# unasync: end\b")


def sources() -> list[Path]:
    """The async modules to rewrite, sorted."""
    found: list[Path] = []
    excluded = {ROOT / PACKAGE / name for name in EXCLUDED}
    for pattern in SOURCES:
        found.extend(p for p in sorted((ROOT / PACKAGE).glob(pattern)) if p not in excluded)
    return found


def _module_of(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path) -> str:
    module = _module_of(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _absolute(package: str, dots: str, name: str) -> str:
    base = package.split(".")
    if len(dots) > 1:
        base = base[: len(base) - (len(dots) - 1)]
    return ".".join([*base, name] if name else base)


def _rewrite_import(line: str, package: str, generated: set[str]) -> str:
    match = _RELATIVE_IMPORT.match(line)
    if match is None:
        return line
    indent, dots, name = match.groups()
    target = _absolute(package, dots, name)
    if target in generated:
        target = SYNC_PACKAGE + target[len(PACKAGE) :]
    return f"{indent}from {target} import " + line[match.end() :]


def unasync_text(text: str, *, package: str, generated: set[str], source: str) -> str:
    """The sync version of the module ``text`` (of ``package``), before formatting."""
    out = [HEADER.format(source=source)]
    skipping = False
    for line in text.splitlines(keepends=True):
        if _SKIP_START.match(line):
            skipping = True
        if skipping:
            skipping = not _SKIP_END.match(line)
            continue
        line = _rewrite_import(line, package, generated)
        for pattern, replacement in SUBSTITUTIONS:
            line = re.sub(pattern, replacement, line)
        out.append(line)
    return "".join(out)


def _ruff(text: str, filename: Path) -> str:
    """``text`` with its imports sorted and formatted by ruff, as the lint would want."""
    command = [sys.executable, "-m", "ruff"]
    stdin_name = ["--stdin-filename", str(filename), "-"]
    fixed = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [*command, "check", "--select", "I,F401", "--fix-only", *stdin_name],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [*command, "format", *stdin_name],
        input=fixed,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def generate() -> dict[Path, str]:
    """Every generated file's path and the text it must hold."""
    files = sources()
    # Excluded modules have a hand-written sync twin: imports point at it too.
    generated = {_module_of(path) for path in files} | {
        _module_of(ROOT / PACKAGE / name) for name in EXCLUDED
    }
    result: dict[Path, str] = {}
    for path in files:
        relative = path.relative_to(ROOT / PACKAGE)
        target = ROOT / PACKAGE / "_sync" / relative
        text = unasync_text(
            path.read_text(encoding="utf-8"),
            package=_package_of(path),
            generated=generated,
            source=f"{PACKAGE}/{relative.as_posix()}",
        )
        result[target] = _ruff(text, target)
    return result


def stale(expected: dict[Path, str]) -> list[Path]:
    """The generated files that differ from what the async code gives (or are missing),
    and the files under ``_sync/resources/`` that no async file generates."""
    out = [
        path
        for path, text in expected.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    resources = ROOT / PACKAGE / "_sync" / "resources"
    if resources.exists():
        out.extend(
            path
            for path in sorted(resources.glob("*.py"))
            if path not in expected and path.name not in HAND_WRITTEN
        )
    return out


def main(argv: Iterable[str] | None = None) -> int:
    """Write the generated files, or with ``--check`` report the stale ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    args = parser.parse_args(list(argv) if argv is not None else None)
    expected = generate()
    if args.check:
        paths = stale(expected)
        for path in paths:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/unasync.py)")
        return 1 if paths else 0
    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
