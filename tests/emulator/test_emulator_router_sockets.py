"""The router over real loopback sockets (uvicorn's raw_path has no query string)."""

from __future__ import annotations

import httpx

from mindo_async._endpoints import CONTACT_LOOKUP, HOLIDAYS, MESSAGE_STATUS, SEND
from mindo_async.testing import (
    DEFAULT_PHONE_NUMBER_ID,
    NOT_FOUND_HTML,
    Emulator,
    VirtualClock,
    serve,
)

WAMID = "wamid.AB/CD+EF=="


def test_get_endpoints_route_over_sockets() -> None:
    """Encoded wamids, query strings, Django's 404 and DRF's 405 behave the same over sockets."""
    clock = VirtualClock()
    emulator = Emulator(clock=clock)
    emulator.state.record_message(
        message_id=WAMID,
        template_id=45,
        template_name="welcome_message",
        language="es",
        category="MARKETING",
        phone_number_id=DEFAULT_PHONE_NUMBER_ID,
        recipient_phone="+5491112345678",
        variables={},
        sent_at=clock.now(),
    )
    with (
        serve(emulator) as server,
        httpx.Client(base_url=server.base_url, headers={"X-API-Key": server.api_key}) as http,
    ):
        status = http.get(MESSAGE_STATUS.format_path({"message_id": WAMID}))
        assert status.status_code == 200
        assert status.json()["meta_message_id"] == WAMID
        lookup = http.get(CONTACT_LOOKUP.path, params={"phone": "+54 223 15-596-1983"})
        assert lookup.json()["found"] is True
        holidays = http.get(HOLIDAYS.path, params={"from": "2026-12-24", "to": "2026-12-24"})
        assert [h["date"] for h in holidays.json()] == ["2026-12-24"]
        missing = http.get("/api/v1/nothing/")
        assert (missing.status_code, missing.text) == (404, NOT_FOUND_HTML)
        wrong = http.get(SEND.path)
        assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST, OPTIONS")
        advanced = http.post("/_emulator/clock/advance", params={"seconds": "30"})
        assert advanced.status_code == 200
    assert (clock.now() - emulator.state.messages()[0].sent_at).total_seconds() == 30
