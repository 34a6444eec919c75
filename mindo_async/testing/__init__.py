"""A faithful local emulator of the Mindo API, with a ledger and fault injection.

Run it in-process behind ``httpx.ASGITransport`` or over loopback sockets with
``serve()``; the pytest fixtures (``mindo_emulator``, ``mindo_emulator_server``,
``mindo_client``, ``mindo_socket_client``) come from this package's pytest
plugin. See ``docs/emulator.md``.
"""

from __future__ import annotations

from ._data import (
    DEFAULT_API_KEY,
    DEFAULT_PHONE_NUMBER_ID,
    Button,
    EmulatorData,
    Template,
    load_data,
)
from ._emulator import SEND_PATH, Emulator
from ._faults import META_RATE_LIMIT, Fault, FaultConfig
from ._ledger import OUTCOMES, Ledger, LedgerEntry
from ._server import EmulatorServer, serve

__all__ = [
    "Button",
    "DEFAULT_API_KEY",
    "DEFAULT_PHONE_NUMBER_ID",
    "Emulator",
    "EmulatorData",
    "EmulatorServer",
    "Fault",
    "FaultConfig",
    "Ledger",
    "LedgerEntry",
    "META_RATE_LIMIT",
    "OUTCOMES",
    "SEND_PATH",
    "Template",
    "load_data",
    "serve",
]
