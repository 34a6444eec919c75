"""One rate limit and one journal shared by many processes, in Redis.

``pip install "mindo-async[redis]"``. asyncio only (redis-py's asyncio client)::

    from mindo_async import AsyncMindo
    from mindo_async.redis import RedisJournal, RedisRateLimiter

    limiter = RedisRateLimiter.from_url("redis://localhost:6379/0", rate=76.0)
    journal = RedisJournal.from_url("redis://localhost:6379/0", namespace="spring-sale")
    async with AsyncMindo(rate_limit=limiter) as mindo:
        await mindo.send_many(requests, journal=journal)
"""

from __future__ import annotations

try:
    import redis.asyncio  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError('mindo_async.redis needs redis-py: pip install "mindo-async[redis]"') from exc

from ._journal import DEFAULT_LEASE, DEFAULT_TTL, RedisJournal
from ._limiter import RedisRateLimiter

__all__ = ["DEFAULT_LEASE", "DEFAULT_TTL", "RedisJournal", "RedisRateLimiter"]
