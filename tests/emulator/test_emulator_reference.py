"""The vendored reference examples (tests/reference/): complete, routable, and matched by shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from mindo_async._endpoints import ENDPOINTS, SEND, Endpoint, endpoint_named
from mindo_async.testing import Emulator, MessageLifecycle, VirtualClock
from mindo_async.testing._router import Router

from .conftest import Call

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
#: The endpoints the emulator answers for real (bulk sends are not emulated yet).
EMULATED_GETS = [
    "business_accounts.get",
    "messages.get",
    "contacts.lookup",
    "business.info",
    "business.hours",
    "business.holidays",
]


def reference(name: str) -> dict[str, Any]:
    """The vendored examples of the endpoint called ``name``."""
    result: dict[str, Any] = json.loads((REFERENCE / f"{name}.json").read_text(encoding="utf-8"))
    return result


def shape(value: Any) -> Any:
    """The keys (in order) and JSON types of ``value``; a list is the set of its items' shapes."""
    if isinstance(value, dict):
        return tuple((key, shape(item)) for key, item in value.items())
    if isinstance(value, list):
        return ("array", frozenset(shape(item) for item in value))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return type(value).__name__


def test_one_file_per_endpoint_with_the_agreed_keys() -> None:
    """tests/reference holds exactly one file per endpoint, named after Endpoint.name."""
    names = sorted(path.stem for path in REFERENCE.glob("*.json"))
    assert names == sorted(endpoint.name for endpoint in ENDPOINTS)
    for name in names:
        data = reference(name)
        assert {"urls", "request", "responses", "errors"} <= set(data)
        assert data["urls"]
        assert data["responses"]
        assert (data["request"] is not None) == (endpoint_named(name).method == "POST")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_documented_urls_route_to_their_endpoint(endpoint: Endpoint) -> None:
    """Every example URL of an endpoint's file resolves to that endpoint with its method."""
    for url in reference(endpoint.name)["urls"]:
        route = Router().resolve(urlsplit(url).path, endpoint.method)
        assert (route.kind, route.endpoint) == ("match", endpoint), url


async def _answer(api: Call, name: str) -> Any:
    """The emulator's answer to ``name``'s first documented URL, in a state like the example's."""
    clock = VirtualClock()
    life = MessageLifecycle(failure_share=0, read_share=1, delivered_after=5, read_after=55)
    emulator = Emulator(clock=clock, lifecycle=life)
    url = urlsplit(reference(name)["urls"][0])
    path, params = url.path, dict(parse_qsl(url.query))
    if name == "messages.get":
        send = reference("send")["request"]
        message_id = (await api(emulator, "POST", SEND.path, json=send)).json()["message_id"]
        clock.advance(60)  # read, as in the example
        path = endpoint_named(name).format_path({"message_id": message_id})
    if name == "contacts.lookup":
        emulator.reply(params["phone"])  # replied and in session, as in the example
    response = await api(emulator, "GET", path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.anyio
@pytest.mark.parametrize("name", EMULATED_GETS)
async def test_answers_have_the_documented_shape(api: Call, name: str) -> None:
    """The emulator's answer has exactly the example's keys, in order, with the same types."""
    expected = reference(name)["responses"]["200"]
    assert shape(await _answer(api, name)) == shape(expected)


@pytest.mark.anyio
async def test_send_answer_has_the_documented_shape(api: Call) -> None:
    """The documented send request gets an answer shaped like the documented 200."""
    data = reference("send")
    response = await api(Emulator(), "POST", SEND.path, json=data["request"])
    assert shape(response.json()) == shape(data["responses"]["200"])


def test_every_endpoint_has_a_handler_and_a_reference_file() -> None:
    """Walking the endpoint table: each endpoint is answered by a handler and has examples."""
    from mindo_async.testing.handlers import DEFAULT_HANDLERS

    names = {endpoint.name for endpoint in ENDPOINTS}
    assert set(DEFAULT_HANDLERS) | {SEND.name} == names
    assert SEND.name not in DEFAULT_HANDLERS  # send is the shell's own (quota, ledger)
    assert all((REFERENCE / f"{name}.json").is_file() for name in names)
