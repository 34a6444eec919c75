"""Choosing the HTTP transport: aiohttp under asyncio, httpx's own under trio."""

from __future__ import annotations

from typing import Literal

import httpx
import sniffio

#: Which transport ``AsyncMindo`` builds its own ``httpx.AsyncClient`` on.
TransportName = Literal["auto", "aiohttp", "httpx"]


def _aiohttp_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    from httpx_aiohttp import AiohttpTransport

    transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits, trust_env=True)
    return transport


def make_transport(name: TransportName, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The transport for ``name``; ``"auto"`` decides on the first request."""
    if name == "aiohttp":
        return _aiohttp_transport(limits)
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
    running event loop is known.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._inner: httpx.AsyncBaseTransport | None = None

    @property
    def inner(self) -> httpx.AsyncBaseTransport | None:
        """The transport chosen, once a request has been made."""
        return self._inner

    def _choose(self) -> httpx.AsyncBaseTransport:
        library = sniffio.current_async_library()
        if library == "asyncio":
            self._inner = _aiohttp_transport(self._limits)
        else:
            self._inner = httpx.AsyncHTTPTransport(limits=self._limits)
        return self._inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        inner = self._inner or self._choose()
        return await inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
