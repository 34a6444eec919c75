"""A worker process for the Redis tests: sends a campaign through the shared limiter and journal.

Usage: python redis_child.py BASE_URL API_KEY REDIS_URL RATE FIRST COUNT [NAMESPACE]

RATE is the shared limit per number ("local:N" for an unshared in-process one);
with NAMESPACE the campaign goes through a RedisJournal of that namespace.
"""

from __future__ import annotations

import asyncio
import sys

from mindo_async import AsyncMindo, RateLimiter, SendRequest
from mindo_async.redis import RedisJournal, RedisRateLimiter


def campaign(first: int, count: int) -> list[SendRequest]:
    """Requests over two numbers."""
    return [
        SendRequest(
            phone_number_id=("813497231850626", "813497231850627")[i % 2],
            template_name="verification_code",
            recipient_phone=f"+54911{40000000 + i}",
            variables={"name": f"User {i}", "code": f"C{i:05d}"},
        )
        for i in range(first, first + count)
    ]


async def main(argv: list[str]) -> None:
    base_url, api_key, redis_url, rate, first, count = argv[:6]
    namespace = argv[6] if len(argv) > 6 else None
    limiter: float | RateLimiter
    if rate.startswith("local:"):
        limiter = float(rate.removeprefix("local:"))
    else:
        limiter = RedisRateLimiter.from_url(redis_url, rate=float(rate), burst=1)
    journal = RedisJournal.from_url(redis_url, namespace) if namespace else None
    async with AsyncMindo(
        api_key=api_key, base_url=base_url, rate_limit=limiter, max_retries=0
    ) as mindo:
        results = await mindo.send_many(
            campaign(int(first), int(count)), concurrency=16, journal=journal
        )
    print(" ".join(r.outcome.value for r in results))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
