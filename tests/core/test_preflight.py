"""The pre-flight's pure logic: a campaign checked against the account, with no I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mindo_async import (
    BusinessAccounts,
    MessagingTier,
    PreflightReport,
    ProblemCode,
    SendRequest,
)
from mindo_async._conversion import converter
from mindo_async._preflight import check_campaign, check_campaign_async

BIG = "813497231850626"
SMALL = "900000000000001"
BLOCKED = "900000000000002"


def _number(pid: str, tier: str, limit: int, used: int, *, can_send: bool = True) -> dict[str, Any]:
    return {
        "id": int(pid[-3:]),
        "phoneNumberId": pid,
        "displayPhoneNumber": "+54 9 223 000-0000",
        "verifiedName": "Test",
        "isPrimary": pid == BIG,
        "messagingLimitTier": tier,
        "quota": {
            "dailyLimit": limit,
            "uniqueNumbersSent24h": used,
            "remaining": limit - used,
            "usagePercentage": used / limit * 100,
            "canSend": can_send,
        },
    }


TEMPLATES = [
    {
        "name": "welcome_message",
        "language": "es",
        "category": "MARKETING",
        "variables": [
            {
                "name": "customer_name",
                "type": "TEXT",
                "position": 1,
                "isRequired": True,
                "component": "BODY",
            },
            {
                "name": "nickname",
                "type": "TEXT",
                "position": 2,
                "isRequired": False,
                "component": "BODY",
            },
        ],
    },
    {
        "name": "welcome_message",
        "language": "pt_BR",
        "category": "MARKETING",
        "variables": [
            {
                "name": "customer_name",
                "type": "TEXT",
                "position": 1,
                "isRequired": True,
                "component": "BODY",
            }
        ],
    },
    {
        "name": "promo",
        "language": "es",
        "category": "MARKETING",
        "variables": [
            {
                "name": "banner",
                "type": "IMAGE",
                "position": 1,
                "isRequired": True,
                "component": "HEADER",
            },
            {
                "name": "price",
                "type": "CURRENCY",
                "position": 1,
                "isRequired": True,
                "component": "BODY",
            },
        ],
    },
]


def accounts() -> BusinessAccounts:
    """An account: a large number, a nearly exhausted TIER_50 one, one that cannot send."""
    return converter.structure(
        {
            "companyName": "Test SRL",
            "apiKeyName": "test",
            "businessAccounts": [
                {
                    "businessAccountId": 1,
                    "businessName": "Main",
                    "phoneNumbers": [
                        _number(BIG, "TIER_1000", 1000, 0),
                        _number(SMALL, "TIER_50", 50, 47),
                        _number(BLOCKED, "TIER_250", 250, 250, can_send=False),
                    ],
                    "templates": TEMPLATES,
                }
            ],
        },
        BusinessAccounts,
    )


def welcome(phone: str, number: str = BIG, **variables: str) -> SendRequest:
    return SendRequest(
        phone_number_id=number,
        template_name="welcome_message",
        recipient_phone=phone,
        variables=variables or {"customer_name": "Ana"},
    )


def test_clean_campaign_is_ok_with_counts() -> None:
    """A campaign that fits its templates and quota has no problem, and the report counts it."""
    requests = [welcome(f"+54911000000{i:02d}") for i in range(20)]
    requests.append(welcome("+5491100000000"))  # a repeat recipient
    report = check_campaign(accounts(), requests)
    assert report.ok
    assert report.problems == ()
    assert report.requests == 21
    assert report.invalid_requests == 0
    (number,) = report.numbers
    assert (number.requests, number.recipients, number.remaining) == (21, 20, 1000)
    assert number.would_fail == 0
    assert number.tier is MessagingTier.TIER_1000


def test_unknown_template_and_unknown_language_name_what_exists() -> None:
    """Unknown template: names the templates; missing language: names the languages."""
    requests = [
        SendRequest(phone_number_id=BIG, template_name="nope", recipient_phone="+5491100000001"),
        SendRequest(
            phone_number_id=BIG,
            template_name="welcome_message",
            language="en",
            recipient_phone="+5491100000002",
            variables={"customer_name": "Ana"},
        ),
    ]
    report = check_campaign(accounts(), requests)
    unknown, language = report.problems
    assert (unknown.code, unknown.index) == (ProblemCode.UNKNOWN_TEMPLATE, 0)
    assert "welcome_message" in unknown.message
    assert "promo" in unknown.message
    assert (language.code, language.index) == (ProblemCode.UNKNOWN_LANGUAGE, 1)
    assert "es" in language.message
    assert "pt_BR" in language.message
    assert report.invalid_indexes == frozenset({0, 1})


def test_missing_required_and_unknown_variables_are_reported_by_index() -> None:
    """A missing required variable and an unknown variable are problems of that request."""
    requests = [
        welcome("+5491100000001"),
        welcome("+5491100000002", nickname="A"),  # required customer_name missing
        welcome("+5491100000003", customer_name="B", code="X"),  # unknown 'code'
    ]
    report = check_campaign(accounts(), requests)
    assert [(p.code, p.index, p.variable) for p in report.problems] == [
        (ProblemCode.MISSING_VARIABLE, 1, "customer_name"),
        (ProblemCode.UNKNOWN_VARIABLE, 2, "code"),
    ]
    assert "customer_name" in report.problems[1].message
    assert report.invalid_requests == 2
    assert report.problems_for(0) == ()


def test_media_variables_must_be_https_urls_and_text_is_not_second_guessed() -> None:
    """IMAGE values must be https:// URLs; a CURRENCY value in any form passes."""

    def promo(banner: str, phone: str) -> SendRequest:
        return SendRequest(
            phone_number_id=BIG,
            template_name="promo",
            recipient_phone=phone,
            variables={"banner": banner, "price": "no es un precio"},
        )

    report = check_campaign(
        accounts(),
        [
            promo("https://cdn.example.com/a.png", "+5491100000001"),
            promo("http://cdn.example.com/a.png", "+5491100000002"),
            promo("cdn.example.com/a.png", "+5491100000003"),
        ],
    )
    assert [(p.code, p.index, p.variable) for p in report.problems] == [
        (ProblemCode.INVALID_VALUE, 1, "banner"),
        (ProblemCode.INVALID_VALUE, 2, "banner"),
    ]
    assert "https://" in report.problems[0].message


def test_unknown_number_names_the_numbers_that_exist() -> None:
    """A phone_number_id the account lacks is one number problem naming the existing ids."""
    report = check_campaign(
        accounts(), [welcome("+5491100000001", "123"), welcome("+5491100000002", "123")]
    )
    (problem,) = report.problems
    assert problem.code is ProblemCode.UNKNOWN_NUMBER
    assert problem.index is None
    assert problem.phone_number_id == "123"
    assert BIG in problem.message
    assert SMALL in problem.message
    assert report.blocked_numbers() == frozenset({"123"})
    assert report.number("123").would_fail == 2


def test_number_that_cannot_send_is_reported() -> None:
    """can_send false is a problem of that number; all its recipients would fail."""
    report = check_campaign(accounts(), [welcome("+5491100000001", BLOCKED)])
    (problem,) = report.problems
    assert problem.code is ProblemCode.CANNOT_SEND
    assert report.number(BLOCKED).would_fail == 1
    assert report.blocked_numbers() == frozenset({BLOCKED})


def test_quota_shortfall_counts_distinct_recipients_and_says_what_fits() -> None:
    """5 distinct recipients (one repeated), 3 left: 2 would fail, 3 fit; tier and pace named."""
    phones = [
        "+5491100000001",
        "+5491100000001",
        "+5491100000002",
        "+5491100000003",
        "+5491100000004",
        "+5491100000005",
    ]
    report = check_campaign(accounts(), [welcome(p, SMALL) for p in phones])
    (problem,) = report.problems
    assert problem.code is ProblemCode.QUOTA_EXCEEDED
    check = report.number(SMALL)
    assert (check.requests, check.recipients, check.remaining) == (6, 5, 3)
    assert (check.would_fail, check.fits_today) == (2, 3)
    assert check.tier is MessagingTier.TIER_50
    assert "TIER_50" in problem.message
    assert "2 would fail" in problem.message
    assert "3 fit today" in problem.message
    assert "1.2 s between messages" in problem.message
    assert report.would_fail == 2
    assert not report.ok
    # A quota problem is a number's, not a request's.
    assert report.invalid_indexes == frozenset()


def test_malformed_request_is_an_invalid_request_problem() -> None:
    """A request send() would refuse before any I/O is reported, by field."""
    report = check_campaign(accounts(), [welcome("not a phone")])
    (problem,) = report.problems
    assert problem.code is ProblemCode.INVALID_REQUEST
    assert problem.message.startswith("recipient_phone")


def test_campaign_with_every_kind_of_problem() -> None:
    """A campaign with every kind of problem lists them all, request problems first."""
    requests = [
        welcome("+5491100000001"),
        SendRequest(phone_number_id=BIG, template_name="nope", recipient_phone="+5491100000002"),
        welcome("+5491100000003", nickname="x"),
        welcome("+5491100000004", customer_name="x", extra="y"),
        welcome("+5491100000005", "42"),
        welcome("+5491100000006", BLOCKED),
        *[welcome(f"+54911000001{i:02d}", SMALL) for i in range(4)],
    ]
    report = check_campaign(accounts(), requests)
    assert [p.code for p in report.problems] == [
        ProblemCode.UNKNOWN_TEMPLATE,
        ProblemCode.MISSING_VARIABLE,
        ProblemCode.UNKNOWN_VARIABLE,
        ProblemCode.UNKNOWN_NUMBER,
        ProblemCode.CANNOT_SEND,
        ProblemCode.QUOTA_EXCEEDED,
    ]
    assert [p.code for p in report.request_problems] == [
        ProblemCode.UNKNOWN_TEMPLATE,
        ProblemCode.MISSING_VARIABLE,
        ProblemCode.UNKNOWN_VARIABLE,
    ]
    assert len(report.number_problems) == 3
    assert report.requests == 10
    assert report.invalid_requests == 3


async def _agen(requests: list[SendRequest]) -> AsyncIterator[SendRequest]:
    for request in requests:
        yield request


@pytest.mark.anyio
async def test_async_iterable_input_is_checked_like_a_list() -> None:
    """An async iterable gives the same report as the list it yields."""
    requests = [welcome("+5491100000001"), welcome("+5491100000002", nickname="x")]
    from_list: PreflightReport = check_campaign(accounts(), requests)
    from_async = await check_campaign_async(accounts(), _agen(requests))
    assert from_async == from_list
    assert from_async.invalid_requests == 1


def test_validate_false_skips_the_request_checks_but_not_the_account_checks() -> None:
    """PreflightChecker(validate=False) trusts pre-validated input: no INVALID_REQUEST, the rest."""
    from mindo_async._preflight import PreflightChecker

    checker = PreflightChecker(accounts(), validate=False)
    checker.check(0, welcome("not a phone"))
    checker.check(1, welcome("+5491100000002", code="x", customer_name="A"))
    report = checker.report()
    assert [(p.code, p.index) for p in report.problems] == [(ProblemCode.UNKNOWN_VARIABLE, 1)]
