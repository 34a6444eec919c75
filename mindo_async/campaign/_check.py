"""Checking a whole campaign file before anything is sent, and reading it again to send.

``check_file`` reads every row once and keeps a few bytes per row: which rows
cannot be sent, the first ``MAX_REPORTED`` problems, repeats of an earlier row,
and the variables each template is taken to have (rows of one template must
fill the same ones). ``checked_rows`` then reads the rows again, lazily, with
what the check found.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

from .._journal import request_digest
from .._validation import validate_request
from ._rows import (
    RECIPIENT,
    CampaignFileError,
    FileFormat,
    Row,
    RowDefaults,
    check_encoding,
    csv_header,
    detect_format,
    read_rows,
    validated,
)

#: How many problem rows a check keeps to show; the rest are only counted.
MAX_REPORTED = 200


@attrs.define
class FileCheck:
    """What reading the whole file found, before anything is sent."""

    path: Path
    format: FileFormat
    #: The CSV delimiter in use (``None`` for JSON Lines).
    delimiter: str | None = None
    #: The CSV header (``None`` for JSON Lines).
    columns: tuple[str, ...] | None = None
    rows: int = 0
    #: Rows that cannot be sent.
    invalid: int = 0
    #: ``(line, problems)`` of the first ``MAX_REPORTED`` invalid rows, in line order.
    problems: list[tuple[int, tuple[str, ...]]] = attrs.Factory(list)
    #: Valid rows identical to an earlier valid row (they are sent once).
    duplicates: int = 0
    #: ``(line, line of the first identical row)`` of the first few duplicates.
    duplicate_lines: list[tuple[int, int]] = attrs.Factory(list)
    #: The variable names expected of each ``(template_name, language)``.
    expected: dict[tuple[str, str], frozenset[str]] = attrs.Factory(dict)
    #: Valid rows per ``(phone_number_id, template_name, language)``.
    campaigns: Counter[tuple[str, str, str]] = attrs.Factory(Counter)
    #: The variable names given with ``--variables``, if any.
    declared: frozenset[str] | None = None
    #: One byte per row: 1 when the row cannot be sent.
    invalid_rows: bytearray = attrs.Factory(bytearray)

    @property
    def valid(self) -> int:
        """Rows that can be sent."""
        return self.rows - self.invalid


def check_file(
    path: Path,
    *,
    file_format: FileFormat | None = None,
    defaults: RowDefaults,
    declared: frozenset[str] | None = None,
) -> FileCheck:
    """Read the whole file and find every problem, before anything is sent.

    Raises ``CampaignFileError`` when the file cannot be read as rows at all.
    Besides each row's own problems, rows of one template must fill the same
    variables: when the template's variables are not declared (``declared``),
    the set most rows of that template fill is taken as the template's, and a
    row that fills a different set has unknown or missing variables. Memory:
    a few bytes per row, plus the first ``MAX_REPORTED`` problems.
    """
    check_encoding(path)
    fmt = file_format or detect_format(path)
    check = FileCheck(path=path, format=fmt, declared=declared)
    if fmt == "csv":
        columns, delimiter, _ = csv_header(path, defaults)
        check.columns, check.delimiter = columns, delimiter

    lines = array("q")
    invalid = bytearray()
    signature_ids: dict[tuple[tuple[str, str], frozenset[str]], int] = {}
    row_signatures = array("q")
    campaign_ids: dict[tuple[str, str, str], int] = {}
    row_campaigns = array("q")
    first_line_of: dict[int, int] = {}
    duplicate_rows = array("q")
    duplicate_of = array("q")
    row_problems: dict[int, tuple[str, ...]] = {}
    without_recipient = 0
    not_json = 0

    for row in read_rows(path, file_format=fmt, defaults=defaults, declared=declared):
        lines.append(row.line)
        if any(problem.startswith(f"{RECIPIENT}: missing") for problem in row.problems):
            without_recipient += 1
        elif row.request is None and any(p.startswith("not valid JSON") for p in row.problems):
            not_json += 1
        invalid.append(0 if row.ok else 1)
        if not row.ok and len(row_problems) < MAX_REPORTED:
            row_problems[row.ordinal] = row.problems
        signature = row.signature
        if signature is None:
            row_signatures.append(-1)
        else:
            row_signatures.append(signature_ids.setdefault(signature, len(signature_ids)))
        request = row.request
        if row.ok and request is not None:
            campaign = (request.phone_number_id, request.template_name, request.language)
            row_campaigns.append(campaign_ids.setdefault(campaign, len(campaign_ids)))
            if defaults.default_region is not None:
                # Deduplicated as sent: two ways of writing one number are one row.
                request = validate_request(request, defaults.default_region)
            short = int.from_bytes(request_digest(request)[:8], "big")
            first = first_line_of.setdefault(short, row.line)
            if first != row.line:
                duplicate_rows.append(row.ordinal)
                duplicate_of.append(first)
        else:
            row_campaigns.append(-1)
    check.rows = len(lines)
    if check.rows == 0:
        raise CampaignFileError(
            "the file has a header but no rows"
            if fmt == "csv"
            else "the file has no rows (no JSON objects)"
        )
    if not_json == check.rows:
        raise CampaignFileError(
            "no line of the file is JSON: if it is a CSV file, give it a .csv name or pass "
            "--format csv"
        )
    if without_recipient == check.rows:
        raise CampaignFileError(
            f"no row has a {RECIPIENT!r} key: every row needs one with the recipient, "
            'e.g. {"recipient_phone": "+5491112345678", "name": "Juan"}'
        )

    # Rows of one template must agree on their variables.
    check.expected = _expected_variables(signature_ids, row_signatures)
    by_id = {number: signature for signature, number in signature_ids.items()}
    last_kept = max(row_problems, default=-1)
    for ordinal, signature_id in enumerate(row_signatures):
        if signature_id < 0:
            continue
        key, names = by_id[signature_id]
        problem = variables_problem(key, names, check.expected, fmt)
        if problem is None:
            continue
        invalid[ordinal] = 1
        if ordinal in row_problems:
            row_problems[ordinal] = (*row_problems[ordinal], problem)
        elif len(row_problems) < MAX_REPORTED or ordinal < last_kept:
            row_problems[ordinal] = (problem,)

    check.invalid = invalid.count(1)
    check.invalid_rows = invalid
    ordered = sorted(row_problems.items())[:MAX_REPORTED]
    check.problems = [(lines[ordinal], problems) for ordinal, problems in ordered]
    for ordinal, first in zip(duplicate_rows, duplicate_of, strict=True):
        if not invalid[ordinal]:
            check.duplicates += 1
            if len(check.duplicate_lines) < 20:
                check.duplicate_lines.append((lines[ordinal], first))
    campaigns_by_id = {number: campaign for campaign, number in campaign_ids.items()}
    check.campaigns = Counter(
        campaigns_by_id[number]
        for ordinal, number in enumerate(row_campaigns)
        if number >= 0 and not invalid[ordinal]
    )
    return check


def _expected_variables(
    signature_ids: dict[tuple[tuple[str, str], frozenset[str]], int],
    row_signatures: array[int],
) -> dict[tuple[str, str], frozenset[str]]:
    """The variable names each ``(template_name, language)`` is taken to have."""
    uses = Counter(number for number in row_signatures if number >= 0)
    best: dict[tuple[str, str], tuple[int, int, int]] = {}
    chosen: dict[tuple[str, str], frozenset[str]] = {}
    for (key, names), number in signature_ids.items():
        # Most rows first; on a tie the larger set (a forgotten cell is likelier
        # than an invented one), then the one seen first.
        rank = (uses[number], len(names), -number)
        if key not in best or rank > best[key]:
            best[key] = rank
            chosen[key] = names
    return chosen


def variables_problem(
    key: tuple[str, str],
    names: frozenset[str],
    expected: Mapping[tuple[str, str], frozenset[str]],
    file_format: FileFormat = "csv",
) -> str | None:
    """Why a row of template ``key`` that fills ``names`` disagrees with the others, or ``None``."""
    wanted = expected.get(key)
    if wanted is None or names == wanted:
        return None
    unknown = sorted(names - wanted)
    missing = sorted(wanted - names)
    parts = []
    if unknown:
        parts.append(f"unknown variable(s) {', '.join(map(repr, unknown))}")
    if missing:
        empty = "missing or empty" if file_format == "csv" else "missing"
        parts.append(f"{empty}: {', '.join(map(repr, missing))}")
    template, language = key
    return (
        f"variables: {'; '.join(parts)}: the other rows for template {template!r} "
        f"({language}) use {', '.join(map(repr, sorted(wanted))) or 'no variables'}. Every row "
        "of a template must fill the same variables"
    )


def checked_rows(
    check: FileCheck, *, defaults: RowDefaults, declared: frozenset[str] | None = None
) -> Iterator[Row]:
    """The rows again, lazily, each with every problem ``check_file`` found in it.

    Rows the check found valid are not validated again (the fan-out validates
    each request anyway before sending it).
    """
    rows = read_rows(
        check.path, file_format=check.format, defaults=defaults, declared=declared, validate=False
    )
    flags = check.invalid_rows
    for row in rows:
        flagged = row.ordinal >= len(flags) or flags[row.ordinal]
        if not flagged and not row.problems:
            yield row
            continue
        row = validated(row, defaults.default_region)
        if row.signature is not None:
            problem = variables_problem(*row.signature, check.expected, check.format)
            if problem is not None:
                row = attrs.evolve(row, problems=(*row.problems, problem))
        if not row.problems:
            # Valid after all: only possible if the file changed since the check.
            row = attrs.evolve(row, problems=("the row changed since the file was checked",))
        yield row
