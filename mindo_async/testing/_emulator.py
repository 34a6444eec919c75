"""The emulator: a raw ASGI application answering like the Mindo gateway.

It runs in-process behind ``httpx.ASGITransport`` (on asyncio or trio) and over
real sockets behind uvicorn (see ``_server.py``). All state it shares between
threads (ledger, fault injector, data) is guarded by locks or immutable, so a
test may read the ledger or change faults while uvicorn serves in its thread.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import datetime, timezone
from typing import Any

import anyio
import attrs

from .._endpoints import SEND
from ._data import EmulatorData
from ._faults import Fault, FaultConfig, FaultInjector, Plan
from ._ledger import Ledger, LedgerEntry
from ._validation import (
    Reply,
    ValidSend,
    check_send,
    error,
    is_authenticated,
    unauthenticated,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The one route of the Mindo API the emulator serves.
SEND_PATH = SEND.path

#: Django's default ``DATA_UPLOAD_MAX_MEMORY_SIZE``: larger bodies are refused.
MAX_BODY_SIZE = 2_621_440

_NOT_DIGITS = re.compile(r"[^0-9]")


class _Disconnected(Exception):
    """The client went away before its request body was complete."""


class Emulator:
    """A local Mindo gateway: an ASGI app with a ledger and fault injection.

    ``data`` is what the account holds (default: the reference's examples);
    ``faults`` is a ``FaultConfig`` for the send route, or a mapping
    path -> ``FaultConfig``; ``seed`` makes message ids and fault draws
    reproducible; ``ledger_limit`` keeps only the newest messages in the ledger
    (None keeps all; each takes about 2 KB).
    """

    def __init__(
        self,
        data: EmulatorData | None = None,
        *,
        faults: FaultConfig | Mapping[str, FaultConfig] | None = None,
        seed: int | None = None,
        ledger_limit: int | None = None,
    ) -> None:
        self._data = data if data is not None else EmulatorData()
        if faults is None:
            configs: Mapping[str, FaultConfig] = {}
        elif isinstance(faults, FaultConfig):
            configs = {SEND_PATH: faults}
        else:
            configs = faults
        unknown = set(configs) - {SEND_PATH}
        if unknown:
            raise ValueError(f"no such route(s): {sorted(unknown)}; routes: {[SEND_PATH]}")
        self.seed = seed
        self.ledger = Ledger(ledger_limit)
        self._faults = FaultInjector(configs, seed)
        # Separate from the fault draws, so the fault sequence of a seed does
        # not depend on how many messages were accepted.
        self._ids = (
            random.Random(f"mindo-emulator-ids-{seed}") if seed is not None else random.Random()
        )

    # -- configuration -------------------------------------------------------

    @property
    def data(self) -> EmulatorData:
        """What the emulated account holds; assign a new ``EmulatorData`` to change it."""
        return self._data

    @data.setter
    def data(self, data: EmulatorData) -> None:
        self._data = data

    @property
    def api_key(self) -> str:
        """An API key the emulator accepts (``DEFAULT_API_KEY`` unless the data replaced it)."""
        return self._data.api_key

    @property
    def routes(self) -> tuple[str, ...]:
        """The paths the emulator serves."""
        return (SEND_PATH,)

    def fault_config(self, path: str = SEND_PATH) -> FaultConfig:
        """The fault config in force for ``path``."""
        self._check_route(path)
        return self._faults.config(path)

    def set_faults(
        self, config: FaultConfig | None = None, /, *, path: str = SEND_PATH, **changes: Any
    ) -> FaultConfig:
        """Replace the fault config of ``path``, or change some of its fields; return the new one.

        ``emulator.set_faults(FaultConfig(latency=0.05))`` replaces it,
        ``emulator.set_faults(phone_rate_limit=80)`` changes one field,
        ``emulator.set_faults(FaultConfig())`` turns every fault off.
        """
        self._check_route(path)
        base = config if config is not None else self._faults.config(path)
        new = attrs.evolve(base, **changes)
        self._faults.set_config(path, new)
        return new

    def script(self, *faults: Fault, path: str = SEND_PATH) -> None:
        """Queue ``faults`` for the next requests to ``path``, one per request, in order.

        Scripted faults come before the configured probabilistic ones.
        """
        self._check_route(path)
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"expected Fault, got {fault!r}")
        self._faults.script(path, faults)

    def pending_script(self, path: str = SEND_PATH) -> tuple[Fault, ...]:
        """Scripted faults not consumed yet."""
        return self._faults.pending(path)

    def reset(self) -> None:
        """Clear the ledger and the scripts, and turn every configured fault off."""
        self.ledger.clear()
        self._faults.clear_script()
        for path in self.routes:
            self._faults.set_config(path, FaultConfig())

    def _check_route(self, path: str) -> None:
        if path not in self.routes:
            raise ValueError(f"no such route: {path!r}; routes: {list(self.routes)}")

    # -- ASGI ------------------------------------------------------------------

    @property
    def app(self) -> Emulator:
        """The ASGI application (the emulator itself), for ``httpx.ASGITransport(app=...)``."""
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"the Mindo emulator serves HTTP only, not {scope['type']!r}")
        try:
            body, too_large = await _read_body(receive)
        except _Disconnected:
            return
        path: str = scope["path"]
        if path not in self.routes:
            reply = error(404, f"Not found: {path}", "not_found")
            self.ledger.record(reply.outcome)
            await _respond(send, reply.status, reply.body)
            return
        api_key = _header(scope, b"x-api-key")
        plan = self._faults.plan(path)
        if plan.fault is not None and not plan.fault.after_processing:
            self.ledger.record(plan.fault.outcome)
            await _sleep(plan.delay)
            await _apply_fault(plan.fault, receive, send)
            return

        result: Reply | ValidSend
        if not is_authenticated(self._data, api_key):
            result = unauthenticated()
        elif scope["method"] != "POST":
            # As in DRF: authentication first, then the method.
            result = Reply(
                405,
                {"error": f'Method "{scope["method"]}" not allowed.'},
                "method_not_allowed",
                headers=(("allow", "POST"),),
            )
        elif too_large:
            result = error(400, f"Request body exceeds {MAX_BODY_SIZE} bytes", "bad_request")
        else:
            result = check_send(self._data, api_key, body)
        if isinstance(result, Reply):
            self.ledger.record(result.outcome)
            await _sleep(plan.delay)
            await _respond(send, result.status, result.body, result.headers)
            return

        wait = self._faults.take_token(path, result.phone_number_id)
        if wait:
            retry_after = max(1, math.ceil(wait))
            self.ledger.record("rate_limited")
            await _sleep(plan.delay)
            await _respond(
                send,
                429,
                {
                    "error": (
                        f"Rate limit exceeded for phone number '{result.phone_number_id}' "
                        f"(Meta error 130429); retry after {retry_after} s"
                    )
                },
                (("retry-after", str(retry_after)),),
            )
            return

        await self._process(result, plan, receive, send)

    async def _process(self, valid: ValidSend, plan: Plan, receive: Receive, send: Send) -> None:
        now = datetime.now(timezone.utc)
        sent_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        message_id = self._message_id(valid.recipient_phone)
        outcome = plan.fault.outcome if plan.fault is not None else "sent"
        entry = LedgerEntry(
            message_id=message_id,
            phone_number_id=valid.phone_number_id,
            template_name=valid.template_name,
            language=valid.language,
            recipient_phone=valid.recipient_phone,
            variables=valid.variables,
            button_variables=valid.button_variables,
            body=valid.body,
            received_at=now,
            sent_at=sent_at,
            outcome=outcome,
        )
        # In the ledger before the delay: a client that times out can already see it.
        self.ledger.record(outcome, entry)
        await _sleep(plan.delay)
        if plan.fault is not None:
            await _apply_fault(plan.fault, receive, send)
            return
        await _respond(
            send,
            200,
            {
                "success": True,
                "message_id": message_id,
                "template_name": valid.template_name,
                "recipient_phone": valid.recipient_phone,
                "status": "sent",
                "sent_at": sent_at,
            },
        )

    def _message_id(self, recipient_phone: str) -> str:
        """A Meta-shaped wamid: base64 of a Thrift-like record of the recipient and an id."""
        digits = _NOT_DIGITS.sub("", recipient_phone)[:255]
        token = f"{self._ids.getrandbits(72):018X}"
        raw = (
            b"\x1c\x18"
            + bytes([len(digits)])
            + digits.encode("ascii")
            + b"\x15\x02\x00\x11\x18\x12"
            + token.encode("ascii")
            + b"\x00"
        )
        return "wamid." + base64.b64encode(raw).decode("ascii")


async def _sleep(seconds: float) -> None:
    # anyio.sleep works on asyncio and trio; skipped when there is no delay to keep it cheap.
    if seconds > 0:
        await anyio.sleep(seconds)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """Read the whole request body; past ``MAX_BODY_SIZE`` keep reading but drop the bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY_SIZE:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), size > MAX_BODY_SIZE


async def _respond(
    send: Send,
    status: int,
    body: Mapping[str, Any],
    headers: tuple[tuple[str, str], ...] = (),
) -> None:
    # Compact UTF-8 JSON, as Django REST framework's JSONRenderer writes it.
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode("ascii")),
    ]
    raw_headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers)
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _apply_fault(fault: Fault, receive: Receive, send: Send) -> None:
    if fault.kind == "drop":
        await _drop_connection(receive, send)
        return
    assert fault.status_code is not None
    headers: tuple[tuple[str, str], ...] = ()
    if fault.retry_after is not None:
        headers = (("retry-after", str(fault.retry_after)),)
    await _respond(send, fault.status_code, {"error": fault.error_message}, headers)


async def _drop_connection(receive: Receive, send: Send) -> None:
    """Close the connection without a response.

    Under uvicorn (h11 or httptools) the bound ``send`` belongs to the request
    cycle, which holds the asyncio transport: abort it, then wait for uvicorn to
    notice, so it does not log "returned without starting response". Anywhere
    else (``httpx.ASGITransport``) raise the exception httpx's own socket
    transport raises for a server that disconnects.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        with anyio.move_on_after(5):
            while (await receive())["type"] != "http.disconnect":
                pass
        return
    import httpx

    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
