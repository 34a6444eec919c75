"""httpx's own transport (httpcore's pool), with the answer bounded as ``_answer`` says.

A thin wrapper around ``httpx.AsyncHTTPTransport``, for trio (and for
``transport="httpx"``): it reads the raw body up to the cap, bounds the whole
answer by one deadline that starts when the request's headers are written
(told by httpcore's ``trace`` extension, so that a slow connect stays a
``ConnectTimeout``), and never lets a connection on which the server sent more
than the answer go back to the pool. Like the aiohttp transport, it learns
the server's idle timeout from the idle connections the server closes, and
then lets httpcore drop idle connections about that old before reuse.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import httpcore
import httpx

from ._answer import deadline, deadline_passed, max_body, too_large

_Trace = Callable[[str, Any], Awaitable[None]]
_CALLER_TRACE = "mindo.caller_trace"
_WRITING = ("http11.send_request_headers.started", "http2.send_request_headers.started")


class BoundedHTTPTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncHTTPTransport`` with a body cap, an answer deadline, and no stale reuse."""

    #: httpcore tells the request's ``trace`` extension when it starts writing the
    #: head; this wrapper passes the caller's trace through.
    reports_first_byte = True

    def __init__(self, inner: httpx.AsyncHTTPTransport) -> None:
        self._inner = inner
        # httpcore's pool, as httpx.AsyncHTTPTransport names it.
        self._pool = inner._pool
        backend = getattr(self._pool, "_network_backend", None)
        self._idle = _IdleTimeout()
        if backend is not None:
            # httpcore asks each idle connection's stream whether it is readable
            # before reusing it; the wrapper also answers "yes" once the
            # connection is as old as the server's idle timeout, as last seen.
            self._pool._network_backend = _LearningBackend(backend, self._idle)

    @property
    def inner(self) -> httpx.AsyncHTTPTransport:
        """The wrapped httpx transport."""
        return self._inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; return its answer read whole, within the cap and the deadline."""
        cap = max_body(request)
        seconds = deadline(request)
        scope = anyio.CancelScope()
        if seconds is not None:
            # The caller's own trace, not one this wrapper set on an earlier attempt.
            extensions = request.extensions
            outer: _Trace | None = extensions.get(
                _CALLER_TRACE if _CALLER_TRACE in extensions else "trace"
            )

            async def trace(name: str, info: Any) -> None:
                if name in _WRITING and scope.deadline == float("inf"):
                    # From here on the request may reach the server.
                    scope.deadline = anyio.current_time() + seconds
                if outer is not None:
                    await outer(name, info)

            request.extensions = {**request.extensions, "trace": trace, _CALLER_TRACE: outer}
        body = b""
        with scope:
            response = await self._inner.handle_async_request(request)
            try:
                length = response.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > cap:
                    raise too_large(cap)
                parts: list[bytes] = []
                size = 0
                stream = response.stream
                assert isinstance(stream, httpx.AsyncByteStream)
                async for chunk in stream:
                    size += len(chunk)
                    if size > cap:
                        raise too_large(cap)
                    parts.append(chunk)
                body = b"".join(parts)
                _no_reuse_if_more_was_sent(response)
            finally:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
        if scope.cancelled_caught:
            assert seconds is not None
            raise deadline_passed(seconds)
        extensions = {
            key: value
            for key, value in response.extensions.items()
            if key in ("http_version", "reason_phrase")
        }
        return httpx.Response(
            response.status_code,
            headers=response.headers.raw,
            content=body,
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        """Close httpcore's pool."""
        await self._inner.aclose()


def _no_reuse_if_more_was_sent(response: httpx.Response) -> None:
    """Keep a connection out of the pool when bytes followed the answer in the same read.

    h11 keeps them and would parse them as the answer to the next request sent
    on that connection. (Bytes that arrive later, while the connection is idle,
    make httpcore drop it: it polls idle sockets before reuse.) The h11 state is
    reached through httpcore's private attributes; if they move, this does
    nothing rather than fail.
    """
    stream = getattr(response.stream, "_httpcore_stream", None)
    stream = getattr(stream, "_stream", None)
    connection = getattr(stream, "_connection", None)
    state = getattr(connection, "_h11_state", None)
    if state is None:
        return
    data, closed = state.trailing_data
    if data or closed:
        # our_state becomes ERROR, so httpcore closes it instead of pooling it.
        state.send_failed()


#: How long a server's idle timeout, once seen, is trusted (seconds).
LEARNED_IDLE_TTL = 300.0


class _IdleTimeout:
    """The server's idle timeout, learned from the idle connections it closed."""

    def __init__(self) -> None:
        self.seconds: float | None = None
        self.seen_at = 0.0

    def observe(self, age: float) -> None:
        now = time.monotonic()
        current = self.current(now)
        self.seconds = age if current is None else min(current, age)
        self.seen_at = now

    def current(self, now: float) -> float | None:
        if self.seconds is not None and now - self.seen_at > LEARNED_IDLE_TTL:
            self.seconds = None
        return self.seconds

    def reuse_limit(self, now: float) -> float | None:
        """Idle connections older than this are not reused (a margin under the timeout)."""
        seconds = self.current(now)
        return None if seconds is None else seconds - max(0.2 * seconds, 0.05)


class _LearningStream(httpcore.AsyncNetworkStream):
    """A network stream that knows how long it has been idle."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, idle: _IdleTimeout) -> None:
        self._inner = inner
        self._idle = idle
        self._last_io = time.monotonic()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        data = await self._inner.read(max_bytes, timeout)
        self._last_io = time.monotonic()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)
        self._last_io = time.monotonic()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _LearningStream(stream, self._idle)

    def get_extra_info(self, info: str) -> Any:
        value = self._inner.get_extra_info(info)
        if info != "is_readable":
            return value
        # httpcore asks this of idle connections only, before reusing one.
        now = time.monotonic()
        age = now - self._last_io
        if value:
            self._idle.observe(age)  # the server closed it (or wrote on it) while idle
            return True
        limit = self._idle.reuse_limit(now)
        return limit is not None and age > limit


class _LearningBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, its streams wrapped in ``_LearningStream``."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, idle: _IdleTimeout) -> None:
        self._inner = inner
        self._idle = idle

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _LearningStream(stream, self._idle)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return _LearningStream(stream, self._idle)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
