"""Sends beyond a number's quota: the 400 ``quota_exceeded`` answer, and the fan-out's breaker."""

from __future__ import annotations

import json

import httpx
import pytest

from mindo_async import (
    APIError,
    AsyncMindo,
    BadRequestError,
    Outcome,
    QuotaExceededError,
    SendRequest,
)
from mindo_async._protocol import error_for_response

FULL = "900000000000001"
FREE = "813497231850626"
KEY = "mindo_" + "a" * 24
QUOTA_BODY = {
    "error": "Cuota diaria agotada para este numero (TIER_50)",
    "code": "quota_exceeded",
}


def test_quota_exceeded_body_maps_to_quota_exceeded_error() -> None:
    """A 400 with code quota_exceeded is QuotaExceededError (a BadRequestError), message kept."""
    error = error_for_response(400, {}, json.dumps(QUOTA_BODY).encode())
    assert type(error) is QuotaExceededError
    assert isinstance(error, BadRequestError)
    assert isinstance(error, APIError)
    assert error.message == QUOTA_BODY["error"]
    assert error.body == QUOTA_BODY


def test_other_400_is_not_quota_exceeded() -> None:
    """A 400 without the quota code stays a plain BadRequestError."""
    error = error_for_response(400, {}, json.dumps({"error": "otra cosa"}).encode())
    assert not isinstance(error, QuotaExceededError)


def _request(i: int, number: str) -> SendRequest:
    return SendRequest(
        phone_number_id=number,
        template_name="welcome_message",
        recipient_phone=f"+54911{40000000 + i}",
        variables={"customer_name": f"User {i}"},
    )


@pytest.mark.anyio
async def test_fanout_skips_the_rest_of_a_number_after_quota_exceeded() -> None:
    """After one QuotaExceededError the number's later sends are SKIPPED; other numbers go on."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body["phone_number_id"])
        if body["phone_number_id"] == FULL:
            return httpx.Response(400, json=QUOTA_BODY)
        return httpx.Response(
            200,
            json={
                "success": True,
                "message_id": f"wamid.{len(seen)}",
                "template_name": body["template_name"],
                "recipient_phone": body["recipient_phone"],
                "status": "sent",
                "sent_at": "2025-11-16T21:30:00Z",
            },
        )

    items = [_request(i, FULL) for i in range(4)] + [_request(i, FREE) for i in range(10, 13)]
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with AsyncMindo(
        api_key=KEY, base_url="http://127.0.0.1", http_client=http, rate_limit=None
    ) as mindo:
        results = await mindo.send_many(items, concurrency=1)
    await http.aclose()
    assert results[0].outcome is Outcome.REJECTED
    assert isinstance(results[0].error, QuotaExceededError)
    assert [r.outcome for r in results[1:4]] == [Outcome.SKIPPED] * 3
    assert all(r.error is results[0].error for r in results[1:4])
    assert all(r.reason and "quota" in r.reason for r in results[1:4])
    assert [r.outcome for r in results[4:]] == [Outcome.SENT] * 3
    assert seen.count(FULL) == 1
