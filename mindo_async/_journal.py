"""The campaign journal: what was sent survives a crash, so a rerun sends nothing twice."""

from __future__ import annotations

import abc
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

import attrs

from ._models import Outcome, SendRequest

#: The state of a request that was put on the wire and has no outcome yet. After a
#: crash it means "may have been delivered", like ``Outcome.UNKNOWN``.
IN_FLIGHT = "in_flight"


def _sorted_text(mapping: Mapping[str, Any] | None) -> list[list[str]] | None:
    if mapping is None:
        return None
    return sorted([str(key), str(value)] for key, value in mapping.items())


def request_digest(request: SendRequest) -> bytes:
    """A stable 16-byte digest of every field of ``request`` (the same in every process)."""
    canonical = json.dumps(
        [
            request.phone_number_id,
            request.template_name,
            request.language,
            request.recipient_phone,
            _sorted_text(request.variables),
            _sorted_text(request.button_variables),
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


def request_key(request: SendRequest) -> str:
    """The default journal key of ``request``: the hex of ``request_digest``."""
    return request_digest(request).hex()


@attrs.frozen
class JournalEntry:
    """What the journal knows of one request key."""

    key: str
    #: An ``Outcome`` value ("sent", "rejected", "unknown", "skipped") or ``IN_FLIGHT``.
    state: str
    message_id: str | None = None
    error: str | None = None
    attempts: int = 0

    @property
    def may_have_been_delivered(self) -> bool:
        """Whether the message may have reached WhatsApp (sent, unknown or in flight)."""
        return self.state in (Outcome.SENT.value, Outcome.UNKNOWN.value, IN_FLIGHT)


class Journal(abc.ABC):
    """Where a campaign records each request before it is sent and its outcome after.

    Implementations must make ``begin`` durable before it returns: the send
    follows at once, and a crash right after must still find the record.
    The methods are called from the event loop and must be quick.
    """

    @abc.abstractmethod
    def lookup(self, key: str) -> JournalEntry | None:
        """The entry of ``key``, or ``None`` when this key was never recorded."""

    @abc.abstractmethod
    def begin(self, key: str) -> None:
        """Record that ``key`` is about to be put on the wire (state ``IN_FLIGHT``)."""

    @abc.abstractmethod
    def finish(
        self,
        key: str,
        outcome: Outcome,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        """Record the outcome of ``key``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the store; the default does nothing."""


class SQLiteJournal(Journal):
    """A journal in one SQLite file (standard library; WAL mode).

    Each record is committed at once. WAL with ``synchronous=NORMAL`` keeps every
    committed record through a crash of the process (``kill -9``); it is the
    machine losing power that may lose the last records.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS requests ("
            " key TEXT PRIMARY KEY, state TEXT NOT NULL, message_id TEXT, error TEXT,"
            " attempts INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL)"
        )

    def lookup(self, key: str) -> JournalEntry | None:
        row = self._db.execute(
            "SELECT state, message_id, error, attempts FROM requests WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return JournalEntry(key, row[0], row[1], row[2], row[3])

    def begin(self, key: str) -> None:
        self._db.execute(
            "INSERT INTO requests (key, state, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET state = excluded.state,"
            " message_id = NULL, error = NULL, updated_at = excluded.updated_at",
            (key, IN_FLIGHT, time.time()),
        )

    def finish(
        self,
        key: str,
        outcome: Outcome,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        self._db.execute(
            "INSERT INTO requests (key, state, message_id, error, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET state = excluded.state,"
            " message_id = excluded.message_id, error = excluded.error,"
            " attempts = excluded.attempts, updated_at = excluded.updated_at",
            (key, outcome.value, message_id, error, attempts, time.time()),
        )

    def counts(self) -> dict[str, int]:
        """How many keys are in each state."""
        return dict(self._db.execute("SELECT state, COUNT(*) FROM requests GROUP BY state"))

    def close(self) -> None:
        self._db.close()
