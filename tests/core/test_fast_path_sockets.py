"""The requester's aiohttp fast path over real loopback sockets: what it must still do."""

from __future__ import annotations

import gzip
import json
import socket

import anyio
import pytest
from loopback_http import ThreadedServer, http_response, read_request

from mindo_async import AsyncMindo, SendRequest

API_KEY = "mindo_test0123456789abcdefABCDEF"
SENT_BODY = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}


class GzipServer(ThreadedServer):
    """Answers every request with the documented success body, gzip-compressed."""

    def __init__(self) -> None:
        super().__init__()
        self.accept_encoding: list[str] = []

    def serve_connection(self, conn: socket.socket, number: int) -> None:
        buffer = bytearray()
        while (request := read_request(conn, buffer)) is not None:
            head, _ = request
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "accept-encoding":
                    self.accept_encoding.append(value.strip())
            body = gzip.compress(json.dumps(SENT_BODY).encode())
            conn.sendall(http_response("200 OK", body, "Content-Encoding: gzip\r\n"))


@pytest.mark.anyio
async def test_a_compressed_answer_is_decoded(anyio_backend: str) -> None:
    """A gzip answer (httpx asks for one) is decoded before it is read, on every transport."""
    with GzipServer() as server:
        async with AsyncMindo(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as mindo:
            with anyio.fail_after(10):
                message = await mindo.send_request(
                    SendRequest(
                        phone_number_id="813497231850626",
                        template_name="welcome_message",
                        recipient_phone="+5491112345678",
                        variables={"name": "Juan"},
                    )
                )
    assert message.message_id == SENT_BODY["message_id"]
    assert server.accept_encoding
    assert "gzip" in server.accept_encoding[0]
