"""``AsyncMindo`` itself: configuration, lifecycle, redirects, and keeping the key secret."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

import mindo_async
from mindo_async import (
    APIError,
    AsyncMindo,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    DeliveryUnknownError,
    InvalidRequestError,
    MindoError,
    RetryPolicy,
    SendRequest,
    SentMessage,
    UnexpectedResponseError,
)

pytestmark = pytest.mark.anyio

API_KEY = "mindo_S3cr3tK3y_0123456789-abcdefXYZ"
DEFAULT_URL = "https://api.mindosoftware.com/api/v1/meta-templates/send/"
PHONE = "+5491112345678"
FIELDS: dict[str, Any] = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "recipient_phone": PHONE,
    "variables": {"name": "Juan Perez", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}
SENT_BODY = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": PHONE,
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own MINDO_* variables."""
    monkeypatch.delenv("MINDO_API_KEY", raising=False)
    monkeypatch.delenv("MINDO_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoffs of 1 ms, so that retried failures keep this module fast."""
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, retry_number, random=None: 0.001)


class Recorder:
    """An ``httpx.MockTransport`` handler: keeps every request, answers with ``reply``."""

    def __init__(self, reply: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply or (lambda request: httpx.Response(200, json=SENT_BODY))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)


def mock_client(recorder: Recorder, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(recorder), **options)


# -- the API key ------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", [None, ""])
def test_missing_key_fails_at_construction(api_key: str | None) -> None:
    """No key (and no MINDO_API_KEY) is a ``ConfigurationError`` at construction."""
    with pytest.raises(ConfigurationError) as caught:
        AsyncMindo(api_key=api_key)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, MindoError)
    assert "MINDO_API_KEY" in str(caught.value)


@pytest.mark.parametrize(
    "api_key",
    [
        "sk_live_S3CRETvalue",
        "MINDO_S3CRETvalue",
        "mindo_S3CRET value",
        "mindo_S3CRETvalue\n",
        " mindo_S3CRETvalue",
        "mindo_S3CRET$value",
        "mindo_S3CRÉTvalue",
        "Bearer mindo_S3CRETvalue",
        "mindo_",
    ],
)
def test_malformed_key_is_refused_without_echoing_it(api_key: str) -> None:
    """A key not shaped ``mindo_[A-Za-z0-9_-]+`` is refused, and its text is not in the error."""
    with pytest.raises(ConfigurationError) as caught:
        AsyncMindo(api_key=api_key)
    assert isinstance(caught.value, ValueError)
    assert "S3CR" not in str(caught.value)
    assert "S3CR" not in repr(caught.value)
    assert "malformed" in str(caught.value)


@pytest.mark.parametrize("api_key", [12345, b"mindo_S3CRETvalue"])
def test_non_text_key_is_refused(api_key: Any) -> None:
    """A key that is not a ``str`` is a ``ConfigurationError``, not a crash."""
    with pytest.raises(ConfigurationError) as caught:
        AsyncMindo(api_key=api_key)
    assert "S3CR" not in str(caught.value)


def test_malformed_key_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed MINDO_API_KEY fails at construction too, without being echoed."""
    monkeypatch.setenv("MINDO_API_KEY", "sk_S3CRETvalue")
    with pytest.raises(ConfigurationError) as caught:
        AsyncMindo()
    assert "S3CR" not in str(caught.value)


async def test_key_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``api_key``, MINDO_API_KEY is the key sent in ``X-API-Key``."""
    monkeypatch.setenv("MINDO_API_KEY", API_KEY)
    recorder = Recorder()
    async with mock_client(recorder) as http, AsyncMindo(http_client=http) as mindo:
        await mindo.send(**FIELDS)
    assert recorder.requests[0].headers["X-API-Key"] == API_KEY


async def test_explicit_key_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``api_key=`` takes precedence over MINDO_API_KEY."""
    monkeypatch.setenv("MINDO_API_KEY", "mindo_from_env")
    recorder = Recorder()
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        await mindo.send(**FIELDS)
    assert recorder.requests[0].headers["X-API-Key"] == API_KEY


def test_repr_hides_the_key() -> None:
    """``repr()`` of the client names its base URL but never its key."""
    mindo = AsyncMindo(api_key=API_KEY)
    assert API_KEY not in repr(mindo)
    assert "S3cr3t" not in repr(mindo)
    assert "api.mindosoftware.com" in repr(mindo)


# -- the base URL -------------------------------------------------------------------------


async def test_default_base_url() -> None:
    """Without base_url or MINDO_BASE_URL, requests go to the documented endpoint."""
    recorder = Recorder()
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        assert mindo.base_url == "https://api.mindosoftware.com"
        await mindo.send(**FIELDS)
    assert str(recorder.requests[0].url) == DEFAULT_URL
    assert recorder.requests[0].method == "POST"


async def test_base_url_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``base_url``, MINDO_BASE_URL is used."""
    monkeypatch.setenv("MINDO_BASE_URL", "http://127.0.0.1:8123")
    recorder = Recorder()
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        await mindo.send(**FIELDS)
    assert str(recorder.requests[0].url) == "http://127.0.0.1:8123/api/v1/meta-templates/send/"


def test_explicit_base_url_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``base_url=`` takes precedence over MINDO_BASE_URL."""
    monkeypatch.setenv("MINDO_BASE_URL", "http://127.0.0.1:8123")
    mindo = AsyncMindo(API_KEY, base_url="https://gateway.example.com")
    assert mindo.base_url == "https://gateway.example.com"


async def test_base_url_path_prefix_is_kept() -> None:
    """A base URL with a path (and a trailing slash) prefixes the send path once."""
    recorder = Recorder()
    async with (
        mock_client(recorder) as http,
        AsyncMindo(API_KEY, base_url="https://gw.example.com/mindo/", http_client=http) as mindo,
    ):
        await mindo.send(**FIELDS)
    assert (
        str(recorder.requests[0].url) == "https://gw.example.com/mindo/api/v1/meta-templates/send/"
    )


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8000",
        "http://127.5.5.5",
        "http://[::1]:8080",
        "http://localhost:9000",
        "http://LOCALHOST",
    ],
)
def test_plain_http_is_accepted_for_loopback(base_url: str) -> None:
    """``http://`` is allowed for 127.0.0.0/8, ::1 and localhost (the emulator, tests)."""
    assert AsyncMindo(API_KEY, base_url=base_url).base_url.startswith("http://")


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.mindosoftware.com",
        "http://10.0.0.1",
        "http://192.168.1.5:8000",
        "http://0.0.0.0:8000",
        "http://[::2]",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
    ],
)
def test_plain_http_is_refused_for_other_hosts(base_url: str) -> None:
    """``http://`` to any non-loopback host is refused: the key would travel in clear."""
    with pytest.raises(ConfigurationError) as caught:
        AsyncMindo(API_KEY, base_url=base_url)
    assert "https" in str(caught.value)


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://api.mindosoftware.com",
        "api.mindosoftware.com",
        "https://",
        "https://api.mindosoftware.com/?x=1",
        "https://api.mindosoftware.com/#top",
    ],
)
def test_other_bad_base_urls_are_refused(base_url: str) -> None:
    """A base URL must be an absolute https URL without query or fragment."""
    with pytest.raises(ConfigurationError):
        AsyncMindo(API_KEY, base_url=base_url)


@pytest.mark.parametrize(
    "base_url", ["https://user:hunter2@api.mindosoftware.com", "http://user:hunter2@example.com"]
)
def test_credentials_in_base_url_are_refused_without_echoing_them(base_url: str) -> None:
    """A base URL with credentials is refused, and the password is not in the message."""
    with pytest.raises(ConfigurationError) as caught:
        AsyncMindo(API_KEY, base_url=base_url)
    assert "hunter2" not in str(caught.value)


# -- other options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"timeout": 0},
        {"timeout": -3.0},
        {"rate_limit": 0},
        {"max_connections": 0},
        {"transport": "requests"},
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, Any]) -> None:
    """Impossible options fail at construction with ``ConfigurationError``."""
    with pytest.raises(ConfigurationError):
        AsyncMindo(API_KEY, **options)


async def test_http_client_and_transport_are_exclusive() -> None:
    """Giving both ``http_client`` and a ``transport`` is a ``ConfigurationError``."""
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigurationError):
            AsyncMindo(API_KEY, http_client=http, transport="httpx")


async def test_timeout_applies_to_every_request_with_a_5_second_connect() -> None:
    """``timeout=12``: 12 s per phase, 5 s to connect, also on an injected client."""
    recorder = Recorder()
    async with (
        mock_client(recorder, timeout=999) as http,
        AsyncMindo(API_KEY, timeout=12, http_client=http) as mindo,
    ):
        await mindo.send(**FIELDS)
    assert recorder.requests[0].extensions["timeout"] == {
        "connect": 5.0,
        "read": 12.0,
        "write": 12.0,
        "pool": 12.0,
    }


async def test_httpx_timeout_is_used_as_is() -> None:
    """An ``httpx.Timeout`` is passed through unchanged."""
    recorder = Recorder()
    timeout = httpx.Timeout(3.0, connect=1.0, read=7.0)
    async with (
        mock_client(recorder) as http,
        AsyncMindo(API_KEY, timeout=timeout, http_client=http) as mindo,
    ):
        await mindo.send(**FIELDS)
    assert recorder.requests[0].extensions["timeout"] == timeout.as_dict()


# -- lifecycle ------------------------------------------------------------------------------


async def test_use_after_aclose_raises_client_closed() -> None:
    """After ``aclose()`` every send raises ``ClientClosedError`` and nothing is sent."""
    recorder = Recorder()
    async with mock_client(recorder) as http:
        mindo = AsyncMindo(API_KEY, http_client=http)
        await mindo.aclose()
        assert mindo.is_closed
        with pytest.raises(ClientClosedError) as caught:
            await mindo.send(**FIELDS)
        assert isinstance(caught.value, MindoError)
        assert isinstance(caught.value, RuntimeError)
        with pytest.raises(ClientClosedError):
            await mindo.send_request(SendRequest(**FIELDS))
        with pytest.raises(ClientClosedError):
            async with mindo:
                pass
        await mindo.aclose()  # idempotent
    assert recorder.requests == []


async def test_async_with_closes_the_owned_http_client() -> None:
    """Leaving ``async with`` closes the HTTP client the library built."""
    async with AsyncMindo(API_KEY) as mindo:
        http = mindo.http_client
        assert not http.is_closed
    assert http.is_closed
    assert mindo.is_closed


async def test_aclose_closes_the_owned_http_client() -> None:
    """``await aclose()`` closes the HTTP client the library built."""
    mindo = AsyncMindo(API_KEY)
    await mindo.aclose()
    assert mindo.http_client.is_closed


async def test_injected_http_client_is_never_closed() -> None:
    """An ``http_client`` passed in stays open after ``async with`` and ``aclose()``."""
    recorder = Recorder()
    async with mock_client(recorder) as http:
        async with AsyncMindo(API_KEY, http_client=http) as mindo:
            await mindo.send(**FIELDS)
        await mindo.aclose()
        assert not http.is_closed
        response = await http.get("https://example.com/still-usable")
        assert response.status_code == 200


async def test_injected_http_client_closed_by_its_owner_is_client_closed() -> None:
    """A send through an ``http_client`` its owner closed is ``ClientClosedError``, unsent."""
    recorder = Recorder()
    http = mock_client(recorder)
    await http.aclose()
    mindo = AsyncMindo(API_KEY, http_client=http)
    with pytest.raises(ClientClosedError):
        await mindo.send(**FIELDS)
    assert recorder.requests == []


# -- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirects_are_never_followed(code: int) -> None:
    """A 3xx is raised as ``APIError``; the target (and the key) never see a request.

    The injected client even has ``follow_redirects=True``: the library overrides it.
    """

    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.mindosoftware.com":
            return httpx.Response(code, headers={"Location": "https://evil.example/steal"})
        return httpx.Response(200, json=SENT_BODY)

    recorder = Recorder(reply)
    async with (
        mock_client(recorder, follow_redirects=True) as http,
        AsyncMindo(API_KEY, http_client=http, max_retries=3) as mindo,
    ):
        with pytest.raises(APIError) as caught:
            await mindo.send(**FIELDS)
    assert type(caught.value) is UnexpectedResponseError
    assert caught.value.status_code == code
    assert "redirect" in str(caught.value)
    assert [request.url.host for request in recorder.requests] == ["api.mindosoftware.com"]


async def test_owned_client_does_not_follow_redirects() -> None:
    """The library's own client (seen through respx) does not follow a 307 either."""
    with respx.mock(using="httpx", assert_all_called=False) as router:
        router.post(DEFAULT_URL).respond(307, headers={"Location": "https://evil.example/x"})
        evil = router.route(host="evil.example").respond(200, json=SENT_BODY)
        async with AsyncMindo(API_KEY) as mindo:
            with pytest.raises(APIError) as caught:
                await mindo.send(**FIELDS)
    assert caught.value.status_code == 307
    assert not evil.called


async def test_respx_intercepts_the_owned_client() -> None:
    """respx (``using="httpx"``) mocks the library's own client on every backend."""
    with respx.mock(using="httpx") as router:
        route = router.post(DEFAULT_URL).respond(200, json=SENT_BODY)
        async with AsyncMindo(API_KEY) as mindo:
            message = await mindo.send(**FIELDS)
    assert route.call_count == 1
    assert message.message_id == SENT_BODY["message_id"]
    assert route.calls.last.request.headers["X-API-Key"] == API_KEY


# -- the key stays secret -----------------------------------------------------------------


def _reply_with(step: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    def reply(request: httpx.Request) -> httpx.Response:
        if isinstance(step, Exception):
            raise step
        return step

    return reply


FAILURES = [
    pytest.param(httpx.Response(400, json={"recipient_phone": ["Invalido."]}), id="400"),
    pytest.param(httpx.Response(401, json={"error": "Este endpoint requiere..."}), id="401"),
    pytest.param(httpx.Response(401, json={"error": f"API Key {API_KEY} invalida"}), id="echo"),
    pytest.param(httpx.Response(401, text=f"bad key {API_KEY}"), id="echo-text"),
    pytest.param(httpx.Response(404, json={"error": "Template 'x' no encontrado"}), id="404"),
    pytest.param(httpx.Response(429, headers={"Retry-After": "0"}), id="429"),
    pytest.param(httpx.Response(500, json={"error": "boom"}), id="500"),
    pytest.param(httpx.Response(307, headers={"Location": "https://x.example/"}), id="307"),
    pytest.param(httpx.Response(200, text="<html>OK</html>"), id="200-html"),
    pytest.param(httpx.ConnectError("refused"), id="ConnectError"),
    pytest.param(httpx.ReadTimeout("slow"), id="ReadTimeout"),
]


@pytest.mark.parametrize("step", FAILURES)
async def test_key_never_appears_in_exceptions_or_logs(
    step: httpx.Response | Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever fails, the key is in no exception text, traceback, body or log record."""
    caplog.set_level(logging.DEBUG, logger="mindo_async")
    recorder = Recorder(_reply_with(step))
    async with (
        mock_client(recorder) as http,
        AsyncMindo(API_KEY, http_client=http, max_retries=1) as mindo,
    ):
        with pytest.raises(MindoError) as caught:
            await mindo.send(**FIELDS)
    error = caught.value
    assert recorder.requests[0].headers["X-API-Key"] == API_KEY  # the key was in play
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts.append(json.dumps(getattr(error, "body", None), default=str))
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        assert API_KEY not in text
        assert "S3cr3t" not in text
    assert caplog.records, "every attempt is logged at DEBUG"


async def test_echoed_key_is_redacted_but_the_message_kept() -> None:
    """A server echoing the key in its error keeps its message, with the key redacted."""
    body = {"error": f"API Key {API_KEY} invalida"}
    recorder = Recorder(_reply_with(httpx.Response(401, json=body)))
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        with pytest.raises(AuthenticationError) as caught:
            await mindo.send(**FIELDS)
    assert "invalida" in str(caught.value)
    assert "API Key" in caught.value.message
    assert API_KEY not in caught.value.message


async def test_invalid_request_does_not_reveal_the_key(caplog: pytest.LogCaptureFixture) -> None:
    """A client-side refusal names the fields, never the key."""
    caplog.set_level(logging.DEBUG, logger="mindo_async")
    recorder = Recorder()
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        with pytest.raises(InvalidRequestError) as caught:
            await mindo.send(**{**FIELDS, "recipient_phone": API_KEY})
    assert API_KEY not in "".join(traceback.format_exception(caught.value))
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


async def test_log_records_describe_each_attempt_with_a_masked_phone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """DEBUG logs name method, path, status, elapsed and attempt; the phone shows 4 digits."""
    caplog.set_level(logging.DEBUG, logger="mindo_async")
    answers = iter([httpx.Response(503), httpx.Response(200, json=SENT_BODY)])
    recorder = Recorder(lambda request: next(answers))
    async with (
        mock_client(recorder) as http,
        AsyncMindo(API_KEY, http_client=http, max_retries=1) as mindo,
    ):
        await mindo.send(**FIELDS)
    attempts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST")]
    assert len(attempts) == 2
    assert "status=503" in attempts[0]
    assert "attempt=1" in attempts[0]
    assert "status=200" in attempts[1]
    assert "attempt=2" in attempts[1]
    for message in attempts:
        assert "/api/v1/meta-templates/send/" in message
        assert "elapsed=" in message
        assert "to=**********5678" in message
    for record in caplog.records:
        assert record.name.startswith("mindo_async")
        assert PHONE not in record.getMessage()
        assert "11123456" not in record.getMessage()


async def test_nothing_is_logged_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    """A successful send logs nothing at INFO or above."""
    caplog.set_level(logging.INFO, logger="mindo_async")
    recorder = Recorder()
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        await mindo.send(**FIELDS)
    assert [r for r in caplog.records if r.name.startswith("mindo_async")] == []


# -- send and send_request ------------------------------------------------------------------


async def test_send_and_send_request_agree() -> None:
    """``send(**fields)`` and ``send_request(SendRequest(**fields))`` send the same bytes."""
    recorder = Recorder()
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        by_keywords = await mindo.send(**FIELDS)
        by_request = await mindo.send_request(SendRequest(**FIELDS))
    assert by_keywords == by_request
    first, second = recorder.requests
    assert first.content == second.content
    assert first.headers == second.headers
    assert first.url == second.url


async def test_send_puts_the_documented_request_on_the_wire() -> None:
    """The request is a POST of the documented JSON with the documented headers."""
    recorder = Recorder()
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        message = await mindo.send(**FIELDS)
    (request,) = recorder.requests
    assert request.method == "POST"
    assert json.loads(request.content) == {**FIELDS, "language": "es"}
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == f"mindo-async/{mindo_async.__version__}"
    assert isinstance(message, SentMessage)
    assert message.message_id == SENT_BODY["message_id"]


async def test_delivery_unknown_carries_the_request() -> None:
    """A ``DeliveryUnknownError`` from ``send`` carries the ``SendRequest`` that was sent."""
    recorder = Recorder(_reply_with(httpx.ReadTimeout("slow")))
    async with mock_client(recorder) as http, AsyncMindo(API_KEY, http_client=http) as mindo:
        with pytest.raises(DeliveryUnknownError) as caught:
            await mindo.send(**FIELDS)
    assert caught.value.request == SendRequest(**FIELDS)
    assert caught.value.attempts == 1
