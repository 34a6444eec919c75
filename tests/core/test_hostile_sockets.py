"""Honest outcomes under hostile servers (issue 15), over real loopback sockets.

Each scenario is a misbehaving HTTP/1.1 server on 127.0.0.1 that keeps its
own ledger of the requests it read, and a client that must report what may
have happened, never less. Every scenario runs on each transport where it can
occur:

- httpx's own transport (``transport="httpx"``) on asyncio and trio (anyio tests);
- the default transport (``"auto"``: aiohttp's pool) on asyncio (pytest-asyncio).

The servers are blocking sockets in background threads, so they serve any
event loop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from loopback_http import ThreadedServer, read_request
from loopback_http import http_response as response

from mindo_async import (
    APIConnectionError,
    AsyncMindo,
    AuthenticationError,
    ConfigurationError,
    DeliveryUnknownError,
    InvalidRequestError,
    InvalidResponseError,
    Outcome,
    RateLimitError,
    RetryPolicy,
    SendRequest,
    SentMessage,
    ServerDeliveryUnknownError,
    ServerError,
    SQLiteJournal,
    UnexpectedResponseError,
)
from mindo_async._endpoints import BUSINESS_INFO
from mindo_async._pacing import MAX_PAUSE

API_KEY = "mindo_test0123456789abcdefABCDEF"
PHONE_A = "+5491112345678"
PHONE_B = "+5491187654321"
FIELDS: dict[str, Any] = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "recipient_phone": PHONE_A,
    "variables": {"name": "Juan Perez"},
}


def sent_body(request_json: dict[str, Any], message_id: str = "wamid.A") -> bytes:
    """The documented 200 body answering ``request_json``."""
    return json.dumps(
        {
            "success": True,
            "message_id": message_id,
            "template_name": request_json["template_name"],
            "recipient_phone": request_json["recipient_phone"],
            "status": "sent",
            "sent_at": "2025-11-16T21:30:00Z",
        }
    ).encode()


class Received:
    """One request as the server read it."""

    def __init__(self, head: bytes, body: bytes, connection: int) -> None:
        self.head = head
        self.body = body
        self.connection = connection

    def json(self) -> Any:
        return json.loads(self.body)


#: What a server does with one request: it gets the request, the connection's
#: socket, the number of the request on that connection (from 0) and the number
#: of the request overall (from 0). It returns False to close the connection.
Handler = Callable[[Received, socket.socket, int, int], bool]


class HostileServer(ThreadedServer):
    """An HTTP/1.1 server on 127.0.0.1 whose every answer is decided by ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Received] = []
        super().__init__()
        self.url = self.base_url

    def serve_connection(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(5.0)
        buffer = bytearray()
        on_connection = 0
        while not self.stop.is_set():
            read = read_request(conn, buffer)
            if read is None:
                return
            request = Received(*read, number)
            with self.lock:
                overall = len(self.requests)
                self.requests.append(request)
            if not self.handler(request, conn, on_connection, overall):
                return
            on_connection += 1


@pytest.fixture
def hostile() -> Iterator[Callable[[Handler], HostileServer]]:
    """Start hostile servers; all are stopped after the test."""
    with contextlib.ExitStack() as servers:
        yield lambda handler: servers.enter_context(HostileServer(handler))


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoffs of 10 ms, so that retried failures keep this module fast."""
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, retry_number, random=None: 0.01)


def client(base_url: str, transport: str, **options: Any) -> AsyncMindo:
    options.setdefault("max_retries", 2)
    return AsyncMindo(
        api_key=API_KEY, base_url=base_url, transport=transport, rate_limit=None, **options
    )


Scenario = Callable[[Callable[[Handler], HostileServer], str], Awaitable[None]]


# -- item 1: an answer that is not this request's is not SENT ---------------------------


async def stray_answer_is_not_sent(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    # Request A gets its answer plus a second, unsolicited one; request B, sent on
    # the same kept-alive connection, is read and never answered.
    answered = threading.Event()  # the client has A's answer (set by the test)
    strayed = threading.Event()  # the stray answer is on the wire (set by the server)

    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        if overall == 0:
            answer = response("200 OK", sent_body(request.json(), "wamid.A"))
            stray = response("200 OK", sent_body(request.json(), "wamid.STRAY"))
            if transport == "httpx":
                conn.sendall(answer + stray)  # in the same segment: httpcore keeps it
            else:
                conn.sendall(answer)
                answered.wait(5.0)  # while the connection is idle: aiohttp keeps it
                conn.sendall(stray)
            strayed.set()
            return True
        return False  # B: read, then hung up

    server = hostile(handler)
    async with client(server.url, transport, max_connections=1) as mindo:
        first = await mindo.send(**FIELDS)
        assert first.message_id == "wamid.A"
        answered.set()
        assert await anyio.to_thread.run_sync(strayed.wait, 5.0), "no stray answer sent"
        with pytest.raises(DeliveryUnknownError) as caught:
            await mindo.send(**{**FIELDS, "recipient_phone": PHONE_B})
    assert caught.value.request is not None
    assert caught.value.request.recipient_phone == PHONE_B
    bodies = [r.json()["recipient_phone"] for r in server.requests]
    assert bodies.count(PHONE_B) <= 1, "B must not be sent twice"


async def echo_of_another_request_is_unexpected(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    # A server (or a middlebox) answering every request with the first one's echo.
    first: list[dict[str, Any]] = []

    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        if not first:
            first.append(request.json())
        conn.sendall(response("200 OK", sent_body(first[0], f"wamid.{overall}")))
        return True

    server = hostile(handler)
    requests = [SendRequest(**{**FIELDS, "recipient_phone": p}) for p in (PHONE_A, PHONE_B)]
    async with client(server.url, transport, max_connections=1) as mindo:
        results = await mindo.send_many(requests, concurrency=1)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.UNKNOWN]
    assert isinstance(results[1].error, UnexpectedResponseError)
    assert "recipient_phone" in str(results[1].error)
    assert len(server.requests) == 2


# -- item 4: once ambiguous, the end can only be SENT or UNKNOWN -------------------------


async def ambiguous_then_refused_stays_unknown(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    # Attempt 1: a 500 (the gateway may have called Meta); then only 429s.
    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        if overall == 0:
            conn.sendall(response("500 Internal Server Error", b'{"error": "boom"}'))
        else:
            slow = response("429 Too Many Requests", b'{"error": "slow"}', "Retry-After: 0\r\n")
            conn.sendall(slow)
        return True

    server = hostile(handler)
    async with client(server.url, transport, retry_ambiguous=True) as mindo:
        with pytest.raises(DeliveryUnknownError) as caught:
            await mindo.send(**FIELDS)
    error = caught.value
    assert not isinstance(error, RateLimitError)
    assert isinstance(error.__cause__, RateLimitError), "the last error is the cause"
    assert "500" in str(error)
    assert error.attempts == 3
    assert len(server.requests) == 3


async def dropped_then_unavailable_is_unknown_in_a_fanout(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    # Attempt 1 is read and dropped (maybe processed); later attempts get 503s.
    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        if overall == 0:
            return False
        conn.sendall(response("503 Service Unavailable", b'{"error": "later"}'))
        return True

    server = hostile(handler)
    async with client(server.url, transport, retry_ambiguous=True) as mindo:
        (result,) = await mindo.send_many([SendRequest(**FIELDS)])
    assert result.outcome is Outcome.UNKNOWN
    assert isinstance(result.error, DeliveryUnknownError)
    assert isinstance(result.error.__cause__, ServerError)
    assert not isinstance(result.error.__cause__, ServerDeliveryUnknownError)
    assert len(server.requests) == 3


# -- item 7: a 3xx after processing is UNKNOWN, never followed ---------------------------


async def see_other_is_unknown_not_followed(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        if request.head.startswith(b"POST"):
            conn.sendall(response("303 See Other", b"", "Location: /api/v1/messages/1/\r\n"))
        else:
            conn.sendall(response("200 OK", b"{}"))
        return True

    server = hostile(handler)
    async with client(server.url, transport) as mindo:
        with pytest.raises(UnexpectedResponseError) as caught:
            await mindo.send(**FIELDS)
        (result,) = await mindo.send_many([SendRequest(**{**FIELDS, "recipient_phone": PHONE_B})])
    assert caught.value.status_code == 303
    assert isinstance(caught.value, DeliveryUnknownError)
    assert result.outcome is Outcome.UNKNOWN
    assert len(server.requests) == 2, "neither was retried nor followed"
    assert all(r.head.startswith(b"POST") for r in server.requests)


async def redirect_to_a_read_is_invalid_response(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        conn.sendall(response("302 Found", b"", "Location: http://127.0.0.1:9/elsewhere\r\n"))
        return True

    server = hostile(handler)
    async with client(server.url, transport) as mindo:
        with pytest.raises(InvalidResponseError) as caught:
            await mindo._requester.get_json(BUSINESS_INFO)
    assert not isinstance(caught.value, DeliveryUnknownError), "a read delivers nothing"
    assert caught.value.status_code == 302
    assert len(server.requests) == 1, "not retried, not followed"


# -- item 8: the key is redacted whatever its escaping or case ---------------------------


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


async def echoed_key_is_redacted_everywhere(
    hostile: Callable[[Handler], HostileServer], transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = [
        f'{{"error": "key {_escaped(API_KEY)} refused"}}',
        f'{{"error": "key {API_KEY.upper()} refused"}}',
        f'{{"detail": "key {_escaped(API_KEY.upper())} refused"}}',
        f"key {API_KEY.upper()} refused",
    ]

    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        conn.sendall(response("401 Unauthorized", bodies[overall].encode()))
        return True

    server = hostile(handler)
    logger = logging.getLogger("test.hostile")
    caplog.set_level(logging.DEBUG)
    async with client(server.url, transport) as mindo:
        for _ in bodies:
            with pytest.raises(AuthenticationError) as caught:
                await mindo.send(**FIELDS)
            logger.exception("send failed", exc_info=caught.value)
            for text in (str(caught.value), json.dumps(caught.value.body), repr(caught.value)):
                assert API_KEY.lower() not in text.lower()
                assert _escaped(API_KEY).lower() not in text.lower()
            assert "redacted" in str(caught.value)
    assert len(server.requests) == len(bodies)
    logged = caplog.text.lower()
    assert API_KEY.lower() not in logged
    assert _escaped(API_KEY).lower() not in logged


# -- Retry-After without bounds ------------------------------------------------------------


async def unbounded_retry_after_is_unreadable_or_capped(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        if overall == 0:
            # Infinite: unreadable, so the usual backoff applies, and it is retried.
            conn.sendall(response("429 Too Many Requests", b"{}", "retry-after-ms: inf\r\n"))
        elif overall == 1:
            conn.sendall(response("200 OK", sent_body(request.json())))
        else:
            conn.sendall(response("429 Too Many Requests", b"{}", "Retry-After: 1e308\r\n"))
        return True

    server = hostile(handler)
    async with client(server.url, transport) as mindo:
        message = await mindo.send(**FIELDS)
        assert isinstance(message, SentMessage)
        with pytest.raises(RateLimitError) as caught:
            await mindo.send(**FIELDS)
        paused = mindo.pacer.paused_for(FIELDS["phone_number_id"])
    assert caught.value.retry_after == MAX_PAUSE
    assert 0 < paused <= MAX_PAUSE
    assert len(server.requests) == 3


# -- item 2: a bad row is that row's REJECTED result; the run goes on --------------------


async def bad_rows_are_rejected_and_the_run_goes_on(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    # Each answer takes 50 ms, so good rows are on the wire when the bad ones are met.
    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        threading.Event().wait(0.05)
        conn.sendall(response("200 OK", sent_body(request.json(), f"wamid.{overall}")))
        return True

    def good(n: int) -> SendRequest:
        return SendRequest(**{**FIELDS, "variables": {"name": f"n{n}"}})

    rows: list[Any] = [
        good(0),
        good(1),
        {"phone_number_id": "1"},  # a dict, not a SendRequest
        None,
        SendRequest(**{**FIELDS, "variables": {"code": 10**4300}}),
        SendRequest(**{**FIELDS, "variables": {"name": "\ud800"}}),
        good(2),
        SendRequest(**{**FIELDS, "variables": {"name": "explode"}}),  # key= raises
        good(3),
    ]

    def key(request: SendRequest) -> str:
        if request.variables == {"name": "explode"}:
            raise KeyError("no key for this row")
        return repr(sorted((request.variables or {}).items()))

    server = hostile(handler)
    async with client(server.url, transport) as mindo:
        results = await mindo.send_many(
            rows, concurrency=4, journal=SQLiteJournal(":memory:"), key=key
        )
    outcomes = [r.outcome for r in results]
    assert outcomes == [Outcome.SENT] * 2 + [Outcome.REJECTED] * 4 + [
        Outcome.SENT,
        Outcome.REJECTED,
        Outcome.SENT,
    ]
    assert [r.index for r in results] == list(range(len(rows)))
    for index in (2, 3):
        error = results[index].error
        assert isinstance(error, TypeError)
        assert "SendRequest" in str(error)
    assert isinstance(results[4].error, InvalidRequestError)
    assert "variables.code" in results[4].error.errors
    assert isinstance(results[5].error, InvalidRequestError)
    assert "variables.name" in results[5].error.errors
    assert isinstance(results[7].error, KeyError)
    assert len(server.requests) == 4, "every good row was sent once, none cancelled"


# -- item 5: the API key never reaches a proxy unencrypted -------------------------------

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "REQUEST_METHOD",
)


@pytest.fixture
def proxy(
    hostile: Callable[[Handler], HostileServer], monkeypatch: pytest.MonkeyPatch
) -> HostileServer:
    """A loopback 'proxy' that records what it received and refuses it; no proxy variable set."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        conn.sendall(response("403 Forbidden", b"", "Connection: close\r\n"))
        return False

    return hostile(handler)


def ok_server(hostile: Callable[[Handler], HostileServer]) -> HostileServer:
    """A server answering every send with its documented 200."""

    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        conn.sendall(response("200 OK", sent_body(request.json())))
        return True

    return hostile(handler)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"])
def test_own_http_client_to_plain_http_through_a_proxy_is_refused(
    proxy: HostileServer, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """A caller's ``httpx.AsyncClient()`` that would take a plain-http URL through the
    environment's proxy is refused at construction, saying how to fix it."""
    monkeypatch.setenv(variable, proxy.url)
    http = httpx.AsyncClient()
    with pytest.raises(ConfigurationError) as caught:
        AsyncMindo(api_key=API_KEY, base_url="http://127.0.0.1:9", http_client=http)
    text = str(caught.value)
    assert "NO_PROXY" in text
    assert "trust_env=False" in text
    assert API_KEY not in text
    assert proxy.connections == 0


@pytest.mark.anyio
@pytest.mark.parametrize("fix", ["no_proxy", "trust_env"])
async def test_own_http_client_with_the_fix_goes_direct(
    proxy: HostileServer,
    hostile: Callable[[Handler], HostileServer],
    monkeypatch: pytest.MonkeyPatch,
    fix: str,
) -> None:
    """With ``NO_PROXY`` naming the host, or ``trust_env=False``, the send goes direct."""
    server = ok_server(hostile)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    if fix == "no_proxy":
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with (
        httpx.AsyncClient(trust_env=fix != "trust_env") as http,
        AsyncMindo(api_key=API_KEY, base_url=server.url, http_client=http, rate_limit=None) as m,
    ):
        assert isinstance(await m.send(**FIELDS), SentMessage)
    assert len(server.requests) == 1
    assert proxy.connections == 0, "the proxy saw nothing"


async def library_client_reaches_plain_http_directly(
    proxy: HostileServer,
    hostile: Callable[[Handler], HostileServer],
    monkeypatch: pytest.MonkeyPatch,
    transport: str,
) -> None:
    server = ok_server(hostile)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    async with client(server.url, transport) as mindo:
        assert isinstance(await mindo.send(**FIELDS), SentMessage)
    assert len(server.requests) == 1
    assert proxy.connections == 0, "the proxy saw nothing"


async def library_client_tunnels_https_through_the_proxy(
    proxy: HostileServer, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with AsyncMindo(
        api_key=API_KEY, base_url="https://api.mindo.invalid", transport=transport, max_retries=0
    ) as mindo:
        with pytest.raises(APIConnectionError) as caught:
            await mindo.send(**FIELDS)
    assert not isinstance(caught.value, DeliveryUnknownError), "a refused tunnel sent nothing"
    (request,) = proxy.requests
    assert request.head.startswith(b"CONNECT api.mindo.invalid:443 HTTP/1.1")
    assert API_KEY.encode() not in request.head + request.body, "only a tunnel, never the key"


@pytest.mark.anyio
async def test_library_client_reaches_plain_http_directly_httpx(
    proxy: HostileServer,
    hostile: Callable[[Handler], HostileServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx: with ``HTTP_PROXY``/``ALL_PROXY`` set, a plain-http base URL is reached directly."""
    await library_client_reaches_plain_http_directly(proxy, hostile, monkeypatch, "httpx")


@pytest.mark.asyncio
async def test_library_client_reaches_plain_http_directly_auto(
    proxy: HostileServer,
    hostile: Callable[[Handler], HostileServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Default transport: a plain-http base URL is reached directly, never via the proxy."""
    await library_client_reaches_plain_http_directly(proxy, hostile, monkeypatch, "auto")


@pytest.mark.anyio
async def test_library_client_tunnels_https_through_the_proxy_httpx(
    proxy: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx: an https base URL honours ``HTTPS_PROXY`` with a CONNECT tunnel; no key in clear."""
    await library_client_tunnels_https_through_the_proxy(proxy, monkeypatch, "httpx")


@pytest.mark.asyncio
async def test_library_client_tunnels_https_through_the_proxy_auto(
    proxy: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default transport: an https base URL goes through ``HTTPS_PROXY`` as a CONNECT tunnel."""
    await library_client_tunnels_https_through_the_proxy(proxy, monkeypatch, "auto")


# -- item 3: leaving stream_many early loses no outcome ------------------------------------


def code_of(request: SendRequest) -> str:
    """The ``code`` variable that tells the requests of a run apart."""
    assert request.variables is not None
    return str(request.variables["code"])


def coded(count: int) -> list[SendRequest]:
    """``count`` distinct requests, told apart by their ``code`` variable."""
    return [SendRequest(**{**FIELDS, "variables": {"code": f"C{n}"}}) for n in range(count)]


async def break_early_loses_no_outcome(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        threading.Event().wait(0.03)
        conn.sendall(response("200 OK", sent_body(request.json(), f"wamid.{overall}")))
        return True

    server = hostile(handler)
    journal = SQLiteJournal(":memory:")
    concurrency = 4
    read: list[Any] = []
    async with (
        client(server.url, transport) as mindo,
        mindo.stream_many(
            coded(60), concurrency=concurrency, journal=journal, key=code_of
        ) as stream,
    ):
        async for result in stream:
            read.append(result)
            if len(read) == 5:
                break
    unread = stream.unread
    assert isinstance(unread, list)
    assert len(unread) <= 2 * concurrency, "at most the concurrency plus the buffer"
    processed = {r.json()["variables"]["code"] for r in server.requests}
    reported = {code_of(r.request): r for r in read + unread}
    assert processed <= set(reported), "every message the server processed is reported"
    assert len(reported) == len(read) + len(unread), "one result per request"
    assert len(processed) < 60, "no new request was pulled after the break"
    for code in processed:
        assert reported[code].outcome is Outcome.SENT
        entry = journal.lookup(code)
        assert entry is not None
        assert entry.state == "sent", "each unread result is journaled too"
    assert stream.progress.done == len(read) + len(unread)


async def drain_timeout_cancels_and_reports_unknown(
    hostile: Callable[[Handler], HostileServer], transport: str
) -> None:
    # The first two answers come at once; every later one only once the client is
    # done (or after 3 s): far past the 0.2 s drain timeout either way.
    late = threading.Event()

    def handler(request: Received, conn: socket.socket, on_connection: int, overall: int) -> bool:
        if overall >= 2:
            late.wait(3.0)
        conn.sendall(response("200 OK", sent_body(request.json(), f"wamid.{overall}")))
        return True

    server = hostile(handler)
    journal = SQLiteJournal(":memory:")
    read: list[Any] = []
    async with (
        client(server.url, transport) as mindo,
        mindo.stream_many(
            coded(20), concurrency=3, journal=journal, key=code_of, drain_timeout=0.2
        ) as stream,
    ):
        async for result in stream:
            read.append(result)
            break
    late.set()  # the client is closed: the held answers can go (the server stops sooner)
    unknown = [r for r in stream.unread if r.outcome is Outcome.UNKNOWN]
    assert unknown, "the slow sends were cancelled past the drain timeout"
    for result in unknown:
        assert isinstance(result.error, DeliveryUnknownError)
        entry = journal.lookup(code_of(result.request))
        assert entry is not None
        assert entry.state == "unknown"
    on_the_wire = {r.json()["variables"]["code"] for r in server.requests}
    assert [r.outcome for r in read] == [Outcome.SENT]
    reported = {code_of(r.request) for r in read + stream.unread}
    assert on_the_wire <= reported, "every request the server got is reported"


@pytest.mark.anyio
async def test_stream_many_without_async_with_is_a_type_error() -> None:
    """``async for`` straight over ``stream_many(...)`` raises a TypeError naming ``async with``."""
    async with AsyncMindo(api_key=API_KEY, base_url="http://127.0.0.1:9") as mindo:
        with pytest.raises(TypeError, match="async with"):
            async for _ in mindo.stream_many(coded(1)):  # type: ignore[attr-defined]
                pass


# -- cancellation before the first byte is written is "never sent" ----------------------


@pytest.fixture
def unaccepting_url() -> Iterator[str]:
    """A loopback port whose accept queue is full: connecting to it hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=1.0)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        filler.close()
        listener.close()


@pytest.mark.anyio
async def test_cancelled_while_connecting_is_skipped_not_unknown_httpx(
    unaccepting_url: str,
) -> None:
    """httpx: sends cancelled while still connecting never wrote a byte: SKIPPED, not UNKNOWN."""
    journal = SQLiteJournal(":memory:")
    async with client(unaccepting_url, "httpx") as mindo:
        with anyio.move_on_after(0.3):
            async with mindo.stream_many(
                coded(3), concurrency=3, journal=journal, key=code_of
            ) as stream:
                async for _ in stream:
                    pytest.fail("nothing can be answered")
    assert len(stream.unread) == 3
    for result in stream.unread:
        assert result.outcome is Outcome.SKIPPED, result
        entry = journal.lookup(code_of(result.request))
        assert entry is not None
        assert entry.state == "skipped", "a resume sends it"


# -- the scenarios on every transport ------------------------------------------------------


@pytest.mark.anyio
async def test_stray_answer_is_not_sent_httpx(hostile: Callable[[Handler], HostileServer]) -> None:
    """httpx: B reading A's leftover answer off a reused connection is UNKNOWN, not SENT."""
    await stray_answer_is_not_sent(hostile, "httpx")


@pytest.mark.asyncio
async def test_stray_answer_is_not_sent_auto(hostile: Callable[[Handler], HostileServer]) -> None:
    """Default transport: B reading A's leftover answer is UNKNOWN, not SENT."""
    await stray_answer_is_not_sent(hostile, "auto")


@pytest.mark.anyio
async def test_echo_of_another_request_is_unexpected_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx: a 200 echoing another recipient is UNKNOWN (``UnexpectedResponseError``)."""
    await echo_of_another_request_is_unexpected(hostile, "httpx")


@pytest.mark.asyncio
async def test_echo_of_another_request_is_unexpected_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport: a 200 echoing another recipient is UNKNOWN."""
    await echo_of_another_request_is_unexpected(hostile, "auto")


@pytest.mark.anyio
async def test_ambiguous_then_refused_stays_unknown_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx, ``retry_ambiguous``: 500 then 429s ends ``DeliveryUnknownError``, not 'not sent'."""
    await ambiguous_then_refused_stays_unknown(hostile, "httpx")


@pytest.mark.asyncio
async def test_ambiguous_then_refused_stays_unknown_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport, ``retry_ambiguous``: 500 then 429s ends ``DeliveryUnknownError``."""
    await ambiguous_then_refused_stays_unknown(hostile, "auto")


@pytest.mark.anyio
async def test_dropped_then_unavailable_is_unknown_in_a_fanout_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx, ``retry_ambiguous``: a drop then 503s is UNKNOWN in a fan-out, not REJECTED."""
    await dropped_then_unavailable_is_unknown_in_a_fanout(hostile, "httpx")


@pytest.mark.asyncio
async def test_dropped_then_unavailable_is_unknown_in_a_fanout_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport, ``retry_ambiguous``: a drop then 503s is UNKNOWN in a fan-out."""
    await dropped_then_unavailable_is_unknown_in_a_fanout(hostile, "auto")


@pytest.mark.anyio
async def test_see_other_is_unknown_not_followed_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx: a 303 to a send is UNKNOWN (never REJECTED), not retried and not followed."""
    await see_other_is_unknown_not_followed(hostile, "httpx")


@pytest.mark.asyncio
async def test_see_other_is_unknown_not_followed_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport: a 303 to a send is UNKNOWN, not retried and not followed."""
    await see_other_is_unknown_not_followed(hostile, "auto")


@pytest.mark.anyio
async def test_echoed_key_is_redacted_everywhere_httpx(
    hostile: Callable[[Handler], HostileServer], caplog: pytest.LogCaptureFixture
) -> None:
    """httpx: an escaped or upper-cased key echo is in no error text, body or log line."""
    await echoed_key_is_redacted_everywhere(hostile, "httpx", caplog)


@pytest.mark.asyncio
async def test_echoed_key_is_redacted_everywhere_auto(
    hostile: Callable[[Handler], HostileServer], caplog: pytest.LogCaptureFixture
) -> None:
    """Default transport: an escaped or upper-cased key echo is in no error text, body or log."""
    await echoed_key_is_redacted_everywhere(hostile, "auto", caplog)


@pytest.mark.anyio
async def test_unbounded_retry_after_is_unreadable_or_capped_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx: ``retry-after-ms: inf`` is ignored, ``Retry-After: 1e308`` capped at an hour."""
    await unbounded_retry_after_is_unreadable_or_capped(hostile, "httpx")


@pytest.mark.asyncio
async def test_unbounded_retry_after_is_unreadable_or_capped_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport: an infinite Retry-After is ignored, a huge one capped at an hour."""
    await unbounded_retry_after_is_unreadable_or_capped(hostile, "auto")


@pytest.mark.anyio
async def test_bad_rows_are_rejected_and_the_run_goes_on_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx: wrong-type, invalid and key-failing rows are REJECTED; the good rows are all sent."""
    await bad_rows_are_rejected_and_the_run_goes_on(hostile, "httpx")


@pytest.mark.asyncio
async def test_bad_rows_are_rejected_and_the_run_goes_on_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport: bad rows are REJECTED, the run goes on and every good row is sent."""
    await bad_rows_are_rejected_and_the_run_goes_on(hostile, "auto")


@pytest.mark.anyio
async def test_break_early_loses_no_outcome_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx: after a ``break``, every processed message is in the results read or ``unread``."""
    await break_early_loses_no_outcome(hostile, "httpx")


@pytest.mark.asyncio
async def test_break_early_loses_no_outcome_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport: after a ``break``, every processed message is read or ``unread``."""
    await break_early_loses_no_outcome(hostile, "auto")


@pytest.mark.anyio
async def test_drain_timeout_cancels_and_reports_unknown_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx: sends still on the wire past the drain timeout are cancelled, UNKNOWN, journaled."""
    await drain_timeout_cancels_and_reports_unknown(hostile, "httpx")


@pytest.mark.asyncio
async def test_drain_timeout_cancels_and_reports_unknown_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport: sends past the drain timeout are cancelled, UNKNOWN and journaled."""
    await drain_timeout_cancels_and_reports_unknown(hostile, "auto")


@pytest.mark.anyio
async def test_redirect_to_a_read_is_invalid_response_httpx(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """httpx: a 302 to a GET is ``InvalidResponseError``: not followed, not retried, not UNKNOWN."""
    await redirect_to_a_read_is_invalid_response(hostile, "httpx")


@pytest.mark.asyncio
async def test_redirect_to_a_read_is_invalid_response_auto(
    hostile: Callable[[Handler], HostileServer],
) -> None:
    """Default transport: a 302 to a GET is ``InvalidResponseError``, not followed or retried."""
    await redirect_to_a_read_is_invalid_response(hostile, "auto")
