"""What every handler shares: the request it is given and the answer it returns.

A handler is a function ``(state, request) -> Reply``: it reads the emulator's
data (``request.data``) and memory (``state``) and decides the answer. The
ASGI shell (``_emulator.py``) has already routed the request, checked the API
key and its access, applied scripted and random faults and read the body; it
writes the answer and counts it in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ..._endpoints import Endpoint
from .._data import EmulatorData
from .._ledger import LedgerEntry

if TYPE_CHECKING:
    from .._state import EmulatorState

UNAUTHENTICATED = "Este endpoint requiere autenticacion con API Key (header X-API-Key)"
EXPIRED = "API Key expirada"
FORBIDDEN = "API Key no tiene acceso a este recurso"

#: DRF's 404 body (Spanish locale), for an unknown object (e.g. an unknown wamid).
NOT_FOUND_DETAIL = "No encontrado."


@attrs.frozen
class Reply:
    """An answer: status, JSON body (an object or an array), and the ``Ledger.counts`` outcome."""

    status: int
    body: Any
    outcome: str
    headers: tuple[tuple[str, str], ...] = ()
    #: Messages the request processed, for the ledger (a bulk send's messages).
    entries: tuple[LedgerEntry, ...] = ()


@attrs.frozen
class Options:
    """The emulator's behaviour switches, as handlers see them."""

    #: Refuse sends missing a required variable or naming an unknown one.
    strict_variables: bool = True
    #: Serve ``GET meta-templates/messages/{message_id}/``; False answers Django's 404 page.
    message_status_available: bool = True


@attrs.frozen
class Request:
    """One routed, authenticated request, as a handler sees it."""

    endpoint: Endpoint
    method: str
    #: The path parameters, percent-decoded.
    params: Mapping[str, str]
    #: The query string: name -> every value given, in order.
    query: Mapping[str, tuple[str, ...]]
    body: bytes
    api_key: str
    data: EmulatorData
    now: datetime
    options: Options = Options()
    #: Whether the body passed Django's upload limit (``body`` is then truncated).
    body_too_large: bool = False
    #: Scheme and host the client used (``http://127.0.0.1:8000``), for absolute
    #: URLs such as the ``next``/``previous`` links of paginated answers.
    base_url: str = "http://127.0.0.1"

    def query_value(self, name: str) -> str | None:
        """The last value of query parameter ``name`` (as Django's ``QueryDict.get``), or None."""
        values = self.query.get(name)
        return values[-1] if values else None


#: The signature of a handler.
Handler = Callable[["EmulatorState", Request], Reply]


def ok(body: Any) -> Reply:
    """A 200 answer with ``body``."""
    return Reply(200, body, "ok")


def error(status: int, message: str, outcome: str) -> Reply:
    """An answer with the gateway's ``{"error": message}`` body."""
    return Reply(status, {"error": message}, outcome)


def unauthenticated() -> Reply:
    """The 401 answer, for a missing or unknown API key."""
    return error(401, UNAUTHENTICATED, "unauthorized")


def expired() -> Reply:
    """The 401 answer for an expired or revoked key."""
    return error(401, EXPIRED, "unauthorized")


def forbidden() -> Reply:
    """The 403 answer for a key without access to the endpoint."""
    return error(403, FORBIDDEN, "forbidden")


def not_found_detail() -> Reply:
    """DRF's JSON 404 for an unknown object: ``{"detail": "No encontrado."}``."""
    return Reply(404, {"detail": NOT_FOUND_DETAIL}, "not_found")
