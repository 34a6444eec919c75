"""``python -m mindo_async.testing``: serve the Mindo emulator until Ctrl-C."""

from __future__ import annotations

import typer

from ._command import emulator_command


def main() -> None:
    """Run the emulator command."""
    app = typer.Typer(add_completion=False)
    app.command("emulator")(emulator_command)
    typer.main.get_command(app)(prog_name="python -m mindo_async.testing")


if __name__ == "__main__":
    main()
