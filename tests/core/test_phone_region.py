"""National phone formats with a default region (issue 14 item 1), against a real Excel export."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest

from mindo_async import (
    AsyncMindo,
    ConfigurationError,
    InvalidRequestError,
    Outcome,
    SendRequest,
    SkipReason,
)
from mindo_async._validation import phone_to_e164, validate_request
from mindo_async.testing import DEFAULT_API_KEY, DEFAULT_PHONE_NUMBER_ID, Emulator

SAMPLE = Path(__file__).parent.parent / "samples" / "campaign-ar-excel.csv"

#: The sample's documented exceptions, by file line (samples/README.md).
INVALID_LINE = 19
US_LINE = 45
REPEAT_LINE, REPEATED_LINE = 63, 7
NO_PHONE_LINE = 93


def sample_rows() -> list[tuple[int, str, str, str]]:
    """(file line, phone, name, order) of every non-blank row of the sample."""
    with SAMPLE.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0] == ["Telefono", "Nombre", "Pedido"]
    return [(line, *row) for line, row in enumerate(rows[1:], start=2) if row]  # type: ignore[misc]


def sample_request(phone: str, name: str, order: str, line: int) -> SendRequest:
    return SendRequest(
        phone_number_id=DEFAULT_PHONE_NUMBER_ID,
        template_name="verification_code",
        recipient_phone=phone,
        variables={"name": name, "code": order},
        metadata={"line": line, "order": order},
    )


@pytest.mark.parametrize(
    "written", ["011 15-2345-6789", "+54 9 11 2345-6789", "5491123456789", "+5491123456789"]
)
def test_national_forms_become_e164_with_region_ar(written: str) -> None:
    """The forms an Argentine team writes are all +5491123456789 with default region AR."""
    assert phone_to_e164(written, "AR") == ("+5491123456789", None)


@pytest.mark.parametrize("written", ["011 15-2345-6789", "+54 9 11 2345-6789", "5491123456789"])
def test_without_a_region_national_forms_are_still_refused(written: str) -> None:
    """Without a default region only E.164 is accepted, as before."""
    e164, problem = phone_to_e164(written, None)
    assert e164 is None
    assert problem is not None
    assert "international format" in problem


@pytest.mark.parametrize(
    ("written", "why"),
    [("15-2345", "not a valid phone number"), ("", "required"), ("call me", "not a phone number")],
)
def test_invalid_numbers_are_refused_with_the_reason_even_with_a_region(
    written: str, why: str
) -> None:
    """A region does not make an invalid number acceptable: it is refused with the reason."""
    request = sample_request(written, "x", "ORD-1", 1)
    with pytest.raises(InvalidRequestError) as caught:
        validate_request(request, "AR")
    assert why in " ".join(caught.value.errors["recipient_phone"])


def test_validated_request_holds_the_e164_form() -> None:
    """The request handed to the requester carries the E.164 form; the caller's is untouched."""
    request = sample_request("011 15-2345-6789", "Ana", "ORD-1", 2)
    ready = validate_request(request, "AR")
    assert ready.recipient_phone == "+5491123456789"
    assert request.recipient_phone == "011 15-2345-6789"


def test_a_bad_region_is_a_configuration_error() -> None:
    """``default_region`` must be a country code libphonenumber knows."""
    with pytest.raises(ConfigurationError, match="default_region"):
        AsyncMindo(api_key=DEFAULT_API_KEY, default_region="Argentina")


def test_region_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``MINDO_DEFAULT_REGION`` sets the default region (upper-cased)."""
    monkeypatch.setenv("MINDO_DEFAULT_REGION", "ar")
    assert AsyncMindo(api_key=DEFAULT_API_KEY).default_region == "AR"
    monkeypatch.delenv("MINDO_DEFAULT_REGION")
    assert AsyncMindo(api_key=DEFAULT_API_KEY).default_region is None


def _client(emulator: Emulator, region: str | None) -> AsyncMindo:
    return AsyncMindo(
        api_key=DEFAULT_API_KEY,
        base_url="http://127.0.0.1",
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator)),
        rate_limit=None,
        default_region=region,
    )


@pytest.mark.anyio
async def test_single_send_sends_the_e164_form() -> None:
    """``send`` with a region puts the E.164 form on the wire and in the answer."""
    emulator = Emulator()
    async with _client(emulator, "AR") as mindo:
        message = await mindo.send(
            phone_number_id=DEFAULT_PHONE_NUMBER_ID,
            template_name="verification_code",
            recipient_phone="011 15-2345-6789",
            variables={"name": "Ana", "code": "1"},
        )
    assert message.recipient_phone == "+5491123456789"
    assert [e.recipient_phone for e in emulator.ledger.messages] == ["+5491123456789"]


@pytest.mark.anyio
async def test_the_excel_sample_gives_its_documented_outcomes() -> None:
    """With AR the sample sends 201 distinct numbers; lines 19, 45, 63, 93 as documented."""
    rows = sample_rows()
    emulator = Emulator()
    async with _client(emulator, "AR") as mindo:
        results = await mindo.send_many(
            [sample_request(phone, name, order, line) for line, phone, name, order in rows]
        )
    by_line = {result.metadata["line"]: result for result in results if result.metadata}
    assert len(by_line) == len(rows)
    sent = [r for r in results if r.outcome is Outcome.SENT]
    assert len(sent) == 201
    assert len({r.recipient_e164 for r in sent}) == 201
    assert len(emulator.ledger.messages) == 201
    assert emulator.ledger.duplicates() == []
    # Line 19: invalid, refused with the reason, never sent.
    assert by_line[INVALID_LINE].outcome is Outcome.REJECTED
    assert "recipient_phone" in str(by_line[INVALID_LINE].error)
    # Line 45: a valid US number, sent as such.
    assert by_line[US_LINE].outcome is Outcome.SENT
    assert by_line[US_LINE].recipient_e164 == "+12025550143"
    # Line 63: the number of line 7 written differently: a duplicate of this run.
    assert by_line[REPEAT_LINE].outcome is Outcome.SKIPPED
    assert by_line[REPEAT_LINE].reason is SkipReason.DUPLICATE_IN_RUN
    assert by_line[REPEAT_LINE].recipient_e164 == by_line[REPEATED_LINE].recipient_e164
    # Line 93: no phone at all.
    assert by_line[NO_PHONE_LINE].outcome is Outcome.REJECTED
    # Every other number is an Argentine mobile, shown next to the original.
    others = [r for r in sent if r.metadata and r.metadata["line"] != US_LINE]
    assert all(r.recipient_e164 and r.recipient_e164.startswith("+549") for r in others)
    assert all(r.message and r.message.recipient_phone == r.recipient_e164 for r in sent)


@pytest.mark.anyio
async def test_without_a_region_the_sample_is_mostly_refused() -> None:
    """Without a region behaviour is unchanged: only the E.164-written rows are sent."""
    rows = sample_rows()
    emulator = Emulator()
    async with _client(emulator, None) as mindo:
        results = await mindo.send_many(
            [sample_request(phone, name, order, line) for line, phone, name, order in rows]
        )
    e164_rows = {phone for _, phone, _, _ in rows if phone.startswith("+") and " " not in phone}
    sent = {r.request.recipient_phone for r in results if r.outcome is Outcome.SENT}
    assert sent == e164_rows
    assert 0 < len(sent) < 201


@pytest.mark.anyio
async def test_preflight_reads_national_numbers_with_the_client_region() -> None:
    """``preflight`` checks a national-format number as it will be sent: no invalid request."""
    emulator = Emulator()
    request = sample_request("011 15-2345-6789", "Ana", "1", 2)
    async with _client(emulator, "AR") as mindo:
        report = await mindo.preflight([request])
    assert report.ok, [str(p) for p in report.problems]
    assert report.invalid_requests == 0
    assert emulator.ledger.messages == ()


@pytest.mark.anyio
async def test_preflight_counts_one_recipient_for_its_national_and_e164_forms() -> None:
    """The quota count uses the E.164 form: three spellings of one number are one recipient."""
    emulator = Emulator()
    requests = [
        sample_request(phone, "Ana", str(i), i)
        for i, phone in enumerate(["011 15-2345-6789", "+54 9 11 2345-6789", "+5491123456789"])
    ]
    async with _client(emulator, "AR") as mindo:
        report = await mindo.preflight(requests)
    assert report.ok
    assert report.number(DEFAULT_PHONE_NUMBER_ID).recipients == 1


@pytest.mark.anyio
async def test_send_many_preflight_accepts_national_numbers_with_a_region() -> None:
    """``send_many(preflight=True)`` with AR sends a national-format row, as E.164."""
    emulator = Emulator()
    async with _client(emulator, "AR") as mindo:
        results = await mindo.send_many(
            [sample_request("011 15-2345-6789", "Ana", "1", 2)], preflight=True
        )
    assert [r.outcome for r in results] == [Outcome.SENT]
    assert [e.recipient_phone for e in emulator.ledger.messages] == ["+5491123456789"]


@pytest.mark.anyio
async def test_preflight_without_a_region_still_refuses_national_numbers() -> None:
    """Without a region the pre-flight reports a national number as an invalid request."""
    emulator = Emulator()
    async with _client(emulator, None) as mindo:
        report = await mindo.preflight([sample_request("011 15-2345-6789", "Ana", "1", 2)])
    assert not report.ok
    assert report.invalid_requests == 1
