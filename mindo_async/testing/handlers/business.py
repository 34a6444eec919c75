"""``GET business-info/``, ``GET business-hours/`` and ``GET holidays/``: the company's profile.

Answered from ``EmulatorData`` as given (they are read-only in the API).
Holidays are filtered by the optional, inclusive ``from`` and ``to`` dates.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from ._common import Reply, Request, ok

if TYPE_CHECKING:
    from .._state import EmulatorState

#: django-filter's message for a date it cannot parse (the emulator's choice).
INVALID_DATE = "Enter a valid date."

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def info(_state: EmulatorState, request: Request) -> Reply:
    """The company profile (a JSON object)."""
    return ok(dict(request.data.business_info))


def hours(_state: EmulatorState, request: Request) -> Reply:
    """The branches with their schedules (a top-level array)."""
    return ok([dict(branch) for branch in request.data.business_hours])


def holidays(_state: EmulatorState, request: Request) -> Reply:
    """The holidays with ``from <= date <= to`` (a top-level array); 400 for a bad date."""
    bounds: dict[str, date | None] = {}
    errors: dict[str, list[str]] = {}
    for name in ("from", "to"):
        raw = request.query_value(name)
        bounds[name] = None
        if raw is None or raw == "":
            continue
        parsed = _parse_date(raw)
        if parsed is None:
            errors[name] = [INVALID_DATE]
        bounds[name] = parsed
    if errors:
        return Reply(400, errors, "bad_request")
    low, high = bounds["from"], bounds["to"]
    data = request.data
    return ok(
        [
            dict(holiday)
            for holiday in data.holidays
            if (low is None or data.holiday_date(holiday) >= low)
            and (high is None or data.holiday_date(holiday) <= high)
        ]
    )


def _parse_date(raw: str) -> date | None:
    if not _DATE.fullmatch(raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None
