"""The emulator over real loopback sockets (uvicorn in a thread): drops, timeouts, the command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from mindo_async.testing import (
    DEFAULT_API_KEY,
    SEND_PATH,
    Emulator,
    EmulatorServer,
    Fault,
    FaultConfig,
    serve,
)

WELCOME = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "language": "es",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}
HEADERS = {"X-API-Key": DEFAULT_API_KEY}


@pytest.fixture(scope="module", params=["h11", "httptools"])
def shared_server(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    """One server per uvicorn HTTP implementation for the whole module."""
    with serve(Emulator(), http=request.param) as server:
        yield server


@pytest.fixture
def server(shared_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The shared server, with its emulator reset before and after the test."""
    shared_server.emulator.reset()
    yield shared_server
    shared_server.emulator.reset()


def _port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_serve_listens_on_a_free_loopback_port_and_stops_on_exit() -> None:
    """serve() yields a loopback base URL that accepts connections, and closes it on exit."""
    with serve() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.send_url == server.base_url + SEND_PATH
        assert server.api_key == DEFAULT_API_KEY
        assert server.port != 0
        assert _port_is_open(server.port)
        response = httpx.post(server.send_url, json=WELCOME, headers=HEADERS)
        assert response.status_code == 200
        assert server.ledger is server.emulator.ledger
    assert not _port_is_open(server.port)


def test_serve_refuses_a_busy_port() -> None:
    """Serving on a port already taken fails at once instead of hanging."""
    with serve() as server, pytest.raises(OSError), serve(port=server.port):
        pass


@pytest.mark.anyio
async def test_drop_after_processing_over_a_socket(server: EmulatorServer) -> None:
    """The connection closes unanswered, yet the message is in the ledger (h11 and httptools)."""
    server.emulator.script(Fault.drop_after_processing())
    async with httpx.AsyncClient(base_url=server.base_url, headers=HEADERS) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.post(SEND_PATH, json=WELCOME)
        (entry,) = server.emulator.ledger.messages
        assert entry.outcome == "dropped"
        assert entry.body == WELCOME
        # The client's pool recovers: the next request on the same client succeeds.
        assert (await client.post(SEND_PATH, json=WELCOME)).status_code == 200
    counts = server.emulator.ledger.counts
    assert (counts["dropped"], counts["sent"], counts["total_requests"]) == (1, 1, 2)
    assert len(server.emulator.ledger.duplicates()) == 1


@pytest.mark.anyio
async def test_drop_before_processing_over_a_socket(server: EmulatorServer) -> None:
    """A drop before processing closes the connection and leaves the ledger empty."""
    server.emulator.script(Fault.drop_before_processing())
    async with httpx.AsyncClient(base_url=server.base_url, headers=HEADERS) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(SEND_PATH, json=WELCOME)
    assert server.emulator.ledger.messages == ()
    assert server.emulator.ledger.counts["dropped_before_processing"] == 1


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_drop_reaches_aiohttp_as_server_disconnected(server: EmulatorServer) -> None:
    """aiohttp sees the drop as ServerDisconnectedError (httpx-aiohttp's ConnectTimeout hazard)."""
    import aiohttp

    server.emulator.script(Fault.drop_after_processing())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.post(server.send_url, json=WELCOME, headers=HEADERS)
    assert len(server.emulator.ledger) == 1


@pytest.mark.anyio
async def test_response_slower_than_the_client_timeout(server: EmulatorServer) -> None:
    """A latency past the client's read timeout gives ReadTimeout; the message was still sent."""
    server.emulator.set_faults(latency=0.25)
    timeout = httpx.Timeout(0.08)
    async with httpx.AsyncClient(base_url=server.base_url, headers=HEADERS, timeout=timeout) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.post(SEND_PATH, json=WELCOME)
    (entry,) = server.emulator.ledger.messages
    assert entry.outcome == "sent"


@pytest.mark.anyio
async def test_scripted_slow_response_over_a_socket(server: EmulatorServer) -> None:
    """Fault.slow delays one answer past the timeout; the next request is fast again."""
    server.emulator.script(Fault.slow(0.25))
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=HEADERS, timeout=httpx.Timeout(0.08)
    ) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(SEND_PATH, json=WELCOME)
        assert (await client.post(SEND_PATH, json=WELCOME)).status_code == 200
    assert len(server.emulator.ledger) == 2


@pytest.mark.anyio
async def test_rate_limit_over_a_socket(server: EmulatorServer) -> None:
    """The per-number rate limit answers 429 with an integer Retry-After over real HTTP."""
    server.emulator.set_faults(FaultConfig(phone_rate_limit=2))
    async with httpx.AsyncClient(base_url=server.base_url, headers=HEADERS) as client:
        responses = [await client.post(SEND_PATH, json=WELCOME) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].headers["retry-after"].isdigit()
    assert len(server.emulator.ledger) == 2


@pytest.mark.anyio
async def test_concurrent_sends_are_all_recorded_once(server: EmulatorServer) -> None:
    """64 concurrent distinct sends over sockets are each recorded exactly once."""

    async def send(client: httpx.AsyncClient, index: int) -> None:
        body = {**WELCOME, "recipient_phone": f"+54911{index:08d}"}
        assert (await client.post(SEND_PATH, json=body)).status_code == 200

    async with (
        httpx.AsyncClient(base_url=server.base_url, headers=HEADERS) as client,
        anyio.create_task_group() as tg,
    ):
        for index in range(64):
            tg.start_soon(send, client, index)
    ledger = server.emulator.ledger
    assert len(ledger) == 64
    assert ledger.duplicates() == []
    assert len({m.message_id for m in ledger.messages}) == 64


# -- the command ------------------------------------------------------------------------------


def _start_command(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start ``python -m mindo_async.testing``; return it, the base URL and what it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mindo_async.testing", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    printed = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        printed += line
        if "Ctrl-C" in line:
            base_url = printed.split("base URL:")[1].split()[0]
            return process, base_url, printed
    process.kill()
    _, err = process.communicate()
    raise AssertionError(f"the command did not print its base URL: {err}")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_command_serves_until_stopped_and_exits_cleanly(
    stop_signal: signal.Signals, tmp_path: Path
) -> None:
    """The command serves --data/--api-key/--latency-ms until Ctrl-C or SIGTERM, then exits 0."""
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"phone_number_ids": ["42"]}))
    process, base_url, printed = _start_command(
        "--data", str(data), "--api-key", "mindo_cli_key", "--latency-ms", "30", "--seed", "1"
    )
    try:
        body = {**WELCOME, "phone_number_id": "42"}
        started = time.perf_counter()
        ok = httpx.post(base_url + SEND_PATH, json=body, headers={"X-API-Key": "mindo_cli_key"})
        assert ok.status_code == 200
        assert time.perf_counter() - started >= 0.03
        assert httpx.post(base_url + SEND_PATH, json=body, headers=HEADERS).status_code == 401
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "API key:  mindo_cli_key" in printed
    assert "2 request(s), 1 message(s) accepted" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "--allow-remote"),
        (["--host", "192.168.1.10", "--port", "0"], "--allow-remote"),
        (["--api-key", "not-a-mindo-key"], "shape"),
    ],
)
def test_command_refuses_remote_hosts_and_bad_keys(args: list[str], message: str) -> None:
    """A non-loopback --host needs --allow-remote; a malformed --api-key is refused."""
    import typer
    from typer.testing import CliRunner

    from mindo_async.testing._command import emulator_command

    app = typer.Typer()
    app.command()(emulator_command)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.slow  # a subprocess
def test_command_fault_flags_reach_the_emulator() -> None:
    """``--fault 503=1`` makes every send 503; ``--phone-rate-limit`` is accepted with it."""
    process, base_url, _ = _start_command("--fault", "503=1", "--phone-rate-limit", "80")
    try:
        answer = httpx.post(base_url + SEND_PATH, json=WELCOME, headers=HEADERS)
        assert answer.status_code == 503
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0


def test_fault_flags_parse_to_fault_config_fields() -> None:
    """``--fault`` names map to FaultConfig probabilities; unknown names and bad numbers
    are refused with a message naming the known ones."""
    from mindo_async.testing._command import parse_faults

    assert parse_faults(["503=0.05", "DROP=0.01", "429=0.2", "500=0.1"]) == {
        "unavailable_probability": 0.05,
        "drop_probability": 0.01,
        "rate_limited_probability": 0.2,
        "server_error_probability": 0.1,
    }
    with pytest.raises(ValueError, match="429, 503, 500, drop"):
        parse_faults(["502=0.1"])
    with pytest.raises(ValueError, match="not a number"):
        parse_faults(["503=often"])


def test_command_refuses_a_bad_fault_flag() -> None:
    """A bad ``--fault`` (or an impossible probability) exits 2 with the reason."""
    import typer
    from typer.testing import CliRunner

    from mindo_async.testing._command import emulator_command

    app = typer.Typer()
    app.command()(emulator_command)
    for args, message in (
        (["--fault", "teapot=1"], "NAME=PROBABILITY"),
        (["--fault", "503=2"], ""),
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output
