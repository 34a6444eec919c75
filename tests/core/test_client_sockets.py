"""What each failure proves about delivery, over real loopback sockets, for every transport.

RELIABILITY.md: a retry after the server got the request can deliver the
message twice, and httpx-aiohttp reports "the server read the POST, then
dropped the connection" as ``httpx.ConnectTimeout``. So each classification
is proven here against tiny servers on 127.0.0.1:

- ``transport="httpx"`` on asyncio and trio (anyio tests);
- ``transport="aiohttp"`` and the default ``"auto"`` on asyncio only
  (pytest-asyncio, strict mode), since aiohttp runs only on asyncio.

The servers are plain blocking sockets in background threads, so they serve
any event loop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import anyio
import httpx
import pytest
from httpx_aiohttp import AiohttpTransport
from loopback_http import ThreadedServer, http_response, read_request, refused_base_url

from mindo_async import (
    APIConnectionError,
    APIError,
    AsyncMindo,
    ConfigurationError,
    DeliveryUnknownError,
    RetryPolicy,
    SendRequest,
    SentMessage,
    UnexpectedResponseError,
)
from mindo_async._protocol import SEND_PATH, FailureKind, classify_exception

API_KEY = "mindo_test0123456789abcdefABCDEF"
FIELDS: dict[str, Any] = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
}
EXPECTED_BODY = {**FIELDS, "language": "es"}
SENT_BODY = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}


class ReceivedRequest:
    """One request as the server read it: its head, and its body read to Content-Length."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.head = head
        self.body = body

    @property
    def headers(self) -> dict[str, str]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        pairs = (line.split(":", 1) for line in lines if ":" in line)
        return {name.strip().lower(): value.strip() for name, value in pairs}

    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackServer(ThreadedServer):
    """A one-behaviour HTTP/1.1 server on 127.0.0.1 (port 0), serving from threads.

    ``behaviour`` is ``"ok"`` (the documented 200), ``"drop"`` (read the whole
    request, then close without answering), ``"slow"`` (read it, answer after
    ``delay`` seconds), ``"redirect"`` (307 to ``location``) or ``"keepalive"``
    (a 200 on a kept-alive connection, which stays open, idle, until ``hang_up``
    is set; then it is closed and ``hung_up`` set).
    """

    def __init__(self, behaviour: str, *, delay: float = 1.0, location: str = "") -> None:
        self.behaviour = behaviour
        self.delay = delay
        self.location = location
        self.requests: list[ReceivedRequest] = []
        self.hang_up = threading.Event()
        self.hung_up = threading.Event()
        super().__init__()
        self.url = self.base_url

    def close(self) -> None:
        """Release the idle ``"keepalive"`` connections, then stop (see ``ThreadedServer``)."""
        self.hang_up.set()
        super().close()

    def _read(self, conn: socket.socket, buffer: bytearray) -> ReceivedRequest | None:
        read = read_request(conn, buffer)
        if read is None:
            return None
        request = ReceivedRequest(*read)
        with self.lock:
            self.requests.append(request)
        return request

    def serve_connection(self, conn: socket.socket, number: int) -> None:
        sent = json.dumps(SENT_BODY).encode()
        if self.behaviour == "keepalive":
            # A 200 that keeps the connection open; closed, idle, on the test's signal.
            conn.settimeout(5.0)
            if self._read(conn, bytearray()) is None:
                return
            conn.sendall(http_response("200 OK", sent))
            self.hang_up.wait()
            conn.close()  # on loopback, the FIN is in the client's socket once this returns
            self.hung_up.set()
            return
        conn.settimeout(5.0)
        if self._read(conn, bytearray()) is None or self.behaviour == "drop":
            return
        if self.behaviour == "slow" and self.stop.wait(self.delay):
            return
        if self.behaviour == "redirect":
            headers = f"Location: {self.location}\r\nConnection: close\r\n"
            reply = http_response("307 Temporary Redirect", b"", headers)
        else:
            reply = http_response("200 OK", sent, "Connection: close\r\n")
        conn.sendall(reply)


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    """Start loopback servers; all are stopped after the test."""
    with contextlib.ExitStack() as servers:
        yield lambda *args, **options: servers.enter_context(LoopbackServer(*args, **options))


@pytest.fixture
def refused_url() -> str:
    """A loopback URL where nothing listens: connecting is refused."""
    return refused_base_url()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoffs of 10 ms, so that retried failures keep this module fast."""
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, retry_number, random=None: 0.01)


def client(base_url: str, transport: str, **options: Any) -> AsyncMindo:
    options.setdefault("max_retries", 2)
    return AsyncMindo(
        api_key=API_KEY, base_url=base_url, transport=transport, rate_limit=None, **options
    )


# -- the scenarios, each run on every transport ---------------------------------------


async def refused_is_retried_then_connection_error(
    refused_url: str, transport: str, caplog: pytest.LogCaptureFixture
) -> APIConnectionError:
    caplog.set_level(logging.DEBUG, logger="mindo_async")
    async with client(refused_url, transport) as mindo:
        with pytest.raises(APIConnectionError) as caught:
            await mindo.send(**FIELDS)
    error = caught.value
    assert not isinstance(error, DeliveryUnknownError)
    assert error.attempts == 3
    assert error.retryable
    attempts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST")]
    assert len(attempts) == 3
    assert all("status=-" in attempt for attempt in attempts)
    return error


async def read_then_drop_is_delivery_unknown(
    serve: Callable[..., LoopbackServer], transport: str
) -> DeliveryUnknownError:
    server = serve("drop")
    async with client(server.url, transport) as mindo:
        with pytest.raises(DeliveryUnknownError) as caught:
            await mindo.send(**FIELDS)
    error = caught.value
    assert error.attempts == 1
    assert error.request == SendRequest(**FIELDS)
    assert len(server.requests) == 1, "the dropped request must not be sent again"
    assert server.requests[0].json() == EXPECTED_BODY, "the server had the whole body"
    assert server.connections == 1
    return error


async def too_slow_is_delivery_unknown(
    serve: Callable[..., LoopbackServer], transport: str
) -> DeliveryUnknownError:
    server = serve("slow", delay=60.0)  # the thread is released at teardown, not waited for
    async with client(server.url, transport, timeout=0.3) as mindo:
        # Had the client waited for the (60 s late) answer, this would be a SentMessage.
        with pytest.raises(DeliveryUnknownError) as caught:
            await mindo.send(**FIELDS)
    assert caught.value.attempts == 1
    assert len(server.requests) == 1
    assert server.requests[0].json() == EXPECTED_BODY
    return caught.value


async def normal_answer_is_sent(serve: Callable[..., LoopbackServer], transport: str) -> None:
    server = serve("ok")
    async with client(server.url, transport) as mindo:
        message = await mindo.send(**FIELDS)
    assert isinstance(message, SentMessage)
    assert message.message_id == SENT_BODY["message_id"]
    (request,) = server.requests
    assert request.head.startswith(f"POST {SEND_PATH} HTTP/1.1\r\n".encode())
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("mindo-async/")
    assert request.json() == EXPECTED_BODY


async def redirect_is_not_followed(serve: Callable[..., LoopbackServer], transport: str) -> None:
    target = serve("ok")
    server = serve("redirect", location=f"{target.url}{SEND_PATH}")
    async with client(server.url, transport) as mindo:
        with pytest.raises(APIError) as caught:
            await mindo.send(**FIELDS)
    assert type(caught.value) is UnexpectedResponseError
    assert caught.value.status_code == 307
    assert len(server.requests) == 1
    assert target.connections == 0, "the redirect target (and the key) saw nothing"
    assert target.requests == []


async def idle_connection_closed_by_server_is_not_reused(
    serve: Callable[..., LoopbackServer], transport: str
) -> None:
    server = serve("keepalive")
    async with client(server.url, transport) as mindo:
        await mindo.send(**FIELDS)
        server.hang_up.set()  # the server closes the idle connection, now
        assert await anyio.to_thread.run_sync(server.hung_up.wait, 5.0), "never hung up"
        message = await mindo.send(**FIELDS)
    assert isinstance(message, SentMessage)
    assert len(server.requests) == 2
    assert server.connections == 2


# -- httpx's own transport, on asyncio and trio -----------------------------------------


@pytest.mark.anyio
async def test_refused_port_is_retried_then_connection_error_httpx(
    refused_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx transport: a refused connection is retried twice, then ``APIConnectionError``."""
    error = await refused_is_retried_then_connection_error(refused_url, "httpx", caplog)
    assert isinstance(error.__cause__, httpx.ConnectError)


@pytest.mark.anyio
async def test_read_then_drop_is_delivery_unknown_httpx(
    serve: Callable[..., LoopbackServer],
) -> None:
    """httpx transport: a server that read the POST and hung up saw one request, no retry."""
    error = await read_then_drop_is_delivery_unknown(serve, "httpx")
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)


@pytest.mark.anyio
async def test_too_slow_is_delivery_unknown_httpx(serve: Callable[..., LoopbackServer]) -> None:
    """httpx transport: no answer within the timeout is ``DeliveryUnknownError``, one request."""
    await too_slow_is_delivery_unknown(serve, "httpx")


@pytest.mark.anyio
async def test_normal_answer_is_sent_httpx(serve: Callable[..., LoopbackServer]) -> None:
    """httpx transport: the documented 200 becomes a ``SentMessage``; the wire is as documented."""
    await normal_answer_is_sent(serve, "httpx")


@pytest.mark.anyio
async def test_redirect_is_not_followed_httpx(serve: Callable[..., LoopbackServer]) -> None:
    """httpx transport: a 307 is not followed (UNKNOWN); its target receives nothing."""
    await redirect_is_not_followed(serve, "httpx")


@pytest.mark.anyio
async def test_idle_connection_closed_by_server_is_not_reused_httpx(
    serve: Callable[..., LoopbackServer],
) -> None:
    """httpx transport: a kept-alive connection the server closed is not a 'maybe sent' failure."""
    await idle_connection_closed_by_server_is_not_reused(serve, "httpx")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_aiohttp_transport_under_trio_is_a_configuration_error(
    serve: Callable[..., LoopbackServer],
) -> None:
    """``transport="aiohttp"`` under trio fails clearly, sends nothing, and is not 'maybe sent'."""
    server = serve("ok")
    async with client(server.url, "aiohttp") as mindo:
        with pytest.raises(ConfigurationError) as caught:
            await mindo.send(**FIELDS)
    assert "asyncio" in str(caught.value)
    assert server.connections == 0


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_auto_uses_httpx_transport_under_trio(serve: Callable[..., LoopbackServer]) -> None:
    """``transport="auto"`` under trio uses httpx's transport, and classifies a drop right."""
    error = await read_then_drop_is_delivery_unknown(serve, "auto")
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)


# -- aiohttp's transport and the default "auto", on asyncio -----------------------------

ASYNCIO_TRANSPORTS = pytest.mark.parametrize("transport", ["aiohttp", "auto"])


@pytest.mark.asyncio
@ASYNCIO_TRANSPORTS
async def test_refused_port_is_retried_then_connection_error_aiohttp(
    refused_url: str, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    """aiohttp transport: a refused connection is retried twice, then ``APIConnectionError``."""
    error = await refused_is_retried_then_connection_error(refused_url, transport, caplog)
    assert isinstance(error.__cause__, httpx.ConnectError)  # never sent, and named so
    assert isinstance(error.__cause__.__cause__, aiohttp.ClientConnectorError)


@pytest.mark.asyncio
@ASYNCIO_TRANSPORTS
async def test_read_then_drop_is_delivery_unknown_aiohttp(
    serve: Callable[..., LoopbackServer], transport: str
) -> None:
    """aiohttp transport: read-then-drop is a ``RemoteProtocolError`` and is not retried.

    This is the RELIABILITY.md hazard: httpx-aiohttp named it ``ConnectTimeout``,
    and with ``max_retries=2`` a classifier that trusted that name would have
    sent the message three times. Our transport names it truthfully.
    """
    error = await read_then_drop_is_delivery_unknown(serve, transport)
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)
    assert isinstance(error.__cause__.__cause__, aiohttp.ServerDisconnectedError)


@pytest.mark.asyncio
@ASYNCIO_TRANSPORTS
async def test_too_slow_is_delivery_unknown_aiohttp(
    serve: Callable[..., LoopbackServer], transport: str
) -> None:
    """aiohttp transport: no answer within the timeout is ``DeliveryUnknownError``, one request."""
    await too_slow_is_delivery_unknown(serve, transport)


@pytest.mark.asyncio
@ASYNCIO_TRANSPORTS
async def test_normal_answer_is_sent_aiohttp(
    serve: Callable[..., LoopbackServer], transport: str
) -> None:
    """aiohttp transport: the documented 200 becomes a ``SentMessage``."""
    await normal_answer_is_sent(serve, transport)


@pytest.mark.asyncio
@ASYNCIO_TRANSPORTS
async def test_redirect_is_not_followed_aiohttp(
    serve: Callable[..., LoopbackServer], transport: str
) -> None:
    """aiohttp transport: a 307 is not followed (UNKNOWN); its target receives nothing."""
    await redirect_is_not_followed(serve, transport)


@pytest.mark.asyncio
@ASYNCIO_TRANSPORTS
async def test_idle_connection_closed_by_server_is_not_reused_aiohttp(
    serve: Callable[..., LoopbackServer], transport: str
) -> None:
    """aiohttp transport: a kept-alive connection the server closed is not reused."""
    await idle_connection_closed_by_server_is_not_reused(serve, transport)


@pytest.mark.asyncio
async def test_httpx_aiohttp_reports_read_then_drop_as_connect_timeout(
    serve: Callable[..., LoopbackServer],
) -> None:
    """The hazard itself: httpx-aiohttp raises ``ConnectTimeout`` after the server had the body.

    If this stops holding (a fixed httpx-aiohttp), the cause-based
    classification is still right; this test then documents the upgrade.
    """
    server = serve("drop")
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        with pytest.raises(httpx.ConnectTimeout) as caught:
            await http.post(f"{server.url}{SEND_PATH}", json=EXPECTED_BODY)
    assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)
    assert server.requests[0].json() == EXPECTED_BODY, "the server had received everything"
    assert classify_exception(caught.value).kind is FailureKind.MAYBE_SENT


@pytest.mark.asyncio
async def test_many_concurrent_sends_over_aiohttp(serve: Callable[..., LoopbackServer]) -> None:
    """The aiohttp pool carries concurrent sends; each reaches the server exactly once."""
    server = serve("ok")
    async with (
        client(server.url, "aiohttp", max_connections=8) as mindo,
        anyio.create_task_group() as tasks,
    ):
        for _ in range(20):
            tasks.start_soon(lambda: mindo.send(**FIELDS))
    assert len(server.requests) == 20
