"""An aiohttp web app that sends WhatsApp templates through Mindo.

The ``AsyncMindo`` lives in a ``cleanup_ctx``: created when the app starts,
closed when it stops, shared by every request. A middleware turns library
errors into JSON answers.

Run it against the local emulator (no account needed)::

    mindo emulator --port 8000 &
    MINDO_BASE_URL=http://127.0.0.1:8000 MINDO_API_KEY=mindo_emulator_0123456789abcdef \
        python examples/aiohttp_app.py
    curl -X POST localhost:8080/messages -d '{"phone_number_id": "813497231850626",
        "template_name": "verification_code", "recipient_phone": "+5491112345678",
        "variables": {"name": "Juan", "code": "1234"}}'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from mindo_async import (
    APIConnectionError,
    AsyncMindo,
    AuthenticationError,
    BadRequestError,
    DeliveryUnknownError,
    InvalidRequestError,
    MindoError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

MINDO = web.AppKey("mindo", AsyncMindo)
CLIENT_OPTIONS = web.AppKey("mindo_options", dict)


async def mindo_client(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one client for the app's lifetime."""
    async with AsyncMindo(**app.get(CLIENT_OPTIONS, {})) as mindo:
        app[MINDO] = mindo
        yield


def error_response(error: MindoError) -> web.Response:
    """The JSON answer that tells the caller what happened."""
    # First: a 500 from the API is both a ServerError and a DeliveryUnknownError.
    if isinstance(error, DeliveryUnknownError):
        return web.json_response(
            {"detail": "the message may have been delivered: do not resend it blindly"},
            status=502,
        )
    if isinstance(error, InvalidRequestError):
        return web.json_response({"detail": "invalid message", "errors": error.errors}, status=422)
    if isinstance(error, RateLimitError):
        headers = {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(error.retry_after)))
        return web.json_response({"detail": "rate limited"}, status=429, headers=headers)
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        return web.json_response(
            {"detail": "the messaging provider refused our credentials"}, status=502
        )
    if isinstance(error, NotFoundError):
        return web.json_response({"detail": error.message}, status=404)
    if isinstance(error, BadRequestError):
        return web.json_response({"detail": error.message}, status=400)
    if isinstance(error, (ServerError, APIConnectionError)):
        return web.json_response(
            {"detail": "the messaging provider is unavailable: nothing was sent"}, status=503
        )
    return web.json_response({"detail": str(error)}, status=502)


@web.middleware
async def mindo_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except MindoError as error:
        return error_response(error)


async def send_message(request: web.Request) -> web.Response:
    """POST /messages: the body has the fields of ``AsyncMindo.send``."""
    try:
        body: Any = await request.json()
    except ValueError:
        return web.json_response({"detail": "the body must be JSON"}, status=400)
    fields = (
        "phone_number_id",
        "template_name",
        "recipient_phone",
        "language",
        "variables",
        "button_variables",
    )
    if not isinstance(body, dict) or set(body) - set(fields):
        return web.json_response({"detail": f"the body is an object with {fields}"}, status=400)
    missing = [name for name in fields[:3] if name not in body]
    if missing:
        return web.json_response({"detail": f"missing: {', '.join(missing)}"}, status=400)
    message = await request.app[MINDO].send(**body)
    return web.json_response(
        {
            "message_id": message.message_id,
            "status": str(message.status),
            "sent_at": message.sent_at.isoformat(),
        },
        status=201,
    )


def create_app(**client_options: Any) -> web.Application:
    """The app; ``client_options`` go to ``AsyncMindo`` (default: the environment)."""
    app = web.Application(middlewares=[mindo_errors])
    app[CLIENT_OPTIONS] = client_options
    app.cleanup_ctx.append(mindo_client)
    app.router.add_post("/messages", send_message)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
