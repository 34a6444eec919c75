"""Blocking HTTP/1.1 test servers on 127.0.0.1, shared by the ``test_*_sockets.py`` modules.

A ``ThreadedServer`` listens on a free loopback port; one thread accepts and each
connection is served from its own thread by the subclass's ``serve_connection``,
so a server serves any event loop (asyncio or trio) and any number of clients.
``close()`` (or leaving ``with``) stops accepting and joins every thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import TypeVar

_Server = TypeVar("_Server", bound="ThreadedServer")


def read_head(conn: socket.socket, buffer: bytearray) -> bytes | None:
    """A request's head (up to the blank line, excluded); ``None`` if the client closed first.

    Bytes read past the head stay in ``buffer`` (the body, a pipelined request).
    """
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    return head


def read_body(conn: socket.socket, head: bytes, buffer: bytearray) -> bytes | None:
    """The body of the request whose head is ``head``, read to its Content-Length."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(buffer) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return body


def read_request(
    conn: socket.socket, buffer: bytearray | None = None
) -> tuple[bytes, bytes] | None:
    """One request: its head and its body; ``None`` when the client closed first.

    Give the connection's ``buffer`` to read several requests from one connection.
    """
    if buffer is None:
        buffer = bytearray()
    head = read_head(conn, buffer)
    if head is None:
        return None
    body = read_body(conn, head, buffer)
    return None if body is None else (head, body)


def http_response(status: str, body: bytes = b"", headers: str = "") -> bytes:
    """One HTTP/1.1 response with a JSON ``body``; ``headers`` are extra lines, each ending CRLF."""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{headers}\r\n"
    ).encode() + body


def refused_base_url() -> str:
    """``http://127.0.0.1:PORT`` where nothing listens: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class ThreadedServer:
    """An HTTP/1.1 server on 127.0.0.1 (a free port): one thread per connection.

    ``connections`` counts the connections accepted; ``lock`` guards what the
    threads share (a ``Condition``, to wait for a state); ``stop`` is set on close.
    """

    def __init__(self, *, backlog: int | None = None) -> None:
        self.connections = 0
        self.lock = threading.Condition()
        self.stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self._listener.settimeout(0.05)  # how often the accept loop checks ``stop``
        self.port: int = self._listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def serve_connection(self, conn: socket.socket, number: int) -> None:
        """Serve one accepted connection (``number``: from 0, in accept order).

        The connection is closed after; an ``OSError`` (the client went away or
        timed out, the point of many tests) ends it quietly.
        """
        raise NotImplementedError

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                number = self.connections
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn, contextlib.suppress(OSError):
            self.serve_connection(conn, number)

    def close(self) -> None:
        """Stop accepting, and wait for every connection's thread (5 s each at most)."""
        self.stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5.0)

    def __enter__(self: _Server) -> _Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
