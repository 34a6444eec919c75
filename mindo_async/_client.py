"""``AsyncMindo``: one pooled HTTP client, safe retries, and shared pacing."""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any

import anyio
import attrs
import httpx

from ._answer import KEEPALIVE_EXPIRY
from ._config import DEFAULT_TIMEOUT, check_http_client_proxy, proxy_for
from ._errors import ClientClosedError, ConfigurationError, EventLoopMismatchError, PreflightError
from ._fanout import (
    DEFAULT_DRAIN_TIMEOUT,
    ProgressCallback,
    ResultStream,
    StreamManyContext,
    stream_many,
)
from ._journal import AsyncJournal, Journal
from ._models import SendRequest, SendResult, SentMessage, VariableValue
from ._options import check_max_retries, make_timeout, resolve_options
from ._pacing import Pacer
from ._preflight import PreflightReport, check_campaign_async
from ._ratelimit import LocalRateLimiter, RateLimiter, as_rate_limiter
from ._requester import Requester
from ._retry import RetryPolicy
from ._transport import TransportName, make_proxy_transport, make_transport
from .resources import (
    AsyncBulkSends,
    AsyncBusiness,
    AsyncBusinessAccounts,
    AsyncContacts,
    AsyncMessages,
)

#: What ``send_many``, ``stream_many`` and ``preflight`` read requests from: an
#: iterable, an async iterable, or a callable returning a fresh one of those.
Requests = (
    Iterable[SendRequest]
    | AsyncIterable[SendRequest]
    | Callable[[], Iterable[SendRequest] | AsyncIterable[SendRequest]]
)

#: The default of ``AsyncMindo(account_cache_ttl=...)``, in seconds.
DEFAULT_ACCOUNT_CACHE_TTL = 60.0

logger = logging.getLogger("mindo_async")


class _State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class AsyncMindo:
    """An async client for the Mindo API: ``async with AsyncMindo() as mindo: ...``.

    It holds one pooled ``httpx.AsyncClient`` (or the one you pass as
    ``http_client``, which it then never closes), retries only what provably
    never reached the server (plus 429 and 503), and paces sends per phone
    number id across every ``send``, ``send_many`` and ``stream_many`` call.

    Args:
        api_key: Your Mindo API key; defaults to ``$MINDO_API_KEY``.
        base_url: Defaults to ``$MINDO_BASE_URL``, else ``https://api.mindosoftware.com``.
            Plain ``http://`` is accepted only for loopback hosts.
        timeout: Seconds to wait for the answer (and for each write), with at most
            5 s to connect; or an ``httpx.Timeout`` used as is. The phases are timed
            apart so that a connect timeout (never sent, retried) is told from a
            read timeout (may have been delivered, not retried).
        max_retries: Retries after a failure that is safe to retry; 0 disables.
        retry_ambiguous: Also retry failures after which the message may already
            have been delivered. This can deliver a message twice.
        rate_limit: Sends per second per ``phone_number_id`` (Meta's default is 80),
            paced in this client; ``None`` turns the cap off; or a ``RateLimiter``,
            such as ``mindo_async.redis.RedisRateLimiter`` shared by many processes.
        http_client: Your own ``httpx.AsyncClient``. With a plain-http ``base_url`` it
            must not reach it through a proxy (the key would travel in cleartext): a
            client trusting an environment that names one (``HTTP_PROXY``,
            ``ALL_PROXY``) is refused with ``ConfigurationError``; set ``NO_PROXY``
            or ``trust_env=False``. The client built here honours ``HTTPS_PROXY``,
            ``ALL_PROXY`` and ``NO_PROXY`` for an https ``base_url`` only.
        transport: For the client built here: ``"auto"`` (aiohttp's pool under asyncio,
            httpx's under trio), ``"aiohttp"`` or ``"httpx"``.
        max_connections: A hard cap on open connections; sends beyond it wait their
            turn without a pool timeout. ``None`` (the default): under asyncio the
            pool grows with the sends in flight (``concurrency`` of ``stream_many``);
            httpx's own pool (trio, ``transport="httpx"``) is capped at 20.
        account_cache_ttl: Seconds for which ``preflight`` (and ``preflight=True``
            runs) reuse the business-accounts answer this client last fetched,
            instead of asking again; 0 always asks. ``business_accounts.get()``
            itself always asks unless given ``max_age``.
        default_region: Read recipients written in national forms of this region
            (``"AR"``: ``011 15-2345-6789`` is ``+5491123456789``); defaults to
            ``$MINDO_DEFAULT_REGION``; ``None``: E.164 only.
        allow_insecure_http: Allow plain ``http://`` to a non-loopback host (the API
            key travels unencrypted); defaults to ``$MINDO_ALLOW_INSECURE_HTTP``.
        event_hooks: httpx event hooks (``{"request": [...], "response": [...]}``) of
            the client built here, called for every attempt: a hook point for
            metrics that keeps the default transport.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        retry_ambiguous: bool = False,
        rate_limit: float | RateLimiter | None = 80.0,
        http_client: httpx.AsyncClient | None = None,
        *,
        transport: TransportName = "auto",
        max_connections: int | None = None,
        account_cache_ttl: float = DEFAULT_ACCOUNT_CACHE_TTL,
        default_region: str | None = None,
        allow_insecure_http: bool | None = None,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        options = resolve_options(
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
        self._limiter = as_rate_limiter(rate_limit)
        if (
            isinstance(account_cache_ttl, bool)
            or not isinstance(account_cache_ttl, (int, float))
            or not account_cache_ttl >= 0
        ):
            raise ConfigurationError("account_cache_ttl must be a number of seconds >= 0")
        self._account_cache_ttl = float(account_cache_ttl)
        if transport not in ("auto", "aiohttp", "httpx"):
            raise ConfigurationError(
                f"transport must be 'auto', 'aiohttp' or 'httpx', not {transport!r}"
            )
        self._options = options
        self._owns_http_client = http_client is None
        # No cap unless asked: the sends in flight (the caller's concurrency) decide.
        self._connections = anyio.CapacityLimiter(
            math.inf if options.max_connections is None else options.max_connections
        )
        self._transport_used: httpx.AsyncBaseTransport | None = None
        if http_client is None:
            limits = httpx.Limits(
                max_connections=options.max_connections,
                max_keepalive_connections=options.max_connections,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            )
            # Decided once, here, with public APIs: the environment's proxy for an
            # https base URL (a CONNECT tunnel: the proxy never sees the key), or
            # the pool chosen by ``transport``.
            proxy = proxy_for(options.base_url)
            if proxy is not None:
                self._transport_used = make_proxy_transport(proxy, limits, self._resize_pool)
            else:
                self._transport_used = make_transport(transport, limits, self._resize_pool)
            http_client = httpx.AsyncClient(
                transport=self._transport_used,
                timeout=options.timeout,
                follow_redirects=False,
                trust_env=False,
                event_hooks=event_hooks,
            )
            if event_hooks:
                # Hooks run in AsyncClient.send: every request goes through it (on
                # the same transport), not straight to the transport.
                self._transport_used = None
        elif transport != "auto":
            raise ConfigurationError("give either http_client or transport, not both")
        elif event_hooks:
            raise ConfigurationError(
                "give event_hooks to your own http_client (httpx.AsyncClient(event_hooks=...))"
            )
        else:
            # A plain-http base URL is never reached through a proxy (issue 15).
            check_http_client_proxy(options.base_url, http_client.trust_env)
        self._http = http_client
        self._state = _State.OPEN
        self._parent: AsyncMindo | None = None
        # The event loop the client was first used in (shared with its copies).
        self._loop: list[asyncio.AbstractEventLoop] = []
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
            # The client built here has no auth, hooks or redirects: its transport
            # is called directly. A caller's own client goes through its send().
            transport=self._transport_used,
            ensure_open=self._ensure_usable,
            default_region=options.default_region,
        )
        self.messages = AsyncMessages(self._requester)
        """Template messages: ``send``, ``send_request``."""
        self.bulk_sends = AsyncBulkSends(self._requester)
        """Server-side bulk sends."""
        self.business_accounts = AsyncBusinessAccounts(self._requester)
        """Business accounts, phone numbers with tier and quota, and templates."""
        self.contacts = AsyncContacts(self._requester)
        """Contact lookup."""
        self.business = AsyncBusiness(self._requester)
        """The company's profile, hours and holidays."""

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> AsyncMindo:
        """A copy of this client with other per-call options, sharing everything else.

        ``mindo.with_options(timeout=5, max_retries=0).send(...)``: the copy uses the
        same connection pool, the same pacing (rate cap and 429 pauses) and the same
        journal-free state; closing it does not close the pool (closing the original
        closes both). ``retry_policy`` replaces the whole policy (e.g.
        ``RetryPolicy(backoff_base=0)`` in tests, so that retries do not sleep);
        ``max_retries`` then applies on top of it.
        """
        options = self._options
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
        clone = object.__new__(AsyncMindo)
        clone.__dict__.update(self.__dict__)
        clone._options = options
        clone._owns_http_client = False
        clone._state = _State.OPEN
        clone._parent = self._parent or self
        clone._build_resources()
        return clone

    def _resize_pool(self, size: int) -> None:
        # httpx's own pool is capped (see HTTPX_POOL_CAP): sends beyond it wait
        # here, without a timeout, rather than in the pool with one.
        self._connections.total_tokens = min(size, self._connections.total_tokens)

    # -- lifecycle ---------------------------------------------------------------

    async def __aenter__(self) -> AsyncMindo:
        self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client (and its HTTP client, when it built it). Idempotent.

        A copy made by ``with_options`` never closes the shared pool.
        """
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._owns_http_client:
            with anyio.CancelScope(shield=True):
                await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose`` was called (on this client, or on the one it was copied from)."""
        return self._state is _State.CLOSED or (
            self._parent is not None and self._parent._state is _State.CLOSED
        )

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
    def http_client(self) -> httpx.AsyncClient:
        """The pooled ``httpx.AsyncClient`` every request goes through."""
        return self._http

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._options.policy

    @property
    def rate_limiter(self) -> RateLimiter:
        """The per-phone-number rate limiter shared by every send of this client."""
        return self._limiter

    @property
    def pacer(self) -> Pacer:
        """The in-process pacing of this client (when ``rate_limit`` is a number or ``None``)."""
        if not isinstance(self._limiter, LocalRateLimiter):
            raise ConfigurationError(
                "this client's rate_limit is a shared RateLimiter: use rate_limiter"
            )
        return self._limiter.pacer

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"<AsyncMindo base_url={self._options.base_url!r} api_key=<hidden> {state}>"

    def _ensure_open(self) -> None:
        if self._state is _State.CLOSED or (
            self._parent is not None and self._parent._state is _State.CLOSED
        ):
            raise ClientClosedError("this AsyncMindo client is closed; create a new one")

    def _ensure_usable(self) -> None:
        """Before every request: open, and in the event loop of its first request."""
        if self._state is _State.CLOSED or (
            self._parent is not None and self._parent._state is _State.CLOSED
        ):
            # As _ensure_open (written out: this runs before every request).
            self._ensure_open()
        # The pool's connections belong to the event loop they were opened in: a
        # second loop (asyncio.run per call with one global client) would fail
        # mid-send and read like a possible delivery. Refused here, before sending.
        loop = asyncio._get_running_loop()
        if loop is not None:
            first = self._loop
            if not first:
                first.append(loop)
            elif first[0] is not loop:
                raise EventLoopMismatchError(
                    "this AsyncMindo was first used in another event loop "
                    + ("(now closed)" if first[0].is_closed() else "(still running)")
                    + "; its connections belong to that loop, so nothing was sent. Create "
                    "one AsyncMindo per event loop (e.g. inside the function given to "
                    "asyncio.run, or in your app's lifespan), or use the sync client Mindo"
                )

    # -- one send ------------------------------------------------------------------

    async def send(
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

        Raises ``InvalidRequestError`` before any I/O for bad input, an ``APIError``
        subclass when the API refuses, ``APIConnectionError`` when the request
        provably never reached the API, and ``DeliveryUnknownError`` when the
        message may have been delivered.
        """
        return await self.send_request(
            SendRequest(
                phone_number_id=phone_number_id,
                template_name=template_name,
                recipient_phone=recipient_phone,
                language=language,
                variables=variables,
                button_variables=button_variables,
            )
        )

    async def send_request(self, request: SendRequest) -> SentMessage:
        """Send one ``SendRequest``; the same promises as ``send``."""
        self._ensure_open()
        return await self.messages.send_request(request)

    # -- pre-flight ----------------------------------------------------------------

    @property
    def account_cache_ttl(self) -> float:
        """Seconds for which ``preflight`` reuses the last business-accounts answer."""
        return self._account_cache_ttl

    async def preflight(self, requests: Requests) -> PreflightReport:
        """Check a campaign against the account before sending anything.

        Takes what ``send_many`` takes (read once; memory follows the number of
        distinct recipients) and returns a ``PreflightReport``: per request,
        unknown templates or languages, missing or unknown variables, media
        values that are not ``https://`` URLs; per phone number, unknown numbers,
        ``can_send`` false, and more distinct recipients than the quota has
        left. The account comes from ``business_accounts.get(max_age=account_cache_ttl)``.
        Each request is checked as it will be sent: with ``default_region``, a
        national-format ``recipient_phone`` is read in its E.164 form.
        """
        self._ensure_open()
        accounts = await self.business_accounts.get(max_age=self._account_cache_ttl)
        return await check_campaign_async(
            accounts, _fresh(requests), default_region=self._options.default_region
        )

    @asynccontextmanager
    async def _checked_stream(
        self,
        source: Callable[[], Iterable[SendRequest] | AsyncIterable[SendRequest]],
        **options: Any,
    ) -> AsyncIterator[ResultStream]:
        report = await self.preflight(source)
        if not report.ok:
            raise PreflightError(report)
        async with stream_many(self._requester, source(), **options) as stream:
            yield stream

    # -- many sends ----------------------------------------------------------------

    def stream_many(
        self,
        requests: Requests,
        *,
        concurrency: int = 32,
        dedupe: bool = True,
        journal: str | os.PathLike[str] | Journal | AsyncJournal | None = None,
        retry_unknown: bool = False,
        key: Callable[[SendRequest], str] | None = None,
        on_progress: ProgressCallback | None = None,
        preflight: bool = False,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ) -> AbstractAsyncContextManager[ResultStream]:
        """Send many requests concurrently; yields one ``SendResult`` each, in completion order.

        ``async with mindo.stream_many(requests) as stream: async for result in stream: ...``
        (iterating without ``async with`` is a ``TypeError``). ``requests`` is consumed
        lazily, so memory stays proportional to ``concurrency``. See ``send_many`` for
        the options; with ``preflight=True`` entering the block raises
        ``PreflightError`` when the pre-flight finds a problem.

        Leaving the block early (``break``, an exception) loses no outcome: no new
        request is pulled, the sends on the wire finish (those still running after
        ``drain_timeout`` seconds are cancelled and reported ``UNKNOWN``), and every
        result not read is in ``stream.unread`` after the block (journaled too, with
        a journal). A cancelled caller does not wait: what is in flight is cancelled
        at once and reported the same way.
        """
        self._ensure_open()
        options: dict[str, Any] = {
            "concurrency": concurrency,
            "dedupe": dedupe,
            "journal": journal,
            "retry_unknown": retry_unknown,
            "key": key,
            "on_progress": on_progress,
            "drain_timeout": drain_timeout,
            "default_region": self._options.default_region,
        }
        if preflight:
            return StreamManyContext(self._checked_stream(_reiterable(requests), **options))
        return stream_many(self._requester, _fresh(requests), **options)

    async def send_many(
        self,
        requests: Requests,
        *,
        concurrency: int = 32,
        dedupe: bool = True,
        journal: str | os.PathLike[str] | Journal | AsyncJournal | None = None,
        retry_unknown: bool = False,
        key: Callable[[SendRequest], str] | None = None,
        on_progress: ProgressCallback | None = None,
        preflight: bool = False,
    ) -> list[SendResult]:
        """Send many requests concurrently; return one ``SendResult`` each, in input order.

        Args:
            requests: Any iterable or async iterable of ``SendRequest``, or a callable
                returning a fresh one.
            concurrency: How many sends are in flight at once.
            dedupe: Send identical requests of this run once; repeats are ``SKIPPED``.
            journal: A SQLite file, a ``Journal`` or an ``AsyncJournal`` (such as
                ``mindo_async.redis.RedisJournal``, shared by many processes) that
                records every request before and after it is sent, so that running
                the campaign again skips what was sent (or may have been) and sends
                the rest, and two workers given the same request send it once.
            retry_unknown: With a journal, send again what an earlier run left ``UNKNOWN``.
            key: The journal key of a request; default a stable hash of its fields.
            on_progress: Called with a ``Progress`` snapshot after every result.
            preflight: Check the campaign first (see ``preflight``) and raise
                ``PreflightError``, sending nothing, when anything is wrong. The input
                is then read twice, so it must be re-iterable: a sequence (or other
                collection), or a callable returning a fresh iterable; a generator or
                iterator raises ``TypeError``.

        If iterating ``requests`` raises, no more requests are read, those already
        read are finished, and that exception is raised with their results (in
        input order) in its ``send_results`` attribute: what was sent is never lost
        track of.
        """
        results: list[SendResult] = []
        async with self.stream_many(
            requests,
            concurrency=concurrency,
            dedupe=dedupe,
            journal=journal,
            retry_unknown=retry_unknown,
            key=key,
            on_progress=on_progress,
            preflight=preflight,
        ) as stream:
            try:
                async for result in stream:
                    results.append(result)
            except Exception as exc:
                # The caller's iterable failed (raised once every request read from it
                # has its result): the error carries those results.
                results.sort(key=_by_index)
                exc.send_results = results  # type: ignore[attr-defined]
                if hasattr(exc, "add_note"):  # Python 3.11+
                    exc.add_note(
                        f"mindo_async: {len(results)} request(s) read before this error "
                        "have their results in this exception's send_results"
                    )
                raise
        results.sort(key=_by_index)
        return results


def _fresh(requests: Requests) -> Iterable[SendRequest] | AsyncIterable[SendRequest]:
    """The requests themselves: a callable is called for a fresh iterable."""
    if callable(requests) and not isinstance(requests, (Iterable, AsyncIterable)):
        return requests()
    return requests


def _reiterable(
    requests: Requests,
) -> Callable[[], Iterable[SendRequest] | AsyncIterable[SendRequest]]:
    """A callable giving a fresh iterable each time; ``TypeError`` for one-shot input."""
    if isinstance(requests, Collection) and not isinstance(requests, (str, bytes)):
        collection = requests
        return lambda: collection
    if callable(requests) and not isinstance(requests, (Iterable, AsyncIterable)):
        return requests
    raise TypeError(
        "preflight=True must read the requests twice (check, then send): pass a sequence "
        "(a list or tuple) or a callable returning a fresh iterable, not "
        f"{type(requests).__name__} (a generator or iterator can be read only once)"
    )


def _by_index(result: SendResult) -> int:
    return result.index
