"""``Mindo``: the sync client, for Django views, Celery tasks and scripts.

A thin shell: the options are resolved by ``_options`` (as for ``AsyncMindo``),
the retry loop, pacing and resources are generated from the async code by
``scripts/unasync.py``, and validation, the protocol, the retry policy and the
errors are the very modules the async client uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import attrs
import httpx

from .._config import DEFAULT_TIMEOUT, proxy_for
from .._errors import ClientClosedError, ConfigurationError
from .._models import SendRequest, SentMessage, VariableValue
from .._options import ClientOptions, check_max_retries, make_timeout, resolve_options
from .._retry import RetryPolicy
from ._concurrency import CapacityLimiter
from ._pacing import Pacer
from ._ratelimit import LocalRateLimiter, as_rate_limiter
from ._requester import Requester
from .resources import SyncBulkSends, SyncBusiness, SyncBusinessAccounts, SyncContacts, SyncMessages

#: The pool of the client ``Mindo`` builds when ``max_connections`` is not given: a
#: thread waits for a free connection beyond it (threads, not tasks, send here).
SYNC_POOL_SIZE = 100


class Mindo:
    """A sync client for the Mindo API: ``with Mindo() as mindo: mindo.send(...)``.

    The same options, promises and errors as ``AsyncMindo`` (see there), on one
    pooled ``httpx.Client``; safe to share between threads. The fan-out
    (``send_many``, ``stream_many``) stays async: use ``AsyncMindo`` for campaigns.

    Args:
        api_key: Your Mindo API key; defaults to ``$MINDO_API_KEY``.
        base_url: Defaults to ``$MINDO_BASE_URL``, else ``https://api.mindosoftware.com``.
        timeout: Seconds per phase (at most 5 s to connect), or an ``httpx.Timeout``.
        max_retries: Retries after a failure that is safe to retry; 0 disables.
        retry_ambiguous: Also retry failures after which the message may already
            have been delivered. This can deliver a message twice.
        rate_limit: Sends per second per ``phone_number_id`` across the threads of
            this process; ``None`` turns the cap off.
        http_client: Your own ``httpx.Client`` (never closed by ``Mindo``).
        max_connections: A hard cap on open connections (httpx's pool size); ``None``
            (the default): 100.
        default_region: Read national phone numbers of this region (``"AR"``);
            defaults to ``$MINDO_DEFAULT_REGION``.
        allow_insecure_http: Allow plain ``http://`` to a non-loopback host (the key
            travels unencrypted); defaults to ``$MINDO_ALLOW_INSECURE_HTTP``.
        event_hooks: httpx event hooks of the client built here (see ``AsyncMindo``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        retry_ambiguous: bool = False,
        rate_limit: float | None = 80.0,
        http_client: httpx.Client | None = None,
        *,
        max_connections: int | None = None,
        default_region: str | None = None,
        allow_insecure_http: bool | None = None,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        self._options = resolve_options(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry_ambiguous=retry_ambiguous,
            rate_limit=rate_limit,
            max_connections=max_connections,
            default_region=default_region,
            allow_insecure_http=allow_insecure_http,
        )
        options = self._options
        self._limiter = as_rate_limiter(options.rate_limit)  # type: ignore[arg-type]
        pool = options.max_connections or SYNC_POOL_SIZE
        self._connections = CapacityLimiter(pool)
        self._owns_http_client = http_client is None
        if http_client is None:
            limits = httpx.Limits(
                max_connections=pool,
                max_keepalive_connections=pool,
                keepalive_expiry=30.0,
            )
            proxy = proxy_for(options.base_url)
            http_client = httpx.Client(
                transport=httpx.HTTPTransport(proxy=proxy, limits=limits),
                timeout=options.timeout,
                follow_redirects=False,
                trust_env=False,
                event_hooks=event_hooks,
            )
        elif event_hooks:
            raise ConfigurationError(
                "give event_hooks to your own http_client (httpx.Client(event_hooks=...))"
            )
        self._http = http_client
        self._closed = False
        self._parent: Mindo | None = None
        self._build_resources()

    def _build_resources(self) -> None:
        options = self._options
        self._requester = Requester(
            self._http,
            base_url=options.base_url,
            api_key=options.api_key,
            timeout=options.timeout,
            policy=options.policy,
            limiter=self._limiter,
            connections=self._connections,
            # Always through Client.send: the sync client has one transport only.
            transport=None,
            ensure_open=self._ensure_open,
            default_region=options.default_region,
        )
        self.messages = SyncMessages(self._requester)
        """Template messages: ``send``, ``send_request``."""
        self.bulk_sends = SyncBulkSends(self._requester)
        """Server-side bulk sends."""
        self.business_accounts = SyncBusinessAccounts(self._requester)
        """Business accounts, phone numbers with tier and quota, and templates."""
        self.contacts = SyncContacts(self._requester)
        """Contact lookup."""
        self.business = SyncBusiness(self._requester)
        """The company's profile, hours and holidays."""

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Mindo:
        """A copy with other per-call options, sharing the pool and the pacing (see
        ``AsyncMindo.with_options``); closing it does not close the pool."""
        options: ClientOptions = self._options
        if timeout is not None:
            options = attrs.evolve(options, timeout=make_timeout(timeout))
        if retry_policy is not None:
            if not isinstance(retry_policy, RetryPolicy):
                raise ConfigurationError("retry_policy must be a RetryPolicy")
            options = attrs.evolve(options, policy=retry_policy)
        if max_retries is not None:
            options = attrs.evolve(
                options,
                policy=attrs.evolve(options.policy, max_retries=check_max_retries(max_retries)),
            )
        clone = object.__new__(Mindo)
        clone.__dict__.update(self.__dict__)
        clone._options = options
        clone._owns_http_client = False
        clone._closed = False
        clone._parent = self._parent or self
        clone._build_resources()
        return clone

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> Mindo:
        self._ensure_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client (and its HTTP client, when it built it). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_http_client:
            self._http.close()

    @property
    def is_closed(self) -> bool:
        """Whether ``close`` was called (on this client, or on the one it was copied from)."""
        return self._closed or (self._parent is not None and self._parent._closed)

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._options.base_url

    @property
    def default_region(self) -> str | None:
        """The region national phone numbers are read in (``"AR"``), or ``None``."""
        return self._options.default_region

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeouts of every request."""
        return self._options.timeout

    @property
    def http_client(self) -> httpx.Client:
        """The pooled ``httpx.Client`` every request goes through."""
        return self._http

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._options.policy

    @property
    def pacer(self) -> Pacer:
        """The per-phone-number pacing shared by every send of this client."""
        assert isinstance(self._limiter, LocalRateLimiter)
        return self._limiter.pacer

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"<Mindo base_url={self._options.base_url!r} api_key=<hidden> {state}>"

    def _ensure_open(self) -> None:
        if self.is_closed:
            raise ClientClosedError("this Mindo client is closed; create a new one")

    # -- one send ------------------------------------------------------------------

    def send(
        self,
        *,
        phone_number_id: str,
        template_name: str,
        recipient_phone: str,
        language: str = "es",
        variables: Mapping[str, VariableValue] | None = None,
        button_variables: Mapping[str, str] | None = None,
    ) -> SentMessage:
        """Send one template message and return the API's ``SentMessage``.

        The same promises and errors as ``AsyncMindo.send``.
        """
        return self.messages.send(
            phone_number_id=phone_number_id,
            template_name=template_name,
            recipient_phone=recipient_phone,
            language=language,
            variables=variables,
            button_variables=button_variables,
        )

    def send_request(self, request: SendRequest) -> SentMessage:
        """Send one ``SendRequest``; the same promises as ``send``."""
        self._ensure_open()
        return self.messages.send_request(request)


__all__ = ["Mindo"]
