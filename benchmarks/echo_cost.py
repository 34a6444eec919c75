"""The cost of checking that a send's answer echoes the request (issue 15, item 1).

``python -m benchmarks.echo_cost`` times ``interpret_response`` on the
documented 200 body, with the echo check as shipped and with it replaced by a
no-op, for an answer echoing the request exactly (the fast path: two string
comparisons) and one formatting the phone otherwise (libphonenumber parses
both numbers). CPU only, no I/O; the best of several repeats is reported.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from unittest import mock

import httpx

from mindo_async import SendRequest
from mindo_async import _protocol as protocol

REQUEST = SendRequest(
    phone_number_id="813497231850626",
    template_name="welcome_message",
    recipient_phone="+5491112345678",
    variables={"name": "Juan Perez"},
)
BODY = {
    "success": True,
    "message_id": "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
    "template_name": "welcome_message",
    "recipient_phone": "+5491112345678",
    "status": "sent",
    "sent_at": "2025-11-16T21:30:00Z",
}
EXACT = json.dumps(BODY).encode()
FORMATTED_BODY = {**BODY, "recipient_phone": "+54 9 11 1234-5678"}
FORMATTED = json.dumps(FORMATTED_BODY).encode()
HEADERS = httpx.Headers({"content-type": "application/json"})


def _per_call_us(function: Callable[[], object], number: int = 20_000) -> float:
    """Microseconds per call, best of 5 repeats."""
    best = min(timeit.repeat(function, number=number, repeat=5))
    return best / number * 1e6


def _no_problem(body: object, request: object) -> None:
    """The echo check turned off (a plain function: a Mock's own cost would dominate)."""
    return


def _interpret(content: bytes) -> Callable[[], object]:
    return lambda: protocol.interpret_response(200, HEADERS, content, request=REQUEST)


def main() -> None:
    """Print microseconds per answer, with and without the echo check."""
    rows = []
    for name, content in (("exact echo", EXACT), ("formatted phone", FORMATTED)):
        with_check = _per_call_us(_interpret(content))
        with mock.patch.object(protocol, "_echo_problem", _no_problem):
            without = _per_call_us(_interpret(content))
        rows.append((name, without, with_check))
    print("| answer | interpret_response, no check (us) | with check (us) | check alone (us) |")
    print("|---|---|---|---|")
    for (name, without, with_check), body in zip(rows, (BODY, FORMATTED_BODY), strict=True):
        alone = _per_call_us(lambda body=body: protocol._echo_problem(body, REQUEST), 200_000)
        print(f"| {name} | {without:.2f} | {with_check:.2f} | {alone:.3f} |")


if __name__ == "__main__":
    main()
