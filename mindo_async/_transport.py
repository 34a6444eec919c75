"""Choosing the HTTP transport: aiohttp under asyncio, httpx's own under trio.

Both bound the answer (``_answer``: a body cap, one deadline) and map their
failures to httpx exceptions that say whether the request may have been sent.
``max_connections=None`` leaves aiohttp's pool uncapped, so that it follows
the caller's concurrency; httpx's own pool is always capped at ``HTTPX_POOL_CAP``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import httpx
import sniffio

from ._config import PRODUCTION_HOST, default_ssl_context
from ._errors import ConfigurationError
from ._httpcore import BoundedHTTPTransport

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

#: Which transport ``AsyncMindo`` builds its own ``httpx.AsyncClient`` on.
TransportName = Literal["auto", "aiohttp", "httpx"]


#: The most connections httpx's own pool gets. Its cost per request grows with
#: the connections it holds (it scans and polls each one: encode/httpx#3215):
#: measured here at 50 ms server latency and 128 concurrent sends, 24
#: connections gave 300 req/s, 32 gave 152 and 100 gave 58. Sends beyond it
#: wait in AsyncMindo's own limiter, which has no timeout.
HTTPX_POOL_CAP = 20

#: How httpx's ``AsyncClient`` picks a transport, as imported. Only compared,
#: never called: respx's httpx mocker (``respx.mock(using="httpx")``) replaces it
#: on the class, and then every request must go through ``AsyncClient.send``
#: so that the mock sees it. ``tests/test_transport.py`` fails if httpx renames it.
_ROUTING = getattr(httpx.AsyncClient, "_transport_for_url", None)


def client_routing_is_patched() -> bool:
    """Whether a mocking library has replaced how ``httpx.AsyncClient`` routes requests.

    The library hands requests of the client it built straight to that client's
    transport (the fast path); while a mock such as respx's is active they go
    through ``AsyncClient.send`` instead, where the mock intercepts them.
    """
    return getattr(httpx.AsyncClient, "_transport_for_url", None) is not _ROUTING


def respx_is_active() -> bool:
    """Whether a respx router is started with its default mocker (which patches httpcore).

    respx's default mocker intercepts httpx's own transport (httpcore), not
    aiohttp's: while it is active, ``AutoTransport`` sends through httpx's own
    transport, so that a plain ``@respx.mock`` test sees every request.
    """
    mocks = sys.modules.get("respx.mocks")
    if mocks is None:
        return False
    registry = getattr(getattr(mocks, "Mocker", None), "registry", None) or {}
    mocker = registry.get("httpcore")
    return bool(getattr(mocker, "routers", None))


#: How the pytest plugin is found; it is imported only by pytest, and then holds
#: whether requests to the production API must be intercepted.
_PLUGIN_MODULE = "mindo_async.testing._plugin"

_GUARD_MESSAGE = (
    "refused under pytest: a request to the real Mindo API ({host}) that no mock "
    "intercepts, which could send real WhatsApp messages; nothing was sent. Use the "
    "emulator fixtures (mindo_client, mindo_socket_client, mindo_emulator, "
    "mindo_emulator_server), a respx router (@respx.mock), or an http_client with "
    "httpx.MockTransport; to really reach the API from tests, opt in with "
    "--mindo-allow-real-api or MINDO_ALLOW_REAL_API=1"
)


def refuse_unintercepted_production(http: object, transport: object) -> None:
    """Under pytest (with this library's plugin loaded), raise ``ConfigurationError``
    before a request to the production API would leave for the network.

    Allowed: a respx router (either mocker), a client whose transport is not a
    network one (``httpx.MockTransport``, ``httpx.ASGITransport``, your own), and
    the opt-in. ``http`` is the httpx client, ``transport`` the one the library
    built (``None`` for a caller's own client).
    """
    plugin = sys.modules.get(_PLUGIN_MODULE)
    if plugin is None or not getattr(plugin, "production_guard", False):
        return
    if client_routing_is_patched():
        return  # respx.mock(using="httpx"): every request goes to its router.
    # A caller's own client: its transport, read where httpx keeps it.
    target = transport if transport is not None else getattr(http, "_transport", None)
    aiohttp_own = type(target).__module__.startswith("httpx_aiohttp")
    if respx_is_active() and not aiohttp_own:
        return  # httpcore is patched; AutoTransport routes through it.
    if target is None or aiohttp_own or isinstance(target, _NETWORK_TRANSPORTS):
        raise ConfigurationError(_GUARD_MESSAGE.format(host=PRODUCTION_HOST))


#: Told the pool size when the transport chosen caps it.
PoolSizeCallback = Callable[[int], None]


def _httpx_transport(
    limits: httpx.Limits,
    on_pool_size: PoolSizeCallback | None,
    proxy: httpx.Proxy | str | None = None,
) -> httpx.AsyncBaseTransport:
    size = min(limits.max_connections or HTTPX_POOL_CAP, HTTPX_POOL_CAP)
    keepalive = min(limits.max_keepalive_connections or size, size)
    if on_pool_size is not None:
        on_pool_size(size)
    return BoundedHTTPTransport(
        httpx.AsyncHTTPTransport(
            verify=default_ssl_context(),
            proxy=proxy,
            limits=httpx.Limits(
                max_connections=size,
                max_keepalive_connections=keepalive,
                keepalive_expiry=limits.keepalive_expiry,
            ),
        )
    )


def make_proxy_transport(
    proxy: httpx.Proxy | str,
    limits: httpx.Limits,
    on_pool_size: PoolSizeCallback | None = None,
) -> httpx.AsyncBaseTransport:
    """httpx's own pool through ``proxy``: capped, its answers bounded, like ``"httpx"``."""
    return _httpx_transport(limits, on_pool_size, proxy)


def _aiohttp_transport(limits: httpx.Limits) -> AiohttpTransport:
    # Imported here: aiohttp is loaded only where it runs (asyncio).
    from ._aiohttp import AiohttpTransport

    return AiohttpTransport(
        max_connections=limits.max_connections, keepalive_expiry=limits.keepalive_expiry
    )


def make_transport(
    name: TransportName, limits: httpx.Limits, on_pool_size: PoolSizeCallback | None = None
) -> httpx.AsyncBaseTransport:
    """The transport for ``name``; ``"auto"`` decides on the first request.

    httpx's own pool is capped at ``HTTPX_POOL_CAP`` connections, and
    ``on_pool_size`` is told the size it gets.
    """
    if name == "aiohttp":
        # Deferred too, so that a trio caller gets a clear error instead of an
        # aiohttp RuntimeError that would read like a failed send.
        return AutoTransport(limits, aiohttp_only=True)
    if name == "httpx":
        return _httpx_transport(limits, on_pool_size)
    if name == "auto":
        return AutoTransport(limits, on_pool_size=on_pool_size)
    raise ValueError(f"transport must be 'auto', 'aiohttp' or 'httpx', not {name!r}")


class AutoTransport(httpx.AsyncBaseTransport):
    """aiohttp's connection pool under asyncio, httpx's own under trio.

    httpx's default pool scans every connection on every request, so its cost
    grows with concurrency (encode/httpx#3215); aiohttp's does not. aiohttp
    runs only on asyncio, so the choice is made on the first request, when the
    running event loop is known. With ``aiohttp_only=True`` (``transport="aiohttp"``)
    any other event loop is a ``ConfigurationError``, raised before anything is sent.
    """

    def __init__(
        self,
        limits: httpx.Limits,
        *,
        aiohttp_only: bool = False,
        on_pool_size: PoolSizeCallback | None = None,
    ) -> None:
        self._limits = limits
        self._aiohttp_only = aiohttp_only
        self._on_pool_size = on_pool_size
        self._inner: httpx.AsyncBaseTransport | None = None
        self._under_respx: httpx.AsyncBaseTransport | None = None
        self._aiohttp: AiohttpTransport | None = None

    @property
    def inner(self) -> httpx.AsyncBaseTransport | None:
        """The transport chosen, once a request has been made."""
        return self._inner

    def _choose(self) -> httpx.AsyncBaseTransport:
        library = sniffio.current_async_library()
        if library == "asyncio":
            self._inner = self._aiohttp = _aiohttp_transport(self._limits)
        elif self._aiohttp_only:
            raise ConfigurationError(
                f"transport='aiohttp' runs only on asyncio, not {library}: "
                "use transport='auto' or 'httpx'"
            )
        else:
            self._inner = _httpx_transport(self._limits, self._on_pool_size)
        return self._inner

    def aiohttp_transport(self) -> AiohttpTransport | None:
        """The aiohttp transport requests go to now (chosen on first use), or ``None``:
        under trio, or while respx's router is active."""
        if respx_is_active():
            return None
        if self._inner is None:
            self._choose()
        return self._aiohttp

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if respx_is_active():
            # respx's default mocker patches httpx's own transport, not aiohttp's.
            if self._under_respx is None:
                self._under_respx = httpx.AsyncHTTPTransport(limits=self._limits)
            return await self._under_respx.handle_async_request(request)
        inner = self._inner or self._choose()
        return await inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._under_respx is not None:
            await self._under_respx.aclose()
        if self._inner is not None:
            await self._inner.aclose()


#: Transports that reach the network (a caller's own client with one of these is
#: refused under pytest for the production host).
_NETWORK_TRANSPORTS: tuple[type, ...] = (
    httpx.AsyncHTTPTransport,
    httpx.HTTPTransport,
    AutoTransport,
)
