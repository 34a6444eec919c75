"""The contenders: mindo_async and the raw clients a user might write by hand.

Every contender runs the same way: open its client, warm the pool up with one
untimed send per connection, then time ``count`` sends (or until the time
limit, whichever comes first) with ``concurrency`` in flight. Wall time comes
from ``time.perf_counter`` and CPU time from ``time.process_time`` (the whole
process: the server is another process).

The raw clients share one driver: a fixed set of ``concurrency`` workers pulling
from one iterator, the cheapest pattern by hand. They encode the body with
``json.dumps``, read the answer, decode it and check its ``message_id``: the
least a hand-written client does.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

import attrs

from ._workload import make_request, payload, send_requests, send_url

#: Where the warm-up sends start, so that their recipients differ from the timed ones.
WARMUP_OFFSET = 30_000_000


@attrs.frozen
class Run:
    """One timed run of one contender."""

    #: Sends that got an answer (OK or not).
    sends: int
    #: Sends that got the documented 200 body.
    ok: int
    #: Sends that failed (an exception or a non-200 answer).
    errors: int
    wall: float
    cpu: float
    #: Whether the time limit stopped the run before ``count`` sends.
    truncated: bool
    #: Per-send latencies in seconds (sequential runs only).
    latencies: list[float] | None = attrs.field(default=None, repr=False)

    @property
    def rate(self) -> float:
        """Answered sends per second of wall time."""
        return self.sends / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        """CPU microseconds per answered send."""
        return self.cpu / self.sends * 1e6 if self.sends else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (latencies left out)."""
        return {
            "sends": self.sends,
            "ok": self.ok,
            "errors": self.errors,
            "wall_s": round(self.wall, 4),
            "cpu_s": round(self.cpu, 4),
            "rate": round(self.rate, 1),
            "cpu_us_per_send": round(self.cpu_us, 1),
            "truncated": self.truncated,
        }


HEADERS = {
    "X-API-Key": "",
    "Content-Type": "application/json",
    "Accept": "application/json",
}

SendOne = Callable[[int], Awaitable[bool]]


def _headers(api_key: str) -> dict[str, str]:
    return {**HEADERS, "X-API-Key": api_key}


def _body_ok(status: int, content: bytes) -> bool:
    return status == 200 and "message_id" in json.loads(content)


def _encode(index: int) -> bytes:
    return json.dumps(payload(index), separators=(",", ":")).encode()


async def _drive(
    send_one: SendOne, count: int, concurrency: int, limit: float, start: int = 0
) -> tuple[int, int, int, bool]:
    """Fixed workers over one shared iterator; returns (sends, ok, errors, truncated)."""
    import asyncio

    deadline = time.perf_counter() + limit
    indices = iter(range(start, start + count))
    ok = errors = 0
    truncated = False

    async def worker() -> None:
        nonlocal ok, errors, truncated
        for index in indices:
            if time.perf_counter() > deadline:
                truncated = True
                return
            try:
                if await send_one(index):
                    ok += 1
                else:
                    errors += 1
            except Exception:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok + errors, ok, errors, truncated


async def _timed(send_one: SendOne, count: int, concurrency: int, limit: float) -> Run:
    await _drive(send_one, concurrency, concurrency, limit, start=WARMUP_OFFSET)
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    sends, ok, errors, truncated = await _drive(send_one, count, concurrency, limit)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return Run(sends, ok, errors, wall, cpu, truncated)


async def _sequential(send_one: SendOne, count: int, limit: float) -> Run:
    for index in range(WARMUP_OFFSET, WARMUP_OFFSET + 10):
        await send_one(index)
    gc.collect()
    latencies: list[float] = []
    ok = errors = 0
    deadline = time.perf_counter() + limit
    wall0, cpu0 = time.perf_counter(), time.process_time()
    truncated = False
    for index in range(count):
        started = time.perf_counter()
        if started > deadline:
            truncated = True
            break
        try:
            good = await send_one(index)
        except Exception:
            good = False
        latencies.append(time.perf_counter() - started)
        if good:
            ok += 1
        else:
            errors += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return Run(ok + errors, ok, errors, wall, cpu, truncated, latencies)


# -- raw aiohttp -----------------------------------------------------------------


async def raw_aiohttp(
    base_url: str,
    api_key: str,
    count: int,
    concurrency: int,
    limit: float,
    *,
    sequential: bool = False,
) -> Run:
    """A plain ``aiohttp.ClientSession`` (pool limit = concurrency)."""
    import aiohttp

    url = send_url(base_url)
    headers = _headers(api_key)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send_one(index: int) -> bool:
            async with session.post(url, data=_encode(index), headers=headers) as response:
                return _body_ok(response.status, await response.read())

        if sequential:
            return await _sequential(send_one, count, limit)
        return await _timed(send_one, count, concurrency, limit)


# -- naive httpx -------------------------------------------------------------------


async def naive_httpx(
    base_url: str,
    api_key: str,
    count: int,
    concurrency: int,
    limit: float,
    *,
    sequential: bool = False,
) -> Run:
    """``httpx.AsyncClient()`` with its defaults (its own transport, 100 connections)."""
    import httpx

    url = send_url(base_url)
    headers = _headers(api_key)
    async with httpx.AsyncClient() as client:

        async def send_one(index: int) -> bool:
            response = await client.post(url, content=_encode(index), headers=headers)
            return _body_ok(response.status_code, response.content)

        if sequential:
            return await _sequential(send_one, count, limit)
        return await _timed(send_one, count, concurrency, limit)


# -- mindo_async ---------------------------------------------------------------------


def _until(requests: Iterator[Any], deadline: float, flag: list[bool]) -> Iterator[Any]:
    for request in requests:
        if time.perf_counter() > deadline:
            flag.append(True)
            return
        yield request


async def mindo(
    base_url: str,
    api_key: str,
    count: int,
    concurrency: int,
    limit: float,
    *,
    transport: str = "auto",
    dedupe: bool = True,
    sequential: bool = False,
) -> Run:
    """``AsyncMindo.stream_many`` (or ``send`` one at a time), pacing off."""
    from mindo_async import AsyncMindo, Outcome

    async with AsyncMindo(
        api_key=api_key,
        base_url=base_url,
        rate_limit=None,
        transport=transport,  # type: ignore[arg-type]
    ) as client:
        if sequential:

            async def send_one(index: int) -> bool:
                message = await client.send_request(make_request(index))
                return bool(message.message_id)

            return await _sequential(send_one, count, limit)

        async with client.stream_many(
            send_requests(concurrency, start=WARMUP_OFFSET), concurrency=concurrency
        ) as stream:
            async for _ in stream:
                pass
        gc.collect()
        truncated: list[bool] = []
        ok = errors = 0
        wall0, cpu0 = time.perf_counter(), time.process_time()
        deadline = wall0 + limit
        async with client.stream_many(
            _until(send_requests(count), deadline, truncated),
            concurrency=concurrency,
            dedupe=dedupe,
        ) as stream:
            async for result in stream:
                if result.outcome is Outcome.SENT:
                    ok += 1
                else:
                    errors += 1
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return Run(ok + errors, ok, errors, wall, cpu, bool(truncated))


#: The contenders of scenarios 1, 2 and 4, in the order they are interleaved.
CONTENDERS: dict[str, Callable[..., Coroutine[Any, Any, Run]]] = {
    "mindo_async (default transport)": mindo,
    'mindo_async (transport="httpx")': lambda *a, **k: mindo(*a, transport="httpx", **k),
    "raw aiohttp": raw_aiohttp,
    "naive httpx.AsyncClient": naive_httpx,
}
