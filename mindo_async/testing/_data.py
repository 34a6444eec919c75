"""What the emulated Mindo account holds: one consistent data set for every endpoint.

API keys (with names, scopes and expired ones), the phone numbers with their
messaging tier, the templates with their typed variables, the contacts, and the
company profile, branch hours and holidays. ``GET business-accounts/`` reports
exactly the numbers and templates that ``POST send/`` checks against.

The defaults are the values used by the examples in the API reference
(``send-message.md``), so every example there runs against the emulator with
only the base URL and the API key changed.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import phonenumbers

from .._config import is_api_key
from .._endpoints import ENDPOINTS

#: The API key the emulator accepts unless told otherwise.
DEFAULT_API_KEY = "mindo_emulator_0123456789abcdef"

#: The phone number id used by every example in the API reference.
DEFAULT_PHONE_NUMBER_ID = "813497231850626"

#: Template statuses as Meta reports them; only ``APPROVED`` can be sent.
TEMPLATE_STATUSES = frozenset({"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"})

#: Button types of WhatsApp templates.
BUTTON_TYPES = frozenset({"URL", "QUICK_REPLY", "PHONE_NUMBER", "COPY_CODE"})

#: Template variable types (business-accounts page).
VARIABLE_TYPES = frozenset({"TEXT", "CURRENCY", "DATE_TIME", "IMAGE", "VIDEO", "DOCUMENT"})

#: Meta's messaging tiers: distinct recipients per rolling 24 h (None: no limit).
TIERS: Mapping[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1000": 1_000,
    "TIER_10000": 10_000,
    "TIER_100000": 100_000,
    "TIER_UNLIMITED": None,
}

#: The tier of a number given only by its id: large enough never to get in a test's way.
DEFAULT_TIER = "TIER_100000"

_ENDPOINT_NAMES = frozenset(endpoint.name for endpoint in ENDPOINTS)


@functools.lru_cache(maxsize=4096)
def normalize_phone(value: str) -> str | None:
    """``value`` in E.164 (``+5492235961983``), or None if it is not a phone number.

    Numbers without ``+`` are read as Argentine, so every form of the
    contact-lookup table is equivalent: ``+5492235961983``, ``5492235961983``,
    ``+54223155961983``, ``54223155961983``, ``+54 223 15-596-1983``.
    """
    try:
        number = phonenumbers.parse(value, "AR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _check_api_key(key: str) -> None:
    if not is_api_key(key):
        raise ValueError(
            f"API key {key!r} does not have the Mindo shape 'mindo_' followed by "
            "letters, digits, '_' or '-'"
        )


def _to_str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("expected a list of strings, got a single string")
    return tuple(value)


def _one_of(allowed: Iterable[str], what: str) -> Any:
    choices = sorted(allowed)

    def check(_instance: object, _attribute: object, value: object) -> None:
        if value not in choices:
            raise ValueError(f"{what} must be one of {choices}, got {value!r}")

    return check


_STR = attrs.validators.instance_of(str)
_OPT_STR = attrs.validators.optional(_STR)
_BOOL = attrs.validators.instance_of(bool)
_OPT_INT = attrs.validators.optional(attrs.validators.instance_of(int))


@attrs.frozen
class Button:
    """One button of a template, at the index given by its place in ``Template.buttons``.

    A ``dynamic`` button takes exactly one value through ``button_variables``
    (``button_<index>``): the URL suffix of a URL button, the payload of a
    quick-reply button, the code of a copy-code button.
    """

    type: str = attrs.field(default="URL", validator=_one_of(BUTTON_TYPES, "button type"))
    dynamic: bool = attrs.field(default=True, validator=_BOOL)


@attrs.frozen
class Variable:
    """One variable of a template, as ``GET business-accounts/`` reports it.

    ``position`` is 1-based; None places it after the previous one.
    ``required`` variables must be in every send (unless the emulator was built
    with ``strict_variables=False``).
    """

    name: str = attrs.field(validator=_STR)
    type: str = attrs.field(default="TEXT", validator=_one_of(VARIABLE_TYPES, "variable type"))
    required: bool = attrs.field(default=True, validator=_BOOL)
    position: int | None = attrs.field(default=None, validator=_OPT_INT)
    component: str = attrs.field(default="BODY", validator=_STR)


def _to_variable_tuple(value: Iterable[str | Variable]) -> tuple[Variable, ...]:
    variables: list[Variable] = []
    if isinstance(value, str):
        raise TypeError("expected a list of variables, got a single string")
    for item in value:
        variable = Variable(item) if isinstance(item, str) else item
        if not isinstance(variable, Variable):
            raise TypeError(f"a template variable is a name or a Variable, got {item!r}")
        if variable.position is None:
            previous = variables[-1].position if variables else 0
            variable = attrs.evolve(variable, position=(previous or 0) + 1)
        variables.append(variable)
    names = [v.name for v in variables]
    if len(set(names)) != len(names):
        raise ValueError(f"a template variable is defined twice: {names}")
    return tuple(variables)


def _to_button_tuple(value: Iterable[Button]) -> tuple[Button, ...]:
    return tuple(value)


@attrs.frozen
class Template:
    """A WhatsApp template of the emulated business account.

    ``variables`` are what a send fills through ``variables``: names (plain
    strings: required ``TEXT`` body variables) or ``Variable`` objects;
    ``buttons`` are the template's buttons in order (index 0 is ``button_0``).
    ``id`` is the internal template id the status endpoints report (None: the
    emulator numbers templates from 45 in order).
    """

    name: str = attrs.field(validator=_STR)
    language: str = attrs.field(default="es", validator=_STR)
    status: str = attrs.field(
        default="APPROVED", validator=_one_of(TEMPLATE_STATUSES, "template status")
    )
    variables: tuple[Variable, ...] = attrs.field(default=(), converter=_to_variable_tuple)
    buttons: tuple[Button, ...] = attrs.field(default=(), converter=_to_button_tuple)
    category: str = attrs.field(default="MARKETING", validator=_STR)
    id: int | None = attrs.field(default=None, validator=_OPT_INT)

    @property
    def approved(self) -> bool:
        """Whether the template can be sent."""
        return self.status == "APPROVED"

    @property
    def variable_names(self) -> tuple[str, ...]:
        """The names of the template's variables, in order."""
        return tuple(variable.name for variable in self.variables)

    @property
    def required_variables(self) -> tuple[str, ...]:
        """The names a send must fill."""
        return tuple(variable.name for variable in self.variables if variable.required)


@attrs.frozen
class PhoneNumber:
    """A sending number of the account, with its Meta messaging tier.

    ``tier`` caps the distinct recipients per rolling 24 h (``TIERS``).
    ``id`` is Mindo's internal id (None: numbered from 1 in order).
    """

    phone_number_id: str = attrs.field(validator=_STR)
    tier: str = attrs.field(default=DEFAULT_TIER, validator=_one_of(TIERS, "tier"))
    display_phone_number: str | None = attrs.field(default=None, validator=_OPT_STR)
    verified_name: str = attrs.field(default="Mindo Emulator", validator=_STR)
    is_primary: bool = attrs.field(default=False, validator=_BOOL)
    quality_rating: str = attrs.field(default="GREEN", validator=_STR)
    id: int | None = attrs.field(default=None, validator=_OPT_INT)

    @property
    def daily_limit(self) -> int | None:
        """Distinct recipients allowed per rolling 24 h; None for ``TIER_UNLIMITED``."""
        return TIERS[self.tier]


def _e164(value: str) -> str:
    normalized = normalize_phone(value) if isinstance(value, str) else None
    if normalized is None:
        raise ValueError(f"not a phone number: {value!r}")
    return normalized


@attrs.frozen
class Contact:
    """A contact of one of the company's lists, as ``GET contact-lookup/`` reports it.

    ``phone`` may be given in any form contact-lookup accepts; it is stored in
    E.164. ``id`` None: numbered from 1 in order.
    """

    phone: str = attrs.field(converter=_e164)
    full_name: str | None = attrs.field(default=None, validator=_OPT_STR)
    email: str | None = attrs.field(default=None, validator=_OPT_STR)
    contact_list_id: int = attrs.field(default=1, validator=attrs.validators.instance_of(int))
    contact_list_name: str = attrs.field(default="Lista Principal", validator=_STR)
    source: str = attrs.field(default="organic", validator=_STR)
    created_at: str = attrs.field(default="2025-01-15T10:30:00Z", validator=_STR)
    id: int | None = attrs.field(default=None, validator=_OPT_INT)


def _default_templates() -> tuple[Template, ...]:
    return (
        Template(
            "welcome_message",
            variables=(Variable("name"), Variable("code", required=False)),
            buttons=(Button("URL", dynamic=True),),
            id=45,
        ),
        Template("verification_code", variables=("name", "code"), category="AUTHENTICATION", id=46),
        # Optional: tests and examples send it as a bare notification too.
        Template(
            "order_update",
            variables=(Variable("order_id", required=False), Variable("status", required=False)),
            category="UTILITY",
            id=47,
        ),
        Template("promo_pending", status="PENDING", variables=("name",), id=48),
    )


def _default_phone_numbers() -> tuple[PhoneNumber, ...]:
    return (
        PhoneNumber(
            DEFAULT_PHONE_NUMBER_ID,
            tier="TIER_100000",
            display_phone_number="+54 9 223 675-0780",
            verified_name="Mindo Emulator",
            is_primary=True,
            id=123,
        ),
    )


def _default_contacts() -> tuple[Contact, ...]:
    return (
        Contact(
            "+5492235961983",
            full_name="Juan Perez",
            email="juan@ejemplo.com",
            contact_list_id=5,
            id=123,
        ),
        Contact("+5491112345678", full_name="Juan Perez", contact_list_id=5, id=789),
    )


def _default_business_info() -> dict[str, Any]:
    return {
        "id": 12,
        "name": "Mindo Emulator SRL",
        "email": "contacto@emulator.invalid",
        "phone": "+54 9 223 675-0780",
        "website": "https://emulator.invalid",
        "address": "Av. Siempre Viva 123, Mar del Plata",
        "description": "Empresa ficticia del emulador de Mindo.",
        "timezone": "America/Argentina/Buenos_Aires",
        "companySize": "SMALL",
        "companySizeDisplay": "11-50 empleados (Pequeña)",
        "companyTypes": ["ECOMMERCE"],
        "categories": ["Indumentaria", "Retail"],
    }


_BRANCH = {
    "id": 5,
    "company": 12,
    "name": "Casa Central",
    "address": "Av. Siempre Viva 123, Mar del Plata",
    "phone": "+54 9 223 675-0780",
    "branchType": "PHYSICAL",
    "createdAt": "2025-11-01T10:00:00Z",
    "updatedAt": "2025-11-01T10:00:00Z",
}


def _default_business_hours() -> tuple[dict[str, Any], ...]:
    week = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
    return (
        {
            "branchId": 5,
            "branchName": "Casa Central",
            "branchType": "PHYSICAL",
            "address": "Av. Siempre Viva 123, Mar del Plata",
            "schedules": [
                {
                    "id": 41,
                    "days": week,
                    "daysDisplay": "Lunes, Martes, Miércoles, Jueves, Viernes",
                    "startTime": "09:00:00",
                    "finishAt": "18:00:00",
                    "isActive": True,
                    "description": "Horario de semana",
                    "specificDate": None,
                },
                {
                    "id": 42,
                    "days": ["SATURDAY"],
                    "daysDisplay": "Sábado",
                    "startTime": "09:00:00",
                    "finishAt": "13:00:00",
                    "isActive": True,
                    "description": "",
                    "specificDate": None,
                },
            ],
        },
        {
            "branchId": 6,
            "branchName": "Tienda online",
            "branchType": "ONLINE",
            "address": "",
            "schedules": [
                {
                    "id": 43,
                    "days": [*week, "SATURDAY", "SUNDAY"],
                    "daysDisplay": "Lunes, Martes, Miércoles, Jueves, Viernes, Sábado, Domingo",
                    "startTime": "08:00:00",
                    "finishAt": "22:00:00",
                    "isActive": True,
                    "description": "Atención virtual",
                    "specificDate": None,
                }
            ],
        },
    )


def _holiday(
    id: int, name: str, day: str, description: str, hours: tuple[str, str] | None = None
) -> dict[str, Any]:
    branch = hours is not None
    return {
        "id": id,
        "company": 12,
        "name": name,
        "description": description,
        "date": day,
        "branches": [5] if branch else [],
        "branchesDetail": [dict(_BRANCH)] if branch else [],
        "attentionTarget": "BRANCH" if branch else "ALL",
        "hasCustomHours": branch,
        "startTime": hours[0] if hours else None,
        "finishAt": hours[1] if hours else None,
        "isActive": True,
        "createdAt": "2025-12-10T14:30:00Z",
        "updatedAt": "2025-12-10T14:30:00Z",
    }


def _default_holidays() -> tuple[dict[str, Any], ...]:
    closed = "Cerrado todo el día"
    return (
        _holiday(7, "Navidad", "2025-12-25", closed),
        _holiday(8, "Año Nuevo", "2026-01-01", closed),
        _holiday(9, "Carnaval", "2026-02-16", closed),
        _holiday(10, "Día de la Memoria", "2026-03-24", closed),
        _holiday(11, "Nochebuena", "2026-12-24", "Horario reducido", ("09:00:00", "13:00:00")),
        _holiday(12, "Navidad", "2026-12-25", closed),
    )


def _to_key_frozenset(value: Iterable[str]) -> frozenset[str]:
    keys = frozenset(_to_str_tuple(value))
    for key in keys:
        _check_api_key(key)
    return keys


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def _frozen_scopes(value: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    scopes: dict[str, frozenset[str]] = {}
    for key, names in value.items():
        allowed = frozenset(_to_str_tuple(names))
        unknown = allowed - _ENDPOINT_NAMES
        if unknown:
            raise ValueError(
                f"api_key_scopes[{key!r}] names unknown endpoints {sorted(unknown)}; "
                f"known: {sorted(_ENDPOINT_NAMES)}"
            )
        scopes[key] = allowed
    return scopes


def _holiday_date(holiday: Mapping[str, Any]) -> date:
    try:
        return date.fromisoformat(holiday["date"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"a holiday needs a 'date' in YYYY-MM-DD, got {holiday!r}") from None


@attrs.frozen(init=False)
class EmulatorData:
    """Everything the emulated account holds. Immutable: build a new one to change it.

    Every argument is optional and keeps its default when left out:

    - ``api_keys``: the keys accepted in ``X-API-Key``;
    - ``phone_number_ids``: the sending numbers, by Meta id (each gets
      ``DEFAULT_TIER``), or ``phone_numbers``: ``PhoneNumber`` objects with
      their tier and display data (give one or the other);
    - ``templates``: looked up by ``(name, language)``;
    - ``contacts``: what contact-lookup finds;
    - ``business_info`` (an object), ``business_hours`` and ``holidays`` (lists
      of objects): answered as given, in the API's camelCase shape;
    - ``api_key_names``: key -> the ``apiKeyName`` business-accounts reports;
    - ``api_key_scopes``: key -> the endpoint names (``Endpoint.name``) it may
      call; a key not listed may call every endpoint; others answer 403;
    - ``expired_api_keys``: keys answered 401 "API Key expirada";
    - ``business_account_id``, ``business_name``: the one WhatsApp Business
      account holding the numbers and templates.
    """

    api_keys: frozenset[str] = attrs.field(converter=_to_key_frozenset)
    phone_numbers: tuple[PhoneNumber, ...] = attrs.field(converter=_tuple)
    templates: tuple[Template, ...] = attrs.field(converter=_tuple)
    contacts: tuple[Contact, ...] = attrs.field(converter=_tuple)
    business_info: Mapping[str, Any] = attrs.field(converter=_dict)
    business_hours: tuple[Mapping[str, Any], ...] = attrs.field(converter=_tuple)
    holidays: tuple[Mapping[str, Any], ...] = attrs.field(converter=_tuple)
    api_key_names: Mapping[str, str] = attrs.field(converter=_dict)
    api_key_scopes: Mapping[str, frozenset[str]] = attrs.field(converter=_frozen_scopes)
    expired_api_keys: frozenset[str] = attrs.field(converter=_to_key_frozenset)
    business_account_id: int = attrs.field(validator=attrs.validators.instance_of(int))
    business_name: str = attrs.field(validator=_STR)
    _by_key: dict[tuple[str, str], Template] = attrs.field(init=False, repr=False, eq=False)
    _numbers: dict[str, PhoneNumber] = attrs.field(init=False, repr=False, eq=False)
    _contacts: dict[str, Contact] = attrs.field(init=False, repr=False, eq=False)

    def __init__(
        self,
        api_keys: Iterable[str] | None = None,
        phone_number_ids: Iterable[str] | None = None,
        templates: Iterable[Template] | None = None,
        *,
        phone_numbers: Iterable[PhoneNumber] | None = None,
        contacts: Iterable[Contact] | None = None,
        business_info: Mapping[str, Any] | None = None,
        business_hours: Iterable[Mapping[str, Any]] | None = None,
        holidays: Iterable[Mapping[str, Any]] | None = None,
        api_key_names: Mapping[str, str] | None = None,
        api_key_scopes: Mapping[str, Iterable[str]] | None = None,
        expired_api_keys: Iterable[str] | None = None,
        business_account_id: int = 1,
        business_name: str = "Mindo Emulator WhatsApp Business",
    ) -> None:
        if phone_numbers is not None and phone_number_ids is not None:
            raise TypeError("give phone_number_ids or phone_numbers, not both")
        if phone_number_ids is not None:
            phone_numbers = [PhoneNumber(i) for i in sorted(_to_str_tuple(phone_number_ids))]
        self.__attrs_init__(
            api_keys=frozenset({DEFAULT_API_KEY}) if api_keys is None else api_keys,
            phone_numbers=_default_phone_numbers() if phone_numbers is None else phone_numbers,
            templates=_default_templates() if templates is None else templates,
            contacts=_default_contacts() if contacts is None else contacts,
            business_info=_default_business_info() if business_info is None else business_info,
            business_hours=(
                _default_business_hours() if business_hours is None else business_hours
            ),
            holidays=_default_holidays() if holidays is None else holidays,
            api_key_names={} if api_key_names is None else api_key_names,
            api_key_scopes={} if api_key_scopes is None else api_key_scopes,
            expired_api_keys=() if expired_api_keys is None else expired_api_keys,
            business_account_id=business_account_id,
            business_name=business_name,
        )

    def __attrs_post_init__(self) -> None:
        by_key: dict[tuple[str, str], Template] = {}
        for template in self.templates:
            if not isinstance(template, Template):
                raise TypeError(f"templates must be Template objects, got {template!r}")
            key = (template.name, template.language)
            if key in by_key:
                raise ValueError(
                    f"template {template.name!r} is defined twice for language "
                    f"{template.language!r}"
                )
            by_key[key] = template
        object.__setattr__(self, "_by_key", by_key)
        numbers: dict[str, PhoneNumber] = {}
        for index, number in enumerate(self.phone_numbers, start=1):
            if not isinstance(number, PhoneNumber):
                raise TypeError(f"phone_numbers must be PhoneNumber objects, got {number!r}")
            if number.phone_number_id in numbers:
                raise ValueError(f"phone number {number.phone_number_id!r} is defined twice")
            numbers[number.phone_number_id] = attrs.evolve(
                number,
                id=number.id if number.id is not None else index,
                display_phone_number=number.display_phone_number or f"+{number.phone_number_id}",
            )
        object.__setattr__(self, "_numbers", numbers)
        contacts: dict[str, Contact] = {}
        for index, contact in enumerate(self.contacts, start=1):
            if not isinstance(contact, Contact):
                raise TypeError(f"contacts must be Contact objects, got {contact!r}")
            if contact.phone in contacts:
                raise ValueError(f"two contacts have the phone number {contact.phone}")
            contacts[contact.phone] = (
                contact if contact.id is not None else attrs.evolve(contact, id=index)
            )
        object.__setattr__(self, "_contacts", contacts)
        for holiday in self.holidays:
            _holiday_date(holiday)
        for api_key in [*self.api_key_names, *self.api_key_scopes]:
            _check_api_key(api_key)

    @property
    def api_key(self) -> str:
        """The key to print or hand to a client: the default one if accepted, else the first."""
        if DEFAULT_API_KEY in self.api_keys:
            return DEFAULT_API_KEY
        return min(self.api_keys) if self.api_keys else ""

    @property
    def phone_number_ids(self) -> frozenset[str]:
        """The Meta ids of the account's sending numbers."""
        return frozenset(self._numbers)

    @property
    def company_name(self) -> str:
        """The company's name (``business_info["name"]``)."""
        return str(self.business_info.get("name", ""))

    def template(self, name: str, language: str) -> Template | None:
        """Return the template called ``name`` in ``language``, or None."""
        return self._by_key.get((name, language))

    def template_id(self, template: Template) -> int:
        """The internal id of ``template``: its own, else 45 + its place in ``templates``."""
        if template.id is not None:
            return template.id
        return 45 + self.templates.index(template)

    def number(self, phone_number_id: str) -> PhoneNumber | None:
        """The sending number with Meta id ``phone_number_id`` (ids filled in), or None."""
        return self._numbers.get(phone_number_id)

    def numbers(self) -> tuple[PhoneNumber, ...]:
        """Every sending number, in order, with ``id`` and display number filled in."""
        return tuple(self._numbers.values())

    def contact(self, phone: str) -> Contact | None:
        """The contact with that number (any accepted form), or None."""
        normalized = normalize_phone(phone)
        return self._contacts.get(normalized) if normalized is not None else None

    def holiday_date(self, holiday: Mapping[str, Any]) -> date:
        """The ``date`` of one of ``holidays``, parsed."""
        return _holiday_date(holiday)

    def key_name(self, api_key: str) -> str:
        """The ``apiKeyName`` of ``api_key``."""
        return self.api_key_names.get(api_key, "Emulator API Key")

    def may_call(self, api_key: str, endpoint_name: str) -> bool:
        """Whether ``api_key`` has access to the endpoint called ``endpoint_name``."""
        scope = self.api_key_scopes.get(api_key)
        return scope is None or endpoint_name in scope


# -- data files --------------------------------------------------------------------------

_TOP_LEVEL = (
    "api_keys",
    "phone_number_ids",
    "phone_numbers",
    "templates",
    "contacts",
    "business_info",
    "business_hours",
    "holidays",
    "api_key_names",
    "api_key_scopes",
    "expired_api_keys",
    "business_account_id",
    "business_name",
)


def data_from_mapping(raw: Mapping[str, Any]) -> EmulatorData:
    """Build ``EmulatorData`` from plain data (parsed JSON or TOML).

    Each top-level key given replaces the default for that key; keys left out
    keep the defaults. Unknown keys are refused, so a typo does not pass silently.
    """
    unknown = set(raw) - set(_TOP_LEVEL)
    if unknown:
        raise ValueError(
            f"unknown keys in emulator data: {sorted(unknown)}; known: {sorted(_TOP_LEVEL)}"
        )
    kwargs: dict[str, Any] = {}
    for name in ("api_keys", "phone_number_ids", "expired_api_keys"):
        if name in raw:
            kwargs[name] = _str_list(raw[name], name)
    if "phone_numbers" in raw:
        kwargs["phone_numbers"] = [
            _structure(PhoneNumber, item, f"phone_numbers[{i}]")
            for i, item in enumerate(_list(raw["phone_numbers"], "phone_numbers"))
        ]
    if "templates" in raw:
        kwargs["templates"] = [
            _template_from_mapping(t, i) for i, t in enumerate(_list(raw["templates"], "templates"))
        ]
    if "contacts" in raw:
        kwargs["contacts"] = [
            _structure(Contact, item, f"contacts[{i}]")
            for i, item in enumerate(_list(raw["contacts"], "contacts"))
        ]
    if "business_info" in raw:
        if not isinstance(raw["business_info"], Mapping):
            raise TypeError("'business_info' must be a table/object")
        kwargs["business_info"] = raw["business_info"]
    for name in ("business_hours", "holidays"):
        if name in raw:
            items = _list(raw[name], name)
            if not all(isinstance(item, Mapping) for item in items):
                raise TypeError(f"{name!r} must be a list of tables/objects")
            kwargs[name] = items
    for name in ("api_key_names", "api_key_scopes"):
        if name in raw:
            if not isinstance(raw[name], Mapping):
                raise TypeError(f"{name!r} must be a table/object")
            kwargs[name] = raw[name]
    for name in ("business_account_id", "business_name"):
        if name in raw:
            kwargs[name] = raw[name]
    return EmulatorData(**kwargs)


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{where!r} must be a list")
    return value


def _str_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{where!r} must be a list of strings")
    return value


def _structure(cls: type[Any], raw: object, where: str) -> Any:
    """``cls(**raw)`` for a flat attrs class, refusing unknown keys; validators check types."""
    if not isinstance(raw, Mapping):
        raise TypeError(f"{where} must be a table/object")
    known = {a.name for a in attrs.fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown keys in {where}: {sorted(unknown)}; known: {sorted(known)}")
    try:
        return cls(**raw)
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _template_from_mapping(raw: object, index: int) -> Template:
    where = f"templates[{index}]"
    if not isinstance(raw, Mapping):
        raise TypeError(f"{where} must be a table/object")
    known = {"name", "language", "status", "variables", "buttons", "category", "id"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown keys in {where}: {sorted(unknown)}; known: {sorted(known)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise TypeError(f"{where}.name must be a non-empty string")
    language = raw.get("language", "es")
    status = raw.get("status", "APPROVED")
    if not isinstance(language, str) or not isinstance(status, str):
        raise TypeError(f"{where}.language and {where}.status must be strings")
    variables: list[str | Variable] = []
    for variable_index, variable in enumerate(_list(raw.get("variables", []), where)):
        if isinstance(variable, str):
            variables.append(variable)
        else:
            variables.append(_structure(Variable, variable, f"{where}.variables[{variable_index}]"))
    buttons_raw = raw.get("buttons", [])
    if not isinstance(buttons_raw, list):
        raise TypeError(f"{where}.buttons must be a list")
    buttons = []
    for button_index, button in enumerate(buttons_raw):
        button_where = f"{where}.buttons[{button_index}]"
        if not isinstance(button, Mapping) or set(button) - {"type", "dynamic"}:
            raise TypeError(f"{button_where} must be a table/object with 'type' and 'dynamic'")
        button_type = button.get("type", "URL")
        dynamic = button.get("dynamic", True)
        if not isinstance(button_type, str) or not isinstance(dynamic, bool):
            raise TypeError(f"{button_where}: 'type' must be a string, 'dynamic' a boolean")
        buttons.append(Button(button_type, dynamic=dynamic))
    extra: dict[str, Any] = {k: raw[k] for k in ("category", "id") if k in raw}
    try:
        return Template(
            name,
            language=language,
            status=status,
            variables=variables,
            buttons=buttons,
            **extra,
        )
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None


def load_data(path: str | Path) -> EmulatorData:
    """Load emulator data from a ``.json`` file, or a ``.toml`` file on Python 3.11+.

    The file holds any of the top-level keys of ``EmulatorData`` (see
    ``docs/emulator.md``); keys left out keep their defaults.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        raw = json.loads(path.read_text(encoding="utf-8"))
    elif suffix == ".toml":
        if sys.version_info >= (3, 11):
            tomllib = importlib.import_module("tomllib")
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            raise ValueError(
                "TOML emulator data needs Python 3.11+ (tomllib); use a .json file on 3.10"
            )
    else:
        raise ValueError(f"emulator data must be a .json or .toml file, got {path.name!r}")
    if not isinstance(raw, dict):
        raise TypeError(f"{path.name}: the top level must be an object/table")
    return data_from_mapping(raw)
