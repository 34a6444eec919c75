"""The options of a client, read and checked once for ``AsyncMindo`` and ``Mindo`` alike.

Both clients take the same options and the same environment variables; this
module is where they are resolved (arguments first, then the environment, then
the defaults) and checked, so that the two clients cannot drift apart.
"""

from __future__ import annotations

import logging
import os

import attrs
import httpx

from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    INSECURE_HTTP_ENV,
    check_api_key,
    check_base_url,
    is_loopback,
)
from ._errors import ConfigurationError
from ._retry import RetryPolicy
from ._validation import check_region

logger = logging.getLogger("mindo_async")


@attrs.frozen
class ClientOptions:
    """Everything a client was configured with, checked."""

    api_key: str = attrs.field(repr=False)
    base_url: str
    timeout: httpx.Timeout
    policy: RetryPolicy
    #: A number, ``None``, or (for ``AsyncMindo``) a shared ``RateLimiter``.
    rate_limit: object
    max_connections: int | None
    default_region: str | None
    allow_insecure_http: bool


def make_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    """Seconds per phase (at most 5 s to connect), or an ``httpx.Timeout`` as is."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ConfigurationError("timeout must be a positive number of seconds")
    # Per phase, not one deadline over the attempt: a deadline cannot tell
    # "still connecting" (never sent, safe to retry) from "waiting for the
    # answer" (may have been delivered); the phase timeouts can.
    return httpx.Timeout(timeout, connect=min(DEFAULT_CONNECT_TIMEOUT, timeout))


def check_max_retries(max_retries: object) -> int:
    """``max_retries`` when it is a whole number >= 0; ``ConfigurationError`` otherwise."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError("max_retries must be a whole number >= 0")
    return max_retries


def resolve_options(
    *,
    api_key: str | None,
    base_url: str | None,
    timeout: float | httpx.Timeout,
    max_retries: int,
    retry_ambiguous: bool,
    rate_limit: object,
    max_connections: int | None,
    default_region: str | None,
    allow_insecure_http: bool | None,
) -> ClientOptions:
    """Check every option; ``None`` ones come from ``MINDO_*`` environment variables.

    ``MINDO_API_KEY``, ``MINDO_BASE_URL``, ``MINDO_DEFAULT_REGION`` and
    ``MINDO_ALLOW_INSECURE_HTTP`` (``1``/``true``/``yes``) are read here.
    """
    key = check_api_key(api_key if api_key is not None else os.environ.get("MINDO_API_KEY"))
    insecure = (
        env_flag(INSECURE_HTTP_ENV) if allow_insecure_http is None else bool(allow_insecure_http)
    )
    url = check_base_url(
        base_url or os.environ.get("MINDO_BASE_URL") or DEFAULT_BASE_URL,
        allow_insecure_http=insecure,
    )
    if insecure and httpx.URL(url).scheme == "http" and not is_loopback(httpx.URL(url).host):
        logger.warning(
            "plain http to %s (allow_insecure_http): the API key and every message "
            "travel unencrypted; use it only on a private network, such as a "
            "docker-compose emulator",
            httpx.URL(url).host,
        )
    retries = check_max_retries(max_retries)
    if isinstance(rate_limit, (int, float)) and not rate_limit > 0:
        raise ConfigurationError("rate_limit must be positive, or None to turn it off")
    if max_connections is not None and (
        isinstance(max_connections, bool)
        or not isinstance(max_connections, int)
        or max_connections < 1
    ):
        raise ConfigurationError("max_connections must be at least 1, or None")
    if default_region is None:
        default_region = os.environ.get("MINDO_DEFAULT_REGION") or None
    try:
        region = check_region(default_region)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return ClientOptions(
        api_key=key,
        base_url=url,
        timeout=make_timeout(timeout),
        policy=RetryPolicy(max_retries=retries, retry_ambiguous=retry_ambiguous),
        rate_limit=rate_limit,
        max_connections=max_connections,
        default_region=region,
        allow_insecure_http=insecure,
    )


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to ``1``, ``true`` or ``yes``."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")
