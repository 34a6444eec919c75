"""The retry policy, as a pure function and as the client applies it."""

from __future__ import annotations

import json
import random
import ssl
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import httpx
import pytest
from pacer_clock import PacerClock

from mindo_async import (
    APIConnectionError,
    APIError,
    AsyncMindo,
    ClientClosedError,
    ConfigurationError,
    DeliveryUnknownError,
    InvalidRequestError,
    MindoError,
    RateLimitError,
    RetryPolicy,
    SendRequest,
    SentMessage,
    ServerDeliveryUnknownError,
    ServerError,
    _pacing,
)
from mindo_async._protocol import error_for_response
from mindo_async._retry import is_retryable, settle

API_KEY = "mindo_test0123456789abcdefABCDEF"
NUMBER_A = "813497231850626"
NUMBER_B = "100000000000001"
REQUEST = SendRequest(
    phone_number_id=NUMBER_A,
    template_name="welcome_message",
    recipient_phone="+5491112345678",
    variables={"name": "Juan Perez"},
)
SENT_BODY = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> APIError:
    """The error the protocol makes of an answer."""
    content = b"" if body is None else json.dumps(body).encode()
    return error_for_response(status, headers or {}, content, request=REQUEST)


def never_sent(*, retryable: bool = True) -> APIConnectionError:
    return APIConnectionError("could not connect", retryable=retryable, request=REQUEST)


def maybe_sent() -> DeliveryUnknownError:
    return DeliveryUnknownError("no answer in time", request=REQUEST)


# -- the policy as a pure function ------------------------------------------------------

#: Failures after which the request provably was not processed: retried by default.
RETRIED: list[Any] = [
    pytest.param(never_sent, id="never-sent"),
    pytest.param(lambda: answer(429), id="429"),
    pytest.param(lambda: answer(503), id="503"),
]

#: Refusals: retrying cannot help, whatever the options.
REFUSED: list[Any] = [
    pytest.param(lambda: answer(400, {"recipient_phone": ["Invalido."]}), id="400-validation"),
    pytest.param(lambda: answer(400, {"error": "Template 'x' no tiene estado APPROVED"}), id="400"),
    pytest.param(lambda: answer(400, {"error": "otra cosa"}), id="400-other"),
    pytest.param(lambda: answer(401, {"error": "API Key"}), id="401"),
    pytest.param(lambda: answer(403, {"error": "no"}), id="403"),
    pytest.param(lambda: answer(404, {"error": "Template 'x' no encontrado"}), id="404-template"),
    pytest.param(lambda: answer(404, {"error": "Numero de WhatsApp no encontrado"}), id="404-num"),
    pytest.param(lambda: answer(404), id="404"),
    pytest.param(lambda: answer(405), id="405"),
    pytest.param(lambda: answer(409), id="409"),
    pytest.param(lambda: answer(422), id="422"),
    pytest.param(lambda: answer(501), id="501"),
    pytest.param(lambda: answer(307, headers={"Location": "https://x.example/"}), id="307"),
    pytest.param(lambda: never_sent(retryable=False), id="tls-certificate"),
    pytest.param(lambda: InvalidRequestError({"recipient_phone": ["bad"]}), id="invalid-request"),
    pytest.param(lambda: ConfigurationError("no key"), id="configuration"),
    pytest.param(lambda: ClientClosedError("closed"), id="client-closed"),
]

#: The message may have been delivered: retried only with ``retry_ambiguous=True``.
AMBIGUOUS: list[Any] = [
    pytest.param(lambda: answer(500), id="500"),
    pytest.param(lambda: answer(502), id="502"),
    pytest.param(lambda: answer(504), id="504"),
    pytest.param(lambda: answer(200, {"success": True}), id="200-without-message-id"),
    pytest.param(lambda: answer(202), id="202"),
    pytest.param(maybe_sent, id="maybe-sent-transport-failure"),
]


def one() -> float:
    return 1.0


@pytest.mark.parametrize("make_error", RETRIED)
def test_never_sent_429_and_503_are_retried_by_default(
    make_error: Callable[[], MindoError],
) -> None:
    """Failures that prove nothing was processed are retried, after at most the first backoff."""
    delay = RetryPolicy().delay_before_retry(make_error(), attempts=1, random=one)
    assert delay == 0.5


@pytest.mark.parametrize("retry_ambiguous", [False, True])
@pytest.mark.parametrize("make_error", REFUSED)
def test_refusals_are_never_retried(
    make_error: Callable[[], MindoError], retry_ambiguous: bool
) -> None:
    """4xx answers, 501, redirects, TLS and client-side errors are never retried."""
    policy = RetryPolicy(max_retries=5, retry_ambiguous=retry_ambiguous)
    assert policy.delay_before_retry(make_error(), attempts=1) is None


@pytest.mark.parametrize("make_error", AMBIGUOUS)
def test_ambiguous_failures_are_not_retried_by_default(
    make_error: Callable[[], MindoError],
) -> None:
    """500/502/504, undocumented 2xx and 'maybe sent' transport failures are never retried."""
    error = make_error()
    assert isinstance(error, DeliveryUnknownError)
    assert RetryPolicy(max_retries=5).delay_before_retry(error, attempts=1) is None


@pytest.mark.parametrize("make_error", AMBIGUOUS)
def test_retry_ambiguous_retries_ambiguous_failures(
    make_error: Callable[[], MindoError],
) -> None:
    """``retry_ambiguous=True`` retries what may have been delivered, with the usual backoff."""
    policy = RetryPolicy(retry_ambiguous=True)
    assert policy.delay_before_retry(make_error(), attempts=1, random=one) == 0.5
    assert policy.delay_before_retry(make_error(), attempts=3, random=one) is None


def test_is_retryable_table() -> None:
    """``is_retryable`` says yes to never-sent, 429 and 503, and to ambiguity only on request."""
    assert is_retryable(never_sent())
    assert is_retryable(answer(429))
    assert is_retryable(answer(503))
    assert not is_retryable(never_sent(retryable=False))
    assert not is_retryable(answer(501))
    assert not is_retryable(answer(400))
    assert not is_retryable(answer(500))
    assert not is_retryable(maybe_sent())
    assert is_retryable(answer(500), retry_ambiguous=True)
    assert is_retryable(maybe_sent(), retry_ambiguous=True)
    assert not is_retryable(answer(404), retry_ambiguous=True)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("seconds", [0.0, 0.01, 5.0, 59.5, 60.0])
def test_retry_after_is_honoured_up_to_60_seconds(status: int, seconds: float) -> None:
    """A ``Retry-After`` of at most 60 s replaces the backoff, exactly."""
    error = answer(status, headers={"Retry-After": str(seconds)})
    assert RetryPolicy().delay_before_retry(error, attempts=1, random=one) == seconds


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("seconds", [60.5, 61.0, 3600.0])
def test_retry_after_beyond_60_seconds_gives_up(status: int, seconds: float) -> None:
    """When the server asks for more than 60 s, nothing is retried."""
    error = answer(status, headers={"Retry-After": str(seconds)})
    assert RetryPolicy(max_retries=5).delay_before_retry(error, attempts=1) is None


def test_full_jitter_ceilings() -> None:
    """The backoff ceiling doubles from 0.5 s and stops at 8 s."""
    policy = RetryPolicy(max_retries=10)
    error = never_sent()
    ceilings = [policy.delay_before_retry(error, attempts=n, random=one) for n in range(1, 9)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]


def test_full_jitter_scales_the_whole_interval() -> None:
    """Full jitter: the delay is ``random() * ceiling``, down to zero."""
    policy = RetryPolicy(max_retries=10)
    error = answer(503)
    assert policy.delay_before_retry(error, attempts=3, random=lambda: 0.0) == 0.0
    assert policy.delay_before_retry(error, attempts=3, random=lambda: 0.25) == 0.5
    assert policy.delay_before_retry(error, attempts=5, random=lambda: 0.5) == 4.0


def test_backoff_with_real_randomness_stays_in_bounds() -> None:
    """With the real ``random``, every backoff lies in ``[0, min(8, 0.5 * 2**(n-1))]``."""
    policy = RetryPolicy()
    rng = random.Random(1234)
    for retry_number in range(1, 10):
        ceiling = min(8.0, 0.5 * 2 ** (retry_number - 1))
        samples = [policy.backoff(retry_number, rng.random) for _ in range(200)]
        assert all(0.0 <= sample <= ceiling for sample in samples)
        assert max(samples) > ceiling / 2  # jittered over the whole range, not a constant


@pytest.mark.parametrize("make_error", RETRIED)
def test_retries_stop_after_max_retries(make_error: Callable[[], MindoError]) -> None:
    """With ``max_retries=n`` attempt n+1 is the last one."""
    policy = RetryPolicy(max_retries=3)
    error = make_error()
    assert [policy.delay_before_retry(error, attempts=n) is not None for n in (1, 2, 3, 4)] == [
        True,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize("make_error", [*RETRIED, *AMBIGUOUS])
def test_max_retries_zero_disables_retries(make_error: Callable[[], MindoError]) -> None:
    """``max_retries=0`` retries nothing, not even with ``retry_ambiguous``."""
    policy = RetryPolicy(max_retries=0, retry_ambiguous=True)
    assert policy.delay_before_retry(make_error(), attempts=1) is None


def test_documented_defaults() -> None:
    """Defaults: 2 retries, no ambiguous retries, base 0.5 s, cap 8 s, Retry-After cap 60 s."""
    policy = RetryPolicy()
    assert (policy.max_retries, policy.retry_ambiguous) == (2, False)
    assert (policy.backoff_base, policy.backoff_cap, policy.max_retry_after) == (0.5, 8.0, 60.0)
    assert AsyncMindo(api_key=API_KEY).retry_policy == policy
    custom = AsyncMindo(api_key=API_KEY, max_retries=0, retry_ambiguous=True).retry_policy
    assert (custom.max_retries, custom.retry_ambiguous) == (0, True)


# -- the client applies it --------------------------------------------------------------

Step = httpx.Response | Exception


class Script:
    """A mock server that plays ``steps`` in order (then repeats the last) and logs arrivals."""

    def __init__(self, *steps: Step) -> None:
        self.steps: Sequence[Step] = steps
        self.arrivals: list[tuple[float, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        number = json.loads(request.content)["phone_number_id"]
        self.arrivals.append((anyio.current_time(), number))
        step = self.steps[min(len(self.arrivals) - 1, len(self.steps) - 1)]
        if isinstance(step, Exception):
            raise step
        return step

    @property
    def calls(self) -> int:
        return len(self.arrivals)


def ok() -> httpx.Response:
    return httpx.Response(200, json=SENT_BODY)


def status(code: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(code, json={"error": f"status {code}"}, headers=headers)


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make backoffs 1 ms long, and record which retry number asked for each."""
    calls: list[int] = []

    def fast(self: RetryPolicy, retry_number: int, random: Callable[[], float] = one) -> float:
        calls.append(retry_number)
        return 0.001

    monkeypatch.setattr(RetryPolicy, "backoff", fast)
    return calls


async def send_through(script: Script, **options: Any) -> SentMessage:
    """Send ``REQUEST`` once through a client whose network is ``script``."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(script)) as http:
        options.setdefault("rate_limit", None)
        async with AsyncMindo(api_key=API_KEY, http_client=http, **options) as mindo:
            return await mindo.send_request(REQUEST)


@pytest.mark.anyio
async def test_503_then_200_is_sent_after_two_attempts(backoffs: list[int]) -> None:
    """A 503 is retried after a backoff and the next 200 is returned."""
    script = Script(status(503), ok())
    message = await send_through(script)
    assert isinstance(message, SentMessage)
    assert script.calls == 2
    assert backoffs == [1]


@pytest.mark.anyio
async def test_429_waits_its_retry_after_then_succeeds(backoffs: list[int]) -> None:
    """A 429 with ``Retry-After: 0.01`` is retried after that wait, not after a backoff."""
    script = Script(status(429, {"Retry-After": "0.01"}), ok())
    message = await send_through(script)
    assert isinstance(message, SentMessage)
    assert script.calls == 2
    assert script.arrivals[1][0] - script.arrivals[0][0] >= 0.009
    assert backoffs == []


@pytest.mark.anyio
async def test_503_waits_its_retry_after(backoffs: list[int]) -> None:
    """A 503's ``Retry-After`` is honoured like a 429's."""
    script = Script(status(503, {"Retry-After": "0.05"}), ok())
    await send_through(script)
    assert script.arrivals[1][0] - script.arrivals[0][0] >= 0.045
    assert backoffs == []


@pytest.mark.anyio
async def test_429_asking_for_more_than_60_seconds_is_raised_at_once(backoffs: list[int]) -> None:
    """A 429 with ``Retry-After: 61`` is raised as ``RateLimitError`` without retrying."""
    script = Script(status(429, {"Retry-After": "61"}), ok())
    with pytest.raises(RateLimitError) as caught:
        await send_through(script)
    assert caught.value.retry_after == 61.0
    assert caught.value.attempts == 1
    assert script.calls == 1


@pytest.mark.anyio
async def test_500_is_delivery_unknown_after_exactly_one_attempt(backoffs: list[int]) -> None:
    """A 500 is raised at once as both ``ServerError`` and ``DeliveryUnknownError``."""
    script = Script(status(500), ok())
    with pytest.raises(DeliveryUnknownError) as caught:
        await send_through(script, max_retries=5)
    error = caught.value
    assert isinstance(error, ServerError)
    assert isinstance(error, ServerDeliveryUnknownError)
    assert error.attempts == 1
    assert error.request == REQUEST
    assert error.status_code == 500
    assert script.calls == 1
    assert backoffs == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "step",
    [
        pytest.param(status(502), id="502"),
        pytest.param(status(504), id="504"),
        pytest.param(httpx.Response(200, text="<html>OK</html>"), id="200-html"),
        pytest.param(httpx.ReadTimeout("slow"), id="ReadTimeout"),
        pytest.param(httpx.WriteError("broken pipe"), id="WriteError"),
        pytest.param(httpx.RemoteProtocolError("Server disconnected"), id="disconnect"),
    ],
)
async def test_ambiguous_failures_are_raised_after_one_attempt(
    backoffs: list[int], step: Step
) -> None:
    """Whatever may have been delivered is never retried by default, even with 5 retries."""
    script = Script(step, ok())
    with pytest.raises(DeliveryUnknownError) as caught:
        await send_through(script, max_retries=5)
    assert caught.value.attempts == 1
    assert caught.value.request == REQUEST
    assert script.calls == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "step",
    [
        pytest.param(status(500), id="500"),
        pytest.param(httpx.ReadTimeout("slow"), id="ReadTimeout"),
        pytest.param(httpx.Response(200, json={"success": True}), id="200-without-id"),
    ],
)
async def test_retry_ambiguous_resends(backoffs: list[int], step: Step) -> None:
    """With ``retry_ambiguous=True`` an ambiguous failure is retried (and may duplicate)."""
    script = Script(step, ok())
    message = await send_through(script, retry_ambiguous=True)
    assert isinstance(message, SentMessage)
    assert script.calls == 2


@pytest.mark.anyio
@pytest.mark.parametrize("max_retries", [0, 1, 2, 4])
@pytest.mark.parametrize(
    ("step", "expected"),
    [
        pytest.param(status(503), ServerError, id="503"),
        pytest.param(status(429, {"Retry-After": "0"}), RateLimitError, id="429"),
        pytest.param(httpx.ConnectError("refused"), APIConnectionError, id="ConnectError"),
        pytest.param(httpx.ConnectTimeout("slow"), APIConnectionError, id="ConnectTimeout"),
        pytest.param(httpx.PoolTimeout("busy"), APIConnectionError, id="PoolTimeout"),
    ],
)
async def test_exhausted_retries_raise_the_last_error(
    backoffs: list[int], max_retries: int, step: Step, expected: type[MindoError]
) -> None:
    """When retries run out, the last error is raised with ``attempts == max_retries + 1``."""
    script = Script(step)
    with pytest.raises(expected) as caught:
        await send_through(script, max_retries=max_retries)
    assert not isinstance(caught.value, DeliveryUnknownError)
    assert getattr(caught.value, "attempts", None) == max_retries + 1
    assert script.calls == max_retries + 1


@pytest.mark.anyio
async def test_never_sent_then_success(backoffs: list[int]) -> None:
    """Two refused connections then a 200: sent, after backoffs for retries 1 and 2."""
    script = Script(httpx.ConnectError("refused"), httpx.ConnectError("refused"), ok())
    message = await send_through(script)
    assert isinstance(message, SentMessage)
    assert script.calls == 3
    assert backoffs == [1, 2]


@pytest.mark.anyio
@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422, 501])
async def test_refusals_are_raised_after_one_attempt(backoffs: list[int], code: int) -> None:
    """4xx answers and 501 are raised at once, with the status, after one attempt."""
    script = Script(status(code), ok())
    with pytest.raises(APIError) as caught:
        await send_through(script, max_retries=5, retry_ambiguous=True)
    assert caught.value.status_code == code
    assert caught.value.attempts == 1
    assert script.calls == 1


@pytest.mark.anyio
async def test_certificate_failure_is_not_retried(backoffs: list[int]) -> None:
    """A TLS certificate failure never reached the server, but retrying it cannot help."""
    try:
        raise httpx.ConnectError("tls") from ssl.SSLCertVerificationError(1, "verify failed")
    except httpx.ConnectError as exc:
        failure = exc
    script = Script(failure, ok())
    with pytest.raises(APIConnectionError) as caught:
        await send_through(script)
    assert caught.value.retryable is False
    assert caught.value.attempts == 1
    assert script.calls == 1


@pytest.mark.anyio
async def test_429_pauses_that_phone_number_for_concurrent_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 429 with ``Retry-After`` holds every send of that phone_number_id, and only that one."""
    clock = PacerClock()
    monkeypatch.setattr(_pacing, "anyio", clock)
    arrivals: list[tuple[float, str]] = []

    def server(request: httpx.Request) -> httpx.Response:
        number = json.loads(request.content)["phone_number_id"]
        arrivals.append((clock.current_time(), number))
        if len(arrivals) == 1:
            return status(429, {"Retry-After": "0.3"})
        return ok()

    async def send(mindo: AsyncMindo, number: str) -> None:
        await mindo.send_request(
            SendRequest(
                phone_number_id=number,
                template_name="welcome_message",
                recipient_phone="+5491112345678",
            )
        )

    with anyio.fail_after(10):  # a hang (a send held for good) fails instead of blocking
        async with (
            httpx.AsyncClient(transport=httpx.MockTransport(server)) as http,
            AsyncMindo(api_key=API_KEY, http_client=http, rate_limit=None) as mindo,
        ):
            paused = anyio.Event()
            pause = mindo.pacer.pause

            def pause_and_tell(key: str, seconds: float) -> None:
                pause(key, seconds)
                paused.set()

            monkeypatch.setattr(mindo.pacer, "pause", pause_and_tell)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(send, mindo, NUMBER_A)
                await paused.wait()  # the client read the 429
                assert mindo.pacer.paused_for(NUMBER_A) == pytest.approx(0.3)
                assert mindo.pacer.paused_for(NUMBER_B) == 0
                tasks.start_soon(send, mindo, NUMBER_A)
                # Both sends of A wait out the pause: the retry of the refused one (after
                # its own Retry-After wait, in real time) and the concurrent one.
                await clock.wait_for_sleepers(2)
                await send(mindo, NUMBER_B)  # not held: returns while A's pause lasts
                assert [number for _, number in arrivals] == [NUMBER_A, NUMBER_B]
                clock.advance(0.29)
                assert len(clock.sleepers) == 2, "released before the pause ended"
                assert mindo.pacer.paused_for(NUMBER_A) == pytest.approx(0.01)
                clock.advance(0.01)

    refused_at = arrivals[0][0]
    later_a = [when for when, number in arrivals[2:] if number == NUMBER_A]
    assert len(later_a) == 2
    assert all(when - refused_at == pytest.approx(0.3) for when in later_a)


# -- once ambiguous, always ambiguous (issue 15, item 4) ---------------------------------


def _ambiguous() -> DeliveryUnknownError:
    return ServerDeliveryUnknownError("boom", status_code=500, attempts=1)


@pytest.mark.parametrize(
    "last",
    [
        pytest.param(RateLimitError("slow down", attempts=3), id="429"),
        pytest.param(ServerError("later", status_code=503, attempts=3), id="503"),
        pytest.param(APIConnectionError("refused", attempts=3), id="connect"),
        pytest.param(APIError("bad", status_code=400, attempts=3), id="400"),
    ],
)
def test_settle_after_an_ambiguous_attempt_is_unknown(last: MindoError) -> None:
    """After an ambiguous attempt, a later 'not sent' failure settles as DeliveryUnknownError."""
    settled = settle(last, _ambiguous())
    assert type(settled) is DeliveryUnknownError
    assert settled.__cause__ is last
    assert settled.attempts == 3
    assert "500" in str(settled)


def test_settle_without_an_ambiguous_attempt_keeps_the_error() -> None:
    """Without an earlier ambiguous attempt the last error is raised as it is."""
    last = RateLimitError("slow down", attempts=3)
    assert settle(last, None) is last


def test_settle_keeps_an_unknown_error() -> None:
    """A last error that is itself 'maybe delivered' is kept as it is."""
    last = _ambiguous()
    assert settle(last, ServerDeliveryUnknownError("x", status_code=502)) is last
