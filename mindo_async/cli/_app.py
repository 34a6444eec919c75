"""The ``mindo`` typer app: one sub-app per command group, merged at the top level.

Each module of ``mindo_async.cli`` holds its own ``typer.Typer()`` with its
commands; ``add_typer`` without a name puts them straight under ``mindo``
(typer 0.15 and later). A new group with subcommands (``mindo bulk-sends
create``) is added with a name instead.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import account, bulk_sends, campaign, demo, emulator, send, worker

app = typer.Typer(
    name="mindo",
    help="Send WhatsApp template messages through the Mindo API, one or a whole CSV.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# In this order in `mindo --help`.
for _group in (send.app, campaign.app, account.app, emulator.app, demo.app, worker.app):
    app.add_typer(_group)
app.add_typer(bulk_sends.app, name="bulk-sends")


def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mindo-async {version('mindo-async')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Send WhatsApp template messages through the Mindo API, one or a whole CSV."""


__all__ = ["app"]
