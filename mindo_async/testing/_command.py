"""The ``emulator`` command: serve the Mindo emulator until Ctrl-C.

Used by the main CLI (``mindo emulator``) and by ``python -m mindo_async.testing``.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import attrs
import typer

from .._config import is_loopback
from ._clock import VirtualClock
from ._data import EmulatorData, load_data
from ._emulator import Emulator
from ._faults import FaultConfig
from ._router import CONTROL_PREFIX
from ._server import serve

#: Messages the command's ledger keeps (about 2 KB each).
COMMAND_LEDGER_LIMIT = 100_000


#: ``--fault NAME=P``: the FaultConfig probability each name sets.
FAULT_FLAGS = {
    "429": "rate_limited_probability",
    "503": "unavailable_probability",
    "500": "server_error_probability",
    "drop": "drop_probability",
}


def parse_faults(values: list[str]) -> dict[str, Any]:
    """``["503=0.05", "drop=0.01"]`` as ``FaultConfig`` keyword arguments.

    Raises ``ValueError`` naming the bad flag and the names that exist.
    """
    faults: dict[str, Any] = {}
    for value in values:
        name, sep, probability = value.partition("=")
        field = FAULT_FLAGS.get(name.strip().lower())
        if not sep or field is None:
            raise ValueError(
                f"--fault {value!r}: expected NAME=PROBABILITY with NAME one of "
                f"{', '.join(FAULT_FLAGS)} (e.g. --fault 503=0.05)"
            )
        try:
            faults[field] = float(probability)
        except ValueError:
            raise ValueError(f"--fault {value!r}: {probability!r} is not a number") from None
    return faults


def emulator_command(
    host: Annotated[
        str,
        typer.Option(help="Interface to listen on. Only loopback unless --allow-remote."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="The only API key to accept (shape mindo_...). Default: the data file's "
            "keys, else mindo_emulator_0123456789abcdef.",
        ),
    ] = None,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", min=0, help="Added latency of every response, ms.")
    ] = 0,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="A fault and its probability, repeatable: 429=P (rate limited), 503=P "
            "(unavailable, not processed), 500=P (server error after processing), "
            "drop=P (connection dropped after processing). E.g. --fault 503=0.05.",
        ),
    ] = None,
    phone_rate_limit: Annotated[
        float | None,
        typer.Option(
            "--phone-rate-limit",
            min=0,
            help="Messages per second per phone number id (Meta's default is 80); past "
            "it, valid sends get 429 with Retry-After. Off by default.",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="JSON (or TOML on Python 3.11+) file with the account's data (api_keys, "
            "phone_numbers, templates, contacts, holidays, ...; see docs/emulator.md).",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for message ids and fault draws (reproducible).")
    ] = None,
    virtual_clock: Annotated[
        bool,
        typer.Option(
            "--virtual-clock",
            help="Run on a virtual clock (starting 2025-11-16T21:30:00Z) that moves only "
            "through POST /_emulator/clock/advance?seconds=N: quotas, message statuses "
            "and session windows then change only when told.",
        ),
    ] = False,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow a non-loopback --host. Off by default: the emulator accepts a "
            "publicly known API key and has no hardening, so it must not be reachable "
            "from other machines by accident.",
        ),
    ] = False,
) -> None:
    """Serve a local Mindo API emulator until Ctrl-C."""
    if not allow_remote and not is_loopback(host):
        typer.echo(
            f"Refusing to listen on non-loopback host {host!r}: the emulator accepts a "
            "publicly known API key. Pass --allow-remote to do it anyway.",
            err=True,
        )
        raise typer.Exit(code=2)
    try:
        emulator_data = load_data(data) if data is not None else EmulatorData()
        if api_key is not None:
            emulator_data = attrs.evolve(emulator_data, api_keys=[api_key])
    except (OSError, ValueError, TypeError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    try:
        faults = attrs.evolve(
            FaultConfig(latency=latency_ms / 1000, phone_rate_limit=phone_rate_limit or None),
            **parse_faults(fault or []),
        )
    except ValueError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    emulator = Emulator(
        emulator_data,
        faults=faults,
        seed=seed,
        clock=VirtualClock() if virtual_clock else None,
        ledger_limit=COMMAND_LEDGER_LIMIT,
    )

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Signal handlers can only be installed from the main thread; elsewhere the
    # caller stops the command by its own means.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with serve(emulator, host=host, port=port) as server:
            typer.echo("Mindo emulator ready.")
            typer.echo(f"  base URL: {server.base_url}")
            typer.echo(f"  API key:  {server.api_key}")
            typer.echo(f"  send:     POST {server.send_url}")
            typer.echo(f"  control:  {server.base_url}{CONTROL_PREFIX} (see docs/emulator.md)")
            typer.echo("Press Ctrl-C to stop.")
            # Event.wait with a timeout keeps the main thread responsive to signals.
            while not stop.wait(0.5):
                pass
    except OSError as exc:
        typer.echo(f"Error: cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    counts = emulator.ledger.counts
    accepted = emulator.ledger.accepted
    typer.echo(f"Stopped. {counts['total_requests']} request(s), {accepted} message(s) accepted.")
