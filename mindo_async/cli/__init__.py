"""The ``mindo`` command (and ``python -m mindo_async``).

The command needs the ``cli`` extra (typer, rich, and uvicorn for the emulator
and the demo). ``main`` checks that they are installed, so that a missing extra
gives one clear sentence instead of a traceback; importing this package needs
none of them (``app``, the typer app, is imported on first use).

One module per command group: ``send.py`` (``mindo send``), ``campaign.py``
(``mindo bulk``: the client-side fan-out over a file, drawn with rich; the
engine is ``mindo_async.campaign``), ``demo.py``, ``emulator.py``; ``_common.py``
holds what they share and ``_app.py`` puts them together.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import app

_CLI_MODULES = frozenset({"typer", "click", "rich", "starlette", "uvicorn"})


def main() -> None:
    """Run the ``mindo`` command with the process's arguments."""
    try:
        from ._app import app
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] not in _CLI_MODULES:
            raise
        sys.stderr.write(
            f"The mindo command needs the 'cli' extra ({exc.name} is not installed):\n"
            '    python -m pip install "mindo-async[cli]"\n'
        )
        raise SystemExit(2) from None
    app(prog_name="mindo")


def __getattr__(name: str) -> Any:
    if name == "app":
        from ._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
