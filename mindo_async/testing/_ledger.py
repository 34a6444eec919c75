"""The ledger: what the emulator accepted (and so "sent"), and what happened to every request.

A test reads it to prove that no message went out twice, or that a message
whose response was lost was nevertheless processed. The emulator writes it
from uvicorn's thread in socket mode while the test reads it from another
thread, so every access takes one lock and readers get copies.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter, deque
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

#: Outcomes counted in ``Ledger.counts``; each request gets exactly one.
OUTCOMES = (
    "sent",
    "ok",
    "bulk_created",
    "bad_request",
    "quota_exceeded",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "rate_limited",
    "unavailable",
    "server_error",
    "server_error_after_processing",
    "dropped",
    "dropped_before_processing",
    "not_implemented",
)


@attrs.frozen
class LedgerEntry:
    """One accepted message: what was asked, and what the emulator answered or would have."""

    message_id: str
    phone_number_id: str
    template_name: str
    language: str
    recipient_phone: str
    variables: Mapping[str, Any]
    button_variables: Mapping[str, Any]
    #: The request body exactly as parsed from JSON.
    body: Mapping[str, Any]
    #: When the request was received (timezone-aware, UTC).
    received_at: datetime
    #: The ``sent_at`` string of the 200 body.
    sent_at: str
    #: How the request ended: ``"sent"`` (answered 200) or the fault that hid the answer.
    outcome: str = "sent"
    #: The bulk send the message belongs to; ``None`` for a single send.
    bulk_send_id: str | None = None

    @functools.cached_property
    def _canonical_body(self) -> str:
        # Computed on first use only, to keep the request path cheap.
        return json.dumps(self.body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def body_key(self) -> str:
        """A canonical form of the body: equal for identical requests, whatever the key order."""
        return self._canonical_body


class Ledger:
    """Thread-safe record of accepted messages and of the outcome of every request.

    ``limit`` keeps only the newest ``limit`` messages (about 2 KB each), for a
    long-running emulator; counts always cover every request. None keeps all.
    """

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1, or None")
        self._lock = threading.Lock()
        self._messages: deque[LedgerEntry] = deque(maxlen=limit)
        self._counts: Counter[str] = Counter()
        self._accepted = 0

    @property
    def limit(self) -> int | None:
        """How many messages are kept (the newest), or None for all."""
        return self._messages.maxlen

    def record(
        self,
        outcome: str,
        entry: LedgerEntry | None = None,
        *,
        entries: tuple[LedgerEntry, ...] = (),
    ) -> None:
        """Count one request with ``outcome``; store ``entry`` (or ``entries``) it processed."""
        with self._lock:
            self._counts[outcome] += 1
            self._counts["total_requests"] += 1
            if entry is not None:
                self._messages.append(entry)
                self._accepted += 1
            self._messages.extend(entries)
            self._accepted += len(entries)

    @property
    def accepted(self) -> int:
        """How many messages were processed since the last ``clear()``, kept or not."""
        with self._lock:
            return self._accepted

    @property
    def messages(self) -> tuple[LedgerEntry, ...]:
        """Every accepted message, in the order it was processed."""
        with self._lock:
            return tuple(self._messages)

    @property
    def counts(self) -> Mapping[str, int]:
        """A snapshot: outcome -> number of requests, plus ``total_requests``.

        Every outcome in ``OUTCOMES`` is present, zero if it never happened.
        """
        with self._lock:
            snapshot = dict.fromkeys(OUTCOMES, 0)
            snapshot["total_requests"] = 0
            snapshot.update(self._counts)
        return MappingProxyType(snapshot)

    def by_recipient(self, recipient_phone: str) -> tuple[LedgerEntry, ...]:
        """Accepted messages sent to ``recipient_phone``."""
        return tuple(m for m in self.messages if m.recipient_phone == recipient_phone)

    def by_template(self, template_name: str) -> tuple[LedgerEntry, ...]:
        """Accepted messages that used the template ``template_name``."""
        return tuple(m for m in self.messages if m.template_name == template_name)

    def bulk_send_ids(self) -> tuple[str, ...]:
        """The bulk sends whose messages are in the ledger, in order of creation."""
        return tuple(dict.fromkeys(m.bulk_send_id for m in self.messages if m.bulk_send_id))

    def by_bulk_send(self, bulk_send_id: str) -> tuple[LedgerEntry, ...]:
        """The messages of bulk send ``bulk_send_id``."""
        return tuple(m for m in self.messages if m.bulk_send_id == bulk_send_id)

    def duplicates(self) -> list[tuple[LedgerEntry, ...]]:
        """Groups of accepted messages whose request bodies are identical, in first-seen order.

        An empty list proves that no request body was accepted twice.
        """
        groups: dict[str, list[LedgerEntry]] = {}
        for message in self.messages:
            groups.setdefault(message.body_key(), []).append(message)
        return [tuple(group) for group in groups.values() if len(group) > 1]

    def clear(self) -> None:
        """Forget every message and count."""
        with self._lock:
            self._messages.clear()
            self._counts.clear()
            self._accepted = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"<Ledger messages={len(self._messages)} requests={self._counts['total_requests']}>"
            )
