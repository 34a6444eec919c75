"""Tests never reach the real API by accident (issue 14 item 3): respx works, production guarded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import respx

from mindo_async import AsyncMindo, ConfigurationError, Mindo
from mindo_async._config import DEFAULT_BASE_URL
from mindo_async._endpoints import SEND
from mindo_async._transport import AutoTransport
from mindo_async.testing import DEFAULT_API_KEY, DEFAULT_PHONE_NUMBER_ID, _plugin

ROOT = Path(__file__).resolve().parent.parent.parent
SEND_ARGS = {
    "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
    "template_name": "verification_code",
    "recipient_phone": "+5491123456789",
    "variables": {"name": "Ana", "code": "1"},
}
OK_BODY = {
    "success": True,
    "message_id": "wamid.respx",
    "template_name": "verification_code",
    "recipient_phone": "+5491123456789",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}


class Recorder:
    """Stands in for the network: records what would have left, answers 201."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def response(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(201, json=OK_BODY, request=request)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every network transport of the library (async auto, sync httpx) replaced by a recorder."""
    recorder = Recorder()

    async def handle_async(self: object, request: httpx.Request) -> httpx.Response:
        return recorder.response(request)

    def handle_sync(self: object, request: httpx.Request) -> httpx.Response:
        return recorder.response(request)

    monkeypatch.setattr(AutoTransport, "handle_async_request", handle_async)
    # No aiohttp fast path around the recorder: every request goes to handle_async.
    monkeypatch.setattr(AutoTransport, "aiohttp_transport", lambda self: None)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_sync)
    return recorder


def test_the_plugin_turns_the_guard_on(pytestconfig: pytest.Config) -> None:
    """Under pytest with the plugin, the guard is on unless the opt-in is given."""
    assert pytestconfig.getoption("--mindo-allow-real-api") is False
    assert _plugin.production_guard is (os.environ.get("MINDO_ALLOW_REAL_API") != "1")


@pytest.mark.anyio
@respx.mock
async def test_plain_respx_mock_intercepts_the_default_transport() -> None:
    """A plain ``@respx.mock`` sees the default client's send (aiohttp on asyncio included)."""
    route = respx.post(DEFAULT_BASE_URL + SEND.path).mock(
        return_value=httpx.Response(201, json=OK_BODY)
    )
    async with AsyncMindo(api_key=DEFAULT_API_KEY) as mindo:
        message = await mindo.send(**SEND_ARGS)  # type: ignore[arg-type]
    assert message.message_id == "wamid.respx"
    assert route.call_count == 1


@respx.mock
def test_plain_respx_mock_intercepts_the_sync_client() -> None:
    """The same for ``Mindo``: respx sees its send."""
    route = respx.post(DEFAULT_BASE_URL + SEND.path).mock(
        return_value=httpx.Response(201, json=OK_BODY)
    )
    with Mindo(api_key=DEFAULT_API_KEY) as mindo:
        assert mindo.send(**SEND_ARGS).message_id == "wamid.respx"  # type: ignore[arg-type]
    assert route.call_count == 1


@pytest.mark.anyio
async def test_unintercepted_production_request_is_refused(network: Recorder) -> None:
    """No mock in place: the send to api.mindosoftware.com is refused, naming the fixtures."""
    async with AsyncMindo(api_key=DEFAULT_API_KEY) as mindo:
        with pytest.raises(ConfigurationError, match="mindo_client") as caught:
            await mindo.send(**SEND_ARGS)  # type: ignore[arg-type]
    assert "MINDO_ALLOW_REAL_API" in str(caught.value)
    assert network.requests == []


def test_unintercepted_production_request_is_refused_for_the_sync_client(
    network: Recorder,
) -> None:
    """The sync client is guarded the same way."""
    with Mindo(api_key=DEFAULT_API_KEY) as mindo, pytest.raises(ConfigurationError):
        mindo.send(**SEND_ARGS)  # type: ignore[arg-type]
    assert network.requests == []


@pytest.mark.anyio
async def test_a_users_network_client_to_production_is_refused() -> None:
    """A caller's own ``httpx.AsyncClient`` on httpx's network transport is refused too."""
    async with (
        httpx.AsyncClient() as http_client,
        AsyncMindo(api_key=DEFAULT_API_KEY, http_client=http_client) as mindo,
    ):
        with pytest.raises(ConfigurationError, match="real Mindo API"):
            await mindo.send(**SEND_ARGS)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_mock_transport_and_other_hosts_are_allowed(network: Recorder) -> None:
    """A MockTransport client reaches its mock; an emulator on another host is not guarded."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=OK_BODY)

    async with AsyncMindo(
        api_key=DEFAULT_API_KEY,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    ) as mindo:
        await mindo.send(**SEND_ARGS)  # type: ignore[arg-type]
    assert len(seen) == 1
    async with AsyncMindo(api_key=DEFAULT_API_KEY, base_url="https://mindo-emulator:8000") as mindo:
        await mindo.send(**SEND_ARGS)  # type: ignore[arg-type]
    assert [r.url.host for r in network.requests] == ["mindo-emulator"]


@pytest.mark.anyio
async def test_the_opt_in_lets_the_request_through(
    network: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the opt-in (the guard off), the request goes to the network transport."""
    monkeypatch.setattr(_plugin, "production_guard", False)
    async with AsyncMindo(api_key=DEFAULT_API_KEY) as mindo:
        await mindo.send(**SEND_ARGS)  # type: ignore[arg-type]
    assert [r.url.host for r in network.requests] == ["api.mindosoftware.com"]


FIXTURE_TESTS = textwrap.dedent(
    """
    import pytest

    SEND = dict(
        phone_number_id="813497231850626",
        template_name="verification_code",
        recipient_phone="+5491123456789",
        variables={"name": "a", "code": "1"},
    )

    @pytest.fixture
    def anyio_backend():
        return "asyncio"

    @pytest.mark.anyio
    async def test_anyio(mindo_client):
        await mindo_client.send(**SEND)

    @pytest.mark.asyncio
    async def test_asyncio_marked(mindo_client):
        await mindo_client.send(**SEND)
    """
)


def _run_pytest(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_fixtures_modes.py").write_text(FIXTURE_TESTS, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            f"asyncio_mode={mode}",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "test_fixtures_modes.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_fixtures_under_pytest_asyncio_strict_mode_say_what_to_add(tmp_path: Path) -> None:
    """Strict mode: the anyio test passes; the asyncio one fails saying what to add."""
    completed = _run_pytest(tmp_path, "strict")
    assert "1 passed, 1 error" in completed.stdout, completed.stdout
    assert "Mark the test @pytest.mark.anyio" in completed.stdout
    assert "asyncio_mode = auto" in completed.stdout


def test_fixtures_work_under_pytest_asyncio_auto_mode(tmp_path: Path) -> None:
    """Auto mode: both the anyio-marked and the asyncio-marked tests get a working client."""
    completed = _run_pytest(tmp_path, "auto")
    assert "2 passed" in completed.stdout, completed.stdout
