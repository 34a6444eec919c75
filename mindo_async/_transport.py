"""Choosing the HTTP transport: aiohttp under asyncio, httpx's own under trio."""

from __future__ import annotations

from typing import Literal

import httpx
import sniffio

from ._errors import ConfigurationError

#: Which transport ``AsyncMindo`` builds its own ``httpx.AsyncClient`` on.
TransportName = Literal["auto", "aiohttp", "httpx"]


def _aiohttp_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    from httpx_aiohttp import AiohttpTransport

    transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits, trust_env=True)
    return transport


def make_transport(name: TransportName, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The transport for ``name``; ``"auto"`` decides on the first request."""
    if name == "aiohttp":
        # Deferred too, so that a trio caller gets a clear error instead of an
        # aiohttp RuntimeError that would read like a failed send.
        return AutoTransport(limits, aiohttp_only=True)
    if name == "httpx":
        return httpx.AsyncHTTPTransport(limits=limits)
    if name == "auto":
        return AutoTransport(limits)
    raise ValueError(f"transport must be 'auto', 'aiohttp' or 'httpx', not {name!r}")


class AutoTransport(httpx.AsyncBaseTransport):
    """aiohttp's connection pool under asyncio, httpx's own under trio.

    httpx's default pool scans every connection on every request, so its cost
    grows with concurrency (encode/httpx#3215); aiohttp's does not. aiohttp
    runs only on asyncio, so the choice is made on the first request, when the
    running event loop is known. With ``aiohttp_only=True`` (``transport="aiohttp"``)
    any other event loop is a ``ConfigurationError``, raised before anything is sent.
    """

    def __init__(self, limits: httpx.Limits, *, aiohttp_only: bool = False) -> None:
        self._limits = limits
        self._aiohttp_only = aiohttp_only
        self._inner: httpx.AsyncBaseTransport | None = None

    @property
    def inner(self) -> httpx.AsyncBaseTransport | None:
        """The transport chosen, once a request has been made."""
        return self._inner

    def _choose(self) -> httpx.AsyncBaseTransport:
        library = sniffio.current_async_library()
        if library == "asyncio":
            self._inner = _aiohttp_transport(self._limits)
        elif self._aiohttp_only:
            raise ConfigurationError(
                f"transport='aiohttp' runs only on asyncio, not {library}: "
                "use transport='auto' or 'httpx'"
            )
        else:
            self._inner = httpx.AsyncHTTPTransport(limits=self._limits)
        return self._inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        inner = self._inner or self._choose()
        return await inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
