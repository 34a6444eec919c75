"""What the emulated Mindo account holds: API keys, phone number ids and templates.

The defaults are the values used by the examples in the API reference
(``send-message.md``), so every example there runs against the emulator with
only the base URL and the API key changed.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from .._config import is_api_key

#: The API key the emulator accepts unless told otherwise.
DEFAULT_API_KEY = "mindo_emulator_0123456789abcdef"

#: The phone number id used by every example in the API reference.
DEFAULT_PHONE_NUMBER_ID = "813497231850626"


#: Template statuses as Meta reports them; only ``APPROVED`` can be sent.
TEMPLATE_STATUSES = frozenset({"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"})

#: Button types of WhatsApp templates.
BUTTON_TYPES = frozenset({"URL", "QUICK_REPLY", "PHONE_NUMBER", "COPY_CODE"})


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


def _to_button_tuple(value: Iterable[Button]) -> tuple[Button, ...]:
    return tuple(value)


def _to_template_tuple(value: Iterable[Template]) -> tuple[Template, ...]:
    return tuple(value)


def _to_id_frozenset(value: Iterable[str]) -> frozenset[str]:
    return frozenset(_to_str_tuple(value))


@attrs.frozen
class Button:
    """One button of a template, at the index given by its place in ``Template.buttons``.

    A ``dynamic`` button takes exactly one value through ``button_variables``
    (``button_<index>``): the URL suffix of a URL button, the payload of a
    quick-reply button, the code of a copy-code button.
    """

    type: str = attrs.field(default="URL")
    dynamic: bool = True

    @type.validator
    def _check_type(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if value not in BUTTON_TYPES:
            raise ValueError(f"button type must be one of {sorted(BUTTON_TYPES)}, got {value!r}")


@attrs.frozen
class Template:
    """A WhatsApp template of the emulated business account.

    ``variables`` are the names a send may fill through ``variables``;
    ``buttons`` are the template's buttons in order (index 0 is ``button_0``).
    """

    name: str
    language: str = "es"
    status: str = attrs.field(default="APPROVED")
    variables: tuple[str, ...] = attrs.field(default=(), converter=_to_str_tuple)
    buttons: tuple[Button, ...] = attrs.field(default=(), converter=_to_button_tuple)

    @status.validator
    def _check_status(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if value not in TEMPLATE_STATUSES:
            raise ValueError(
                f"template status must be one of {sorted(TEMPLATE_STATUSES)}, got {value!r}"
            )

    @property
    def approved(self) -> bool:
        """Whether the template can be sent."""
        return self.status == "APPROVED"


def _default_templates() -> tuple[Template, ...]:
    return (
        Template(
            "welcome_message",
            variables=("name", "code"),
            buttons=(Button("URL", dynamic=True),),
        ),
        Template("verification_code", variables=("name", "code")),
        Template("order_update", variables=("order_id", "status")),
        Template("promo_pending", status="PENDING", variables=("name",)),
    )


def _to_key_frozenset(value: Iterable[str]) -> frozenset[str]:
    keys = frozenset(_to_str_tuple(value))
    for key in keys:
        _check_api_key(key)
    return keys


@attrs.frozen
class EmulatorData:
    """Everything the emulated account holds. Immutable: build a new one to change it.

    ``api_keys`` are the keys accepted in ``X-API-Key``; ``phone_number_ids``
    the sending numbers of the account; ``templates`` its templates, looked up
    by ``(name, language)``.
    """

    api_keys: frozenset[str] = attrs.field(
        factory=lambda: frozenset({DEFAULT_API_KEY}), converter=_to_key_frozenset
    )
    phone_number_ids: frozenset[str] = attrs.field(
        factory=lambda: frozenset({DEFAULT_PHONE_NUMBER_ID}),
        converter=_to_id_frozenset,
    )
    templates: tuple[Template, ...] = attrs.field(
        factory=_default_templates, converter=_to_template_tuple
    )
    _by_key: dict[tuple[str, str], Template] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        by_key: dict[tuple[str, str], Template] = {}
        for template in self.templates:
            key = (template.name, template.language)
            if key in by_key:
                raise ValueError(
                    f"template {template.name!r} is defined twice for language "
                    f"{template.language!r}"
                )
            by_key[key] = template
        object.__setattr__(self, "_by_key", by_key)

    @property
    def api_key(self) -> str:
        """The key to print or hand to a client: the default one if accepted, else the first."""
        if DEFAULT_API_KEY in self.api_keys:
            return DEFAULT_API_KEY
        return min(self.api_keys) if self.api_keys else ""

    def template(self, name: str, language: str) -> Template | None:
        """Return the template called ``name`` in ``language``, or None."""
        return self._by_key.get((name, language))


def data_from_mapping(raw: Mapping[str, Any]) -> EmulatorData:
    """Build ``EmulatorData`` from plain data (parsed JSON or TOML).

    Each top-level key given replaces the default for that key; keys left out
    keep the defaults. Unknown keys are refused, so a typo does not pass silently.
    """
    known = {"api_keys", "phone_number_ids", "templates"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(
            f"unknown keys in emulator data: {sorted(unknown)}; known: {sorted(known)}"
        )
    kwargs: dict[str, Any] = {}
    if "api_keys" in raw:
        kwargs["api_keys"] = _str_list(raw["api_keys"], "api_keys")
    if "phone_number_ids" in raw:
        kwargs["phone_number_ids"] = _str_list(raw["phone_number_ids"], "phone_number_ids")
    if "templates" in raw:
        templates = raw["templates"]
        if not isinstance(templates, list):
            raise TypeError("'templates' must be a list of tables/objects")
        kwargs["templates"] = [_template_from_mapping(t, i) for i, t in enumerate(templates)]
    return EmulatorData(**kwargs)


def _str_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{where!r} must be a list of strings")
    return value


def _template_from_mapping(raw: object, index: int) -> Template:
    where = f"templates[{index}]"
    if not isinstance(raw, Mapping):
        raise TypeError(f"{where} must be a table/object")
    known = {"name", "language", "status", "variables", "buttons"}
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
    variables = _str_list(raw.get("variables", []), f"{where}.variables")
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
    return Template(name, language=language, status=status, variables=variables, buttons=buttons)


def load_data(path: str | Path) -> EmulatorData:
    """Load emulator data from a ``.json`` file, or a ``.toml`` file on Python 3.11+.

    The file holds any of ``api_keys``, ``phone_number_ids`` and ``templates``
    (see ``docs/emulator.md``); keys left out keep their defaults.
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
