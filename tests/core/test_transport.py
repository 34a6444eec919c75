"""Transport choice: httpx's own pool is capped, and the client's limiter follows it."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest

from mindo_async import AsyncMindo
from mindo_async._transport import HTTPX_POOL_CAP
from mindo_async.testing import DEFAULT_API_KEY, Emulator, serve


def test_httpx_transport_caps_the_pool_and_the_limiter() -> None:
    """transport="httpx" with 100 connections asked gets HTTPX_POOL_CAP, and so does the limiter."""
    mindo = AsyncMindo(api_key=DEFAULT_API_KEY, transport="httpx", max_connections=100)
    assert mindo._connections.total_tokens == HTTPX_POOL_CAP
    pool = mindo.http_client._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == HTTPX_POOL_CAP


def test_small_pools_are_not_raised_to_the_cap() -> None:
    """A pool smaller than the cap is kept as asked."""
    mindo = AsyncMindo(api_key=DEFAULT_API_KEY, transport="httpx", max_connections=4)
    assert mindo._connections.total_tokens == 4


@pytest.mark.anyio
async def test_auto_transport_sizes_the_limiter_for_the_pool_it_picks(anyio_backend: str) -> None:
    """Auto: aiohttp's pool keeps max_connections; httpx's own (on trio) is capped at first use."""
    with serve(Emulator()) as server:
        async with AsyncMindo(
            api_key=server.api_key, base_url=server.base_url, max_connections=100
        ) as mindo:
            await mindo.send(
                phone_number_id="813497231850626",
                template_name="verification_code",
                recipient_phone="+5491112345678",
                variables={"name": "Juan", "code": "1"},
            )
            expected = 100 if anyio_backend == "asyncio" else HTTPX_POOL_CAP
            assert mindo._connections.total_tokens == expected


def test_httpx_still_routes_through_the_attribute_the_fast_path_watches() -> None:
    """httpx's ``AsyncClient._transport_for_url`` exists, and respx's mocker replaces it.

    The fast path hands requests straight to the transport unless that attribute
    was patched (``client_routing_is_patched``); if httpx renames it, this fails.
    """
    import httpx
    import respx

    from mindo_async._transport import client_routing_is_patched

    assert callable(getattr(httpx.AsyncClient, "_transport_for_url", None))
    assert not client_routing_is_patched()
    with respx.mock(using="httpx"):
        assert client_routing_is_patched()
    assert not client_routing_is_patched()


def test_the_default_tls_context_is_built_once_per_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Clients share one TLS context (the CA bundle is loaded once); SSL_CERT_FILE gets its own."""
    from mindo_async import _config

    built: list[ssl.SSLContext] = []

    def create(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        # httpx's own function (tests/conftest.py shares contexts on top of it).
        context = httpx._config.create_ssl_context(*args, **kwargs)
        built.append(context)
        return context

    monkeypatch.setattr(httpx, "create_ssl_context", create)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    _config._ssl_context.cache_clear()
    first = _config.default_ssl_context()
    assert _config.default_ssl_context() is first
    bundle = tmp_path / "ca.pem"
    bundle.write_text(Path(certifi.where()).read_text())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    other = _config.default_ssl_context()
    assert _config.default_ssl_context() is other
    assert built == [first, other]
    _config._ssl_context.cache_clear()
