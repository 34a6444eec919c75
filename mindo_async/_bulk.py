"""Campaign files for ``mindo bulk``: rows in, one result per row out.

Reading a CSV or JSON Lines file into ``SendRequest`` objects with their line
numbers, checking every row before anything is sent, writing one result per
row, and counting what happened. No network and no terminal here: everything
is testable with a file and nothing else (``_commands.py`` does the sending and
the drawing).

The file format, in short (``docs/cli.md`` has it all):

- ``recipient_phone`` holds the recipient; ``phone_number_id``,
  ``template_name`` and ``language``, when present and not empty, override the
  command's flags for that row;
- ``button_0``, ``button_1``, ... are button variables;
- every other column (or key) is a template variable of the same name. An
  empty cell (or a JSON ``null``) means "not given".

A file is refused as a whole (``BulkFileError``) when it cannot be read as
rows: empty, binary, not UTF-8, no ``recipient_phone`` column, a header that
cannot name template variables. Otherwise each row gets its own problems, and
rows of the same template must name the same variables (see ``check_file``).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Literal

import attrs

from ._journal import IN_FLIGHT, JournalEntry, request_digest, request_key
from ._models import Outcome, SendRequest, SendResult
from ._validation import request_problems

FileFormat = Literal["csv", "jsonl"]

#: The column holding each row's recipient.
RECIPIENT = "recipient_phone"
#: Columns that, when present and not empty, override the command's flags for their row.
ROW_SETTINGS = ("phone_number_id", "template_name", "language")
_RESERVED = frozenset((RECIPIENT, *ROW_SETTINGS))
_BUTTON = re.compile(r"button_(?:0|[1-9][0-9]{0,2})")
# Meta's rule for named template parameters: lowercase letters, digits, underscores
# (positional templates use "1", "2", ...).
_VARIABLE_NAME = re.compile(r"[a-z0-9_]+")
_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_DELIMITERS = (",", ";", "\t")
#: How many problem rows a check keeps to show; the rest are only counted.
MAX_REPORTED = 200
_SNIFF_BYTES = 64 * 1024


class BulkFileError(Exception):
    """The file cannot be read as campaign rows at all; nothing was sent.

    ``line`` is the line the problem is on, when there is one.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@attrs.frozen
class RowDefaults:
    """What the command's flags give every row that does not say otherwise."""

    phone_number_id: str | None = None
    template_name: str | None = None
    language: str = "es"


@attrs.frozen
class Row:
    """One data row of the file: where it is, what it asks for, and what is wrong with it."""

    #: Position among the data rows, from 0 (the header is not a data row).
    ordinal: int
    #: The line of the file the row starts on, from 1.
    line: int
    #: The recipient as written in the file ("" when missing).
    recipient: str
    #: The request, when the row could be built into one (it may still have problems).
    request: SendRequest | None
    #: Every problem of the row, as "field: what is wrong"; empty when it can be sent.
    problems: tuple[str, ...] = ()
    #: ``(template_name, language)`` and the variable names the row fills, for the
    #: check that rows of one template agree; ``None`` when the row names no template.
    signature: tuple[tuple[str, str], frozenset[str]] | None = None

    @property
    def ok(self) -> bool:
        """Whether the row can be sent."""
        return not self.problems and self.request is not None


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


# -- reading -----------------------------------------------------------------------


def detect_format(path: Path, declared: str | None = None) -> FileFormat:
    """The file's format: ``declared`` if given, else by extension, else by its first byte."""
    if declared is not None:
        if declared not in ("csv", "jsonl"):
            raise BulkFileError(f"unknown format {declared!r}: use csv or jsonl")
        return "jsonl" if declared == "jsonl" else "csv"
    by_suffix = _SUFFIXES.get(path.suffix.lower())
    if by_suffix is not None:
        return by_suffix
    with path.open("rb") as file:
        head = file.read(_SNIFF_BYTES).lstrip(codecs.BOM_UTF8).lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"


def check_encoding(path: Path) -> None:
    """Refuse, with the line number, a file that is empty, binary or not UTF-8.

    Reads the file once in binary; its memory use does not grow with the file.
    """
    try:
        file = path.open("rb")
    except FileNotFoundError:
        raise BulkFileError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise BulkFileError(f"{path} is a directory, not a CSV or JSON Lines file") from None
    except OSError as exc:
        raise BulkFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    with file:
        head = file.read(8)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise BulkFileError(
                "the file is UTF-16, not UTF-8: save it again as UTF-8 "
                "(in Excel: 'CSV UTF-8 (Comma delimited)')",
                line=1,
            )
        if head.startswith(b"PK\x03\x04"):
            raise BulkFileError(
                "this is a binary file (it looks like an Excel .xlsx or a zip archive), "
                "not CSV or JSON Lines: export it as 'CSV UTF-8' first",
                line=1,
            )
        file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        blank = True
        for number, raw in enumerate(file, start=1):
            if b"\x00" in raw:
                raise BulkFileError(
                    "this is a binary file (it contains NUL bytes), not CSV or JSON Lines "
                    "text: export the data as 'CSV UTF-8' or JSON Lines",
                    line=number,
                )
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.start + 1]
                raise BulkFileError(
                    f"not valid UTF-8 (byte 0x{bad.hex()} at column {exc.start + 1}); the "
                    "file seems to be in another encoding, such as Latin-1 or Windows-1252: "
                    "save it again as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)')",
                    line=number,
                ) from None
            if blank and raw.strip(b" \t\r\n\xef\xbb\xbf"):
                blank = False
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise BulkFileError("the file ends in the middle of a UTF-8 character") from None
    if blank:
        raise BulkFileError("the file is empty: it has no header and no rows")


def _pick_delimiter(header_line: str) -> str:
    counts = {delimiter: header_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _open_text(path: Path) -> IO[str]:
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte order mark.
    return path.open(encoding="utf-8-sig", newline="")


def csv_header(path: Path) -> tuple[tuple[str, ...], str, int]:
    """The header of a CSV file, its delimiter and the line it ends on."""
    with _open_text(path) as text:
        first = ""
        for first in text:
            if first.strip():
                break
        delimiter = _pick_delimiter(first)
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        for cells in reader:
            if any(cell.strip() for cell in cells):
                return tuple(cell.strip() for cell in cells), delimiter, reader.line_num
    raise BulkFileError("the file is empty: it has no header and no rows")


def check_header(
    columns: tuple[str, ...], *, line: int, defaults: RowDefaults, declared: frozenset[str] | None
) -> None:
    """Refuse a CSV header that cannot describe campaign rows, saying which column and why."""
    for position, name in enumerate(columns, start=1):
        if not name:
            raise BulkFileError(
                f"column {position} of the header has no name: name it, or delete the column",
                line=line,
            )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise BulkFileError(f"column {name!r} appears twice in the header", line=line)
        seen.add(name)
    if RECIPIENT not in columns:
        hint = _recipient_hint(columns)
        raise BulkFileError(
            f"no {RECIPIENT!r} column (the columns are: {', '.join(map(repr, columns))}). "
            f"Name the column that holds the recipients {RECIPIENT!r}" + hint,
            line=line,
        )
    for name in columns:
        problem = _column_problem(name, declared)
        if problem is not None:
            raise BulkFileError(problem, line=line)
    if defaults.phone_number_id is None and "phone_number_id" not in columns:
        raise BulkFileError(
            "no phone number id: pass --phone-number-id ID, or add a phone_number_id column"
        )
    if defaults.template_name is None and "template_name" not in columns:
        raise BulkFileError("no template: pass --template NAME, or add a template_name column")


def _recipient_hint(names: tuple[str, ...] | list[str]) -> str:
    for name in names:
        squashed = re.sub(r"[^a-z]", "", name.lower())
        if squashed in (
            "recipientphone",
            "recipient",
            "phone",
            "phonenumber",
            "to",
            "telefono",
            "celular",
            "mobile",
            "number",
            "whatsapp",
        ):
            return f" (rename {name!r}?)"
    return ""


def _column_problem(name: str, declared: frozenset[str] | None) -> str | None:
    """Why column (or key) ``name`` cannot be used, or ``None``."""
    if name in _RESERVED or _BUTTON.fullmatch(name):
        return None
    if name.lower().startswith("button"):
        return (
            f"column {name!r} is not a button variable: button columns are named "
            "button_0, button_1, ... (the button's position, from 0)"
        )
    if _VARIABLE_NAME.fullmatch(name) is None:
        hint = f" (did you mean {_as_variable_name(name)!r}?)" if _as_variable_name(name) else ""
        return (
            f"column {name!r} cannot be a template variable: variable names are lowercase "
            f"letters, digits and underscores{hint}. Rename it, or delete the column"
        )
    if declared is not None and name not in declared:
        return (
            f"unknown variable {name!r}: the template's variables (--variables) are "
            f"{', '.join(sorted(declared)) or 'none'}. Rename or delete the column, or fix "
            "--variables"
        )
    return None


def _as_variable_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")


def read_rows(
    path: Path,
    *,
    file_format: FileFormat,
    defaults: RowDefaults,
    declared: frozenset[str] | None = None,
    validate: bool = True,
) -> Iterator[Row]:
    """Every data row of the file with its own problems, in file order, read lazily.

    Call ``check_encoding`` first: this assumes the file is UTF-8 text. Raises
    ``BulkFileError`` when the header (CSV) cannot describe campaign rows.
    ``validate=False`` leaves out the checks of ``request_problems`` (the
    costly part: phone numbers), for rows already known to be valid.
    """
    rows = (
        _read_csv(path, defaults, declared)
        if file_format == "csv"
        else _read_jsonl(path, defaults, declared)
    )
    return (validated(row) for row in rows) if validate else rows


def validated(row: Row) -> Row:
    """``row`` with the problems ``request_problems`` finds in its request added."""
    if row.request is None:
        return row
    found = [
        f"{field.split('.', 1)[1] if '.' in field else field}: {message}"
        for field, messages in request_problems(row.request).items()
        for message in messages
    ]
    if not found:
        return row
    return attrs.evolve(row, problems=tuple(dict.fromkeys((*row.problems, *found))))


def _read_csv(path: Path, defaults: RowDefaults, declared: frozenset[str] | None) -> Iterator[Row]:
    columns, delimiter, header_line = csv_header(path)
    check_header(columns, line=header_line, defaults=defaults, declared=declared)
    with _open_text(path) as text:
        reader = csv.reader(text, delimiter=delimiter)
        previous_line = 0
        ordinal = 0
        header_seen = False
        for cells in reader:
            line = previous_line + 1
            previous_line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, and lines of empty cells (",,,") are not rows
            if not header_seen:
                header_seen = True
                continue
            if len(cells) != len(columns):
                yield Row(
                    ordinal=ordinal,
                    line=line,
                    recipient=_cell(cells, columns, RECIPIENT),
                    request=None,
                    problems=(
                        f"the row has {len(cells)} values but the header has {len(columns)} "
                        f"columns (a value with a {_delimiter_name(delimiter)} in it must be "
                        "in double quotes)",
                    ),
                )
            else:
                fields = {
                    name: value.strip()
                    for name, value in zip(columns, cells, strict=True)
                    if value.strip()
                }
                yield _build_row(ordinal, line, fields, defaults, declared, "csv")
            ordinal += 1


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]


def _cell(cells: list[str], columns: tuple[str, ...], name: str) -> str:
    index = columns.index(name)
    return cells[index].strip() if index < len(cells) else ""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value here")


def _read_jsonl(
    path: Path, defaults: RowDefaults, declared: frozenset[str] | None
) -> Iterator[Row]:
    with _open_text(path) as text:
        ordinal = 0
        for line, raw in enumerate(text, start=1):
            if not raw.strip():
                continue
            try:
                # Numbers stay as written ("007", "1.50"): they are sent as text anyway.
                value = json.loads(
                    raw, parse_int=str, parse_float=str, parse_constant=_no_constants
                )
            except ValueError as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                where = f" (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
                if line == 1 and raw.lstrip().startswith("["):
                    reason = (
                        "a JSON array is not JSON Lines: write one JSON object per line, "
                        'e.g. {"recipient_phone": "+5491112345678", "name": "Juan"}'
                    )
                    raise BulkFileError(reason, line=line) from None
                yield Row(ordinal, line, "", None, (f"not valid JSON: {reason}{where}",))
            else:
                if not isinstance(value, dict):
                    yield Row(
                        ordinal,
                        line,
                        "",
                        None,
                        (f"each line must be a JSON object {{...}}, not {_json_kind(value)}",),
                    )
                else:
                    yield _jsonl_row(ordinal, line, value, defaults, declared)
            ordinal += 1


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return type(value).__name__


def _jsonl_row(
    ordinal: int,
    line: int,
    value: dict[str, Any],
    defaults: RowDefaults,
    declared: frozenset[str] | None,
) -> Row:
    fields: dict[str, Any] = {}
    problems: list[str] = []
    # The request body's own shape is accepted too: nested "variables" and
    # "button_variables" objects, next to (or instead of) flat keys.
    for nested in ("variables", "button_variables"):
        inner = value.get(nested)
        if isinstance(inner, dict):
            for name, item in inner.items():
                if nested == "button_variables" and not _BUTTON.fullmatch(name):
                    problems.append(
                        f"button_variables: {name!r} is not a button variable "
                        "(button_0, button_1, ...)"
                    )
                elif nested == "variables" and _BUTTON.fullmatch(name):
                    problems.append(
                        f"variables: {name!r} is a button variable; put it in button_variables"
                    )
                elif name in value:
                    problems.append(f"{name}: given both as a key and inside {nested}")
                elif item is not None:
                    fields[name] = item
    for name, item in value.items():
        if name in ("variables", "button_variables") and isinstance(item, dict):
            continue
        if item is None or (isinstance(item, str) and not item.strip()):
            continue
        fields[name] = item.strip() if isinstance(item, str) else item
    row = _build_row(ordinal, line, fields, defaults, declared, "jsonl")
    if problems:
        return attrs.evolve(row, problems=(*problems, *row.problems))
    return row


def _build_row(
    ordinal: int,
    line: int,
    fields: Mapping[str, Any],
    defaults: RowDefaults,
    declared: frozenset[str] | None,
    file_format: FileFormat,
) -> Row:
    """A row from its non-empty fields: the request it asks for, and all its problems."""
    problems: list[str] = []
    where = "column" if file_format == "csv" else "key"

    def text(name: str, default: str | None) -> str | None:
        value = fields.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str):
            problems.append(f"{name}: must be text, not {_json_kind(value)}")
            return None
        return value

    recipient_value = fields.get(RECIPIENT)
    if recipient_value is None:
        problems.append(f"{RECIPIENT}: missing (every row needs a recipient)")
    recipient = text(RECIPIENT, None)
    phone_number_id = text("phone_number_id", defaults.phone_number_id)
    if phone_number_id is None and "phone_number_id" not in fields:
        problems.append(
            "phone_number_id: missing: fill it in, or pass --phone-number-id for the rows "
            "that leave it empty"
        )
    template_name = text("template_name", defaults.template_name)
    if template_name is None and "template_name" not in fields:
        problems.append(
            "template_name: missing: fill it in, or pass --template for the rows that "
            "leave it empty"
        )
    language = text("language", defaults.language) or defaults.language

    variables: dict[str, Any] = {}
    buttons: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _RESERVED:
            continue
        problem = _column_problem(name, declared)
        if problem is not None:
            problems.append(problem.replace("column ", f"{where} ", 1))
        elif _BUTTON.fullmatch(name):
            buttons[name] = value
        else:
            variables[name] = value
    if declared is not None:
        missing = sorted(declared - variables.keys())
        if missing:
            problems.append(
                f"missing variable(s) {', '.join(map(repr, missing))}: --variables says the "
                "template takes them; fill them in"
            )

    request: SendRequest | None = None
    if phone_number_id is not None and template_name is not None and recipient is not None:
        request = SendRequest(
            phone_number_id=phone_number_id,
            template_name=template_name,
            recipient_phone=recipient,
            language=language,
            variables=variables or None,
            button_variables=buttons or None,
        )
    signature = None
    if template_name is not None:
        # With --variables, the variables were checked above: only buttons are left.
        names = (
            frozenset(buttons)
            if declared is not None
            else frozenset(variables) | frozenset(buttons)
        )
        signature = ((template_name, language), names)
    return Row(
        ordinal=ordinal,
        line=line,
        recipient=recipient if recipient is not None else "",
        request=request,
        problems=tuple(dict.fromkeys(problems)),
        signature=signature,
    )


# -- checking the whole file -------------------------------------------------------


def check_file(
    path: Path,
    *,
    file_format: FileFormat | None = None,
    defaults: RowDefaults,
    declared: frozenset[str] | None = None,
) -> FileCheck:
    """Read the whole file and find every problem, before anything is sent.

    Raises ``BulkFileError`` when the file cannot be read as rows at all.
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
        columns, delimiter, _ = csv_header(path)
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
            short = int.from_bytes(request_digest(request)[:8], "big")
            first = first_line_of.setdefault(short, row.line)
            if first != row.line:
                duplicate_rows.append(row.ordinal)
                duplicate_of.append(first)
        else:
            row_campaigns.append(-1)
    check.rows = len(lines)
    if check.rows == 0:
        raise BulkFileError(
            "the file has a header but no rows"
            if fmt == "csv"
            else "the file has no rows (no JSON objects)"
        )
    if not_json == check.rows:
        raise BulkFileError(
            "no line of the file is JSON: if it is a CSV file, give it a .csv name or pass "
            "--format csv"
        )
    if without_recipient == check.rows:
        raise BulkFileError(
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
        row = validated(row)
        if row.signature is not None:
            problem = variables_problem(*row.signature, check.expected, check.format)
            if problem is not None:
                row = attrs.evolve(row, problems=(*row.problems, problem))
        if not row.problems:
            # Valid after all: only possible if the file changed since the check.
            row = attrs.evolve(row, problems=("the row changed since the file was checked",))
        yield row


# -- results -----------------------------------------------------------------------


@attrs.frozen
class RowResult:
    """One line of ``--out``: what happened to one input row."""

    line: int
    recipient_phone: str
    #: ``sent``, ``rejected``, ``unknown`` or ``skipped``.
    outcome: str
    message_id: str | None = None
    error: str | None = None
    #: Why it counts as it does in the summary (not written to ``--out``): one of
    #: ``RESULT_KINDS``.
    kind: str = "sent"


#: How each row ended, finer than the four outcomes.
RESULT_KINDS = (
    "sent",  # sent by this run
    "already_sent",  # skipped: the journal says an earlier run sent it
    "duplicate_sent",  # skipped: an identical earlier row of this file was sent
    "rejected",  # refused by the API, or it never reached the API
    "invalid",  # refused before sending: the row has problems (--skip-invalid)
    "unknown",  # may have been delivered (this run)
    "already_unknown",  # skipped: an earlier run left it unknown (or in flight)
    "not_attempted",  # skipped: a breaker tripped, a duplicate of an unsent row, or interrupted
)

OUT_FIELDS = ("line", "recipient_phone", "outcome", "message_id", "error")

JournalLookup = Callable[[SendRequest], "JournalEntry | None"]


def _describe_error(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return f"{type(error).__name__}: {error}"


def result_row(line: int, result: SendResult, lookup: JournalLookup) -> RowResult:
    """The ``--out`` line of a row sent through the fan-out.

    ``lookup`` reads the journal, which knows what an earlier run (or an
    identical earlier row) did: call it only once every earlier row has its
    result, so that a duplicate's original is final.
    """
    from ._errors import AlreadyProcessedError, DuplicateRequestError

    request = result.request
    outcome = result.outcome
    recipient = request.recipient_phone
    if outcome is Outcome.SENT:
        assert result.message is not None
        return RowResult(line, recipient, "sent", result.message.message_id, None, "sent")
    if outcome is Outcome.REJECTED:
        return RowResult(
            line, recipient, "rejected", None, _describe_error(result.error), "rejected"
        )
    if outcome is Outcome.UNKNOWN:
        return RowResult(
            line,
            recipient,
            "unknown",
            None,
            _describe_error(result.error) or "may have been delivered",
            "unknown",
        )
    error = result.error
    if isinstance(error, (AlreadyProcessedError, DuplicateRequestError)):
        entry = lookup(request)
        earlier = (
            "an earlier run"
            if isinstance(error, AlreadyProcessedError)
            else ("an identical earlier row of this file")
        )
        if entry is not None and entry.state == Outcome.SENT.value:
            kind = "already_sent" if isinstance(error, AlreadyProcessedError) else "duplicate_sent"
            return RowResult(
                line, recipient, "skipped", entry.message_id, f"already sent by {earlier}", kind
            )
        if entry is not None and entry.state in (Outcome.UNKNOWN.value, IN_FLIGHT):
            return RowResult(
                line,
                recipient,
                "skipped",
                None,
                f"not sent again: {earlier} left it unknown (it may have been delivered); "
                "rerun with --retry-unknown only once you know it was not",
                "already_unknown",
            )
        state = entry.state if entry is not None else "not sent"
        return RowResult(
            line,
            recipient,
            "skipped",
            None,
            f"not attempted: identical to {earlier}, which was {state}",
            "not_attempted",
        )
    return RowResult(
        line, recipient, "skipped", None, result.reason or _describe_error(error), "not_attempted"
    )


def invalid_row(row: Row) -> RowResult:
    """The ``--out`` line of a row refused before sending (``--skip-invalid``)."""
    return RowResult(
        row.line,
        row.recipient,
        "rejected",
        None,
        "invalid row, not sent: " + "; ".join(row.problems),
        "invalid",
    )


def interrupted_row(row: Row, entry: JournalEntry | None) -> RowResult:
    """The ``--out`` line of a row that has no result because the run was interrupted."""
    if entry is not None and entry.state in (Outcome.UNKNOWN.value, IN_FLIGHT):
        return RowResult(
            row.line,
            row.recipient,
            "unknown",
            None,
            "interrupted while in flight: it may have been delivered",
            "unknown",
        )
    if entry is not None and entry.state == Outcome.SENT.value:
        # An earlier run, or an identical earlier row, sent it.
        return RowResult(
            row.line,
            row.recipient,
            "skipped",
            entry.message_id,
            "already sent (the journal has it)",
            "already_sent",
        )
    return RowResult(
        row.line,
        row.recipient,
        "skipped",
        None,
        "not attempted: the run was interrupted; rerun the same command to send it",
        "not_attempted",
    )


@attrs.define
class Tally:
    """Counts of what happened to the rows of one run, and the exit status they call for."""

    rows: int = 0
    kinds: Counter[str] = attrs.Factory(Counter)
    interrupted: bool = False
    #: The API refused the key (401): a configuration error, not a per-row one.
    auth_error: str | None = None

    def add(self, result: RowResult) -> None:
        self.kinds[result.kind] += 1

    @property
    def counted(self) -> int:
        """Rows that have a result."""
        return sum(self.kinds.values())

    def outcome(self, outcome: str) -> int:
        """Rows whose ``--out`` outcome is ``outcome``."""
        members = {
            "sent": ("sent",),
            "rejected": ("rejected", "invalid"),
            "unknown": ("unknown",),
            "skipped": ("already_sent", "duplicate_sent", "already_unknown", "not_attempted"),
        }[outcome]
        return sum(self.kinds[kind] for kind in members)

    @property
    def done(self) -> int:
        """Rows whose message went out exactly once: now, earlier, or through an identical row."""
        return self.kinds["sent"] + self.kinds["already_sent"] + self.kinds["duplicate_sent"]

    @property
    def exit_code(self) -> int:
        """0 when every row's message was sent, 130 when interrupted, else 1."""
        if self.interrupted:
            return 130
        return 0 if self.done == self.rows else 1


# -- writing -----------------------------------------------------------------------


class ResultWriter:
    """Writes ``--out``: JSON Lines (``.jsonl``, ``.ndjson``, ``.json``) or CSV (``.csv``)."""

    def __init__(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
            raise BulkFileError(f"--out {path.name}: the results file must end in .jsonl or .csv")
        self.path = path
        self.format: FileFormat = "csv" if suffix == ".csv" else "jsonl"
        self._file = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file) if self.format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(OUT_FIELDS)
        self._since_flush = 0

    def write(self, result: RowResult) -> None:
        """Write one row's result."""
        if self._csv is not None:
            self._csv.writerow(
                (
                    result.line,
                    result.recipient_phone,
                    result.outcome,
                    result.message_id or "",
                    result.error or "",
                )
            )
        else:
            record = {
                "line": result.line,
                "recipient_phone": result.recipient_phone,
                "outcome": result.outcome,
                "message_id": result.message_id,
                "error": result.error,
            }
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._since_flush += 1
        if self._since_flush >= 256:
            self.flush()

    def flush(self) -> None:
        self._file.flush()
        self._since_flush = 0

    def close(self) -> None:
        self._file.close()


class InOrder:
    """Hands results to ``emit`` in row order, whatever order they arrive in.

    Results arrive in completion order; a result waits here only until every
    earlier row has its own, so this holds about as many as are in flight.
    """

    def __init__(self, emit: Callable[[int, Any], None]) -> None:
        self._emit = emit
        self._waiting: dict[int, Any] = {}
        #: The ordinal of the next row to emit: every row before it was emitted.
        self.next = 0

    def put(self, ordinal: int, item: Any) -> None:
        """Add the result of row ``ordinal``, and emit every row that is now next."""
        self._waiting[ordinal] = item
        while self.next in self._waiting:
            self._emit(self.next, self._waiting.pop(self.next))
            self.next += 1

    def has(self, ordinal: int) -> bool:
        """Whether row ``ordinal`` has its result (emitted or waiting)."""
        return ordinal < self.next or ordinal in self._waiting

    def drain(self) -> None:
        """Emit whatever waits, in order, leaving gaps (after an interruption)."""
        for ordinal in sorted(self._waiting):
            self._emit(ordinal, self._waiting.pop(ordinal))


def journal_key(request: SendRequest) -> str:
    """The key the fan-out's journal gives ``request`` (its default key)."""
    from ._validation import validate_request

    return request_key(validate_request(request))
