"""``mindo emulator``: serve Mindo API emulator (as ``python -m mindo_async.testing``)."""

from __future__ import annotations

import typer

from ..testing._command import emulator_command

app = typer.Typer()
app.command(
    "emulator",
    help="Serve a local Mindo API emulator (for tests and trials) until Ctrl-C.",
)(emulator_command)
