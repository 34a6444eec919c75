"""Per-layer CPU cost of one send, from raw aiohttp up to the full ``stream_many``.

Each layer adds one thing on top of the one before it, and all run the same
workload (0 ms server, the same concurrency, fixed workers), so the difference
between two neighbouring layers is what that layer costs per send:

1. raw aiohttp: ``ClientSession.post`` + read + ``json.loads``;
2. httpx-aiohttp's ``AiohttpTransport.handle_async_request`` called directly on an
   ``httpx.Request`` (2b: the same on this library's own aiohttp transport; 2c: its
   ``exchange``, without httpx's objects, which is what ``_deliver`` calls);
3. ``httpx.AsyncClient.send`` on that transport (``client.post``);
4. ``AsyncMindo._deliver``: encoding, retry loop, limiter, interpretation (on the
   client it built, it calls the transport's ``exchange`` directly; 4b is the same on a caller's
   own client, through ``AsyncClient.send``);
5. ``AsyncMindo.stream_many``: validation, dedupe digest, breakers, result stream
   (journal off), with dedupe on and off.

A sixth line times the library's own pure work (validation, digest, encoding,
interpreting the answer) with no I/O at all.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ._contenders import Run, _encode, _headers, _timed, mindo, raw_aiohttp
from ._server import API_KEY, SUCCESS_BODY
from ._workload import make_request, send_url


async def transport_direct(
    base_url: str, api_key: str, count: int, concurrency: int, limit: float, *, ours: bool = False
) -> Run:
    """``handle_async_request`` with an ``httpx.Request`` built per send.

    On httpx-aiohttp's ``AiohttpTransport``, or (``ours``) on this library's.
    """
    import httpx

    url = httpx.URL(send_url(base_url))
    headers = _headers(api_key)
    transport: httpx.AsyncBaseTransport
    if ours:
        from mindo_async._aiohttp import AiohttpTransport as Ours

        transport = Ours(max_connections=concurrency)
    else:
        from httpx_aiohttp import AiohttpTransport

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        transport = AiohttpTransport(limits=limits)
    timeout = httpx.Timeout(30.0, connect=5.0).as_dict()
    try:

        async def send_one(index: int) -> bool:
            request = httpx.Request(
                "POST",
                url,
                headers=headers,
                content=_encode(index),
                extensions={"timeout": timeout},
            )
            response = await transport.handle_async_request(request)
            content = await response.aread()
            return response.status_code == 200 and "message_id" in json.loads(content)

        return await _timed(send_one, count, concurrency, limit)
    finally:
        await transport.aclose()


async def transport_exchange(
    base_url: str, api_key: str, count: int, concurrency: int, limit: float
) -> Run:
    """``AiohttpTransport.exchange``: this library's transport without httpx's objects.

    What the requester's fast path calls for the client the library built: the
    same deadline, body cap and idle-connection checks as ``handle_async_request``.
    """
    import httpx
    import yarl

    from mindo_async._aiohttp import AiohttpTransport

    transport = AiohttpTransport()
    url = yarl.URL(send_url(base_url))
    headers = list(_headers(api_key).items())
    timeout = transport.timeout_for(httpx.Timeout(30.0, connect=5.0).as_dict())
    try:

        async def send_one(index: int) -> bool:
            answer = await transport.exchange(
                "POST", url, headers, _encode(index), timeout=timeout, cap=65536, seconds=30.0
            )
            return answer.status_code == 200 and "message_id" in json.loads(answer.content)

        return await _timed(send_one, count, concurrency, limit)
    finally:
        await transport.aclose()


async def client_on_aiohttp(
    base_url: str, api_key: str, count: int, concurrency: int, limit: float
) -> Run:
    """``httpx.AsyncClient(transport=AiohttpTransport(...)).post``."""
    import httpx
    from httpx_aiohttp import AiohttpTransport

    url = send_url(base_url)
    headers = _headers(api_key)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(transport=AiohttpTransport(limits=limits)) as client:

        async def send_one(index: int) -> bool:
            response = await client.post(url, content=_encode(index), headers=headers)
            return response.status_code == 200 and "message_id" in response.json()

        return await _timed(send_one, count, concurrency, limit)


async def deliver(base_url: str, api_key: str, count: int, concurrency: int, limit: float) -> Run:
    """``Requester.deliver`` (private: the retry loop alone, input already valid)."""
    from mindo_async import AsyncMindo

    async with AsyncMindo(
        api_key=api_key, base_url=base_url, rate_limit=None, max_connections=concurrency
    ) as client:

        async def send_one(index: int) -> bool:
            message, _ = await deliver_of(client)(make_request(index))
            return bool(message.message_id)

        return await _timed(send_one, count, concurrency, limit)


async def deliver_injected(
    base_url: str, api_key: str, count: int, concurrency: int, limit: float
) -> Run:
    """``Requester.deliver`` on a caller's own client: through ``AsyncClient.send``."""
    import httpx
    from httpx_aiohttp import AiohttpTransport

    from mindo_async import AsyncMindo

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http_client = httpx.AsyncClient(transport=AiohttpTransport(limits=limits))
    mindo = AsyncMindo(api_key=api_key, base_url=base_url, rate_limit=None, http_client=http_client)
    async with http_client, mindo:

        async def send_one(index: int) -> bool:
            message, _ = await deliver_of(mindo)(make_request(index))
            return bool(message.message_id)

        return await _timed(send_one, count, concurrency, limit)


def deliver_of(client: Any) -> Callable[..., Any]:
    """The library's retry loop for one send: ``Requester.deliver`` (or, in versions before
    the requester, ``AsyncMindo._deliver``), so a ``--baseline`` run measures both."""
    requester = getattr(client, "_requester", None)
    return requester.deliver if requester is not None else client._deliver


def _stub_network(client: Any, answer: Any) -> None:
    """Answer every request with ``answer`` after one trip through the event loop."""

    async def post(*_: Any) -> Any:
        await asyncio.sleep(0)
        return answer

    requester = getattr(client, "_requester", None)
    if requester is not None:
        requester._send = post
    else:
        client._post = post


def _stub_deliver(client: Any, stub: Callable[..., Any]) -> None:
    requester = getattr(client, "_requester", None)
    if requester is not None:
        requester.deliver = stub
    else:
        client._deliver = stub


def _stream_many(dedupe: bool) -> Callable[..., Coroutine[Any, Any, Run]]:
    async def run(base_url: str, api_key: str, count: int, concurrency: int, limit: float) -> Run:
        return await mindo(base_url, api_key, count, concurrency, limit, dedupe=dedupe)

    return run


#: The layers, bottom up.
LAYERS: dict[str, Callable[..., Coroutine[Any, Any, Run]]] = {
    "1 raw aiohttp": raw_aiohttp,
    "2 httpx-aiohttp AiohttpTransport.handle_async_request": transport_direct,
    "2b mindo_async's AiohttpTransport.handle_async_request": functools.partial(
        transport_direct, ours=True
    ),
    "2c mindo_async's AiohttpTransport.exchange (the fast path)": transport_exchange,
    "3 httpx.AsyncClient.send on AiohttpTransport": client_on_aiohttp,
    "4 AsyncMindo._deliver": deliver,
    "4b AsyncMindo._deliver, caller's http_client": deliver_injected,
    "5 stream_many (dedupe off)": _stream_many(False),
    "6 stream_many (dedupe on, the default)": _stream_many(True),
}


def library_work(count: int) -> dict[str, float]:
    """CPU microseconds per request of the library's own work, without any network.

    The steps one by one, then ``_deliver`` and ``stream_many`` with the network
    stubbed out (``_post`` answers the documented body after one trip through the
    event loop; ``_deliver`` returns a message likewise). These lines move only with
    the library's code, not with the transport, so they show small changes that the
    noise of a shared machine hides in the end-to-end numbers.
    """
    import httpx

    from mindo_async import _fanout
    from mindo_async._conversion import encode_request
    from mindo_async._journal import request_digest
    from mindo_async._models import Outcome, SendResult
    from mindo_async._protocol import interpret_response
    from mindo_async._validation import validate_request

    def digest_key(request: Any) -> int:
        # Before the run key existed, dedupe used the digest's first 8 bytes.
        return int.from_bytes(request_digest(request)[:8], "big")

    dedupe_key: Callable[[Any], int] = getattr(_fanout, "_run_key", digest_key)

    requests = [make_request(index) for index in range(count)]
    content = json.dumps(SUCCESS_BODY).encode()
    headers = httpx.Headers({"content-type": "application/json"})

    def per_request(step: Callable[[Any], object]) -> float:
        for request in requests[:100]:
            # Warm: the first call loads phonenumbers' metadata for the region.
            step(request)
        gc.collect()
        started = time.process_time()
        for request in requests:
            step(request)
        return (time.process_time() - started) / count * 1e6

    steps: dict[str, Callable[[Any], object]] = {
        "validate_request": validate_request,
        "dedupe key": dedupe_key,
        "encode_request": encode_request,
        "interpret_response (200)": lambda r: interpret_response(200, headers, content, request=r),
        "SendResult": lambda r: SendResult(request=r, outcome=Outcome.SENT),
    }
    work = {name: round(per_request(step), 2) for name, step in steps.items()}
    work.update(asyncio.run(_stubbed(count, content)))
    return work


async def _stubbed(count: int, content: bytes) -> dict[str, float]:
    import httpx

    from mindo_async import AsyncMindo

    answer = httpx.Response(200, content=content, headers={"content-type": "application/json"})
    async with AsyncMindo(
        api_key=API_KEY, base_url="http://127.0.0.1:9", rate_limit=None, max_connections=64
    ) as client:
        _stub_network(client, answer)
        deliver_one = deliver_of(client)
        requests = [make_request(index) for index in range(count)]
        for request in requests[:100]:
            await deliver_one(request)
        gc.collect()
        started = time.process_time()
        for request in requests:
            await deliver_one(request)
        deliver = (time.process_time() - started) / count * 1e6

        message, _ = await deliver_one(requests[0])

        async def deliver_stub(request: Any, flight: Any = None) -> tuple[Any, int]:
            await asyncio.sleep(0)
            return message, 1

        _stub_deliver(client, deliver_stub)
        gc.collect()
        started = time.process_time()
        async with client.stream_many(iter(requests), concurrency=64) as stream:
            async for _ in stream:
                pass
        fanout = (time.process_time() - started) / count * 1e6
    return {
        "_deliver, network stubbed": round(deliver, 2),
        "stream_many around _deliver (stubbed)": round(fanout, 2),
    }
