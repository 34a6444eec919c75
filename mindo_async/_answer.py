"""What every transport of this library bounds: the answer's size and its time.

The requester may set, per request, ``extensions["mindo.max_body"]`` (bytes)
and ``extensions["mindo.deadline"]`` (seconds from the moment the request is
written until the whole answer, headers and body, is in). Both failures come
after the request may have reached the server, so both are "may have been
sent" errors: ``ResponseTooLarge`` (an ``httpx.RemoteProtocolError``) and
``httpx.ReadTimeout``.
"""

from __future__ import annotations

import httpx

#: The largest answer body read for a POST (a send's answer is a few hundred bytes).
DEFAULT_MAX_BODY_POST = 64 * 1024
#: The largest answer body read for any other method (a list of templates, messages).
DEFAULT_MAX_BODY_OTHER = 8 * 1024 * 1024

#: Request extension: the most answer-body bytes to read (an ``int``).
MAX_BODY_EXTENSION = "mindo.max_body"
#: Request extension: seconds allowed for the whole answer once the request is written.
DEADLINE_EXTENSION = "mindo.deadline"

#: How long an idle pooled connection is kept: less than common servers' idle
#: timeouts (uvicorn 5 s, nginx 75 s, Node 5 s), so that the server is not the
#: one to close it while a request is being written on it.
KEEPALIVE_EXPIRY = 4.0


class ResponseTooLarge(httpx.RemoteProtocolError):
    """The answer's body was larger than the cap; reading stopped there.

    The request had been sent: the server may have processed it.
    """


class TransportClosedError(httpx.ConnectError):
    """The transport was closed before this request was written: it was never sent."""


def max_body(request: httpx.Request) -> int:
    """The cap on ``request``'s answer body: its extension, else a default by method."""
    cap = request.extensions.get(MAX_BODY_EXTENSION)
    if cap is not None:
        return int(cap)
    return DEFAULT_MAX_BODY_POST if request.method == "POST" else DEFAULT_MAX_BODY_OTHER


def deadline(request: httpx.Request) -> float | None:
    """Seconds for the whole answer once written: the extension, else the read timeout."""
    value = request.extensions.get(DEADLINE_EXTENSION)
    if value is not None:
        return float(value)
    timeout = request.extensions.get("timeout")
    if timeout:
        read = timeout.get("read")
        return None if read is None else float(read)
    return None


def too_large(cap: int) -> ResponseTooLarge:
    """The error for an answer body over ``cap`` bytes."""
    return ResponseTooLarge(f"response too large: the body exceeds {cap} bytes; stopped reading")


def deadline_passed(seconds: float) -> httpx.ReadTimeout:
    """The error for an answer not complete ``seconds`` after the request was written."""
    return httpx.ReadTimeout(f"the answer was not complete {seconds:g} s after the request")
