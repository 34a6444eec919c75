"""The business-info, business-hours and holidays answers (camelCase)."""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from .._conversion import register_camel_case
from ._hooks import register_open_enum

__all__ = [
    "AttentionTarget",
    "Branch",
    "BranchType",
    "BusinessInfo",
    "CompanySize",
    "CompanyType",
    "Holiday",
    "HolidayBranch",
    "Schedule",
    "Weekday",
]


class CompanySize(str, enum.Enum):
    """Employees: MICRO 1-10, SMALL 11-50, MEDIUM 51-250, LARGE 251-1000, ENTERPRISE 1000+."""

    MICRO = "MICRO"
    SMALL = "SMALL"
    MEDIUM = "MEDIUM"
    LARGE = "LARGE"
    ENTERPRISE = "ENTERPRISE"

    def __str__(self) -> str:
        return self.value


class CompanyType(str, enum.Enum):
    """The documented company types; others are kept as str."""

    ECOMMERCE = "ECOMMERCE"
    CLINIC = "CLINIC"

    def __str__(self) -> str:
        return self.value


class BranchType(str, enum.Enum):
    """A physical branch or an online one."""

    PHYSICAL = "PHYSICAL"
    ONLINE = "ONLINE"

    def __str__(self) -> str:
        return self.value


class Weekday(str, enum.Enum):
    """A day of a recurring schedule."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    def __str__(self) -> str:
        return self.value


class AttentionTarget(str, enum.Enum):
    """Which service a holiday applies to."""

    VIRTUAL_ATTENTION = "VIRTUAL_ATTENTION"
    BRANCH = "BRANCH"
    ALL_BRANCHES = "ALL_BRANCHES"
    ALL = "ALL"

    def __str__(self) -> str:
        return self.value


for _enum in (CompanySize, CompanyType, BranchType, Weekday, AttentionTarget):
    register_open_enum(_enum)


@register_camel_case
@attrs.frozen(kw_only=True)
class BusinessInfo:
    """The company profile tied to the API key."""

    id: int
    name: str
    email: str = ""
    phone: str = ""
    website: str = ""
    address: str = ""
    description: str = ""
    #: IANA time zone, e.g. ``America/Argentina/Buenos_Aires``.
    timezone: str = ""
    company_size: CompanySize | str | None = None
    #: The API's Spanish label, e.g. ``11-50 empleados (Pequeña)``.
    company_size_display: str | None = None
    company_types: tuple[CompanyType | str, ...] = ()
    categories: tuple[str, ...] = ()


@register_camel_case
@attrs.frozen(kw_only=True)
class Schedule:
    """Opening hours: weekly on ``days``, or on one ``specific_date``."""

    id: int
    start_time: dt.time
    finish_at: dt.time
    days: tuple[Weekday | str, ...] = ()
    #: The API's Spanish label, e.g. ``"Lunes, Martes"``.
    days_display: str = ""
    is_active: bool = True
    description: str = ""
    #: ``None`` for a weekly schedule (the format is assumed to be ``YYYY-MM-DD``).
    specific_date: dt.date | None = None


@register_camel_case
@attrs.frozen(kw_only=True)
class Branch:
    """A branch and its fixed weekly hours (an item of the business-hours answer)."""

    branch_id: int
    branch_name: str
    branch_type: BranchType | str | None = None
    address: str = ""
    schedules: tuple[Schedule, ...] = ()


@register_camel_case
@attrs.frozen(kw_only=True)
class HolidayBranch:
    """A branch as a holiday describes it (``branchesDetail``)."""

    id: int
    name: str = ""
    company: int | None = None
    address: str = ""
    phone: str = ""
    branch_type: BranchType | str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@register_camel_case
@attrs.frozen(kw_only=True)
class Holiday:
    """A closure or reduced-hours day."""

    id: int
    name: str
    date: dt.date
    company: int | None = None
    description: str = ""
    #: Branch ids; empty means every branch.
    branches: tuple[int, ...] = ()
    branches_detail: tuple[HolidayBranch, ...] = ()
    attention_target: AttentionTarget | str | None = None
    #: True: reduced hours (``start_time``-``finish_at``) instead of a full closure.
    has_custom_hours: bool = False
    start_time: dt.time | None = None
    finish_at: dt.time | None = None
    is_active: bool = True
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def closed_all_day(self) -> bool:
        """Whether the day is a full closure (no reduced hours)."""
        return not self.has_custom_hours
