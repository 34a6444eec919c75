"""A real redis-server for the tests, started by the suite itself on a free loopback port.

When it cannot be started the tests that need it fail (they never skip): install
it with ``apt-get install redis-server`` (Debian/Ubuntu) or ``brew install redis``.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from mindo_async.testing import Emulator, EmulatorData

#: The two sender numbers of the campaigns in these tests (see redis_child.py).
NUMBERS = ("813497231850626", "813497231850627")

INSTALL_HINT = (
    "the Redis tests need a redis-server binary: install it with "
    "`apt-get install redis-server` (Debian/Ubuntu; .ci/run does it) or `brew install redis`"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def two_number_emulator() -> Emulator:
    """An emulator whose account has both NUMBERS."""
    return Emulator(EmulatorData(phone_number_ids=frozenset(NUMBERS)))


class RedisServer:
    """One redis-server process on 127.0.0.1, which a test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(f"redis-server was not found on PATH: {INSTALL_HINT}", pytrace=False)
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port and with the same data) and wait until it answers."""
        # Every write is on disk before Redis answers, so a killed server forgets nothing.
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 20
        try:
            while True:
                if self.process.poll() is not None:
                    errors = self.process.stderr.read().decode() if self.process.stderr else ""
                    pytest.fail(
                        f"redis-server exited with {self.process.returncode}: {errors.strip()} "
                        f"({INSTALL_HINT})",
                        pytrace=False,
                    )
                try:
                    # This process's server, not another one that took the port first
                    # (another pytest-xdist worker's, say): that one would be found by
                    # the poll() above once this one fails to bind.
                    if client.ping() and client.info("server")["process_id"] == self.process.pid:
                        return
                except redis.exceptions.RedisError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"redis-server did not answer in 20 s ({INSTALL_HINT})")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop it (``kill -9`` by default: with appendfsync always it loses nothing)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(20)
        self.process = None


__all__ = ["INSTALL_HINT", "NUMBERS", "RedisServer", "two_number_emulator"]
