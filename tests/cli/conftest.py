"""Fixtures of the CLI tests: the ``mindo`` command is built from its Typer app once.

``typer.testing.CliRunner.invoke(app, ...)`` rebuilds the whole click command
tree from the Typer app on every call (reading every command's signature and
evaluating its annotations): about 70 ms of CPU per invocation, for hundreds of
invocations. The installed ``mindo`` command builds it once per process (in
``app()``), and a click command is made to be invoked many times (each call gets
its own context), so the tests do the same: the runner gets the command built
once for the session. Any other Typer app is still built on each call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
import typer.testing

from mindo_async.cli import app


@pytest.fixture(scope="session", autouse=True)
def mindo_command_built_once() -> Iterator[None]:
    """``CliRunner().invoke(app, ...)`` runs the ``mindo`` command built once for the session."""
    command = typer.main.get_command(app)
    build = typer.testing._get_command

    def get_command(typer_app: typer.Typer) -> Any:
        return command if typer_app is app else build(typer_app)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", get_command)
        yield
