"""mindo.bulk_sends over httpx.MockTransport: retries, ambiguity, polling back-off, links."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from mindo_async import (
    AsyncMindo,
    BulkRecipient,
    BulkSendCreated,
    BulkSendStatus,
    BulkSendUnknownError,
    DeliveryUnknownError,
)
from mindo_async._errors import InvalidResponseError
from mindo_async.resources import bulk_sends as bulk_sends_module

BASE = "http://127.0.0.1"
KEY = "mindo_test_key"
CREATED = {
    "bulk_send_id": "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c",
    "task_id": "7f8e9d0c-1b2a-3c4d-5e6f-7a8b9c0d1e2f",
    "status": "queued",
    "template_name": "welcome_message",
    "total_recipients": 2,
    "unique_recipients": 2,
    "estimated_time_minutes": 0.4,
    "created_at": "2025-11-16T21:30:00Z",
}
PEOPLE = [
    BulkRecipient(phone="+5491112345678", variables={"name": "Juan", "code": "A"}),
    BulkRecipient(phone="+5491187654321", variables={"name": "Maria", "code": "B"}),
]


async def create(handler: Any, **client: Any) -> BulkSendCreated:
    """Create a two-recipient bulk send against ``handler``."""
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        AsyncMindo(api_key=KEY, base_url=BASE, http_client=http, **client) as mindo,
    ):
        return await mindo.bulk_sends.create(
            phone_number_id="813497231850626", template_name="welcome_message", recipients=PEOPLE
        )


@pytest.mark.anyio
async def test_create_posts_the_documented_body_once() -> None:
    """create POSTs the documented body to send-bulk and parses the 202."""
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.method, request.url.path, json.loads(request.content)))
        return httpx.Response(202, json=CREATED)

    created = await create(handler)
    assert created.status is BulkSendStatus.QUEUED
    assert bodies == [
        (
            "POST",
            "/api/v1/meta-templates/send-bulk/",
            {
                "phone_number_id": "813497231850626",
                "template_name": "welcome_message",
                "language": "es",
                "recipients": [
                    {"phone": "+5491112345678", "variables": {"name": "Juan", "code": "A"}},
                    {"phone": "+5491187654321", "variables": {"name": "Maria", "code": "B"}},
                ],
            },
        )
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 504])
async def test_ambiguous_status_is_not_retried(status: int) -> None:
    """A 500, 502 or 504 raises BulkSendUnknownError after one request, even with retries on."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"error": "boom"})

    with pytest.raises(BulkSendUnknownError) as caught:
        await create(handler, max_retries=5)
    assert calls == 1
    assert isinstance(caught.value, DeliveryUnknownError)
    assert caught.value.status_code == status
    assert caught.value.attempted_at is not None
    assert len(caught.value.request.recipients) == 2
    assert KEY not in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("Server disconnected")]
)
async def test_ambiguous_transport_failure_is_not_retried(exc: Exception) -> None:
    """A read timeout or a dropped connection after sending is UNKNOWN, after one request."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise exc

    with pytest.raises(BulkSendUnknownError):
        await create(handler, max_retries=5)
    assert calls == 1


@pytest.mark.anyio
async def test_ambiguity_is_not_retried_even_with_retry_ambiguous() -> None:
    """retry_ambiguous=True (for single sends) never repeats a bulk send's POST."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500, json={"error": "boom"})

    with pytest.raises(BulkSendUnknownError):
        await create(handler, max_retries=5, retry_ambiguous=True)
    assert calls == 1


@pytest.mark.anyio
async def test_an_undocumented_2xx_body_is_unknown() -> None:
    """A 202 whose body is not the documented one means the bulk send may exist."""
    with pytest.raises(BulkSendUnknownError):
        await create(lambda _: httpx.Response(202, json={"unexpected": True}))


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 503])
async def test_refusals_before_processing_are_retried(status: int) -> None:
    """A 429 or 503 (refused before processing) is retried, and the retry creates it once."""
    answers = iter(
        [
            httpx.Response(status, json={"error": "later"}, headers={"retry-after": "0"}),
            httpx.Response(202, json=CREATED),
        ]
    )
    created = await create(lambda _: next(answers), max_retries=2)
    assert created.bulk_send_id == CREATED["bulk_send_id"]


@pytest.mark.anyio
async def test_find_candidates_matches_on_the_client_side() -> None:
    """find_candidates maps the number, starts the day before, and keeps only true matches."""
    attempted: list[datetime] = []
    queries: list[httpx.QueryParams] = []

    def item(bulk_id: str, **changes: Any) -> dict[str, Any]:
        base = {
            "id": bulk_id,
            "status": "QUEUED",
            "template": {"id": 45, "template_name": "welcome_message", "language": "es"},
            "phone_number": {"id": 123},
            "total_recipients": 2,
            "created_at": (attempted[0] + timedelta(seconds=20)).isoformat(),
        }
        base.update(changes)
        return base

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("send-bulk/"):
            attempted.append(datetime.now(timezone.utc))
            return httpx.Response(504, json={"error": "gateway timeout"})
        if path.endswith("business-accounts/"):
            return httpx.Response(
                200,
                json={
                    "businessAccounts": [
                        {
                            "phoneNumbers": [
                                {"id": 123, "phoneNumberId": "813497231850626"},
                                {"id": 124, "phoneNumberId": "999"},
                            ]
                        }
                    ]
                },
            )
        queries.append(request.url.params)
        when = attempted[0]
        return httpx.Response(
            200,
            json={
                "count": 6,
                "next": None,
                "previous": None,
                "results": [
                    item("match"),
                    item(
                        "other-template",
                        template={"id": 46, "template_name": "x", "language": "es"},
                    ),
                    item(
                        "other-language",
                        template={"id": 45, "template_name": "welcome_message", "language": "en"},
                    ),
                    item("other-number", phone_number={"id": 124}),
                    item("other-size", total_recipients=3),
                    item("too-early", created_at=(when - timedelta(hours=2)).isoformat()),
                ],
            },
        )

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        AsyncMindo(api_key=KEY, base_url=BASE, http_client=http) as mindo,
    ):
        with pytest.raises(BulkSendUnknownError) as caught:
            await mindo.bulk_sends.create(
                phone_number_id="813497231850626",
                template_name="welcome_message",
                recipients=PEOPLE,
            )
        candidates = await caught.value.find_candidates(mindo)
    assert [c.id for c in candidates] == ["match"]
    day_before = (attempted[0] - timedelta(minutes=10)).date() - timedelta(days=1)
    assert queries[0]["created_after"] == day_before.isoformat()


@pytest.mark.anyio
async def test_wait_backs_off_after_failed_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """After failed polls wait sleeps twice as long each time, and poll_interval again after."""
    body = {"id": "x", "total_recipients": 1, "created_at": "2025-11-16T21:30:00Z"}
    answers = iter(
        [
            httpx.Response(503, json={"error": "down"}),
            httpx.Response(500, json={"error": "down"}),
            httpx.Response(200, json=dict(body, status="PROCESSING")),
            httpx.Response(200, json=dict(body, status="COMPLETED")),
        ]
    )
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(bulk_sends_module, "_sleep", fake_sleep)
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(lambda _: next(answers))) as http,
        AsyncMindo(api_key=KEY, base_url=BASE, http_client=http, max_retries=0) as m,
    ):
        bulk = await m.bulk_sends.wait("x", poll_interval=1.0)
    assert bulk.status is BulkSendStatus.COMPLETED
    assert delays == [2.0, 4.0, 1.0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "next_origin",
    [
        "https://collector.example",
        "http://127.0.0.1:8001",
        "https://127.0.0.1",
        "http://127.0.0.2",
        "http://localhost",
    ],
)
async def test_next_on_another_origin_gets_no_request(next_origin: str) -> None:
    """A next link with another scheme, host or port raises, and no request goes there."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.scheme}://{request.url.host}:{request.url.port}")
        return httpx.Response(
            200,
            json={
                "count": 4,
                "next": f"{next_origin}/api/v1/meta-templates/bulk-sends/?page=2",
                "previous": None,
                "results": [],
            },
        )

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        AsyncMindo(api_key=KEY, base_url=BASE, http_client=http) as mindo,
    ):
        page = await mindo.bulk_sends.list()
        with pytest.raises(InvalidResponseError) as caught:
            await page.next_page()
        with pytest.raises(InvalidResponseError):
            async for _ in mindo.bulk_sends.messages("x"):
                pass
    assert seen == ["http://127.0.0.1:None"] * 2
    assert KEY not in str(caught.value)


@pytest.mark.anyio
async def test_next_on_the_same_origin_is_followed() -> None:
    """A next link on base_url's origin (explicit default port included) is fetched."""
    pages = iter(
        [
            {
                "count": 2,
                "next": f"{BASE}:80/api/v1/meta-templates/bulk-sends/?page=2",
                "previous": None,
                "results": [
                    {
                        "id": "a",
                        "status": "QUEUED",
                        "total_recipients": 1,
                        "created_at": "2025-11-16T21:30:00Z",
                    }
                ],
            },
            {
                "count": 2,
                "next": None,
                "previous": BASE,
                "results": [
                    {
                        "id": "b",
                        "status": "QUEUED",
                        "total_recipients": 1,
                        "created_at": "2025-11-16T21:30:00Z",
                    }
                ],
            },
        ]
    )

    async with (
        httpx.AsyncClient(
            transport=httpx.MockTransport(lambda _: httpx.Response(200, json=next(pages)))
        ) as http,
        AsyncMindo(api_key=KEY, base_url=BASE, http_client=http) as mindo,
    ):
        ids = [bulk.id async for bulk in mindo.bulk_sends.list()]
    assert ids == ["a", "b"]


@pytest.mark.anyio
async def test_get_with_an_undocumented_body_raises_invalid_response() -> None:
    """A status answer that is not a bulk send raises InvalidResponseError naming the endpoint."""
    async with (
        httpx.AsyncClient(
            transport=httpx.MockTransport(lambda _: httpx.Response(200, json={"id": 1}))
        ) as http,
        AsyncMindo(api_key=KEY, base_url=BASE, http_client=http) as mindo,
    ):
        with pytest.raises(InvalidResponseError) as caught:
            await mindo.bulk_sends.get("x")
    assert caught.value.endpoint is not None
    assert caught.value.endpoint.name == "bulk_sends.get"
