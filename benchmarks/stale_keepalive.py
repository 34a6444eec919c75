"""Stale keep-alive: how often a send on a connection the server is closing ends UNKNOWN.

``python -m benchmarks.stale_keepalive [--sends 2000] [--workers 20] [--idle 0.3]``

The emulator (uvicorn, in its own process) closes a kept-alive connection once
it has been idle ``--idle`` seconds. Each worker sends one message at a time on
its own client, waiting ``idle`` +/- 20 % between sends, so about half of the
sends pick a pooled connection the server has just closed or is closing. A
client that writes on it loses the request and reports it UNKNOWN although the
server never saw it (a false UNKNOWN); a client that checks the connection
before writing opens a new one instead.

Transports compared: httpx-aiohttp 0.2.0 (the transport before this change,
when installed), this library's aiohttp transport (the default under asyncio),
and httpx's own pool. All run at once, interleaved, against the same server.
The emulator's ledger proves how many requests it received and that none was
received twice.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

PHONE_NUMBER_ID = "813497231850626"


def _serve(idle: float, pipe: Connection) -> None:
    from mindo_async.testing import Emulator, serve

    emulator = Emulator()
    with serve(emulator, idle_timeout=idle) as server:
        pipe.send((server.base_url, server.api_key))
        pipe.recv()  # told to stop
        messages = emulator.ledger.messages
        received = Counter(message.recipient_phone for message in messages)
        pipe.send((dict(received), len(emulator.ledger.duplicates())))


def _clients() -> dict[str, Callable[[str, str], Any]]:
    import httpx

    from mindo_async import AsyncMindo

    def ours(transport: str) -> Callable[[str, str], Any]:
        def make(base_url: str, api_key: str) -> Any:
            return AsyncMindo(
                api_key=api_key,
                base_url=base_url,
                rate_limit=None,
                max_retries=0,
                transport=transport,  # type: ignore[arg-type]
            )

        return make

    clients: dict[str, Callable[[str, str], Any]] = {
        "aiohttp (ours)": ours("aiohttp"),
        "httpx pool": ours("httpx"),
    }
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        return clients

    def before(base_url: str, api_key: str) -> Any:
        http = httpx.AsyncClient(
            transport=AiohttpTransport(
                limits=httpx.Limits(max_connections=100, keepalive_expiry=30.0)
            ),
            timeout=httpx.Timeout(30.0, connect=5.0),
        )
        return AsyncMindo(
            api_key=api_key, base_url=base_url, rate_limit=None, max_retries=0, http_client=http
        )

    return {"httpx-aiohttp (before)": before, **clients}


async def _worker(
    name: str,
    make: Callable[[str, str], Any],
    base_url: str,
    api_key: str,
    phones: list[str],
    idle: float,
    outcomes: dict[str, Counter[str]],
    unknown_phones: dict[str, list[str]],
) -> None:
    from mindo_async import DeliveryUnknownError, MindoError

    client = make(base_url, api_key)
    try:
        for phone in phones:
            await asyncio.sleep(idle * random.uniform(0.8, 1.2))
            try:
                await client.send(
                    phone_number_id=PHONE_NUMBER_ID,
                    template_name="verification_code",
                    recipient_phone=phone,
                    variables={"name": "Juan", "code": "1"},
                )
            except DeliveryUnknownError:
                outcomes[name]["unknown"] += 1
                unknown_phones[name].append(phone)
            except MindoError as exc:
                outcomes[name][f"error {type(exc).__name__}"] += 1
            else:
                outcomes[name]["sent"] += 1
    finally:
        await client.aclose()
        if hasattr(client, "http_client") and not client.http_client.is_closed:
            await client.http_client.aclose()


async def _run(args: argparse.Namespace, base_url: str, api_key: str) -> tuple[Any, Any, Any]:
    clients = _clients()
    outcomes: dict[str, Counter[str]] = {name: Counter() for name in clients}
    unknown: dict[str, list[str]] = {name: [] for name in clients}
    phones: dict[str, list[str]] = {}
    per_worker = max(args.sends // args.workers, 1)
    tasks = []
    serial = 0
    for _ in range(args.workers):
        for index, (name, make) in enumerate(clients.items()):
            batch = []
            for _ in range(per_worker):
                serial += 1
                batch.append(f"+54911{index}{serial:07d}")
            phones.setdefault(name, []).extend(batch)
            tasks.append(
                _worker(name, make, base_url, api_key, batch, args.idle, outcomes, unknown)
            )
    await asyncio.gather(*tasks)
    return outcomes, unknown, phones


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=2000, help="sends per transport")
    parser.add_argument("--workers", type=int, default=20, help="clients per transport")
    parser.add_argument("--idle", type=float, default=0.3, help="server idle timeout (s)")
    args = parser.parse_args(argv)

    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(args.idle, theirs), daemon=True)
    server.start()
    base_url, api_key = ours.recv()
    started = time.monotonic()
    try:
        outcomes, unknown, _phones = asyncio.run(_run(args, base_url, api_key))
    finally:
        ours.send("stop")
        received, duplicates = ours.recv()
        server.join(10)
    elapsed = time.monotonic() - started

    import aiohttp
    import httpx

    print(
        f"Server: the emulator (uvicorn, timeout_keep_alive={args.idle} s); "
        f"{args.workers} sequential clients per transport, sends spaced "
        f"{args.idle} s +/- 20 %; {elapsed:.0f} s. Python {sys.version.split()[0]}, "
        f"aiohttp {aiohttp.__version__}, httpx {httpx.__version__}.\n"
    )
    print("| transport | sends | sent | UNKNOWN | false UNKNOWN | rate | other errors |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, counts in outcomes.items():
        total = sum(counts.values())
        false_unknown = sum(1 for phone in unknown[name] if phone not in received)
        others = ", ".join(f"{k}: {v}" for k, v in counts.items() if k.startswith("error"))
        print(
            f"| {name} | {total} | {counts['sent']} | {counts['unknown']} | {false_unknown} "
            f"| {false_unknown / max(total, 1):.2%} | {others or '-'} |"
        )
    repeated = sum(1 for count in received.values() if count > 1)
    print(f"\nReceived by the emulator: {sum(received.values())}; received twice: {repeated}; ")
    print(f"identical bodies accepted twice (ledger): {duplicates}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
