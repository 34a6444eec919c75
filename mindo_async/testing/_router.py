"""Routing a request to an endpoint of the table, as Django's URL resolver would.

Paths are matched against every ``Endpoint.path`` of ``ENDPOINTS`` in their
percent-encoded form (ASGI's ``raw_path``): a ``{param}`` matches exactly one
segment, so an encoded ``/`` (``%2F``) inside a wamid stays inside its
parameter; the parameter is then decoded with ``urllib.parse.unquote``
(``%2B`` is ``+``, and a literal ``+`` stays ``+``).

Unknown paths get Django's HTML "Not Found" page; a known path with the wrong
method gets DRF's 405 (``_emulator.py`` writes both).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import unquote

import attrs

from .._endpoints import ENDPOINTS, Endpoint

#: The one prefix of the emulator's own control paths (never used by the real API).
CONTROL_PREFIX = "/_emulator/"

#: What Django's default ``page_not_found`` view answers (``DEBUG = False``).
NOT_FOUND_HTML = (
    "<!doctype html>\n"
    '<html lang="en">\n'
    "<head>\n"
    "  <title>Not Found</title>\n"
    "</head>\n"
    "<body>\n"
    "  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n"
    "</body>\n"
    "</html>\n"
)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(regex)


def allow_header(methods: Iterable[str]) -> str:
    """DRF's ``Allow`` header: the view's methods, HEAD with GET, and OPTIONS."""
    allowed = set(methods)
    if "GET" in allowed:
        allowed.add("HEAD")
    allowed.add("OPTIONS")
    order = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return ", ".join(m for m in order if m in allowed)


@attrs.frozen
class Resolution:
    """Where a request goes.

    ``kind`` is ``"match"`` (``endpoint`` and decoded ``params`` are set),
    ``"method_not_allowed"`` (the path is known: ``endpoint`` is the path's
    endpoint and ``allow`` the ``Allow`` header) or ``"not_found"``.
    """

    kind: Literal["match", "method_not_allowed", "not_found"]
    endpoint: Endpoint | None = None
    params: Mapping[str, str] = attrs.field(factory=dict)
    allow: str = ""


class Router:
    """Matches raw (percent-encoded) paths against the endpoint table."""

    def __init__(self, endpoints: Iterable[Endpoint] = ENDPOINTS) -> None:
        self._routes = [(_pattern(endpoint.path), endpoint) for endpoint in endpoints]
        # Paths without parameters are looked up directly (the common case: send).
        self._static: dict[str, list[Endpoint]] = {}
        for _, endpoint in self._routes:
            if not endpoint.path_params:
                self._static.setdefault(endpoint.path, []).append(endpoint)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The endpoints routed, in table order."""
        return tuple(endpoint for _, endpoint in self._routes)

    def resolve(self, raw_path: str, method: str) -> Resolution:
        """Route ``method raw_path``; ``raw_path`` is percent-encoded, without query string.

        HEAD is served by GET endpoints, and OPTIONS by every endpoint (the
        shell answers it), as DRF does.
        """
        static = self._static.get(raw_path)
        matches: list[tuple[Endpoint, dict[str, str]]] = [(e, {}) for e in static or ()]
        for pattern, endpoint in self._routes if static is None else ():
            found = pattern.fullmatch(raw_path)
            if found is not None:
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                matches.append((endpoint, params))
        if not matches:
            return Resolution("not_found")
        wanted = "GET" if method == "HEAD" else method
        for endpoint, params in matches:
            if endpoint.method == wanted or method == "OPTIONS":
                return Resolution("match", endpoint, params)
        endpoint, params = matches[0]
        return Resolution(
            "method_not_allowed",
            endpoint,
            params,
            allow_header(e.method for e, _ in matches),
        )
