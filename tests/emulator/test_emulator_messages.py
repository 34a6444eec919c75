"""Message status: ``sent -> delivered -> read`` (or ``failed``) on the virtual clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from mindo_async._endpoints import MESSAGE_STATUS, SEND
from mindo_async.testing import (
    DEFAULT_PHONE_NUMBER_ID,
    NOT_FOUND_HTML,
    Emulator,
    MessageLifecycle,
    VirtualClock,
)

from .conftest import Call

BODY = {
    "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
}


def stamp(moment: datetime) -> str:
    """The API's timestamp format."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def send_and_status(api: Call, emulator: Emulator) -> tuple[str, Any]:
    """Send BODY; return its wamid and a function fetching its status body."""
    message_id = (await api(emulator, "POST", SEND.path, json=BODY)).json()["message_id"]

    async def status() -> Any:
        path = MESSAGE_STATUS.format_path({"message_id": message_id})
        response = await api(emulator, "GET", path)
        assert response.status_code == 200
        return response.json()

    return message_id, status


@pytest.mark.anyio
async def test_a_message_is_delivered_then_read_as_the_clock_moves(
    api: Call, clock: VirtualClock
) -> None:
    """sent at once, delivered after the delivery delay, read after the read delay, with stamps."""
    life = MessageLifecycle(failure_share=0, read_share=1, delivered_after=2, read_after=10)
    emulator = Emulator(clock=clock, lifecycle=life)
    start = clock.now()
    message_id, status = await send_and_status(api, emulator)
    body = await status()
    assert body["delivery_status"] == {
        "current": "sent",
        "sent_at": stamp(start),
        "delivered_at": None,
        "read_at": None,
        "failed_at": None,
        "error_code": None,
        "error_message": None,
    }
    assert body["meta_message_id"] == message_id
    assert body["variables_used"] == BODY["variables"]
    assert body["template"] == {
        "id": 45,
        "name": "welcome_message",
        "language": "es",
        "category": "MARKETING",
    }
    assert body["recipient"] == {
        "phone": "+5491112345678",
        "contact_name": "Juan Perez",
        "contact_id": 789,
    }
    clock.advance(2)
    delivered = (await status())["delivery_status"]
    assert (delivered["current"], delivered["delivered_at"]) == ("delivered", stamp(clock.now()))
    assert delivered["read_at"] is None
    clock.advance(9)
    assert (await status())["delivery_status"]["current"] == "delivered"
    clock.advance(1)
    read = (await status())["delivery_status"]
    assert read["current"] == "read"
    assert read["read_at"] == stamp(start + timedelta(seconds=12))
    assert read["delivered_at"] == stamp(start + timedelta(seconds=2))


@pytest.mark.anyio
async def test_a_failing_message_reports_failed_with_meta_error(
    api: Call, clock: VirtualClock
) -> None:
    """With failure_share=1 the message fails after failed_after, with error code and message."""
    life = MessageLifecycle(failure_share=1, failed_after=3)
    emulator = Emulator(clock=clock, lifecycle=life)
    _, status = await send_and_status(api, emulator)
    assert (await status())["delivery_status"]["current"] == "sent"
    clock.advance(3)
    delivery = (await status())["delivery_status"]
    assert delivery["current"] == "failed"
    assert delivery["failed_at"] == stamp(clock.now())
    assert (delivery["error_code"], delivery["error_message"]) == (
        life.error_code,
        life.error_message,
    )
    assert delivery["delivered_at"] is None


@pytest.mark.anyio
async def test_fates_are_reproducible_by_seed(api: Call) -> None:
    """Two emulators with one seed draw the same fates; the shares shape the mix."""
    life = MessageLifecycle(failure_share=0.3, read_share=0.5)
    fates = []
    for _ in range(2):
        emulator = Emulator(clock=VirtualClock(), lifecycle=life, seed=11)
        for index in range(40):
            body = {**BODY, "recipient_phone": f"+54911{60000000 + index}"}
            await api(emulator, "POST", SEND.path, json=body)
        fates.append([(m.delivered_at, m.read_at, m.failed_at) for m in emulator.state.messages()])
    assert fates[0] == fates[1]
    failed = sum(1 for _, _, f in fates[0] if f is not None)
    assert 0 < failed < 40


@pytest.mark.anyio
async def test_an_unknown_wamid_answers_drf_404(api: Call) -> None:
    """A wamid the emulator never sent: 404 {"detail": "No encontrado."}."""
    path = MESSAGE_STATUS.format_path({"message_id": "wamid.unknown"})
    response = await api(Emulator(), "GET", path)
    assert response.status_code == 404
    assert response.json() == {"detail": "No encontrado."}


@pytest.mark.anyio
async def test_message_status_can_be_not_deployed(api: Call) -> None:
    """message_status_available=False: Django's HTML 404 page, even for a sent message."""
    emulator = Emulator(message_status_available=False)
    message_id = (await api(emulator, "POST", SEND.path, json=BODY)).json()["message_id"]
    response = await api(emulator, "GET", MESSAGE_STATUS.format_path({"message_id": message_id}))
    assert response.status_code == 404
    assert response.text == NOT_FOUND_HTML


@pytest.mark.anyio
async def test_reset_forgets_messages(api: Call) -> None:
    """After reset() a previously sent wamid is unknown."""
    emulator = Emulator()
    message_id = (await api(emulator, "POST", SEND.path, json=BODY)).json()["message_id"]
    emulator.reset()
    path = MESSAGE_STATUS.format_path({"message_id": message_id})
    assert (await api(emulator, "GET", path)).status_code == 404
