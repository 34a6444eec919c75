"""An ``httpx`` transport over one ``aiohttp.ClientSession`` (asyncio only).

It replaces httpx-aiohttp, whose exception map reports "the server read the
whole POST, then dropped the connection" as ``httpx.ConnectTimeout``. Here
every aiohttp exception is mapped where it is raised, by the phase it was
raised in: before a connection was obtained nothing was written, so it is a
``ConnectError``/``ConnectTimeout`` (never sent); after, it is a
``RemoteProtocolError``/``ReadError``/``ReadTimeout`` (may have been sent).
The aiohttp exception stays as ``__cause__``.

On the aiohttp versions it is tested on (``_LEAN_VERSIONS``), a request is
built and sent by ``_lean_request`` (aiohttp's ``ClientRequest``, the pool,
``send``, ``start``) rather than by ``ClientSession.request``, whose cookies,
redirects, proxies, auth, middlewares and traces this transport never uses and
which cost about as much CPU as the request itself; both paths are tested to
write the same bytes and fail the same way (tests/core/test_aiohttp_paths.py).

It also bounds every answer (``_answer``: a body cap and one deadline after
the request is written), never reuses a pooled connection on which the
server sent bytes or a close while it was idle, and keeps idle connections
for ``KEEPALIVE_EXPIRY`` seconds only.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import select
import ssl
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import aiohttp
import httpx
import yarl
from aiohttp import client_exceptions as aio
from aiohttp import hdrs
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.helpers import TimerNoop
from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict

from ._answer import (
    KEEPALIVE_EXPIRY,
    TransportClosedError,
    deadline,
    deadline_passed,
    max_body,
    too_large,
)
from ._config import default_ssl_context

#: How often requests are checked against their deadline (seconds): a deadline
#: ends the request at most this much later. One timer for all requests, not one each.
SWEEP_INTERVAL = 0.05


class _Flight:
    """One request in this transport: whether it has a connection, and its deadline."""

    __slots__ = (
        "connected",
        "deadline",
        "due",
        "on_write",
        "owner",
        "protocol",
        "reused_after",
        "stopped_by",
        "task",
        "trace",
    )

    def __init__(
        self,
        owner: AiohttpTransport,
        seconds: float | None,
        task: asyncio.Task[Any] | None,
        trace: Any = None,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        self.owner = owner
        self.deadline = seconds
        self.task = task
        #: The request's ``trace`` extension, told when the request starts being written.
        self.trace = trace
        #: Called (not awaited) when the request starts being written.
        self.on_write = on_write
        self.connected = False
        #: ``loop.time()`` past which the answer is late, once the request is written.
        self.due: float | None = None
        #: Why this transport cancelled the request's task: "closed" or "deadline".
        self.stopped_by: str | None = None
        self.protocol: _Handler | None = None
        #: How long the pooled connection had been idle, when one was reused.
        self.reused_after: float | None = None

    def on_connected(self, now: float) -> None:
        # From here on the request is written: it may reach the server.
        self.connected = True
        if self.deadline is not None:
            self.due = now + self.deadline
            if self.owner._sweeper is None:
                self.owner.watch_deadlines()

    def stop(self, reason: str) -> None:
        if self.stopped_by is None and self.task is not None:
            self.stopped_by = reason
            self.task.cancel()


#: The request in flight, for ``_Connector.connect`` when ``session.request`` calls
#: it (``_lean_request`` hands it over directly).
_FLIGHT: contextvars.ContextVar[_Flight | None] = contextvars.ContextVar(
    "mindo_async_aiohttp_flight", default=None
)


#: How long a server's idle timeout, once seen, is trusted (seconds).
LEARNED_IDLE_TTL = 300.0


class _Handler(ResponseHandler):
    """aiohttp's protocol, telling its pool when the server closed it while it sat idle."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, owner: weakref.ref[_Connector] | None = None
    ) -> None:
        super().__init__(loop)
        self.owner = owner
        #: ``loop.time()`` when its last answer was read; ``None`` while in use or new.
        self.idle_since: float | None = None
        #: Polls the connection's socket for input (registered once, when connected).
        self._poller: select.poll | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
            self._poller = poller

    def unfit(self) -> bool:
        """Whether a request must not be written on this idle connection: it is
        closed or closing, or bytes or an end-of-file wait on it (read, or unread
        on the socket)."""
        if self.should_close or not self.is_connected():
            return True
        # Connected, so the socket is still open: the descriptor polled is still its own.
        poller = self._poller
        return poller is not None and bool(poller.poll(0))

    def connection_lost(self, exc: BaseException | None) -> None:
        # self.transport is still set only when the peer closed it (aiohttp's
        # own close() clears it first).
        idle_since = self.idle_since
        if idle_since is not None and self.transport is not None and self.owner is not None:
            owner = self.owner()
            if owner is not None:
                owner.server_closed_idle(self._loop.time() - idle_since)
        super().connection_lost(exc)


class _Connector(aiohttp.TCPConnector):
    """aiohttp's pool, checking every reused connection before a request is written on it.

    A pooled connection is dropped, before anything is written on it, when the
    server closed it or wrote on it while it was idle, and when it has been idle
    longer than the server's own idle timeout as last seen (the age at which the
    server closed an idle connection, minus a margin): a request written just as
    the server closes would be lost and reported as "may have been sent".
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # aiohttp builds each connection's protocol with this factory.
        self._factory = functools.partial(  # type: ignore[assignment]
            _Handler, loop=self._loop, owner=weakref.ref(self)
        )
        #: Connections dropped because the server closed or wrote on them while idle.
        self.discarded = 0
        #: Connections dropped because they were idle about as long as the server allows.
        self.expired = 0
        self._server_idle: float | None = None
        self._server_idle_seen = 0.0

    def server_closed_idle(self, age: float) -> None:
        """Note that the server closed a connection idle for ``age`` seconds."""
        now = self._loop.time()
        current = self.reuse_limit_source()
        self._server_idle = age if current is None else min(current, age)
        self._server_idle_seen = now

    def reuse_limit_source(self) -> float | None:
        """The server's idle timeout as last seen, if seen recently."""
        if self._server_idle is None:
            return None
        if self._loop.time() - self._server_idle_seen > LEARNED_IDLE_TTL:
            self._server_idle = None
        return self._server_idle

    def _reuse_limit(self) -> float | None:
        idle = self.reuse_limit_source()
        if idle is None:
            return None
        return idle - max(0.2 * idle, 0.05)

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        return await self.connect_for(_FLIGHT.get(), req, traces, timeout)

    async def connect_for(
        self, flight: _Flight | None, req: Any, traces: Any, timeout: Any
    ) -> aiohttp.connector.Connection:
        """A connection for ``req``, fit to write on; ``flight`` learns it has one."""
        while True:
            connection = await super().connect(req, traces, timeout)
            protocol = connection.protocol
            now = self._loop.time()
            if not isinstance(protocol, _Handler):
                break
            idle_since = protocol.idle_since
            if idle_since is None:
                break
            age = now - idle_since
            if protocol.unfit():
                # The server closed it, or sent bytes nobody asked for, while it
                # sat in the pool: writing on it would lose the request (a false
                # "may have been sent") or read a stale answer. Nothing written yet.
                self.discarded += 1
                self.server_closed_idle(age)
                connection.close()
                continue
            limit = None if self._server_idle is None else self._reuse_limit()
            if limit is not None and age > limit:
                self.expired += 1
                connection.close()
                continue
            protocol.idle_since = None
            if flight is not None:
                flight.reused_after = age
            break
        if flight is not None:
            flight.protocol = protocol if isinstance(protocol, _Handler) else None
            flight.on_connected(now)
            if flight.on_write is not None:
                flight.on_write()
            if flight.trace is not None:
                # The connection is ours; aiohttp writes the request next. Told as
                # httpcore tells it, so the requester can count a cancellation
                # before this point as "never sent".
                await flight.trace("http11.send_request_headers.started", {})
        return connection


_NEVER_SENT_TIMEOUT = getattr(aio, "ConnectionTimeoutError", None)


def _never_sent(exc: BaseException) -> httpx.TransportError:
    """The httpx error for ``exc``, raised before a connection was obtained."""
    if isinstance(exc, asyncio.CancelledError):
        return TransportClosedError("the transport was closed before the request was sent")
    if isinstance(exc, aio.ClientProxyConnectionError):
        return httpx.ProxyError(str(exc))
    if isinstance(exc, aio.InvalidURL):
        return httpx.UnsupportedProtocol(str(exc) or "invalid URL")
    if _NEVER_SENT_TIMEOUT is not None and isinstance(exc, _NEVER_SENT_TIMEOUT):
        # Raised only around connector.connect(): waiting for a pooled
        # connection or opening one.
        return httpx.ConnectTimeout(str(exc) or "connect timeout")
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return httpx.ConnectTimeout(str(exc) or "connect timeout")
    if isinstance(exc, RuntimeError) or (
        type(exc) is aio.ClientConnectionError and "Connector is closed" in str(exc)
    ):
        return TransportClosedError(f"the transport is closed; the request was not sent ({exc})")
    return httpx.ConnectError(str(exc) or type(exc).__name__)


def _maybe_sent(exc: BaseException) -> httpx.TransportError:
    """The httpx error for ``exc``, raised once the request may have been written."""
    if isinstance(exc, (aio.SocketTimeoutError, aio.ServerTimeoutError)):
        return httpx.ReadTimeout(str(exc) or "read timeout")
    if isinstance(exc, aio.ServerDisconnectedError):
        return httpx.RemoteProtocolError(
            f"Server disconnected without sending a complete response ({exc})"
        )
    if isinstance(exc, (aio.ClientPayloadError, aio.ClientResponseError)):
        return httpx.RemoteProtocolError(str(exc) or type(exc).__name__)
    if isinstance(exc, asyncio.CancelledError):
        return httpx.ReadError("the transport was closed while the request was in flight")
    return httpx.ReadError(str(exc) or type(exc).__name__)


#: The aiohttp versions (major, minor) ``_lean_request`` is tested on.
_LEAN_VERSIONS = frozenset({(3, 14)})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_NO_TIMER = TimerNoop()


class _Lean:
    """What ``_lean_request`` needs besides the request: the pool, and the
    session's settings for reading answers (``set_response_params``' arguments)."""

    __slots__ = ("connector", "params")

    def __init__(self, connector: _Connector, params: dict[str, Any]) -> None:
        self.connector = connector
        self.params = params


def _lean_for(session: aiohttp.ClientSession, connector: _Connector) -> _Lean | None:
    """``_lean_request``'s settings for ``session``, or ``None`` where it must not be
    used (an aiohttp version it is not tested on)."""
    try:
        version = tuple(int(part) for part in aiohttp.__version__.split(".")[:2])
    except ValueError:
        return None
    if version not in _LEAN_VERSIONS or not getattr(session, "_retry_connection", False):
        return None
    try:
        params = {
            "read_bufsize": session._read_bufsize,
            "timeout_ceil_threshold": connector._timeout_ceil_threshold,
            "max_line_size": session._max_line_size,
            "max_field_size": session._max_field_size,
            "max_headers": session._max_headers,
        }
    except AttributeError:
        return None
    return _Lean(connector, params)


class _Prepared(CIMultiDict[str]):
    """Request headers as aiohttp's ``ClientRequest`` completes them, less the Host
    and ``Connection: keep-alive`` (which aiohttp writes the same without them).

    Built once (``AiohttpTransport.wire_headers``) and copied whole into each
    request (``_Request``), instead of merged into it again header by header.
    """


def _prepare(headers: Iterable[tuple[str, str]]) -> _Prepared:
    """``headers`` as ``_Prepared``: their order kept, aiohttp's own added after."""
    prepared = _Prepared()
    for name, value in headers:
        lower = name.lower()
        if lower == "host":
            continue  # aiohttp writes it from each request's URL
        if lower == "connection" and value.lower() == "keep-alive":
            continue  # HTTP/1.1's default: aiohttp keeps connections alive without it
        prepared.add(name, value)
    # What ClientRequest.update_auto_headers adds where the caller set none.
    for name, value in ClientRequest.DEFAULT_HEADERS.items():
        if name not in prepared:
            prepared[name] = value
    if hdrs.USER_AGENT not in prepared:
        prepared[hdrs.USER_AGENT] = SERVER_SOFTWARE
    return prepared


class _Request(ClientRequest):
    """aiohttp's request, taking prepared headers (``_Prepared``) whole."""

    _prepared = False

    def update_headers(self, headers: Any) -> None:
        if type(headers) is not _Prepared:
            super().update_headers(headers)
            return
        # What update_headers and update_auto_headers make of them: the Host
        # first, from the URL, then the headers in their order.
        host = self.url.host_port_subcomponent
        assert host is not None  # an absolute URL (_lean_allows)
        merged: CIMultiDict[str] = CIMultiDict(((hdrs.HOST, host),))
        merged.extend(headers)
        self.headers = merged
        self._prepared = True

    def update_auto_headers(self, skip_auto_headers: Any) -> None:
        if not self._prepared or skip_auto_headers is not None:
            super().update_auto_headers(skip_auto_headers)


class Answer:
    """An answer read whole: what the requester interprets (as it would an ``httpx.Response``)."""

    __slots__ = ("content", "headers", "response", "status_code")

    def __init__(self, response: aiohttp.ClientResponse, content: bytes) -> None:
        #: aiohttp's response (released: its status, headers and reason stay readable).
        self.response = response
        self.status_code: int = response.status
        #: The headers, case-insensitive.
        self.headers: Mapping[str, str] = response.headers
        self.content = content


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` over one ``aiohttp.ClientSession``.

    The session is created on the first request, in the running event loop.
    Redirects are never followed, bodies are never decompressed by aiohttp
    (httpx decodes them as it always does), and the environment is not read
    here: ``httpx.AsyncClient(trust_env=True)`` routes proxied URLs to its own
    proxy transports, and the TLS context honours ``SSL_CERT_FILE``/``SSL_CERT_DIR``.

    Args:
        max_connections: The pool's hard cap; ``None`` for no cap (the caller's
            concurrency decides).
        keepalive_expiry: Seconds an idle connection is kept.
        ssl_context: The TLS context; default httpx's (certifi, or the environment's).
    """

    #: The request's ``trace`` extension is told ("http11.send_request_headers.started")
    #: once a connection is obtained, before a byte of the request is written.
    reports_first_byte = True

    def __init__(
        self,
        *,
        max_connections: int | None = None,
        keepalive_expiry: float | None = KEEPALIVE_EXPIRY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._limit = max_connections or 0
        self._keepalive = keepalive_expiry
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._connector: _Connector | None = None
        self._closed = False
        self._flights: set[_Flight] = set()
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}
        self._urls: dict[str, yarl.URL] = {}
        self._last_url: tuple[httpx.URL, yarl.URL] | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        #: What ``_lean_request`` needs, once the session is open on an aiohttp
        #: version it is tested on; else ``None`` (``session.request`` is used).
        self._lean: _Lean | None = None
        #: The last URL ``_lean_allows`` accepted (the requester reuses its URLs).
        self._lean_url: yarl.URL | None = None

    @property
    def connector(self) -> aiohttp.TCPConnector | None:
        """aiohttp's connection pool, once the first request created it."""
        return self._connector

    def _open(self) -> aiohttp.ClientSession:
        ssl_context = self._ssl
        if ssl_context is None:
            ssl_context = default_ssl_context()
        self._connector = _Connector(
            limit=self._limit,
            limit_per_host=0,
            keepalive_timeout=self._keepalive,
            ssl=ssl_context,
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            trust_env=False,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )
        self._lean = _lean_for(self._session, self._connector)
        return self._session

    def _timeout(self, request: httpx.Request, seconds: float | None) -> aiohttp.ClientTimeout:
        return self.timeout_for(request.extensions.get("timeout"), seconds)

    def timeout_for(
        self, phases: Mapping[str, float | None] | None, deadline: float | None = None
    ) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for httpx's per-phase ones (``Timeout.as_dict()``), cached.

        ``deadline`` is the one the request is sent with (``exchange``'s
        ``seconds``): when it is no longer than the read timeout, aiohttp's read
        timeout is left out, since the deadline ends the request first.
        """
        values = phases or {}
        connect = values.get("connect")
        pool = values.get("pool")
        read = values.get("read")
        if read is not None and deadline is not None and deadline <= read:
            # Measured from the first byte written (and policed by one sweeper for
            # all requests), the deadline ends a silent answer no later than
            # aiohttp's read timeout would (measured from the last byte read): that
            # timer, rescheduled on every read, would never fire first.
            read = None
        key = (connect, pool, read)
        timeout = self._timeouts.get(key)
        if timeout is None:
            if len(self._timeouts) > 32:
                self._timeouts.clear()
            # aiohttp's "connect" covers waiting for a pooled connection and
            # opening one: httpx's pool timeout plus its connect timeout.
            waiting = None if pool is None or connect is None else pool + connect
            timeout = aiohttp.ClientTimeout(
                total=None, connect=waiting, sock_connect=connect, sock_read=read
            )
            self._timeouts[key] = timeout
        return timeout

    def watch_deadlines(self) -> None:
        """Make sure the deadline sweeper runs while a request has a deadline."""
        if self._sweeper is None:
            loop = asyncio.get_running_loop()
            self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweeper = None
        now = loop.time()
        armed = False
        for flight in self._flights:
            if flight.due is None or flight.stopped_by is not None:
                continue
            if now >= flight.due:
                flight.stop("deadline")
            else:
                armed = True
        if armed:
            self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep, loop)

    def wire_headers(self, headers: Sequence[tuple[str, str]]) -> CIMultiDict[str]:
        """``headers`` prepared for ``exchange``: what aiohttp would add to them
        itself, added once, and what it would write the same without them (the
        Host, written from each request's URL, and HTTP/1.1's
        ``Connection: keep-alive``) left out. The requester prepares its headers
        once per transport and hands the result to every request."""
        return _prepare(headers)

    def _url(self, request: httpx.Request) -> yarl.URL:
        return self.url_for(request.url)

    def url_for(self, url: httpx.URL) -> yarl.URL:
        """aiohttp's URL for httpx's (already encoded: not re-quoted), cached."""
        last = self._last_url
        if last is not None and last[0] is url:
            # The requester sends every request with the same URL object.
            return last[1]
        text = str(url)
        converted = self._urls.get(text)
        if converted is None:
            if len(self._urls) > 64:
                self._urls.clear()
            # httpx has already encoded it: do not let yarl re-quote it.
            converted = yarl.URL(text, encoded=True)
            self._urls[text] = converted
        self._last_url = (url, converted)
        return converted

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its answer, read whole (up to the cap)."""
        try:
            content = request.content
        except httpx.RequestNotRead:
            content = await request.aread()
        headers = request.headers
        if not isinstance(request.stream, httpx.ByteStream) and "transfer-encoding" in headers:
            # aiohttp is given the body whole: it sends it with a length.
            headers = headers.copy()
            del headers["transfer-encoding"]
            headers["content-length"] = str(len(content))
        seconds = deadline(request)
        answer = await self.exchange(
            request.method,
            self._url(request),
            headers.multi_items(),
            content or None,
            timeout=self._timeout(request, seconds),
            cap=max_body(request),
            seconds=seconds,
            trace=request.extensions.get("trace"),
            server_hostname=request.extensions.get("sni_hostname"),
        )
        response = answer.response
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            content=answer.content,
            request=request,
            extensions=extensions,
        )

    async def exchange(
        self,
        method: str,
        url: yarl.URL,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        data: bytes | None,
        *,
        timeout: aiohttp.ClientTimeout,
        cap: int,
        seconds: float | None,
        trace: Any = None,
        on_write: Callable[[], None] | None = None,
        server_hostname: str | None = None,
    ) -> Answer:
        """Send one request and read its answer whole (up to ``cap`` bytes).

        The work of ``handle_async_request`` without httpx's ``Request`` and
        ``Response`` objects: the requester's fast path calls it directly.
        ``seconds`` is the deadline for the whole answer once the request is
        written; ``on_write`` is called (and ``trace`` awaited, as httpcore
        does) once a connection is obtained, before a byte is written. Failures
        are httpx exceptions, mapped as the module docstring says.
        """
        if self._closed:
            raise TransportClosedError("the transport is closed; the request was not sent")
        session = self._session or self._open()
        flight = _Flight(self, seconds, asyncio.current_task(), trace, on_write)
        self._flights.add(flight)
        token = None
        response: aiohttp.ClientResponse | None = None
        try:
            lean = self._lean
            if lean is not None and (url is self._lean_url or self._lean_allows(url)):
                response = await self._lean_request(
                    lean, session, flight, method, url, headers, data, timeout, server_hostname
                )
            else:
                token = _FLIGHT.set(flight)
                response = await session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    auto_decompress=False,
                    timeout=timeout,
                    server_hostname=server_hostname,
                )
            length = response.content_length
            if method == "HEAD" or response.status in (204, 304):
                length = 0  # no body, whatever Content-Length says
            if length is not None and length > cap:
                raise too_large(cap)
            if length is not None:
                body = await response.read()
            else:
                body = await _read_capped(response.content, cap)
        except httpx.HTTPError:
            if response is not None:
                response.close()
            raise
        except (Exception, asyncio.CancelledError) as exc:
            if response is not None:
                response.close()
            if flight.stopped_by is None:
                if isinstance(exc, asyncio.CancelledError):
                    raise  # the caller's own cancellation
            else:
                # Cancelled by this transport (aclose, or the deadline): withdraw
                # that cancellation and report a failure instead, unless the
                # caller cancelled too.
                if _uncancel(flight.task) and isinstance(exc, asyncio.CancelledError):
                    raise
                if flight.stopped_by == "deadline" and seconds is not None:
                    raise deadline_passed(seconds) from exc
            if flight.connected:
                if (
                    flight.reused_after is not None
                    and self._connector is not None
                    and isinstance(exc, (aio.ServerDisconnectedError, aio.ClientOSError))
                ):
                    # Perhaps the server closed it as it went idle, just as we wrote.
                    self._connector.server_closed_idle(flight.reused_after)
                raise _maybe_sent(exc) from exc
            raise _never_sent(exc) from exc
        finally:
            self._flights.discard(flight)
            if token is not None:
                _FLIGHT.reset(token)
        if flight.stopped_by is not None:
            # Stopped just as the answer completed, and the cancellation was
            # swallowed on the way: withdraw it; the answer stands.
            _uncancel(flight.task)
        response.release()
        if flight.protocol is not None:
            flight.protocol.idle_since = asyncio.get_running_loop().time()
        return Answer(response, body)

    def _lean_allows(self, url: yarl.URL) -> bool:
        """Whether ``_lean_request`` may send to ``url``: http(s), no credentials in it."""
        if (
            url.scheme in ("http", "https")
            and url.raw_host
            and url.raw_user is None
            and url.raw_password is None
        ):
            self._lean_url = url
            return True
        return False

    async def _lean_request(
        self,
        lean: _Lean,
        session: aiohttp.ClientSession,
        flight: _Flight,
        method: str,
        url: yarl.URL,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        data: bytes | None,
        timeout: aiohttp.ClientTimeout,
        server_hostname: str | None,
    ) -> aiohttp.ClientResponse:
        """``session.request(...)`` as this transport calls it, without what it never uses.

        ``ClientSession._request`` spends about as much CPU on features this
        transport turns off or never passes (cookies, redirects, proxies, auth,
        middlewares, traces, a total timeout, default headers) as on the request
        itself (issue 12, ``python -m benchmarks.opcounts``). This is its path
        for such a request, step for step: build aiohttp's request, get a
        connection (``_Connector.connect``: the stale checks, the flight), write
        the request, read the answer's head; an idempotent request is sent again
        once on a connection lost, as aiohttp does. Used only on the aiohttp
        versions it is tested on (``_LEAN_VERSIONS``); ``session.request`` otherwise.
        """
        loop = asyncio.get_running_loop()
        connector = lean.connector
        retry = method in _IDEMPOTENT
        while True:
            request = _Request(
                method,
                url,
                headers=headers,
                data=data,
                loop=loop,
                session=session,
                timer=_NO_TIMER,
                server_hostname=server_hostname,
            )
            try:
                connection = await connector.connect_for(flight, request, [], timeout)
            except asyncio.TimeoutError as exc:
                raise aio.ConnectionTimeoutError(f"Connection timeout to host {url}") from exc
            protocol = connection.protocol
            assert protocol is not None
            protocol.set_response_params(
                timer=_NO_TIMER,
                skip_payload=method == "HEAD",
                read_until_eof=True,
                auto_decompress=False,
                read_timeout=timeout.sock_read,
                **lean.params,
            )
            try:
                try:
                    response = await request.send(connection)
                    try:
                        await response.start(connection)
                    except BaseException:
                        response.close()
                        raise
                except BaseException:
                    connection.close()
                    raise
            except (aio.ClientOSError, aio.ServerDisconnectedError):
                if not retry:
                    raise
                retry = False
                await request.close()
                continue
            except aio.ClientError:
                raise
            except OSError as exc:
                if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                    raise
                raise aio.ClientOSError(*exc.args) from exc
            # (A bytes body holds nothing to close, unlike session.request's others.)
            return response

    async def aclose(self) -> None:
        """Close the pool: requests not yet written fail as never sent
        (``TransportClosedError``); those on the wire fail as may-have-been-sent."""
        self._closed = True
        for flight in list(self._flights):
            if not flight.connected:
                # Waiting for a pooled connection, or connecting: aiohttp would
                # leave it waiting until its connect timeout.
                flight.stop("closed")
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._session is not None:
            await self._session.close()


def _uncancel(task: asyncio.Task[Any] | None) -> bool:
    """Withdraw one cancellation of ``task``; whether others are still pending."""
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is None:
        return False
    return bool(uncancel() > 0)


async def _read_capped(content: aiohttp.StreamReader, cap: int) -> bytes:
    """The body up to end-of-file, stopping with ``ResponseTooLarge`` past ``cap`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = await content.read(cap + 1 - size)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > cap:
            raise too_large(cap)
        parts.append(chunk)
