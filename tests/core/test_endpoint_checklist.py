"""Every endpoint of the table has its six pieces: a resource method, a model module, an
emulator handler, a reference fixture, a CLI command (and its table row, by construction).

Pieces still to come are marked in ``PENDING`` with the issue that brings them; the
test fails both when a piece is missing and when a pending piece has landed (so the
mark is removed the day it does), like a strict xfail.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import typer

from mindo_async import AsyncMindo
from mindo_async._endpoints import ENDPOINTS, Endpoint
from mindo_async.cli._app import app
from mindo_async.testing.handlers import DEFAULT_HANDLERS

REFERENCE = Path(__file__).resolve().parents[1] / "reference"

#: Where each endpoint's pieces are: (resource attribute, method), model module, CLI path.
WHERE: dict[str, tuple[tuple[str, str], str, tuple[str, ...]]] = {
    "send": (("messages", "send"), "mindo_async._models", ("send",)),
    "bulk_sends.create": (
        ("bulk_sends", "create"),
        "mindo_async.types.bulk_sends",
        ("bulk-sends", "create"),
    ),
    "business_accounts.get": (
        ("business_accounts", "get"),
        "mindo_async.types.business_accounts",
        ("account",),
    ),
    "messages.get": (("messages", "get"), "mindo_async.types.messages", ("message",)),
    "bulk_sends.get": (
        ("bulk_sends", "get"),
        "mindo_async.types.bulk_sends",
        ("bulk-sends", "show"),
    ),
    "bulk_sends.messages": (
        ("bulk_sends", "messages"),
        "mindo_async.types.bulk_sends",
        ("bulk-sends", "messages"),
    ),
    "bulk_sends.list": (
        ("bulk_sends", "list"),
        "mindo_async.types.bulk_sends",
        ("bulk-sends", "list"),
    ),
    "contacts.lookup": (("contacts", "lookup"), "mindo_async.types.contacts", ("contact",)),
    "business.info": (("business", "info"), "mindo_async.types.business", ("business", "info")),
    "business.hours": (("business", "hours"), "mindo_async.types.business", ("business", "hours")),
    "business.holidays": (
        ("business", "holidays"),
        "mindo_async.types.business",
        ("business", "holidays"),
    ),
}

#: (endpoint name, piece) -> the issue that brings it. Remove a line when it lands.
PENDING: dict[tuple[str, str], str] = {}


def _cli_has(path: tuple[str, ...]) -> bool:
    command: Any = typer.main.get_command(app)
    for name in path:
        # A group has ``commands`` (typer's own click or click's, whichever typer uses).
        command = getattr(command, "commands", {}).get(name)
        if command is None:
            return False
    return True


def _model_exists(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        return False
    return True


def present(endpoint: Endpoint, piece: str) -> bool:
    """Whether ``piece`` of ``endpoint`` exists in the package and the tests."""
    (area, method), module, command = WHERE[endpoint.name]
    mindo = AsyncMindo(api_key="mindo_checklist", base_url="http://127.0.0.1:9")
    if piece == "resource":
        return callable(getattr(getattr(mindo, area), method, None))
    if piece == "model":
        return _model_exists(module)
    if piece == "handler":
        if endpoint.name == "send":
            return True  # served by the emulator's shell around handlers.send.check_send
        return DEFAULT_HANDLERS.get(endpoint.name) is not None
    if piece == "fixture":
        path = REFERENCE / f"{endpoint.name}.json"
        return path.is_file() and bool(json.loads(path.read_text("utf-8")).get("responses"))
    if piece == "cli":
        return _cli_has(command)
    raise AssertionError(piece)


def test_the_checklist_covers_every_endpoint() -> None:
    """``WHERE`` names the pieces of every endpoint of the table, and nothing else."""
    assert set(WHERE) == {e.name for e in ENDPOINTS}
    assert {name for name, _ in PENDING} <= set(WHERE)


@pytest.mark.parametrize("piece", ["resource", "model", "handler", "fixture", "cli"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_has_its_pieces(endpoint: Endpoint, piece: str) -> None:
    """Each endpoint has ``piece``; a piece marked pending must still be missing."""
    issue = PENDING.get((endpoint.name, piece))
    if issue is None:
        assert present(endpoint, piece), f"{endpoint.name} has no {piece}"
    else:
        assert not present(endpoint, piece), (
            f"{endpoint.name}'s {piece} has landed: remove its PENDING mark ({issue})"
        )
