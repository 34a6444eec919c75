"""The emulator in-process (httpx.ASGITransport): answers, checks order, ledger, faults, data."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import mindo_async.testing
from mindo_async.testing import (
    DEFAULT_API_KEY,
    SEND_PATH,
    Button,
    Emulator,
    EmulatorData,
    Fault,
    FaultConfig,
    Ledger,
    LedgerEntry,
    Template,
    load_data,
)

WAMID = re.compile(r"wamid\.[A-Za-z0-9+/]+={0,2}")
SENT_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
PHONE_ID = "813497231850626"

WELCOME = {
    "phone_number_id": PHONE_ID,
    "template_name": "welcome_message",
    "language": "es",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}


async def post(
    emulator: Emulator,
    body: Any = None,
    *,
    key: str | None = DEFAULT_API_KEY,
    method: str = "POST",
    path: str = SEND_PATH,
    content: bytes | None = None,
) -> httpx.Response:
    """Send one request to ``emulator`` in-process."""
    headers = {"X-API-Key": key} if key is not None else {}
    if content is None and body is not None:
        content = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.request(method, path, content=content, headers=headers)


def with_(**changes: Any) -> dict[str, Any]:
    """The welcome body with ``changes`` applied (a value of ``...`` removes the key)."""
    body = {**WELCOME, **changes}
    return {k: v for k, v in body.items() if v is not ...}


# -- answers to the letter ---------------------------------------------------------------


@pytest.mark.anyio
async def test_success_body_has_exactly_the_documented_fields() -> None:
    """A valid send answers 200 with exactly the six documented fields, in order."""
    response = await post(Emulator(), WELCOME)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert list(data) == [
        "success",
        "message_id",
        "template_name",
        "recipient_phone",
        "status",
        "sent_at",
    ]
    assert data["success"] is True
    assert data["template_name"] == "welcome_message"
    assert data["recipient_phone"] == "+5491112345678"
    assert data["status"] == "sent"
    assert WAMID.fullmatch(data["message_id"])
    assert SENT_AT.fullmatch(data["sent_at"])
    sent_at = datetime.strptime(data["sent_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - sent_at).total_seconds()) < 5


@pytest.mark.anyio
async def test_message_id_is_a_meta_shaped_wamid_carrying_the_recipient() -> None:
    """The wamid decodes to Meta's layout: the recipient's digits and an 18-character hex id."""
    data = (await post(Emulator(), WELCOME)).json()
    raw = base64.b64decode(data["message_id"].removeprefix("wamid."), validate=True)
    assert raw.startswith(b"\x1c\x18\x0d5491112345678\x15\x02\x00\x11\x18\x12")
    assert re.fullmatch(rb"[0-9A-F]{18}\x00", raw[-19:])


@pytest.mark.anyio
async def test_message_ids_are_deterministic_under_a_seed_and_unique() -> None:
    """Two emulators with the same seed give the same wamids; within one they never repeat."""

    async def ids(seed: int | None) -> list[str]:
        emulator = Emulator(seed=seed)
        return [(await post(emulator, WELCOME)).json()["message_id"] for _ in range(5)]

    first, second = await ids(7), await ids(7)
    assert first == second
    assert len(set(first)) == 5
    assert await ids(8) != first


@pytest.mark.anyio
async def test_missing_required_fields_answer_drf_field_errors() -> None:
    """Each missing required field gets ["This field is required."], in serializer order."""
    response = await post(Emulator(), {"template_name": "welcome_message"})
    assert response.status_code == 400
    assert response.json() == {
        "phone_number_id": ["This field is required."],
        "recipient_phone": ["This field is required."],
    }
    assert list(response.json()) == ["phone_number_id", "recipient_phone"]


@pytest.mark.anyio
async def test_blank_null_and_non_string_fields_answer_drf_field_errors() -> None:
    """Blank, null and non-string fields get DRF's own messages, all fields at once."""
    body = with_(phone_number_id="  ", template_name=None, recipient_phone=5491112345678)
    response = await post(Emulator(), body)
    assert response.status_code == 400
    assert response.json() == {
        "phone_number_id": ["This field may not be blank."],
        "template_name": ["This field may not be null."],
        "recipient_phone": ["Not a valid string."],
    }


@pytest.mark.anyio
async def test_variables_that_are_not_objects_answer_drf_field_errors() -> None:
    """``variables`` and ``button_variables`` must be JSON objects, as DRF's DictField says."""
    response = await post(Emulator(), with_(variables=["Juan"], button_variables=None))
    assert response.status_code == 400
    assert response.json() == {
        "variables": ['Expected a dictionary of items but got type "list".'],
        "button_variables": ["This field may not be null."],
    }


@pytest.mark.anyio
async def test_empty_body_is_every_required_field_missing() -> None:
    """An empty body is an empty form, as in DRF: all three required fields are missing."""
    response = await post(Emulator(), content=b"")
    assert response.status_code == 400
    assert response.json() == {
        "phone_number_id": ["This field is required."],
        "template_name": ["This field is required."],
        "recipient_phone": ["This field is required."],
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "JSON parse error - "),
        (b"\xff\xfe", "JSON parse error - "),
        (b"[1, 2]", "must be a JSON object, got list"),
        (b'"text"', "must be a JSON object, got string"),
    ],
)
async def test_malformed_or_non_object_bodies_answer_400_error(
    content: bytes, fragment: str
) -> None:
    """A body that is not JSON, or not a JSON object, answers 400 with {"error": ...}."""
    response = await post(Emulator(), content=content)
    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    assert fragment in response.json()["error"]


@pytest.mark.anyio
@pytest.mark.parametrize("key", [None, "", "mindo_not_a_known_key"])
async def test_missing_or_unknown_api_key_answers_the_401_message(key: str | None) -> None:
    """A missing, empty or unknown X-API-Key answers 401 with the reference's message."""
    response = await post(Emulator(), WELCOME, key=key)
    assert response.status_code == 401
    assert response.json() == {
        "error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)"
    }


@pytest.mark.anyio
async def test_unknown_phone_number_id_answers_the_404_message() -> None:
    """A phone number id the account lacks answers 404 with the reference's message."""
    response = await post(Emulator(), with_(phone_number_id="999"))
    assert response.status_code == 404
    assert response.json() == {"error": "Numero de WhatsApp con ID '999' no encontrado"}


@pytest.mark.anyio
async def test_unknown_template_or_language_answers_the_404_message() -> None:
    """A template missing in the requested language answers 404 naming template and language."""
    emulator = Emulator()
    response = await post(emulator, with_(template_name="nope"))
    assert response.status_code == 404
    assert response.json() == {
        "error": "Template 'nope' (language: es) no encontrado en este business account"
    }
    response = await post(emulator, with_(language="en"))
    assert response.json() == {
        "error": "Template 'welcome_message' (language: en) no encontrado en este business account"
    }


@pytest.mark.anyio
async def test_template_not_approved_answers_the_400_message() -> None:
    """A template that exists but is not APPROVED answers 400 'no tiene estado APPROVED'."""
    response = await post(Emulator(), with_(template_name="promo_pending", button_variables=...))
    assert response.status_code == 400
    assert response.json() == {"error": "Template 'promo_pending' no tiene estado APPROVED"}


@pytest.mark.anyio
async def test_language_defaults_to_es() -> None:
    """Without ``language`` the template is looked up in "es" and the ledger records "es"."""
    emulator = Emulator()
    response = await post(emulator, with_(language=...))
    assert response.status_code == 200
    assert emulator.ledger.messages[0].language == "es"


@pytest.mark.anyio
async def test_variables_may_be_partial_but_not_unknown() -> None:
    """A subset of the template's variables is accepted; a name it lacks answers 400."""
    emulator = Emulator()
    assert (await post(emulator, with_(variables={"name": "Juan"}))).status_code == 200
    response = await post(emulator, with_(variables={"name": "Juan", "coupon": "X"}))
    assert response.status_code == 400
    assert "'coupon'" in response.json()["error"]
    assert "welcome_message" in response.json()["error"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"variables": {"name": 5}}, "Variable 'name' must be a string, got number"),
        ({"button_variables": {"button_1": "x"}}, "has no button at index 1"),
        ({"button_variables": {"btn0": "x"}}, "Invalid button variable key 'btn0'"),
        ({"button_variables": {"button_0": ["a", "b"]}}, "URL buttons only support 1 variable"),
        ({"button_variables": {"button_0": 3}}, "must be a string, got number"),
        (
            {"template_name": "order_update", "variables": {}},
            "has no button at index 0",
        ),
    ],
)
async def test_variable_mismatches_answer_400_error(changes: dict[str, Any], fragment: str) -> None:
    """Wrong variables or button variables answer 400 {"error": ...} and are not in the ledger."""
    emulator = Emulator()
    response = await post(emulator, with_(**changes))
    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    assert fragment in response.json()["error"]
    assert emulator.ledger.messages == ()


@pytest.mark.anyio
async def test_static_buttons_take_no_variable() -> None:
    """A button that is not dynamic refuses a value."""
    data = EmulatorData(templates=[Template("t", buttons=[Button("QUICK_REPLY", dynamic=False)])])
    response = await post(
        Emulator(data), with_(template_name="t", variables=..., button_variables={"button_0": "x"})
    )
    assert response.status_code == 400
    assert "takes no variable" in response.json()["error"]


@pytest.mark.anyio
async def test_checks_run_in_the_documented_order() -> None:
    """Auth, then parsing, then presence, then phone number, template, approval, variables."""
    emulator = Emulator()
    everything_wrong = {"phone_number_id": "1", "template_name": "promo_pending"}
    assert (await post(emulator, content=b"{bad", key="mindo_wrong")).status_code == 401
    assert (await post(emulator, content=b"{bad")).status_code == 400
    presence = await post(emulator, everything_wrong)
    assert presence.json() == {"recipient_phone": ["This field is required."]}
    wrong_phone = {**everything_wrong, "recipient_phone": "+1", "variables": {"x": "y"}}
    assert "Numero de WhatsApp" in (await post(emulator, wrong_phone)).json()["error"]
    wrong_template = {**wrong_phone, "phone_number_id": PHONE_ID, "language": "en"}
    assert "no encontrado" in (await post(emulator, wrong_template)).json()["error"]
    not_approved = {**wrong_template, "language": "es"}
    assert "APPROVED" in (await post(emulator, not_approved)).json()["error"]
    bad_variables = {**not_approved, "template_name": "order_update"}
    assert "not defined" in (await post(emulator, bad_variables)).json()["error"]


@pytest.mark.anyio
async def test_surrounding_whitespace_is_trimmed_like_drf() -> None:
    """String fields are trimmed before use, as DRF's CharField does."""
    emulator = Emulator()
    response = await post(emulator, with_(recipient_phone=" +5491112345678 "))
    assert response.json()["recipient_phone"] == "+5491112345678"


@pytest.mark.anyio
async def test_wrong_path_answers_404_and_wrong_method_405_after_auth() -> None:
    """An unknown path answers Django's 404 page; a GET answers 401 without a key, 405 with one."""
    emulator = Emulator()
    response = await post(emulator, WELCOME, path="/api/v1/meta-templates/send")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert (await post(emulator, method="GET", key=None)).status_code == 401
    response = await post(emulator, method="GET")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST, OPTIONS"
    assert response.json() == {"detail": 'Method "GET" not allowed.'}
    counts = emulator.ledger.counts
    assert (counts["not_found"], counts["unauthorized"], counts["method_not_allowed"]) == (1, 1, 1)


@pytest.mark.anyio
async def test_unknown_top_level_fields_are_ignored() -> None:
    """Fields the serializer does not declare are ignored, as DRF does."""
    assert (await post(Emulator(), with_(priority="high"))).status_code == 200


@pytest.mark.anyio
async def test_oversized_body_answers_400() -> None:
    """A body over Django's 2.5 MB upload limit answers 400."""
    response = await post(Emulator(), content=b" " * 2_700_000)
    assert response.status_code == 400
    assert "exceeds" in response.json()["error"]


# -- ledger -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ledger_records_accepted_messages_with_their_request() -> None:
    """Each accepted message is in the ledger with its wamid, parsed body, fields and time."""
    emulator = Emulator()
    before = datetime.now(timezone.utc)
    answer = (await post(emulator, WELCOME)).json()
    (entry,) = emulator.ledger.messages
    assert isinstance(entry, LedgerEntry)
    assert entry.message_id == answer["message_id"]
    assert entry.sent_at == answer["sent_at"]
    assert entry.body == WELCOME
    assert entry.variables == WELCOME["variables"]
    assert entry.button_variables == {"button_0": "ABC-123"}
    assert (entry.phone_number_id, entry.template_name, entry.language) == (
        PHONE_ID,
        "welcome_message",
        "es",
    )
    assert before <= entry.received_at <= datetime.now(timezone.utc)
    assert entry.outcome == "sent"


@pytest.mark.anyio
async def test_ledger_queries_and_duplicates() -> None:
    """by_recipient, by_template and duplicates() find what was accepted, and only that."""
    emulator = Emulator()
    other = with_(recipient_phone="+5491100000000", template_name="order_update", variables={})
    other.pop("button_variables")
    for body in (WELCOME, other, WELCOME, WELCOME):
        assert (await post(emulator, body)).status_code == 200
    await post(emulator, with_(template_name="nope"))
    ledger = emulator.ledger
    assert len(ledger.by_recipient("+5491112345678")) == 3
    assert [m.recipient_phone for m in ledger.by_template("order_update")] == ["+5491100000000"]
    (group,) = ledger.duplicates()
    assert len(group) == 3
    assert {m.body_key() for m in group} == {ledger.messages[0].body_key()}
    assert ledger.counts["sent"] == 4
    assert ledger.counts["not_found"] == 1
    assert ledger.counts["total_requests"] == 5


@pytest.mark.anyio
async def test_bodies_differing_only_in_key_order_are_duplicates() -> None:
    """duplicates() compares parsed bodies, so key order does not hide a double send."""
    emulator = Emulator()
    await post(emulator, WELCOME)
    await post(emulator, dict(reversed(list(WELCOME.items()))))
    assert len(emulator.ledger.duplicates()) == 1


@pytest.mark.anyio
async def test_ledger_clear_forgets_messages_and_counts() -> None:
    """clear() empties messages and counts."""
    emulator = Emulator()
    await post(emulator, WELCOME)
    emulator.ledger.clear()
    assert emulator.ledger.messages == ()
    assert emulator.ledger.counts["total_requests"] == 0
    assert emulator.ledger.duplicates() == []


@pytest.mark.anyio
async def test_ledger_limit_keeps_the_newest_messages_and_every_count() -> None:
    """With ledger_limit, only the newest messages are kept; counts and accepted cover all."""
    emulator = Emulator(ledger_limit=2)
    for index in range(3):
        await post(emulator, with_(recipient_phone=f"+{index}"))
    assert [m.recipient_phone for m in emulator.ledger.messages] == ["+1", "+2"]
    assert emulator.ledger.accepted == emulator.ledger.counts["sent"] == 3
    assert emulator.ledger.limit == 2


def test_ledger_is_thread_safe() -> None:
    """Concurrent writers and readers never lose a count or see a torn state."""
    ledger = Ledger()
    entry = LedgerEntry(
        message_id="wamid.x",
        phone_number_id=PHONE_ID,
        template_name="t",
        language="es",
        recipient_phone="+1",
        variables={},
        button_variables={},
        body={"a": 1},
        received_at=datetime.now(timezone.utc),
        sent_at="2025-01-01T00:00:00Z",
    )

    def write() -> None:
        for _ in range(2000):
            ledger.record("sent", entry)

    def read() -> None:
        for _ in range(200):
            counts = ledger.counts
            assert counts["sent"] == counts["total_requests"]
            assert len(ledger.messages) >= counts["sent"]

    threads = [threading.Thread(target=write) for _ in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ledger.messages) == ledger.counts["sent"] == 8000


# -- faults -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_scripted_faults_are_consumed_one_per_request_in_order() -> None:
    """script() answers the next requests with its faults, in order, then back to normal."""
    emulator = Emulator()
    emulator.script(
        Fault.status(500),
        Fault.status(429, retry_after=2),
        Fault.status(503),
        Fault.status(500, after_processing=False),
        Fault.none(),
    )
    statuses = [(await post(emulator, WELCOME)) for _ in range(6)]
    assert [r.status_code for r in statuses] == [500, 429, 503, 500, 200, 200]
    assert statuses[1].headers["retry-after"] == "2"
    assert "130429" in statuses[1].json()["error"]
    assert all(list(r.json()) == ["error"] for r in statuses[:4])
    assert emulator.pending_script() == ()
    counts = emulator.ledger.counts
    assert counts["server_error_after_processing"] == 1
    assert counts["server_error"] == 1
    assert counts["rate_limited"] == 1
    assert counts["unavailable"] == 1
    assert counts["sent"] == 2
    assert counts["total_requests"] == 6
    # The 500 after processing is in the ledger (a gateway that called Meta, then failed);
    # the 429, the 503 and the 500 before processing are not.
    assert [m.outcome for m in emulator.ledger.messages] == [
        "server_error_after_processing",
        "sent",
        "sent",
    ]


@pytest.mark.anyio
async def test_scripted_faults_come_before_probabilistic_ones() -> None:
    """With every request configured to 503, a scripted fault still wins for its request."""
    emulator = Emulator(faults=FaultConfig(unavailable_probability=1.0))
    emulator.script(Fault.none())
    assert (await post(emulator, WELCOME)).status_code == 200
    assert (await post(emulator, WELCOME)).status_code == 503


@pytest.mark.anyio
async def test_status_fault_defaults_say_what_was_processed() -> None:
    """Fault.status puts 429 and 503 before processing, every other status after."""
    assert not Fault.status(429).after_processing
    assert not Fault.status(503).after_processing
    assert Fault.status(500).after_processing
    assert Fault.status(502).after_processing
    assert Fault.status(502).outcome == "server_error_after_processing"
    assert Fault.status(500, after_processing=False).outcome == "server_error"
    assert Fault.status(418, error="teapot").error_message == "teapot"


@pytest.mark.anyio
async def test_after_processing_fault_on_an_invalid_request_answers_the_validation_error() -> None:
    """A fault after processing cannot hide a refusal: the request is refused as usual."""
    emulator = Emulator()
    emulator.script(Fault.status(500))
    response = await post(emulator, WELCOME, key="mindo_unknown")
    assert response.status_code == 401
    assert emulator.pending_script() == ()


@pytest.mark.anyio
async def test_drop_after_processing_in_process_raises_remote_protocol_error() -> None:
    """In-process a drop raises httpx.RemoteProtocolError; after processing it is in the ledger."""
    emulator = Emulator()
    emulator.script(Fault.drop_after_processing(), Fault.drop_before_processing())
    with pytest.raises(httpx.RemoteProtocolError):
        await post(emulator, WELCOME)
    with pytest.raises(httpx.RemoteProtocolError):
        await post(emulator, WELCOME)
    assert [m.outcome for m in emulator.ledger.messages] == ["dropped"]
    assert emulator.ledger.counts["dropped"] == 1
    assert emulator.ledger.counts["dropped_before_processing"] == 1


@pytest.mark.anyio
async def test_probabilistic_faults_replay_the_same_sequence_under_a_seed() -> None:
    """The same seed and config give the same statuses, request after request."""
    config = FaultConfig(
        rate_limited_probability=0.2,
        unavailable_probability=0.2,
        server_error_probability=0.2,
    )

    async def run(seed: int) -> list[int]:
        emulator = Emulator(faults=config, seed=seed)
        return [(await post(emulator, WELCOME)).status_code for _ in range(40)]

    first = await run(3)
    assert first == await run(3)
    assert {200, 429, 500, 503} <= set(first)
    assert first != await run(4)


@pytest.mark.anyio
async def test_probabilistic_500_can_be_before_or_after_processing() -> None:
    """server_error_after_processing decides whether a random 500 is in the ledger."""
    after = Emulator(faults=FaultConfig(server_error_probability=1.0))
    assert (await post(after, WELCOME)).status_code == 500
    assert len(after.ledger) == 1
    before = Emulator(
        faults=FaultConfig(server_error_probability=1.0, server_error_after_processing=False)
    )
    assert (await post(before, WELCOME)).status_code == 500
    assert len(before.ledger) == 0
    assert before.ledger.counts["server_error"] == 1


@pytest.mark.anyio
async def test_probabilistic_429_and_503_carry_retry_after() -> None:
    """Random 429 and 503 answers carry Retry-After with the configured seconds."""
    emulator = Emulator(faults=FaultConfig(rate_limited_probability=1.0, retry_after=3))
    response = await post(emulator, WELCOME)
    assert (response.status_code, response.headers["retry-after"]) == (429, "3")
    emulator.set_faults(FaultConfig(unavailable_probability=1.0, retry_after=4))
    response = await post(emulator, WELCOME)
    assert (response.status_code, response.headers["retry-after"]) == (503, "4")
    assert len(emulator.ledger) == 0


@pytest.mark.anyio
async def test_faults_change_at_run_time() -> None:
    """set_faults changes one field or the whole config while the emulator runs."""
    emulator = Emulator()
    emulator.set_faults(unavailable_probability=1.0)
    assert (await post(emulator, WELCOME)).status_code == 503
    config = emulator.set_faults(unavailable_probability=0.0, latency=0.0)
    assert config == emulator.fault_config()
    assert (await post(emulator, WELCOME)).status_code == 200


@pytest.mark.anyio
async def test_latency_delays_responses_with_anyio_sleep() -> None:
    """A configured latency (plus jitter) delays every answer, on asyncio and trio alike."""
    emulator = Emulator(faults=FaultConfig(latency=0.03, jitter=0.02), seed=1)
    started = time.perf_counter()
    assert (await post(emulator, WELCOME)).status_code == 200
    assert time.perf_counter() - started >= 0.03  # at least the latency; no upper bound


@pytest.mark.anyio
async def test_slow_fault_is_processed_before_the_late_answer() -> None:
    """Fault.slow answers 200 late, but the message is in the ledger before the answer."""
    emulator = Emulator()
    emulator.script(Fault.slow(60))
    answers: list[httpx.Response] = []

    async def give_up_once_recorded(scope: anyio.CancelScope) -> None:
        while emulator.ledger.counts["sent"] == 0:  # noqa: ASYNC110
            await anyio.sleep(0.001)
        scope.cancel()

    with anyio.fail_after(10):  # never recorded: fail instead of waiting the minute
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(give_up_once_recorded, tasks.cancel_scope)
            answers.append(await post(emulator, WELCOME))
    assert answers == []  # recorded while the answer had not come
    assert emulator.ledger.counts["sent"] == 1
    assert emulator.ledger.messages[0].outcome == "sent"


@pytest.mark.anyio
async def test_phone_rate_limit_answers_429_with_retry_after_and_skips_the_ledger() -> None:
    """Past the per-number token bucket, valid sends get 429 + Retry-After and are not recorded."""
    emulator = Emulator(faults=FaultConfig(phone_rate_limit=10))
    # The buckets' clock stands still unless the test moves it: no refill while a
    # loaded machine runs the twelve posts.
    now = [1000.0]
    emulator._faults._clock = lambda: now[0]
    statuses = [(await post(emulator, WELCOME)) for _ in range(12)]
    assert [r.status_code for r in statuses] == [200] * 10 + [429] * 2
    assert int(statuses[10].headers["retry-after"]) >= 1
    assert "130429" in statuses[10].json()["error"]
    assert len(emulator.ledger) == 10
    assert emulator.ledger.counts["rate_limited"] == 2
    # Another number has its own bucket; invalid requests spend no token.
    emulator.data = EmulatorData(phone_number_ids=[PHONE_ID, "2"])
    assert (await post(emulator, with_(phone_number_id="2"))).status_code == 200
    assert (await post(emulator, with_(template_name="nope"))).status_code == 404
    # The bucket refills at 10 tokens per second.
    now[0] += 0.12
    assert (await post(emulator, WELCOME)).status_code == 200


def test_phone_rate_limit_true_means_metas_80_per_second() -> None:
    """phone_rate_limit=True switches on Meta's default of 80 messages per second."""
    assert FaultConfig(phone_rate_limit=True).phone_rate_limit == 80.0
    assert FaultConfig(phone_rate_limit=False).phone_rate_limit is None
    assert FaultConfig().phone_rate_limit is None


def test_fault_config_refuses_nonsense() -> None:
    """Probabilities outside [0, 1], summing past 1, or negative delays are refused."""
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultConfig(unavailable_probability=1.5)
    with pytest.raises(ValueError, match="sum"):
        FaultConfig(unavailable_probability=0.6, server_error_probability=0.6)
    with pytest.raises(ValueError, match="delay"):
        FaultConfig(latency=-1)
    with pytest.raises(ValueError, match="phone_rate_limit"):
        FaultConfig(phone_rate_limit=0)
    with pytest.raises(ValueError, match="no such route"):
        Emulator().script(Fault.none(), path="/other/")
    with pytest.raises(ValueError, match="no such route"):
        Emulator(faults={"/other/": FaultConfig()})


def test_faults_are_keyed_by_route() -> None:
    """A mapping path -> FaultConfig configures the send route."""
    emulator = Emulator(faults={SEND_PATH: FaultConfig(latency=0.01)})
    assert emulator.fault_config(SEND_PATH).latency == 0.01
    emulator.reset()
    assert emulator.fault_config() == FaultConfig()


# -- data -----------------------------------------------------------------------------------


def test_default_data_holds_the_reference_examples() -> None:
    """The defaults: the reference's phone number id, its three templates, a pending one."""
    data = EmulatorData()
    assert data.api_keys == {DEFAULT_API_KEY}
    assert data.phone_number_ids == {PHONE_ID}
    welcome = data.template("welcome_message", "es")
    assert welcome is not None
    assert welcome.variable_names == ("name", "code")
    assert welcome.required_variables == ("name",)
    assert welcome.buttons == (Button("URL", dynamic=True),)
    assert data.template("verification_code", "es") is not None
    assert data.template("order_update", "es") is not None
    pending = data.template("promo_pending", "es")
    assert pending is not None
    assert not pending.approved


def test_data_refuses_bad_keys_and_duplicate_templates() -> None:
    """API keys must have the mindo_ shape; a (name, language) pair is defined once."""
    with pytest.raises(ValueError, match="shape"):
        EmulatorData(api_keys=["sk_live_123"])
    with pytest.raises(ValueError, match="twice"):
        EmulatorData(templates=[Template("a"), Template("a")])
    with pytest.raises(ValueError, match="status"):
        Template("a", status="approved")


DATA_JSON = {
    "api_keys": ["mindo_custom_key-1"],
    "phone_number_ids": ["111"],
    "templates": [
        {"name": "hola", "language": "pt_BR", "variables": ["nome"]},
        {"name": "draft", "status": "REJECTED"},
        {"name": "link", "buttons": [{"type": "URL", "dynamic": True}]},
    ],
}


@pytest.mark.anyio
async def test_load_data_from_json_drives_the_emulator(tmp_path: Path) -> None:
    """A JSON data file replaces keys, numbers and templates, and the emulator obeys it."""
    path = tmp_path / "data.json"
    path.write_text(json.dumps(DATA_JSON))
    emulator = Emulator(load_data(path))
    assert emulator.api_key == "mindo_custom_key-1"
    body = {
        "phone_number_id": "111",
        "template_name": "hola",
        "language": "pt_BR",
        "recipient_phone": "+5511999999999",
        "variables": {"nome": "Ana"},
    }
    assert (await post(emulator, body, key="mindo_custom_key-1")).status_code == 200
    assert (await post(emulator, body)).status_code == 401
    assert (await post(emulator, WELCOME, key="mindo_custom_key-1")).status_code == 404


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TOML needs tomllib (Python 3.11+)")
def test_load_data_from_toml(tmp_path: Path) -> None:
    """A TOML data file loads like the JSON one; absent keys keep their defaults."""
    path = tmp_path / "data.toml"
    path.write_text(
        'phone_number_ids = ["111", "222"]\n'
        "[[templates]]\n"
        'name = "hola"\nlanguage = "en"\nvariables = ["name"]\n'
        "[[templates.buttons]]\n"
        'type = "QUICK_REPLY"\n'
    )
    data = load_data(path)
    assert data.api_keys == {DEFAULT_API_KEY}
    assert data.phone_number_ids == {"111", "222"}
    assert data.templates == (
        Template("hola", language="en", variables=("name",), buttons=(Button("QUICK_REPLY"),)),
    )


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="tomllib exists on 3.11+")
def test_load_data_refuses_toml_on_python_3_10(tmp_path: Path) -> None:
    """On Python 3.10 (no tomllib) a TOML file is refused with a pointer to JSON."""
    path = tmp_path / "data.toml"
    path.write_text('phone_number_ids = ["1"]\n')
    with pytest.raises(ValueError, match=r"3\.11\+.*\.json"):
        load_data(path)


def test_load_data_refuses_unknown_keys_and_formats(tmp_path: Path) -> None:
    """Typos in a data file and unknown file types are refused with a clear message."""
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"templats": []}))
    with pytest.raises(ValueError, match="templats"):
        load_data(path)
    path.write_text(json.dumps({"templates": [{"name": "x", "vars": []}]}))
    with pytest.raises(ValueError, match="vars"):
        load_data(path)
    yaml = tmp_path / "data.yaml"
    yaml.write_text("{}")
    with pytest.raises(ValueError, match=r"\.json or \.toml"):
        load_data(yaml)


# -- package hygiene ---------------------------------------------------------------------------


def test_all_lists_the_public_names_sorted() -> None:
    """__all__ is sorted and names exactly the public attributes of mindo_async.testing."""
    public = {name for name in vars(mindo_async.testing) if not name.startswith(("_", "@"))}
    public -= {"annotations"}
    assert sorted(mindo_async.testing.__all__) == mindo_async.testing.__all__
    assert set(mindo_async.testing.__all__) == public


def test_plugin_imports_no_optional_dependency() -> None:
    """Loading the pytest plugin imports none of the testing/cli extras (uvicorn, typer, ...)."""
    code = (
        "import sys, mindo_async.testing._plugin\n"
        "print([m for m in ('starlette', 'uvicorn', 'typer') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
