"""A faithful local emulator of the Mindo API, with a ledger and fault injection.

Run it in-process behind ``httpx.ASGITransport`` or over loopback sockets with
``serve()``; the pytest fixtures (``mindo_emulator``, ``mindo_emulator_server``,
``mindo_client``, ``mindo_socket_client``) come from this package's pytest
plugin. See ``docs/emulator.md``.
"""

from __future__ import annotations

from . import handlers
from ._bulk_sends import TIER_PACE, BulkSendSettings
from ._clock import Clock, SystemClock, VirtualClock
from ._data import (
    DEFAULT_API_KEY,
    DEFAULT_PHONE_NUMBER_ID,
    TIERS,
    Button,
    Contact,
    EmulatorData,
    PhoneNumber,
    Template,
    Variable,
    load_data,
    normalize_phone,
)
from ._emulator import SEND_PATH, Emulator
from ._faults import META_RATE_LIMIT, Fault, FaultConfig
from ._ledger import OUTCOMES, Ledger, LedgerEntry
from ._router import CONTROL_PREFIX, NOT_FOUND_HTML
from ._server import EmulatorServer, serve
from ._state import MessageLifecycle
from .handlers import Handler, Reply, Request

__all__ = [
    "BulkSendSettings",
    "Button",
    "CONTROL_PREFIX",
    "Clock",
    "Contact",
    "DEFAULT_API_KEY",
    "DEFAULT_PHONE_NUMBER_ID",
    "Emulator",
    "EmulatorData",
    "EmulatorServer",
    "Fault",
    "FaultConfig",
    "Handler",
    "Ledger",
    "LedgerEntry",
    "META_RATE_LIMIT",
    "MessageLifecycle",
    "NOT_FOUND_HTML",
    "OUTCOMES",
    "PhoneNumber",
    "Reply",
    "Request",
    "SEND_PATH",
    "SystemClock",
    "TIERS",
    "TIER_PACE",
    "Template",
    "Variable",
    "VirtualClock",
    "handlers",
    "load_data",
    "normalize_phone",
    "serve",
]
