"""httpx's own transport (httpcore's pool), with the answer bounded as ``_answer`` says.

A thin wrapper around ``httpx.AsyncHTTPTransport``, for trio (and for
``transport="httpx"``): it reads the raw body up to the cap, bounds the whole
answer by one deadline that starts when the request's headers are written
(told by httpcore's ``trace`` extension, so that a slow connect stays a
``ConnectTimeout``), and never lets a connection on which the server sent more
than the answer go back to the pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

from ._answer import deadline, deadline_passed, max_body, too_large

_Trace = Callable[[str, Any], Awaitable[None]]
_CALLER_TRACE = "mindo.caller_trace"
_WRITING = ("http11.send_request_headers.started", "http2.send_request_headers.started")


class BoundedHTTPTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncHTTPTransport`` with a body cap, an answer deadline, and no stale reuse."""

    def __init__(self, inner: httpx.AsyncHTTPTransport) -> None:
        self._inner = inner
        # httpcore's pool, as httpx.AsyncHTTPTransport names it.
        self._pool = inner._pool

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
