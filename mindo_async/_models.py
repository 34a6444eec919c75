"""The request and response models: plain attrs classes, free of serialization code."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from attrs import field, frozen

#: What a template variable may be given as; numbers are sent as their text.
VariableValue = str | int | float | Decimal


class MessageStatus(str, enum.Enum):
    """The status of a message as the API reports it."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class Outcome(str, enum.Enum):
    """The single outcome of one request handed to the fan-out."""

    #: Accepted by the API: ``SendResult.message`` holds the ``SentMessage``.
    SENT = "sent"
    #: Not delivered: refused by the API or by client-side validation, or it provably
    #: never reached the API (connection failures, 429 or 503 to the end).
    REJECTED = "rejected"
    #: It may have been delivered (see ``DeliveryUnknownError``): do not resend blindly.
    UNKNOWN = "unknown"
    #: Never attempted: a breaker tripped, a duplicate in the same run, or the journal
    #: already has it.
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


class SkipReason(str, enum.Enum):
    """Why a request was ``SKIPPED`` (never attempted); compares equal to its value."""

    #: An identical request earlier in this run was sent (or is being sent).
    DUPLICATE_IN_RUN = "duplicate_in_run"
    #: The journal records it as sent by an earlier run (``previous_message_id`` holds the id).
    JOURNAL_SENT = "journal_sent"
    #: The journal records it as unknown (may have been delivered) by an earlier run.
    JOURNAL_UNKNOWN = "journal_unknown"
    #: The API key was refused (401) earlier in this run.
    BREAKER_AUTH = "breaker_auth"
    #: This ``phone_number_id`` was not found earlier in this run.
    BREAKER_NUMBER = "breaker_number"
    #: This template is missing or not approved (seen earlier in this run).
    BREAKER_TEMPLATE = "breaker_template"
    #: The number's messaging quota was exhausted earlier in this run.
    BREAKER_QUOTA = "breaker_quota"
    #: The run was cancelled before this request was sent.
    CANCELLED = "cancelled"
    #: The caller left the stream before this request was sent.
    STREAM_LEFT = "stream_left"
    #: The shared state (a Redis journal or limiter) stayed out of reach.
    SHARED_STATE_UNAVAILABLE = "shared_state_unavailable"
    #: Another worker (another process) claimed the same request in the journal.
    CLAIMED_ELSEWHERE = "claimed_elsewhere"

    def __str__(self) -> str:
        return self.value


@frozen(kw_only=True)
class SendRequest:
    """One template message to send: exactly the keyword arguments of ``AsyncMindo.send``.

    Building one does not validate it; it is validated when it is sent, so one bad
    request in a campaign becomes a ``REJECTED`` result and the others go on.
    """

    #: Meta's id of the WhatsApp phone number the message is sent from (digits).
    phone_number_id: str
    #: Name of an approved template (lowercase letters, digits, underscores).
    template_name: str
    #: Recipient in international E.164 format, e.g. ``"+5491112345678"``; with a
    #: client's ``default_region``, national forms of that region too (sent as E.164).
    recipient_phone: str
    #: Template language, e.g. ``"es"``, ``"en"``, ``"pt_BR"``.
    language: str = "es"
    #: Template variables by name.
    variables: Mapping[str, VariableValue] | None = None
    #: Dynamic button variables: ``{"button_0": "ABC-123"}``.
    button_variables: Mapping[str, str] | None = None
    #: Your own data (an order id, a row number): never sent to the API, left out of
    #: the dedupe and journal keys (unless your ``key=`` uses it), and handed back
    #: on the request's ``SendResult`` (``result.metadata``).
    metadata: Mapping[Any, Any] | None = None


@frozen(kw_only=True)
class SentMessage:
    """The API's answer to a successful send."""

    #: Whether the API reports the send as successful (always ``True`` here).
    success: bool
    #: Meta's message id (wamid); use it to trace the message.
    message_id: str
    #: The template that was sent.
    template_name: str
    #: The recipient, as the API reports it.
    recipient_phone: str
    #: Initial status: ``MessageStatus.SENT``; a value this library does not know yet
    #: is kept as its plain string.
    status: MessageStatus | str
    #: When the message was sent (timezone-aware).
    sent_at: datetime


@frozen(kw_only=True)
class SendResult:
    """The one outcome of one request handed to ``send_many`` or ``stream_many``."""

    #: The request, as handed in.
    request: SendRequest
    #: What happened to it.
    outcome: Outcome
    #: The sent message, for ``Outcome.SENT``; otherwise ``None``.
    message: SentMessage | None = None
    #: The exception that explains every outcome but ``SENT``.
    error: BaseException | None = None
    #: The number of HTTP attempts made (0 when none was made).
    attempts: int = 0
    #: The request's position in the input, counting from 0.
    index: int = field(default=-1)
    #: Why the request was skipped, for ``Outcome.SKIPPED`` (``str(result.error)``
    #: says it in words).
    reason: SkipReason | None = None
    #: The recipient in E.164, the form sent (or that would have been sent): the
    #: request's ``recipient_phone`` read with the client's ``default_region``.
    #: ``None`` when the request was refused before that (invalid input).
    recipient_e164: str | None = None
    #: For a journal skip: the message id the earlier run recorded, when it has one.
    previous_message_id: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the message was sent."""
        return self.outcome is Outcome.SENT

    @property
    def metadata(self) -> Mapping[Any, Any] | None:
        """The request's ``metadata``, as handed in."""
        return self.request.metadata
