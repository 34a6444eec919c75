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
``mindo_retry_policy``
    The ``RetryPolicy`` of the two client fixtures; ``None`` (the library's
    default) unless overridden. Override it with ``RetryPolicy(backoff_base=0)``
    (and give the emulator ``FaultConfig(retry_after=0)``) so that tests with
    429s and 503s never sleep.
``mindo_client``
    An ``AsyncMindo`` talking to ``mindo_emulator`` in-process.
``mindo_socket_client``
    An ``AsyncMindo`` talking to ``mindo_emulator_server`` over sockets.

The two client fixtures are async: use them from tests marked
``@pytest.mark.anyio`` (anyio's pytest plugin runs them on asyncio and trio),
or under pytest-asyncio in auto mode. In pytest-asyncio's strict mode a test
that asks for them fails at setup with a message saying what to add.

The production guard: while this plugin is loaded, a request to the production
API (``api.mindosoftware.com``) that no mock intercepts is refused with a
``ConfigurationError`` before anything leaves (intercepted: a respx router, or
an ``http_client`` with ``httpx.MockTransport``/``ASGITransport``). Emulators on
other hosts are not affected. Opt in to the real API with ``--mindo-allow-real-api``
or ``MINDO_ALLOW_REAL_API=1``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mindo_async import AsyncMindo, RetryPolicy

    from ._emulator import Emulator
    from ._server import EmulatorServer

#: Read by the library before each request to the production API: ``True`` while
#: pytest runs with this plugin, unless the opt-in is given.
production_guard = False

#: The environment variable that lets tests reach the real API.
ALLOW_REAL_API_ENV = "MINDO_ALLOW_REAL_API"

_ASYNC_FIXTURES = ("mindo_client", "mindo_socket_client")

_STRICT_MODE_HELP = (
    "{name} is an async fixture that no async plugin ran for {test}. Mark the test "
    "@pytest.mark.anyio (anyio's pytest plugin, installed with anyio; it runs on asyncio "
    "and trio, or only on asyncio with an `anyio_backend` fixture returning 'asyncio'), "
    "or run pytest-asyncio in auto mode (asyncio_mode = auto in your pytest configuration)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--mindo-allow-real-api``: let tests reach the production Mindo API."""
    parser.addoption(
        "--mindo-allow-real-api",
        action="store_true",
        default=False,
        help="let tests send requests to the real Mindo API (refused by default)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Turn the production guard on unless the opt-in is given."""
    global production_guard
    allowed = bool(config.getoption("--mindo-allow-real-api", default=False)) or (
        os.environ.get(ALLOW_REAL_API_ENV, "").strip().lower() in ("1", "true", "yes")
    )
    production_guard = not allowed


def pytest_unconfigure(config: pytest.Config) -> None:
    """Turn the production guard off when pytest is done."""
    global production_guard
    production_guard = False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail with instructions, before any fixture runs, when a test asks for an async
    fixture of this plugin that no async plugin would run (pytest-asyncio strict mode)."""
    names = getattr(item, "fixturenames", ())
    wanted = [name for name in _ASYNC_FIXTURES if name in names]
    if not wanted or "anyio_backend" in names or item.get_closest_marker("anyio"):
        return
    if _asyncio_mode(item.config) == "auto":
        return
    pytest.fail(_STRICT_MODE_HELP.format(name=wanted[0], test=item.nodeid), pytrace=False)


def _asyncio_mode(config: pytest.Config) -> str | None:
    """pytest-asyncio's mode (``"auto"``, ``"strict"``), or ``None`` without it."""
    try:
        mode = config.getoption("asyncio_mode", default=None) or config.getini("asyncio_mode")
    except ValueError:
        return None
    return str(mode) if mode else None


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
def mindo_retry_policy() -> RetryPolicy | None:
    """The retry policy of the client fixtures; ``None``: the library's default."""
    return None


@pytest.fixture
async def mindo_client(
    mindo_emulator: Emulator, mindo_retry_policy: RetryPolicy | None
) -> AsyncIterator[AsyncMindo]:
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
        yield client.with_options(retry_policy=mindo_retry_policy)


@pytest.fixture
async def mindo_socket_client(
    mindo_emulator_server: EmulatorServer, mindo_retry_policy: RetryPolicy | None
) -> AsyncIterator[AsyncMindo]:
    """An ``AsyncMindo`` sending to ``mindo_emulator_server`` over loopback sockets."""
    from mindo_async import AsyncMindo

    async with AsyncMindo(
        api_key=mindo_emulator_server.api_key, base_url=mindo_emulator_server.base_url
    ) as client:
        yield client.with_options(retry_policy=mindo_retry_policy)
