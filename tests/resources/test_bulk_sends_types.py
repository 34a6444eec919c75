"""The bulk-send models parse the API reference's own examples (tests/reference/)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mindo_async import (
    BulkMessage,
    BulkSend,
    BulkSendCreated,
    BulkSendStatus,
    MessageStatus,
)
from mindo_async._conversion import converter

REFERENCE = Path(__file__).parent.parent / "reference"


def _example(name: str, status: str) -> Any:
    return json.loads((REFERENCE / f"bulk_sends.{name}.json").read_text("utf-8"))["responses"][
        status
    ]


def test_create_example_parses_with_lowercase_status() -> None:
    """The documented 202 body parses, and its lowercase "queued" is BulkSendStatus.QUEUED."""
    created = converter.structure(_example("create", "202"), BulkSendCreated)
    assert created.bulk_send_id == "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"
    assert created.status is BulkSendStatus.QUEUED
    assert (created.total_recipients, created.unique_recipients) == (3, 3)
    assert created.created_at == datetime(2025, 11, 16, 21, 30, tzinfo=timezone.utc)
    assert created.whatsapp_phone_number is not None
    assert created.whatsapp_phone_number.phone_number_id == "813497231850626"
    assert created.whatsapp_phone_number.id == 123
    assert created.quota_info is not None
    assert (created.quota_info.quota_needed, created.quota_info.quota_available) == (3, 997)
    assert created.dropped_repeats == 0


def test_get_example_parses_counters_and_people() -> None:
    """The documented status body parses: template, number, cumulative counters, creator."""
    bulk = converter.structure(_example("get", "200"), BulkSend)
    assert bulk.status is BulkSendStatus.COMPLETED
    assert bulk.is_terminal
    assert bulk.template is not None
    assert bulk.template.template_name == "welcome_message"
    assert bulk.template.id == 45
    assert bulk.phone_number is not None
    assert bulk.phone_number.id == 123
    counts = bulk.counts
    assert (counts.sent, counts.delivered, counts.read) == (3, 2, 1)
    assert counts.read <= counts.delivered <= counts.sent
    assert (counts.sent_not_delivered, counts.delivered_not_read) == (1, 1)
    assert bulk.created_by is not None
    assert bulk.created_by.email == "user@example.com"
    assert bulk.started_at == datetime(2025, 11, 16, 21, 30, 5, tzinfo=timezone.utc)


def test_list_example_items_parse_without_the_fields_only_get_has() -> None:
    """List items lack created_by, started_at and estimated_time_minutes: they parse as None."""
    page = _example("list", "200")
    items = [converter.structure(item, BulkSend) for item in page["results"]]
    assert [item.total_recipients for item in items] == [3, 150]
    assert all(item.created_by is None and item.started_at is None for item in items)
    assert items[1].template is not None
    assert items[1].template.template_name == "order_confirmation"


def test_messages_example_parses_statuses_and_nulls() -> None:
    """Bulk messages parse: lowercase message statuses, null timestamps stay None."""
    page = _example("messages", "200")
    messages = [converter.structure(item, BulkMessage) for item in page["results"]]
    assert [m.status for m in messages] == [
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.SENT,
    ]
    assert messages[2].delivered_at is None
    assert messages[2].read_at is None
    assert messages[0].variables_used == {"name": "Juan Perez", "code": "ABC123"}


@pytest.mark.parametrize("raw", ["queued", "QUEUED", "Queued", " queued "])
def test_status_is_case_insensitive(raw: str) -> None:
    """Any casing of a known status is the same enum member."""
    assert BulkSendStatus(raw) is BulkSendStatus.QUEUED


def test_unknown_status_stays_a_string_and_is_not_terminal() -> None:
    """A status the library does not know is kept as text and never counts as terminal."""
    body = dict(_example("get", "200"), status="PAUSED_BY_META")
    bulk = converter.structure(body, BulkSend)
    assert bulk.status == "PAUSED_BY_META"
    assert not bulk.is_terminal


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("QUEUED", False),
        ("PROCESSING", False),
        ("COMPLETED", True),
        ("PARTIAL", True),
        ("FAILED", True),
        ("CANCELLED", True),
    ],
)
def test_terminal_statuses(status: str, terminal: bool) -> None:
    """COMPLETED, PARTIAL, FAILED and CANCELLED are terminal; QUEUED and PROCESSING are not."""
    assert BulkSendStatus(status).is_terminal is terminal


def test_unknown_keys_are_ignored() -> None:
    """A field the API adds later does not break parsing."""
    body = dict(_example("get", "200"), brand_new_field={"x": 1})
    assert converter.structure(body, BulkSend).id == "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"
