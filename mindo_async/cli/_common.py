"""What every ``mindo`` command shares: consoles, logging, options, exit statuses, error text.

Exit status, for every command: 0 when everything asked for was sent, 1 when
something was rejected or may have been delivered (unknown), 2 for usage and
configuration errors (bad flags, a bad file, a missing or refused API key),
130 when interrupted (Ctrl-C): run the same command again to resume. The
numbers are defined with the campaign engine, which decides them for ``bulk``.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from .._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DeliveryUnknownError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PhoneNumberNotFoundError,
    RateLimitError,
    ServerError,
    TemplateNotApprovedError,
    TemplateNotFoundError,
)
from .._models import SentMessage
from ..campaign import (
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_SENT,
    EXIT_OK,
    EXIT_USAGE,
    configuration_problem,
)

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="MINDO_API_KEY",
        show_envvar=True,
        show_default=False,
        help="Your Mindo API key. Prefer the environment variable: a flag shows in `ps`.",
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="MINDO_BASE_URL",
        show_envvar=True,
        show_default=False,
        help="The API's base URL (default: https://api.mindosoftware.com).",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds for each attempt of a send.")
]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Log every HTTP attempt (phone numbers masked) to stderr."
    ),
]


def consoles() -> tuple[Console, Console]:
    """Standard output and standard error, as rich consoles."""
    # Built per command, so that they write to the streams of the moment (tests swap them).
    return (
        Console(highlight=False, soft_wrap=True),
        Console(stderr=True, highlight=False, soft_wrap=True),
    )


def configure_logging(verbose: bool) -> None:
    """With ``verbose``, log every HTTP attempt of the library to standard error."""
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger = logging.getLogger("mindo_async")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def what_to_do(error: BaseException) -> str:
    """One sentence telling the user what to do about ``error``."""
    if isinstance(error, InvalidRequestError):
        return "Fix the fields listed; nothing was sent."
    if isinstance(error, AuthenticationError):
        return "Check MINDO_API_KEY (or --api-key): the API refused it. Nothing was sent."
    if isinstance(error, PermissionDeniedError):
        return "This API key may not use that phone number or template. Nothing was sent."
    if isinstance(error, TemplateNotFoundError):
        return "Check the template name and --language in your Meta account. Nothing was sent."
    if isinstance(error, TemplateNotApprovedError):
        return "Wait until Meta approves the template, then send again. Nothing was sent."
    if isinstance(error, PhoneNumberNotFoundError):
        return "Check --phone-number-id (Meta's id of your WhatsApp number). Nothing was sent."
    if isinstance(error, DeliveryUnknownError):
        return (
            "The message may have been delivered: check with the recipient before sending it again."
        )
    if isinstance(error, RateLimitError):
        wait = f" after {error.retry_after:g} s" if error.retry_after is not None else " later"
        return f"Rate limited: send again{wait}. Nothing was sent."
    if isinstance(error, ServerError):
        return "The API is unavailable: send again later. Nothing was sent."
    if isinstance(error, (BadRequestError, NotFoundError, APIError)):
        return "The API refused the request: fix it and send again. Nothing was sent."
    if isinstance(error, APIConnectionError):
        return (
            "The request never reached the API: check MINDO_BASE_URL and the network, then "
            "send again (safe: nothing was sent)."
        )
    return "Nothing was sent."


def exit_code_for(error: BaseException) -> int:
    """The exit status a command ends with when it fails with ``error``."""
    if isinstance(
        error, (InvalidRequestError, AuthenticationError, PermissionDeniedError, ConfigurationError)
    ):
        return EXIT_USAGE
    return EXIT_NOT_ALL_SENT


def sent_message_json(message: SentMessage) -> dict[str, Any]:
    """``message`` as the API's JSON body."""
    return {
        "success": message.success,
        "message_id": message.message_id,
        "template_name": message.template_name,
        "recipient_phone": message.recipient_phone,
        "status": str(message.status),
        "sent_at": message.sent_at.isoformat().replace("+00:00", "Z"),
    }


def error_json(error: BaseException) -> dict[str, Any]:
    """``error`` as JSON for ``--json``: what happened and what to do."""
    body: dict[str, Any] = {
        "type": type(error).__name__,
        "message": str(error),
        "may_have_been_delivered": isinstance(error, DeliveryUnknownError),
        "what_to_do": what_to_do(error),
    }
    if isinstance(error, APIError):
        body["status_code"] = error.status_code
    if isinstance(error, InvalidRequestError):
        body["errors"] = error.errors
    if isinstance(error, RateLimitError):
        body["retry_after"] = error.retry_after
    return {"error": body}


__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_NOT_ALL_SENT",
    "EXIT_OK",
    "EXIT_USAGE",
    "ApiKeyOption",
    "BaseUrlOption",
    "TimeoutOption",
    "VerboseOption",
    "configuration_problem",
    "configure_logging",
    "consoles",
    "error_json",
    "exit_code_for",
    "sent_message_json",
    "what_to_do",
]
