"""A campaign in a child process, for the kill -9 test.

Usage: python journal_child.py BASE_URL API_KEY JOURNAL COUNT
"""

from __future__ import annotations

import sys

import anyio

from mindo_async import AsyncMindo, SendRequest


async def main(base_url: str, api_key: str, journal: str, count: int) -> None:
    requests = (
        SendRequest(
            phone_number_id="813497231850626",
            template_name="verification_code",
            recipient_phone=f"+54911{40000000 + i}",
            variables={"name": f"User {i}", "code": f"C{i:05d}"},
        )
        for i in range(count)
    )
    async with AsyncMindo(api_key=api_key, base_url=base_url, rate_limit=None) as mindo:
        await mindo.send_many(requests, concurrency=8, journal=journal)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
