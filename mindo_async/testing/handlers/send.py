"""``POST meta-templates/send/``: what the gateway answers, as pure functions (no I/O).

Checks run in this order, and the first that fails decides the answer:
authentication, body parsing, field presence and type (all fields at once,
like a Django REST framework serializer), phone number id, template existence
in that language, approval, then variables and button variables. The shell
then checks the number's quota (``quota_exceeded``) and Meta's rate limit, and
records the message (``_emulator.py``).

Messages quoted by ``send-message.md`` are reproduced to the letter; the
others (where the reference is silent) are the emulator's own and are listed
in ``docs/emulator.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from .._data import EmulatorData, PhoneNumber, Template
from .._state import Quota
from ._common import Reply, error, unauthenticated

REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NULL = "This field may not be null."
NOT_A_STRING = "Not a valid string."

_BUTTON_KEY = re.compile(r"button_(0|[1-9][0-9]*)")

#: The serializer's string fields, in declaration order (the order of field errors).
_STRING_FIELDS = (
    ("phone_number_id", True),
    ("template_name", True),
    ("language", False),
    ("recipient_phone", True),
)
_OBJECT_FIELDS = ("variables", "button_variables")


@attrs.frozen
class ValidSend:
    """A request that passed every check: what the gateway would send to Meta."""

    phone_number_id: str
    template_name: str
    language: str
    recipient_phone: str
    variables: Mapping[str, str]
    button_variables: Mapping[str, str]
    body: Mapping[str, Any]


def template_not_found(name: str, language: str) -> Reply:
    """The 404 answer for a template missing in that language."""
    return error(
        404,
        f"Template '{name}' (language: {language}) no encontrado en este business account",
        "not_found",
    )


def template_not_approved(name: str) -> Reply:
    """The 400 answer for a template that exists but is not APPROVED."""
    return error(400, f"Template '{name}' no tiene estado APPROVED", "bad_request")


def phone_number_not_found(phone_number_id: str) -> Reply:
    """The 404 answer for a phone number id the account does not have."""
    return error(404, f"Numero de WhatsApp con ID '{phone_number_id}' no encontrado", "not_found")


def quota_exceeded(number: PhoneNumber, quota: Quota) -> Reply:
    """The 400 answer for a new recipient when the number's 24-hour quota is used up.

    Undocumented by the API; the emulator's choice (``docs/emulator.md``). Not a
    429: nothing a client can do but wait for the window to roll, so retrying
    must not be suggested.
    """
    return Reply(
        400,
        {
            "success": False,
            "error": (
                "Límite diario de mensajes alcanzado para este número "
                f"({number.tier}: {quota.daily_limit} destinatarios únicos por 24 h)"
            ),
            "code": "quota_exceeded",
        },
        "quota_exceeded",
    )


def is_authenticated(data: EmulatorData, api_key: str | None) -> bool:
    """Whether ``api_key`` (the ``X-API-Key`` header, None if absent) is accepted."""
    return bool(api_key) and api_key in data.api_keys


def check_send(
    data: EmulatorData,
    api_key: str | None,
    raw_body: bytes,
    *,
    strict_variables: bool = True,
) -> Reply | ValidSend:
    """Decide what the gateway answers to a send (``POST`` to the send endpoint).

    ``strict_variables`` refuses a send that misses a required variable of the
    template or names one the template does not have; False accepts both.
    """
    if not is_authenticated(data, api_key):
        return unauthenticated()

    try:
        # Like DRF, an empty body is an empty form: every required field is missing.
        body = json.loads(raw_body.decode("utf-8")) if raw_body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return error(400, f"JSON parse error - {exc}", "bad_request")
    if not isinstance(body, dict):
        return error(
            400,
            f"The request body must be a JSON object, got {_json_type(body)}",
            "bad_request",
        )

    field_errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    for name, required in _STRING_FIELDS:
        if name not in body:
            if required:
                field_errors[name] = [REQUIRED]
            continue
        value = body[name]
        if value is None:
            field_errors[name] = [NULL]
        elif not isinstance(value, str):
            field_errors[name] = [NOT_A_STRING]
        elif not value.strip():
            field_errors[name] = [BLANK]
        else:
            # DRF's CharField trims surrounding whitespace.
            values[name] = value.strip()
    objects: dict[str, dict[str, Any]] = {}
    for name in _OBJECT_FIELDS:
        if name not in body:
            continue
        value = body[name]
        if value is None:
            field_errors[name] = [NULL]
        elif not isinstance(value, dict):
            field_errors[name] = [
                f'Expected a dictionary of items but got type "{type(value).__name__}".'
            ]
        else:
            objects[name] = value
    if field_errors:
        return Reply(400, field_errors, "bad_request")

    phone_number_id = values["phone_number_id"]
    template_name = values["template_name"]
    language = values.get("language", "es")
    if phone_number_id not in data.phone_number_ids:
        return phone_number_not_found(phone_number_id)
    template = data.template(template_name, language)
    if template is None:
        return template_not_found(template_name, language)
    if not template.approved:
        return template_not_approved(template_name)

    variables = objects.get("variables", {})
    button_variables = objects.get("button_variables", {})
    problem = _check_variables(template, variables, strict_variables) or _check_buttons(
        template, button_variables
    )
    if problem is not None:
        return error(400, problem, "bad_request")

    return ValidSend(
        phone_number_id=phone_number_id,
        template_name=template_name,
        language=language,
        recipient_phone=values["recipient_phone"],
        variables=variables,
        button_variables=button_variables,
        body=body,
    )


def _check_variables(template: Template, variables: Mapping[str, Any], strict: bool) -> str | None:
    names = template.variable_names
    unknown = [key for key in variables if key not in names]
    if unknown and strict:
        defined = ", ".join(names) or "none"
        return (
            f"Variables {', '.join(repr(k) for k in unknown)} are not defined in template "
            f"'{template.name}' (defined: {defined})"
        )
    for key, value in variables.items():
        if not isinstance(value, str):
            return f"Variable '{key}' must be a string, got {_json_type(value)}"
    missing = [name for name in template.required_variables if name not in variables]
    if missing and strict:
        return (
            f"Missing required variables {', '.join(repr(k) for k in missing)} for template "
            f"'{template.name}' (required: {', '.join(template.required_variables)})"
        )
    return None


def _check_buttons(template: Template, button_variables: Mapping[str, Any]) -> str | None:
    for key, value in button_variables.items():
        match = _BUTTON_KEY.fullmatch(key)
        if match is None:
            return f"Invalid button variable key '{key}': expected button_0, button_1, ..."
        index = int(match.group(1))
        if index >= len(template.buttons):
            return (
                f"Template '{template.name}' has no button at index {index} "
                f"({len(template.buttons)} button(s))"
            )
        button = template.buttons[index]
        if not button.dynamic:
            return f"Button {index} of template '{template.name}' takes no variable"
        if isinstance(value, list) and button.type == "URL":
            return f"URL buttons only support 1 variable ('{key}' got {len(value)})"
        if not isinstance(value, str):
            return f"Button variable '{key}' must be a string, got {_json_type(value)}"
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"
