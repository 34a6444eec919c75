"""Client options of issue 14: allow_insecure_http, with_options, logging and metrics hooks."""

from __future__ import annotations

import logging

import httpx
import pytest

from mindo_async import (
    AsyncMindo,
    ConfigurationError,
    Mindo,
    PhoneNumberNotFoundError,
    RateLimitError,
    RetryPolicy,
    SentMessage,
)
from mindo_async._config import check_base_url
from mindo_async.testing import (
    DEFAULT_API_KEY,
    DEFAULT_PHONE_NUMBER_ID,
    Emulator,
    FaultConfig,
    serve,
)

SEND = {
    "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
    "template_name": "verification_code",
    "recipient_phone": "+5491123456789",
    "variables": {"name": "Ana", "code": "1"},
}
COMPOSE_URL = "http://mindo-emulator:8000"


# -- allow_insecure_http (item 15) ----------------------------------------------------------


def test_plain_http_to_another_host_needs_the_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """``http://`` to a non-loopback host is refused unless allow_insecure_http is given."""
    monkeypatch.delenv("MINDO_ALLOW_INSECURE_HTTP", raising=False)
    with pytest.raises(ConfigurationError, match="allow_insecure_http=True"):
        AsyncMindo(api_key=DEFAULT_API_KEY, base_url=COMPOSE_URL)
    with pytest.raises(ConfigurationError, match="MINDO_ALLOW_INSECURE_HTTP"):
        Mindo(api_key=DEFAULT_API_KEY, base_url=COMPOSE_URL)
    client = AsyncMindo(api_key=DEFAULT_API_KEY, base_url=COMPOSE_URL, allow_insecure_http=True)
    assert client.base_url == COMPOSE_URL


def test_the_insecure_opt_in_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``MINDO_ALLOW_INSECURE_HTTP=1`` is the same opt-in, with a WARNING; explicit False wins."""
    monkeypatch.setenv("MINDO_ALLOW_INSECURE_HTTP", "1")
    with caplog.at_level(logging.WARNING, logger="mindo_async"):
        assert Mindo(api_key=DEFAULT_API_KEY, base_url=COMPOSE_URL).base_url == COMPOSE_URL
    assert any("unencrypted" in record.getMessage() for record in caplog.records)
    assert check_base_url(COMPOSE_URL) == COMPOSE_URL
    with pytest.raises(ConfigurationError):
        check_base_url(COMPOSE_URL, allow_insecure_http=False)


def test_loopback_http_needs_no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback hosts keep working over plain http without the opt-in."""
    monkeypatch.delenv("MINDO_ALLOW_INSECURE_HTTP", raising=False)
    assert check_base_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"


# -- with_options (item 9) ------------------------------------------------------------------


def emulator_client(emulator: Emulator, **options: object) -> AsyncMindo:
    return AsyncMindo(
        api_key=DEFAULT_API_KEY,
        base_url="http://127.0.0.1",
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator)),
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.anyio
async def test_with_options_shares_pool_and_pacer_and_not_closing() -> None:
    """A copy has its own timeout and retries, the same pool and pacer; closing it keeps the pool"""
    emulator = Emulator()
    async with emulator_client(emulator, max_retries=2) as mindo:
        copy = mindo.with_options(timeout=3, max_retries=0)
        assert copy.timeout.read == 3
        assert mindo.timeout.read == 30
        assert copy.retry_policy.max_retries == 0
        assert mindo.retry_policy.max_retries == 2
        assert copy.http_client is mindo.http_client
        assert copy.pacer is mindo.pacer
        await copy.aclose()
        assert copy.is_closed
        assert not mindo.http_client.is_closed
        assert isinstance(await mindo.send(**SEND), SentMessage)  # type: ignore[arg-type]
        other = mindo.with_options(max_retries=1)
    assert other.is_closed


@pytest.mark.anyio
async def test_with_options_copies_share_429_pauses() -> None:
    """A 429 seen through a copy pauses the number for the original too."""
    emulator = Emulator(faults=FaultConfig(rate_limited_probability=1.0, retry_after=120))
    async with emulator_client(emulator) as mindo:
        copy = mindo.with_options(max_retries=0)
        with pytest.raises(RateLimitError):
            await copy.send(**SEND)  # type: ignore[arg-type]
        assert mindo.pacer.paused_for(DEFAULT_PHONE_NUMBER_ID) > 60
        with pytest.raises(RateLimitError, match="paused"):
            await mindo.send(**SEND)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_zero_backoff_retries_do_not_sleep() -> None:
    """With RetryPolicy(backoff_base=0) and Retry-After 0, 429s are retried without sleeping."""
    emulator = Emulator(faults=FaultConfig(rate_limited_probability=1.0, retry_after=0))
    async with emulator_client(emulator) as mindo:
        fast = mindo.with_options(retry_policy=RetryPolicy(max_retries=3, backoff_base=0.0))
        with pytest.raises(RateLimitError) as caught:
            await fast.send(**SEND)  # type: ignore[arg-type]
    assert caught.value.attempts == 4


def test_with_options_checks_its_values() -> None:
    """Bad per-call options are ConfigurationErrors, as in the constructor."""
    mindo = AsyncMindo(api_key=DEFAULT_API_KEY)
    with pytest.raises(ConfigurationError):
        mindo.with_options(max_retries=-1)
    with pytest.raises(ConfigurationError):
        mindo.with_options(timeout=0)


# -- logging and hooks (item 10) --------------------------------------------------------------


@pytest.mark.anyio
async def test_a_429_pause_and_a_final_failure_log_warnings_with_masked_phones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 429 pause and a failure that ends a send are WARNINGs with extra= fields, phone masked."""
    emulator = Emulator(faults=FaultConfig(rate_limited_probability=1.0, retry_after=0))
    async with emulator_client(emulator, max_retries=0) as mindo:
        with caplog.at_level(logging.WARNING, logger="mindo_async"), pytest.raises(RateLimitError):
            await mindo.send(**SEND)  # type: ignore[arg-type]
    events = {getattr(r, "mindo_event", None): r for r in caplog.records}
    pause = events["rate_limit_pause"]
    assert pause.levelno == logging.WARNING
    assert pause.phone_number_id == DEFAULT_PHONE_NUMBER_ID  # type: ignore[attr-defined]
    failed = events["request_failed"]
    assert failed.levelno == logging.WARNING
    assert failed.error == "RateLimitError"  # type: ignore[attr-defined]
    assert failed.recipient == "**********6789"  # type: ignore[attr-defined]
    assert all("+5491123456789" not in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_an_api_refusal_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """A 404 (unknown number) ends the send with one WARNING naming the error class."""
    async with emulator_client(Emulator()) as mindo:
        with (
            caplog.at_level(logging.WARNING, logger="mindo_async"),
            pytest.raises(PhoneNumberNotFoundError),
        ):
            await mindo.send(**{**SEND, "phone_number_id": "1"})  # type: ignore[arg-type]
    failures = [r for r in caplog.records if getattr(r, "mindo_event", None) == "request_failed"]
    assert [r.error for r in failures] == ["PhoneNumberNotFoundError"]  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_event_hooks_see_every_attempt_on_the_default_transport() -> None:
    """``event_hooks=`` of the client the library builds are called on the default transport."""
    statuses: list[int] = []

    async def on_response(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    with serve(Emulator()) as server:
        async with AsyncMindo(
            api_key=server.api_key,
            base_url=server.base_url,
            event_hooks={"response": [on_response]},
        ) as mindo:
            await mindo.send(**SEND)  # type: ignore[arg-type]
            await mindo.send(**SEND)  # type: ignore[arg-type]
    assert statuses == [200, 200]


def test_event_hooks_with_your_own_client_are_refused() -> None:
    """Hooks go on your own http_client, not next to it."""
    with pytest.raises(ConfigurationError, match="event_hooks"):
        AsyncMindo(
            api_key=DEFAULT_API_KEY,
            http_client=httpx.AsyncClient(),
            event_hooks={"response": []},
        )
