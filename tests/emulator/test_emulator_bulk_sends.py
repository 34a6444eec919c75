"""The emulator's bulk sends: created, paced on the virtual clock, deduped, quota-checked,
paged with absolute links, filtered, and in the ledger beside single sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from mindo_async._endpoints import BULK_SEND, BULK_SEND_MESSAGES, BULK_SENDS, SEND, SEND_BULK
from mindo_async.testing import Emulator
from mindo_async.testing._bulk_sends import TIER_PACE, BulkSendSettings, bulk_sends
from mindo_async.testing._clock import VirtualClock
from mindo_async.testing._data import EmulatorData, PhoneNumber
from mindo_async.testing._state import MessageLifecycle

BASE = "http://127.0.0.1:8000"
NUMBER = "813497231850626"


def body(*phones: str, template: str = "verification_code", number: str = NUMBER) -> dict[str, Any]:
    """A send-bulk body for ``phones`` (each with its own variables)."""
    return {
        "phone_number_id": number,
        "template_name": template,
        "language": "es",
        "recipients": [
            {"phone": phone, "variables": {"name": f"N{i}", "code": str(i)}}
            for i, phone in enumerate(phones)
        ],
    }


PHONES = [f"+54911{40000000 + i}" for i in range(10)]


def make(tier: str = "TIER_100000", failure_share: float = 0.0, **settings: Any) -> Emulator:
    """An emulator with one number of ``tier`` on a virtual clock."""
    data = EmulatorData(phone_numbers=[PhoneNumber(NUMBER, tier=tier, id=123)])
    emulator = Emulator(
        data,
        clock=VirtualClock(),
        lifecycle=MessageLifecycle(failure_share=failure_share, read_share=0.0),
        seed=11,
    )
    if settings:
        emulator.bulk_send_settings = BulkSendSettings(**settings)
    return emulator


@pytest.fixture
def emulator() -> Emulator:
    """The default test emulator."""
    return make()


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to ``emulator`` in-process, authenticated."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url=BASE,
        headers={"X-API-Key": emulator.api_key},
    ) as client:
        yield client


async def post(http: httpx.AsyncClient, payload: Any) -> httpx.Response:
    """POST ``payload`` to send-bulk."""
    return await http.post(SEND_BULK.path, content=json.dumps(payload))


async def status(http: httpx.AsyncClient, bulk_id: str) -> dict[str, Any]:
    """The status body of a bulk send."""
    response = await http.get(BULK_SEND.format_path({"bulk_send_id": bulk_id}))
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.anyio
async def test_create_answers_202_in_the_documented_shape(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """202 with every documented field, status "queued", quota_info from the number's quota."""
    response = await post(http, body(*PHONES[:3]))
    assert response.status_code == 202
    answer = response.json()
    assert answer["status"] == "queued"
    assert (answer["total_recipients"], answer["unique_recipients"]) == (3, 3)
    assert answer["whatsapp_phone_number"]["phone_number_id"] == NUMBER
    assert answer["whatsapp_phone_number"]["messaging_limit_tier"] == "TIER_100000"
    assert answer["quota_info"] == {
        "can_send": True,
        "quota_needed": 3,
        "quota_available": 100_000 - 3,
        "quota_total": 100_000,
        "tier": "TIER_100000",
    }
    assert emulator.ledger.counts["bulk_created"] == 1
    assert emulator.ledger.bulk_send_ids() == (answer["bulk_send_id"],)


@pytest.mark.anyio
async def test_repeated_phones_are_deduped_keeping_the_first(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A repeated phone is sent once (the first occurrence's variables); totals say so."""
    payload = body(PHONES[0], PHONES[1], PHONES[0])
    answer = (await post(http, payload)).json()
    assert (answer["total_recipients"], answer["unique_recipients"]) == (3, 2)
    messages = emulator.ledger.by_recipient(PHONES[0])
    assert len(messages) == 1
    assert messages[0].variables == {"name": "N0", "code": "0"}


@pytest.mark.anyio
async def test_bad_recipients_are_named_by_position(http: httpx.AsyncClient) -> None:
    """Recipient errors come back as a DRF list of per-item errors; nothing is created."""
    payload = body(PHONES[0], "5491112345678")
    payload["recipients"].append({"phone": PHONES[2], "variables": {"unknown": "x"}})
    response = await post(http, payload)
    assert response.status_code == 400
    errors = response.json()["recipients"]
    assert errors[0] == {}
    assert "phone" in errors[1]
    assert "non_field_errors" in errors[2]
    assert len(bulk_sends_store(http)) == 0


def bulk_sends_store(http: httpx.AsyncClient) -> Any:
    """The emulator's bulk sends (through the ASGI app of ``http``)."""
    app = http._transport.app  # type: ignore[attr-defined]
    return bulk_sends(app.state)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"template_name": "nope"}, 404),
        ({"phone_number_id": "1"}, 404),
        ({"recipients": []}, 400),
        ({"template_name": "promo_pending"}, 400),
    ],
)
async def test_request_level_problems(
    http: httpx.AsyncClient, change: dict[str, Any], code: int
) -> None:
    """Unknown template or number, no recipients, unapproved template: refused as send is."""
    response = await post(http, {**body(PHONES[0]), **change})
    assert response.status_code == code


@pytest.mark.anyio
async def test_over_quota_is_refused_whole() -> None:
    """More new recipients than the quota has left: 400 quota_exceeded, nothing created."""
    emulator = make(tier="TIER_50")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url=BASE,
        headers={"X-API-Key": emulator.api_key},
    ) as http:
        first = await post(http, body(*[f"+54911{41000000 + i}" for i in range(45)]))
        assert first.status_code == 202
        refused = await post(http, body(*PHONES[:6]))
        assert refused.status_code == 400
        answer = refused.json()
        assert answer["code"] == "quota_exceeded"
        assert answer["quota_info"]["can_send"] is False
        assert answer["quota_info"]["quota_available"] == 5
        # Recipients already counted in the window cost nothing: these fit.
        again = await post(http, body(*[f"+54911{41000000 + i}" for i in range(45)], PHONES[0]))
        assert again.status_code == 202
    assert emulator.ledger.counts["quota_exceeded"] == 1
    assert len(emulator.ledger.bulk_send_ids()) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("speed", [1.0, 4.0])
async def test_paced_at_the_tier_on_the_virtual_clock(speed: float) -> None:
    """QUEUED for start_delay, then one message per tier pace (divided by speed), then COMPLETED."""
    emulator = make(tier="TIER_50", speed=speed, start_delay=5.0)
    pace = TIER_PACE["TIER_50"] / speed
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url=BASE,
        headers={"X-API-Key": emulator.api_key},
    ) as http:
        bulk_id = (await post(http, body(*PHONES[:4]))).json()["bulk_send_id"]
        assert (await status(http, bulk_id))["status"] == "QUEUED"
        emulator.advance(5.0 / speed)
        started = await status(http, bulk_id)
        assert started["status"] == "PROCESSING"
        assert (started["sent_count"], started["pending_count"]) == (1, 3)
        emulator.advance(pace * 2)
        assert (await status(http, bulk_id))["sent_count"] == 3
        emulator.advance(pace)
        done = await status(http, bulk_id)
    assert done["status"] == "COMPLETED"
    assert done["progress_percentage"] == 100.0
    assert done["completed_at"] is not None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("share", "final"), [(1.0, "FAILED"), (0.5, "PARTIAL"), (0.0, "COMPLETED")]
)
async def test_failures_make_it_partial_or_failed(share: float, final: str) -> None:
    """Some messages failing ends PARTIAL, all failing FAILED, none COMPLETED."""
    emulator = make(failure_share=share)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url=BASE,
        headers={"X-API-Key": emulator.api_key},
    ) as http:
        bulk_id = (await post(http, body(*PHONES))).json()["bulk_send_id"]
        emulator.advance(3600)
        done = await status(http, bulk_id)
    assert done["status"] == final
    assert done["sent_count"] + done["failed_count"] == len(PHONES)
    assert (done["failed_count"] > 0) == (share > 0)


@pytest.mark.anyio
async def test_counters_are_cumulative(http: httpx.AsyncClient, emulator: Emulator) -> None:
    """At every moment read <= delivered <= sent, and sent + failed + pending = total."""
    lifecycle = MessageLifecycle(failure_share=0.2, read_share=0.5)
    emulator.state.lifecycle = lifecycle  # type: ignore[misc]
    bulk_id = (await post(http, body(*PHONES))).json()["bulk_send_id"]
    for _ in range(40):
        emulator.advance(3)
        now = await status(http, bulk_id)
        assert now["read_count"] <= now["delivered_count"] <= now["sent_count"]
        assert now["sent_count"] + now["failed_count"] + now["pending_count"] == len(PHONES)


@pytest.mark.anyio
async def test_messages_page_with_absolute_links(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """Messages come in pages of page_size, with absolute next/previous on the request's origin."""
    bulk_id = (await post(http, body(*PHONES[:5]))).json()["bulk_send_id"]
    path = BULK_SEND_MESSAGES.format_path({"bulk_send_id": bulk_id})
    assert (await http.get(path)).json()["count"] == 0  # none sent yet
    emulator.advance(60)
    first = (await http.get(path, params={"page_size": 2})).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (5, 2, None)
    assert first["next"] == f"{BASE}{path}?page_size=2&page=2"
    second = (await http.get(first["next"])).json()
    assert second["previous"] == f"{BASE}{path}?page_size=2"
    last = (await http.get(second["next"])).json()
    assert (len(last["results"]), last["next"]) == (1, None)
    phones = [m["recipient_phone"] for page in (first, second, last) for m in page["results"]]
    assert phones == PHONES[:5]
    assert (await http.get(path, params={"page": 9})).status_code == 404
    assert (await http.get(path, params={"status": "SENT"})).status_code == 400
    emulator.advance(3600)
    delivered = (await http.get(path, params={"status": "delivered"})).json()
    assert delivered["count"] == 5


@pytest.mark.anyio
async def test_list_filters(http: httpx.AsyncClient, emulator: Emulator) -> None:
    """The list is newest first; status, template id and inclusive date bounds filter it."""
    old = (await post(http, body(PHONES[0]))).json()["bulk_send_id"]
    emulator.advance(timedelta(days=2).total_seconds())
    new = (await post(http, body(PHONES[1], template="welcome_message"))).json()["bulk_send_id"]

    async def ids(**params: Any) -> list[str]:
        response = await http.get(BULK_SENDS.path, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["results"]]

    assert await ids() == [new, old]
    assert await ids(status="COMPLETED") == [old]
    assert await ids(status="QUEUED") == [new]
    assert await ids(template=45) == [new]
    day = (await status(http, old))["created_at"][:10]
    assert await ids(created_after=day, created_before=day) == [old]
    assert (await http.get(BULK_SENDS.path, params={"status": "queued"})).status_code == 400
    assert (await http.get(BULK_SENDS.path, params={"created_after": "x"})).status_code == 400
    item = (await http.get(BULK_SENDS.path)).json()["results"][0]
    assert "created_by" not in item
    assert item["template"]["template_name"] == "welcome_message"


@pytest.mark.anyio
async def test_unknown_bulk_send_is_404(http: httpx.AsyncClient) -> None:
    """An unknown id answers DRF's 404 on status and messages."""
    for endpoint in (BULK_SEND, BULK_SEND_MESSAGES):
        response = await http.get(endpoint.format_path({"bulk_send_id": "nope"}))
        assert response.status_code == 404


@pytest.mark.anyio
async def test_a_recipient_in_a_single_and_a_bulk_send_is_a_duplicate(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """The ledger holds bulk messages shaped as sends: the same message twice is detected."""
    single = {
        "phone_number_id": NUMBER,
        "template_name": "verification_code",
        "language": "es",
        "recipient_phone": PHONES[0],
        "variables": {"name": "N0", "code": "0"},
    }
    assert (await http.post(SEND.path, content=json.dumps(single))).status_code == 200
    assert (await post(http, body(PHONES[0]))).status_code == 202
    groups = emulator.ledger.duplicates()
    assert len(groups) == 1
    assert [entry.bulk_send_id is None for entry in groups[0]] == [True, False]


@pytest.mark.anyio
async def test_bulk_messages_have_a_message_status(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A bulk message's wamid is known to the message-status endpoint."""
    await post(http, body(PHONES[0]))
    emulator.advance(60)
    wamid = emulator.ledger.messages[0].message_id
    from mindo_async._endpoints import MESSAGE_STATUS

    response = await http.get(MESSAGE_STATUS.format_path({"message_id": wamid}))
    assert response.status_code == 200
    assert response.json()["recipient"]["phone"] == PHONES[0]
