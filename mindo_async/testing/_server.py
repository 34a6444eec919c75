"""Serving an emulator over real loopback sockets with uvicorn, in a background thread.

Socket behaviour (timeouts, dropped connections, connection pools) can only be
tested over sockets. ``serve()`` is a plain context manager, so it works from a
synchronous test and from any async backend (asyncio or trio): the server runs
its own asyncio loop in its own thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal, Protocol

import attrs

from ._emulator import SEND_PATH, Emulator
from ._ledger import Ledger

HttpProtocol = Literal["auto", "h11", "httptools"]


@attrs.frozen
class EmulatorServer:
    """A running socket-served emulator: where it listens, and the emulator behind it."""

    emulator: Emulator
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """The base URL to give a client, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def send_url(self) -> str:
        """The full URL of the send endpoint."""
        return self.base_url + SEND_PATH

    @property
    def api_key(self) -> str:
        """An API key the emulator accepts."""
        return self.emulator.api_key

    @property
    def ledger(self) -> Ledger:
        """The emulator's ledger (a shortcut for ``server.emulator.ledger``)."""
        return self.emulator.ledger


def _bind(host: str, port: int) -> socket.socket:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def _make_server(
    emulator: Emulator, http: HttpProtocol, graceful_timeout: int, idle_timeout: float
) -> _StoppableServer:
    import uvicorn

    config = uvicorn.Config(
        emulator,
        http=http,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=graceful_timeout,
        # uvicorn reads it as seconds (its default is 5); a float works.
        timeout_keep_alive=idle_timeout,  # type: ignore[arg-type]
        server_header=False,
    )

    class StoppableServer(uvicorn.Server):
        """A uvicorn server stopped by an event instead of a 0.1 s polling loop."""

        loop: asyncio.AbstractEventLoop | None = None
        stop_event: asyncio.Event | None = None

        async def main_loop(self) -> None:
            self.stop_event = asyncio.Event()
            self.loop = asyncio.get_running_loop()
            ticks = 0
            # on_tick refreshes the Date header (every 10 ticks) and reads should_exit.
            while not await self.on_tick(ticks):
                ticks += 10
                with suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), timeout=1.0)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # uvicorn's own shutdown, less its fixed 0.1 s sleeps (one after asking
            # the connections to close, then 0.1 s polls until they have): a test
            # suite serves an emulator hundreds of times. Same steps, same order:
            # stop accepting, close idle connections and let busy ones finish
            # their response, cancel what is still running after the graceful
            # timeout, then the lifespan shutdown.
            for listener in self.servers:
                listener.close()
            for sock in sockets or []:
                sock.close()
            for connection in list(self.server_state.connections):
                connection.shutdown()
            try:
                await asyncio.wait_for(
                    self._wait_closed(), timeout=self.config.timeout_graceful_shutdown
                )
            except asyncio.TimeoutError:
                for task in self.server_state.tasks:
                    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
            if not self.force_exit:
                await self.lifespan.shutdown()

        async def _wait_closed(self) -> None:
            state = self.server_state
            # uvicorn signals no event when its last connection or task ends: poll.
            while (state.connections or state.tasks) and not self.force_exit:  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            for listener in self.servers:
                await listener.wait_closed()

        def stop(self) -> None:
            self.should_exit = True
            loop, event = self.loop, self.stop_event
            if loop is not None and event is not None:
                with suppress(RuntimeError):  # the loop already closed
                    loop.call_soon_threadsafe(event.set)

    return StoppableServer(config)


class _StoppableServer(Protocol):
    started: bool

    def run(self, sockets: list[socket.socket] | None = None) -> None: ...

    def stop(self) -> None: ...


@contextmanager
def serve(
    emulator: Emulator | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    http: HttpProtocol = "auto",
    startup_timeout: float = 10.0,
    graceful_timeout: int = 1,
    idle_timeout: float = 5.0,
) -> Iterator[EmulatorServer]:
    """Serve ``emulator`` (a new default one if None) with uvicorn in a background thread.

    Binds ``host:port`` (port 0 picks a free port) before starting, waits until
    the server accepts connections, yields an ``EmulatorServer`` and stops the
    server on exit, cancelling requests still running after ``graceful_timeout``
    seconds. ``http`` picks uvicorn's HTTP/1.1 implementation ("auto" is
    httptools when installed, else h11). ``idle_timeout`` is how long uvicorn
    keeps an idle kept-alive connection open (seconds; uvicorn's default is 5).
    """
    if emulator is None:
        emulator = Emulator()
    sock = _bind(host, port)
    bound_port: int = sock.getsockname()[1]
    server = _make_server(emulator, http, graceful_timeout, idle_timeout)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit on startup failure included
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"mindo-emulator-{bound_port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the emulator server failed to start") from (
                    failure[0] if failure else None
                )
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator server did not start in time")
            time.sleep(0.002)
        yield EmulatorServer(emulator, host, bound_port)
    finally:
        server.stop()
        thread.join(graceful_timeout + 5.0)
        sock.close()
