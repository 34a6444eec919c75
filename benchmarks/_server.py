"""The loopback servers the benchmark talks to: nginx + echo, or the emulator as a fallback.

nginx runs from a temporary prefix directory (config, pid, logs), in the
foreground as a child process, and is stopped with SIGQUIT when the harness
leaves. When nginx or its echo module is missing, the emulator is served by
uvicorn in a child process instead: the numbers then say more about uvicorn
than about the client, and the harness says so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

import attrs

HERE = Path(__file__).resolve().parent
SEND_PATH = "/api/v1/meta-templates/send/"
#: Where Debian's libnginx-mod-http-echo puts the module.
ECHO_MODULE_CANDIDATES = (
    "/usr/lib/nginx/modules/ngx_http_echo_module.so",
    "/usr/share/nginx/modules/ngx_http_echo_module.so",
    "/usr/lib64/nginx/modules/ngx_http_echo_module.so",
)
#: The documented 200 body (docs: send-message.md), byte for byte what the API answers.
SUCCESS_BODY = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}
#: An API key and phone number id that both nginx (which accepts anything) and the
#: emulator's default data accept.
API_KEY = "mindo_emulator_0123456789abcdef"
PHONE_NUMBER_ID = "813497231850626"


@attrs.frozen
class Servers:
    """Where the two loopback servers listen, and what they are."""

    #: "nginx" or "emulator".
    kind: str
    #: Base URL of the server answering at once.
    lat0: str
    #: Base URL of the server answering after 50 ms.
    lat50: str
    api_key: str
    #: A line for the report: version and worker count.
    description: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def echo_module() -> str | None:
    """The path of nginx's echo module, or ``None`` when it is not installed."""
    for candidate in ECHO_MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return None


def nginx_binary() -> str | None:
    """The nginx executable, when nginx and its echo module are both installed."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )
    if binary is None or echo_module() is None:
        return None
    return binary


def nginx_version(binary: str) -> str:
    """``nginx/1.22.1``, as ``nginx -v`` prints it."""
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().rpartition(": ")[2] or "nginx"


def render_nginx_config(prefix: Path, workers: str, port_lat0: int, port_lat50: int) -> str:
    """The nginx config from ``nginx.conf.template`` for a prefix directory and two ports."""
    module = echo_module()
    if module is None:
        raise RuntimeError("nginx's echo module is not installed (libnginx-mod-http-echo)")
    body = json.dumps(SUCCESS_BODY, separators=(", ", ": "))
    if "'" in body:
        raise ValueError("the body must not contain a single quote")
    # Root's workers would otherwise run as nobody and fail to open the temp prefix.
    user = "user root root;" if os.geteuid() == 0 else ""
    template = Template((HERE / "nginx.conf.template").read_text())
    return template.substitute(
        user_directive=user,
        worker_processes=workers,
        prefix=str(prefix),
        echo_module=module,
        port_lat0=port_lat0,
        port_lat50=port_lat50,
        body=body,
    )


@contextmanager
def nginx(workers: str = "1") -> Iterator[Servers]:
    """Run nginx in the foreground from a temporary prefix; stop it on exit."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx with the echo module is not installed")
    with tempfile.TemporaryDirectory(prefix="mindo-bench-nginx-") as tmp:
        prefix = Path(tmp)
        port_lat0, port_lat50 = _free_port(), _free_port()
        config = prefix / "nginx.conf"
        config.write_text(render_nginx_config(prefix, workers, port_lat0, port_lat50))
        log = open(prefix / "stderr.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                _wait_listening(port_lat0, process)
                _wait_listening(port_lat50, process)
            except (RuntimeError, TimeoutError) as exc:
                log.flush()
                detail = (prefix / "stderr.log").read_text(errors="replace")
                detail += (
                    (prefix / "error.log").read_text(errors="replace")
                    if (prefix / "error.log").exists()
                    else ""
                )
                raise RuntimeError(f"nginx did not start: {exc}\n{detail}") from exc
            yield Servers(
                kind="nginx",
                lat0=f"http://127.0.0.1:{port_lat0}",
                lat50=f"http://127.0.0.1:{port_lat50}",
                api_key=API_KEY,
                description=f"{nginx_version(binary)} + echo module, worker_processes {workers}",
            )
        finally:
            _stop(process, signal.SIGQUIT)
            log.close()


_EMULATOR_CHILD = """
import sys
from mindo_async.testing import Emulator, FaultConfig, serve

latency = float(sys.argv[1])
emulator = Emulator(faults=FaultConfig(latency=latency)) if latency else Emulator()
with serve(emulator, http="httptools") as server:
    print(server.base_url, server.api_key, flush=True)
    sys.stdin.read()
"""


@contextmanager
def _emulator_process(latency: float) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    # A child process, so that the server's CPU is not counted as the client's.
    process = subprocess.Popen(
        [sys.executable, "-c", _EMULATOR_CHILD, str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().split()
        if len(line) != 2:
            raise RuntimeError("the emulator did not start")
        yield line[0], line[1], process
    finally:
        if process.stdin is not None:
            process.stdin.close()
        _stop(process, signal.SIGTERM)


@contextmanager
def emulator() -> Iterator[Servers]:
    """Serve the emulator (at once, and with 50 ms latency) from two child processes."""
    with _emulator_process(0.0) as (lat0, key, _), _emulator_process(0.05) as (lat50, _, _):
        yield Servers(
            kind="emulator",
            lat0=lat0,
            lat50=lat50,
            api_key=key,
            description="mindo_async.testing emulator on uvicorn (FALLBACK: nginx not installed)",
        )


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5.0)


@contextmanager
def servers(prefer: str = "nginx", workers: str = "1") -> Iterator[Servers]:
    """nginx when installed (and preferred), else the emulator, with a warning."""
    if prefer == "nginx" and nginx_binary() is not None:
        with nginx(workers) as found:
            yield found
        return
    if prefer == "nginx":
        print(
            "WARNING: nginx with the echo module is not installed "
            "(apt-get install nginx libnginx-mod-http-echo); falling back to the emulator. "
            "Its ceiling is far lower: the numbers below measure uvicorn, not the clients.",
            file=sys.stderr,
            flush=True,
        )
    with emulator() as found:
        yield found
