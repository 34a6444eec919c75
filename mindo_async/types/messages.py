"""The message-status answer (``GET .../messages/{message_id}/``), in snake_case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .._models import MessageStatus
from . import _hooks  # noqa: F401  (registers the int | str | None hook)

__all__ = ["DeliveryStatus", "MessageDetails", "MessageRecipient", "MessageTemplate"]


@attrs.frozen(kw_only=True)
class MessageTemplate:
    """The template a message was sent with (``template.name``, not ``template_name``)."""

    name: str
    id: int | None = None
    language: str = ""
    #: ``MARKETING``, ``UTILITY``, ``AUTHENTICATION``...: an open string.
    category: str = ""


@attrs.frozen(kw_only=True)
class MessageRecipient:
    """Who the message went to (the API does not describe these fields; named from its example)."""

    phone: str
    contact_name: str | None = None
    contact_id: int | None = None


@attrs.frozen(kw_only=True)
class DeliveryStatus:
    """Where the message stands, with a timestamp per transition (from Meta's webhooks)."""

    #: ``sent``, ``delivered``, ``read`` or ``failed``; unknown values kept as str.
    current: MessageStatus | str
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    #: Meta's error code, as the API gives it (number or text).
    error_code: int | str | None = None
    error_message: str | None = None

    @property
    def is_final(self) -> bool:
        """Whether the status can no longer change (``read`` or ``failed``)."""
        return self.current in (MessageStatus.READ, MessageStatus.FAILED)


@attrs.frozen(kw_only=True)
class MessageDetails:
    """One template message and its delivery status."""

    #: Mindo's internal id of the send record.
    id: int
    template: MessageTemplate
    recipient: MessageRecipient
    delivery_status: DeliveryStatus
    #: The wamid (the same as the one asked for).
    meta_message_id: str = ""
    #: The variables the template was rendered with.
    variables_used: dict[str, Any] = attrs.field(factory=dict)
    #: Whether the initial send to Meta succeeded.
    was_successful: bool = True
    #: The initial send's error, if any.
    error_message: str | None = None
    sent_at: datetime | None = None

    @property
    def status(self) -> MessageStatus | str:
        """The current status (``delivery_status.current``)."""
        return self.delivery_status.current
