"""Server-side bulk sends in the emulator: their state, and pure handlers for the four endpoints.

``POST send-bulk/`` checks the request as ``POST send/`` checks one message
(each recipient goes through the same checks), removes repeated phones (the
first one is kept), reserves the number's quota and answers 202. The campaign
is then worked through on the emulator's clock, with no task running:

- ``QUEUED`` for ``start_delay`` seconds, then ``PROCESSING``;
- one message every ``pace`` seconds, the documented pace of the number's
  tier (``TIER_PACE``), divided by ``speed``;
- each message's fate is drawn when the campaign is created, with the
  emulator's ``MessageLifecycle`` (``sent -> delivered -> read``, or
  ``failed`` some seconds after sending, with ``failure_share``), so
  ``messages.get`` knows bulk messages too;
- ``COMPLETED`` once every message is sent (and every failure known),
  ``PARTIAL`` if some failed, ``FAILED`` if all did.

Over quota (more new recipients than the number has left in its rolling
24 hours) the whole bulk send is refused with the single send's answer: a 400
``{"success": false, "error": ..., "code": "quota_exceeded", "quota_info": {...}}``;
nothing is created (``docs/emulator.md``).

Every message of a campaign is in the ledger (``LedgerEntry.bulk_send_id``),
with a body shaped like a single send's, so ``Ledger.duplicates()`` finds a
recipient messaged twice across single and bulk sends.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import attrs

from .._endpoints import BULK_SEND_MESSAGES, BULK_SENDS
from ._clock import iso
from ._data import PhoneNumber, Template
from ._ledger import LedgerEntry
from ._state import MessageRecord, recipient_key
from .handlers._common import Reply, Request, error, not_found_detail, ok
from .handlers.send import check_send

if TYPE_CHECKING:
    from ._state import EmulatorState

__all__ = [
    "BULK_STATUSES",
    "TIER_PACE",
    "BulkSendSettings",
    "BulkSends",
    "Campaign",
    "bulk_sends",
    "create",
    "get",
    "list_bulk_sends",
    "messages",
]

#: Seconds between two messages of a bulk send, by tier (the business-accounts page).
TIER_PACE: Mapping[str, float] = {
    "TIER_50": 1.2,
    "TIER_250": 0.24,
    "TIER_1000": 0.06,
    "TIER_10000": 0.006,
    "TIER_100000": 0.0006,
    "TIER_UNLIMITED": 0.0,
}

BULK_STATUSES = ("QUEUED", "PROCESSING", "COMPLETED", "PARTIAL", "FAILED", "CANCELLED")
MESSAGE_STATUSES = ("sent", "delivered", "read", "failed")

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_NOT_DIGITS = re.compile(r"[^0-9]")
_EXTENSION = "bulk_sends"

#: The user a campaign created through the API is attributed to.
API_USER: Mapping[str, Any] = {
    "id": 1,
    "email": "api@emulator.mindo.invalid",
    "first_name": "API",
    "last_name": "Key",
}


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive number, got {value!r}")


def _not_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a number >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class BulkSendSettings:
    """How the emulator works through bulk sends.

    ``speed`` divides every delay of a campaign (60 turns a minute of pacing
    into a second, for demos); ``start_delay`` is how long a campaign stays
    ``QUEUED``; ``default_page_size`` and ``max_page_size`` shape the two
    paginated lists.
    """

    speed: float = attrs.field(default=1.0, validator=_positive)
    start_delay: float = attrs.field(default=5.0, validator=_not_negative)
    default_page_size: int = 20
    max_page_size: int = 100


@attrs.define
class Campaign:
    """One bulk send: who, what, when; its status at any moment follows from the clock."""

    id: str
    task_id: str
    number: PhoneNumber
    template: Template
    template_id: int
    total_recipients: int
    created_at: datetime
    started_at: datetime
    #: One record per unique recipient, in send order; ``sent_at`` may be in the future.
    records: tuple[MessageRecord, ...]
    estimated_time_minutes: float
    finished_at: datetime

    def status(self, now: datetime) -> str:
        """``QUEUED``, ``PROCESSING``, then ``COMPLETED``, ``PARTIAL`` or ``FAILED``."""
        if now < self.started_at:
            return "QUEUED"
        if now < self.finished_at:
            return "PROCESSING"
        failed = sum(1 for record in self.records if record.failed_at is not None)
        if failed == 0:
            return "COMPLETED"
        return "FAILED" if failed == len(self.records) else "PARTIAL"

    def sent(self, now: datetime) -> list[MessageRecord]:
        """The messages sent by ``now`` (the others are pending)."""
        return [record for record in self.records if record.sent_at <= now]

    def counts(self, now: datetime) -> dict[str, int]:
        """The cumulative counters at ``now``: read within delivered within sent."""
        sent = delivered = read = failed = 0
        for record in self.records:
            if record.sent_at > now:
                break
            status = record.status(now)
            if status == "failed":
                failed += 1
                continue
            sent += 1
            if status in ("delivered", "read"):
                delivered += 1
            if status == "read":
                read += 1
        pending = len(self.records) - sent - failed
        return {
            "sent_count": sent,
            "delivered_count": delivered,
            "read_count": read,
            "failed_count": failed,
            "pending_count": pending,
        }

    def summary(self, now: datetime, *, detail: bool) -> dict[str, Any]:
        """The §2.5 body (``detail``) or a §2.7 list item."""
        counts = self.counts(now)
        unique = len(self.records)
        done = counts["sent_count"] + counts["failed_count"]
        status = self.status(now)
        body: dict[str, Any] = {
            "id": self.id,
            "status": status,
            "template": {
                "id": self.template_id,
                "template_name": self.template.name,
                "language": self.template.language,
                "status": self.template.status,
            },
            "phone_number": {
                "id": self.number.id,
                "display_phone_number": self.number.display_phone_number,
                "verified_name": self.number.verified_name,
            },
            "total_recipients": unique,
            **counts,
            "progress_percentage": round(done / unique * 100, 1) if unique else 100.0,
        }
        if detail:
            body["estimated_time_minutes"] = self.estimated_time_minutes
            body["started_at"] = iso(self.started_at) if now >= self.started_at else None
        body["completed_at"] = (
            iso(self.finished_at) if status not in ("QUEUED", "PROCESSING") else None
        )
        body["created_at"] = iso(self.created_at)
        if detail:
            body["created_by"] = dict(API_USER)
        return body


class BulkSends:
    """Every bulk send of one emulator, newest last; thread-safe."""

    def __init__(self, settings: BulkSendSettings | None = None, seed: int | None = None) -> None:
        self.settings = settings if settings is not None else BulkSendSettings()
        self._lock = threading.Lock()
        self._campaigns: OrderedDict[str, Campaign] = OrderedDict()
        self._ids = random.Random(f"mindo-emulator-bulk-{seed}") if seed is not None else None

    def _uuid(self) -> str:
        if self._ids is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def _wamid(self, recipient_phone: str) -> str:
        rng = self._ids if self._ids is not None else random.Random()
        digits = _NOT_DIGITS.sub("", recipient_phone)[:255]
        token = f"{rng.getrandbits(72):018X}"
        raw = (
            b"\x1c\x18"
            + bytes([len(digits)])
            + digits.encode("ascii")
            + b"\x15\x02\x00\x11\x18\x12"
            + token.encode("ascii")
            + b"\x00"
        )
        return "wamid." + base64.b64encode(raw).decode("ascii")

    def add(self, campaign: Campaign) -> None:
        """Remember ``campaign``."""
        with self._lock:
            self._campaigns[campaign.id] = campaign

    def get(self, bulk_send_id: str) -> Campaign | None:
        """The campaign with that id, or None."""
        with self._lock:
            return self._campaigns.get(bulk_send_id)

    def all(self) -> tuple[Campaign, ...]:
        """Every campaign, oldest first."""
        with self._lock:
            return tuple(self._campaigns.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._campaigns)


def bulk_sends(state: EmulatorState) -> BulkSends:
    """The bulk sends kept in ``state`` (created on first use)."""
    with state.lock:
        store = state.extensions.get(_EXTENSION)
        if not isinstance(store, BulkSends):
            store = BulkSends(seed=getattr(state, "_seed", None))
            state.extensions[_EXTENSION] = store
        return store


# -- POST send-bulk/ ----------------------------------------------------------------------


def _field_error(name: str, message: str) -> Reply:
    return Reply(400, {name: [message]}, "bad_request")


def create(state: EmulatorState, request: Request) -> Reply:
    """``POST send-bulk/``: 202 with the documented body, or the first problem found."""
    try:
        body = json.loads(request.body.decode("utf-8")) if request.body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return error(400, f"JSON parse error - {exc}", "bad_request")
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object", "bad_request")
    recipients = body.get("recipients")
    if recipients is None:
        return _field_error("recipients", "This field is required.")
    if not isinstance(recipients, list):
        return _field_error(
            "recipients", f'Expected a list of items but got type "{type(recipients).__name__}".'
        )
    if not recipients:
        return _field_error("recipients", "This list may not be empty.")

    data = request.data
    valid: list[tuple[str, Mapping[str, str], Mapping[str, str], Mapping[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for item in recipients:
        if not isinstance(item, dict):
            errors.append({"non_field_errors": ["Invalid data. Expected a dictionary."]})
            continue
        phone = item.get("phone")
        if not isinstance(phone, str) or _E164.fullmatch(phone.strip()) is None:
            errors.append(
                {"phone": ["Enter the number in international format, e.g. +5491112345678."]}
            )
            continue
        single = {
            key: body[key]
            for key in ("phone_number_id", "template_name", "language")
            if key in body
        }
        single["recipient_phone"] = phone.strip()
        for key in ("variables", "button_variables"):
            if key in item:
                single[key] = item[key]
        checked = check_send(
            data,
            request.api_key,
            json.dumps(single).encode(),
            strict_variables=request.options.strict_variables,
        )
        if isinstance(checked, Reply):
            if checked.status != 400 or "error" not in checked.body:
                # The number, the template, a field of the request: one answer for all.
                return checked
            errors.append({"non_field_errors": [checked.body["error"]]})
            continue
        errors.append({})
        valid.append(
            (checked.recipient_phone, checked.variables, checked.button_variables, checked.body)
        )
    if any(errors):
        return Reply(400, {"recipients": errors}, "bad_request")

    number = data.number(str(body["phone_number_id"]).strip())
    template = data.template(
        str(body["template_name"]).strip(), str(body.get("language", "es")).strip()
    )
    assert number is not None
    assert template is not None

    # The API removes repeated phones (which one it keeps is not documented: here, the first).
    unique: dict[str, tuple[Mapping[str, str], Mapping[str, str], Mapping[str, Any]]] = {}
    for phone, variables, buttons, single_body in valid:
        unique.setdefault(phone, (variables, buttons, single_body))

    now = request.now
    with state.lock:
        quota = state.quota(number, now)
        keys = [recipient_key(phone) for phone in unique]
        new = state.unseen_recipients(number, keys, now)
        if quota.remaining is not None and len(new) > quota.remaining:
            # All or nothing: a bulk send the quota cannot hold is not created.
            return _over_quota(number, quota, len(unique))
        for key in keys:
            state.charge(number, key, now)
        after = state.quota(number, now)
        store = bulk_sends(state)
        campaign = _campaign(state, store, request, number, template, unique, len(recipients))
        store.add(campaign)
    entries = tuple(
        LedgerEntry(
            message_id=record.message_id,
            phone_number_id=number.phone_number_id,
            template_name=template.name,
            language=template.language,
            recipient_phone=record.recipient_phone,
            variables=record.variables,
            button_variables=unique[record.recipient_phone][1],
            body=unique[record.recipient_phone][2],
            received_at=now,
            sent_at=iso(record.sent_at),
            bulk_send_id=campaign.id,
        )
        for record in campaign.records
    )
    return Reply(
        202,
        {
            "bulk_send_id": campaign.id,
            "task_id": campaign.task_id,
            "status": "queued",
            "template_name": template.name,
            "total_recipients": campaign.total_recipients,
            "unique_recipients": len(campaign.records),
            "estimated_time_minutes": campaign.estimated_time_minutes,
            "created_at": iso(campaign.created_at),
            "whatsapp_phone_number": {
                "id": number.id,
                "phone_number_id": number.phone_number_id,
                "display_phone_number": number.display_phone_number,
                "verified_name": number.verified_name,
                "quality_rating": number.quality_rating,
                "messaging_limit_tier": number.tier,
            },
            "quota_info": _quota_info(number, after, len(unique), can_send=True),
        },
        "bulk_created",
        entries=entries,
    )


def _quota_info(number: PhoneNumber, quota: Any, needed: int, *, can_send: bool) -> dict[str, Any]:
    return {
        "can_send": can_send,
        "quota_needed": needed,
        "quota_available": quota.remaining,
        "quota_total": quota.daily_limit,
        "tier": number.tier,
    }


def _over_quota(number: PhoneNumber, quota: Any, needed: int) -> Reply:
    return Reply(
        400,
        {
            "success": False,
            "error": (
                "Límite diario de mensajes insuficiente para este envío masivo "
                f"({number.tier}: {quota.remaining} de {quota.daily_limit} destinatarios "
                f"únicos disponibles en 24 h; se necesitan {needed})"
            ),
            "code": "quota_exceeded",
            "quota_info": _quota_info(number, quota, needed, can_send=False),
        },
        "quota_exceeded",
    )


def _campaign(
    state: EmulatorState,
    store: BulkSends,
    request: Request,
    number: PhoneNumber,
    template: Template,
    unique: Mapping[str, tuple[Mapping[str, str], Mapping[str, str], Mapping[str, Any]]],
    total: int,
) -> Campaign:
    settings = store.settings
    now = request.now.replace(microsecond=0)
    pace = TIER_PACE.get(number.tier, 0.0) / settings.speed
    started_at = now + timedelta(seconds=settings.start_delay / settings.speed)
    template_id = request.data.template_id(template)
    records: list[MessageRecord] = []
    finished_at = started_at
    for position, (phone, (variables, _buttons, _body)) in enumerate(unique.items()):
        sent_at = started_at + timedelta(seconds=position * pace)
        record = state.record_message(
            message_id=store._wamid(phone),
            template_id=template_id,
            template_name=template.name,
            language=template.language,
            category=template.category,
            phone_number_id=number.phone_number_id,
            recipient_phone=phone,
            variables=variables,
            sent_at=sent_at,
        )
        records.append(record)
        finished_at = max(finished_at, record.failed_at or sent_at)
    seconds = (finished_at - now).total_seconds()
    return Campaign(
        id=store._uuid(),
        task_id=store._uuid(),
        number=number,
        template=template,
        template_id=template_id,
        total_recipients=total,
        created_at=now,
        started_at=started_at,
        records=tuple(records),
        estimated_time_minutes=round(seconds / 60, 1),
        finished_at=finished_at,
    )


# -- GET bulk-sends/{id}/ ------------------------------------------------------------------


def get(state: EmulatorState, request: Request) -> Reply:
    """``GET bulk-sends/{bulk_send_id}/``: the §2.5 body, or DRF's 404."""
    campaign = bulk_sends(state).get(request.params["bulk_send_id"])
    if campaign is None:
        return not_found_detail()
    return ok(campaign.summary(request.now, detail=True))


# -- pagination ------------------------------------------------------------------------------


def _page(
    request: Request, items: Sequence[Any], store: BulkSends, path: str
) -> Reply | tuple[list[Any], dict[str, Any]]:
    settings = store.settings
    page_text = request.query_value("page") or "1"
    size_text = request.query_value("page_size")
    try:
        page = int(page_text)
    except ValueError:
        page = 0
    if page < 1:
        return Reply(404, {"detail": "Página inválida."}, "not_found")
    size = settings.default_page_size
    if size_text is not None:
        try:
            size = max(1, min(int(size_text), settings.max_page_size))
        except ValueError:
            size = settings.default_page_size
    count = len(items)
    pages = max(1, math.ceil(count / size))
    if page > pages:
        return Reply(404, {"detail": "Página inválida."}, "not_found")
    start = (page - 1) * size

    def link(number: int) -> str:
        query = [(k, v) for k, values in request.query.items() for v in values if k != "page"]
        if number > 1:
            query.append(("page", str(number)))
        text = urlencode(query)
        return request.base_url + path + ("?" + text if text else "")

    return list(items[start : start + size]), {
        "count": count,
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if page > 1 else None,
    }


# -- GET bulk-sends/{id}/messages/ ---------------------------------------------------------


def messages(state: EmulatorState, request: Request) -> Reply:
    """``GET bulk-sends/{id}/messages/``: the messages sent so far, filtered by ``status``."""
    store = bulk_sends(state)
    bulk_send_id = request.params["bulk_send_id"]
    campaign = store.get(bulk_send_id)
    if campaign is None:
        return not_found_detail()
    now = request.now
    status = request.query_value("status")
    if status is not None and status not in MESSAGE_STATUSES:
        return _field_error(
            "status", f"Select a valid choice. {status} is not one of the available choices."
        )
    sent = campaign.sent(now)
    if status is not None:
        sent = [record for record in sent if record.status(now) == status]
    paged = _page(
        request, sent, store, BULK_SEND_MESSAGES.format_path({"bulk_send_id": bulk_send_id})
    )
    if isinstance(paged, Reply):
        return paged
    items, links = paged
    life = state.lifecycle
    results = []
    for record in items:
        current = record.status(now)
        delivered_at = record.reached(record.delivered_at, now)
        read_at = record.reached(record.read_at, now)
        results.append(
            {
                "id": record.id,
                "recipient_phone": record.recipient_phone,
                "status": current,
                "meta_message_id": record.message_id,
                "variables_used": dict(record.variables),
                "sent_at": iso(record.sent_at),
                "delivered_at": iso(delivered_at) if delivered_at else None,
                "read_at": iso(read_at) if read_at else None,
                "error_message": life.error_message if current == "failed" else None,
            }
        )
    return ok({**links, "results": results})


# -- GET bulk-sends/ -------------------------------------------------------------------------


def _date_filter(request: Request, name: str) -> date | Reply | None:
    text = request.query_value(name)
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return _field_error(name, "Enter a valid date.")


def list_bulk_sends(state: EmulatorState, request: Request) -> Reply:
    """``GET bulk-sends/``: newest first, filtered by status, template id and creation date.

    ``created_after`` and ``created_before`` are dates compared with the
    campaign's creation date (UTC), both bounds included.
    """
    store = bulk_sends(state)
    now = request.now
    status = request.query_value("status")
    if status is not None and status not in BULK_STATUSES:
        return _field_error(
            "status", f"Select a valid choice. {status} is not one of the available choices."
        )
    template_text = request.query_value("template")
    template_id: int | None = None
    if template_text is not None:
        try:
            template_id = int(template_text)
        except ValueError:
            return _field_error("template", "Enter a whole number.")
    after = _date_filter(request, "created_after")
    if isinstance(after, Reply):
        return after
    before = _date_filter(request, "created_before")
    if isinstance(before, Reply):
        return before
    chosen = []
    for campaign in reversed(store.all()):
        day = campaign.created_at.date()
        if after is not None and day < after:
            continue
        if before is not None and day > before:
            continue
        if template_id is not None and campaign.template_id != template_id:
            continue
        if status is not None and campaign.status(now) != status:
            continue
        chosen.append(campaign)
    paged = _page(request, chosen, store, BULK_SENDS.path)
    if isinstance(paged, Reply):
        return paged
    items, links = paged
    return ok({**links, "results": [c.summary(now, detail=False) for c in items]})
