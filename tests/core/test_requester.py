"""The requester: any endpoint, retries by idempotency, errors that name the endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from mindo_async import (
    APIConnectionError,
    AsyncMindo,
    DeliveryUnknownError,
    InvalidResponseError,
    NotFoundError,
    RetryPolicy,
    ServerError,
    UnexpectedResponseError,
)
from mindo_async._config import proxy_for
from mindo_async._endpoints import BULK_SENDS, BUSINESS_INFO, MESSAGE_STATUS, SEND, SEND_BULK
from mindo_async._requester import same_origin

pytestmark = pytest.mark.anyio

API_KEY = "mindo_requester_test_key"
BASE = "https://api.mindosoftware.com"
INFO = {"id": 12, "name": "Mi Empresa SRL"}

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen at once, so these tests do not sleep."""
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, n, random=None: 0.0)


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A MockTransport handler giving ``answers`` in turn, and the requests it saw."""
    seen: list[httpx.Request] = []
    queue: Iterator[httpx.Response | Exception] = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(queue)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def client_for(handler: Handler, **options: Any) -> AsyncMindo:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncMindo(api_key=API_KEY, base_url=BASE, http_client=http, **options)


async def get_info(mindo: AsyncMindo) -> Any:
    return await mindo._requester.get_json(BUSINESS_INFO)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_a_read_is_retried_after_a_retryable_status(status: int) -> None:
    """A GET is tried again after 429, 500, 502, 503 and 504, and returns the later answer."""
    handler, seen = scripted(httpx.Response(status), httpx.Response(200, json=INFO))
    async with client_for(handler) as mindo:
        assert await get_info(mindo) == INFO
    assert len(seen) == 2


async def test_a_read_is_not_retried_after_501() -> None:
    """A GET answered 501 ("not implemented") is not tried again: it will not change."""
    handler, seen = scripted(httpx.Response(501), httpx.Response(200, json=INFO))
    async with client_for(handler) as mindo:
        with pytest.raises(ServerError) as caught:
            await get_info(mindo)
    assert caught.value.status_code == 501
    assert len(seen) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("Server disconnected")],
    ids=["read-timeout", "dropped"],
)
async def test_a_read_is_retried_after_a_failure_that_may_have_reached_the_server(
    failure: Exception,
) -> None:
    """Read timeouts and dropped connections are retried for a GET: a read changes nothing."""
    handler, seen = scripted(failure, httpx.Response(200, json=INFO))
    async with client_for(handler) as mindo:
        assert await get_info(mindo) == INFO
    assert len(seen) == 2


async def test_a_read_that_keeps_failing_raises_a_connection_error_not_delivery_unknown() -> None:
    """A GET whose retries all time out raises ``APIConnectionError``, never
    ``DeliveryUnknownError`` (only the POSTs can leave that doubt)."""
    handler, seen = scripted(*[httpx.ReadTimeout("slow")] * 3)
    async with client_for(handler, max_retries=2) as mindo:
        with pytest.raises(APIConnectionError) as caught:
            await get_info(mindo)
    assert not isinstance(caught.value, DeliveryUnknownError)
    assert len(seen) == 3


async def test_a_send_is_not_retried_after_a_read_timeout() -> None:
    """The send keeps its rules: a read timeout is UNKNOWN after exactly one attempt."""
    handler, seen = scripted(httpx.ReadTimeout("slow"), httpx.Response(200))
    async with client_for(handler) as mindo:
        with pytest.raises(DeliveryUnknownError):
            await mindo.send(
                phone_number_id="813497231850626",
                template_name="welcome_message",
                recipient_phone="+5491112345678",
            )
    assert len(seen) == 1


async def test_a_bulk_create_is_not_retried_after_a_500() -> None:
    """``send-bulk`` is not idempotent: a 500 is UNKNOWN after exactly one attempt."""
    handler, seen = scripted(httpx.Response(500), httpx.Response(202, json={}))
    async with client_for(handler) as mindo:
        with pytest.raises(DeliveryUnknownError):
            await mindo._requester.post_json(SEND_BULK, body=b"{}", request="campaign")
    assert len(seen) == 1


async def test_a_read_with_an_unreadable_body_is_invalid_not_delivery_unknown() -> None:
    """A 2xx read whose body is not JSON is ``InvalidResponseError``, not delivery-unknown."""
    handler, _ = scripted(httpx.Response(200, content=b"<html>"))
    async with client_for(handler) as mindo:
        with pytest.raises(InvalidResponseError) as caught:
            await get_info(mindo)
    assert not isinstance(caught.value, DeliveryUnknownError)
    assert not isinstance(caught.value, UnexpectedResponseError)


async def test_errors_carry_the_endpoint_method_url_and_request() -> None:
    """An error names its endpoint, method and URL (without the query) and the request object."""
    handler, _ = scripted(httpx.Response(404, json={"detail": "No encontrado."}))
    async with client_for(handler) as mindo:
        with pytest.raises(NotFoundError) as caught:
            await mindo._requester.get_json(
                BULK_SENDS, params={"status": "COMPLETED"}, request="the-list"
            )
    error = caught.value
    assert error.endpoint is BULK_SENDS
    assert error.method == "GET"
    assert error.url == BASE + BULK_SENDS.path
    assert error.request == "the-list"


async def test_send_errors_carry_the_send_endpoint() -> None:
    """A refused send names the send endpoint and its URL."""
    handler, _ = scripted(httpx.Response(401, json={"detail": "API Key expirada"}))
    async with client_for(handler) as mindo:
        with pytest.raises(Exception) as caught:
            await mindo.send(
                phone_number_id="813497231850626",
                template_name="welcome_message",
                recipient_phone="+5491112345678",
            )
    assert getattr(caught.value, "endpoint", None) is SEND
    assert getattr(caught.value, "url", None) == BASE + SEND.path


async def test_path_parameters_are_percent_encoded_on_the_wire() -> None:
    """A wamid's ``=``, ``/`` and ``+`` travel percent-encoded in one path segment."""
    handler, seen = scripted(httpx.Response(200, json={}))
    async with client_for(handler) as mindo:
        await mindo._requester.get_json(MESSAGE_STATUS, path_params={"message_id": "wamid.A/b+c="})
    assert seen[0].url.raw_path == b"/api/v1/meta-templates/messages/wamid.A%2Fb%2Bc%3D/"


async def test_query_parameters_drop_none_values() -> None:
    """``None`` query values are left out; the rest are sent as given."""
    handler, seen = scripted(httpx.Response(200, json={"count": 0, "results": []}))
    async with client_for(handler) as mindo:
        await mindo._requester.get_json(BULK_SENDS, params={"status": "COMPLETED", "page": None})
    assert dict(seen[0].url.params) == {"status": "COMPLETED"}


async def test_a_link_to_another_origin_is_refused_without_a_request() -> None:
    """A server-supplied URL on another host or port is refused and never requested."""
    handler, seen = scripted(httpx.Response(200, json={}))
    async with client_for(handler) as mindo:
        for url in (
            "https://evil.example/api/v1/meta-templates/bulk-sends/?page=2",
            "https://api.mindosoftware.com:8443/api/v1/meta-templates/bulk-sends/?page=2",
            "http://api.mindosoftware.com/api/v1/meta-templates/bulk-sends/?page=2",
        ):
            with pytest.raises(InvalidResponseError):
                await mindo._requester.get_json(BULK_SENDS, url=url)
    assert seen == []


async def test_a_link_on_the_base_origin_is_followed_with_the_key() -> None:
    """A server-supplied URL on the base URL's origin is requested as given."""
    handler, seen = scripted(httpx.Response(200, json={"results": []}))
    url = BASE + BULK_SENDS.path + "?page=2"
    async with client_for(handler) as mindo:
        await mindo._requester.get_json(BULK_SENDS, url=url)
    assert str(seen[0].url) == url
    assert seen[0].headers["X-API-Key"] == API_KEY


async def test_a_read_sends_no_body_and_no_content_type() -> None:
    """GETs carry no body and no Content-Type header."""
    handler, seen = scripted(httpx.Response(200, json=INFO))
    async with client_for(handler) as mindo:
        await get_info(mindo)
    assert "Content-Type" not in seen[0].headers
    assert seen[0].method == "GET"
    assert seen[0].content == b""


def test_same_origin_fills_in_default_ports() -> None:
    """``https://h`` and ``https://h:443`` are one origin; another port or scheme is not."""
    base = httpx.URL("https://api.mindosoftware.com")
    assert same_origin(httpx.URL("https://api.mindosoftware.com:443/x"), base)
    assert not same_origin(httpx.URL("https://api.mindosoftware.com:444/x"), base)
    assert not same_origin(httpx.URL("http://api.mindosoftware.com/x"), base)


def test_proxy_for_honours_https_proxy_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """An https base URL uses ``HTTPS_PROXY`` unless ``NO_PROXY`` names its host."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert proxy_for("https://api.mindosoftware.com") == "http://127.0.0.1:3128"
    monkeypatch.setenv("NO_PROXY", "api.mindosoftware.com")
    assert proxy_for("https://api.mindosoftware.com") is None


def test_a_plain_http_base_url_never_uses_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """``http://`` (a loopback emulator) is reached directly, whatever the environment says."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert proxy_for("http://127.0.0.1:8000") is None
