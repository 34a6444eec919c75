"""Queue worker processes for the tests (`python -m taskiq worker ...`), killable with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


class Workers:
    """`python -m taskiq worker mindo_async.queue.worker:broker` processes, killable with -9."""

    def __init__(
        self, redis_url: str, base_url: str, api_key: str, namespace: str, idle_timeout: float
    ) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(sys.path),
            "MINDO_REDIS_URL": redis_url,
            "MINDO_BASE_URL": base_url,
            "MINDO_API_KEY": api_key,
            "MINDO_RATE_LIMIT": "40",
            "MINDO_QUEUE_NAMESPACE": namespace,
            "MINDO_QUEUE_IDLE_TIMEOUT": str(idle_timeout),
            "MINDO_QUEUE_LEASE": str(idle_timeout / 2),
            # httpx's pool drops connections that uvicorn closed after its 5 s keep-alive.
            "MINDO_TRANSPORT": "httpx",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        """One more worker (its own process group, so that kill -9 reaches all of it)."""
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taskiq",
                "worker",
                "mindo_async.queue.worker:broker",
                "--workers",
                "1",
                "--max-async-tasks",
                "32",
                "--log-level",
                "WARNING",
            ],
            env=self.env,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """kill -9, the worker and its children."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(20)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)
