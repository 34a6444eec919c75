# GENERATED from mindo_async/resources/business.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""``mindo.business``: company profile, opening hours and holidays."""

from __future__ import annotations

from datetime import date, datetime

from mindo_async._endpoints import BUSINESS_HOURS, BUSINESS_INFO, HOLIDAYS
from mindo_async._errors import InvalidRequestError
from mindo_async._sync.resources._base import SyncAPIResource
from mindo_async._sync.resources._parse import structure
from mindo_async.types.business import Branch, BusinessInfo, Holiday


def _as_date(value: date | str | None, name: str, errors: dict[str, list[str]]) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        errors.setdefault(name, []).append("must be a date, not a datetime")
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    errors.setdefault(name, []).append(f"must be a date or 'YYYY-MM-DD', not {value!r}")
    return None


class SyncBusiness(SyncAPIResource):
    """``GET /business-info/``, ``/business-hours/`` and ``/holidays/``."""

    def info(self) -> BusinessInfo:
        """The company profile tied to the API key."""
        body = self._get(BUSINESS_INFO)
        return structure(body, BusinessInfo, BUSINESS_INFO)  # type: ignore[no-any-return]

    def hours(self) -> list[Branch]:
        """The fixed weekly hours, one ``Branch`` per branch (closures are in ``holidays``)."""
        body = self._get(BUSINESS_HOURS)
        return structure(body, list[Branch], BUSINESS_HOURS)  # type: ignore[no-any-return]

    def holidays(
        self, *, start: date | str | None = None, end: date | str | None = None
    ) -> list[Holiday]:
        """Closures and reduced-hours days, ``start`` to ``end`` inclusive (both optional).

        Sent as the query's ``from`` and ``to`` (``YYYY-MM-DD``).
        """
        errors: dict[str, list[str]] = {}
        first = _as_date(start, "start", errors)
        last = _as_date(end, "end", errors)
        if first is not None and last is not None and first > last:
            errors.setdefault("end", []).append(f"must not be before start ({first})")
        if errors:
            raise InvalidRequestError(errors)
        body = self._get(
            HOLIDAYS,
            params={
                "from": first.isoformat() if first else None,
                "to": last.isoformat() if last else None,
            },
        )
        return structure(body, list[Holiday], HOLIDAYS)  # type: ignore[no-any-return]
