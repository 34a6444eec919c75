"""The virtual clock, and each number's quota of distinct recipients over a rolling 24 hours."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from mindo_async._endpoints import BUSINESS_ACCOUNTS, SEND
from mindo_async.testing import (
    Emulator,
    EmulatorData,
    PhoneNumber,
    SystemClock,
    Template,
    VirtualClock,
)

from .conftest import Call

SMALL = "555000111"


def small_emulator(clock: VirtualClock, tier: str = "TIER_50") -> Emulator:
    """An emulator whose only number has ``tier``, on ``clock``."""
    data = EmulatorData(
        phone_numbers=[PhoneNumber(SMALL, tier=tier)], templates=[Template("t", variables=())]
    )
    return Emulator(data, clock=clock)


def body(recipient: str) -> dict[str, Any]:
    """A valid send of template ``t`` from the small number to ``recipient``."""
    return {"phone_number_id": SMALL, "template_name": "t", "recipient_phone": recipient}


def recipient(index: int) -> str:
    """A distinct valid Argentine mobile number per index."""
    return f"+54911{50000000 + index}"


async def quota(api: Call, emulator: Emulator) -> dict[str, Any]:
    """The small number's quota object as business-accounts reports it."""
    answer = (await api(emulator, "GET", BUSINESS_ACCOUNTS.path)).json()
    (number,) = answer["businessAccounts"][0]["phoneNumbers"]
    result: dict[str, Any] = number["quota"]
    return result


def test_virtual_clock_moves_only_forward_and_only_when_told() -> None:
    """A VirtualClock stays put, advances by seconds or timedelta, and refuses going back."""
    start = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    clock = VirtualClock(start)
    assert clock.now() == start == clock.now()
    assert clock.advance(90) == start + timedelta(seconds=90)
    assert clock.advance(timedelta(hours=1)) == start + timedelta(seconds=3690)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(start)
    with pytest.raises(ValueError):
        VirtualClock(datetime(2026, 3, 1))
    assert SystemClock().now().tzinfo is not None


def test_advance_needs_a_virtual_clock() -> None:
    """Emulator.advance moves a VirtualClock and refuses the real clock."""
    clock = VirtualClock()
    start = clock.now()
    assert Emulator(clock=clock).advance(5) == start + timedelta(seconds=5)
    with pytest.raises(TypeError):
        Emulator().advance(5)


@pytest.mark.anyio
async def test_sent_at_reads_the_emulators_clock(api: Call, clock: VirtualClock) -> None:
    """The send answer's sent_at and the ledger's received_at are the virtual time."""
    emulator = small_emulator(clock)
    clock.advance(3600)
    response = await api(emulator, "POST", SEND.path, json=body(recipient(1)))
    assert response.json()["sent_at"] == clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert emulator.ledger.messages[0].received_at == clock.now()


@pytest.mark.anyio
async def test_a_new_recipient_beyond_the_quota_is_refused_with_400(
    api: Call, clock: VirtualClock
) -> None:
    """TIER_50: 50 distinct recipients pass, the 51st gets the quota_exceeded 400, not sent."""
    emulator = small_emulator(clock)
    for index in range(50):
        assert (
            await api(emulator, "POST", SEND.path, json=body(recipient(index)))
        ).status_code == 200
    response = await api(emulator, "POST", SEND.path, json=body(recipient(50)))
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": (
            "Límite diario de mensajes alcanzado para este número "
            "(TIER_50: 50 destinatarios únicos por 24 h)"
        ),
        "code": "quota_exceeded",
    }
    assert len(emulator.ledger.messages) == 50
    assert emulator.ledger.counts["quota_exceeded"] == 1
    assert await quota(api, emulator) == {
        "dailyLimit": 50,
        "uniqueNumbersSent24h": 50,
        "remaining": 0,
        "usagePercentage": 100.0,
        "canSend": False,
    }


@pytest.mark.anyio
async def test_a_recipient_already_counted_costs_nothing(api: Call, clock: VirtualClock) -> None:
    """At a full quota, sending again to a counted recipient (in any format) still succeeds."""
    emulator = small_emulator(clock)
    for index in range(50):
        await api(emulator, "POST", SEND.path, json=body(recipient(index)))
    again = recipient(7)
    for form in (again, again.lstrip("+")):
        assert (await api(emulator, "POST", SEND.path, json=body(form))).status_code == 200
    assert (await quota(api, emulator))["uniqueNumbersSent24h"] == 50


@pytest.mark.anyio
async def test_the_window_rolls_over_24_hours(api: Call, clock: VirtualClock) -> None:
    """Recipients leave the count 24 h after their last send, not at a daily reset."""
    emulator = small_emulator(clock, "TIER_250")
    for index in range(10):
        await api(emulator, "POST", SEND.path, json=body(recipient(index)))
    clock.advance(timedelta(hours=12))
    for index in range(10, 15):
        await api(emulator, "POST", SEND.path, json=body(recipient(index)))
    await api(emulator, "POST", SEND.path, json=body(recipient(0)))  # refreshed at +12 h
    assert (await quota(api, emulator))["uniqueNumbersSent24h"] == 15
    clock.advance(timedelta(hours=12))
    current = await quota(api, emulator)
    assert current["uniqueNumbersSent24h"] == 6  # recipient 0 and the five sent at +12 h
    assert current["remaining"] == 244
    assert current["usagePercentage"] == pytest.approx(6 / 250 * 100)
    clock.advance(timedelta(hours=12))
    assert (await quota(api, emulator))["uniqueNumbersSent24h"] == 0


@pytest.mark.anyio
async def test_the_quota_frees_up_when_the_window_rolls(api: Call, clock: VirtualClock) -> None:
    """A number refused at its limit can send to a new recipient 24 h later."""
    emulator = small_emulator(clock)
    for index in range(50):
        await api(emulator, "POST", SEND.path, json=body(recipient(index)))
    assert (await api(emulator, "POST", SEND.path, json=body(recipient(99)))).status_code == 400
    clock.advance(timedelta(hours=24))
    assert (await api(emulator, "POST", SEND.path, json=body(recipient(99)))).status_code == 200


@pytest.mark.anyio
async def test_unlimited_tier_never_refuses_and_reports_null_limits(
    api: Call, clock: VirtualClock
) -> None:
    """TIER_UNLIMITED: no refusal; dailyLimit and remaining are null, canSend true."""
    emulator = small_emulator(clock, "TIER_UNLIMITED")
    await api(emulator, "POST", SEND.path, json=body(recipient(1)))
    assert await quota(api, emulator) == {
        "dailyLimit": None,
        "uniqueNumbersSent24h": 1,
        "remaining": None,
        "usagePercentage": 0.0,
        "canSend": True,
    }
