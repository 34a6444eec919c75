"""pytest fixtures for testing code that talks to Mindo, against the local emulator.

Registered through the ``pytest11`` entry point, so this module is imported by
every pytest run of everyone who installs ``mindo-async``, with or without the
``testing`` extra: its top level imports only the standard library and pytest,
and everything else is imported inside the fixtures.

Fixtures:

``mindo_emulator``
    A fresh ``Emulator`` (default data, no faults). Override it in a
    ``conftest.py`` to change data or faults; the other fixtures use it.
``mindo_emulator_server``
    That emulator served over loopback sockets by uvicorn (``EmulatorServer``:
    ``.base_url``, ``.emulator``, ``.api_key``).
``mindo_client``
    An ``AsyncMindo`` talking to ``mindo_emulator`` in-process.
``mindo_socket_client``
    An ``AsyncMindo`` talking to ``mindo_emulator_server`` over sockets.

The two client fixtures are async: use them from tests marked
``@pytest.mark.anyio`` (anyio's pytest plugin runs them on asyncio and trio).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mindo_async import AsyncMindo

    from ._emulator import Emulator
    from ._server import EmulatorServer

#: The base URL of in-process clients: never dialled, but loopback and plain
#: http, which the client accepts.
IN_PROCESS_BASE_URL = "http://127.0.0.1"


@pytest.fixture
def mindo_emulator() -> Emulator:
    """A fresh Mindo emulator with the reference's data and no faults."""
    from ._emulator import Emulator

    return Emulator()


@pytest.fixture
def mindo_emulator_server(mindo_emulator: Emulator) -> Iterator[EmulatorServer]:
    """``mindo_emulator`` served by uvicorn on 127.0.0.1 (a free port) for the test."""
    from ._server import serve

    with serve(mindo_emulator) as server:
        yield server


@pytest.fixture
async def mindo_client(mindo_emulator: Emulator) -> AsyncIterator[AsyncMindo]:
    """An ``AsyncMindo`` sending to ``mindo_emulator`` in-process (``httpx.ASGITransport``)."""
    import httpx

    from mindo_async import AsyncMindo

    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=mindo_emulator), base_url=IN_PROCESS_BASE_URL
        ) as http_client,
        AsyncMindo(
            api_key=mindo_emulator.api_key,
            base_url=IN_PROCESS_BASE_URL,
            http_client=http_client,
        ) as client,
    ):
        yield client


@pytest.fixture
async def mindo_socket_client(
    mindo_emulator_server: EmulatorServer,
) -> AsyncIterator[AsyncMindo]:
    """An ``AsyncMindo`` sending to ``mindo_emulator_server`` over loopback sockets."""
    from mindo_async import AsyncMindo

    async with AsyncMindo(
        api_key=mindo_emulator_server.api_key, base_url=mindo_emulator_server.base_url
    ) as client:
        yield client
