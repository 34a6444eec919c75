"""The Mindo API's endpoints: the one place where an API path is written.

The client (its requester and resources), the emulator's router and the
tests read paths from this table; nothing else in the package spells
``/api/v1/``. Each row says what the rest of the library must know about an
endpoint: its method and path template, whether repeating it is harmless
(which decides what may be retried), the casing of its answer, and whether
the answer is a page of a list.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Literal
from urllib.parse import quote

import attrs

__all__ = [
    "BULK_SEND",
    "BULK_SENDS",
    "BULK_SEND_MESSAGES",
    "BUSINESS_ACCOUNTS",
    "BUSINESS_HOURS",
    "BUSINESS_INFO",
    "CONTACT_LOOKUP",
    "ENDPOINTS",
    "HOLIDAYS",
    "MESSAGE_STATUS",
    "SEND",
    "SEND_BULK",
    "Casing",
    "Endpoint",
    "endpoint_named",
    "quote_path_param",
]

API_PREFIX = "/api/v1/"


class Casing(str, enum.Enum):
    """How an endpoint names the fields of its answer."""

    SNAKE = "snake_case"
    CAMEL = "camelCase"


Method = Literal["GET", "POST"]


def quote_path_param(value: str) -> str:
    """``value`` percent-encoded as one path segment.

    A wamid is base64: it holds ``=`` and may hold ``/`` or ``+``. Every
    character outside RFC 3986's unreserved set is encoded, so a ``/`` cannot
    open another path segment and ``+`` cannot be read as a space.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("a path parameter must be a non-empty string")
    return quote(value, safe="")


@attrs.frozen
class Endpoint:
    """One documented endpoint of the Mindo API."""

    #: A short, stable name (``"send"``, ``"bulk_sends.list"``), used in errors and logs.
    name: str
    method: Method
    #: The path template, with ``{param}`` placeholders for path parameters.
    path: str
    #: Whether repeating the request is harmless (GETs). Only non-idempotent
    #: endpoints can leave a caller not knowing whether the request took effect.
    idempotent: bool
    casing: Casing
    paginated: bool = False

    @property
    def path_params(self) -> tuple[str, ...]:
        """The names of the path's ``{param}`` placeholders, in order."""
        names: list[str] = []
        rest = self.path
        while "{" in rest:
            start = rest.index("{")
            end = rest.index("}", start)
            names.append(rest[start + 1 : end])
            rest = rest[end + 1 :]
        return tuple(names)

    def format_path(self, params: Mapping[str, str] | None = None) -> str:
        """The path with every parameter percent-encoded by ``quote_path_param``."""
        params = params or {}
        expected = self.path_params
        if set(params) != set(expected):
            raise ValueError(
                f"{self.name} takes path parameters {list(expected)}, not {sorted(params)}"
            )
        path = self.path
        for name in expected:
            path = path.replace("{" + name + "}", quote_path_param(params[name]))
        return path


SEND = Endpoint(
    "send", "POST", API_PREFIX + "meta-templates/send/", idempotent=False, casing=Casing.SNAKE
)
SEND_BULK = Endpoint(
    "bulk_sends.create",
    "POST",
    API_PREFIX + "meta-templates/send-bulk/",
    idempotent=False,
    casing=Casing.SNAKE,
)
BUSINESS_ACCOUNTS = Endpoint(
    "business_accounts.get",
    "GET",
    API_PREFIX + "business-accounts/",
    idempotent=True,
    casing=Casing.CAMEL,
)
MESSAGE_STATUS = Endpoint(
    "messages.get",
    "GET",
    API_PREFIX + "meta-templates/messages/{message_id}/",
    idempotent=True,
    casing=Casing.SNAKE,
)
BULK_SEND = Endpoint(
    "bulk_sends.get",
    "GET",
    API_PREFIX + "meta-templates/bulk-sends/{bulk_send_id}/",
    idempotent=True,
    casing=Casing.SNAKE,
)
BULK_SEND_MESSAGES = Endpoint(
    "bulk_sends.messages",
    "GET",
    API_PREFIX + "meta-templates/bulk-sends/{bulk_send_id}/messages/",
    idempotent=True,
    casing=Casing.SNAKE,
    paginated=True,
)
BULK_SENDS = Endpoint(
    "bulk_sends.list",
    "GET",
    API_PREFIX + "meta-templates/bulk-sends/",
    idempotent=True,
    casing=Casing.SNAKE,
    paginated=True,
)
CONTACT_LOOKUP = Endpoint(
    "contacts.lookup", "GET", API_PREFIX + "contact-lookup/", idempotent=True, casing=Casing.CAMEL
)
BUSINESS_INFO = Endpoint(
    "business.info", "GET", API_PREFIX + "business-info/", idempotent=True, casing=Casing.CAMEL
)
BUSINESS_HOURS = Endpoint(
    "business.hours", "GET", API_PREFIX + "business-hours/", idempotent=True, casing=Casing.CAMEL
)
HOLIDAYS = Endpoint(
    "business.holidays", "GET", API_PREFIX + "holidays/", idempotent=True, casing=Casing.CAMEL
)

#: Every documented endpoint, in the order of the API reference.
ENDPOINTS: tuple[Endpoint, ...] = (
    BUSINESS_ACCOUNTS,
    SEND,
    SEND_BULK,
    BULK_SEND,
    BULK_SEND_MESSAGES,
    BULK_SENDS,
    CONTACT_LOOKUP,
    MESSAGE_STATUS,
    BUSINESS_INFO,
    BUSINESS_HOURS,
    HOLIDAYS,
)


def endpoint_named(name: str) -> Endpoint:
    """The endpoint called ``name``; ``KeyError`` naming the known ones otherwise."""
    for endpoint in ENDPOINTS:
        if endpoint.name == name:
            return endpoint
    raise KeyError(f"no endpoint {name!r}; known: {[e.name for e in ENDPOINTS]}")
