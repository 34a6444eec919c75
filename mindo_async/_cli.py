"""The ``mindo`` console script (and ``python -m mindo_async``).

The command itself is in ``_commands.py``; it needs the ``cli`` extra (typer,
rich, and uvicorn for the emulator and the demo). This module only checks that
they are installed, so that a missing extra gives one clear sentence instead of
a traceback.
"""

from __future__ import annotations

import sys

_CLI_MODULES = frozenset({"typer", "click", "rich", "starlette", "uvicorn"})


def main() -> None:
    """Run the ``mindo`` command with the process's arguments."""
    try:
        from ._commands import app
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] not in _CLI_MODULES:
            raise
        sys.stderr.write(
            f"The mindo command needs the 'cli' extra ({exc.name} is not installed):\n"
            '    python -m pip install "mindo-async[cli]"\n'
        )
        raise SystemExit(2) from None
    app(prog_name="mindo")


__all__ = ["main"]
