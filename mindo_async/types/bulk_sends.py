"""Server-side bulk sends: the request's recipients and the API's answers (snake_case).

The API answers ``send-bulk`` with ``"status": "queued"`` (lowercase) and the
status and list endpoints with ``"QUEUED"``: ``BulkSendStatus`` compares
case-insensitively, so both become ``BulkSendStatus.QUEUED``. A status this
library does not know yet stays a plain string.

The counters of a ``BulkSend`` are cumulative funnel counts: a read message
is also counted as delivered, and a delivered one as sent
(``read_count <= delivered_count <= sent_count``); do not add them up.
``BulkSend.counts`` gives both the cumulative and the exclusive numbers.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

from .._conversion import converter, open_enum
from .._models import MessageStatus, Outcome, SendRequest, SendResult, VariableValue

__all__ = [
    "TERMINAL_BULK_SEND_STATUSES",
    "BulkChunkResult",
    "BulkMessage",
    "BulkRecipient",
    "BulkSend",
    "BulkSendCounts",
    "BulkSendCreated",
    "BulkSendPhoneNumber",
    "BulkSendRequest",
    "BulkSendStatus",
    "BulkSendTemplate",
    "CreateManyResult",
    "CreatedBy",
    "QuotaInfo",
    "WhatsAppPhoneNumber",
]


class BulkSendStatus(str, enum.Enum):
    """Where a bulk send stands; any casing works: ``BulkSendStatus("queued")`` is ``QUEUED``."""

    #: Created, waiting for the server to start sending.
    QUEUED = "QUEUED"
    #: The server is sending.
    PROCESSING = "PROCESSING"
    #: Every message was processed without failure.
    COMPLETED = "COMPLETED"
    #: Done, with some failures.
    PARTIAL = "PARTIAL"
    #: Failed completely.
    FAILED = "FAILED"
    #: Cancelled manually (from Mindo's dashboard: the API has no cancel call).
    CANCELLED = "CANCELLED"

    @classmethod
    def _missing_(cls, value: object) -> BulkSendStatus | None:
        # The create answer says "queued", the status answer "QUEUED" (docs §5).
        if isinstance(value, str):
            upper = value.strip().upper()
            for member in cls:
                if member.value == upper:
                    return member
        return None

    @property
    def is_terminal(self) -> bool:
        """Whether the bulk send will not change status any more."""
        return self in TERMINAL_BULK_SEND_STATUSES

    def __str__(self) -> str:
        return self.value


#: The statuses a bulk send does not leave (inferred from the docs' descriptions).
TERMINAL_BULK_SEND_STATUSES = frozenset(
    {
        BulkSendStatus.COMPLETED,
        BulkSendStatus.PARTIAL,
        BulkSendStatus.FAILED,
        BulkSendStatus.CANCELLED,
    }
)


@frozen(kw_only=True)
class BulkRecipient:
    """One recipient of a bulk send: ``{phone, variables, button_variables}`` in the request."""

    #: International E.164 format, e.g. ``"+5491112345678"``.
    phone: str
    #: Template variables by name.
    variables: Mapping[str, VariableValue] | None = field(default=None)
    #: Dynamic button variables: ``{"button_0": "ABC-123"}``.
    button_variables: Mapping[str, str] | None = field(default=None)


def _to_recipient_tuple(value: Any) -> Any:
    # A list or tuple becomes a tuple; anything else is kept for validation to name.
    return tuple(value) if isinstance(value, (list, tuple)) else value


@frozen(kw_only=True)
class BulkSendRequest:
    """One ``send-bulk`` request: a template, a sending number and its recipients.

    Building one does not validate it; ``bulk_sends.create`` does, before any I/O.
    """

    #: Meta's id of the sending number (``phoneNumberId`` in business-accounts).
    phone_number_id: str
    template_name: str
    language: str = "es"
    recipients: tuple[BulkRecipient, ...] = field(converter=_to_recipient_tuple)


@frozen(kw_only=True)
class WhatsAppPhoneNumber:
    """The sending number, as ``send-bulk`` describes it."""

    #: Mindo's internal id of the number (``phone_number.id`` in the status answer).
    id: int
    #: Meta's id of the number: what ``phone_number_id`` takes.
    phone_number_id: str
    display_phone_number: str | None = None
    verified_name: str | None = None
    #: Meta's quality rating, e.g. ``"GREEN"``.
    quality_rating: str | None = None
    #: The messaging tier, e.g. ``"TIER_1000"``.
    messaging_limit_tier: str | None = None


@frozen(kw_only=True)
class QuotaInfo:
    """The number's daily quota of unique recipients, as ``send-bulk`` reports it."""

    can_send: bool
    #: Unique recipients this bulk send needs.
    quota_needed: int
    quota_available: int
    quota_total: int
    #: The messaging tier, e.g. ``"TIER_1000"``.
    tier: str | None = None


@frozen(kw_only=True)
class BulkSendCreated:
    """The ``202 Accepted`` answer to ``send-bulk``: the campaign exists, the server paces it."""

    #: The id to follow it with (``get``, ``wait``, ``messages``).
    bulk_send_id: str
    #: The id of the server's background task.
    task_id: str | None = None
    #: ``BulkSendStatus.QUEUED`` (the API writes ``"queued"``).
    status: BulkSendStatus | str
    template_name: str | None = None
    #: Recipients the API received, before its own dedupe.
    total_recipients: int
    #: Recipients that will receive the message, after the API's dedupe.
    unique_recipients: int
    estimated_time_minutes: float | None = None
    created_at: datetime
    whatsapp_phone_number: WhatsAppPhoneNumber | None = None
    quota_info: QuotaInfo | None = None
    #: Identical repeats of a recipient the library dropped before sending (not an API field).
    dropped_repeats: int = 0


@frozen(kw_only=True)
class BulkSendTemplate:
    """The template of a bulk send (``template_name``, unlike ``name`` in message status)."""

    #: Mindo's internal template id (what the list's ``template`` filter takes).
    id: int
    template_name: str
    language: str
    #: Meta's status of the template, e.g. ``"APPROVED"``.
    status: str | None = None


@frozen(kw_only=True)
class BulkSendPhoneNumber:
    """The sending number of a bulk send, by Mindo's internal id (not Meta's ``phoneNumberId``)."""

    id: int
    display_phone_number: str | None = None
    verified_name: str | None = None


@frozen(kw_only=True)
class CreatedBy:
    """The user who created a bulk send."""

    id: int
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@frozen(kw_only=True)
class BulkSendCounts:
    """A bulk send's counters, cumulative as the API gives them, and their exclusive split.

    ``sent`` counts every message that reached Meta, delivered or read ones
    included; ``delivered`` counts read ones too.
    """

    sent: int
    delivered: int
    read: int
    failed: int
    pending: int

    @property
    def sent_not_delivered(self) -> int:
        """Sent, not (yet) delivered."""
        return max(self.sent - self.delivered, 0)

    @property
    def delivered_not_read(self) -> int:
        """Delivered, not (yet) read."""
        return max(self.delivered - self.read, 0)

    @property
    def processed(self) -> int:
        """Messages the server is done trying to send: sent or failed."""
        return self.sent + self.failed


@frozen(kw_only=True)
class BulkSend:
    """A bulk send's status and progress (``bulk-sends/{id}/``, and each item of the list).

    The counters are cumulative: ``read_count <= delivered_count <= sent_count``.
    """

    id: str
    status: BulkSendStatus | str
    template: BulkSendTemplate | None = None
    phone_number: BulkSendPhoneNumber | None = None
    total_recipients: int
    sent_count: int = 0
    delivered_count: int = 0
    read_count: int = 0
    failed_count: int = 0
    pending_count: int = 0
    #: 0 to 100.
    progress_percentage: float = 0.0
    estimated_time_minutes: float | None = None
    #: ``None`` until the server starts sending.
    started_at: datetime | None = None
    #: ``None`` until the bulk send ends.
    completed_at: datetime | None = None
    created_at: datetime
    #: Absent from the list endpoint's items.
    created_by: CreatedBy | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the status is final (COMPLETED, PARTIAL, FAILED, CANCELLED).

        An unknown status (a plain string) is not terminal: ``wait`` keeps polling.
        """
        return isinstance(self.status, BulkSendStatus) and self.status.is_terminal

    @property
    def counts(self) -> BulkSendCounts:
        """The counters as one object."""
        return BulkSendCounts(
            sent=self.sent_count,
            delivered=self.delivered_count,
            read=self.read_count,
            failed=self.failed_count,
            pending=self.pending_count,
        )


@frozen(kw_only=True)
class BulkMessage:
    """One message of a bulk send (``bulk-sends/{id}/messages/``)."""

    id: int
    recipient_phone: str
    #: ``sent``, ``delivered``, ``read`` or ``failed``; an unknown value stays a string.
    status: MessageStatus | str
    #: Meta's message id (wamid); ``None`` if it never reached Meta.
    meta_message_id: str | None = None
    variables_used: Mapping[str, Any] | None = field(default=None)
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    #: Why it failed; ``None`` unless ``status`` is ``failed``.
    error_message: str | None = None


converter.register_structure_hook(BulkSendStatus | str, open_enum(BulkSendStatus))


@frozen(kw_only=True)
class BulkChunkResult:
    """One chunk of ``create_many``: the bulk send created for it, or why not."""

    #: The chunk's place in this run, from 0.
    index: int
    #: The chunk's name in the journal (a UUID made by the client).
    chunk_id: str
    phone_number_id: str
    template_name: str
    language: str
    #: The requests of the chunk, as handed in.
    requests: tuple[SendRequest, ...]
    #: ``SENT`` (the bulk send was created), ``REJECTED`` (the API refused it, or it
    #: provably never reached the API) or ``UNKNOWN`` (it may exist: see ``error``).
    outcome: Outcome
    created: BulkSendCreated | None = None
    #: The error for ``REJECTED`` and ``UNKNOWN``; a ``BulkSendUnknownError`` for
    #: ``UNKNOWN`` offers ``find_candidates``.
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the bulk send was created."""
        return self.outcome is Outcome.SENT


@frozen(kw_only=True)
class CreateManyResult:
    """What ``create_many`` did with every request."""

    #: One result per chunk sent in this run, in order.
    chunks: tuple[BulkChunkResult, ...]
    #: Requests not sent in this run: the journal has them from an earlier run
    #: (as sent, unknown or in flight), or an identical request came earlier.
    skipped: tuple[SendResult, ...] = ()
    #: Identical repeats dropped in this run (also in ``skipped``).
    dropped_repeats: int = 0

    @property
    def bulk_send_ids(self) -> tuple[str, ...]:
        """The ids of the bulk sends created in this run."""
        return tuple(c.created.bulk_send_id for c in self.chunks if c.created is not None)

    def count(self, outcome: Outcome) -> int:
        """Requests of this run's chunks with ``outcome`` (``SKIPPED``: the skipped ones)."""
        if outcome is Outcome.SKIPPED:
            return len(self.skipped)
        return sum(len(c.requests) for c in self.chunks if c.outcome is outcome)
