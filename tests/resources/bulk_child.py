"""create_many in a child process, for the kill -9 test.

Usage: python bulk_child.py BASE_URL API_KEY JOURNAL COUNT CHUNK_SIZE
"""

from __future__ import annotations

import sys

import anyio

from mindo_async import AsyncMindo, SendRequest


def campaign(count: int) -> list[SendRequest]:
    """The campaign both the child and the test's rerun send."""
    return [
        SendRequest(
            phone_number_id="813497231850626",
            template_name="verification_code",
            recipient_phone=f"+54911{40000000 + i}",
            variables={"name": f"User {i}", "code": f"C{i:05d}"},
        )
        for i in range(count)
    ]


async def main(base_url: str, api_key: str, journal: str, count: int, chunk_size: int) -> None:
    async with AsyncMindo(api_key=api_key, base_url=base_url) as mindo:
        await mindo.bulk_sends.create_many(campaign(count), chunk_size=chunk_size, journal=journal)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
