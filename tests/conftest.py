"""Shared test configuration: every anyio test runs on asyncio and, when installed, trio.

Hypothesis profiles: ``full`` (the default: what ``nox -s tests`` and CI run) and
``fast`` (fewer examples per property, for the edit-test loop: ``nox -s fast``
passes ``--hypothesis-profile=fast``). The property tests take their example
count from the profile, never from their own ``@settings``.
"""

from __future__ import annotations

import importlib.util

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
