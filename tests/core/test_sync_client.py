"""The sync client ``Mindo`` (issue 14 item 2): generated from the async code, same promises."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from mindo_async import (
    AsyncMindo,
    AuthenticationError,
    BusinessAccounts,
    BusinessInfo,
    ClientClosedError,
    DeliveryUnknownError,
    EventLoopMismatchError,
    InvalidRequestError,
    MessageDetails,
    Mindo,
    RateLimitError,
    SentMessage,
)
from mindo_async.testing import DEFAULT_API_KEY, DEFAULT_PHONE_NUMBER_ID, Emulator, serve

ROOT = Path(__file__).resolve().parent.parent.parent
SEND = {
    "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
    "template_name": "verification_code",
    "recipient_phone": "+5491123456789",
    "variables": {"name": "Ana", "code": "1"},
}
OK_BODY = {
    "success": True,
    "message_id": "wamid.sync",
    "template_name": "verification_code",
    "recipient_phone": "+5491123456789",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}


def _unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", ROOT / "scripts" / "unasync.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mock_client(*responses: httpx.Response | Exception) -> tuple[Mindo, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = Mindo(
        api_key=DEFAULT_API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        rate_limit=None,
    )
    client = client.with_options()  # the copy behaves as the original
    return client, seen


def test_generated_sync_code_is_up_to_date() -> None:
    """``scripts/unasync.py --check`` passes: the sync code is what the async code generates."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_staleness_check_notices_an_edit(tmp_path: Path) -> None:
    """An async edit not regenerated (here: a changed expected text) is reported as stale."""
    script = _unasync()
    expected = script.generate()
    target = next(path for path in expected if path.name == "_requester.py")
    assert script.stale(expected) == []
    expected[target] = expected[target] + "\n# an edit\n"
    assert script.stale(expected) == [target]


def test_no_second_copy_of_the_retry_loop() -> None:
    """The sync requester is the async one rewritten: same lines but for the async words."""
    script = _unasync()
    source = (ROOT / "mindo_async" / "_requester.py").read_text(encoding="utf-8")
    generated = (ROOT / "mindo_async" / "_sync" / "_requester.py").read_text(encoding="utf-8")
    assert generated.startswith("# GENERATED from mindo_async/_requester.py")
    assert "delay_before_retry" in source
    assert "delay_before_retry" in generated
    assert "await " not in generated
    assert "async def" not in generated
    assert script.SUBSTITUTIONS


def test_sync_send_over_loopback_sockets() -> None:
    """``Mindo.send`` delivers once to the emulator over sockets and returns the ``SentMessage``."""
    with (
        serve(Emulator()) as server,
        Mindo(api_key=server.api_key, base_url=server.base_url) as mindo,
    ):
        message = mindo.send(**SEND)  # type: ignore[arg-type]
        assert isinstance(message, SentMessage)
        assert [e.message_id for e in server.ledger.messages] == [message.message_id]
    assert mindo.is_closed


def test_sync_client_maps_errors_like_the_async_one() -> None:
    """A 401 is ``AuthenticationError``, as for ``AsyncMindo``; not retried."""
    mindo, seen = mock_client(httpx.Response(401, json={"error": "API key inválida"}))
    with pytest.raises(AuthenticationError):
        mindo.send(**SEND)  # type: ignore[arg-type]
    assert len(seen) == 1


def test_sync_client_retries_what_is_safe_only() -> None:
    """A 503 is retried (one message); a read timeout is DeliveryUnknownError, not retried."""
    mindo, seen = mock_client(
        httpx.Response(503, headers={"Retry-After": "0"}), httpx.Response(201, json=OK_BODY)
    )
    assert mindo.send(**SEND).message_id == "wamid.sync"  # type: ignore[arg-type]
    assert len(seen) == 2
    mindo, seen = mock_client(httpx.ReadTimeout("slow"))
    with pytest.raises(DeliveryUnknownError):
        mindo.send(**SEND)  # type: ignore[arg-type]
    assert len(seen) == 1


def test_sync_client_validates_before_io_and_reads_national_numbers() -> None:
    """Bad input is refused before I/O; ``default_region`` sends the E.164 form."""
    mindo, seen = mock_client(httpx.Response(201, json=OK_BODY))
    with pytest.raises(InvalidRequestError):
        mindo.send(**{**SEND, "recipient_phone": "011 15-2345-6789"})  # type: ignore[arg-type]
    assert seen == []
    regional = Mindo(
        api_key=DEFAULT_API_KEY,
        http_client=mindo.http_client,
        rate_limit=None,
        default_region="AR",
    )
    regional.send(**{**SEND, "recipient_phone": "011 15-2345-6789"})  # type: ignore[arg-type]
    assert json.loads(seen[0].content)["recipient_phone"] == "+5491123456789"


def test_sync_client_shares_429_pauses_across_copies() -> None:
    """A 429 with Retry-After paused the number for the copy and the original alike."""
    mindo, _ = mock_client(httpx.Response(429, headers={"Retry-After": "120"}))
    copy = mindo.with_options(max_retries=0)
    with pytest.raises(RateLimitError):
        copy.send(**SEND)  # type: ignore[arg-type]
    assert mindo.pacer is copy.pacer
    assert mindo.pacer.paused_for(DEFAULT_PHONE_NUMBER_ID) > 60


def test_sync_client_refuses_use_after_close() -> None:
    """After ``close`` a send raises ``ClientClosedError``; nothing is sent."""
    mindo, seen = mock_client(httpx.Response(201, json=OK_BODY))
    mindo.close()
    with pytest.raises(ClientClosedError):
        mindo.send(**SEND)  # type: ignore[arg-type]
    assert seen == []


def test_async_client_in_a_second_event_loop_fails_before_sending() -> None:
    """One global AsyncMindo, ``asyncio.run`` per call: the second run is refused, not sent."""
    with serve(Emulator()) as server:
        mindo = AsyncMindo(api_key=server.api_key, base_url=server.base_url, rate_limit=None)

        async def send_one() -> SentMessage:
            return await mindo.send(**SEND)  # type: ignore[arg-type]

        asyncio.run(send_one())
        with pytest.raises(EventLoopMismatchError, match="another event loop"):
            asyncio.run(send_one())
        assert len(server.ledger.messages) == 1


def test_sync_client_has_every_resource_of_the_async_one() -> None:
    """Each public method of each async resource exists, sync, on ``Mindo``'s resource."""
    import inspect

    mindo = Mindo(api_key=DEFAULT_API_KEY)
    reference = AsyncMindo(api_key=DEFAULT_API_KEY)
    for area in ("messages", "bulk_sends", "business_accounts", "contacts", "business"):
        async_methods = {
            name
            for name, value in inspect.getmembers(getattr(reference, area))
            if not name.startswith("_") and inspect.iscoroutinefunction(value)
        }
        sync_resource = getattr(mindo, area)
        for name in async_methods:
            method = getattr(sync_resource, name)
            assert callable(method)
            assert not inspect.iscoroutinefunction(method)


def test_sync_reads_over_loopback_sockets() -> None:
    """The account reads work on ``Mindo`` too: business info and the message just sent."""
    with (
        serve(Emulator()) as server,
        Mindo(api_key=server.api_key, base_url=server.base_url) as mindo,
    ):
        sent = mindo.send(**SEND)  # type: ignore[arg-type]
        assert isinstance(mindo.messages.get(sent.message_id), MessageDetails)
        assert isinstance(mindo.business.info(), BusinessInfo)
        assert isinstance(mindo.business_accounts.get(), BusinessAccounts)
