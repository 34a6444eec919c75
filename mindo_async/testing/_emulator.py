"""The emulator: a raw ASGI application answering like the Mindo gateway.

It runs in-process behind ``httpx.ASGITransport`` (on asyncio or trio) and over
real sockets behind uvicorn (see ``_server.py``). All state it shares between
threads (ledger, fault injector, memory, data) is guarded by locks or
immutable, so a test may read the ledger, move the clock or change faults
while uvicorn serves in its thread.

This module is the shell: it routes (``_router.py``), applies faults, checks
the API key, reads the body, writes the answer and counts it in the ledger.
What each endpoint answers is decided by the pure handlers of ``handlers/``.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote

import anyio
import attrs

from .._endpoints import ENDPOINTS, MESSAGE_STATUS, SEND, Endpoint
from ._bulk_sends import BulkSendSettings, bulk_sends
from ._clock import Clock, SystemClock, VirtualClock, iso
from ._data import EmulatorData
from ._faults import Fault, FaultConfig, FaultInjector, Plan
from ._ledger import Ledger, LedgerEntry
from ._router import CONTROL_PREFIX, NOT_FOUND_HTML, Router
from ._state import EmulatorState, MessageLifecycle, recipient_key
from .handlers import DEFAULT_HANDLERS, Handler, Options, Reply, Request
from .handlers._common import expired, forbidden, unauthenticated
from .handlers.send import ValidSend, check_send, quota_exceeded

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The path of the send endpoint (a key of ``faults=``, like every endpoint's path template).
SEND_PATH = SEND.path

#: Django's default ``DATA_UPLOAD_MAX_MEMORY_SIZE``: larger bodies are refused.
MAX_BODY_SIZE = 2_621_440

_NOT_DIGITS = re.compile(r"[^0-9]")
_ROUTES = tuple(endpoint.path for endpoint in ENDPOINTS)


class _Disconnected(Exception):
    """The client went away before its request body was complete."""


class Emulator:
    """A local Mindo gateway: an ASGI app with a ledger, fault injection and a clock.

    ``data`` is what the account holds (default: the reference's examples);
    ``faults`` is a ``FaultConfig`` for the send route, or a mapping
    endpoint path template (``SEND_PATH``, ``MESSAGE_STATUS.path``, ...) ->
    ``FaultConfig``; ``seed`` makes message ids, message fates and fault draws
    reproducible; ``ledger_limit`` keeps only the newest messages in the ledger
    and the message-status memory (None keeps all; each takes about 2 KB).
    ``clock`` is what "now" means (default: real time; a ``VirtualClock`` only
    moves when told to); ``lifecycle`` how sent messages become delivered,
    read or failed; ``strict_variables=False`` accepts sends that miss required
    variables or name unknown ones; ``message_status_available=False`` makes
    the message-status endpoint answer Django's 404 page, as if not deployed.
    """

    def __init__(
        self,
        data: EmulatorData | None = None,
        *,
        faults: FaultConfig | Mapping[str, FaultConfig] | None = None,
        seed: int | None = None,
        ledger_limit: int | None = None,
        clock: Clock | None = None,
        lifecycle: MessageLifecycle | None = None,
        strict_variables: bool = True,
        message_status_available: bool = True,
    ) -> None:
        self._data = data if data is not None else EmulatorData()
        if faults is None:
            configs: Mapping[str, FaultConfig] = {}
        elif isinstance(faults, FaultConfig):
            configs = {SEND_PATH: faults}
        else:
            configs = faults
        unknown = set(configs) - set(_ROUTES)
        if unknown:
            raise ValueError(f"no such route(s): {sorted(unknown)}; routes: {list(_ROUTES)}")
        self.seed = seed
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.options = Options(
            strict_variables=strict_variables, message_status_available=message_status_available
        )
        self.ledger = Ledger(ledger_limit)
        self.state = EmulatorState(
            self.clock, lifecycle or MessageLifecycle(), seed, message_limit=ledger_limit
        )
        self._faults = FaultInjector(configs, seed)
        self._router = Router()
        self._handlers: dict[str, Handler] = dict(DEFAULT_HANDLERS)
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
        """The path templates the emulator serves (every endpoint of the table)."""
        return _ROUTES

    def register_handler(self, endpoint_name: str, handler: Handler) -> None:
        """Answer the endpoint called ``endpoint_name`` with ``handler`` (not ``send``).

        This is how bulk sends plug in: ``handler(state, request) -> Reply``.
        """
        names = {endpoint.name for endpoint in ENDPOINTS}
        if endpoint_name not in names or endpoint_name == SEND.name:
            raise ValueError(
                f"no replaceable endpoint {endpoint_name!r}; known: {sorted(names - {SEND.name})}"
            )
        self._handlers[endpoint_name] = handler

    def reply(self, phone: str, *, at: datetime | None = None) -> str:
        """Record an inbound message from ``phone`` (now, or ``at``): it has replied.

        Opens the 24-hour session window contact-lookup reports. Returns the
        number in E.164; ``ValueError`` if ``phone`` is not a phone number.
        """
        return self.state.record_reply(phone, at if at is not None else self.clock.now())

    @property
    def bulk_send_settings(self) -> BulkSendSettings:
        """How bulk sends are worked through (``speed``, ``start_delay``, page sizes).

        Assign a new ``BulkSendSettings`` to change them; ``reset()`` restores the defaults.
        """
        return bulk_sends(self.state).settings

    @bulk_send_settings.setter
    def bulk_send_settings(self, settings: BulkSendSettings) -> None:
        if not isinstance(settings, BulkSendSettings):
            raise TypeError(f"expected BulkSendSettings, got {settings!r}")
        bulk_sends(self.state).settings = settings

    def advance(self, seconds: float) -> datetime:
        """Move a ``VirtualClock`` forward by ``seconds``; ``TypeError`` on a real clock."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("advance() needs Emulator(clock=VirtualClock())")
        return self.clock.advance(seconds)

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
        """Clear the ledger, the scripts and the memory (quotas, messages, replies).

        Every configured fault is turned off; the clock is left where it is.
        """
        self.ledger.clear()
        self.state.clear()
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
        method: str = scope["method"]
        raw_path = _raw_path(scope)
        if raw_path.startswith(CONTROL_PREFIX):
            await self._control(raw_path, scope, send)
            return
        route = self._router.resolve(raw_path, method)
        endpoint = route.endpoint
        if endpoint is None or (
            endpoint is MESSAGE_STATUS and not self.options.message_status_available
        ):
            self.ledger.record("not_found")
            await _respond_html(send, 404, NOT_FOUND_HTML, head=method == "HEAD")
            return
        path = endpoint.path
        plan = self._faults.plan(path)
        if plan.fault is not None and not plan.fault.after_processing:
            self.ledger.record(plan.fault.outcome)
            await _sleep(plan.delay)
            await _apply_fault(plan.fault, receive, send)
            return

        api_key = _header(scope, b"x-api-key")
        reply: Reply | None = None
        data = self._data
        if not api_key:
            reply = unauthenticated()
        elif api_key in data.expired_api_keys:
            reply = expired()
        elif api_key not in data.api_keys:
            reply = unauthenticated()
        elif not data.may_call(api_key, endpoint.name):
            # As in DRF: authentication, then permissions, then the method.
            reply = forbidden()
        elif route.kind == "method_not_allowed":
            reply = Reply(
                405,
                {"detail": f'Method "{method}" not allowed.'},
                "method_not_allowed",
                headers=(("allow", route.allow),),
            )
        elif method == "OPTIONS":
            reply = _options(endpoint)
        if reply is not None:
            # A fault "after processing" cannot hide a refusal: nothing was processed.
            await self._answer(reply, Plan(plan.delay), receive, send, head=method == "HEAD")
            return
        assert api_key is not None
        if endpoint.name == SEND.name:
            await self._send_message(api_key, body, too_large, plan, receive, send)
            return
        request = Request(
            endpoint=endpoint,
            method=method,
            params=route.params,
            query=_query(scope),
            body=body,
            api_key=api_key,
            data=data,
            now=self.clock.now(),
            options=self.options,
            base_url=_base_url(scope),
            body_too_large=too_large,
        )
        reply = self._handlers[endpoint.name](self.state, request)
        after = plan.fault if plan.fault is not None and reply.status < 400 else None
        await self._answer(reply, Plan(plan.delay, after), receive, send, head=method == "HEAD")

    async def _answer(
        self, reply: Reply, plan: Plan, receive: Receive, send: Send, *, head: bool = False
    ) -> None:
        """Count ``reply`` (or the fault hiding it), wait, and write it."""
        if plan.fault is not None:
            # What was processed is in the ledger even when the answer is lost.
            self.ledger.record(plan.fault.outcome, entries=reply.entries)
            await _sleep(plan.delay)
            await _apply_fault(plan.fault, receive, send)
            return
        self.ledger.record(reply.outcome, entries=reply.entries)
        await _sleep(plan.delay)
        await _respond(send, reply.status, reply.body, reply.headers, head=head)

    async def _send_message(
        self,
        api_key: str,
        body: bytes,
        too_large: bool,
        plan: Plan,
        receive: Receive,
        send: Send,
    ) -> None:
        result: Reply | ValidSend
        if too_large:
            result = Reply(
                400, {"error": f"Request body exceeds {MAX_BODY_SIZE} bytes"}, "bad_request"
            )
        else:
            result = check_send(
                self._data, api_key, body, strict_variables=self.options.strict_variables
            )
        if isinstance(result, Reply):
            await self._answer(result, Plan(plan.delay), receive, send)
            return
        number = self._data.number(result.phone_number_id)
        assert number is not None  # check_send verified it
        now = self.clock.now()
        recipient = recipient_key(result.recipient_phone)
        refused = self.state.refusal(number, recipient, now)
        if refused is not None:
            await self._answer(quota_exceeded(number, refused), Plan(plan.delay), receive, send)
            return

        wait = self._faults.take_token(SEND_PATH, result.phone_number_id)
        if wait:
            retry_after = max(1, math.ceil(wait))
            reply = Reply(
                429,
                {
                    "error": (
                        f"Rate limit exceeded for phone number '{result.phone_number_id}' "
                        f"(Meta error 130429); retry after {retry_after} s"
                    )
                },
                "rate_limited",
                headers=(("retry-after", str(retry_after)),),
            )
            await self._answer(reply, Plan(plan.delay), receive, send)
            return
        refused = self.state.charge(number, recipient, now)
        if refused is not None:
            await self._answer(quota_exceeded(number, refused), Plan(plan.delay), receive, send)
            return
        await self._process(result, now, plan, receive, send)

    async def _process(
        self, valid: ValidSend, now: datetime, plan: Plan, receive: Receive, send: Send
    ) -> None:
        sent_at = iso(now)
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
        template = self._data.template(valid.template_name, valid.language)
        assert template is not None  # check_send verified it
        self.state.record_message(
            message_id=message_id,
            template_id=self._data.template_id(template),
            template_name=template.name,
            language=template.language,
            category=template.category,
            phone_number_id=valid.phone_number_id,
            recipient_phone=valid.recipient_phone,
            variables=valid.variables,
            sent_at=now.replace(microsecond=0),
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

    async def _control(self, raw_path: str, scope: Scope, send: Send) -> None:
        """The emulator's own paths, under ``CONTROL_PREFIX`` (not counted in the ledger)."""
        name = raw_path[len(CONTROL_PREFIX) :].strip("/")
        method = scope["method"]
        query = _query(scope)
        status: int = 404
        body: dict[str, Any] = {"detail": f"No emulator control path {raw_path!r}"}
        if name == "ledger" and method == "GET":
            status, body = 200, {"counts": dict(self.ledger.counts), "now": iso(self.clock.now())}
        elif name == "clock/advance" and method == "POST":
            seconds = (query.get("seconds") or ("",))[-1]
            try:
                status, body = 200, {"now": iso(self.advance(float(seconds)))}
            except (TypeError, ValueError) as exc:
                status, body = 400, {"detail": str(exc)}
        elif name == "replies" and method == "POST":
            phone = (query.get("phone") or ("",))[-1]
            try:
                status, body = 200, {"phone": self.reply(phone)}
            except ValueError as exc:
                status, body = 400, {"detail": str(exc)}
        await _respond(send, status, body)

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


def _options(endpoint: Endpoint) -> Reply:
    """DRF's answer to OPTIONS: the view's metadata."""
    return Reply(
        200,
        {
            "name": endpoint.name,
            "description": "",
            "renders": ["application/json"],
            "parses": ["application/json"],
        },
        "ok",
    )


def _raw_path(scope: Scope) -> str:
    """The percent-encoded path, without the query string."""
    raw = scope.get("raw_path")
    if raw:
        # httpx's ASGITransport puts the query string in raw_path; uvicorn does not.
        return bytes(raw).split(b"?", 1)[0].decode("latin-1")
    return quote(scope["path"])


def _base_url(scope: Scope) -> str:
    """``scheme://host`` as the client addressed the server (its Host header)."""
    host = _header(scope, b"host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def _query(scope: Scope) -> dict[str, tuple[str, ...]]:
    raw = bytes(scope.get("query_string", b"")).decode("latin-1")
    return {k: tuple(v) for k, v in parse_qs(raw, keep_blank_values=True).items()}


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
    body: Any,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    head: bool = False,
) -> None:
    # Compact UTF-8 JSON, as Django REST framework's JSONRenderer writes it.
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    await _write(send, status, b"application/json", payload, headers, head=head)


async def _respond_html(send: Send, status: int, html: str, *, head: bool = False) -> None:
    await _write(send, status, b"text/html; charset=utf-8", html.encode("utf-8"), head=head)


async def _write(
    send: Send,
    status: int,
    content_type: bytes,
    payload: bytes,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    head: bool = False,
) -> None:
    raw_headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(payload)).encode("ascii")),
    ]
    raw_headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers)
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": b"" if head else payload})


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
