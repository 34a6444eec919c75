"""mindo_async: an asyncio-native client for the Mindo WhatsApp template API."""

from __future__ import annotations

from typing import Any

from ._client import AsyncMindo
from ._errors import (
    AlreadyProcessedError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    DeliveryUnknownError,
    DuplicateRequestError,
    InvalidRequestError,
    MindoError,
    NotFoundError,
    PermissionDeniedError,
    PhoneNumberNotFoundError,
    RateLimitError,
    ServerDeliveryUnknownError,
    ServerError,
    SkippedError,
    TemplateNotApprovedError,
    TemplateNotFoundError,
    UnexpectedResponseError,
    ValidationError,
)
from ._models import MessageStatus, Outcome, SendRequest, SendResult, SentMessage
from ._retry import RetryPolicy

__all__ = [
    "APIConnectionError",
    "APIError",
    "AlreadyProcessedError",
    "AsyncMindo",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "DeliveryUnknownError",
    "DuplicateRequestError",
    "InvalidRequestError",
    "MessageStatus",
    "MindoError",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "PhoneNumberNotFoundError",
    "RateLimitError",
    "RetryPolicy",
    "SendRequest",
    "SendResult",
    "SentMessage",
    "ServerDeliveryUnknownError",
    "ServerError",
    "SkippedError",
    "TemplateNotApprovedError",
    "TemplateNotFoundError",
    "UnexpectedResponseError",
    "ValidationError",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("mindo-async")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
