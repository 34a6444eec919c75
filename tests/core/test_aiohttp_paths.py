"""The aiohttp transport's two request paths, over real loopback sockets.

On the aiohttp versions it is tested on, ``AiohttpTransport`` builds and sends
aiohttp's request itself (``_lean_request``) instead of calling
``ClientSession.request``, which it calls on any other version. Every test
here runs on both paths (the ``path`` fixture checks that the path named was
the one taken) and proves they keep the same promises: the same bytes on the
wire, never sent vs may have been sent, the timeouts, the stale-connection
checks, and a second try for an idempotent request only.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import anyio
import httpx
import pytest
from loopback_http import ThreadedServer, http_response, read_request, refused_base_url

from mindo_async import AsyncMindo, EndpointNotAvailableError, SentMessage
from mindo_async import _aiohttp as transport_module
from mindo_async._aiohttp import AiohttpTransport, _Connector
from mindo_async._answer import (
    DEADLINE_EXTENSION,
    MAX_BODY_EXTENSION,
    ResponseTooLarge,
    TransportClosedError,
)
from mindo_async._protocol import FailureKind, classify_exception

API_KEY = "mindo_test0123456789abcdefABCDEF"
PAYLOAD = b'{"phone_number_id": "813497231850626"}'
FIELDS: dict[str, Any] = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan"},
}
SENT_BODY = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}
LEAN, SESSION = "lean", "session.request"


def lean_is_used_here() -> bool:
    """Whether the installed aiohttp is one the lean path is used on."""
    version = tuple(int(part) for part in aiohttp.__version__.split(".")[:2])
    return version in transport_module._LEAN_VERSIONS


@pytest.fixture(params=[LEAN, SESSION])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The request path the test's transports take; checked, after the test, to be the one taken."""
    if request.param == LEAN and not lean_is_used_here():
        pytest.skip(f"aiohttp {aiohttp.__version__} is not one the lean path is used on")
    if request.param == SESSION:
        monkeypatch.setattr(transport_module, "_LEAN_VERSIONS", frozenset())
    taken = {LEAN: 0, SESSION: 0}
    lean_request = AiohttpTransport._lean_request
    session_request = aiohttp.ClientSession._request

    async def counted_lean(self: AiohttpTransport, *args: Any, **kwargs: Any) -> Any:
        taken[LEAN] += 1
        return await lean_request(self, *args, **kwargs)

    async def counted_session(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> Any:
        taken[SESSION] += 1
        return await session_request(self, *args, **kwargs)

    monkeypatch.setattr(AiohttpTransport, "_lean_request", counted_lean)
    monkeypatch.setattr(aiohttp.ClientSession, "_request", counted_session)
    yield str(request.param)
    other = SESSION if request.param == LEAN else LEAN
    assert taken[request.param] > 0, f"no request took the {request.param} path"
    assert taken[other] == 0, f"a request took the {other} path"


# -- servers --------------------------------------------------------------------------------

Handler = Callable[["Server", socket.socket, int], None]


class Server(ThreadedServer):
    """A loopback HTTP server: ``handler(server, connection, number)`` serves each connection.

    ``number`` counts from 0; ``requests`` are the (head, body) pairs read, in order.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[bytes, bytes]] = []
        self.release = threading.Event()
        self.closed_idle = threading.Event()
        super().__init__()
        self.url = f"{self.base_url}/send"

    def read(self, conn: socket.socket, buffer: bytearray) -> tuple[bytes, bytes] | None:
        """One request from ``conn``, recorded; ``None`` when the client closed first."""
        request = read_request(conn, buffer)
        if request is not None:
            with self.lock:
                self.requests.append(request)
                self.lock.notify_all()
        return request

    def wait_for_requests(self, count: int) -> bool:
        """Block until ``count`` requests have arrived (at most 20 s); whether they did."""
        with self.lock:
            return self.lock.wait_for(lambda: len(self.requests) >= count, timeout=20.0)

    def close(self) -> None:
        self.release.set()
        super().close()

    def serve_connection(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(10.0)
        self.handler(self, conn, number)


def answer_each(server: Server, conn: socket.socket, number: int) -> None:
    """Answer every request on the connection: the documented 200 to a POST, a 404 to a GET."""
    buffer = bytearray()
    while (request := server.read(conn, buffer)) is not None:
        if request[0].startswith(b"POST "):
            conn.sendall(http_response("200 OK", json.dumps(SENT_BODY).encode()))
        else:
            conn.sendall(http_response("404 Not Found", b"", "Content-Type: text/plain\r\n"))


def drop_after_reading(server: Server, conn: socket.socket, number: int) -> None:
    """Read the whole request, then close without answering."""
    server.read(conn, bytearray())


def drop_first_two(server: Server, conn: socket.socket, number: int) -> None:
    """Read the request, then close without answering on the first two connections; else answer."""
    if number < 2:
        drop_after_reading(server, conn, number)
    else:
        answer_each(server, conn, number)


def hold_until_released(server: Server, conn: socket.socket, number: int) -> None:
    """Read the request, then answer only once ``server.release`` is set."""
    if server.read(conn, bytearray()) is not None and server.release.wait(20.0):
        conn.sendall(http_response("200 OK", b"{}"))


def head_then_silence(server: Server, conn: socket.socket, number: int) -> None:
    """Answer with a head and one byte of a 10-byte body, then nothing until released."""
    if server.read(conn, bytearray()) is not None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nx")
        server.release.wait(20.0)


def trickle(server: Server, conn: socket.socket, number: int) -> None:
    """Answer with a 200-byte body, one byte every 50 ms."""
    if server.read(conn, bytearray()) is not None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n")
        for _ in range(200):
            if server.release.wait(0.05):
                return
            conn.sendall(b"x")


def oversize(server: Server, conn: socket.socket, number: int) -> None:
    """Answer with a declared 64 MiB body, written until the client stops reading."""
    if server.read(conn, bytearray()) is not None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\n")
        block = b"x" * 65536
        for _ in range(1024):
            if server.release.is_set():
                return
            conn.sendall(block)


def close_when_idle(server: Server, conn: socket.socket, number: int) -> None:
    """Answer one request with keep-alive, then close the connection (an idle timeout)."""
    if server.read(conn, bytearray()) is not None:
        conn.sendall(http_response("200 OK", b"{}"))
        conn.shutdown(socket.SHUT_WR)
        server.closed_idle.set()
        while conn.recv(65536):
            pass


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], Server]]:
    """Start loopback servers; all are stopped after the test."""
    with contextlib.ExitStack() as servers:
        yield lambda handler: servers.enter_context(Server(handler))


def http_client(transport: AiohttpTransport | None = None, **timeout: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport or AiohttpTransport(), timeout=httpx.Timeout(5.0, **timeout)
    )


async def post(http: httpx.AsyncClient, url: str, **extensions: Any) -> httpx.Response:
    return await http.post(url, content=PAYLOAD, extensions=extensions)


def kind(exc: BaseException) -> FailureKind:
    return classify_exception(exc).kind


def header_lines(head: bytes) -> list[str]:
    return head.decode("latin-1").split("\r\n")[1:]


# -- the same bytes on the wire ------------------------------------------------------------


async def wire_heads(server: Server) -> list[bytes]:
    """The heads the library's client and an httpx client on the transport write for a
    send (POST), a message-status read (GET) and a POST, on the current path."""
    start = len(server.requests)
    async with AsyncMindo(
        api_key=API_KEY, base_url=server.base_url, transport="aiohttp", rate_limit=None
    ) as mindo:
        assert isinstance(await mindo.send(**FIELDS), SentMessage)
        with pytest.raises(EndpointNotAvailableError):
            await mindo.messages.get(SENT_BODY["message_id"])
    async with http_client() as http:
        assert (await post(http, server.url)).status_code == 200
    return [head for head, _ in server.requests[start:]]


@pytest.mark.asyncio
async def test_both_paths_write_the_same_bytes(
    serve: Callable[[Handler], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both paths write the same request heads, with the Host once and first, no Connection."""
    server = serve(answer_each)
    lean = await wire_heads(server)
    monkeypatch.setattr(transport_module, "_LEAN_VERSIONS", frozenset())
    assert await wire_heads(server) == lean
    send, read, plain = (header_lines(head) for head in lean)
    for lines in (send, read):
        names = [line.split(":", 1)[0].lower() for line in lines]
        assert names[0] == "host"
        assert lines[0].split(":", 1)[1].strip() == f"127.0.0.1:{server.port}"
        assert names.count("host") == 1
        assert "connection" not in names, "HTTP/1.1 keeps the connection alive without it"
        assert {"x-api-key", "accept", "accept-encoding", "user-agent"} <= set(names)
    assert "content-type" in [line.split(":", 1)[0].lower() for line in send]
    assert f"content-length: {len(PAYLOAD)}" in [line.lower() for line in plain]
    assert {body for _, body in server.requests[3:]} == {body for _, body in server.requests[:3]}


@pytest.mark.asyncio
async def test_the_lean_path_is_used_on_the_versions_it_is_tested_on(
    serve: Callable[[Handler], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ClientSession.request is skipped on the aiohttp versions listed as tested, only there."""
    calls: list[str] = []
    session_request = aiohttp.ClientSession._request

    async def counted(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> Any:
        calls.append("session.request")
        return await session_request(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", counted)
    server = serve(answer_each)
    async with http_client() as http:
        assert (await post(http, server.url)).status_code == 200
    assert (calls == []) is lean_is_used_here()


# -- what may have been sent, what was not ------------------------------------------------


@pytest.mark.asyncio
async def test_a_post_read_then_dropped_is_maybe_sent_and_not_sent_again(
    serve: Callable[[Handler], Server], path: str
) -> None:
    """A POST the server read, then dropped: RemoteProtocolError (maybe sent), written once."""
    server = serve(drop_after_reading)
    async with http_client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await post(http, server.url)
    assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)
    assert kind(caught.value) is FailureKind.MAYBE_SENT
    assert len(server.requests) == 1


@pytest.mark.asyncio
async def test_a_get_dropped_is_sent_once_more_and_no_more(
    serve: Callable[[Handler], Server], path: str
) -> None:
    """A GET whose connection is lost is written once more (aiohttp's rule), not a third time."""
    server = serve(drop_first_two)
    async with http_client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(server.url)
        assert len(server.requests) == 2
        assert (await http.get(server.url)).status_code == 404, "the third connection answers"
    assert len(server.requests) == 3


@pytest.mark.asyncio
async def test_a_refused_connection_is_never_sent(path: str) -> None:
    """A refused connection is a ConnectError (never sent), aiohttp's error as its cause."""
    async with http_client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await post(http, f"{refused_base_url()}/send")
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert kind(caught.value) is FailureKind.NEVER_SENT


@pytest.mark.asyncio
async def test_waiting_for_a_pooled_connection_times_out_as_never_sent(
    serve: Callable[[Handler], Server], path: str
) -> None:
    """With the pool full, the pool and connect timeouts end the wait: ConnectTimeout, unsent."""
    server = serve(hold_until_released)
    transport = AiohttpTransport(max_connections=1)
    async with (
        http_client(transport, pool=0.1, connect=0.1) as http,
        anyio.create_task_group() as tasks,
    ):
        tasks.start_soon(post, http, server.url)
        assert await anyio.to_thread.run_sync(server.wait_for_requests, 1)
        with pytest.raises(httpx.ConnectTimeout) as caught:
            await post(http, server.url)
        server.release.set()
    assert isinstance(caught.value.__cause__, aiohttp.ConnectionTimeoutError)
    assert kind(caught.value) is FailureKind.NEVER_SENT
    assert len(server.requests) == 1


@pytest.mark.asyncio
async def test_aclose_fails_a_queued_request_as_never_sent(
    serve: Callable[[Handler], Server], path: str
) -> None:
    """Closing the pool fails a request waiting for a connection as never sent."""
    server = serve(hold_until_released)
    transport = AiohttpTransport(max_connections=1)
    errors: list[BaseException] = []
    http = http_client(transport)

    async def attempt() -> None:
        try:
            await post(http, server.url)
        except httpx.HTTPError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(attempt)
        assert await anyio.to_thread.run_sync(server.wait_for_requests, 1)
        tasks.start_soon(attempt)
        await anyio.sleep(0.1)  # the second reaches the pool's queue (the test holds without)
        await transport.aclose()
    server.release.set()
    assert len(server.requests) == 1
    never = [e for e in errors if isinstance(e, TransportClosedError)]
    assert len(never) == 1
    assert kind(never[0]) is FailureKind.NEVER_SENT
    (on_the_wire,) = [e for e in errors if not isinstance(e, TransportClosedError)]
    assert kind(on_the_wire) is FailureKind.MAYBE_SENT


@pytest.mark.asyncio
async def test_a_caller_cancellation_stays_a_cancellation(
    serve: Callable[[Handler], Server], path: str
) -> None:
    """A caller cancelling a request in flight gets a cancellation, not an httpx error."""
    server = serve(hold_until_released)
    async with http_client() as http:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tasks:

                async def cancel_once_it_arrived() -> None:
                    assert await anyio.to_thread.run_sync(server.wait_for_requests, 1)
                    scope.cancel()

                tasks.start_soon(cancel_once_it_arrived)
                await post(http, server.url, **{DEADLINE_EXTENSION: 30.0})
    assert scope.cancelled_caught


# -- timeouts, the cap, stale connections ---------------------------------------------------


@pytest.mark.asyncio
async def test_the_read_timeout_ends_a_silence_under_a_longer_deadline(
    serve: Callable[[Handler], Server], path: str
) -> None:
    """Bytes that stop for longer than the read timeout end the request (maybe sent)."""
    server = serve(head_then_silence)
    async with http_client(read=0.3) as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await post(http, server.url, **{DEADLINE_EXTENSION: 30.0})
    assert isinstance(caught.value.__cause__, aiohttp.ServerTimeoutError)
    assert kind(caught.value) is FailureKind.MAYBE_SENT


@pytest.mark.asyncio
async def test_the_deadline_ends_a_trickle(serve: Callable[[Handler], Server], path: str) -> None:
    """A body trickling a byte at a time ends at the deadline as a ReadTimeout."""
    server = serve(trickle)
    async with http_client() as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await post(http, server.url, **{DEADLINE_EXTENSION: 0.5})
    assert "0.5 s" in str(caught.value)
    assert kind(caught.value) is FailureKind.MAYBE_SENT


@pytest.mark.asyncio
async def test_a_body_over_the_cap_is_not_read_whole(
    serve: Callable[[Handler], Server], path: str
) -> None:
    """A declared body over the cap fails as 'response too large' (maybe sent)."""
    server = serve(oversize)
    async with http_client() as http:
        with pytest.raises(ResponseTooLarge) as caught:
            await post(http, server.url, **{MAX_BODY_EXTENSION: 1024})
    assert kind(caught.value) is FailureKind.MAYBE_SENT


@pytest.mark.asyncio
async def test_a_pooled_connection_the_server_closed_is_not_written_on(
    serve: Callable[[Handler], Server], path: str
) -> None:
    """A pooled connection the server closed while idle is replaced before a byte is written."""
    server = serve(close_when_idle)
    transport = AiohttpTransport()
    async with http_client(transport) as http:
        for _ in range(3):
            assert (await post(http, server.url)).status_code == 200
            # The event loop is blocked until the server has closed: the close is
            # on the socket, unseen by aiohttp, when the next request takes it.
            assert server.closed_idle.wait(10.0)
            server.closed_idle.clear()
    assert len(server.requests) == 3
    assert server.connections == 3
    assert isinstance(transport.connector, _Connector)
    assert transport.connector.discarded == 2
