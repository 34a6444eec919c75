"""contact-lookup: number normalisation, found/not found, replies and the 24-hour session window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mindo_async._endpoints import CONTACT_LOOKUP
from mindo_async.testing import Contact, Emulator, EmulatorData, VirtualClock, normalize_phone

from .conftest import Call

#: The reference's table of equivalent forms (contact-lookup page).
FORMS = [
    "+5492235961983",
    "5492235961983",
    "+54223155961983",
    "54223155961983",
    "+54 223 15-596-1983",
]


@pytest.mark.anyio
@pytest.mark.parametrize("phone", FORMS)
async def test_every_documented_form_finds_the_contact(api: Call, phone: str) -> None:
    """Each form of the reference's table finds the seeded contact, stored in E.164."""
    response = await api(Emulator(), "GET", CONTACT_LOOKUP.path, params={"phone": phone})
    assert response.status_code == 200
    body = response.json()
    assert body["found"] is True
    assert body["contact"]["phone"] == "+5492235961983"
    assert body["contact"]["fullName"] == "Juan Perez"
    assert normalize_phone(phone) == "+5492235961983"


@pytest.mark.anyio
@pytest.mark.parametrize("phone", ["+5491199999999", "not a number"])
async def test_an_unknown_number_is_200_not_found(api: Call, phone: str) -> None:
    """No contact (or no number at all): 200, found false, contact null, no window."""
    response = await api(Emulator(), "GET", CONTACT_LOOKUP.path, params={"phone": phone})
    assert response.status_code == 200
    assert response.json() == {
        "found": False,
        "contact": None,
        "hasReplied": False,
        "lastReplyAt": None,
        "sessionWindowActive": False,
        "sessionExpiresAt": None,
    }


@pytest.mark.anyio
@pytest.mark.parametrize("params", [{}, {"phone": ""}, {"phone": "  "}])
async def test_a_missing_phone_answers_400(api: Call, params: dict[str, str]) -> None:
    """Without ``phone`` (or blank): 400 {"phone": ["Este campo es requerido."]}."""
    response = await api(Emulator(), "GET", CONTACT_LOOKUP.path, params=params)
    assert response.status_code == 400
    assert response.json() == {"phone": ["Este campo es requerido."]}


@pytest.mark.anyio
async def test_a_reply_opens_a_24_hour_session_window(api: Call, clock: VirtualClock) -> None:
    """reply() marks hasReplied and opens the window for 24 h on the clock; then it closes."""
    emulator = Emulator(clock=clock)

    async def lookup() -> dict[str, object]:
        response = await api(emulator, "GET", CONTACT_LOOKUP.path, params={"phone": FORMS[2]})
        result: dict[str, object] = response.json()
        return result

    assert (await lookup())["hasReplied"] is False
    replied = clock.now()
    assert emulator.reply(FORMS[4]) == "+5492235961983"
    expires = (replied + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    clock.advance(timedelta(hours=23, minutes=59))
    body = await lookup()
    assert body["hasReplied"] is True
    assert body["lastReplyAt"] == replied.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (body["sessionWindowActive"], body["sessionExpiresAt"]) == (True, expires)
    clock.advance(timedelta(minutes=1))
    body = await lookup()
    assert (body["hasReplied"], body["sessionWindowActive"], body["sessionExpiresAt"]) == (
        True,
        False,
        None,
    )
    with pytest.raises(ValueError):
        emulator.reply("nope")


@pytest.mark.anyio
async def test_seeded_contacts_are_found_by_any_form(api: Call) -> None:
    """Contacts given in EmulatorData are stored in E.164 and numbered when no id is given."""
    data = EmulatorData(contacts=[Contact("011 15-2345-6789", full_name="Ana", contact_list_id=9)])
    response = await api(
        Emulator(data), "GET", CONTACT_LOOKUP.path, params={"phone": "+5491123456789"}
    )
    contact = response.json()["contact"]
    assert (contact["phone"], contact["fullName"], contact["id"], contact["contactListId"]) == (
        "+5491123456789",
        "Ana",
        1,
        9,
    )
    with pytest.raises(ValueError, match="not a phone number"):
        Contact("123")
