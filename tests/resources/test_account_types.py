"""Parsing the account-area answers: the documented examples and every documented variant."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import pytest

from mindo_async import (
    AccountPhoneNumber,
    AttentionTarget,
    Branch,
    BranchType,
    BusinessAccounts,
    BusinessInfo,
    CompanySize,
    ContactLookup,
    Holiday,
    MessageDetails,
    MessageStatus,
    MessagingTier,
    MindoError,
    UnknownPhoneNumberError,
    UnknownTemplateError,
    VariableType,
    Weekday,
)
from mindo_async._conversion import converter

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def example(name: str) -> Any:
    """The documented 200 body of the endpoint called ``name`` (vendored)."""
    return json.loads((REFERENCE / f"{name}.json").read_text(encoding="utf-8"))["responses"]["200"]


def accounts_example() -> BusinessAccounts:
    return converter.structure(example("business_accounts.get"), BusinessAccounts)


def flat_variant() -> dict[str, Any]:
    """The field list's shape: top-level phoneNumbers[], each carrying businessName."""
    nested = example("business_accounts.get")
    account = nested["businessAccounts"][0]
    numbers = []
    for number in account["phoneNumbers"]:
        number = dict(number, businessName=account["businessName"])
        numbers.append(number)
    second = dict(
        numbers[0],
        id=124,
        phoneNumberId="900000000000001",
        businessName="Otra Cuenta",
        isPrimary=False,
        messagingLimitTier="TIER_50",
    )
    return {
        "companyName": nested["companyName"],
        "apiKeyName": nested["apiKeyName"],
        "phoneNumbers": [*numbers, second],
        "templates": account["templates"],
    }


def test_business_accounts_example_parses_every_documented_field() -> None:
    """The page's own example becomes BusinessAccounts with snake_case fields and typed values."""
    accounts = accounts_example()
    assert accounts.company_name == "Mi Empresa SRL"
    assert accounts.api_key_name == "Production API Key"
    (account,) = accounts.business_accounts
    assert account.business_account_id == 1
    assert account.business_name == "Mi Empresa WhatsApp Business"
    (number,) = account.phone_numbers
    assert isinstance(number, AccountPhoneNumber)
    assert number.id == 123
    assert number.phone_number_id == "813497231850626"
    assert number.display_phone_number == "+54 9 223 675-0780"
    assert number.verified_name == "Mi Empresa"
    assert number.is_primary is True
    assert number.messaging_limit_tier is MessagingTier.TIER_1000
    assert number.business_name == "Mi Empresa WhatsApp Business"
    assert number.quota is not None
    assert (
        number.quota.daily_limit,
        number.quota.unique_numbers_sent_24h,
        number.quota.remaining,
        number.quota.usage_percentage,
        number.quota.can_send,
    ) == (1000, 45, 955, 4.5, True)
    template = accounts.template(
        "order_confirmation", language="es", phone_number_id="813497231850626"
    )
    assert template.category == "TRANSACTIONAL"
    assert [
        (v.name, v.type, v.position, v.is_required, v.component) for v in template.variables
    ] == [
        ("order_id", VariableType.TEXT, 1, True, "BODY"),
        ("total_amount", VariableType.CURRENCY, 2, True, "BODY"),
        ("delivery_date", VariableType.DATE_TIME, 3, True, "BODY"),
    ]


def test_flat_shape_lists_every_number_grouped_by_business_name() -> None:
    """The flat phoneNumbers[] shape: one account per businessName, every number listed."""
    accounts = converter.structure(flat_variant(), BusinessAccounts)
    assert accounts.phone_number_ids == ("813497231850626", "900000000000001")
    assert [a.business_name for a in accounts.business_accounts] == [
        "Mi Empresa WhatsApp Business",
        "Otra Cuenta",
    ]
    assert accounts.business_accounts[0].business_account_id is None
    assert accounts.phone_number("900000000000001").messaging_limit_tier is MessagingTier.TIER_50
    # The top-level templates belong to every account in this shape.
    assert accounts.template("welcome_message", phone_number_id="900000000000001").variables[
        0
    ].name == ("customer_name")


def test_both_shapes_in_one_answer_list_every_number() -> None:
    """An answer that has businessAccounts[] and a flat phoneNumbers[] keeps the numbers of both."""
    body = example("business_accounts.get")
    body["phoneNumbers"] = flat_variant()["phoneNumbers"][1:]
    accounts = converter.structure(body, BusinessAccounts)
    assert accounts.phone_number_ids == ("813497231850626", "900000000000001")


def test_unknown_phone_number_names_the_existing_ids() -> None:
    """An unknown id: UnknownPhoneNumberError (MindoError, KeyError) naming the known ids."""
    accounts = accounts_example()
    with pytest.raises(UnknownPhoneNumberError) as caught:
        accounts.phone_number("111")
    assert isinstance(caught.value, MindoError)
    assert isinstance(caught.value, KeyError)
    assert caught.value.known == ("813497231850626",)
    assert "813497231850626" in str(caught.value)
    assert "111" in str(caught.value)


def test_template_in_another_language_names_the_languages_that_exist() -> None:
    """A missing language: UnknownTemplateError listing the template's languages."""
    with pytest.raises(UnknownTemplateError) as caught:
        accounts_example().template("welcome_message", language="en")
    assert caught.value.languages == ("es",)
    assert "es" in str(caught.value)
    assert isinstance(caught.value, KeyError)


def test_unknown_template_names_the_templates_that_exist() -> None:
    """template() of an unknown name raises UnknownTemplateError naming the account's templates."""
    with pytest.raises(UnknownTemplateError) as caught:
        accounts_example().template("nope", phone_number_id="813497231850626")
    assert caught.value.languages == ()
    assert caught.value.known == ("welcome_message", "order_confirmation")


def test_unknown_tier_and_variable_type_are_kept_as_strings() -> None:
    """Unknown tiers and variable types stay plain strings; unknown fields are ignored."""
    body = copy.deepcopy(example("business_accounts.get"))
    account = body["businessAccounts"][0]
    account["phoneNumbers"][0]["messagingLimitTier"] = "TIER_2000"
    account["phoneNumbers"][0]["brandNewField"] = {"x": 1}
    account["templates"][0]["variables"][0]["type"] = "LOCATION"
    accounts = converter.structure(body, BusinessAccounts)
    assert accounts.phone_numbers[0].messaging_limit_tier == "TIER_2000"
    assert not isinstance(accounts.phone_numbers[0].messaging_limit_tier, MessagingTier)
    assert accounts.template("welcome_message").variables[0].type == "LOCATION"


def test_tiers_carry_their_documented_limit_and_pace() -> None:
    """Each tier knows the documented daily limit and recommended pacing."""
    assert MessagingTier.TIER_50.daily_limit == 50
    assert MessagingTier.TIER_50.pace_seconds == 1.2
    assert MessagingTier.TIER_1000.pace == "0.06 s between messages"
    assert MessagingTier.TIER_UNLIMITED.daily_limit is None
    assert MessagingTier.TIER_UNLIMITED.pace == "no delay between messages"


def test_message_status_example_parses() -> None:
    """The message-status example parses; delivery_status.current is a MessageStatus."""
    details = converter.structure(example("messages.get"), MessageDetails)
    assert details.id == 123
    assert details.template.name == "welcome_message"
    assert details.template.category == "MARKETING"
    assert details.recipient.phone == "+5491112345678"
    assert details.recipient.contact_id == 789
    assert details.variables_used == {"name": "Juan Perez", "code": "ABC123"}
    assert details.delivery_status.current is MessageStatus.READ
    assert details.status is MessageStatus.READ
    assert details.delivery_status.is_final
    assert details.delivery_status.read_at == datetime(2025, 11, 16, 21, 31, tzinfo=timezone.utc)
    assert details.delivery_status.failed_at is None
    assert details.meta_message_id.startswith("wamid.")
    assert details.was_successful is True
    assert details.sent_at is not None
    assert details.sent_at.tzinfo is not None


def test_failed_message_keeps_error_code_and_unknown_status() -> None:
    """A numeric error code is kept as a number, and an unknown status as a string."""
    body = copy.deepcopy(example("messages.get"))
    body["delivery_status"].update(
        current="failed", error_code=131047, error_message="Re-engagement"
    )
    assert converter.structure(body, MessageDetails).delivery_status.error_code == 131047
    body["delivery_status"]["current"] = "deleted"
    assert converter.structure(body, MessageDetails).status == "deleted"


def test_contact_lookup_example_and_not_found_variant_parse() -> None:
    """The contact-lookup example parses (aware datetimes); so does found=false, contact null."""
    lookup = converter.structure(example("contacts.lookup"), ContactLookup)
    assert lookup.found is True
    assert lookup.contact is not None
    assert lookup.contact.full_name == "Juan Perez"
    assert lookup.contact.contact_list_id == 5
    assert lookup.contact.contact_list_name == "Lista Principal"
    assert lookup.contact.source == "organic"
    assert lookup.has_replied is True
    assert lookup.session_window_active is True
    assert lookup.session_expires_at == datetime(2025, 3, 29, 14, 22, tzinfo=timezone.utc)
    missing = converter.structure(
        {
            "found": False,
            "contact": None,
            "hasReplied": False,
            "lastReplyAt": None,
            "sessionWindowActive": False,
            "sessionExpiresAt": None,
        },
        ContactLookup,
    )
    assert missing.found is False
    assert missing.contact is None
    assert missing.last_reply_at is None


def test_business_info_example_parses() -> None:
    """The business-info example parses with its enums; a null company size is accepted."""
    info = converter.structure(example("business.info"), BusinessInfo)
    assert info.id == 12
    assert info.timezone == "America/Argentina/Buenos_Aires"
    assert info.company_size is CompanySize.SMALL
    assert info.company_types == ("ECOMMERCE",)
    assert info.categories == ("Indumentaria", "Retail")
    body = dict(example("business.info"), companySize=None, companySizeDisplay=None)
    assert converter.structure(body, BusinessInfo).company_size is None


def test_business_hours_example_parses_times_of_day() -> None:
    """The business-hours array becomes Branches whose schedules hold times and weekdays."""
    (branch,) = converter.structure(example("business.hours"), list[Branch])
    assert branch.branch_id == 5
    assert branch.branch_type is BranchType.PHYSICAL
    weekdays, saturday = branch.schedules
    assert weekdays.days[0] is Weekday.MONDAY
    assert len(weekdays.days) == 5
    assert (weekdays.start_time, weekdays.finish_at) == (time(9), time(18))
    assert saturday.description == ""
    assert saturday.specific_date is None


def test_specific_date_schedule_parses_its_date() -> None:
    """A specific-date schedule (days empty) gets a date."""
    body = copy.deepcopy(example("business.hours"))
    body[0]["schedules"][1].update(days=[], specificDate="2026-07-09")
    (branch,) = converter.structure(body, list[Branch])
    assert branch.schedules[1].specific_date == date(2026, 7, 9)
    assert branch.schedules[1].days == ()


def test_holidays_example_parses() -> None:
    """The holidays array parses: dates, reduced hours, branch details, attention target."""
    new_year, christmas_eve = converter.structure(example("business.holidays"), list[Holiday])
    assert new_year.date == date(2026, 1, 1)
    assert new_year.closed_all_day
    assert new_year.start_time is None
    assert new_year.attention_target is AttentionTarget.ALL
    assert christmas_eve.branches == (5,)
    assert christmas_eve.branches_detail[0].name == "Casa Central"
    assert christmas_eve.branches_detail[0].branch_type is BranchType.PHYSICAL
    assert (christmas_eve.start_time, christmas_eve.finish_at) == (time(9), time(13))
    assert christmas_eve.created_at is not None
    assert christmas_eve.created_at.tzinfo is not None
