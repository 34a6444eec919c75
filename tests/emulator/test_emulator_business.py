"""business-info, business-hours and holidays (inclusive date filter) from the data."""

from __future__ import annotations

from typing import Any

import pytest

from mindo_async._endpoints import BUSINESS_HOURS, BUSINESS_INFO, HOLIDAYS
from mindo_async.testing import Emulator, EmulatorData

from .conftest import Call


def holiday(id: int, day: str) -> dict[str, Any]:
    """A minimal holiday on ``day``."""
    return {"id": id, "name": f"h{id}", "date": day}


HOLIDAYS_DATA = [holiday(1, "2026-01-01"), holiday(2, "2026-05-25"), holiday(3, "2026-12-31")]


@pytest.mark.anyio
async def test_info_and_hours_answer_the_data(api: Call) -> None:
    """business-info is the data's object, business-hours its top-level array."""
    emulator = Emulator()
    info = await api(emulator, "GET", BUSINESS_INFO.path)
    assert info.json() == dict(emulator.data.business_info)
    hours = (await api(emulator, "GET", BUSINESS_HOURS.path)).json()
    assert isinstance(hours, list)
    assert hours == [dict(branch) for branch in emulator.data.business_hours]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({}, [1, 2, 3]),
        ({"from": "2026-05-25"}, [2, 3]),
        ({"to": "2026-05-25"}, [1, 2]),
        ({"from": "2026-05-25", "to": "2026-05-25"}, [2]),
        ({"from": "2026-01-02", "to": "2026-12-30"}, [2]),
        ({"from": "2026-12-31", "to": "2026-01-01"}, []),
        ({"from": "", "to": ""}, [1, 2, 3]),
    ],
)
async def test_holidays_filter_by_inclusive_bounds(
    api: Call, params: dict[str, str], ids: list[int]
) -> None:
    """from and to are both inclusive and optional; the answer is a top-level array."""
    emulator = Emulator(EmulatorData(holidays=HOLIDAYS_DATA))
    response = await api(emulator, "GET", HOLIDAYS.path, params=params)
    assert response.status_code == 200
    assert [h["id"] for h in response.json()] == ids


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"from": "2026-13-01"}, {"from": ["Enter a valid date."]}),
        ({"to": "01/02/2026"}, {"to": ["Enter a valid date."]}),
        (
            {"from": "20260101", "to": "x"},
            {"from": ["Enter a valid date."], "to": ["Enter a valid date."]},
        ),
    ],
)
async def test_invalid_dates_answer_400(
    api: Call, params: dict[str, str], errors: dict[str, list[str]]
) -> None:
    """A date that is not a real YYYY-MM-DD answers 400 with a DRF-style field error."""
    response = await api(Emulator(), "GET", HOLIDAYS.path, params=params)
    assert response.status_code == 400
    assert response.json() == errors


def test_holidays_need_a_date() -> None:
    """Holiday data without a valid ``date`` is refused when the data is built."""
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        EmulatorData(holidays=[{"id": 1, "name": "x"}])
