"""Configuration shared by the clients, the command and the emulator.

One source for each fact: the API key's shape, the default base URL and
timeouts, which hosts are loopback, and the checks of a key and a base URL.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import ssl
import urllib.request

import httpx

from ._errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.mindosoftware.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 5.0
#: The environment variable that allows plain http to a non-loopback host.
INSECURE_HTTP_ENV = "MINDO_ALLOW_INSECURE_HTTP"
#: The production API's host: under pytest, requests to it must be intercepted.
PRODUCTION_HOST = "api.mindosoftware.com"

_API_KEY = re.compile(r"mindo_[A-Za-z0-9_-]+")


def is_api_key(value: str) -> bool:
    """Whether ``value`` is shaped like a Mindo API key: ``mindo_`` then ``[A-Za-z0-9_-]+``."""
    return _API_KEY.fullmatch(value) is not None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool | None = None) -> str:
    """``base_url`` without its trailing slash; ``ConfigurationError`` when it is unsafe.

    Plain ``http://`` is accepted for loopback hosts, and for any other host only
    with ``allow_insecure_http=True`` (``None``: the ``MINDO_ALLOW_INSECURE_HTTP``
    environment variable, ``1``/``true``/``yes``). It is the one opt-in for plain
    http in the library: the API key then travels unencrypted.
    """
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError("base_url is not a valid URL") from exc
    if url.userinfo:
        # Checked first, and the URL is not echoed: it holds a password.
        raise ConfigurationError("base_url must not contain credentials")
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigurationError(
            f"base_url {base_url!r} must be an absolute https:// URL, e.g. {DEFAULT_BASE_URL}"
        )
    if allow_insecure_http is None:
        allow_insecure_http = os.environ.get(INSECURE_HTTP_ENV, "").strip().lower() in (
            "1",
            "true",
            "yes",
        )
    if url.scheme == "http" and not is_loopback(url.host) and not allow_insecure_http:
        raise ConfigurationError(
            f"base_url {base_url!r} uses plain http: the API key would travel unencrypted; "
            "use https (plain http is allowed for loopback hosts such as 127.0.0.1, and "
            f"elsewhere only with allow_insecure_http=True or {INSECURE_HTTP_ENV}=1)"
        )
    if url.query or url.fragment:
        raise ConfigurationError("base_url must not contain a query or a fragment")
    return str(url).rstrip("/")


def check_api_key(api_key: str | None) -> str:
    """``api_key`` when it is shaped like a Mindo key; ``ConfigurationError`` otherwise."""
    if api_key is None or api_key == "":
        raise ConfigurationError(
            "no API key: pass api_key=... or set the MINDO_API_KEY environment variable"
        )
    if not isinstance(api_key, str) or not is_api_key(api_key):
        # The value itself is never echoed: it may be a real secret pasted wrongly.
        raise ConfigurationError(
            "the API key is malformed: a Mindo API key is 'mindo_' followed by letters, "
            "digits, '_' or '-'"
        )
    return api_key


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``<SCHEME>_PROXY``, ``ALL_PROXY``,
    any case), unless ``NO_PROXY`` names its host; ``None`` when there is none.

    Read with the standard library's public functions (``getproxies_environment``,
    ``proxy_bypass_environment``), which agree with httpx for host names, domain
    suffixes, IP addresses and ``*``.
    """
    parsed = httpx.URL(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parsed.scheme) or proxies.get("all")
    if not proxy:
        return None
    host = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return proxy


def proxy_for(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url``, or ``None`` to connect directly.

    Read once, when a client is built, from ``HTTPS_PROXY``/``ALL_PROXY`` and
    ``NO_PROXY`` (any case). Only an ``https`` base URL goes through a proxy: the
    proxy then sees a CONNECT tunnel, never the API key. A plain-http base URL
    (a loopback emulator) is always reached directly.
    """
    if httpx.URL(base_url).scheme != "https":
        return None
    return environment_proxy(base_url)


def check_http_client_proxy(base_url: str, trust_env: bool) -> None:
    """Refuse a caller's own ``httpx.AsyncClient`` that would send the API key to a proxy
    in cleartext: a plain-http ``base_url``, ``trust_env=True`` and a proxy in the
    environment for that URL. ``ConfigurationError`` says how to fix it.

    An https ``base_url`` is fine through a proxy (a CONNECT tunnel keeps the key
    encrypted). A proxy given to the client itself (``proxy=``, ``mounts=``) cannot
    be seen with httpx's public API: do not give one with a plain-http base URL.
    """
    if not trust_env or httpx.URL(base_url).scheme != "http":
        return
    proxy = environment_proxy(base_url)
    if proxy is None:
        return
    host = httpx.URL(base_url).host
    raise ConfigurationError(
        f"base_url {base_url!r} is plain http and your http_client trusts the environment, "
        "which names a proxy for it (HTTP_PROXY or ALL_PROXY): the API key would reach that "
        f"proxy unencrypted. Add {host} to NO_PROXY, or build the client with "
        "httpx.AsyncClient(trust_env=False), or use an https base_url"
    )


def default_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), built
    once per configuration and shared by every client: loading the CA bundle costs
    about 40 ms of CPU, once per client otherwise. An ``SSLContext`` is safe to share."""
    return _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=8)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # httpx reads the same two variables itself; they are the cache key.
    return httpx.create_ssl_context(trust_env=True)
