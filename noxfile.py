"""Project tasks: ``nox -s tests``, ``fast``, ``lint``, ``typecheck``, ``docs`` and ``bench``."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True


#: Every test runs on every CPU (pytest-xdist; an idle worker takes queued tests
#: from a busy one, so the few long multi-process tests do not hold the rest).
PARALLEL = ["-n", "auto", "--dist", "worksteal"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite (asyncio and trio) against the installed package, in parallel."""
    session.install(".[dev]")
    session.run("pytest", *PARALLEL, *session.posargs)


#: The fast session's pytest arguments: no slow tests, fewer Hypothesis examples,
#: and pytest-xdist (one worker per CPU, idle workers take queued tests from busy ones).
#: Two workers per CPU: many of these tests wait on loopback sockets and child
#: processes, and a second worker uses that time (measured: 50 s against 57 s
#: with one per CPU on two cores).
FAST = [
    "-m",
    "not slow",
    "--hypothesis-profile=fast",
    "-n",
    str(2 * (os.cpu_count() or 1)),
    "--dist",
    "worksteal",
]


@nox.session
def fast(session: nox.Session) -> None:
    """The test suite without the slow tests, in parallel: for the edit-test loop.

    ``-m "not slow"``, the ``fast`` Hypothesis profile (fewer examples) and
    pytest-xdist. ``nox -s tests`` runs everything, with the full profile.
    """
    session.install(".[dev]")
    # Bytecode (and pytest's rewritten test modules) is cached between runs even
    # where the environment turns it off: each xdist worker would compile again.
    session.run("pytest", *FAST, *session.posargs, env={"PYTHONDONTWRITEBYTECODE": ""})


@nox.session
def docs(session: nox.Session) -> None:
    """Build the API reference (mkdocs, strict): a broken docstring or a missing page fails."""
    session.install(".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(session.create_tmp()) + "/site")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # The sync client's generated code must match the async code it comes from.
    session.run("python", "scripts/unasync.py", "--check")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install(".[dev]")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks, side by side with raw httpx, raw aiohttp and the server's ceiling.

    Needs nginx with its echo module (and wrk for the ceiling) for meaningful
    numbers: ``apt-get install nginx libnginx-mod-http-echo wrk``; without them it
    falls back to the emulator and says so. ``nox -s bench -- --help`` for options.
    """
    session.install(".[dev]", "pyinstrument>=4.6")
    session.run("python", "-m", "benchmarks", *session.posargs)
