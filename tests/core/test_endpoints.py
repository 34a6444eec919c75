"""The endpoint table: all eleven endpoints, the only place an API path is written."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

import mindo_async
from mindo_async._endpoints import ENDPOINTS, MESSAGE_STATUS, SEND, Casing, quote_path_param

PACKAGE = Path(mindo_async.__file__).parent


def test_the_table_lists_the_eleven_documented_endpoints() -> None:
    """Eleven endpoints, each (method, path) once, names unique, paths ending in ``/``."""
    assert len(ENDPOINTS) == 11
    assert len({(e.method, e.path) for e in ENDPOINTS}) == 11
    assert len({e.name for e in ENDPOINTS}) == 11
    assert all(e.path.startswith("/api/v1/") and e.path.endswith("/") for e in ENDPOINTS)


def test_only_the_two_posts_are_not_idempotent() -> None:
    """``send`` and ``send-bulk`` are the POSTs, and the only non-idempotent endpoints."""
    posts = {e.name for e in ENDPOINTS if e.method == "POST"}
    assert posts == {e.name for e in ENDPOINTS if not e.idempotent}
    assert posts == {"send", "bulk_sends.create"}


def test_casing_and_pagination_follow_the_reference() -> None:
    """camelCase for the account, contact and business endpoints; two paginated lists."""
    camel = {e.name for e in ENDPOINTS if e.casing is Casing.CAMEL}
    assert camel == {
        "business_accounts.get",
        "contacts.lookup",
        "business.info",
        "business.hours",
        "business.holidays",
    }
    assert {e.name for e in ENDPOINTS if e.paginated} == {
        "bulk_sends.list",
        "bulk_sends.messages",
    }


def test_no_api_path_is_written_outside_the_table() -> None:
    """No string literal in ``mindo_async/`` other than ``_endpoints.py`` holds ``/api/v1/``."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_endpoints.py" and path.parent == PACKAGE:
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline)
        for token in tokens:
            if token.type == tokenize.STRING and "/api/v1/" in token.string:
                offenders.append(f"{path.relative_to(PACKAGE)}:{token.start[0]}")
    assert offenders == []


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (
            "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA=",
            "wamid.HBgNNTQ5MTEyMzQ1Njc4FQIAERgSQjVBN0YzRjQ2NzFCNDVBNQA%3D",
        ),
        ("a/b+c", "a%2Fb%2Bc"),
        ("a b?#%", "a%20b%3F%23%25"),
        ("a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c", "a3f2b8c9-4d5e-6f7a-8b9c-0d1e2f3a4b5c"),
    ],
)
def test_path_parameters_are_percent_encoded_as_one_segment(value: str, encoded: str) -> None:
    """``=``, ``/``, ``+`` and other reserved characters are encoded; UUIDs stay as they are."""
    assert quote_path_param(value) == encoded


def test_format_path_fills_every_parameter() -> None:
    """``format_path`` puts the encoded id in its place and refuses missing or extra ones."""
    assert MESSAGE_STATUS.format_path({"message_id": "w/1"}) == (
        "/api/v1/meta-templates/messages/w%2F1/"
    )
    assert SEND.format_path() == SEND.path
    with pytest.raises(ValueError, match="message_id"):
        MESSAGE_STATUS.format_path({})
    with pytest.raises(ValueError):
        SEND.format_path({"message_id": "x"})


def test_an_empty_path_parameter_is_refused() -> None:
    """An empty id would address the list instead of one item: refused."""
    with pytest.raises(ValueError):
        quote_path_param("")
