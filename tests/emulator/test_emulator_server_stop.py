"""How ``serve()`` stops its uvicorn server: requests in flight, idle connections, the timeout.

The emulator is wrapped in an ASGI app that reports when a request reached it
and holds the request until released, so that the tests know a request is in
flight when the server is asked to stop, without guessing with sleeps.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from mindo_async.testing import Emulator, serve

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Holding:
    """The emulator behind an ASGI app that holds each HTTP request until ``release()``."""

    def __init__(self) -> None:
        self.emulator = Emulator()
        self.arrived = threading.Event()
        self._release = threading.Event()

    def release(self) -> None:
        """Let the held requests go on to the emulator."""
        self._release.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.arrived.set()
            while not self._release.is_set():  # noqa: ASYNC110 (a thread releases it)
                await asyncio.sleep(0.005)
        await self.emulator(scope, receive, send)


def post_in_thread(url: str) -> tuple[threading.Thread, list[httpx.Response | Exception]]:
    """POST a send without a key to ``url`` from a thread; its answer or error goes in the list."""
    outcome: list[httpx.Response | Exception] = []

    def run() -> None:
        try:
            outcome.append(httpx.post(url, json={}, timeout=30.0))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def release_once_refused(app: Holding, port: int) -> threading.Thread:
    """Release ``app``'s requests from a thread once ``port`` refuses connections (stopping)."""

    def run() -> None:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            except OSError:
                break
            time.sleep(0.005)
        app.release()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_request_in_flight_at_stop_gets_its_answer() -> None:
    """Leaving ``serve()`` while a request is being handled lets it finish with its answer."""
    app = Holding()
    with serve(app) as server:  # type: ignore[arg-type]
        client, outcome = post_in_thread(server.send_url)
        assert app.arrived.wait(10.0)
        # Released only once the server stopped accepting: it is in flight during the stop.
        releaser = release_once_refused(app, server.port)
    client.join(10.0)
    releaser.join(10.0)
    assert len(outcome) == 1
    response = outcome[0]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 401  # the emulator's answer: no X-API-Key


def test_a_request_still_running_after_the_graceful_timeout_is_cancelled() -> None:
    """Past ``graceful_timeout`` the request is cancelled (uvicorn answers 500); the stop ends."""
    app = Holding()
    with serve(app, graceful_timeout=0) as server:  # type: ignore[arg-type]
        client, outcome = post_in_thread(server.send_url)
        assert app.arrived.wait(10.0)
    client.join(10.0)
    app.release()
    assert len(outcome) == 1, "the client was answered"
    response = outcome[0]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 500  # uvicorn's, for a request cancelled before it answered
    assert not app.emulator.ledger.counts["total_requests"], "the emulator never saw it"
