"""The account-area resources and the pre-flight against the emulator (in-process, ASGI)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from mindo_async import (
    AsyncMindo,
    AuthenticationError,
    EndpointNotAvailableError,
    MessageStatus,
    MessagingTier,
    NotFoundError,
    Outcome,
    PermissionDeniedError,
    ProblemCode,
    QuotaExceededError,
    SendRequest,
    VariableType,
)
from mindo_async.testing import (
    DEFAULT_API_KEY,
    DEFAULT_PHONE_NUMBER_ID,
    Emulator,
    EmulatorData,
    MessageLifecycle,
    PhoneNumber,
    Template,
    Variable,
    VirtualClock,
)

pytestmark = pytest.mark.anyio

SMALL = "111"
READER_KEY = "mindo_" + "r" * 24
OLD_KEY = "mindo_" + "o" * 24


def small_account() -> EmulatorData:
    """A TIER_50 number with a template that takes an image, and two extra keys."""
    return EmulatorData(
        api_keys=[DEFAULT_API_KEY, READER_KEY, OLD_KEY],
        phone_numbers=[PhoneNumber(SMALL, tier="TIER_50", is_primary=True)],
        templates=[
            Template(
                "receipt",
                category="UTILITY",
                variables=[
                    "name",
                    Variable("total", type="CURRENCY"),
                    Variable("banner", type="IMAGE", required=False, component="HEADER"),
                ],
            )
        ],
        api_key_scopes={READER_KEY: ["business.info"]},
        expired_api_keys=[OLD_KEY],
    )


def client(emulator: Emulator, api_key: str = DEFAULT_API_KEY) -> AsyncMindo:
    """A client wired to ``emulator`` through httpx's ASGI transport."""
    return AsyncMindo(
        api_key=api_key,
        base_url="http://127.0.0.1",
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator)),
        rate_limit=None,
        max_retries=0,
    )


def receipt(i: int, **variables: str) -> SendRequest:
    return SendRequest(
        phone_number_id=SMALL,
        template_name="receipt",
        recipient_phone=f"+54911{70000000 + i}",
        variables=variables or {"name": f"User {i}", "total": "$10"},
    )


async def test_business_accounts_reports_the_emulator_numbers_and_typed_templates() -> None:
    """The emulator's account parses: tier, quota, templates with typed variables."""
    async with client(Emulator(small_account())) as mindo:
        accounts = await mindo.business_accounts.get()
    number = accounts.phone_number(SMALL)
    assert number.messaging_limit_tier is MessagingTier.TIER_50
    assert number.quota is not None
    assert (number.quota.daily_limit, number.quota.remaining) == (50, 50)
    template = accounts.template("receipt", phone_number_id=SMALL)
    assert [(v.name, v.type, v.is_required) for v in template.variables] == [
        ("name", VariableType.TEXT, True),
        ("total", VariableType.CURRENCY, True),
        ("banner", VariableType.IMAGE, False),
    ]


async def test_quota_counts_distinct_recipients_after_sends() -> None:
    """Three sends to two recipients use two of the quota, as business-accounts then reports."""
    emulator = Emulator(small_account())
    async with client(emulator) as mindo:
        await mindo.send_many([receipt(1), receipt(2), receipt(1, name="Again", total="$1")])
        quota = (await mindo.business_accounts.get()).phone_number(SMALL).quota
    assert quota is not None
    assert (quota.unique_numbers_sent_24h, quota.remaining) == (2, 48)


async def test_preflight_against_the_emulator_finds_each_problem() -> None:
    """Against the emulator: missing/unknown variables, a bad image URL, quota, unknown number."""
    requests = [receipt(i) for i in range(52)]
    requests += [
        receipt(100, name="A"),
        receipt(101, name="B", total="$1", coupon="X"),
        receipt(102, name="C", total="$1", banner="http://example.com/a.png"),
        SendRequest(
            phone_number_id="999", template_name="receipt", recipient_phone="+5491170000999"
        ),
    ]
    async with client(Emulator(small_account())) as mindo:
        report = await mindo.preflight(requests)
    assert [(p.code, p.index) for p in report.problems] == [
        (ProblemCode.MISSING_VARIABLE, 52),
        (ProblemCode.UNKNOWN_VARIABLE, 53),
        (ProblemCode.INVALID_VALUE, 54),
        (ProblemCode.QUOTA_EXCEEDED, None),
        (ProblemCode.UNKNOWN_NUMBER, None),
    ]
    check = report.number(SMALL)
    assert (check.recipients, check.remaining, check.would_fail) == (52, 50, 2)


async def test_a_send_beyond_the_quota_is_quota_exceeded_and_the_number_is_skipped() -> None:
    """The 51st recipient of a TIER_50 number: QuotaExceededError; the rest are skipped."""
    emulator = Emulator(small_account())
    async with client(emulator) as mindo:
        results = await mindo.send_many([receipt(i) for i in range(53)], concurrency=1)
    assert [r.outcome for r in results[:50]] == [Outcome.SENT] * 50
    assert results[50].outcome is Outcome.REJECTED
    assert isinstance(results[50].error, QuotaExceededError)
    assert results[50].error.status_code == 400
    assert [r.outcome for r in results[51:]] == [Outcome.SKIPPED] * 2
    assert len(emulator.ledger.messages) == 50


async def test_message_status_moves_on_the_virtual_clock() -> None:
    """messages.get of a sent wamid reports sent, then read once the clock has moved on."""
    emulator = Emulator(
        clock=VirtualClock(), lifecycle=MessageLifecycle(failure_share=0.0, read_share=1.0)
    )
    async with client(emulator) as mindo:
        sent = await mindo.send(
            phone_number_id=DEFAULT_PHONE_NUMBER_ID,
            template_name="verification_code",
            recipient_phone="+5491112345678",
            variables={"name": "Juan", "code": "1"},
        )
        first = await mindo.messages.get(sent.message_id)
        emulator.advance(3600)
        later = await mindo.messages.get(sent.message_id)
        with pytest.raises(NotFoundError) as unknown:
            await mindo.messages.get("wamid.NOPE=")
    assert first.delivery_status.current is MessageStatus.SENT
    assert later.delivery_status.current is MessageStatus.READ
    assert later.delivery_status.read_at is not None
    assert later.meta_message_id == sent.message_id
    assert not isinstance(unknown.value, EndpointNotAvailableError)


async def test_message_status_not_deployed_is_endpoint_not_available() -> None:
    """Without the message-status endpoint (HTML 404): EndpointNotAvailableError."""
    async with client(Emulator(message_status_available=False)) as mindo:
        with pytest.raises(EndpointNotAvailableError):
            await mindo.messages.get("wamid.ABC=")


async def test_contact_lookup_sees_a_reply_open_the_window() -> None:
    """A seeded contact is found; after emulator.reply the 24-hour window is open."""
    emulator = Emulator(clock=VirtualClock())
    async with client(emulator) as mindo:
        before = await mindo.contacts.lookup("+54 223 15-596-1983")
        emulator.reply("+5492235961983")
        after = await mindo.contacts.lookup("5492235961983")
        stranger = await mindo.contacts.lookup("+5491199999999")
    assert before.found
    assert not before.session_window_active
    assert after.has_replied
    assert after.session_window_active
    assert after.session_expires_at is not None
    assert not stranger.found
    assert stranger.contact is None


async def test_business_endpoints_and_holiday_range() -> None:
    """business.info/hours parse the emulator's seed; holidays honours from/to inclusively."""
    async with client(Emulator()) as mindo:
        info = await mindo.business.info()
        branches = await mindo.business.hours()
        every = await mindo.business.holidays()
        first = every[0].date
        only_first = await mindo.business.holidays(start=first, end=first)
        none = await mindo.business.holidays(start=date(1990, 1, 1), end=date(1990, 12, 31))
    assert info.name
    assert branches[0].schedules
    assert [h.date for h in only_first] == [first]
    assert none == []


async def test_expired_and_unscoped_keys_map_to_their_errors() -> None:
    """An expired key is AuthenticationError ("API Key expirada"); a key without the scope, 403."""
    emulator = Emulator(small_account())
    async with client(emulator, OLD_KEY) as mindo:
        with pytest.raises(AuthenticationError, match="expirada"):
            await mindo.business_accounts.get()
    async with client(emulator, READER_KEY) as mindo:
        with pytest.raises(PermissionDeniedError):
            await mindo.business_accounts.get()
        assert (await mindo.business.info()).name
