"""The pre-flight: a campaign checked against the account before anything is sent.

Pure logic, no I/O: ``PreflightChecker`` takes the ``BusinessAccounts`` answer
and is fed the campaign's requests one at a time, so the input is read once
and memory follows the number of distinct recipients (a 64-bit hash each, per
number) and the number of problems found, not the number of requests.
``AsyncMindo.preflight`` fetches the account and drives it.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

import anyio.lowlevel
import attrs

from ._dedupe import DigestSet
from ._errors import UnknownTemplateError
from ._models import SendRequest
from ._validation import phone_to_e164, request_problems
from .types.business_accounts import (
    AccountPhoneNumber,
    BusinessAccounts,
    MessagingTier,
    Template,
    VariableType,
)

__all__ = [
    "NumberCheck",
    "PreflightChecker",
    "PreflightProblem",
    "PreflightReport",
    "ProblemCode",
    "check_campaign",
    "check_campaign_async",
]


class ProblemCode(str, enum.Enum):
    """What kind of problem the pre-flight found."""

    #: The request itself is malformed (the checks ``send`` makes before any I/O).
    INVALID_REQUEST = "invalid_request"
    #: No template of that name for the number's business account.
    UNKNOWN_TEMPLATE = "unknown_template"
    #: The template exists, but not in that language.
    UNKNOWN_LANGUAGE = "unknown_language"
    #: A required variable of the template is not given.
    MISSING_VARIABLE = "missing_variable"
    #: A variable the template does not have.
    UNKNOWN_VARIABLE = "unknown_variable"
    #: A value that cannot be of its variable's type (media must be ``https://`` URLs).
    INVALID_VALUE = "invalid_value"
    #: Per number: the phone_number_id is not one of the account's.
    UNKNOWN_NUMBER = "unknown_number"
    #: Per number: the account reports ``can_send`` false.
    CANNOT_SEND = "cannot_send"
    #: Per number: more distinct recipients than the quota has left.
    QUOTA_EXCEEDED = "quota_exceeded"

    def __str__(self) -> str:
        return self.value


#: The codes that concern a phone number rather than one request.
NUMBER_CODES = frozenset(
    {ProblemCode.UNKNOWN_NUMBER, ProblemCode.CANNOT_SEND, ProblemCode.QUOTA_EXCEEDED}
)


@attrs.frozen(kw_only=True)
class PreflightProblem:
    """One problem: what (``code``), where (``index`` or ``phone_number_id``), and why."""

    code: ProblemCode
    #: A sentence for people.
    message: str
    #: The request's position in the input (from 0); ``None`` for a number's problem.
    index: int | None = None
    #: The number concerned (every problem has one, when the request gave it).
    phone_number_id: str | None = None
    #: The template variable concerned, for variable problems.
    variable: str | None = None

    @property
    def is_number_problem(self) -> bool:
        """Whether the problem concerns a phone number (every request sent from it)."""
        return self.code in NUMBER_CODES


@attrs.frozen(kw_only=True)
class NumberCheck:
    """What the campaign asks of one phone number, against its quota."""

    phone_number_id: str
    #: Whether the account has this number.
    known: bool
    #: Requests of the campaign sent from this number.
    requests: int
    #: Distinct recipients of those requests that have no problem of their own
    #: (what Meta's quota counts).
    recipients: int
    tier: MessagingTier | str | None = None
    daily_limit: int | None = None
    #: Distinct recipients the quota has left today; ``None`` when unlimited or unknown.
    remaining: int | None = None
    can_send: bool = True

    @property
    def would_fail(self) -> int:
        """Recipients beyond the quota: how many sends would fail if the campaign ran now.

        An upper bound: a recipient already reached in the last 24 hours does not
        use the quota again, and the account's answer does not say who they are.
        """
        if not self.known:
            return self.recipients
        if not self.can_send:
            return self.recipients
        if self.remaining is None:
            return 0
        return max(0, self.recipients - self.remaining)

    @property
    def fits_today(self) -> int:
        """How many of the campaign's recipients the quota admits now."""
        return self.recipients - self.would_fail

    @property
    def pace(self) -> str | None:
        """The tier's documented pacing, in words; ``None`` for an unknown tier."""
        return self.tier.pace if isinstance(self.tier, MessagingTier) else None

    @property
    def estimated_seconds(self) -> float | None:
        """The campaign's duration on this number at the tier's documented pace."""
        if not isinstance(self.tier, MessagingTier):
            return None
        return self.fits_today * self.tier.pace_seconds


@attrs.frozen(kw_only=True)
class PreflightReport:
    """The pre-flight's findings: ``ok`` when nothing is wrong; nothing was sent."""

    #: Every problem, request problems in input order, then number problems.
    problems: tuple[PreflightProblem, ...]
    #: One entry per phone number the campaign uses, in order of first use.
    numbers: tuple[NumberCheck, ...]
    #: How many requests were checked.
    requests: int
    #: How many requests have at least one problem of their own.
    invalid_requests: int

    @property
    def ok(self) -> bool:
        """Whether the campaign has no problem at all."""
        return not self.problems

    @property
    def request_problems(self) -> tuple[PreflightProblem, ...]:
        """The problems of single requests (each has an ``index``)."""
        return tuple(p for p in self.problems if not p.is_number_problem)

    @property
    def number_problems(self) -> tuple[PreflightProblem, ...]:
        """The problems of phone numbers (unknown, cannot send, quota)."""
        return tuple(p for p in self.problems if p.is_number_problem)

    @property
    def invalid_indexes(self) -> frozenset[int]:
        """The input positions of the requests with a problem of their own."""
        return frozenset(p.index for p in self.problems if p.index is not None)

    @property
    def recipients(self) -> int:
        """Distinct recipients per number, summed over the numbers."""
        return sum(number.recipients for number in self.numbers)

    @property
    def would_fail(self) -> int:
        """Recipients the numbers' quotas (or missing numbers) would refuse now."""
        return sum(number.would_fail for number in self.numbers)

    def number(self, phone_number_id: str) -> NumberCheck:
        """The check of ``phone_number_id``; ``KeyError`` when the campaign does not use it."""
        for number in self.numbers:
            if number.phone_number_id == phone_number_id:
                return number
        raise KeyError(phone_number_id)

    def blocked_numbers(self) -> frozenset[str]:
        """Numbers that cannot send at all (unknown, or ``can_send`` false)."""
        return frozenset(
            p.phone_number_id
            for p in self.problems
            if p.code in (ProblemCode.UNKNOWN_NUMBER, ProblemCode.CANNOT_SEND)
            and p.phone_number_id is not None
        )

    def problems_for(self, index: int) -> tuple[PreflightProblem, ...]:
        """The problems of the request at ``index``."""
        return tuple(p for p in self.problems if p.index == index)


class _NumberTally:
    __slots__ = ("number", "recipients", "requests")

    def __init__(self, number: AccountPhoneNumber | None) -> None:
        self.number = number
        self.requests = 0
        self.recipients = DigestSet()


def recipient_key(phone: Any) -> int:
    # The same recipient written with or without spaces, dashes or the +.
    text = "".join(ch for ch in str(phone) if ch.isdigit())
    return hash(text) & 0xFFFF_FFFF_FFFF_FFFF


def _is_https_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    return text[:8].lower() == "https://" and len(text) > 8


class PreflightChecker:
    """Checks requests one at a time against ``accounts``; ``report()`` sums them up.

    ``validate=False`` skips the checks ``send`` makes before any I/O (phone
    numbers, name shapes), for requests already validated (``mindo bulk``'s
    rows): they are most of the cost, libphonenumber's above all.

    ``default_region``: read ``recipient_phone`` as the client will send it
    (national forms of that region become E.164), so a request is checked
    exactly as it will be sent.
    """

    def __init__(
        self,
        accounts: BusinessAccounts,
        *,
        validate: bool = True,
        default_region: str | None = None,
    ) -> None:
        self.accounts = accounts
        self._validate = validate
        self._region = default_region
        self._problems: list[PreflightProblem] = []
        self._numbers: dict[str, _NumberTally] = {}
        self._templates: dict[tuple[str, str, str], Template | UnknownTemplateError] = {}
        self._requests = 0
        self._invalid = 0

    def _tally(self, phone_number_id: str) -> _NumberTally:
        tally = self._numbers.get(phone_number_id)
        if tally is None:
            number: AccountPhoneNumber | None
            try:
                number = self.accounts.phone_number(phone_number_id)
            except KeyError:
                number = None
            tally = self._numbers[phone_number_id] = _NumberTally(number)
        return tally

    def _template(self, request: SendRequest) -> Template | UnknownTemplateError:
        key = (request.phone_number_id, request.template_name, request.language)
        found = self._templates.get(key)
        if found is None:
            try:
                found = self.accounts.template(
                    request.template_name,
                    language=request.language,
                    phone_number_id=request.phone_number_id,
                )
            except UnknownTemplateError as exc:
                found = exc
            self._templates[key] = found
        return found

    def check(self, index: int, request: SendRequest) -> tuple[PreflightProblem, ...]:
        """Check the request at input position ``index``; return its own problems."""
        self._requests += 1
        found: list[PreflightProblem] = []
        number_id = request.phone_number_id if isinstance(request.phone_number_id, str) else None

        def add(code: ProblemCode, message: str, variable: str | None = None) -> None:
            found.append(
                PreflightProblem(
                    code=code,
                    message=message,
                    index=index,
                    phone_number_id=number_id,
                    variable=variable,
                )
            )

        invalid = request_problems(request, self._region) if self._validate else {}
        for field, messages in invalid.items():
            add(ProblemCode.INVALID_REQUEST, f"{field}: {'; '.join(messages)}")
        if number_id is not None:
            tally = self._tally(number_id)
            tally.requests += 1
            # A malformed name or language is reported once, as an invalid request.
            if tally.number is not None and not invalid.keys() & {"template_name", "language"}:
                self._check_template(request, add)
            if not found:
                # Only a request that can be sent uses the quota.
                tally.recipients.add(recipient_key(self._sent_phone(request.recipient_phone)))
        if found:
            self._invalid += 1
            self._problems.extend(found)
        return tuple(found)

    def _sent_phone(self, phone: Any) -> Any:
        """``phone`` as it will be sent: its E.164 form when a region reads it."""
        if self._region is None:
            return phone
        e164, _ = phone_to_e164(phone, self._region)
        return e164 if e164 is not None else phone

    def _check_template(self, request: SendRequest, add: Any) -> None:
        template = self._template(request)
        if isinstance(template, UnknownTemplateError):
            code = (
                ProblemCode.UNKNOWN_LANGUAGE if template.languages else ProblemCode.UNKNOWN_TEMPLATE
            )
            add(code, template.message)
            return
        variables: object = request.variables
        if variables is None:
            given: Mapping[Any, Any] = {}
        elif isinstance(variables, Mapping):
            given = variables
        else:
            return  # already reported as an invalid request
        for variable in template.variables:
            if variable.is_required and variable.name not in given:
                add(
                    ProblemCode.MISSING_VARIABLE,
                    f"template {template.name!r} ({template.language}) needs variable "
                    f"{variable.name!r} ({variable.type})",
                    variable.name,
                )
        for name, value in given.items():
            known = template.variable(name) if isinstance(name, str) else None
            if known is None:
                names = ", ".join(v.name for v in template.variables) or "none"
                add(
                    ProblemCode.UNKNOWN_VARIABLE,
                    f"template {template.name!r} ({template.language}) has no variable "
                    f"{name!r}; its variables: {names}",
                    str(name),
                )
            elif (
                isinstance(known.type, VariableType)
                and known.type.is_media
                and not _is_https_url(value)
            ):
                add(
                    ProblemCode.INVALID_VALUE,
                    f"variable {name!r} is {known.type}: its value must be an "
                    f"https:// URL, not {str(value)[:40]!r}",
                    name,
                )

    def report(self) -> PreflightReport:
        """The findings so far (call it once the input is read)."""
        number_problems: list[PreflightProblem] = []
        checks: list[NumberCheck] = []
        known = ", ".join(self.accounts.phone_number_ids) or "none"
        for number_id, tally in self._numbers.items():
            number = tally.number
            quota = number.quota if number is not None else None
            check = NumberCheck(
                phone_number_id=number_id,
                known=number is not None,
                requests=tally.requests,
                recipients=len(tally.recipients),
                tier=number.messaging_limit_tier if number is not None else None,
                daily_limit=quota.daily_limit if quota is not None else None,
                remaining=quota.remaining if quota is not None else None,
                can_send=quota.can_send if quota is not None else True,
            )
            checks.append(check)
            if number is None:
                number_problems.append(
                    PreflightProblem(
                        code=ProblemCode.UNKNOWN_NUMBER,
                        message=f"phone_number_id {number_id} is not one of the account's "
                        f"numbers ({known}); its {tally.requests} request(s) would fail",
                        phone_number_id=number_id,
                    )
                )
            elif not check.can_send:
                number_problems.append(
                    PreflightProblem(
                        code=ProblemCode.CANNOT_SEND,
                        message=f"phone number {number_id} cannot send now (the account "
                        f"reports can_send false; tier {check.tier}); "
                        f"{check.recipients} recipient(s) would fail",
                        phone_number_id=number_id,
                    )
                )
            elif check.would_fail:
                pace = f"; the tier's pace is {check.pace}" if check.pace else ""
                number_problems.append(
                    PreflightProblem(
                        code=ProblemCode.QUOTA_EXCEEDED,
                        message=f"phone number {number_id} ({check.tier}, daily limit "
                        f"{check.daily_limit}) has {check.remaining} recipient(s) left in its "
                        f"24-hour quota; the campaign has {check.recipients}: "
                        f"{check.would_fail} would fail if it ran now, "
                        f"{check.fits_today} fit today{pace}",
                        phone_number_id=number_id,
                    )
                )
        return PreflightReport(
            problems=tuple(self._problems) + tuple(number_problems),
            numbers=tuple(checks),
            requests=self._requests,
            invalid_requests=self._invalid,
        )


def check_campaign(
    accounts: BusinessAccounts,
    requests: Iterable[SendRequest],
    *,
    default_region: str | None = None,
) -> PreflightReport:
    """Check every request of ``requests`` (read once) against ``accounts``.

    ``default_region``: the client's, so national numbers are checked as sent.
    """
    checker = PreflightChecker(accounts, default_region=default_region)
    for index, request in enumerate(requests):
        checker.check(index, request)
    return checker.report()


async def check_campaign_async(
    accounts: BusinessAccounts,
    requests: Iterable[SendRequest] | AsyncIterable[SendRequest],
    *,
    default_region: str | None = None,
) -> PreflightReport:
    """``check_campaign`` for an iterable or an async iterable.

    It yields to the event loop every few thousand requests, so a large list
    does not stall other tasks.
    """
    checker = PreflightChecker(accounts, default_region=default_region)
    if isinstance(requests, AsyncIterable):
        index = 0
        async for request in requests:
            checker.check(index, request)
            index += 1
    else:
        for index, request in enumerate(requests):
            checker.check(index, request)
            if index % 4096 == 4095:
                await anyio.lowlevel.checkpoint()
    return checker.report()
