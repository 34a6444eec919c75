"""Never-sent requests left UNKNOWN by a cancellation (issue 15, "cancellation").

``python -m benchmarks.cancel_unknown [--trials N] [--transport httpx|auto]
[--backend asyncio|trio]`` runs fan-outs of 200 sends (concurrency 32, a fresh
client each time, so connections are being opened) against a loopback server
that answers after 20 ms and records every request it read, and cancels each
run after a random 0-300 ms. Every request then has a result (read, or in
``stream.unread``); an ``UNKNOWN`` whose request the server never received is
a false UNKNOWN: a resume would never send it. Also counts duplicates (a
request the server received twice), which must stay 0.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import threading
from typing import Any

import anyio

from mindo_async import AsyncMindo, Outcome, SendRequest, SendResult

API_KEY = "mindo_benchmark_0123456789abcdef"
LATENCY = 0.02


class Server:
    """A threaded keep-alive HTTP/1.1 server answering the documented 200 after ``LATENCY``."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            try:
                while True:
                    while b"\r\n\r\n" not in buffer:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(buffer) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    body, buffer = json.loads(buffer[:length]), buffer[length:]
                    with self._lock:
                        self.received.append(body["variables"]["code"])
                    self._stop.wait(LATENCY)
                    answer = json.dumps(
                        {
                            "success": True,
                            "message_id": f"wamid.{body['variables']['code']}",
                            "template_name": body["template_name"],
                            "recipient_phone": body["recipient_phone"],
                            "status": "sent",
                            "sent_at": "2025-11-16T21:30:00Z",
                        }
                    ).encode()
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                        + answer
                    )
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


def _requests(trial: int, count: int) -> list[SendRequest]:
    return [
        SendRequest(
            phone_number_id="813497231850626",
            template_name="welcome_message",
            recipient_phone="+5491112345678",
            variables={"code": f"T{trial}-{n}"},
        )
        for n in range(count)
    ]


async def _trial(server: Server, trial: int, transport: str, rng: random.Random) -> list[Any]:
    results: list[SendResult] = []
    async with AsyncMindo(
        api_key=API_KEY, base_url=server.url, transport=transport, rate_limit=None
    ) as mindo:
        with anyio.move_on_after(rng.uniform(0.0, 0.3)):
            async with mindo.stream_many(_requests(trial, 200), concurrency=32) as stream:
                async for result in stream:
                    results.append(result)
        results.extend(stream.unread)
    return results


async def _run(trials: int, transport: str, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    server = Server()
    totals = {"trials": trials, "unknown": 0, "false_unknown": 0, "duplicates": 0, "sent": 0}
    try:
        for trial in range(trials):
            results = await _trial(server, trial, transport, rng)
            await anyio.sleep(LATENCY * 3)  # let the server finish reading what it got
            received = [c for c in server.received if c.startswith(f"T{trial}-")]
            seen = set(received)
            totals["duplicates"] += len(received) - len(seen)
            for result in results:
                assert result.request.variables is not None
                code = result.request.variables["code"]
                if result.outcome is Outcome.UNKNOWN:
                    totals["unknown"] += 1
                    if code not in seen:
                        totals["false_unknown"] += 1
                elif result.outcome is Outcome.SENT:
                    totals["sent"] += 1
    finally:
        server.close()
    return totals


def main() -> None:
    """Run the trials and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--transport", default="httpx", choices=["httpx", "auto"])
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    totals = anyio.run(_run, args.trials, args.transport, args.seed, backend=args.backend)
    per = totals["false_unknown"] / max(totals["trials"], 1)
    print(
        f"{args.backend}/{args.transport}: {totals['trials']} cancellations, "
        f"{totals['sent']} sent, {totals['unknown']} UNKNOWN of which "
        f"{totals['false_unknown']} never reached the server ({per:.2f} per cancellation), "
        f"{totals['duplicates']} duplicates"
    )


if __name__ == "__main__":
    main()
