"""The transports' own promises, over real loopback sockets.

Each failure is mapped where it happens to an httpx exception that says
whether the request may have been sent, the answer is bounded (a body cap and
one deadline), and a connection on which the server sent more than the answer
is never used again. aiohttp's transport runs on asyncio only (pytest-asyncio,
strict mode); httpx's own pool, wrapped, runs on asyncio and trio (anyio).

The servers are blocking sockets in threads, so they serve any event loop.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import anyio
import httpcore
import httpx
import loopback_http
import pytest

from mindo_async import AsyncMindo, ClientClosedError, DeliveryUnknownError, SendRequest
from mindo_async._aiohttp import AiohttpTransport, _Connector
from mindo_async._answer import (
    DEADLINE_EXTENSION,
    MAX_BODY_EXTENSION,
    ResponseTooLarge,
    TransportClosedError,
)
from mindo_async._httpcore import _IdleTimeout, _LearningStream
from mindo_async._protocol import FailureKind, classify_exception
from mindo_async._transport import make_transport

API_KEY = "mindo_test0123456789abcdefABCDEF"
PAYLOAD = b'{"phone_number_id": "813497231850626"}'

Handler = Callable[["Server", socket.socket, int], None]


def read_request(conn: socket.socket) -> bytes | None:
    """One request's body, read to its Content-Length; ``None`` when the client closed first."""
    read = loopback_http.read_request(conn)
    return None if read is None else read[1]


def answer(body: bytes, extra: str = "") -> bytes:
    """An HTTP/1.1 200 carrying ``body``."""
    return loopback_http.http_response("200 OK", body, extra)


class Server(loopback_http.ThreadedServer):
    """A loopback HTTP server: ``handler(server, connection, number)`` serves each connection.

    ``number`` counts from 1; ``bodies`` are the requests' bodies in arrival order.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.bodies: list[bytes] = []
        self.sent = 0
        self.event = threading.Event()
        self.go = threading.Event()
        super().__init__(backlog=256)
        self.url = f"{self.base_url}/send"

    def received(self, body: bytes) -> int:
        with self.lock:
            self.bodies.append(body)
            self.lock.notify_all()
            return len(self.bodies)

    def wait_for_requests(self, count: int) -> bool:
        """Block until ``count`` requests have arrived (at most 20 s); whether they did."""
        with self.lock:
            return self.lock.wait_for(lambda: len(self.bodies) >= count, timeout=20.0)

    def serve_connection(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(10.0)
        self.handler(self, conn, number + 1)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], Server]]:
    """Start loopback servers; all are stopped after the test."""
    with contextlib.ExitStack() as servers:
        yield lambda handler: servers.enter_context(Server(handler))


@pytest.fixture
def refused_url() -> str:
    """A loopback URL where nothing listens."""
    return f"{loopback_http.refused_base_url()}/send"


# -- handlers ---------------------------------------------------------------------------


def drop_after_reading(server: Server, conn: socket.socket, number: int) -> None:
    """Read the whole POST, then close without answering."""
    body = read_request(conn)
    if body is not None:
        server.received(body)


def trickle(server: Server, conn: socket.socket, number: int) -> None:
    """Answer with a 200-byte body, one byte every 50 ms (10 s in all)."""
    body = read_request(conn)
    if body is None:
        return
    server.received(body)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n")
    for _ in range(200):
        if server.stop.wait(0.05):
            return
        conn.sendall(b"x")


TOTAL_OVERSIZE = 64 * 1024 * 1024


def oversize(server: Server, conn: socket.socket, number: int, *, chunked: bool) -> None:
    """Answer with a 64 MiB body (declared, or until close), counting what got out."""
    body = read_request(conn)
    if body is None:
        return
    server.received(body)
    if chunked:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    else:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {TOTAL_OVERSIZE}\r\n\r\n".encode())
    block = b"x" * 65536
    while server.sent < TOTAL_OVERSIZE and not server.stop.is_set():
        conn.sendall(block)
        server.sent += len(block)


def two_answers_at_once(server: Server, conn: socket.socket, number: int) -> None:
    """Answer the first request with its answer plus a second one in the same write."""
    while (body := read_request(conn)) is not None:
        count = server.received(body)
        if count == 1:
            conn.sendall(answer(b'{"n": 1}') + answer(b'{"stale": true}'))
        else:
            conn.sendall(answer(b'{"n": %d}' % count))


def stray_bytes_when_idle(server: Server, conn: socket.socket, number: int) -> None:
    """Answer the first request; once told (``go``), write a stray answer on the idle connection."""
    while (body := read_request(conn)) is not None:
        count = server.received(body)
        conn.sendall(answer(b'{"n": %d}' % count))
        if count == 1 and server.go.wait(10.0):
            conn.sendall(answer(b'{"stale": true}'))
            server.event.set()


def close_when_idle(server: Server, conn: socket.socket, number: int) -> None:
    """Answer one request per connection with keep-alive, then close it (an idle timeout)."""
    body = read_request(conn)
    if body is None:
        return
    count = server.received(body)
    conn.sendall(answer(b'{"n": %d}' % count))
    conn.shutdown(socket.SHUT_WR)
    server.event.set()
    while conn.recv(65536):
        pass


def hold_until_released(server: Server, conn: socket.socket, number: int) -> None:
    """Read the request, then answer only once ``server.event`` is set."""
    body = read_request(conn)
    if body is None:
        return
    server.received(body)
    if server.event.wait(20.0):
        conn.sendall(answer(b'{"ok": true}'))


def stray_arrives_unseen(server: Server) -> None:
    """Let the server write its stray answer, blocking the event loop meanwhile.

    The loop cannot read the stray bytes before the next request picks the
    pooled connection: only a check of the socket itself can see them.
    """
    server.go.set()
    assert server.event.wait(10.0)


# -- clients ------------------------------------------------------------------------------


def aiohttp_client(**options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AiohttpTransport(**options), timeout=5.0)


def httpx_client() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    return httpx.AsyncClient(transport=make_transport("httpx", limits), timeout=5.0)


async def post(http: httpx.AsyncClient, url: str, **extensions: Any) -> httpx.Response:
    return await http.post(url, content=PAYLOAD, extensions=extensions)


def maybe_sent(exc: BaseException) -> bool:
    return classify_exception(exc).kind is FailureKind.MAYBE_SENT


# -- aiohttp: failure mapping -------------------------------------------------------------


@pytest.mark.asyncio
async def test_aiohttp_read_then_drop_is_remote_protocol_error(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: the server read the whole POST, then closed: RemoteProtocolError, maybe sent."""
    server = serve(drop_after_reading)
    async with aiohttp_client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await post(http, server.url)
    assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)
    assert server.bodies == [PAYLOAD]
    assert maybe_sent(caught.value)


@pytest.mark.asyncio
async def test_aiohttp_refused_port_is_connect_error(refused_url: str) -> None:
    """aiohttp: a refused connection is a ConnectError (never sent), cause kept."""
    async with aiohttp_client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await post(http, refused_url)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert classify_exception(caught.value).kind is FailureKind.NEVER_SENT


@pytest.mark.asyncio
async def test_aiohttp_trickled_body_ends_at_the_deadline(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: a body trickling a byte at a time ends at the deadline as a ReadTimeout."""
    server = serve(trickle)
    async with aiohttp_client() as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await post(http, server.url, **{DEADLINE_EXTENSION: 0.5})
    assert "0.5 s" in str(caught.value)
    assert maybe_sent(caught.value)


@pytest.mark.asyncio
async def test_aiohttp_deadline_defaults_to_the_read_timeout(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: without the extension, the read timeout bounds the whole answer."""
    server = serve(trickle)
    async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await post(http, server.url)
    assert maybe_sent(caught.value)


@pytest.mark.asyncio
async def test_aiohttp_read_timeout_holds_under_a_longer_deadline(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: under a deadline longer than the read timeout, a silent server hits the latter."""
    server = serve(hold_until_released)
    timeout = httpx.Timeout(5.0, read=0.3)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=timeout) as http:
            with pytest.raises(httpx.ReadTimeout) as caught:
                await post(http, server.url, **{DEADLINE_EXTENSION: 30.0})
    finally:
        server.event.set()
    # aiohttp's own read timer ended it (between bytes), not the 30 s deadline.
    assert isinstance(caught.value.__cause__, aiohttp.ServerTimeoutError)
    assert maybe_sent(caught.value)


def test_aiohttp_read_timer_is_left_out_only_under_the_deadline() -> None:
    """aiohttp: the per-read timer is dropped only where the deadline (firing first) covers it."""
    transport = AiohttpTransport()
    phases = {"connect": 5.0, "read": 2.0, "write": 5.0, "pool": 5.0}
    assert transport.timeout_for(phases).sock_read == 2.0, "no deadline: the read timer stays"
    assert transport.timeout_for(phases, 2.0).sock_read is None
    assert transport.timeout_for(phases, 1.0).sock_read is None
    assert transport.timeout_for(phases, 3.0).sock_read == 2.0, "a longer deadline keeps it"
    kept = transport.timeout_for(phases, 1.0)
    assert (kept.connect, kept.sock_connect) == (10.0, 5.0), "connecting keeps its timeouts"


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True])
async def test_aiohttp_oversize_body_stops_at_the_cap(
    serve: Callable[[Handler], Server], chunked: bool
) -> None:
    """aiohttp: a body over the cap fails as 'response too large' without being read whole."""
    server = serve(lambda s, c, n: oversize(s, c, n, chunked=chunked))
    async with aiohttp_client() as http:
        with pytest.raises(ResponseTooLarge) as caught:
            await post(http, server.url, **{MAX_BODY_EXTENSION: 1024})
    assert isinstance(caught.value, httpx.RemoteProtocolError)
    assert maybe_sent(caught.value)
    server.close()
    assert server.sent < TOTAL_OVERSIZE, "the client must stop reading, not buffer it all"


@pytest.mark.asyncio
async def test_aiohttp_post_body_is_capped_by_default(serve: Callable[[Handler], Server]) -> None:
    """aiohttp: a POST's answer is capped at 64 KiB when the request sets no cap."""
    server = serve(lambda s, c, n: oversize(s, c, n, chunked=False))
    async with aiohttp_client() as http:
        with pytest.raises(ResponseTooLarge):
            await post(http, server.url)


# -- aiohttp: connections that must not be reused ------------------------------------------


@pytest.mark.asyncio
async def test_aiohttp_extra_answer_in_the_same_write_is_not_read_as_the_next(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: a second answer sent with the first closes the connection; the next is fresh."""
    server = serve(two_answers_at_once)
    async with aiohttp_client() as http:
        first = await post(http, server.url)
        second = await post(http, server.url)
    assert first.json() == {"n": 1}
    assert second.json() == {"n": 2}
    assert server.connections == 2


@pytest.mark.asyncio
async def test_aiohttp_stray_bytes_while_idle_retire_the_connection(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: bytes the server wrote on an idle pooled connection keep it out of use."""
    server = serve(stray_bytes_when_idle)
    async with aiohttp_client() as http:
        first = await post(http, server.url)
        stray_arrives_unseen(server)
        second = await post(http, server.url)
    assert first.json() == {"n": 1}
    assert second.json() == {"n": 2}
    assert server.connections == 2


@pytest.mark.asyncio
async def test_aiohttp_closed_idle_connection_is_not_written_on(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: a pooled connection the server closed is replaced before the request is written."""
    server = serve(close_when_idle)
    async with aiohttp_client() as http:
        for expected in range(1, 6):
            await post(http, server.url)
            # The event loop is blocked until the server has closed: the close
            # is waiting on the socket, not yet seen by aiohttp, when the next
            # request picks the pooled connection.
            assert server.event.wait(10.0)
            server.event.clear()
            assert server.bodies == [PAYLOAD] * expected
    assert server.connections == 5


@pytest.mark.asyncio
async def test_aiohttp_keepalive_defaults_below_common_server_idle_timeouts() -> None:
    """aiohttp: idle connections are kept 4 s, under uvicorn's 5 s idle timeout."""
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("http://127.0.0.1:9/")
        assert transport.connector is not None
        assert transport.connector._keepalive_timeout == 4.0


# -- aiohttp: closing under load, and the pool that follows the concurrency ----------------


@pytest.mark.asyncio
async def test_aiohttp_aclose_fails_queued_requests_as_never_sent(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: closing the pool fails requests waiting for a connection as never sent."""
    server = serve(hold_until_released)
    transport = AiohttpTransport(max_connections=1)
    errors: list[BaseException] = []
    http = httpx.AsyncClient(transport=transport, timeout=30.0)

    async def attempt() -> None:
        try:
            await post(http, server.url)
        except httpx.HTTPError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tasks:
        for _ in range(3):
            tasks.start_soon(attempt)
        assert await anyio.to_thread.run_sync(server.wait_for_requests, 1)
        await anyio.sleep(0.1)  # the other two reach the pool's queue (the test holds without)
        await transport.aclose()
    server.event.set()
    assert server.bodies == [PAYLOAD], "only the first request left"
    never = [e for e in errors if isinstance(e, TransportClosedError)]
    assert len(never) == 2
    assert all(classify_exception(e).kind is FailureKind.NEVER_SENT for e in never)
    (on_the_wire,) = [e for e in errors if not isinstance(e, TransportClosedError)]
    assert maybe_sent(on_the_wire)
    with pytest.raises(TransportClosedError):
        await post(http, server.url)


@pytest.mark.asyncio
async def test_stream_many_puts_its_whole_concurrency_in_flight(
    serve: Callable[[Handler], Server],
) -> None:
    """Defaults: stream_many(concurrency=N) has N sends in flight, past the old cap of 100."""
    concurrency = 120
    server = serve(hold_until_released)
    requests = [
        SendRequest(
            phone_number_id="813497231850626",
            template_name="welcome_message",
            recipient_phone=f"+54911123{index:05d}",
            variables={"name": "Juan"},
        )
        for index in range(concurrency)
    ]

    async def release_when_all_arrived() -> None:
        # Released after 20 s at most, so that a capped pool fails the assertions below.
        await anyio.to_thread.run_sync(server.wait_for_requests, concurrency)
        server.event.set()

    base_url = server.url.rsplit("/", 1)[0]
    async with (
        AsyncMindo(api_key=API_KEY, base_url=base_url, rate_limit=None, timeout=30.0) as mindo,
        anyio.create_task_group() as tasks,
    ):
        tasks.start_soon(release_when_all_arrived)
        async with mindo.stream_many(requests, concurrency=concurrency) as stream:
            async for _ in stream:
                pass
    assert len(server.bodies) == concurrency
    assert server.connections == concurrency


def test_explicit_max_connections_stays_a_hard_cap() -> None:
    """max_connections given explicitly caps the client's limiter."""
    mindo = AsyncMindo(api_key=API_KEY, max_connections=7)
    assert mindo._connections.total_tokens == 7


# -- httpx's own pool, wrapped: both backends ------------------------------------------------


@pytest.mark.anyio
async def test_httpx_read_then_drop_is_maybe_sent(serve: Callable[[Handler], Server]) -> None:
    """httpx pool: the server read the whole POST, then closed: RemoteProtocolError, maybe sent."""
    server = serve(drop_after_reading)
    async with httpx_client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await post(http, server.url)
    assert server.bodies == [PAYLOAD]
    assert maybe_sent(caught.value)


@pytest.mark.anyio
async def test_httpx_refused_port_is_connect_error(refused_url: str) -> None:
    """httpx pool: a refused connection is a ConnectError (never sent)."""
    async with httpx_client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await post(http, refused_url)
    assert classify_exception(caught.value).kind is FailureKind.NEVER_SENT


@pytest.mark.anyio
async def test_httpx_trickled_body_ends_at_the_deadline(
    serve: Callable[[Handler], Server],
) -> None:
    """httpx pool: a body trickling a byte at a time ends at the deadline as a ReadTimeout."""
    server = serve(trickle)
    async with httpx_client() as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await post(http, server.url, **{DEADLINE_EXTENSION: 0.5})
    assert "0.5 s" in str(caught.value)
    assert maybe_sent(caught.value)


@pytest.mark.anyio
async def test_httpx_deadline_does_not_cover_connecting(refused_url: str) -> None:
    """httpx pool: with a deadline set, a failed connect is still a ConnectError, not a timeout."""
    async with httpx_client() as http:
        with pytest.raises(httpx.ConnectError):
            await post(http, refused_url, **{DEADLINE_EXTENSION: 0.5})


@pytest.mark.anyio
@pytest.mark.parametrize("chunked", [False, True])
async def test_httpx_oversize_body_stops_at_the_cap(
    serve: Callable[[Handler], Server], chunked: bool
) -> None:
    """httpx pool: a body over the cap fails as 'response too large' without being read whole."""
    server = serve(lambda s, c, n: oversize(s, c, n, chunked=chunked))
    async with httpx_client() as http:
        with pytest.raises(ResponseTooLarge) as caught:
            await post(http, server.url, **{MAX_BODY_EXTENSION: 1024})
    assert maybe_sent(caught.value)
    server.close()
    assert server.sent < TOTAL_OVERSIZE, "the client must stop reading, not buffer it all"


@pytest.mark.anyio
async def test_httpx_extra_answer_in_the_same_write_is_not_read_as_the_next(
    serve: Callable[[Handler], Server],
) -> None:
    """httpx pool: a second answer sent with the first closes the connection; the next is fresh."""
    server = serve(two_answers_at_once)
    async with httpx_client() as http:
        first = await post(http, server.url)
        second = await post(http, server.url)
    assert first.json() == {"n": 1}
    assert second.json() == {"n": 2}
    assert server.connections == 2


@pytest.mark.anyio
async def test_httpx_stray_bytes_while_idle_retire_the_connection(
    serve: Callable[[Handler], Server],
) -> None:
    """httpx pool: bytes the server wrote on an idle pooled connection keep it out of use."""
    server = serve(stray_bytes_when_idle)
    async with httpx_client() as http:
        first = await post(http, server.url)
        stray_arrives_unseen(server)
        second = await post(http, server.url)
    assert first.json() == {"n": 1}
    assert second.json() == {"n": 2}
    assert server.connections == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("max_retries", [0, 2])
async def test_aclose_under_load_sends_nothing_more(
    serve: Callable[[Handler], Server], max_retries: int
) -> None:
    """AsyncMindo.aclose(): the send on the wire is UNKNOWN, queued ones ClientClosedError
    (with or without retries left)."""
    server = serve(hold_until_released)
    base_url = server.url.rsplit("/", 1)[0]
    mindo = AsyncMindo(
        api_key=API_KEY,
        base_url=base_url,
        rate_limit=None,
        timeout=30.0,
        max_connections=1,
        max_retries=max_retries,
    )
    errors: list[BaseException] = []

    async def send(index: int) -> None:
        try:
            await mindo.send(
                phone_number_id="813497231850626",
                template_name="welcome_message",
                recipient_phone=f"+5491112345{index:03d}",
            )
        except Exception as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tasks:
        for index in range(3):
            tasks.start_soon(send, index)
        assert await anyio.to_thread.run_sync(server.wait_for_requests, 1)
        await mindo.aclose()
    server.event.set()
    assert len(server.bodies) == 1, "nothing is sent after aclose()"
    assert sorted(type(e).__name__ for e in errors) == [
        "ClientClosedError",
        "ClientClosedError",
        "DeliveryUnknownError",
    ]
    assert all(isinstance(e, (ClientClosedError, DeliveryUnknownError)) for e in errors)


@pytest.mark.asyncio
async def test_aiohttp_caller_cancellation_stays_a_cancellation(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: a caller cancelling a request in flight gets a cancellation, not an httpx error."""
    server = serve(hold_until_released)
    async with aiohttp_client() as http:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tasks:

                async def cancel_once_it_arrived() -> None:
                    assert await anyio.to_thread.run_sync(server.wait_for_requests, 1)
                    scope.cancel()

                tasks.start_soon(cancel_once_it_arrived)
                await post(http, server.url, **{DEADLINE_EXTENSION: 30.0})
        server.event.set()
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_httpx_deadline_holds_when_the_same_request_is_sent_again(
    serve: Callable[[Handler], Server],
) -> None:
    """httpx pool: a request object sent twice gets its deadline both times."""
    server = serve(trickle)
    async with httpx_client() as http:
        request = http.build_request(
            "POST", server.url, content=PAYLOAD, extensions={DEADLINE_EXTENSION: 0.3}
        )
        for _ in range(2):
            with pytest.raises(httpx.ReadTimeout):
                await http.send(request)
    assert len(server.bodies) == 2


class _FakeStream(httpcore.AsyncNetworkStream):
    """A network stream whose socket is readable (closed by the server) when told."""

    def __init__(self) -> None:
        self.readable = False

    def get_extra_info(self, info: str) -> Any:
        return self.readable if info == "is_readable" else None


def test_httpx_pool_learns_the_server_idle_timeout() -> None:
    """httpx pool: once the server closed an idle connection, older idle ones are not reused."""
    idle = _IdleTimeout()
    closed, fresh = _FakeStream(), _FakeStream()
    stale = _LearningStream(closed, idle)
    young = _LearningStream(fresh, idle)
    assert stale.get_extra_info("is_readable") is False, "nothing learned yet, not readable"
    closed.readable = True
    stale._last_io -= 100.0  # idle for 100 s when the server closed it
    assert stale.get_extra_info("is_readable") is True
    limit = idle.reuse_limit(time.monotonic())
    assert limit is not None
    assert 0.0 < limit < 100.0
    assert young.get_extra_info("is_readable") is False, "a connection just used is reused"
    young._last_io -= 100.0
    assert young.get_extra_info("is_readable") is True, "as old as the server allows: dropped"


@pytest.mark.asyncio
async def test_aiohttp_pool_learns_the_server_idle_timeout(
    serve: Callable[[Handler], Server],
) -> None:
    """aiohttp: once the server closed an idle connection, older idle ones are not reused."""
    server = serve(close_when_idle)
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        await post(http, server.url)
        assert server.event.wait(10.0)  # closed, unseen by the blocked event loop
        await post(http, server.url)
    connector = transport.connector
    assert isinstance(connector, _Connector)
    assert connector.discarded == 1
    assert connector.reuse_limit_source() is not None, "the idle timeout was learned"
