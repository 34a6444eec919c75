"""business-accounts from the one data set send checks; strict variables; auth on every endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from mindo_async._endpoints import (
    BUSINESS_ACCOUNTS,
    BUSINESS_HOURS,
    BUSINESS_INFO,
    CONTACT_LOOKUP,
    ENDPOINTS,
    HOLIDAYS,
    SEND,
    Endpoint,
)
from mindo_async.testing import (
    DEFAULT_API_KEY,
    DEFAULT_PHONE_NUMBER_ID,
    Emulator,
    EmulatorData,
    PhoneNumber,
    Template,
    Variable,
)

from .conftest import Call

UNAUTHENTICATED = {"error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)"}


def send_body(**changes: Any) -> dict[str, Any]:
    """A valid welcome_message send with ``changes``."""
    return {
        "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
        "template_name": "welcome_message",
        "recipient_phone": "+5491112345678",
        "variables": {"name": "Juan"},
        **changes,
    }


@pytest.mark.anyio
async def test_business_accounts_reports_what_send_checks(api: Call) -> None:
    """Every reported number and template can be sent with; unapproved ones are not reported."""
    data = EmulatorData(
        phone_numbers=[PhoneNumber("111", tier="TIER_250"), PhoneNumber("222", is_primary=True)],
        templates=[
            Template("a", variables=[Variable("total", type="CURRENCY"), "note"]),
            Template("b", language="en", category="UTILITY"),
            Template("c", status="REJECTED"),
        ],
    )
    emulator = Emulator(data)
    answer = (await api(emulator, "GET", BUSINESS_ACCOUNTS.path)).json()
    (account,) = answer["businessAccounts"]
    numbers = {n["phoneNumberId"]: n for n in account["phoneNumbers"]}
    assert {k: n["messagingLimitTier"] for k, n in numbers.items()} == {
        "111": "TIER_250",
        "222": "TIER_100000",
    }
    assert numbers["222"]["isPrimary"] is True
    assert [(t["name"], t["language"], t["category"]) for t in account["templates"]] == [
        ("a", "es", "MARKETING"),
        ("b", "en", "UTILITY"),
    ]
    assert account["templates"][0]["variables"] == [
        {
            "name": "total",
            "type": "CURRENCY",
            "position": 1,
            "isRequired": True,
            "component": "BODY",
        },
        {"name": "note", "type": "TEXT", "position": 2, "isRequired": True, "component": "BODY"},
    ]
    for number in numbers:
        for template in account["templates"]:
            body = {
                "phone_number_id": number,
                "template_name": template["name"],
                "language": template["language"],
                "recipient_phone": "+5491112345678",
                "variables": {v["name"]: "1" for v in template["variables"]},
            }
            assert (await api(emulator, "POST", SEND.path, json=body)).status_code == 200


@pytest.mark.anyio
async def test_default_account_fits_the_demo(api: Call) -> None:
    """The default number has a tier far above a demo's few thousand recipients."""
    answer = (await api(Emulator(), "GET", BUSINESS_ACCOUNTS.path)).json()
    assert answer["apiKeyName"] == "Emulator API Key"
    (number,) = answer["businessAccounts"][0]["phoneNumbers"]
    assert number["phoneNumberId"] == DEFAULT_PHONE_NUMBER_ID
    assert number["quota"]["dailyLimit"] >= 10_000
    names = [t["name"] for t in answer["businessAccounts"][0]["templates"]]
    assert names == ["welcome_message", "verification_code", "order_update"]


@pytest.mark.anyio
async def test_quota_counts_distinct_recipients_of_real_sends(api: Call) -> None:
    """uniqueNumbersSent24h grows by distinct recipient, not by message."""
    emulator = Emulator()
    for phone in ("+5491112345678", "+5491112345678", "+5491187654321"):
        await api(emulator, "POST", SEND.path, json=send_body(recipient_phone=phone))
    answer = (await api(emulator, "GET", BUSINESS_ACCOUNTS.path)).json()
    quota = answer["businessAccounts"][0]["phoneNumbers"][0]["quota"]
    assert quota["uniqueNumbersSent24h"] == 2
    assert quota["remaining"] == quota["dailyLimit"] - 2


@pytest.mark.anyio
async def test_a_missing_required_variable_is_refused(api: Call) -> None:
    """welcome_message without its required ``name`` answers 400 naming it; ``code`` is optional."""
    emulator = Emulator()
    response = await api(emulator, "POST", SEND.path, json=send_body(variables={"code": "X"}))
    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    assert "'name'" in response.json()["error"]
    assert "welcome_message" in response.json()["error"]
    ok = await api(emulator, "POST", SEND.path, json=send_body(variables={"name": "J"}))
    assert ok.status_code == 200
    assert len(emulator.ledger.messages) == 1


@pytest.mark.anyio
async def test_strict_variables_false_accepts_missing_and_unknown(api: Call) -> None:
    """With strict_variables=False, missing required and unknown variables are accepted."""
    emulator = Emulator(strict_variables=False)
    for variables in ({}, {"name": "J", "coupon": "X"}):
        body = send_body(variables=variables)
        assert (await api(emulator, "POST", SEND.path, json=body)).status_code == 200
    strict = await api(Emulator(), "POST", SEND.path, json=send_body(variables={}))
    assert strict.status_code == 400


def _path(endpoint: Endpoint) -> str:
    return endpoint.format_path(dict.fromkeys(endpoint.path_params, "x"))


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
async def test_every_endpoint_wants_a_valid_key(api: Call, endpoint: Endpoint) -> None:
    """No key, an unknown key: 401 with the documented message, on every endpoint."""
    emulator = Emulator()
    for key in (None, "", "mindo_unknown_key"):
        response = await api(emulator, endpoint.method, _path(endpoint), key=key, json={})
        assert response.status_code == 401
        assert response.json() == UNAUTHENTICATED


@pytest.mark.anyio
async def test_an_expired_key_gets_its_own_401(api: Call) -> None:
    """A key listed as expired answers 401 "API Key expirada"."""
    old = "mindo_old_key_000"
    emulator = Emulator(EmulatorData(api_keys=[DEFAULT_API_KEY], expired_api_keys=[old]))
    response = await api(emulator, "GET", BUSINESS_INFO.path, key=old)
    assert response.status_code == 401
    assert response.json() == {"error": "API Key expirada"}


@pytest.mark.anyio
async def test_a_key_without_access_gets_403(api: Call) -> None:
    """A key scoped to some endpoints answers 403 on the others, and 200 on its own."""
    reader = "mindo_reader_key_01"
    data = EmulatorData(
        api_keys=[DEFAULT_API_KEY, reader],
        api_key_scopes={reader: [BUSINESS_INFO.name, HOLIDAYS.name]},
        api_key_names={reader: "Read-only key"},
    )
    emulator = Emulator(data)
    for endpoint in (BUSINESS_ACCOUNTS, BUSINESS_HOURS, CONTACT_LOOKUP, SEND):
        response = await api(emulator, endpoint.method, endpoint.path, key=reader, json={})
        assert response.status_code == 403
        assert response.json() == {"error": "API Key no tiene acceso a este recurso"}
    for endpoint in (BUSINESS_INFO, HOLIDAYS):
        assert (await api(emulator, "GET", endpoint.path, key=reader)).status_code == 200
    answer = await api(emulator, "GET", BUSINESS_ACCOUNTS.path)
    assert answer.json()["apiKeyName"] == "Emulator API Key"
    with pytest.raises(ValueError, match="unknown endpoints"):
        EmulatorData(api_key_scopes={reader: ["business.nope"]})
