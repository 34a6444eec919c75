"""What the emulator remembers between requests, on its clock.

- the **quota** of each sending number: the distinct recipients it sent to in
  the rolling 24 hours before now (``Quota``);
- every **message** sent, with its fate drawn when it was sent: when it is
  delivered and read, or when it fails (``MessageRecord``); its status at any
  moment is a pure function of that fate and the clock;
- the **replies** of recipients (``Emulator.reply``), which open the 24-hour
  WhatsApp session window contact-lookup reports;
- ``extensions``: room for the state of handlers registered later (bulk sends).

One lock guards it all: uvicorn's thread writes while a test thread reads.
"""

from __future__ import annotations

import random
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from ._clock import Clock
from ._data import PhoneNumber, normalize_phone

#: The rolling window of the quota and of the session opened by a reply.
WINDOW = timedelta(hours=24)

MessageStatus = Literal["sent", "delivered", "read", "failed"]


def _check_share(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _check_range(
    _instance: object, attribute: attrs.Attribute[tuple[float, float]], value: tuple[float, float]
) -> None:
    low, high = value
    if not 0 <= low <= high:
        raise ValueError(f"{attribute.name} must be (low, high) with 0 <= low <= high")


def _to_range(value: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    low, high = value
    return (float(low), float(high))


@attrs.frozen(kw_only=True)
class MessageLifecycle:
    """How sent messages move on the clock: ``sent -> delivered -> read``, or ``sent -> failed``.

    For each message, drawn when it is sent from a ``random.Random(seed)``:
    it fails with probability ``failure_share`` (``failed_after`` seconds after
    sending); otherwise it is delivered ``delivered_after`` seconds after sending
    and, with probability ``read_share``, read ``read_after`` seconds after
    delivery. Each delay is a ``(low, high)`` range drawn uniformly, or one number.
    """

    failure_share: float = attrs.field(default=0.02, validator=_check_share)
    read_share: float = attrs.field(default=0.7, validator=_check_share)
    delivered_after: tuple[float, float] = attrs.field(
        default=(1.0, 5.0), converter=_to_range, validator=_check_range
    )
    read_after: tuple[float, float] = attrs.field(
        default=(5.0, 120.0), converter=_to_range, validator=_check_range
    )
    failed_after: tuple[float, float] = attrs.field(
        default=(1.0, 10.0), converter=_to_range, validator=_check_range
    )
    #: Meta's error for a failed message (131026: "Message undeliverable").
    error_code: int = 131026
    error_message: str = "Message undeliverable"


@attrs.frozen
class MessageRecord:
    """One message the emulator sent, and its whole future."""

    id: int
    message_id: str
    template_id: int
    template_name: str
    language: str
    category: str
    phone_number_id: str
    recipient_phone: str
    variables: Mapping[str, Any]
    sent_at: datetime
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None

    def status(self, now: datetime) -> MessageStatus:
        """The status at ``now``."""
        if self.failed_at is not None and now >= self.failed_at:
            return "failed"
        if self.read_at is not None and now >= self.read_at:
            return "read"
        if self.delivered_at is not None and now >= self.delivered_at:
            return "delivered"
        return "sent"

    def reached(self, moment: datetime | None, now: datetime) -> datetime | None:
        """``moment`` if it has happened by ``now``, else None."""
        return moment if moment is not None and moment <= now else None


@attrs.frozen
class Quota:
    """The quota of one number at one moment, as business-accounts reports it."""

    daily_limit: int | None
    unique_numbers_sent_24h: int

    @property
    def remaining(self) -> int | None:
        """Distinct new recipients still allowed; None when unlimited."""
        if self.daily_limit is None:
            return None
        return max(0, self.daily_limit - self.unique_numbers_sent_24h)

    @property
    def usage_percentage(self) -> float:
        """Used share of the limit, in percent (0.0 when unlimited)."""
        if not self.daily_limit:
            return 0.0
        return round(self.unique_numbers_sent_24h / self.daily_limit * 100, 2)

    @property
    def can_send(self) -> bool:
        """Whether a new recipient can be sent to."""
        remaining = self.remaining
        return remaining is None or remaining > 0


#: An Argentine mobile number already in canonical E.164 (the common case: no parsing).
_AR_MOBILE_E164 = re.compile(r"\+549[1-9][0-9]{9}")


def recipient_key(recipient_phone: str) -> str:
    """The identity of a recipient for the quota: E.164 when it parses, else the raw text."""
    if _AR_MOBILE_E164.fullmatch(recipient_phone):
        return recipient_phone
    return normalize_phone(recipient_phone) or recipient_phone


class EmulatorState:
    """The emulator's memory; every method takes the one lock."""

    def __init__(
        self,
        clock: Clock,
        lifecycle: MessageLifecycle,
        seed: int | None,
        message_limit: int | None = None,
    ) -> None:
        self.clock = clock
        self.lifecycle = lifecycle
        self._lock = threading.RLock()
        self._seed = seed
        self._rng = random.Random(f"mindo-emulator-fates-{seed}") if seed is not None else None
        self._message_limit = message_limit
        # phone_number_id -> recipient -> last send, oldest first.
        self._recipients: dict[str, OrderedDict[str, datetime]] = {}
        self._messages: OrderedDict[str, MessageRecord] = OrderedDict()
        self._next_message = 1
        self._replies: dict[str, datetime] = {}
        #: State of handlers registered later (bulk sends): name -> anything.
        self.extensions: dict[str, Any] = {}

    @property
    def lock(self) -> threading.RLock:
        """The lock guarding this state (reentrant), for registered handlers."""
        return self._lock

    def now(self) -> datetime:
        """The clock's time."""
        return self.clock.now()

    # -- quota ---------------------------------------------------------------------------

    def _window(self, phone_number_id: str, now: datetime) -> OrderedDict[str, datetime]:
        recipients = self._recipients.setdefault(phone_number_id, OrderedDict())
        cutoff = now - WINDOW
        while recipients:
            oldest = next(iter(recipients.values()))
            if oldest > cutoff:
                break
            recipients.popitem(last=False)
        return recipients

    def quota(self, number: PhoneNumber, now: datetime | None = None) -> Quota:
        """The quota of ``number`` at ``now`` (default: the clock's time)."""
        now = self.now() if now is None else now
        with self._lock:
            used = len(self._window(number.phone_number_id, now))
        return Quota(number.daily_limit, used)

    def refusal(self, number: PhoneNumber, key: str, now: datetime) -> Quota | None:
        """The quota if a send to recipient ``key`` would be refused now, else None.

        ``key`` is ``recipient_key(recipient_phone)``. Charges nothing (``charge`` does).
        """
        with self._lock:
            recipients = self._window(number.phone_number_id, now)
            limit = number.daily_limit
            if key not in recipients and limit is not None and len(recipients) >= limit:
                return Quota(limit, len(recipients))
            return None

    def unseen_recipients(
        self, number: PhoneNumber, keys: Iterable[str], now: datetime
    ) -> list[str]:
        """The recipient keys of ``keys`` not sent to from ``number`` in the window.

        What a bulk send would add to the quota (a recipient already counted costs nothing).
        """
        with self._lock:
            recipients = self._window(number.phone_number_id, now)
            return [key for key in keys if key not in recipients]

    def charge(self, number: PhoneNumber, key: str, now: datetime) -> Quota | None:
        """Count a send to recipient ``key``: None if allowed (and counted), else the quota.

        ``key`` is ``recipient_key(recipient_phone)``. A recipient already sent
        to in the window costs nothing; a new one needs ``remaining > 0``.
        """
        with self._lock:
            recipients = self._window(number.phone_number_id, now)
            limit = number.daily_limit
            if key not in recipients and limit is not None and len(recipients) >= limit:
                return Quota(limit, len(recipients))
            recipients[key] = now
            recipients.move_to_end(key)
            return None

    # -- messages ------------------------------------------------------------------------

    def record_message(
        self,
        *,
        message_id: str,
        template_id: int,
        template_name: str,
        language: str,
        category: str,
        phone_number_id: str,
        recipient_phone: str,
        variables: Mapping[str, Any],
        sent_at: datetime,
    ) -> MessageRecord:
        """Remember a sent message and draw its fate."""
        with self._lock:
            rng = self._rng if self._rng is not None else random.Random()
            life = self.lifecycle
            delivered_at = read_at = failed_at = None
            # Always three draws, so one message's fate does not shift the next one's.
            fails = rng.random() < life.failure_share
            first = rng.uniform(*(life.failed_after if fails else life.delivered_after))
            reads = rng.random() < life.read_share
            second = rng.uniform(*life.read_after)
            if fails:
                failed_at = sent_at + timedelta(seconds=first)
            else:
                delivered_at = sent_at + timedelta(seconds=first)
                if reads:
                    read_at = delivered_at + timedelta(seconds=second)
            record = MessageRecord(
                id=self._next_message,
                message_id=message_id,
                template_id=template_id,
                template_name=template_name,
                language=language,
                category=category,
                phone_number_id=phone_number_id,
                recipient_phone=recipient_phone,
                variables=dict(variables),
                sent_at=sent_at,
                delivered_at=delivered_at,
                read_at=read_at,
                failed_at=failed_at,
            )
            self._next_message += 1
            self._messages[message_id] = record
            if self._message_limit is not None and len(self._messages) > self._message_limit:
                self._messages.popitem(last=False)
            return record

    def message(self, message_id: str) -> MessageRecord | None:
        """The message with wamid ``message_id``, or None."""
        with self._lock:
            return self._messages.get(message_id)

    def messages(self) -> tuple[MessageRecord, ...]:
        """Every remembered message, oldest first."""
        with self._lock:
            return tuple(self._messages.values())

    # -- replies -------------------------------------------------------------------------

    def record_reply(self, phone: str, at: datetime) -> str:
        """Record an inbound message from ``phone``; return its E.164 form."""
        normalized = normalize_phone(phone)
        if normalized is None:
            raise ValueError(f"not a phone number: {phone!r}")
        with self._lock:
            previous = self._replies.get(normalized)
            if previous is None or at > previous:
                self._replies[normalized] = at
        return normalized

    def last_reply(self, phone_e164: str) -> datetime | None:
        """When ``phone_e164`` last wrote, or None."""
        with self._lock:
            return self._replies.get(phone_e164)

    def clear(self) -> None:
        """Forget quotas, messages, replies and extension state."""
        with self._lock:
            self._recipients.clear()
            self._messages.clear()
            self._replies.clear()
            self._next_message = 1
            self.extensions.clear()
