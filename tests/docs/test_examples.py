"""The recipes in examples/ work against the emulator: FastAPI, aiohttp and the queue worker."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

from mindo_async import AsyncMindo, SendRequest
from mindo_async.testing import EmulatorServer, Fault

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NUMBER_ID = "813497231850626"


def load(name: str) -> ModuleType:
    """Import examples/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def message(i: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "phone_number_id": NUMBER_ID,
        "template_name": "verification_code",
        "recipient_phone": f"+54911{80000000 + i}",
        "variables": {"name": f"User {i}", "code": f"{i:04d}"},
    }
    body.update(changes)
    return body


# -- FastAPI ---------------------------------------------------------------------------------


@pytest.fixture
def fastapi_app(mindo_emulator_server: EmulatorServer) -> Any:
    module = load("fastapi_app")
    return module.create_app(
        api_key=mindo_emulator_server.api_key, base_url=mindo_emulator_server.base_url
    )


async def fastapi_call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app"
    ) as http:
        return await http.request(method, url, **kwargs)


@pytest.mark.anyio
async def test_fastapi_sends_one_message(
    fastapi_app: Any, mindo_emulator_server: EmulatorServer
) -> None:
    """POST /messages sends through the lifespan's client and answers 201 with the message id."""
    async with fastapi_app.router.lifespan_context(fastapi_app):
        response = await fastapi_call(fastapi_app, "POST", "/messages", json=message(1))
    assert response.status_code == 201, response.text
    (sent,) = mindo_emulator_server.ledger.messages
    assert response.json()["message_id"] == sent.message_id


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("changes", "fault", "status", "detail"),
    [
        ({"recipient_phone": "12345"}, None, 422, "invalid message"),
        ({"template_name": "no_such_template"}, None, 404, "no encontrado"),
        ({"phone_number_id": "999"}, None, 404, "no encontrado"),
        ({"template_name": "promo_pending", "variables": {"name": "A"}}, None, 400, "APPROVED"),
        ({}, Fault.status(429, retry_after=120), 429, "rate limited"),
        ({}, Fault.status(500), 502, "may have been delivered"),
        ({}, Fault.drop_after_processing(), 502, "may have been delivered"),
        ({}, Fault.status(503), 503, "nothing was sent"),
    ],
    ids=["invalid", "template", "number", "not-approved", "429", "500", "dropped", "503"],
)
async def test_fastapi_maps_errors_to_http(
    fastapi_app: Any,
    mindo_emulator_server: EmulatorServer,
    changes: dict[str, Any],
    fault: Fault | None,
    status: int,
    detail: str,
) -> None:
    """Each library error becomes the documented HTTP status with a useful detail."""
    if fault is not None:
        mindo_emulator_server.emulator.script(*[fault] * 3)
    async with fastapi_app.router.lifespan_context(fastapi_app):
        response = await fastapi_call(fastapi_app, "POST", "/messages", json=message(2, **changes))
    assert response.status_code == status, response.text
    assert detail in response.text
    if status == 429:
        assert response.headers["retry-after"] == "120"


@pytest.mark.anyio
async def test_fastapi_refused_key_is_not_a_401_for_the_caller(
    mindo_emulator_server: EmulatorServer,
) -> None:
    """Our key being refused is our problem: 502, not 401, and the key is not echoed."""
    app = load("fastapi_app").create_app(
        api_key="mindo_not_the_right_key", base_url=mindo_emulator_server.base_url
    )
    async with app.router.lifespan_context(app):
        response = await fastapi_call(app, "POST", "/messages", json=message(3))
    assert response.status_code == 502
    assert "mindo_not_the_right_key" not in response.text


@pytest.mark.anyio
async def test_fastapi_background_campaign(
    fastapi_app: Any, mindo_emulator_server: EmulatorServer
) -> None:
    """POST /campaigns answers 202 at once; GET reports progress until every message is sent."""
    mindo_emulator_server.emulator.set_faults(latency=0.01)
    body = {
        "phone_number_id": NUMBER_ID,
        "template_name": "verification_code",
        "recipients": [
            {"recipient_phone": message(i)["recipient_phone"], "variables": message(i)["variables"]}
            for i in range(40)
        ],
    }
    async with fastapi_app.router.lifespan_context(fastapi_app):
        started = await fastapi_call(fastapi_app, "POST", "/campaigns", json=body)
        assert started.status_code == 202, started.text
        assert started.json()["state"] == "running"
        campaign_id = started.json()["id"]
        with anyio.fail_after(30):
            while True:
                status = (
                    await fastapi_call(fastapi_app, "GET", f"/campaigns/{campaign_id}")
                ).json()
                if status["state"] == "done":
                    break
                await anyio.sleep(0.02)
        missing = await fastapi_call(fastapi_app, "GET", "/campaigns/nope")
    assert status["sent"] == 40
    assert status["total"] == 40
    assert missing.status_code == 404
    assert len(mindo_emulator_server.ledger) == 40


@pytest.mark.anyio
async def test_fastapi_shutdown_cancels_running_campaigns(
    fastapi_app: Any, mindo_emulator_server: EmulatorServer
) -> None:
    """Stopping the app cancels a running campaign cleanly: nothing more is sent after it."""
    mindo_emulator_server.emulator.set_faults(latency=0.2)
    body = {
        "phone_number_id": NUMBER_ID,
        "template_name": "verification_code",
        "recipients": [
            {"recipient_phone": message(i)["recipient_phone"], "variables": message(i)["variables"]}
            for i in range(200)
        ],
    }
    with anyio.fail_after(20):
        async with fastapi_app.router.lifespan_context(fastapi_app):
            started = await fastapi_call(fastapi_app, "POST", "/campaigns", json=body)
            assert started.status_code == 202
            await anyio.sleep(0.1)
    # Requests already on the wire when the app stopped may still land: let them.
    await anyio.sleep(0.5)
    landed = mindo_emulator_server.ledger.counts["total_requests"]
    await anyio.sleep(0.5)
    assert mindo_emulator_server.ledger.counts["total_requests"] == landed
    assert landed <= 16  # the campaign's concurrency: no new send started after the stop


# -- aiohttp ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_aiohttp_app_sends_and_maps_errors(mindo_emulator_server: EmulatorServer) -> None:
    """The aiohttp app sends with the cleanup_ctx client and maps errors to HTTP answers."""
    from aiohttp.test_utils import TestClient, TestServer

    module = load("aiohttp_app")
    app = module.create_app(
        api_key=mindo_emulator_server.api_key, base_url=mindo_emulator_server.base_url
    )
    async with TestClient(TestServer(app)) as client:
        sent = await client.post("/messages", json=message(1))
        assert sent.status == 201, await sent.text()
        assert (await sent.json())["message_id"] == mindo_emulator_server.ledger.messages[
            0
        ].message_id
        invalid = await client.post("/messages", json=message(2, recipient_phone="123"))
        assert invalid.status == 422
        assert "recipient_phone" in (await invalid.json())["errors"]
        missing = await client.post("/messages", json=message(3, template_name="nope"))
        assert missing.status == 404
        mindo_emulator_server.emulator.script(Fault.status(500))
        unknown = await client.post("/messages", json=message(4))
        assert unknown.status == 502
        assert "may have been delivered" in (await unknown.json())["detail"]
        bad = await client.post("/messages", data=b"not json")
        assert bad.status == 400
        mindo = app[module.MINDO]
    assert mindo.is_closed  # the cleanup_ctx closed the client with the app
    assert len(mindo_emulator_server.ledger) == 2


# -- the worker ----------------------------------------------------------------------------


def jobs(worker_module: ModuleType, count: int) -> asyncio.Queue[Any]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(worker_module.Job(f"job-{i}", SendRequest(**message(i))))
    return queue


@pytest.mark.asyncio
async def test_worker_sends_every_job_once(mindo_emulator_server: EmulatorServer) -> None:
    """The worker drains the queue: every job sent once, its message id recorded."""
    module = load("worker")
    queue = jobs(module, 30)
    async with AsyncMindo(
        api_key=mindo_emulator_server.api_key, base_url=mindo_emulator_server.base_url
    ) as mindo:
        worker = module.Worker(mindo, queue, consumers=4)
        running = asyncio.ensure_future(worker.run())
        await asyncio.wait_for(queue.join(), 30)
        worker.stop()
        report = await asyncio.wait_for(running, 10)
    assert len(report.sent) == 30
    assert set(report.sent.values()) == {
        m.message_id for m in mindo_emulator_server.ledger.messages
    }
    assert not mindo_emulator_server.ledger.duplicates()


@pytest.mark.asyncio
async def test_worker_graceful_shutdown_finishes_jobs_in_hand(
    mindo_emulator_server: EmulatorServer,
) -> None:
    """On stop, jobs in hand finish (none left unknown) and the others stay in the queue."""
    module = load("worker")
    mindo_emulator_server.emulator.set_faults(latency=0.3)
    queue = jobs(module, 20)
    async with AsyncMindo(
        api_key=mindo_emulator_server.api_key, base_url=mindo_emulator_server.base_url
    ) as mindo:
        worker = module.Worker(mindo, queue, consumers=3)
        running = asyncio.ensure_future(worker.run())
        # Three sends are in flight once the emulator has them (it counts a send when
        # it arrives, then waits out the latency before answering).
        with anyio.fail_after(10):
            while len(mindo_emulator_server.ledger) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        worker.stop()
        report = await asyncio.wait_for(running, 10)
    assert len(report.sent) == 3
    assert not report.unknown
    assert not report.failed
    assert queue.qsize() == 17
    assert len(mindo_emulator_server.ledger) == 3


@pytest.mark.asyncio
async def test_worker_never_retries_unknown_and_requeues_unsent(
    mindo_emulator_server: EmulatorServer,
) -> None:
    """A 500 (may have been delivered) is set aside; a 503 to the end is requeued and sent."""
    module = load("worker")
    mindo_emulator_server.emulator.script(Fault.status(500), *[Fault.status(503)] * 3)
    queue = jobs(module, 2)
    async with AsyncMindo(
        api_key=mindo_emulator_server.api_key, base_url=mindo_emulator_server.base_url
    ) as mindo:
        worker = module.Worker(mindo, queue, consumers=1)
        running = asyncio.ensure_future(worker.run())
        await asyncio.wait_for(queue.join(), 30)
        worker.stop()
        report = await asyncio.wait_for(running, 10)
    assert list(report.unknown) == ["job-0"]
    assert list(report.sent) == ["job-1"]
    assert report.requeued == 1
    assert len(mindo_emulator_server.ledger) == 2  # the 500 was processed: not sent again


@pytest.mark.slow  # seconds of subprocesses or sockets: run by nox -s tests, not fast
def test_worker_script_runs_and_stops_on_sigterm(
    mindo_emulator_server: EmulatorServer, tmp_path: Path
) -> None:
    """`python examples/worker.py jobs.jsonl` runs; SIGTERM stops it gracefully with a report."""
    mindo_emulator_server.emulator.set_faults(latency=0.05)
    source = tmp_path / "jobs.jsonl"
    source.write_text("\n".join(json.dumps(message(i)) for i in range(400)), encoding="utf-8")
    env = {
        **os.environ,
        "MINDO_API_KEY": mindo_emulator_server.api_key,
        "MINDO_BASE_URL": mindo_emulator_server.base_url,
    }
    child = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "worker.py"), str(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(mindo_emulator_server.ledger) < 20:
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr
    sent = len(mindo_emulator_server.ledger)
    assert f"sent {sent}, unknown 0, failed 0, left in the queue {400 - sent}" in stdout
