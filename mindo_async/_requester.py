"""The requester: the one retry loop for every endpoint, and its fast path.

Every request of the library goes through ``Requester._call``: it builds the
HTTP request from the endpoint table, paces sends per phone number, takes a
connection slot, sends, classifies what happened with the sans-I/O core
(``_protocol``), and retries by the endpoint's idempotency (``_retry``).
Resources (``resources/``) and the fan-out (``_fanout``) call it; neither knows
about HTTP.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlencode

import anyio
import anyio.lowlevel
import httpx

from ._answer import DEFAULT_MAX_BODY_OTHER, DEFAULT_MAX_BODY_POST
from ._config import PRODUCTION_HOST
from ._conversion import encode_request
from ._endpoints import SEND, Endpoint
from ._errors import (
    ClientClosedError,
    DeliveryUnknownError,
    InvalidResponseError,
    MindoError,
    RateLimitError,
    _RequestContext,
)
from ._models import SendRequest, SentMessage
from ._protocol import (
    FailureKind,
    build_headers,
    classify_exception,
    error_for_failure,
    error_for_response,
    interpret_response,
    loads_json,
    mask_phone,
    redact,
)
from ._ratelimit import LocalRateLimiter, Priority, RateLimiter
from ._retry import RetryPolicy, settle
from ._transport import (
    AutoTransport,
    client_routing_is_patched,
    refuse_unintercepted_production,
)

# unasync: async only
if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport
# unasync: end

logger = logging.getLogger("mindo_async")

_T = TypeVar("_T")


class Answer(Protocol):
    """What the requester reads of an answer: an ``httpx.Response``, or the
    aiohttp transport's own ``Answer`` on the fast path."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


#: What an answer means: the result, or the error (returned, not raised).
Interpret = Callable[[Answer, int], "_T | MindoError"]

QueryValue = str | int | float | None


class Flight:
    """Where one delivery stands, for a caller that may be cancelled mid-way."""

    __slots__ = ("ambiguous_before", "attempts", "before_send", "marked", "maybe_sent", "priority")

    def __init__(
        self,
        priority: Priority = Priority.SINGLE,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.attempts = 0
        self.maybe_sent = False
        self.ambiguous_before = False
        #: Who asks for the sending slot (single sends go before fan-out ones).
        self.priority = priority
        #: Awaited once, just before the first byte can leave (the journal's
        #: "in flight"); it raises to stop the send.
        self.before_send = before_send
        #: Whether ``before_send`` returned.
        self.marked = False

    def wrote(self) -> None:
        """The transport starts writing the request: from now on it may be sent."""
        self.maybe_sent = True


class _FirstByte:
    """httpcore's ``trace`` callback: marks the flight "maybe sent" when the request's
    head starts being written (on the API's connection, or to a proxy)."""

    __slots__ = ("flight",)

    def __init__(self, flight: Flight) -> None:
        self.flight = flight

    async def __call__(self, name: str, info: Mapping[str, Any]) -> None:
        if name.endswith("send_request_headers.started"):
            self.flight.maybe_sent = True


class Deliverer(Protocol):
    """What the fan-out needs of a client: deliver one validated send, keeping a ``Flight``."""

    async def deliver(
        self, request: SendRequest, flight: Flight | None = None
    ) -> tuple[SentMessage, int]:
        """Send ``request`` with retries; return the message and the attempts made."""
        ...


def same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    """Whether ``url`` has the scheme, host and port of ``base`` (default ports filled in)."""
    return (
        url.scheme == base.scheme
        and url.host == base.host
        and (url.port or _DEFAULT_PORTS.get(url.scheme))
        == (base.port or _DEFAULT_PORTS.get(base.scheme))
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


class Requester:
    """Sends requests to any endpoint of the table with the library's retry rules.

    ``transport``, when given, is the transport of the client the library built
    itself (no auth, hooks or redirects): requests are handed to it directly,
    which skips ``AsyncClient.send``'s bookkeeping on the hot path. A caller's
    own ``http_client`` is always used through ``AsyncClient.send``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        timeout: httpx.Timeout,
        policy: RetryPolicy,
        limiter: RateLimiter,
        connections: anyio.CapacityLimiter,
        transport: httpx.AsyncBaseTransport | None,
        ensure_open: Callable[[], None],
        default_region: str | None = None,
    ) -> None:
        self._http = http
        #: The region national phone numbers are read in, or ``None`` (E.164 only).
        self.default_region = default_region
        # Under pytest, a request to the production API must be intercepted.
        self._production = httpx.URL(base_url).host == PRODUCTION_HOST
        self._base_url = base_url
        self._base = httpx.URL(base_url)
        self._api_key = api_key
        self._policy = policy
        self._limiter = limiter
        self._local = limiter if type(limiter) is LocalRateLimiter else None
        self._connections = connections
        self._transport = transport
        #: Raises ``ClientClosedError`` once the client is closed.
        self.ensure_open = ensure_open
        # Every request of one method has the same headers and timeouts: merge them
        # with the client's own (base headers, params, cookies) once, here, instead of
        # in build_request for every request. A body sets its own Content-Length.
        headers = build_headers(api_key)
        send = http.build_request("POST", base_url + SEND.path, headers=headers, timeout=timeout)
        self._send_url = send.url
        self._post_headers = send.headers
        self._post_headers.pop("Content-Length", None)
        self._extensions = send.extensions
        read_headers = {k: v for k, v in headers.items() if k != "Content-Type"}
        self._get_headers = http.build_request(
            "GET", base_url + SEND.path, headers=read_headers, timeout=timeout
        ).headers
        # unasync: async only
        # The same, for the aiohttp fast path (which sets Content-Length itself).
        self._post_headers_list = self._post_headers.multi_items()
        self._get_headers_list = self._get_headers.multi_items()
        self._timeouts: Mapping[str, float | None] = self._extensions["timeout"]
        self._deadline = self._timeouts.get("read")
        #: What the fast path hands to its transport on every request, prepared by
        #: it once: (transport, POST headers, GET headers, timeouts).
        self._prepared: tuple[AiohttpTransport, Any, Any, Any] | None = None
        #: anyio's checkpoint, the event loop's own once the fast path (asyncio) is
        #: taken: without looking the running library up again on every request.
        self._checkpoint: Callable[[], Awaitable[None]] = anyio.lowlevel.checkpoint_if_cancelled
        # unasync: end

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The pooled client every request goes through."""
        return self._http

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._policy

    def url_for(
        self,
        endpoint: Endpoint,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, QueryValue] | None = None,
    ) -> httpx.URL:
        """The absolute URL of ``endpoint``: path parameters encoded, ``None`` params dropped."""
        url = self._base_url + endpoint.format_path(path_params)
        if params:
            query = {k: v for k, v in params.items() if v is not None}
            if query:
                url += "?" + urlencode(query)
        return httpx.URL(url)

    def checked_url(self, url: str, endpoint: Endpoint) -> httpx.URL:
        """``url`` (a link the server supplied) if it is on ``base_url``'s origin.

        Anything else is refused without a request: the API key never travels
        to a URL the server supplied elsewhere.
        """
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise self._refused(endpoint, f"the server gave an invalid link {url!r}") from exc
        if not same_origin(parsed, self._base):
            raise self._refused(
                endpoint,
                f"the server gave a link to another origin ({parsed.scheme}://{parsed.host}"
                f"{':' + str(parsed.port) if parsed.port else ''}); not followed, so the API key "
                "is not sent there",
            )
        return parsed

    @staticmethod
    def _refused(endpoint: Endpoint, message: str) -> InvalidResponseError:
        error = InvalidResponseError(message, status_code=200)
        error.endpoint = endpoint
        return error

    # -- the public entry points -----------------------------------------------------

    async def deliver(
        self, request: SendRequest, flight: Flight | None = None
    ) -> tuple[SentMessage, int]:
        """Send a validated ``request`` with retries; return the message and the attempts made.

        ``flight``, when given, is kept up to date: ``attempts`` made so far, and
        ``maybe_sent`` while a request is on the wire or after an ambiguous failure,
        so that a caller cancelled mid-way knows whether anything may have left.
        """

        def interpret(response: Answer, attempts: int) -> SentMessage | MindoError:
            return interpret_response(
                response.status_code,
                response.headers,
                redact(response.content, self._api_key),
                request=request,
                attempts=attempts,
            )

        return await self._call(
            SEND,
            self._send_url,
            interpret,
            body=encode_request(request),
            request=request,
            pace_key=request.phone_number_id,
            flight=flight,
            log_to=request.recipient_phone,
        )

    async def get_json(
        self,
        endpoint: Endpoint,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, QueryValue] | None = None,
        url: str | None = None,
        request: object = None,
    ) -> Any:
        """GET ``endpoint`` (or ``url``, a link on the base URL's origin); its decoded JSON."""
        target = (
            self.checked_url(url, endpoint)
            if url is not None
            else self.url_for(endpoint, path_params, params)
        )
        result, _ = await self._call(
            endpoint, target, self._json_interpreter(endpoint, request), request=request
        )
        return result

    async def post_json(self, endpoint: Endpoint, *, body: bytes, request: object) -> Any:
        """POST ``body`` to ``endpoint`` with its retry rules; the decoded JSON of the 2xx.

        An ambiguous failure is never retried here, whatever ``retry_ambiguous``
        says: that option is for single sends, and a repeated ``send-bulk``
        would message every recipient twice.
        """
        result, _ = await self._call(
            endpoint,
            self.url_for(endpoint),
            self._json_interpreter(endpoint, request),
            body=body,
            request=request,
            retry_ambiguous=False,
        )
        return result

    def _json_interpreter(self, endpoint: Endpoint, request: object) -> Interpret[Any]:
        def interpret(response: Answer, attempts: int) -> Any:
            content = redact(response.content, self._api_key)
            status = response.status_code
            if 200 <= status < 300:
                try:
                    return loads_json(content)
                except ValueError:
                    pass  # not JSON: error_for_response says so
            return error_for_response(
                status,
                response.headers,
                content,
                request=request,
                attempts=attempts,
                idempotent=endpoint.idempotent,
            )

        return interpret

    # -- the loop ----------------------------------------------------------------------

    async def _call(
        self,
        endpoint: Endpoint,
        url: httpx.URL,
        interpret: Interpret[_T],
        *,
        body: bytes | None = None,
        request: object = None,
        pace_key: str | None = None,
        flight: Flight | None = None,
        log_to: str | None = None,
        retry_ambiguous: bool | None = None,
    ) -> tuple[_T, int]:
        # ``retry_ambiguous=False`` overrides the policy: an ambiguous failure is final.
        debug = logger.isEnabledFor(logging.DEBUG)
        idempotent = endpoint.idempotent
        if self._production:
            refuse_unintercepted_production(self._http, self._transport)
        attempts = 0
        # The first failure after which the request may have been processed: from then
        # on the end can only be a success or "unknown" (see _retry.settle).
        earlier: DeliveryUnknownError | None = None
        try:
            while True:
                self.ensure_open()
                if self._http.is_closed:
                    # httpx would raise a RuntimeError that reads like a failed send.
                    raise ClientClosedError(
                        "the http_client given to AsyncMindo was closed by its owner; "
                        "nothing was sent"
                    )
                if pace_key is not None and not self._unpaced(pace_key):
                    paused = await self._limiter.paused_for(pace_key)
                    if paused > self._policy.max_retry_after:
                        # The API asked for a longer pause than we wait: fail fast, send nothing.
                        refused = RateLimitError(
                            f"phone number {pace_key} is paused for {paused:.0f} s more at the "
                            "API's request (Retry-After); not sent",
                            status_code=429,
                            attempts=attempts,
                            request=request,
                            retry_after=paused,
                        )
                        raise self._annotated(refused, endpoint, url)
                    await self._limiter.acquire(
                        pace_key, Priority.SINGLE if flight is None else flight.priority
                    )
                attempts += 1
                error: MindoError
                # A cancelled caller sends nothing (as anyio's acquire would ensure), but
                # a free slot is taken without acquire's extra trip through the event
                # loop: the send that follows yields anyway (issue 6, benchmarks/).
                # unasync: async only
                await self._checkpoint()
                # unasync: end
                # No cap on connections (the default on aiohttp): no slot to take.
                capped = self._connections.total_tokens != math.inf
                if capped:
                    try:
                        self._connections.acquire_nowait()
                    except anyio.WouldBlock:
                        await self._connections.acquire()
                try:
                    if flight is not None and not flight.marked and flight.before_send is not None:
                        # The journal's "in flight": the pacing slot and the connection
                        # slot are ours, and the request leaves next.
                        await flight.before_send()
                        flight.marked = True
                    started = time.perf_counter()
                    if flight is not None:
                        flight.attempts = attempts
                        # Not on the wire until the transport says it starts writing
                        # (``_send`` marks it at once for a transport that does not
                        # tell): a cancellation while it connects (or waits for a
                        # connection) leaves the request "never sent".
                        flight.maybe_sent = flight.ambiguous_before
                    try:
                        response = await self._send(endpoint, url, body, flight)
                    except MindoError:
                        # Raised by this library before anything left (a misused transport).
                        if flight is not None:
                            flight.maybe_sent = flight.ambiguous_before
                        raise
                    except Exception as exc:
                        failure = classify_exception(exc)
                        error = error_for_failure(
                            failure, request=request, attempts=attempts, idempotent=idempotent
                        )
                        error.__cause__ = exc
                        if flight is not None and failure.kind is not FailureKind.MAYBE_SENT:
                            flight.maybe_sent = flight.ambiguous_before
                        if failure.kind is not FailureKind.MAYBE_SENT and self._pool_closed():
                            # aclose() ran while this request waited for a connection:
                            # it never left, and nothing more will be sent.
                            error = ClientClosedError(
                                "the client was closed before this request was sent; "
                                "nothing was sent"
                            )
                            error.__cause__ = exc
                        if debug:
                            self._log(
                                endpoint, attempts, started, None, failure.description, log_to
                            )
                    else:
                        outcome = interpret(response, attempts)
                        if debug:
                            self._log(
                                endpoint, attempts, started, response.status_code, None, log_to
                            )
                        if not isinstance(outcome, MindoError):
                            return outcome, attempts
                        error = outcome
                        if flight is not None and not isinstance(error, DeliveryUnknownError):
                            # The server answered and did not process it.
                            flight.maybe_sent = flight.ambiguous_before
                finally:
                    if capped:
                        self._connections.release()
                self._annotated(error, endpoint, url)
                if isinstance(error, DeliveryUnknownError):
                    if earlier is None:
                        earlier = error
                    if flight is not None:
                        flight.ambiguous_before = True
                if (
                    pace_key is not None
                    and isinstance(error, RateLimitError)
                    and error.retry_after is not None
                ):
                    # Refused before processing: every sender of this number waits (or,
                    # past max_retry_after, fails fast without sending; see above).
                    await self._limiter.pause(pace_key, error.retry_after)
                    logger.warning(
                        "429 from the API: phone number %s paused for %.1f s",
                        pace_key,
                        error.retry_after,
                        extra={
                            "mindo_event": "rate_limit_pause",
                            "phone_number_id": pace_key,
                            "retry_after": error.retry_after,
                        },
                    )
                if retry_ambiguous is False and isinstance(error, DeliveryUnknownError):
                    self._log_failure(endpoint, error, attempts, log_to)
                    raise error
                delay = self._policy.delay_before_retry(error, attempts, idempotent=idempotent)
                if delay is None:
                    self._log_failure(endpoint, error, attempts, log_to)
                    raise error
                if debug:
                    logger.debug("retrying in %.3fs after %s", delay, type(error).__name__)
                await anyio.sleep(delay)
        except MindoError as exc:
            settled = settle(exc, earlier)
            if settled is exc:
                raise
            raise self._annotated(settled, endpoint, url) from exc

    @staticmethod
    def _annotated(error: MindoError, endpoint: Endpoint, url: httpx.URL) -> MindoError:
        if isinstance(error, _RequestContext):
            error.endpoint = endpoint
            # Without the query: it may hold a phone number.
            error.url = str(url.copy_with(query=None))
        return error

    def _unpaced(self, number: str) -> bool:
        """Whether ``number`` may send now without asking the limiter: the in-process
        limiter with no cap, and no pause in force (two dict lookups, no await)."""
        local = self._local
        return local is not None and local.pacer.unpaced(number)

    def _pool_closed(self) -> bool:
        """Whether the HTTP client was closed (read afresh: it changes while we wait)."""
        return self._http.is_closed

    def _reports_first_byte(self) -> bool:
        """Whether the transport in use tells when it starts writing a request.

        httpx's own transport (httpcore) does, through the ``trace`` extension;
        so does any transport with a true ``reports_first_byte`` attribute, which
        promises to call ``request.extensions["trace"]`` with an event name ending
        in ``send_request_headers.started`` (and to await it) before it writes a
        byte of the request. Other transports (httpx-aiohttp's, a caller's own
        client) are taken to write as soon as they are called.
        """
        transport = self._transport
        if isinstance(transport, AutoTransport):
            transport = transport.inner
        if transport is None or client_routing_is_patched():
            return False
        return isinstance(transport, httpx.AsyncHTTPTransport) or bool(
            getattr(transport, "reports_first_byte", False)
        )

    # unasync: async only (aiohttp runs on asyncio: the sync client has no fast path)
    def _prepare(self, transport: AiohttpTransport) -> tuple[AiohttpTransport, Any, Any, Any]:
        """What ``_send`` hands to ``transport`` on every request, prepared once."""
        # Only asyncio runs aiohttp: from now on, its own checkpoint (anyio 4.11+).
        current_token = getattr(anyio.lowlevel, "current_token", None)
        if current_token is not None:
            self._checkpoint = current_token().backend_class.checkpoint_if_cancelled
        return (
            transport,
            transport.wire_headers(self._post_headers_list),
            transport.wire_headers(self._get_headers_list),
            transport.timeout_for(self._timeouts, self._deadline),
        )

    def _fast_transport(self) -> AiohttpTransport | None:
        """The aiohttp transport to hand requests to without httpx's objects, if any."""
        transport = self._transport
        if isinstance(transport, AutoTransport) and not client_routing_is_patched():
            return transport.aiohttp_transport()
        return None

    # unasync: end

    async def _send(
        self,
        endpoint: Endpoint,
        url: httpx.URL,
        body: bytes | None,
        flight: Flight | None = None,
    ) -> Answer:
        # unasync: async only
        fast = self._fast_transport()
        if fast is not None:
            # The library's own client on aiohttp: no httpx ``Request`` or ``Response``
            # is built (they cost about as much CPU as aiohttp's own work; issue 12,
            # benchmarks/).
            prepared = self._prepared
            if prepared is None or prepared[0] is not fast:
                prepared = self._prepared = self._prepare(fast)
            answer = await fast.exchange(
                endpoint.method,
                fast.url_for(url),
                prepared[1] if body is not None else prepared[2],
                body,
                timeout=prepared[3],
                cap=DEFAULT_MAX_BODY_POST if body is not None else DEFAULT_MAX_BODY_OTHER,
                seconds=self._deadline,
                on_write=None if flight is None else flight.wrote,
            )
            if "Content-Encoding" not in answer.headers:
                return answer
            # Compressed (httpx asks for gzip): httpx decodes it, as on its own path.
            response = httpx.Response(
                answer.status_code, headers=answer.response.raw_headers, content=answer.content
            )
            response.read()
            return response
        # unasync: end
        # The same request as Request(content=body), at a third of the cost: with
        # a stream given, httpx does not re-check and re-normalise every header.
        if body is not None:
            headers = httpx.Headers(self._post_headers)
            headers["Content-Length"] = str(len(body))
            stream = httpx.ByteStream(body)
        else:
            headers = httpx.Headers(self._get_headers)
            stream = httpx.ByteStream(b"")
        extensions = dict(self._extensions)
        if flight is not None:
            if self._reports_first_byte():
                extensions["trace"] = _FirstByte(flight)
            else:
                # No word from the transport when it writes: on the wire from now.
                flight.maybe_sent = True
        http_request = httpx.Request(
            endpoint.method,
            url,
            headers=headers,
            stream=stream,
            extensions=extensions,
        )
        http_request.read()
        transport = self._transport
        if transport is None or client_routing_is_patched():
            return await self._http.send(http_request, follow_redirects=False)
        # The client built by the library has no auth or hook and never follows
        # redirects, so AsyncClient.send would add only its cookie jar and bookkeeping,
        # which on aiohttp's pool cost about as much CPU as the send itself (issue 6,
        # benchmarks/). The transport is the one the client was built with.
        response = await transport.handle_async_request(http_request)
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response

    @staticmethod
    def _log_failure(endpoint: Endpoint, error: MindoError, attempts: int, to: str | None) -> None:
        """One WARNING for a request that failed for good (the phone number masked)."""
        masked = mask_phone(to) if to is not None else None
        logger.warning(
            "%s failed after %d attempt(s)%s: %s",
            endpoint.name,
            attempts,
            f" to {masked}" if masked else "",
            type(error).__name__,
            extra={
                "mindo_event": "request_failed",
                "endpoint": endpoint.name,
                "error": type(error).__name__,
                "status_code": getattr(error, "status_code", None),
                "attempts": attempts,
                "may_have_been_delivered": isinstance(error, DeliveryUnknownError),
                "recipient": masked,
            },
        )

    @staticmethod
    def _log(
        endpoint: Endpoint,
        attempt: int,
        started: float,
        status: int | None,
        failure: str | None,
        to: str | None,
    ) -> None:
        logger.debug(
            "%s %s status=%s elapsed=%.1fms attempt=%d%s%s",
            endpoint.method,
            endpoint.path,
            status if status is not None else "-",
            (time.perf_counter() - started) * 1000.0,
            attempt,
            f" to={mask_phone(str(to))}" if to is not None else "",
            f" failure={failure}" if failure else "",
        )
