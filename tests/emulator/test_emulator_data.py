"""The data file format (``mindo emulator --data``) with numbers, typed variables and contacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from mindo_async.testing import (
    Contact,
    EmulatorData,
    PhoneNumber,
    Template,
    Variable,
    load_data,
)

FILE: dict[str, Any] = {
    "api_keys": ["mindo_file_key_1"],
    "api_key_names": {"mindo_file_key_1": "From a file"},
    "phone_numbers": [
        {"phone_number_id": "111", "tier": "TIER_50", "display_phone_number": "+54 9 11 1111"}
    ],
    "templates": [
        {
            "name": "promo",
            "category": "MARKETING",
            "variables": [
                "name",
                {"name": "banner", "type": "IMAGE", "required": False, "component": "HEADER"},
            ],
        }
    ],
    "contacts": [{"phone": "5491112345678", "full_name": "Ana"}],
    "holidays": [{"id": 1, "date": "2026-07-09", "name": "Independencia"}],
    "business_info": {"id": 1, "name": "ACME"},
}


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    """``data`` as a JSON data file."""
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_data_file_fills_every_area(tmp_path: Path) -> None:
    """Numbers with tiers, typed variables, contacts, holidays and the profile load from JSON."""
    data = load_data(write(tmp_path, FILE))
    number = data.number("111")
    assert number is not None
    assert (number.tier, number.daily_limit, number.display_phone_number) == (
        "TIER_50",
        50,
        "+54 9 11 1111",
    )
    template = data.template("promo", "es")
    assert template is not None
    assert template.variables == (
        Variable("name", position=1),
        Variable("banner", type="IMAGE", required=False, position=2, component="HEADER"),
    )
    assert template.required_variables == ("name",)
    contact = data.contact("+5491112345678")
    assert contact is not None
    assert contact.full_name == "Ana"
    assert data.company_name == "ACME"
    assert data.key_name("mindo_file_key_1") == "From a file"
    assert data.templates == (template,)
    assert len(data.business_hours) == len(EmulatorData().business_hours)  # default kept


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"phone_numbers": [{"phone_number_id": "1", "tier": "TIER_7"}]}, ValueError, "tier"),
        ({"phone_numbers": [{"phone_number_id": "1", "color": "x"}]}, ValueError, "color"),
        (
            {"templates": [{"name": "t", "variables": [{"name": "a", "type": "NUM"}]}]},
            ValueError,
            "type",
        ),
        (
            {"templates": [{"name": "t", "variables": [{"name": "a", "req": True}]}]},
            ValueError,
            "req",
        ),
        ({"contacts": [{"phone": "12"}]}, ValueError, "not a phone number"),
        ({"holidays": [{"date": "tomorrow"}]}, ValueError, "YYYY-MM-DD"),
        ({"business_info": []}, TypeError, "business_info"),
    ],
)
def test_bad_data_is_refused_with_its_place(
    tmp_path: Path, change: dict[str, Any], error: type[Exception], match: str
) -> None:
    """A wrong tier, type, key, phone or date in a data file is refused, naming it."""
    with pytest.raises(error, match=match):
        load_data(write(tmp_path, change))


def test_numbers_by_id_or_by_object_but_not_both() -> None:
    """phone_number_ids gives numbers the default tier; phone_numbers gives them in full."""
    by_id = EmulatorData(phone_number_ids=["2", "1"])
    assert [(n.phone_number_id, n.id, n.tier) for n in by_id.numbers()] == [
        ("1", 1, "TIER_100000"),
        ("2", 2, "TIER_100000"),
    ]
    with pytest.raises(TypeError, match="not both"):
        EmulatorData(phone_number_ids=["1"], phone_numbers=[PhoneNumber("1")])


def test_evolve_keeps_everything_else() -> None:
    """attrs.evolve changes one field of EmulatorData and keeps the others (the command uses it)."""
    data = EmulatorData(templates=[Template("x")], contacts=[Contact("+5491112345678")])
    changed = attrs.evolve(data, api_keys=["mindo_other_key"])
    assert changed.api_keys == {"mindo_other_key"}
    assert (changed.templates, changed.contacts, changed.phone_numbers) == (
        data.templates,
        data.contacts,
        data.phone_numbers,
    )
