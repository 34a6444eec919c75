"""The router: every endpoint of the table, Django's 404 page, DRF's 405, encoded path params."""

from __future__ import annotations

import pytest

from mindo_async._endpoints import (
    BULK_SEND,
    BULK_SEND_MESSAGES,
    BULK_SENDS,
    BUSINESS_ACCOUNTS,
    ENDPOINTS,
    MESSAGE_STATUS,
    SEND,
    SEND_BULK,
    Endpoint,
)
from mindo_async.testing import (
    CONTROL_PREFIX,
    NOT_FOUND_HTML,
    Emulator,
    Fault,
    FaultConfig,
    Reply,
    VirtualClock,
)
from mindo_async.testing._router import Router

from .conftest import Call

WAMID_WITH_SLASH_AND_PLUS = "wamid.HBgN+NTQ5/MTEy=="


def _sample_params(endpoint: Endpoint) -> dict[str, str]:
    return {name: f"{name}/x+y=" for name in endpoint.path_params}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_every_endpoint_routes_with_its_params_decoded(endpoint: Endpoint) -> None:
    """Each endpoint's formatted path resolves to it, parameters percent-decoded back."""
    params = _sample_params(endpoint)
    route = Router().resolve(endpoint.format_path(params), endpoint.method)
    assert (route.kind, route.endpoint) == ("match", endpoint)
    assert route.params == params


def test_the_unencoded_documented_wamid_routes_to_message_status() -> None:
    """The reference's raw wamid (``=`` unencoded) in the path still routes to messages.get."""
    wamid = "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA="
    route = Router().resolve(f"/api/v1/meta-templates/messages/{wamid}/", "GET")
    assert route.endpoint == MESSAGE_STATUS
    assert route.params == {"message_id": wamid}


def test_a_raw_slash_in_a_param_is_not_one_segment() -> None:
    """An unencoded ``/`` splits the path: it does not match a one-segment parameter."""
    route = Router().resolve("/api/v1/meta-templates/messages/wamid.a/b/", "GET")
    assert route.kind == "not_found"


@pytest.mark.anyio
async def test_an_encoded_wamid_with_slash_and_plus_reaches_its_message(
    api: Call, clock: VirtualClock
) -> None:
    """A wamid holding ``/`` and ``+``, sent as %2F and %2B, finds its message."""
    emulator = Emulator(clock=clock)
    emulator.state.record_message(
        message_id=WAMID_WITH_SLASH_AND_PLUS,
        template_id=45,
        template_name="welcome_message",
        language="es",
        category="MARKETING",
        phone_number_id="813497231850626",
        recipient_phone="+5491112345678",
        variables={},
        sent_at=clock.now(),
    )
    path = MESSAGE_STATUS.format_path({"message_id": WAMID_WITH_SLASH_AND_PLUS})
    assert "%2F" in path
    assert "%2B" in path
    response = await api(emulator, "GET", path)
    assert response.status_code == 200
    assert response.json()["meta_message_id"] == WAMID_WITH_SLASH_AND_PLUS


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope/", "/api/v1/business-accounts", "/", "/api/v1/meta-templates/send"],
)
async def test_unknown_paths_get_djangos_html_404_before_auth(api: Call, path: str) -> None:
    """Unknown paths (a missing trailing slash too) answer Django's HTML 404, key or not."""
    emulator = Emulator()
    for key in (None, emulator.api_key):
        response = await api(emulator, "GET", path, key=key)
        assert response.status_code == 404
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.text == NOT_FOUND_HTML
    assert emulator.ledger.counts["not_found"] == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("endpoint", "method", "allow"),
    [
        (BUSINESS_ACCOUNTS, "POST", "GET, HEAD, OPTIONS"),
        (BUSINESS_ACCOUNTS, "DELETE", "GET, HEAD, OPTIONS"),
        (SEND, "GET", "POST, OPTIONS"),
        (SEND, "PUT", "POST, OPTIONS"),
        (BULK_SENDS, "POST", "GET, HEAD, OPTIONS"),
    ],
)
async def test_a_wrong_method_answers_drf_405_with_allow(
    api: Call, endpoint: Endpoint, method: str, allow: str
) -> None:
    """A known path with another method: 405, DRF's detail, and the Allow header."""
    path = endpoint.format_path(_sample_params(endpoint))
    response = await api(Emulator(), method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}


@pytest.mark.anyio
async def test_head_and_options_answer_like_drf(api: Call) -> None:
    """HEAD on a GET endpoint answers 200 without a body; OPTIONS answers the view's metadata."""
    emulator = Emulator()
    head = await api(emulator, "HEAD", BUSINESS_ACCOUNTS.path)
    assert (head.status_code, head.content) == (200, b"")
    options = await api(emulator, "OPTIONS", SEND.path)
    assert options.status_code == 200
    assert options.json()["name"] == SEND.name


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint", [SEND_BULK, BULK_SEND, BULK_SEND_MESSAGES, BULK_SENDS])
async def test_bulk_endpoints_are_emulated_and_their_handlers_replaceable(
    api: Call, endpoint: Endpoint
) -> None:
    """Bulk endpoints answer from the bulk-send emulation; register_handler replaces it."""
    emulator = Emulator()
    path = endpoint.format_path(_sample_params(endpoint))
    response = await api(emulator, endpoint.method, path, json={})
    # An empty body (400) or an unknown id (404); the list answers its first page.
    assert response.status_code == {SEND_BULK.name: 400, BULK_SENDS.name: 200}.get(
        endpoint.name, 404
    )
    emulator.register_handler(endpoint.name, lambda _s, r: Reply(202, {"ok": r.params}, "ok"))
    response = await api(emulator, endpoint.method, path, json={})
    assert response.status_code == 202
    assert response.json() == {"ok": dict(_sample_params(endpoint).items())}


def test_register_handler_refuses_send_and_unknown_names() -> None:
    """Only existing endpoints other than send can get a handler."""
    emulator = Emulator()
    for name in ("send", "bulk_sends.cancel"):
        with pytest.raises(ValueError, match="no replaceable endpoint"):
            emulator.register_handler(name, lambda _s, _r: Reply(200, {}, "ok"))


@pytest.mark.anyio
async def test_faults_are_keyed_by_path_template(api: Call) -> None:
    """A fault config or script on a GET endpoint's template applies to that endpoint only."""
    emulator = Emulator(faults={MESSAGE_STATUS.path: FaultConfig(unavailable_probability=1.0)})
    path = MESSAGE_STATUS.format_path({"message_id": "wamid.x"})
    assert (await api(emulator, "GET", path)).status_code == 503
    assert (await api(emulator, "GET", BUSINESS_ACCOUNTS.path)).status_code == 200
    emulator.script(Fault.status(500), path=BUSINESS_ACCOUNTS.path)
    assert (await api(emulator, "GET", BUSINESS_ACCOUNTS.path)).status_code == 500
    assert (await api(emulator, "GET", BUSINESS_ACCOUNTS.path)).status_code == 200
    assert emulator.fault_config(MESSAGE_STATUS.path).unavailable_probability == 1.0
    with pytest.raises(ValueError, match="no such route"):
        Emulator(faults={"/api/v1/meta-templates/messages/wamid.x/": FaultConfig()})


@pytest.mark.anyio
async def test_control_paths_live_under_one_prefix(api: Call) -> None:
    """The emulator's own paths (clock, replies, ledger) answer under CONTROL_PREFIX only."""
    clock = VirtualClock()
    emulator = Emulator(clock=clock)
    before = clock.now()
    response = await api(emulator, "POST", CONTROL_PREFIX + "clock/advance?seconds=60", key=None)
    assert response.status_code == 200
    assert (clock.now() - before).total_seconds() == 60
    response = await api(emulator, "POST", CONTROL_PREFIX + "replies?phone=5492235961983")
    assert response.json() == {"phone": "+5492235961983"}
    assert emulator.state.last_reply("+5492235961983") == clock.now()
    ledger = await api(emulator, "GET", CONTROL_PREFIX + "ledger")
    assert ledger.json()["counts"]["total_requests"] == 0
    assert (await api(emulator, "GET", CONTROL_PREFIX + "nope")).status_code == 404
    assert all(not endpoint.path.startswith(CONTROL_PREFIX) for endpoint in ENDPOINTS)


@pytest.mark.anyio
async def test_handlers_see_the_base_url_the_client_used(api: Call) -> None:
    """Request.base_url is scheme and Host as addressed, for pagination links."""
    emulator = Emulator()
    emulator.register_handler(BULK_SENDS.name, lambda _s, r: Reply(200, {"base": r.base_url}, "ok"))
    response = await api(emulator, "GET", BULK_SENDS.path)
    assert response.json() == {"base": "http://127.0.0.1"}
