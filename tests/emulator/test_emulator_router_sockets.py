"""The router over real loopback sockets (uvicorn's raw_path has no query string)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from mindo_async._endpoints import CONTACT_LOOKUP, HOLIDAYS, MESSAGE_STATUS, SEND
from mindo_async.testing import (
    DEFAULT_API_KEY,
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


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_command_with_a_virtual_clock_moves_it_through_the_control_path() -> None:
    """`--virtual-clock`: statuses stay put until POST /_emulator/clock/advance moves time."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mindo_async.testing", "--port", "0", "--virtual-clock"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        printed = ""
        while "Ctrl-C" not in printed:
            line = process.stdout.readline()
            assert line, "the command stopped before printing its banner"
            printed += line
        base_url = printed.split("base URL:")[1].split()[0]
        assert f"control:  {base_url}/_emulator/" in printed
        with httpx.Client(base_url=base_url, headers={"X-API-Key": DEFAULT_API_KEY}) as http:
            body = {
                "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
                "template_name": "order_update",
                "recipient_phone": "+5491112345678",
            }
            sent = http.post(SEND.path, json=body).json()
            assert sent["sent_at"] == "2025-11-16T21:30:00Z"
            path = MESSAGE_STATUS.format_path({"message_id": sent["message_id"]})
            assert http.get(path).json()["delivery_status"]["current"] == "sent"
            moved = http.post("/_emulator/clock/advance", params={"seconds": "86400"})
            assert moved.json() == {"now": "2025-11-17T21:30:00Z"}
            assert http.get(path).json()["delivery_status"]["current"] != "sent"
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0
