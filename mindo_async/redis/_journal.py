"""``RedisJournal``: one campaign journal for every worker, with an atomic claim."""

from __future__ import annotations

import itertools
import os
import socket
import uuid
from typing import Any

import redis.asyncio as aioredis

from .._errors import ConfigurationError
from .._journal import LEFT_IN_FLIGHT, JournalEntry
from .._models import Outcome
from ._common import OutageGuard

#: How long entries are kept: long enough for a campaign's reruns.
DEFAULT_TTL = 30 * 24 * 3600.0
#: How long a claim or an in-flight entry holds when its owner goes silent.
DEFAULT_LEASE = 300.0

# The claim, in one atomic step with the server's clock.
#   KEYS: the entry. ARGV: token, lease (us), ttl (ms), retry_unknown ("1"/"0").
#   Returns 1 when the claim is ours, else {state, message_id, error, attempts}.
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local key = KEYS[1]
local function take()
  redis.call('DEL', key)
  redis.call('HSET', key, 'state', 'claimed', 'owner', ARGV[1],
    'lease', string.format('%d', now + tonumber(ARGV[2])), 'attempts', '0')
  redis.call('PEXPIRE', key, ARGV[3])
  return 1
end
local function entry(state)
  local f = redis.call('HMGET', key, 'message_id', 'error', 'attempts')
  return {state, f[1] or '', f[2] or '', f[3] or '0'}
end
local state = redis.call('HGET', key, 'state')
if not state then
  return take()
end
if state == 'claimed' or state == 'in_flight' then
  local owner = redis.call('HGET', key, 'owner')
  if owner == ARGV[1] then
    if state == 'claimed' then
      return take()  -- this very claim, asked again after a lost answer
    end
    return entry(state)
  end
  local lease = tonumber(redis.call('HGET', key, 'lease') or '0')
  if lease > now then
    return entry(state)  -- a live worker holds it
  end
  if state == 'claimed' then
    return take()  -- its owner went silent before sending: nothing was sent
  end
  redis.call('HSET', key, 'state', 'unknown', 'error', ARGV[5])
  redis.call('HDEL', key, 'owner', 'lease')
  state = 'unknown'
end
if state == 'sent' then
  return entry(state)
end
if state == 'unknown' and ARGV[4] ~= '1' then
  return entry(state)
end
return take()
"""

# Claimed by this token -> in flight (again: idempotent).
#   KEYS: the entry. ARGV: token, lease (us), ttl (ms). Returns 1, or 0 when lost.
_MARK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local f = redis.call('HMGET', KEYS[1], 'state', 'owner')
if f[2] ~= ARGV[1] then
  return 0
end
if f[1] == 'in_flight' then
  return 1
end
if f[1] ~= 'claimed' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'in_flight',
  'lease', string.format('%d', now + tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# The outcome. KEYS: the entry. ARGV: state, message_id, error, attempts, ttl (ms).
_RECORD = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'attempts', ARGV[4])
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'message_id', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'error', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

# Release a claim of this token that never went in flight. KEYS: entry. ARGV: token.
_RELEASE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'owner')
if f[1] == 'claimed' and f[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(key: str, fields: list[Any]) -> JournalEntry:
    state, message_id, error, attempts = (_text(v) for v in fields)
    return JournalEntry(key, state, message_id or None, error or None, int(attempts or 0))


class RedisJournal:
    """An ``AsyncJournal`` in Redis: every worker of a campaign, in any process, shares it.

    ``send_many(requests, journal=RedisJournal.from_url("redis://...", namespace="spring"))``

    * The claim is one atomic Lua script: of two workers given the same request,
      exactly one owns it; the other waits for its outcome and skips it.
    * In flight is recorded just before the request can leave; an entry found in
      flight whose owner went silent for ``lease`` seconds (a worker killed with
      ``kill -9``) is reported UNKNOWN and never resent unless ``retry_unknown``.
      A claim whose owner went silent before sending is taken over: nothing was sent.
    * Outcomes are kept with the message id for ``ttl`` seconds (default 30 days,
      for the campaign's reruns), then expire.
    * If Redis cannot be reached, nothing is sent (fail closed): each call retries
      with backoff, logs the outage on the ``mindo_async.redis`` logger, and goes
      on when Redis is back; with ``outage_timeout`` it raises
      ``SharedStateUnavailableError`` after that many seconds instead.
    * Durable as Redis is: with its default snapshots a Redis crash may forget the
      last entries; for a journal that survives one, run Redis with
      ``appendonly yes`` (and ``appendfsync always`` to lose nothing).
    * asyncio only (redis-py's asyncio client); on trio it raises ``ConfigurationError``.

    Keys: ``{namespace}:{request key}``, one hash each.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        namespace: str = "mindo:journal",
        *,
        ttl: float = DEFAULT_TTL,
        lease: float = DEFAULT_LEASE,
        outage_timeout: float | None = None,
    ) -> None:
        if not ttl > 0:
            raise ConfigurationError("ttl must be a positive number of seconds")
        if not lease > 0:
            raise ConfigurationError("lease must be a positive number of seconds")
        if not namespace:
            raise ConfigurationError("namespace must not be empty")
        self.redis = redis
        self.namespace = namespace
        self.ttl = ttl
        self.lease = lease
        self._ttl_ms = str(round(ttl * 1000))
        self._lease_us = str(round(lease * 1_000_000))
        self._claim = redis.register_script(_CLAIM)
        self._mark = redis.register_script(_MARK)
        self._record = redis.register_script(_RECORD)
        self._release = redis.register_script(_RELEASE)
        self._guard = OutageGuard("journal", outage_timeout)
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._counter = itertools.count()
        #: The token of each claim this journal holds.
        self._tokens: dict[str, str] = {}

    @classmethod
    def from_url(cls, url: str, namespace: str = "mindo:journal", **kwargs: Any) -> RedisJournal:
        """A journal on a new ``redis.asyncio.Redis`` for ``url`` (``redis://host:port/db``).

        ``kwargs`` go to the journal (``ttl``, ``lease``, ``outage_timeout``).
        """
        return cls(aioredis.Redis.from_url(url), namespace, **kwargs)

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def claim(self, key: str, *, retry_unknown: bool = False) -> JournalEntry | None:
        """See ``AsyncJournal.claim``: atomic across every process that shares Redis."""
        # A token per claim: asked again after a lost answer (inside this call), the
        # claim is still ours; another claim of this journal for the key is not.
        token = f"{self._owner}:{next(self._counter)}"
        args = [token, self._lease_us, self._ttl_ms, "1" if retry_unknown else "0", LEFT_IN_FLIGHT]
        keys = [self._key(key)]
        result = await self._guard.call(lambda: self._claim(keys=keys, args=args))
        if result == 1:
            self._tokens[key] = token
            return None
        return _entry(key, result)

    async def mark_in_flight(self, key: str) -> bool:
        """See ``AsyncJournal.mark_in_flight``."""
        token = self._tokens.get(key)
        if token is None:
            return False
        keys = [self._key(key)]
        args = [token, self._lease_us, self._ttl_ms]
        return bool(await self._guard.call(lambda: self._mark(keys=keys, args=args)))

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
        keys = [self._key(key)]
        args = [outcome.value, message_id or "", error or "", str(attempts), self._ttl_ms]
        await self._guard.call(lambda: self._record(keys=keys, args=args))
        self._tokens.pop(key, None)

    async def release(self, key: str) -> None:
        """See ``AsyncJournal.release``."""
        token = self._tokens.pop(key, None)
        if token is None:
            return
        keys = [self._key(key)]
        await self._guard.call(lambda: self._release(keys=keys, args=[token]))

    async def get(self, key: str) -> JournalEntry | None:
        """See ``AsyncJournal.get``."""
        name = self._key(key)
        fields = await self._guard.call(
            lambda: self.redis.hmget(name, ["state", "message_id", "error", "attempts"])
        )
        if fields[0] is None:
            return None
        return _entry(key, [v if v is not None else "" for v in fields])

    async def counts(self) -> dict[str, int]:
        """How many entries of this namespace are in each state (a scan: for reports)."""
        counts: dict[str, int] = {}
        async for name in self.redis.scan_iter(match=f"{self.namespace}:*", count=1000):
            state = await self.redis.hget(name, "state")
            if state is not None:
                text = _text(state)
                counts[text] = counts.get(text, 0) + 1
        return counts

    async def aclose(self) -> None:
        """Close the Redis client."""
        await self.redis.aclose()

    def __repr__(self) -> str:
        return f"<RedisJournal namespace={self.namespace!r} ttl={self.ttl!r} lease={self.lease!r}>"


__all__ = ["DEFAULT_LEASE", "DEFAULT_TTL", "RedisJournal"]
