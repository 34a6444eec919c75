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
    EndpointNotAvailableError,
    InvalidRequestError,
    InvalidResponseError,
    MindoError,
    NotFoundError,
    PermissionDeniedError,
    PhoneNumberNotFoundError,
    PreflightError,
    QuotaExceededError,
    RateLimitError,
    ServerDeliveryUnknownError,
    ServerError,
    SharedStateUnavailableError,
    SkippedError,
    TemplateNotApprovedError,
    TemplateNotFoundError,
    UnexpectedResponseError,
    UnknownPhoneNumberError,
    UnknownTemplateError,
    ValidationError,
)
from ._fanout import Progress, ProgressCallback, ResultStream
from ._journal import AsyncJournal, Journal, JournalEntry, SQLiteJournal, request_key
from ._models import MessageStatus, Outcome, SendRequest, SendResult, SentMessage
from ._preflight import NumberCheck, PreflightProblem, PreflightReport, ProblemCode
from ._ratelimit import LocalRateLimiter, Priority, RateLimiter
from ._retry import RetryPolicy
from .types.business import (
    AttentionTarget,
    Branch,
    BranchType,
    BusinessInfo,
    CompanySize,
    CompanyType,
    Holiday,
    HolidayBranch,
    Schedule,
    Weekday,
)
from .types.business_accounts import (
    AccountPhoneNumber,
    BusinessAccount,
    BusinessAccounts,
    MessagingTier,
    Quota,
    Template,
    TemplateVariable,
    VariableType,
)
from .types.contacts import Contact, ContactLookup
from .types.messages import DeliveryStatus, MessageDetails, MessageRecipient, MessageTemplate

__all__ = [
    "APIConnectionError",
    "APIError",
    "AccountPhoneNumber",
    "AlreadyProcessedError",
    "AsyncJournal",
    "AsyncMindo",
    "AttentionTarget",
    "AuthenticationError",
    "BadRequestError",
    "Branch",
    "BranchType",
    "BusinessAccount",
    "BusinessAccounts",
    "BusinessInfo",
    "ClientClosedError",
    "CompanySize",
    "CompanyType",
    "ConfigurationError",
    "Contact",
    "ContactLookup",
    "DeliveryStatus",
    "DeliveryUnknownError",
    "DuplicateRequestError",
    "EndpointNotAvailableError",
    "Holiday",
    "HolidayBranch",
    "InvalidRequestError",
    "InvalidResponseError",
    "Journal",
    "JournalEntry",
    "LocalRateLimiter",
    "MessageDetails",
    "MessageRecipient",
    "MessageStatus",
    "MessageTemplate",
    "MessagingTier",
    "MindoError",
    "NotFoundError",
    "NumberCheck",
    "Outcome",
    "PermissionDeniedError",
    "PhoneNumberNotFoundError",
    "PreflightError",
    "PreflightProblem",
    "PreflightReport",
    "Priority",
    "ProblemCode",
    "Progress",
    "ProgressCallback",
    "Quota",
    "QuotaExceededError",
    "RateLimitError",
    "RateLimiter",
    "ResultStream",
    "RetryPolicy",
    "SQLiteJournal",
    "Schedule",
    "SendRequest",
    "SendResult",
    "SentMessage",
    "ServerDeliveryUnknownError",
    "ServerError",
    "SharedStateUnavailableError",
    "SkippedError",
    "Template",
    "TemplateNotApprovedError",
    "TemplateNotFoundError",
    "TemplateVariable",
    "UnexpectedResponseError",
    "UnknownPhoneNumberError",
    "UnknownTemplateError",
    "ValidationError",
    "VariableType",
    "Weekday",
    "request_key",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("mindo-async")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
