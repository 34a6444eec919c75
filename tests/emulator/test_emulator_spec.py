"""The API reference's own examples, run against the emulator with only URL and key changed.

The examples are read from the vendored copy of the send page,
``tests/reference/send.json`` (its response bodies, error bodies and code
blocks); an inline copy of them is checked against it, so an edit to either
shows.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mindo_async.testing import (
    DEFAULT_API_KEY,
    SEND_PATH,
    Button,
    Emulator,
    EmulatorData,
    EmulatorServer,
    Template,
    serve,
)

REFERENCE_PATH = Path(__file__).resolve().parents[1] / "reference" / "send.json"
REFERENCE: dict[str, Any] = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))

SPEC_BASE_URL = "https://api.mindosoftware.com"
SPEC_API_KEY = "mindo_xxxxxxxxxxxxxxxxxxxxxxxx"
WAMID = re.compile(r"wamid\.[A-Za-z0-9+/]+={0,2}")
SENT_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

# -- the inline copy -------------------------------------------------------------------------

INLINE_RESPONSES: dict[str, Any] = {
    "200 - OK": {
        "success": True,
        "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
        "template_name": "welcome_message",
        "recipient_phone": "+5491112345678",
        "status": "sent",
        "sent_at": "2025-11-16T21:30:00Z",
    },
    "400 - Validation": {
        "phone_number_id": ["This field is required."],
        "recipient_phone": ["This field is required."],
    },
    "400 - Template not approved": {"error": "Template 'welcome_message' no tiene estado APPROVED"},
    "404 - Template not found": {
        "error": "Template 'welcome_message' (language: es) no encontrado en este business account"
    },
    "404 - Number not found": {
        "error": "Numero de WhatsApp con ID '813497231850626' no encontrado"
    },
    "401 - Not authenticated": {
        "error": "Este endpoint requiere autenticacion con API Key (header X-API-Key)"
    },
}

_FULL_EXAMPLE = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "language": "es",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan Perez", "code": "ABC123"},
    "button_variables": {"button_0": "ABC-123"},
}
_WELCOME_CASE = {
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan Perez"},
}
_VERIFICATION_CASE = {
    "phone_number_id": "813497231850626",
    "template_name": "verification_code",
    "recipient_phone": "+5491112345678",
    "variables": {"name": "Juan", "code": "<code>"},
}
_ORDER_CASE = {
    "phone_number_id": "813497231850626",
    "template_name": "order_update",
    "recipient_phone": "+5491112345678",
    "variables": {"order_id": "ORD-001", "status": "In transit"},
}
#: Request bodies in the order they appear: curl, Python, JavaScript, then per use case
#: Python and JavaScript. ``<code>`` stands for the generated verification code.
INLINE_BODIES = [
    ("curl", _FULL_EXAMPLE),
    ("python", _FULL_EXAMPLE),
    ("javascript", _FULL_EXAMPLE),
    ("python", _WELCOME_CASE),
    ("javascript", _WELCOME_CASE),
    ("python", _VERIFICATION_CASE),
    ("javascript", _VERIFICATION_CASE),
    ("python", _ORDER_CASE),
    ("javascript", _ORDER_CASE),
]

INLINE_PYTHON_EXAMPLE = """\
import requests

response = requests.post(
    "https://api.mindosoftware.com/api/v1/meta-templates/send/",
    headers={"X-API-Key": "mindo_xxxxxxxxxxxxxxxxxxxxxxxx"},
    json={
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "language": "es",
        "recipient_phone": "+5491112345678",
        "variables": {
            "name": "Juan Perez",
            "code": "ABC123"
        },
        "button_variables": {
            "button_0": "ABC-123"
        }
    }
)

data = response.json()
print(f"Message ID: {data['message_id']}")
print(f"Status: {data['status']}")
"""

INLINE_CURL_EXAMPLE = """\
curl -X POST https://api.mindosoftware.com/api/v1/meta-templates/send/ \\
  -H "X-API-Key: mindo_xxxxxxxxxxxxxxxxxxxxxxxx" \\
  -H "Content-Type: application/json" \\
  -d '{
    "phone_number_id": "813497231850626",
    "template_name": "welcome_message",
    "language": "es",
    "recipient_phone": "+5491112345678",
    "variables": {
      "name": "Juan Perez",
      "code": "ABC123"
    },
    "button_variables": {
      "button_0": "ABC-123"
    }
  }'
"""

# -- reading the reference ---------------------------------------------------------------------


def spec_blocks(language: str) -> list[tuple[str, str]]:
    """The reference's code blocks in ``language``: (title, dedented code)."""
    return [
        (block["title"], textwrap.dedent(block["code"]))
        for block in REFERENCE["code_examples"]
        if block["language"] == language
    ]


def spec_responses() -> dict[str, Any]:
    """The reference's response examples: title -> body (the 200, then the errors)."""
    return {"200 - OK": REFERENCE["responses"]["200"], **REFERENCE["errors"]}


class _Names(ast.NodeTransformer):
    """Replaces every variable (the generated ``code``) with ``"<code>"``."""

    def visit_Name(self, node: ast.Name) -> ast.Constant:
        return ast.copy_location(ast.Constant(f"<{node.id}>"), node)


def python_body(code: str) -> dict[str, Any]:
    """The ``json=`` argument of the example's ``requests.post`` call."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "post":
            (value,) = [kw.value for kw in node.keywords if kw.arg == "json"]
            result = ast.literal_eval(_Names().visit(value))
            assert isinstance(result, dict)
            return result
    raise AssertionError("no requests.post(...) in the example")


def javascript_body(code: str) -> dict[str, Any]:
    """The object given to ``JSON.stringify`` in the example, as a dict."""
    start = code.index("{", code.index("JSON.stringify("))
    depth = 0
    for end in range(start, len(code)):
        depth += {"{": 1, "}": -1}.get(code[end], 0)
        if depth == 0:
            break
    text = code[start : end + 1]
    # Shorthand properties ({ name, code }) become "code": "<code>".
    text = re.sub(r"([{,]\s*)([A-Za-z_]\w*)(\s*)(?=[,}])", r'\1"\2": "<\2>"\3', text)
    text = re.sub(r"([{,]\s*)([A-Za-z_]\w*)\s*:", r'\1"\2":', text)
    result = json.loads(text)
    assert isinstance(result, dict)
    return result


def curl_body(code: str) -> dict[str, Any]:
    """The ``-d`` body of the curl example."""
    args = shlex.split(code.replace("\\\n", " "))
    result = json.loads(args[args.index("-d") + 1])
    assert isinstance(result, dict)
    return result


def spec_bodies() -> list[tuple[str, dict[str, Any]]]:
    """Every request body of the reference, in order, with the language it is written in."""
    parsers = {"bash": curl_body, "python": python_body, "javascript": javascript_body}
    return [
        (
            "curl" if block["language"] == "bash" else block["language"],
            parsers[block["language"]](textwrap.dedent(block["code"])),
        )
        for block in REFERENCE["code_examples"]
        if block["language"] in parsers
    ]


def _cases() -> list[Any]:
    cases = [
        pytest.param(lang, body, id=f"inline-{i}-{lang}")
        for i, (lang, body) in enumerate(INLINE_BODIES)
    ]
    cases += [
        pytest.param(lang, body, id=f"spec-{i}-{lang}")
        for i, (lang, body) in enumerate(spec_bodies())
    ]
    return cases


def _response_cases() -> list[Any]:
    cases = [
        pytest.param(title, body, id=f"inline-{title}") for title, body in INLINE_RESPONSES.items()
    ]
    cases += [
        pytest.param(title, body, id=f"spec-{title}") for title, body in spec_responses().items()
    ]
    return cases


# -- the inline copy is the reference ---------------------------------------------------------


_BLOCK = re.compile(r"```(?P<lang>\w+) (?P<title>[^\n]*?) theme=\{null\}\n(?P<code>.*?)```", re.S)


def test_send_json_matches_the_vendored_page() -> None:
    """send.json holds exactly the code and response blocks of the vendored send-message.md."""
    page = (REFERENCE_PATH.parent / "send-message.md").read_text(encoding="utf-8")
    blocks = list(_BLOCK.finditer(page))
    code = [
        {"language": m["lang"], "title": m["title"], "code": textwrap.dedent(m["code"])}
        for m in blocks
        if m["lang"] != "json"
    ]
    responses = {m["title"]: json.loads(m["code"]) for m in blocks if m["lang"] == "json"}
    assert REFERENCE["code_examples"] == code
    assert spec_responses() == responses


def test_inline_copy_matches_the_reference() -> None:
    """The inline copy holds exactly the reference's response examples and request bodies."""
    assert REFERENCE["request"] == _FULL_EXAMPLE
    assert spec_responses() == INLINE_RESPONSES
    assert list(spec_responses()) == list(INLINE_RESPONSES)
    assert spec_bodies() == INLINE_BODIES
    assert spec_blocks("python")[0][1] == INLINE_PYTHON_EXAMPLE
    assert spec_blocks("bash")[0][1] == INLINE_CURL_EXAMPLE


# -- responses ----------------------------------------------------------------------------------


def _situation(title: str) -> tuple[Emulator, dict[str, Any], str | None]:
    """An emulator, a request body and a key that provoke the response example ``title``."""
    welcome = Template("welcome_message", variables=("name", "code"), buttons=(Button(),))
    if title.startswith("200"):
        return Emulator(), _FULL_EXAMPLE, DEFAULT_API_KEY
    if title == "400 - Validation":
        return Emulator(), {"template_name": "welcome_message"}, DEFAULT_API_KEY
    if title == "400 - Template not approved":
        pending = Template("welcome_message", status="PENDING", variables=("name", "code"))
        return Emulator(EmulatorData(templates=[pending])), _FULL_EXAMPLE, DEFAULT_API_KEY
    if title == "404 - Template not found":
        other = Template("welcome_message", language="en")
        return Emulator(EmulatorData(templates=[other])), _FULL_EXAMPLE, DEFAULT_API_KEY
    if title == "404 - Number not found":
        data = EmulatorData(phone_number_ids=["1"], templates=[welcome])
        return Emulator(data), _FULL_EXAMPLE, DEFAULT_API_KEY
    if title == "401 - Not authenticated":
        return Emulator(), _FULL_EXAMPLE, None
    raise AssertionError(f"no situation for {title!r}")


@pytest.mark.anyio
@pytest.mark.parametrize(("title", "expected"), _response_cases())
async def test_response_examples_are_reproduced(title: str, expected: dict[str, Any]) -> None:
    """Each documented response example comes back with its status, keys, order and message."""
    emulator, body, key = _situation(title)
    headers = {"X-API-Key": key} if key else {}
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(SEND_PATH, json=body, headers=headers)
    assert response.status_code == int(title.split()[0])
    data = response.json()
    assert list(data) == list(expected)
    if title.startswith("200"):
        assert WAMID.fullmatch(expected["message_id"])
        assert SENT_AT.fullmatch(expected["sent_at"])
        assert WAMID.fullmatch(data["message_id"])
        assert SENT_AT.fullmatch(data["sent_at"])
        variable = {"message_id", "sent_at"}
        assert {k: v for k, v in data.items() if k not in variable} == {
            k: v for k, v in expected.items() if k not in variable
        }
        assert {type(v) for v in data.values()} == {type(v) for v in expected.values()}
    else:
        assert data == expected


# -- requests -----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("language", "body"), _cases())
async def test_request_examples_succeed(language: str, body: dict[str, Any]) -> None:
    """Every request body of the reference (curl, Python, JavaScript, use cases) is accepted."""
    emulator = Emulator()
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(SEND_PATH, json=body, headers={"X-API-Key": DEFAULT_API_KEY})
    assert response.status_code == 200, (language, response.text)
    assert response.json()["template_name"] == body["template_name"]
    (entry,) = emulator.ledger.messages
    assert entry.body == body


@pytest.fixture(scope="module")
def spec_server() -> Iterator[EmulatorServer]:
    """One socket-served emulator for the examples that run as programs."""
    with serve() as server:
        yield server


def _python_examples() -> list[Any]:
    examples = [pytest.param(INLINE_PYTHON_EXAMPLE, id="inline")]
    examples += [
        pytest.param(code, id=f"spec-{i}") for i, (_, code) in enumerate(spec_blocks("python"))
    ]
    return examples


@pytest.mark.parametrize("code", _python_examples())
def test_python_examples_run_unchanged(
    code: str,
    spec_server: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The reference's Python programs run as written; a ``requests`` shim swaps URL and key."""
    answers: list[httpx.Response] = []

    def post(url: str, *, headers: dict[str, str], json: Any) -> httpx.Response:
        assert url.startswith(SPEC_BASE_URL)
        assert headers["X-API-Key"] == SPEC_API_KEY
        response = httpx.post(
            url.replace(SPEC_BASE_URL, spec_server.base_url),
            headers={**headers, "X-API-Key": spec_server.api_key},
            json=json,
        )
        answers.append(response)
        return response

    requests = types.ModuleType("requests")
    requests.post = post  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "requests", requests)
    before = len(spec_server.emulator.ledger)
    exec(compile(code, "<send-message.md>", "exec"), {"__name__": "__example__"})
    (answer,) = answers
    assert answer.status_code == 200, answer.text
    assert answer.json()["message_id"] in capsys.readouterr().out
    assert len(spec_server.emulator.ledger) == before + 1


def _curl_examples() -> list[Any]:
    examples = [pytest.param(INLINE_CURL_EXAMPLE, id="inline")]
    examples += [pytest.param(code, id="spec") for _, code in spec_blocks("bash")]
    return examples


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("code", _curl_examples())
def test_curl_example_runs_against_the_socket_server(
    code: str, spec_server: EmulatorServer
) -> None:
    """The reference's curl command, with only URL and key changed, gets a 200 answer."""
    args = shlex.split(code.replace("\\\n", " "))
    assert args[0] == "curl"
    args = [
        arg.replace(SPEC_BASE_URL, spec_server.base_url).replace(SPEC_API_KEY, spec_server.api_key)
        for arg in args
    ]
    result = subprocess.run(
        [*args, "--silent", "--show-error", "--write-out", "\n%{http_code}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "200", body
    assert json.loads(body)["status"] == "sent"
