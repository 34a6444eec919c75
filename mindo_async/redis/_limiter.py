"""``RedisRateLimiter``: one GCRA limit per phone number id, shared by every process."""

from __future__ import annotations

import math
from typing import Any

import anyio
import redis.asyncio as aioredis

from .._errors import ConfigurationError
from .._ratelimit import FanoutLine, Priority
from ._common import OutageGuard

# One atomic step on the Redis server, with the server's clock (TIME): honour a
# pause, else reserve the next slot of the number (GCRA: the theoretical arrival
# time moves one interval on) and say how long to wait for it. Times are whole
# microseconds, exact in Lua's doubles.
#
# Priority across processes: a fan-out request reserves a slot only when it is
# free now (wait 0). When it is not, nothing is reserved and the answer is how
# long until it is: the caller sleeps that long and asks again. A single send
# reserves the next slot whatever its wait. So fan-out never holds future slots
# (the arrival time is at most one interval past the burst's edge), and a single
# send waits at most one interval (plus any pause) however many fan-out workers,
# in however many processes, are queued on the number.
#   KEYS: the number's arrival-time key, its pause key.
#   ARGV: interval (us), tolerance (us) = (burst - 1) * interval, 1 for fan-out else 0.
#   Returns {reserved (0/1), microseconds to wait, the reserved slot (server us) or 0}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then
  return {0, pause * 1000, 0}
end
local interval = tonumber(ARGV[1])
if interval <= 0 then
  return {1, 0, now}
end
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local wait = tat - tolerance - now
if wait < 0 then
  wait = 0
end
if ARGV[3] == '1' and wait > 0 then
  return {0, wait, 0}
end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return {1, wait, now + wait}
"""

# A pause never shortens: set it only when it ends later than the one in force.
#   KEYS: the pause key. ARGV: milliseconds.
_PAUSE = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 0
"""


class RedisRateLimiter:
    """A ``RateLimiter`` in Redis: one limit per ``phone_number_id`` for all processes.

    ``AsyncMindo(rate_limit=RedisRateLimiter.from_url("redis://...", rate=80.0))``
    in every worker, on any number of machines, keeps each sender number under
    ``rate`` sends per second in total.

    * The limit is GCRA, as in the in-process ``Pacer``, in one atomic Lua script
      timed by the Redis server's clock (``TIME``), so the machines' clocks do not
      matter. A fan-out send is granted a slot only for *now*, never reserved
      ahead: a process waiting for one holds nothing, so a process that stalls
      while it waits cannot bunch its sends with later ones (a single send
      reserves its slot, below). Over any span of ``t`` seconds a
      number is granted at most ``burst + rate * t`` slots. ``burst`` defaults to
      a tenth of a second's worth (``rate / 10``, at least 1), smaller than the
      in-process pacer's one second.
    * **What reaches the API** adds the spread ``J`` of the time from a grant to
      the API's receipt (the client's own steps, the network, the server's
      queue): at most ``burst + rate * (t + J)`` in any ``t`` seconds there. Set
      ``rate`` under the limit so that ``rate * (1 + J)`` stays under it: at 95%
      of 80/s that absorbs ``J`` up to 53 ms; a loaded machine (or a busy
      server) spreads more (``benchmarks/results/shared-state-80.md``).
    * A 429's ``Retry-After`` pauses the number in Redis: every process waits.
    * Single sends go before fan-out sends, in every process: a fan-out send
      reserves a slot only when it is free now (else it sleeps until then and
      asks again), a single send reserves the next slot whatever its wait. So a
      single send waits at most one slot interval (``1 / rate``; plus any 429
      pause) however many fan-out workers, in however many processes, hammer its
      number. Within a process the fan-out also queues, so only one of its
      requests per number asks Redis at a time.
    * If Redis cannot be reached, nothing is sent (fail closed): each call retries
      with backoff, logs the outage on the ``mindo_async.redis`` logger, and goes
      on when Redis is back; with ``outage_timeout`` it raises
      ``SharedStateUnavailableError`` after that many seconds instead.
    * asyncio only (redis-py's asyncio client); on trio it raises ``ConfigurationError``.

    Keys: ``{prefix}:{<phone_number_id>}:tat`` and ``...:pause`` (hash-tagged, so
    a Redis Cluster keeps both in one slot); they expire when idle.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        rate: float | None = 80.0,
        *,
        burst: float | None = None,
        prefix: str = "mindo:rate",
        outage_timeout: float | None = None,
    ) -> None:
        if rate is not None and (isinstance(rate, bool) or not rate > 0):
            raise ConfigurationError("rate must be positive, or None to turn the cap off")
        if burst is not None and not burst >= 1:
            raise ConfigurationError("burst must be at least 1")
        self.redis = redis
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, (rate or 10.0) / 10)
        self.prefix = prefix
        interval = 0 if rate is None else round(1_000_000 / rate)
        self._args = (interval, round((self.burst - 1.0) * interval))
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)
        self._line = FanoutLine()
        self._guard = OutageGuard("rate limiter", outage_timeout)

    @classmethod
    def from_url(cls, url: str, rate: float | None = 80.0, **kwargs: Any) -> RedisRateLimiter:
        """A limiter on a new ``redis.asyncio.Redis`` for ``url`` (``redis://host:port/db``).

        ``kwargs`` go to the limiter (``burst``, ``prefix``, ``outage_timeout``).
        """
        return cls(aioredis.Redis.from_url(url), rate, **kwargs)

    def _keys(self, number: str) -> list[str]:
        base = f"{self.prefix}:{{{number}}}"
        return [base + ":tat", base + ":pause"]

    async def acquire(self, number: str, priority: Priority = Priority.SINGLE) -> None:
        """Wait until ``number`` may send once more, counted for every process."""
        if priority is Priority.SINGLE or self.rate is None:
            await self._take(number, Priority.SINGLE)
            return
        async with self._line.lock(number):
            await self._take(number, Priority.FANOUT)

    async def _reserve(self, keys: list[str], priority: Priority) -> tuple[int, int, int]:
        """One step of the script: (reserved, microseconds to wait, the slot in server us)."""
        args = (*self._args, 1 if priority is Priority.FANOUT else 0)
        reserved, wait, slot = await self._guard.call(lambda: self._acquire(keys=keys, args=args))
        return int(reserved), int(wait), int(slot)

    async def _take(self, number: str, priority: Priority) -> None:
        keys = self._keys(number)
        while True:
            reserved, wait, _ = await self._reserve(keys, priority)
            if wait > 0:
                await anyio.sleep(int(wait) / 1_000_000)
            if not reserved:
                continue  # paused, or (fan-out) its slot was not free yet: ask again
            if wait > 0:
                # A 429 may have paused the number while we slept.
                paused = await self.paused_for(number)
                while paused > 0:
                    await anyio.sleep(paused)
                    paused = await self.paused_for(number)
            return

    async def pause(self, number: str, seconds: float) -> None:
        """Hold every send of ``number``, in every process, for ``seconds`` (never shortens)."""
        milliseconds = math.ceil(max(0.0, seconds) * 1000)
        if milliseconds <= 0:
            return
        keys = self._keys(number)[1:]
        await self._guard.call(lambda: self._pause(keys=keys, args=[milliseconds]))

    async def paused_for(self, number: str) -> float:
        """Seconds left in the pause of ``number`` (0 when it is not paused)."""
        key = self._keys(number)[1]
        left = await self._guard.call(lambda: self.redis.pttl(key))
        return max(0, int(left)) / 1000.0

    async def aclose(self) -> None:
        """Close the Redis client."""
        await self.redis.aclose()

    def __repr__(self) -> str:
        return f"<RedisRateLimiter rate={self.rate!r} burst={self.burst!r} prefix={self.prefix!r}>"
