"""One campaign sent by several worker processes, under one rate limit and one journal.

Every process is handed the whole campaign; the Redis journal's claim lets exactly
one of them send each request, and the Redis limiter keeps each sender number
under one limit for all of them together. Run it against the local emulator (no
account needed) and a local Redis::

    pip install "mindo-async[redis,cli]"
    redis-server --port 6379 &
    mindo emulator --port 8000 &
    MINDO_BASE_URL=http://127.0.0.1:8000 MINDO_API_KEY=mindo_emulator_0123456789abcdef \\
        python examples/many_processes.py redis://127.0.0.1:6379/0 --processes 4 --count 400

Each process prints how many it sent and how many it skipped because another
process had them; the totals add up to the campaign, each request sent once.
Run it again: everything is skipped (the journal keeps outcomes for 30 days).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing

from mindo_async import AsyncMindo, SendRequest
from mindo_async.redis import RedisJournal, RedisRateLimiter

NUMBER_ID = "813497231850626"


def campaign(count: int) -> list[SendRequest]:
    """The campaign: the same list in every process."""
    return [
        SendRequest(
            phone_number_id=NUMBER_ID,
            template_name="verification_code",
            recipient_phone=f"+54911{40000000 + i}",
            variables={"name": f"User {i}", "code": f"C{i:05d}"},
        )
        for i in range(count)
    ]


async def send(redis_url: str, namespace: str, count: int, rate: float) -> dict[str, int]:
    """One worker process: the shared limiter and journal, its own AsyncMindo."""
    limiter = RedisRateLimiter.from_url(redis_url, rate=rate)
    journal = RedisJournal.from_url(redis_url, namespace=namespace)
    try:
        async with AsyncMindo(rate_limit=limiter) as mindo:
            results = await mindo.send_many(campaign(count), concurrency=16, journal=journal)
    finally:
        await limiter.aclose()
        await journal.aclose()
    return dict(collections.Counter(result.outcome.value for result in results))


def process(redis_url: str, namespace: str, count: int, rate: float) -> dict[str, int]:
    return asyncio.run(send(redis_url, namespace, count, rate))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("redis_url")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--rate", type=float, default=76.0, help="per number, all processes")
    parser.add_argument("--namespace", default="example-campaign")
    args = parser.parse_args()
    with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        tallies = pool.starmap(
            process, [(args.redis_url, args.namespace, args.count, args.rate)] * args.processes
        )
    for index, tally in enumerate(tallies):
        print(f"process {index}: {tally}")
    sent = sum(tally.get("sent", 0) for tally in tallies)
    print(f"sent {sent} of {args.count} (each request once, whatever the process)")


if __name__ == "__main__":
    main()
