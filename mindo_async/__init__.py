"""mindo_async: an asyncio-native client for the Mindo WhatsApp template API."""

# No `from __future__ import annotations` or `typing` import here: each would add
# a public name (`annotations`, `Any`) that is not part of the API.
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
    InvalidResponseError,
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
from ._fanout import Progress, ProgressCallback, ResultStream
from ._journal import Journal, JournalEntry, SQLiteJournal, request_key
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
    "InvalidResponseError",
    "Journal",
    "JournalEntry",
    "MessageStatus",
    "MindoError",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "PhoneNumberNotFoundError",
    "Progress",
    "ProgressCallback",
    "RateLimitError",
    "ResultStream",
    "RetryPolicy",
    "SQLiteJournal",
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
    "request_key",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("mindo-async")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
