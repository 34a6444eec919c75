"""The business-accounts answer: company, phone numbers with their quota, templates.

The API documents two shapes (its field list and its example disagree), and
both are accepted:

* nested: ``businessAccounts[] -> {businessAccountId, businessName, phoneNumbers[], templates[]}``
  (the page's example);
* flat: a top-level ``phoneNumbers[]`` whose numbers carry ``businessName`` (the
  page's field list). Numbers are grouped into one ``BusinessAccount`` per
  ``businessName``; where templates sit in this shape is not documented, so a
  top-level ``templates[]`` is taken to belong to every account, and a number's
  own ``templates[]`` (if any) to that number's account.

Either way ``BusinessAccounts.phone_numbers`` lists every number.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from .._conversion import converter, register_camel_case
from .._errors import UnknownPhoneNumberError, UnknownTemplateError
from ._hooks import register_open_enum

__all__ = [
    "AccountPhoneNumber",
    "BusinessAccount",
    "BusinessAccounts",
    "MessagingTier",
    "Quota",
    "Template",
    "TemplateVariable",
    "VariableType",
]


class MessagingTier(str, enum.Enum):
    """Meta's messaging tier of a number: how many distinct recipients it may reach a day.

    Values the API adds later are kept as plain strings.
    """

    TIER_50 = "TIER_50"
    TIER_250 = "TIER_250"
    TIER_1000 = "TIER_1000"
    TIER_10000 = "TIER_10000"
    TIER_100000 = "TIER_100000"
    TIER_UNLIMITED = "TIER_UNLIMITED"

    def __str__(self) -> str:
        return self.value

    @property
    def daily_limit(self) -> int | None:
        """Distinct recipients a day; ``None`` for ``TIER_UNLIMITED``."""
        return _TIER_LIMITS[self]

    @property
    def pace_seconds(self) -> float:
        """The documented pause between messages for this tier (0 for unlimited)."""
        return _TIER_PACE[self]

    @property
    def pace(self) -> str:
        """The documented pacing, in words: ``"0.06 s between messages"``."""
        if self is MessagingTier.TIER_UNLIMITED:
            return "no delay between messages"
        return f"{self.pace_seconds:g} s between messages"


_TIER_LIMITS: dict[MessagingTier, int | None] = {
    MessagingTier.TIER_50: 50,
    MessagingTier.TIER_250: 250,
    MessagingTier.TIER_1000: 1_000,
    MessagingTier.TIER_10000: 10_000,
    MessagingTier.TIER_100000: 100_000,
    MessagingTier.TIER_UNLIMITED: None,
}
# The business-accounts page's "recommended pacing" column.
_TIER_PACE: dict[MessagingTier, float] = {
    MessagingTier.TIER_50: 1.2,
    MessagingTier.TIER_250: 0.24,
    MessagingTier.TIER_1000: 0.06,
    MessagingTier.TIER_10000: 0.006,
    MessagingTier.TIER_100000: 0.0006,
    MessagingTier.TIER_UNLIMITED: 0.0,
}


class VariableType(str, enum.Enum):
    """The documented types of a template variable; unknown types are kept as str."""

    TEXT = "TEXT"
    CURRENCY = "CURRENCY"
    DATE_TIME = "DATE_TIME"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    DOCUMENT = "DOCUMENT"

    def __str__(self) -> str:
        return self.value

    @property
    def is_media(self) -> bool:
        """Whether a value must be a URL (``IMAGE``, ``VIDEO``, ``DOCUMENT``)."""
        return self in (VariableType.IMAGE, VariableType.VIDEO, VariableType.DOCUMENT)


register_open_enum(MessagingTier)
register_open_enum(VariableType)


@register_camel_case
@attrs.frozen(kw_only=True)
class Quota:
    """A number's quota: distinct recipients over a rolling 24 hours (``quota`` in the answer).

    The API does not describe these fields; the names come from its example, whose
    arithmetic gives ``remaining = daily_limit - unique_numbers_sent_24h``.
    ``daily_limit`` and ``remaining`` are ``None`` when the server gives none
    (an unlimited tier, presumably).
    """

    daily_limit: int | None = None
    unique_numbers_sent_24h: int = 0
    remaining: int | None = None
    usage_percentage: float = 0.0
    can_send: bool = True


@register_camel_case
@attrs.frozen(kw_only=True)
class TemplateVariable:
    """One variable of a template."""

    name: str
    type: VariableType | str = VariableType.TEXT
    #: 1-based position in its component.
    position: int = 0
    is_required: bool = True
    #: Where the variable sits, e.g. ``"BODY"`` (other values are not documented).
    component: str = "BODY"


@register_camel_case
@attrs.frozen(kw_only=True)
class Template:
    """An approved template of a business account, with its variables."""

    name: str
    language: str = "es"
    #: ``MARKETING``, ``UTILITY``, ``AUTHENTICATION``, ``TRANSACTIONAL``...: an open string.
    category: str = ""
    variables: tuple[TemplateVariable, ...] = ()

    @property
    def required_variables(self) -> tuple[TemplateVariable, ...]:
        """The variables a send must give."""
        return tuple(variable for variable in self.variables if variable.is_required)

    def variable(self, name: str) -> TemplateVariable | None:
        """The variable called ``name``, or ``None``."""
        for variable in self.variables:
            if variable.name == name:
                return variable
        return None


@register_camel_case
@attrs.frozen(kw_only=True)
class AccountPhoneNumber:
    """A WhatsApp phone number of the account, with its tier and quota.

    ``phone_number_id`` is the value to send from (``SendRequest.phone_number_id``).
    """

    phone_number_id: str
    #: Mindo's internal id of the number.
    id: int | None = None
    display_phone_number: str = ""
    verified_name: str = ""
    #: The business account (WABA) the number belongs to; filled from the account
    #: in the nested shape.
    business_name: str | None = None
    is_primary: bool = False
    messaging_limit_tier: MessagingTier | str | None = None
    quota: Quota | None = None


@attrs.frozen(kw_only=True)
class BusinessAccount:
    """A WhatsApp Business account (WABA): its numbers and approved templates."""

    business_name: str
    #: ``None`` in the flat shape, which does not give it.
    business_account_id: int | None = None
    phone_numbers: tuple[AccountPhoneNumber, ...] = ()
    templates: tuple[Template, ...] = ()

    def templates_named(self, name: str) -> tuple[Template, ...]:
        """Every language version of the template called ``name``."""
        return tuple(template for template in self.templates if template.name == name)


@attrs.frozen(kw_only=True)
class BusinessAccounts:
    """Everything tied to the API key: company, business accounts, numbers and templates."""

    company_name: str = ""
    api_key_name: str = ""
    business_accounts: tuple[BusinessAccount, ...] = ()

    @property
    def phone_numbers(self) -> tuple[AccountPhoneNumber, ...]:
        """Every phone number of every business account."""
        return tuple(
            number for account in self.business_accounts for number in account.phone_numbers
        )

    @property
    def phone_number_ids(self) -> tuple[str, ...]:
        """The ``phone_number_id`` of every number."""
        return tuple(number.phone_number_id for number in self.phone_numbers)

    def phone_number(self, phone_number_id: str) -> AccountPhoneNumber:
        """The number with that id; ``UnknownPhoneNumberError`` naming the ids that exist."""
        for number in self.phone_numbers:
            if number.phone_number_id == phone_number_id:
                return number
        raise UnknownPhoneNumberError(phone_number_id, self.phone_number_ids)

    def account_for(self, phone_number_id: str) -> BusinessAccount:
        """The business account the number belongs to; ``UnknownPhoneNumberError`` otherwise."""
        for account in self.business_accounts:
            for number in account.phone_numbers:
                if number.phone_number_id == phone_number_id:
                    return account
        raise UnknownPhoneNumberError(phone_number_id, self.phone_number_ids)

    def templates_for(self, phone_number_id: str | None = None) -> tuple[Template, ...]:
        """The templates a number can send (every account's, when no number is given)."""
        if phone_number_id is None:
            return tuple(t for account in self.business_accounts for t in account.templates)
        return self.account_for(phone_number_id).templates

    def template(
        self, name: str, *, language: str = "es", phone_number_id: str | None = None
    ) -> Template:
        """The template ``name`` in ``language`` that ``phone_number_id`` can send.

        Without a number, every account is searched. Raises ``UnknownPhoneNumberError``
        for an unknown number, and ``UnknownTemplateError`` (naming the languages
        the template exists in, or the templates that exist) otherwise.
        """
        templates = self.templates_for(phone_number_id)
        languages: list[str] = []
        for template in templates:
            if template.name == name:
                if template.language == language:
                    return template
                if template.language not in languages:
                    languages.append(template.language)
        known = tuple(dict.fromkeys(template.name for template in templates))
        raise UnknownTemplateError(
            name,
            language,
            languages=tuple(languages),
            known=known,
            phone_number_id=phone_number_id,
        )


def _structure_templates(raw: Any) -> tuple[Template, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(converter.structure(item, Template) for item in raw)


def _structure_number(raw: Any, business_name: str | None) -> AccountPhoneNumber:
    number = converter.structure(raw, AccountPhoneNumber)
    if number.business_name is None and business_name is not None:
        number = attrs.evolve(number, business_name=business_name)
    return number


def _structure_business_accounts(body: Any, _: Any) -> BusinessAccounts:
    if not isinstance(body, dict):
        raise TypeError(f"expected a JSON object, got {type(body).__name__}")
    accounts: list[BusinessAccount] = []
    for raw in body.get("businessAccounts") or ():
        name = raw.get("businessName") or ""
        accounts.append(
            BusinessAccount(
                business_name=name,
                business_account_id=raw.get("businessAccountId"),
                phone_numbers=tuple(
                    _structure_number(item, name) for item in raw.get("phoneNumbers") or ()
                ),
                templates=_structure_templates(raw.get("templates")),
            )
        )
    flat = body.get("phoneNumbers")
    if isinstance(flat, list) and flat:
        shared = _structure_templates(body.get("templates"))
        groups: dict[str, tuple[list[AccountPhoneNumber], list[Template]]] = {}
        for raw in flat:
            number = _structure_number(raw, None)
            numbers, templates = groups.setdefault(number.business_name or "", ([], []))
            numbers.append(number)
            for template in _structure_templates(raw.get("templates")):
                if template not in templates:
                    templates.append(template)
        for name, (numbers, templates) in groups.items():
            accounts.append(
                BusinessAccount(
                    business_name=name,
                    phone_numbers=tuple(numbers),
                    templates=tuple(templates) + tuple(t for t in shared if t not in templates),
                )
            )
    return BusinessAccounts(
        company_name=body.get("companyName") or "",
        api_key_name=body.get("apiKeyName") or "",
        business_accounts=tuple(accounts),
    )


converter.register_structure_hook(BusinessAccounts, _structure_business_accounts)
