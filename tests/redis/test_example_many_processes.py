"""examples/many_processes.py works: several processes, one campaign, each request sent once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis_server import RedisServer

from mindo_async.testing import Emulator, serve

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "many_processes.py"


@pytest.mark.slow  # three processes (seconds); in-process: test_redis_journal
def test_three_processes_send_the_campaign_once(redis_server: RedisServer) -> None:
    """Three processes each handed 60 requests: the emulator gets 60, no duplicate."""
    emulator = Emulator()
    with serve(emulator) as server:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            "MINDO_BASE_URL": server.base_url,
            "MINDO_API_KEY": server.api_key,
        }
        output = subprocess.run(
            [sys.executable, str(EXAMPLE), redis_server.url, "--processes", "3",
             "--count", "60", "--namespace", "example-test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout  # fmt: skip
    assert "sent 60 of 60" in output
    assert len(emulator.ledger.messages) == 60
    assert emulator.ledger.duplicates() == []
