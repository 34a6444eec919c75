"""Shared test configuration: every anyio test runs on asyncio and, when installed, trio.

Hypothesis profiles: ``full`` (the default: what ``nox -s tests`` and CI run) and
``fast`` (fewer examples per property, for the edit-test loop: ``nox -s fast``
passes ``--hypothesis-profile=fast``). The property tests take their example
count from the profile, never from their own ``@settings``.
"""

from __future__ import annotations

import importlib.util
import os
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import settings

settings.register_profile("full", max_examples=150)
settings.register_profile("fast", max_examples=25)
settings.load_profile("full")

BACKENDS = ["asyncio"]
if importlib.util.find_spec("trio") is not None:
    BACKENDS.append("trio")


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The async backend an anyio test runs on."""
    return str(request.param)


@pytest.fixture(scope="session", autouse=True)
def one_tls_context_per_configuration() -> Iterator[None]:
    """``httpx.create_ssl_context`` returns one context per configuration for the session.

    Every client builds a TLS context with it: the library's aiohttp transport
    when it opens its pool, and each httpx transport (the library's
    ``transport="httpx"``, the tests' own clients) when it is made. Loading
    certifi's CA bundle costs about 40 ms of CPU each time, for hundreds of
    clients, though the tests only speak plain HTTP to 127.0.0.1. A context is
    built the same way the first time a configuration (the arguments,
    ``SSL_CERT_FILE``, ``SSL_CERT_DIR``) is asked for, then shared, as aiohttp
    shares its own default contexts: a context is safe to share between
    connections and clients.
    """
    create = httpx.create_ssl_context
    contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}

    def create_once(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        environment = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        key = (args, tuple(sorted(kwargs.items())), environment)
        try:
            context = contexts.get(key)
        except TypeError:  # an argument that is not hashable: nothing to share
            return create(*args, **kwargs)
        if context is None:
            context = contexts[key] = create(*args, **kwargs)
        return context

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx, "create_ssl_context", create_once)
        # The name httpx's transports call it by.
        patch.setattr(httpx._transports.default, "create_ssl_context", create_once)
        yield
