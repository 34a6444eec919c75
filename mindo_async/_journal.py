"""The campaign journal: what was sent survives a crash, so a rerun sends nothing twice."""

from __future__ import annotations

import abc
import hashlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

import attrs

from ._errors import ConfigurationError
from ._models import Outcome, SendRequest

#: The state of a request that was put on the wire and has no outcome yet. After a
#: crash it means "may have been delivered", like ``Outcome.UNKNOWN``.
IN_FLIGHT = "in_flight"
#: The state of a request that one worker owns and has not put on the wire yet
#: (it waits for a sending slot). Nothing was sent: a claim left by a worker that
#: stopped is taken over, and one given up is released.
CLAIMED = "claimed"
#: What an entry found in flight, left by a run that stopped, becomes.
LEFT_IN_FLIGHT = "on the wire when an earlier run stopped"


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
    #: The batch the key was put on the wire with (a server-side bulk send's chunk), if any.
    batch: str | None = None

    @property
    def may_have_been_delivered(self) -> bool:
        """Whether the message may have reached WhatsApp (sent, unknown or in flight)."""
        return self.state in (Outcome.SENT.value, Outcome.UNKNOWN.value, IN_FLIGHT)

    @property
    def busy(self) -> bool:
        """Whether another live worker owns this request right now (claimed or in flight)."""
        return self.state in (CLAIMED, IN_FLIGHT)


def claimable(entry: JournalEntry | None, *, retry_unknown: bool) -> bool:
    """Whether a request whose final entry is ``entry`` may be sent (again).

    Never sent, refused, skipped: yes. Sent: never. Unknown (or left in flight by
    a run that stopped): only with ``retry_unknown``.
    """
    if entry is None:
        return True
    if entry.state == Outcome.SENT.value:
        return False
    if entry.state in (Outcome.UNKNOWN.value, IN_FLIGHT):
        return retry_unknown
    return True


@runtime_checkable
class AsyncJournal(Protocol):
    """Where a campaign's requests are claimed, marked in flight and given their outcome.

    The steps are kept apart so that many workers (in many processes, with a
    shared implementation such as ``mindo_async.redis.RedisJournal``) can share
    one journal:

    1. ``claim`` early and atomically: of two workers given the same request,
       one owns it; the other gets the entry that is there.
    2. ``mark_in_flight`` late, once the sending slot and the connection are
       taken, just before the first byte can leave; durable when it returns.
    3. ``record`` the outcome (with the message id), or ``release`` a claim that
       never reached in flight, so that a rerun sends it.

    An entry found in flight, left by a worker that stopped, is ``unknown``: it
    may have been delivered and is not sent again unless ``retry_unknown``.
    """

    async def claim(self, key: str, *, retry_unknown: bool = False) -> JournalEntry | None:
        """Own ``key`` and return ``None``; or return the entry that rules it out.

        A returned entry is final (sent; unknown without ``retry_unknown``) or
        ``busy``: another live worker holds it, and the caller may ask again later.
        """
        ...

    async def mark_in_flight(self, key: str) -> bool:
        """Record that ``key``, claimed by this journal, is going on the wire.

        ``False`` when the claim was lost (taken over by another worker): do not send.
        """
        ...

    async def record(
        self,
        key: str,
        outcome: Outcome,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        """Record the outcome of ``key``."""
        ...

    async def release(self, key: str) -> None:
        """Give up a claim that never reached in flight: nothing was sent, a rerun sends it."""
        ...

    async def get(self, key: str) -> JournalEntry | None:
        """The entry of ``key``, or ``None`` when this key was never recorded."""
        ...

    async def aclose(self) -> None:
        """Release the store."""
        ...


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

    def begin_batch(self, keys: Sequence[str], batch: str) -> None:
        """Record that every key of ``keys`` is about to leave in one request, ``batch``.

        Used by ``bulk_sends.create_many``: one bulk send carries many recipients.
        The default calls ``begin`` for each key (the batch name is not kept);
        a store that can should record all keys at once, with the batch.
        """
        for key in keys:
            self.begin(key)

    def finish_batch(
        self,
        keys: Sequence[str],
        outcome: Outcome,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        """Record the outcome of a batch for each of its keys (``message_id``: the bulk send)."""
        for key in keys:
            self.finish(key, outcome, message_id=message_id, error=error, attempts=attempts)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the store; the default does nothing."""


class SyncJournalAdapter:
    """An ``AsyncJournal`` over a synchronous ``Journal`` (a subclass written before it).

    The synchronous protocol has no claimed state: ``claim`` reads the entry and
    owns nothing (such a journal serves one process), ``mark_in_flight`` is
    ``begin``, ``record`` is ``finish``, ``release`` has nothing to undo.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def claim(self, key: str, *, retry_unknown: bool = False) -> JournalEntry | None:
        """``None`` when ``key`` may be sent; else its entry (in flight becomes unknown)."""
        entry = self.journal.lookup(key)
        if entry is not None and entry.state == IN_FLIGHT:
            # An earlier run stopped with it on the wire.
            self.journal.finish(key, Outcome.UNKNOWN, error=LEFT_IN_FLIGHT, attempts=entry.attempts)
            entry = attrs.evolve(entry, state=Outcome.UNKNOWN.value, error=LEFT_IN_FLIGHT)
        return None if claimable(entry, retry_unknown=retry_unknown) else entry

    async def mark_in_flight(self, key: str) -> bool:
        """``Journal.begin``."""
        self.journal.begin(key)
        return True

    async def record(
        self,
        key: str,
        outcome: Outcome,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        """``Journal.finish``."""
        self.journal.finish(key, outcome, message_id=message_id, error=error, attempts=attempts)

    async def release(self, key: str) -> None:
        """Nothing was written for ``key`` before ``begin``: nothing to undo."""

    async def get(self, key: str) -> JournalEntry | None:
        """``Journal.lookup``."""
        return self.journal.lookup(key)

    async def aclose(self) -> None:
        """``Journal.close``."""
        self.journal.close()


#: Owners (``pid:token``) of the SQLiteJournal instances open in this process.
_LIVE_OWNERS: set[str] = set()


def _owner_alive(owner: str | None) -> bool:
    """Whether the SQLiteJournal that wrote ``owner`` may still be working."""
    if not owner:
        # Written before owners were recorded: by a run that is over.
        return False
    pid_text, _, _ = owner.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return owner in _LIVE_OWNERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        # It exists (owned by another user, say).
        return True
    return True


class SQLiteJournal(Journal):
    """A journal in one SQLite file (standard library; WAL mode).

    Each record is committed at once. WAL with ``synchronous=NORMAL`` keeps every
    committed record through a crash of the process (``kill -9``); it is the
    machine losing power that may lose the last records.

    It is both a synchronous ``Journal`` (``lookup``, ``begin``, ``finish``) and an
    ``AsyncJournal``: a claim is one ``BEGIN IMMEDIATE`` transaction, atomic across
    the processes of one machine that share the file. A claim or an in-flight entry
    is taken as left by a run that stopped once its process is gone (or, in this
    process, once its journal is closed). Files written before claims existed
    (no ``owner`` column) are upgraded in place when opened.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS requests ("
            " key TEXT PRIMARY KEY, state TEXT NOT NULL, message_id TEXT, error TEXT,"
            " attempts INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL, owner TEXT,"
            " batch TEXT)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(requests)")}
        if "owner" not in columns:
            # A file from before claims: its rows have no owner, so their runs are over.
            self._db.execute("ALTER TABLE requests ADD COLUMN owner TEXT")
        if "batch" not in columns:
            # A file from before batches (server-side bulk sends' chunks).
            self._db.execute("ALTER TABLE requests ADD COLUMN batch TEXT")
        self._owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        _LIVE_OWNERS.add(self._owner)

    # -- the synchronous Journal --------------------------------------------------

    def lookup(self, key: str) -> JournalEntry | None:
        row = self._db.execute(
            "SELECT state, message_id, error, attempts, batch FROM requests WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return JournalEntry(key, row[0], row[1], row[2], row[3], row[4])

    def begin(self, key: str) -> None:
        self._db.execute(
            "INSERT INTO requests (key, state, updated_at, owner) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET state = excluded.state,"
            " message_id = NULL, error = NULL, updated_at = excluded.updated_at,"
            " owner = excluded.owner",
            (key, IN_FLIGHT, time.time(), self._owner),
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
            "INSERT INTO requests (key, state, message_id, error, attempts, updated_at, owner)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET state = excluded.state,"
            " message_id = excluded.message_id, error = excluded.error,"
            " attempts = excluded.attempts, updated_at = excluded.updated_at,"
            " owner = excluded.owner",
            (key, outcome.value, message_id, error, attempts, time.time(), self._owner),
        )

    def begin_batch(self, keys: Sequence[str], batch: str) -> None:
        # One transaction: after a crash, either every key of the batch is in
        # flight or none is (and then the request did not leave either).
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT INTO requests (key, state, updated_at, owner, batch) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET state = excluded.state, message_id = NULL,"
                " error = NULL, updated_at = excluded.updated_at, owner = excluded.owner,"
                " batch = excluded.batch",
                [(key, IN_FLIGHT, now, self._owner, batch) for key in keys],
            )

    def finish_batch(
        self,
        keys: Sequence[str],
        outcome: Outcome,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT INTO requests (key, state, message_id, error, attempts, updated_at, owner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET state = excluded.state,"
                " message_id = excluded.message_id, error = excluded.error,"
                " attempts = excluded.attempts, updated_at = excluded.updated_at,"
                " owner = excluded.owner",
                [
                    (key, outcome.value, message_id, error, attempts, now, self._owner)
                    for key in keys
                ],
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def counts(self) -> dict[str, int]:
        """How many keys are in each state."""
        return dict(self._db.execute("SELECT state, COUNT(*) FROM requests GROUP BY state"))

    def close(self) -> None:
        _LIVE_OWNERS.discard(self._owner)
        self._db.close()

    # -- the AsyncJournal ----------------------------------------------------------
    # Synchronous inside: each step is one short SQLite transaction, and a
    # cancellation cannot cut one in half.

    def claim_now(self, key: str, *, retry_unknown: bool = False) -> JournalEntry | None:
        """``claim``, synchronously."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT state, message_id, error, attempts, owner FROM requests WHERE key = ?",
                (key,),
            ).fetchone()
            entry = None if row is None else JournalEntry(key, row[0], row[1], row[2], row[3])
            if entry is not None and entry.busy:
                if _owner_alive(row[4]):
                    db.execute("COMMIT")
                    return entry
                if entry.state == IN_FLIGHT:
                    # Left on the wire by a run that stopped: it may have been delivered.
                    db.execute(
                        "UPDATE requests SET state = ?, error = ?, updated_at = ? WHERE key = ?",
                        (Outcome.UNKNOWN.value, LEFT_IN_FLIGHT, time.time(), key),
                    )
                    entry = attrs.evolve(entry, state=Outcome.UNKNOWN.value, error=LEFT_IN_FLIGHT)
                else:
                    # A claim left by a run that stopped before sending: take it over.
                    entry = None
            if not claimable(entry, retry_unknown=retry_unknown):
                db.execute("COMMIT")
                return entry
            db.execute(
                "INSERT INTO requests (key, state, updated_at, owner) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET state = excluded.state,"
                " message_id = NULL, error = NULL, updated_at = excluded.updated_at,"
                " owner = excluded.owner",
                (key, CLAIMED, time.time(), self._owner),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return None

    async def claim(self, key: str, *, retry_unknown: bool = False) -> JournalEntry | None:
        """See ``AsyncJournal.claim``."""
        return self.claim_now(key, retry_unknown=retry_unknown)

    async def mark_in_flight(self, key: str) -> bool:
        """See ``AsyncJournal.mark_in_flight``."""
        cursor = self._db.execute(
            "UPDATE requests SET state = ?, updated_at = ?"
            " WHERE key = ? AND state = ? AND owner = ?",
            (IN_FLIGHT, time.time(), key, CLAIMED, self._owner),
        )
        return cursor.rowcount == 1

    async def record(
        self,
        key: str,
        outcome: Outcome,
        *,
        message_id: str | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        """See ``AsyncJournal.record``."""
        self.finish(key, outcome, message_id=message_id, error=error, attempts=attempts)

    async def release(self, key: str) -> None:
        """See ``AsyncJournal.release``."""
        self._db.execute(
            "DELETE FROM requests WHERE key = ? AND state = ? AND owner = ?",
            (key, CLAIMED, self._owner),
        )

    async def get(self, key: str) -> JournalEntry | None:
        """See ``AsyncJournal.get``."""
        return self.lookup(key)

    async def aclose(self) -> None:
        """See ``AsyncJournal.aclose``."""
        self.close()


def open_journal(
    journal: str | os.PathLike[str] | Journal | AsyncJournal | None,
) -> tuple[AsyncJournal | None, bool]:
    """The ``AsyncJournal`` for ``send_many(journal=...)``, and whether it was opened here."""
    if journal is None:
        return None, False
    if isinstance(journal, (str, os.PathLike)):
        return SQLiteJournal(journal), True
    if isinstance(journal, AsyncJournal):
        return journal, False
    if isinstance(journal, Journal):
        return SyncJournalAdapter(journal), False
    raise ConfigurationError(
        "journal must be a path, a Journal or an AsyncJournal, not " + type(journal).__name__
    )
