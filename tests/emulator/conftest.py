"""Helpers for the emulator's endpoint tests: an in-process caller and a virtual clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import pytest

from mindo_async.testing import DEFAULT_API_KEY, Emulator, VirtualClock

Call = Callable[..., Awaitable[httpx.Response]]


async def call(
    emulator: Emulator,
    method: str,
    path: str,
    *,
    key: str | None = DEFAULT_API_KEY,
    params: Mapping[str, str] | None = None,
    json: Any = None,
) -> httpx.Response:
    """One request to ``emulator`` in-process (``X-API-Key: key`` unless None)."""
    headers = {"X-API-Key": key} if key is not None else {}
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.request(method, path, headers=headers, params=params, json=json)


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock at its default start."""
    return VirtualClock()


@pytest.fixture
def api() -> Call:
    """``await api(emulator, method, path, key=..., params=..., json=...)``: one request."""
    return call
