"""The account-area resources over httpx.MockTransport: paths, queries, parsing, errors, cache."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from mindo_async import (
    APIError,
    AsyncMindo,
    AuthenticationError,
    ConfigurationError,
    EndpointNotAvailableError,
    InvalidRequestError,
    InvalidResponseError,
    MessageStatus,
    NotFoundError,
    PermissionDeniedError,
    PreflightError,
    ProblemCode,
    SendRequest,
)
from mindo_async._endpoints import (
    BUSINESS_ACCOUNTS,
    BUSINESS_HOURS,
    BUSINESS_INFO,
    CONTACT_LOOKUP,
    HOLIDAYS,
    MESSAGE_STATUS,
    SEND,
)

pytestmark = pytest.mark.anyio

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
KEY = "mindo_" + "k" * 24
NUMBER = "813497231850626"
Handler = Callable[[httpx.Request], httpx.Response]


def example(name: str) -> Any:
    """The documented 200 body of the endpoint ``name`` (vendored)."""
    return json.loads((REFERENCE / f"{name}.json").read_text(encoding="utf-8"))["responses"]["200"]


class Recorder:
    """A MockTransport handler that records requests and answers from a table by path."""

    def __init__(self, answers: dict[str, httpx.Response | Handler]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for path, answer in self.answers.items():
            if request.url.path == path or unquote(request.url.raw_path.decode()).startswith(path):
                return answer(request) if callable(answer) else answer
        return httpx.Response(404, text="<h1>Not Found</h1>")

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def client(recorder: Recorder, **options: Any) -> AsyncMindo:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return AsyncMindo(
        api_key=KEY, base_url="http://127.0.0.1", http_client=http, rate_limit=None, **options
    )


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


async def test_business_accounts_get_parses_and_sends_the_key() -> None:
    """business_accounts.get() GETs the table's path with X-API-Key and returns BusinessAccounts."""
    recorder = Recorder({BUSINESS_ACCOUNTS.path: ok(example("business_accounts.get"))})
    async with client(recorder) as mindo:
        accounts = await mindo.business_accounts.get()
    assert accounts.phone_number(NUMBER).quota is not None
    (request,) = recorder.requests
    assert request.method == "GET"
    assert request.url.path == BUSINESS_ACCOUNTS.path
    assert request.headers["X-API-Key"] == KEY


async def test_business_accounts_cache_honours_max_age() -> None:
    """get(max_age=...) reuses the last answer; get() and forget() ask the API again."""
    recorder = Recorder({BUSINESS_ACCOUNTS.path: ok(example("business_accounts.get"))})
    async with client(recorder) as mindo:
        first = await mindo.business_accounts.get()
        assert await mindo.business_accounts.get(max_age=60) is first
        assert len(recorder.requests) == 1
        await mindo.business_accounts.get()
        assert len(recorder.requests) == 2
        mindo.business_accounts.forget()
        await mindo.business_accounts.get(max_age=60)
        assert len(recorder.requests) == 3
        await mindo.business_accounts.get(max_age=0.0)
    assert len(recorder.requests) >= 3


async def test_message_get_percent_encodes_the_wamid() -> None:
    """messages.get puts the wamid in one path segment, '=', '/' and '+' percent-encoded."""
    wamid = "wamid.HBgN+NTQ5/MTEy=="
    recorder = Recorder({"/api/v1/meta-templates/messages/": ok(example("messages.get"))})
    async with client(recorder) as mindo:
        details = await mindo.messages.get(wamid)
    assert details.delivery_status.current is MessageStatus.READ
    raw = recorder.requests[0].url.raw_path.decode()
    assert raw == MESSAGE_STATUS.format_path({"message_id": wamid})
    assert raw.endswith("/wamid.HBgN%2BNTQ5%2FMTEy%3D%3D/")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, text="<html><h1>Not Found</h1></html>"),
        httpx.Response(404),
        httpx.Response(405, json={"detail": 'Method "GET" not allowed.'}),
        httpx.Response(501, text="Not Implemented"),
    ],
    ids=["html-404", "empty-404", "405", "501"],
)
async def test_message_get_on_a_server_without_the_endpoint(answer: httpx.Response) -> None:
    """A non-JSON 404, a 405 or a 501 is EndpointNotAvailableError (an APIError) saying so."""
    recorder = Recorder({"/api/v1/meta-templates/messages/": answer})
    async with client(recorder) as mindo:
        with pytest.raises(EndpointNotAvailableError) as caught:
            await mindo.messages.get("wamid.ABC=")
    assert isinstance(caught.value, APIError)
    assert caught.value.status_code == answer.status_code
    assert "does not offer" in str(caught.value)
    assert len(recorder.requests) == 1


async def test_message_get_json_404_is_not_found() -> None:
    """A JSON 404 is NotFoundError for an unknown message, not EndpointNotAvailableError."""
    answer = httpx.Response(404, json={"detail": "No encontrado."})
    recorder = Recorder({"/api/v1/meta-templates/messages/": answer})
    async with client(recorder) as mindo:
        with pytest.raises(NotFoundError) as caught:
            await mindo.messages.get("wamid.ABC=")
    assert not isinstance(caught.value, EndpointNotAvailableError)


async def test_message_get_refuses_an_empty_id_without_a_request() -> None:
    """An empty message id is InvalidRequestError and nothing is requested."""
    recorder = Recorder({})
    async with client(recorder) as mindo:
        with pytest.raises(InvalidRequestError):
            await mindo.messages.get(" ")
    assert recorder.requests == []


@pytest.mark.parametrize(
    "phone", ["+5492235961983", "5492235961983", "+54223155961983", "+54 223 15-596-1983"]
)
async def test_contact_lookup_sends_the_number_as_given(phone: str) -> None:
    """contacts.lookup sends the phone query exactly as given, in every documented form."""
    recorder = Recorder({CONTACT_LOOKUP.path: ok(example("contacts.lookup"))})
    async with client(recorder) as mindo:
        lookup = await mindo.contacts.lookup(phone)
    assert lookup.found is True
    assert recorder.requests[0].url.params["phone"] == phone


@pytest.mark.parametrize("phone", ["", "hola", "12", "+54 (223) abc", "1" * 25])
async def test_contact_lookup_refuses_what_is_not_phone_like(phone: str) -> None:
    """A value that is not phone-like is InvalidRequestError, with no request made."""
    recorder = Recorder({})
    async with client(recorder) as mindo:
        with pytest.raises(InvalidRequestError) as caught:
            await mindo.contacts.lookup(phone)
    assert "phone" in caught.value.errors
    assert recorder.requests == []


async def test_business_info_hours_and_holidays() -> None:
    """business.info/hours/holidays parse their examples; holidays sends from/to as YYYY-MM-DD."""
    recorder = Recorder(
        {
            BUSINESS_INFO.path: ok(example("business.info")),
            BUSINESS_HOURS.path: ok(example("business.hours")),
            HOLIDAYS.path: ok(example("business.holidays")),
        }
    )
    async with client(recorder) as mindo:
        info = await mindo.business.info()
        branches = await mindo.business.hours()
        holidays = await mindo.business.holidays(start=date(2026, 1, 1), end="2026-12-31")
        await mindo.business.holidays()
    assert info.name == "Mi Empresa SRL"
    assert branches[0].schedules[0].start_time.hour == 9
    assert [h.name for h in holidays] == ["Año Nuevo", "Nochebuena"]
    with_range, without = recorder.requests[2:]
    assert dict(with_range.url.params) == {"from": "2026-01-01", "to": "2026-12-31"}
    assert dict(without.url.params) == {}


async def test_holidays_refuses_a_reversed_or_malformed_range() -> None:
    """start after end, or a value that is not a date, is InvalidRequestError before any request."""
    recorder = Recorder({})
    async with client(recorder) as mindo:
        with pytest.raises(InvalidRequestError):
            await mindo.business.holidays(start=date(2026, 2, 1), end=date(2026, 1, 1))
        with pytest.raises(InvalidRequestError):
            await mindo.business.holidays(start="01/02/2026")
    assert recorder.requests == []


CALLS: dict[str, Callable[[AsyncMindo], Any]] = {
    "business_accounts.get": lambda m: m.business_accounts.get(),
    "messages.get": lambda m: m.messages.get("wamid.X="),
    "contacts.lookup": lambda m: m.contacts.lookup("+5492235961983"),
    "business.info": lambda m: m.business.info(),
    "business.hours": lambda m: m.business.hours(),
    "business.holidays": lambda m: m.business.holidays(),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (401, "API Key expirada", AuthenticationError),
        (
            401,
            "Este endpoint requiere autenticacion con API Key (header X-API-Key)",
            AuthenticationError,
        ),
        (403, "API Key no tiene acceso a este recurso", PermissionDeniedError),
    ],
)
async def test_documented_auth_errors_map_on_every_endpoint(
    name: str, status: int, message: str, error: type[APIError]
) -> None:
    """401 (expired key too) is AuthenticationError, 403 PermissionDeniedError, on each endpoint."""
    recorder = Recorder({"/api/v1/": httpx.Response(status, json={"detail": message})})
    async with client(recorder) as mindo:
        with pytest.raises(error) as caught:
            await CALLS[name](mindo)
    assert message in str(caught.value)
    assert KEY not in str(caught.value)


async def test_an_undocumented_body_is_unexpected_response() -> None:
    """A 200 that is not the documented body is InvalidResponseError naming the endpoint."""
    recorder = Recorder({BUSINESS_INFO.path: ok({"unexpected": True})})
    async with client(recorder) as mindo:
        with pytest.raises(InvalidResponseError) as caught:
            await mindo.business.info()
    assert "business.info" in str(caught.value)


# -- the pre-flight through the client ----------------------------------------------------


def sent(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return ok(
        {
            "success": True,
            "message_id": "wamid." + body["recipient_phone"][1:],
            "template_name": body["template_name"],
            "recipient_phone": body["recipient_phone"],
            "status": "sent",
            "sent_at": "2025-11-16T21:30:00Z",
        }
    )


def welcome(i: int, **variables: str) -> SendRequest:
    return SendRequest(
        phone_number_id=NUMBER,
        template_name="welcome_message",
        recipient_phone=f"+54911{40000000 + i}",
        variables=variables or {"customer_name": f"User {i}"},
    )


def account_recorder() -> Recorder:
    return Recorder({BUSINESS_ACCOUNTS.path: ok(example("business_accounts.get")), SEND.path: sent})


async def test_preflight_uses_the_account_cache() -> None:
    """Two preflights within account_cache_ttl fetch business-accounts once."""
    recorder = account_recorder()
    async with client(recorder, account_cache_ttl=300) as mindo:
        first = await mindo.preflight([welcome(1)])
        second = await mindo.preflight([welcome(2, name="x")])
    assert first.ok
    assert [p.code for p in second.problems] == [
        ProblemCode.MISSING_VARIABLE,
        ProblemCode.UNKNOWN_VARIABLE,
    ]
    assert recorder.paths().count(BUSINESS_ACCOUNTS.path) == 1


async def test_send_many_with_preflight_refuses_and_sends_nothing() -> None:
    """send_many(preflight=True) raises PreflightError carrying the report; no send is made."""
    recorder = account_recorder()
    async with client(recorder) as mindo:
        with pytest.raises(PreflightError) as caught:
            await mindo.send_many([welcome(1), welcome(2, code="x")], preflight=True)
    assert caught.value.report.invalid_indexes == frozenset({1})
    assert SEND.path not in recorder.paths()


async def test_send_many_with_a_clean_preflight_sends_everything() -> None:
    """A clean pre-flight lets the run go on: every request is sent once."""
    recorder = account_recorder()
    async with client(recorder) as mindo:
        results = await mindo.send_many(lambda: (welcome(i) for i in range(3)), preflight=True)
    assert [r.ok for r in results] == [True, True, True]
    assert recorder.paths().count(SEND.path) == 3


async def test_stream_many_with_preflight_refuses_a_generator() -> None:
    """preflight=True needs re-iterable input: a generator is a TypeError, before any request."""
    recorder = account_recorder()

    def generator() -> Iterator[SendRequest]:
        yield welcome(1)

    async with client(recorder) as mindo:
        with pytest.raises(TypeError, match="twice"):
            mindo.stream_many(generator(), preflight=True)
    assert recorder.requests == []


async def test_account_cache_ttl_zero_always_asks() -> None:
    """With account_cache_ttl=0 every pre-flight reads business-accounts again."""
    recorder = account_recorder()
    async with client(recorder, account_cache_ttl=0) as mindo:
        await mindo.preflight([welcome(1)])
        await mindo.preflight([welcome(2)])
    assert recorder.paths().count(BUSINESS_ACCOUNTS.path) == 2


@pytest.mark.parametrize("ttl", [-1, float("nan"), "60", True])
def test_a_bad_account_cache_ttl_is_a_configuration_error(ttl: object) -> None:
    """A negative, NaN or non-numeric account_cache_ttl is refused at construction."""
    with pytest.raises(ConfigurationError, match="account_cache_ttl"):
        AsyncMindo(api_key=KEY, account_cache_ttl=ttl)  # type: ignore[arg-type]


async def test_stream_many_with_preflight_raises_on_entering() -> None:
    """stream_many(preflight=True) raises PreflightError when the block is entered; nothing sent."""
    recorder = account_recorder()
    async with client(recorder) as mindo:
        with pytest.raises(PreflightError) as caught:
            async with mindo.stream_many((welcome(1), welcome(2, code="x")), preflight=True):
                pytest.fail("the block must not run")
    assert caught.value.report.invalid_requests == 1
    assert SEND.path not in recorder.paths()


async def test_preflight_reads_a_callable_and_an_async_iterable() -> None:
    """preflight takes a callable returning an iterable, and an async iterable, like send_many."""

    async def rows() -> AsyncIterator[SendRequest]:
        for i in range(3):
            yield welcome(i)

    recorder = account_recorder()
    async with client(recorder) as mindo:
        from_callable = await mindo.preflight(lambda: [welcome(i) for i in range(3)])
        from_async = await mindo.preflight(rows())
    assert from_callable.requests == from_async.requests == 3
    assert from_callable.numbers[0].recipients == 3
