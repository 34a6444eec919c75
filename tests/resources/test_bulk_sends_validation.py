"""A bulk send is checked in full before any I/O, and its body is the documented one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mindo_async import BulkRecipient, BulkSendRequest, InvalidRequestError
from mindo_async._journal import IN_FLIGHT, SQLiteJournal
from mindo_async._models import Outcome
from mindo_async._validation import validate_bulk_send
from mindo_async.resources.bulk_sends import encode_bulk_send

REFERENCE = Path(__file__).parent.parent / "reference"


def _request(*recipients: BulkRecipient, **changes: str) -> BulkSendRequest:
    fields = {
        "phone_number_id": "813497231850626",
        "template_name": "welcome_message",
        "language": "es",
        **changes,
    }
    return BulkSendRequest(recipients=recipients, **fields)


def test_reference_request_encodes_to_the_documented_body() -> None:
    """The documented example request, encoded, is the documented JSON body."""
    example = json.loads((REFERENCE / "bulk_sends.create.json").read_text("utf-8"))["request"]
    request = _request(*(BulkRecipient(**item) for item in example["recipients"]))
    assert json.loads(encode_bulk_send(request)) == example


def test_reference_recipients_pass_the_send_rules_but_the_unassigned_number() -> None:
    """The example's first two numbers are valid; +5491199887766 is refused as send refuses it."""
    example = json.loads((REFERENCE / "bulk_sends.create.json").read_text("utf-8"))["request"]
    recipients = [BulkRecipient(**item) for item in example["recipients"]]
    ready, dropped = validate_bulk_send(_request(*recipients[:2]))
    assert dropped == 0
    assert json.loads(encode_bulk_send(ready))["recipients"] == example["recipients"][:2]
    with pytest.raises(InvalidRequestError) as caught:
        validate_bulk_send(_request(*recipients))
    assert list(caught.value.errors) == ["recipients[2].phone"]


def test_every_problem_is_reported_at_once_with_indexes() -> None:
    """Bad top-level fields and bad recipients are all named, recipients by index."""
    request = _request(
        BulkRecipient(phone="+5491112345678"),
        BulkRecipient(phone="5491187654321"),
        BulkRecipient(phone="+5491155551234", variables={"name": ""}),
        BulkRecipient(phone="+5491122223333", button_variables={"button_x": "A"}),
        template_name="Bad Name",
    )
    with pytest.raises(InvalidRequestError) as caught:
        validate_bulk_send(request)
    assert set(caught.value.errors) == {
        "template_name",
        "recipients[1].phone",
        "recipients[2].variables.name",
        "recipients[3].button_variables",
    }


def test_empty_recipients_are_refused() -> None:
    """A bulk send without recipients is refused before any I/O."""
    with pytest.raises(InvalidRequestError) as caught:
        validate_bulk_send(_request())
    assert "recipients" in caught.value.errors


def test_a_recipient_that_is_not_a_bulk_recipient_is_refused() -> None:
    """A plain dict in recipients is named by its index, not accepted silently."""
    request = BulkSendRequest(
        phone_number_id="813497231850626",
        template_name="welcome_message",
        recipients=[{"phone": "+5491112345678"}],  # type: ignore[list-item]
    )
    with pytest.raises(InvalidRequestError) as caught:
        validate_bulk_send(request)
    assert "recipients[0]" in caught.value.errors


def test_identical_repeats_are_sent_once_and_counted() -> None:
    """A phone repeated with the same variables (numbers as text) is kept once, and counted."""
    request = _request(
        BulkRecipient(phone="+5491112345678", variables={"name": "Ana", "code": 7}),
        BulkRecipient(phone="+5491187654321", variables={"name": "Bo"}),
        BulkRecipient(phone="+5491112345678", variables={"code": "7", "name": "Ana"}),
        BulkRecipient(phone="+5491112345678", variables={"name": "Ana", "code": "7"}),
    )
    ready, dropped = validate_bulk_send(request)
    assert dropped == 2
    assert [r.phone for r in ready.recipients] == ["+5491112345678", "+5491187654321"]
    assert ready.recipients[0].variables == {"name": "Ana", "code": "7"}


def test_repeats_with_different_variables_are_refused_naming_both_indexes() -> None:
    """A phone repeated with other variables is refused; the error names both indexes."""
    request = _request(
        BulkRecipient(phone="+5491112345678", variables={"name": "Ana"}),
        BulkRecipient(phone="+5491187654321"),
        BulkRecipient(phone="+5491112345678", variables={"name": "Anna"}),
    )
    with pytest.raises(InvalidRequestError) as caught:
        validate_bulk_send(request)
    messages = caught.value.errors["recipients[2].phone"]
    assert any("recipients[0]" in message for message in messages)
    assert "+5491112345678" not in str(caught.value)


def test_journal_batch_records_every_key_with_its_chunk(tmp_path: Path) -> None:
    """begin_batch puts every key in flight with the chunk; finish_batch records the bulk send."""
    journal = SQLiteJournal(tmp_path / "j.sqlite")
    journal.begin_batch(["a", "b"], "chunk-1")
    entry = journal.lookup("a")
    assert entry is not None
    assert (entry.state, entry.batch) == (IN_FLIGHT, "chunk-1")
    journal.finish_batch(["a", "b"], Outcome.SENT, message_id="bulk-9")
    done = journal.lookup("b")
    assert done is not None
    assert (done.state, done.message_id, done.batch) == ("sent", "bulk-9", "chunk-1")
    assert journal.counts() == {"sent": 2}
    journal.close()


def test_journal_written_before_batches_gains_the_column(tmp_path: Path) -> None:
    """A journal file without the batch column is upgraded and keeps its records."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE requests (key TEXT PRIMARY KEY, state TEXT NOT NULL, message_id TEXT,"
        " error TEXT, attempts INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL)"
    )
    db.execute("INSERT INTO requests VALUES ('k', 'sent', 'wamid.x', NULL, 1, 0)")
    db.commit()
    db.close()
    journal = SQLiteJournal(path)
    entry = journal.lookup("k")
    assert entry is not None
    assert (entry.state, entry.batch) == ("sent", None)
    journal.close()
