"""``AsyncMindo``: one pooled HTTP client, safe retries, and shared pacing."""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import httpx

from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    check_api_key,
    check_base_url,
)
from ._conversion import encode_request
from ._errors import (
    ClientClosedError,
    ConfigurationError,
    DeliveryUnknownError,
    MindoError,
    RateLimitError,
)
from ._models import SendRequest, SendResult, SentMessage, VariableValue
from ._pacing import Pacer
from ._protocol import (
    SEND_PATH,
    FailureKind,
    build_headers,
    classify_exception,
    error_for_failure,
    interpret_response,
    mask_phone,
    redact,
)
from ._retry import RetryPolicy
from ._transport import TransportName, make_transport
from ._validation import validate_request

if TYPE_CHECKING:
    from ._fanout import ProgressCallback, ResultStream
    from ._journal import Journal

logger = logging.getLogger("mindo_async")


class _Flight:
    """Where one delivery stands, for a caller that may be cancelled mid-way."""

    __slots__ = ("ambiguous_before", "attempts", "maybe_sent")

    def __init__(self) -> None:
        self.attempts = 0
        self.maybe_sent = False
        self.ambiguous_before = False


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
        rate_limit: Sends per second per ``phone_number_id`` (Meta's default is 80);
            ``None`` turns the cap off.
        http_client: Your own ``httpx.AsyncClient``.
        transport: For the client built here: ``"auto"`` (aiohttp's pool under asyncio,
            httpx's under trio), ``"aiohttp"`` or ``"httpx"``.
        max_connections: Size of the connection pool; sends beyond it wait their turn
            without a pool timeout.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        retry_ambiguous: bool = False,
        rate_limit: float | None = 80.0,
        http_client: httpx.AsyncClient | None = None,
        *,
        transport: TransportName = "auto",
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._api_key = check_api_key(
            api_key if api_key is not None else os.environ.get("MINDO_API_KEY")
        )
        self._base_url = check_base_url(
            base_url or os.environ.get("MINDO_BASE_URL") or DEFAULT_BASE_URL
        )
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError("max_retries must be a whole number >= 0")
        if rate_limit is not None and not rate_limit > 0:
            raise ConfigurationError("rate_limit must be positive, or None to turn it off")
        if max_connections < 1:
            raise ConfigurationError("max_connections must be at least 1")
        if transport not in ("auto", "aiohttp", "httpx"):
            raise ConfigurationError(
                f"transport must be 'auto', 'aiohttp' or 'httpx', not {transport!r}"
            )
        if isinstance(timeout, httpx.Timeout):
            self._http_timeout = timeout
        else:
            if not timeout > 0:
                raise ConfigurationError("timeout must be a positive number of seconds")
            # Per phase, not one deadline over the attempt: a deadline cannot tell
            # "still connecting" (never sent, safe to retry) from "waiting for the
            # answer" (may have been delivered); the phase timeouts can.
            self._http_timeout = httpx.Timeout(
                timeout, connect=min(DEFAULT_CONNECT_TIMEOUT, timeout)
            )
        self._policy = RetryPolicy(max_retries=max_retries, retry_ambiguous=retry_ambiguous)
        self._pacer = Pacer(rate_limit)
        self._url = self._base_url + SEND_PATH
        self._headers = build_headers(self._api_key)
        self._owns_http_client = http_client is None
        self._connections = anyio.CapacityLimiter(max_connections)
        if http_client is None:
            limits = httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=30.0,
            )
            http_client = httpx.AsyncClient(
                transport=make_transport(transport, limits, self._resize_pool),
                timeout=self._http_timeout,
                follow_redirects=False,
                trust_env=True,
            )
        elif transport != "auto":
            raise ConfigurationError("give either http_client or transport, not both")
        self._http = http_client
        # Every send has the same URL, headers and timeouts: merge them with the
        # client's own (base headers, params, cookies) once, here, instead of in
        # build_request for every send. The body sets its own Content-Length.
        template = http_client.build_request(
            "POST", self._url, headers=self._headers, timeout=self._http_timeout
        )
        self._send_url = template.url
        self._send_headers = template.headers
        self._send_headers.pop("Content-Length", None)
        self._send_extensions = template.extensions
        self._state = _State.OPEN

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
        """Close the client (and its HTTP client, when it built it). Idempotent."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._owns_http_client:
            with anyio.CancelScope(shield=True):
                await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """Whether ``aclose`` was called."""
        return self._state is _State.CLOSED

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._base_url

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The pooled ``httpx.AsyncClient`` every request goes through."""
        return self._http

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._policy

    @property
    def pacer(self) -> Pacer:
        """The per-phone-number pacing shared by every send of this client."""
        return self._pacer

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"<AsyncMindo base_url={self._base_url!r} api_key=<hidden> {state}>"

    def _ensure_open(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosedError("this AsyncMindo client is closed; create a new one")

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
        message, _ = await self._deliver(validate_request(request))
        return message

    async def _post(self, body: bytes) -> httpx.Response:
        # The same request as Request(content=body), at a third of the cost: with
        # a stream given, httpx does not re-check and re-normalise every header.
        headers = httpx.Headers(self._send_headers)
        headers["Content-Length"] = str(len(body))
        http_request = httpx.Request(
            "POST",
            self._send_url,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions=dict(self._send_extensions),
        )
        http_request.read()
        client = self._http
        if (
            not self._owns_http_client
            or client.auth is not None
            or client.event_hooks["request"]
            or client.event_hooks["response"]
        ):
            return await client.send(http_request, follow_redirects=False)
        # The client built here has no auth or hook (checked above) and never follows
        # redirects, so AsyncClient.send would add only its cookie jar and bookkeeping,
        # which on aiohttp's pool cost about as much CPU as the send itself (issue 6,
        # benchmarks/). The request, the transport the client picks for the URL (its
        # pool, or a proxy's from the environment), and the answer are the same. A
        # caller's own http_client always goes through AsyncClient.send.
        pool = client._transport_for_url(http_request.url)
        response = await pool.handle_async_request(http_request)
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response

    async def _deliver(
        self, request: SendRequest, flight: _Flight | None = None
    ) -> tuple[SentMessage, int]:
        """Send a validated request with retries; return the message and the attempts made.

        ``flight``, when given, is kept up to date: ``attempts`` made so far, and
        ``maybe_sent`` while a request is on the wire or after an ambiguous failure,
        so that a caller cancelled mid-way knows whether anything may have left.
        """
        body = encode_request(request)
        number = request.phone_number_id
        debug = logger.isEnabledFor(logging.DEBUG)
        attempts = 0
        while True:
            self._ensure_open()
            if self._http.is_closed:
                # httpx would raise a RuntimeError that reads like a failed send.
                raise ClientClosedError(
                    "the http_client given to AsyncMindo was closed by its owner; nothing was sent"
                )
            paused = self._pacer.paused_for(number)
            if paused > self._policy.max_retry_after:
                # The API asked for a longer pause than we wait: fail fast, send nothing.
                raise RateLimitError(
                    f"phone number {number} is paused for {paused:.0f} s more at the API's "
                    "request (Retry-After); not sent",
                    status_code=429,
                    attempts=attempts,
                    request=request,
                    retry_after=paused,
                )
            attempts += 1
            await self._pacer.acquire(number)
            error: MindoError
            # A cancelled caller sends nothing (as anyio's acquire would ensure), but
            # a free slot is taken without acquire's extra trip through the event
            # loop: the send that follows yields anyway (issue 6, benchmarks/).
            await anyio.lowlevel.checkpoint_if_cancelled()
            try:
                self._connections.acquire_nowait()
            except anyio.WouldBlock:
                await self._connections.acquire()
            try:
                started = time.perf_counter()
                if flight is not None:
                    flight.attempts = attempts
                    flight.maybe_sent = True
                try:
                    response = await self._post(body)
                except MindoError:
                    # Raised by this library before anything left (a misused transport).
                    if flight is not None:
                        flight.maybe_sent = flight.ambiguous_before
                    raise
                except Exception as exc:
                    failure = classify_exception(exc)
                    error = error_for_failure(failure, request=request, attempts=attempts)
                    error.__cause__ = exc
                    if flight is not None and failure.kind is not FailureKind.MAYBE_SENT:
                        flight.maybe_sent = flight.ambiguous_before
                    if debug:
                        self._log(request, attempts, started, None, failure.description)
                else:
                    outcome = interpret_response(
                        response.status_code,
                        response.headers,
                        redact(response.content, self._api_key),
                        request=request,
                        attempts=attempts,
                    )
                    if debug:
                        self._log(request, attempts, started, response.status_code, None)
                    if isinstance(outcome, SentMessage):
                        return outcome, attempts
                    error = outcome
                    if flight is not None and not isinstance(error, DeliveryUnknownError):
                        # The server answered and did not process it.
                        flight.maybe_sent = flight.ambiguous_before
            finally:
                self._connections.release()
            if flight is not None and isinstance(error, DeliveryUnknownError):
                flight.ambiguous_before = True
            if isinstance(error, RateLimitError) and error.retry_after is not None:
                # Refused before processing: every sender of this number waits (or,
                # past max_retry_after, fails fast without sending; see above).
                self._pacer.pause(number, error.retry_after)
            delay = self._policy.delay_before_retry(error, attempts)
            if delay is None:
                raise error
            if debug:
                logger.debug("retrying in %.3fs after %s", delay, type(error).__name__)
            await anyio.sleep(delay)

    def _log(
        self,
        request: SendRequest,
        attempt: int,
        started: float,
        status: int | None,
        failure: str | None,
    ) -> None:
        logger.debug(
            "POST %s status=%s elapsed=%.1fms attempt=%d to=%s%s",
            SEND_PATH,
            status if status is not None else "-",
            (time.perf_counter() - started) * 1000.0,
            attempt,
            mask_phone(str(request.recipient_phone)),
            f" failure={failure}" if failure else "",
        )

    # -- many sends ----------------------------------------------------------------

    def stream_many(
        self,
        requests: Iterable[SendRequest] | AsyncIterable[SendRequest],
        *,
        concurrency: int = 32,
        dedupe: bool = True,
        journal: str | os.PathLike[str] | Journal | None = None,
        retry_unknown: bool = False,
        key: Callable[[SendRequest], str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AbstractAsyncContextManager[ResultStream]:
        """Send many requests concurrently; yields one ``SendResult`` each, in completion order.

        ``async with mindo.stream_many(requests) as stream: async for result in stream: ...``.
        ``requests`` is consumed lazily, so memory stays proportional to ``concurrency``.
        See ``send_many`` for the options.
        """
        from ._fanout import stream_many

        self._ensure_open()
        return stream_many(
            self,
            requests,
            concurrency=concurrency,
            dedupe=dedupe,
            journal=journal,
            retry_unknown=retry_unknown,
            key=key,
            on_progress=on_progress,
        )

    async def send_many(
        self,
        requests: Iterable[SendRequest] | AsyncIterable[SendRequest],
        *,
        concurrency: int = 32,
        dedupe: bool = True,
        journal: str | os.PathLike[str] | Journal | None = None,
        retry_unknown: bool = False,
        key: Callable[[SendRequest], str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> list[SendResult]:
        """Send many requests concurrently; return one ``SendResult`` each, in input order.

        Args:
            requests: Any iterable or async iterable of ``SendRequest``.
            concurrency: How many sends are in flight at once.
            dedupe: Send identical requests of this run once; repeats are ``SKIPPED``.
            journal: A SQLite file (or a ``Journal``) that records every request before
                and after it is sent, so that running the campaign again skips what
                was sent (or may have been) and sends the rest.
            retry_unknown: With a journal, send again what an earlier run left ``UNKNOWN``.
            key: The journal key of a request; default a stable hash of its fields.
            on_progress: Called with a ``Progress`` snapshot after every result.
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
        ) as stream:
            async for result in stream:
                results.append(result)
        results.sort(key=_by_index)
        return results


def _by_index(result: SendResult) -> int:
    return result.index
