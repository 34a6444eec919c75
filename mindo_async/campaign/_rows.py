"""Reading a campaign file: its format, its encoding, its header, and its rows.

A CSV or JSON Lines file becomes ``Row`` objects, each with its line number, the
``SendRequest`` it asks for and every problem of its own, read lazily. No
network and no terminal here (``_check.py`` checks the whole file, ``_run.py``
sends it).

The file format, in short (``docs/cli.md`` has it all):

- ``recipient_phone`` holds the recipient; ``phone_number_id``,
  ``template_name`` and ``language``, when present and not empty, override the
  command's flags for that row;
- ``button_0``, ``button_1``, ... are button variables;
- every other column (or key) is a template variable of the same name, named
  by the rule of ``_validation.variable_name_problem``. An empty cell (or a
  JSON ``null``) means "not given".

A file is refused as a whole (``CampaignFileError``) when it cannot be read as
rows: empty, binary, not UTF-8, no ``recipient_phone`` column, a header that
cannot name template variables.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Literal

import attrs

from .._models import SendRequest
from .._validation import BUTTON_KEY, request_problems, variable_name_problem

FileFormat = Literal["csv", "jsonl"]

#: The column holding each row's recipient.
RECIPIENT = "recipient_phone"
#: Columns that, when present and not empty, override the command's flags for their row.
ROW_SETTINGS = ("phone_number_id", "template_name", "language")
_RESERVED = frozenset((RECIPIENT, *ROW_SETTINGS))
_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_DELIMITERS = (",", ";", "\t")
_SNIFF_BYTES = 64 * 1024


class CampaignFileError(Exception):
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
    #: Read recipients written in national forms of this region (``--default-region``).
    default_region: str | None = None
    #: Columns (or JSON keys) of the file renamed: ``(("Telefono", "recipient_phone"),)``
    #: (``--phone-column``, ``--rename``).
    renames: tuple[tuple[str, str], ...] = ()

    def column(self, name: str) -> str:
        """The name ``name`` (a column of the file) stands for: a rename, else a
        reserved column matched whatever its case (``Recipient_Phone``, ``BUTTON_0``),
        else ``name`` itself (variable names keep their case)."""
        for source, target in self.renames:
            if name == source:
                return target
        lowered = name.lower()
        if lowered in _RESERVED or BUTTON_KEY.fullmatch(lowered):
            return lowered
        return name


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


def detect_format(path: Path, declared: str | None = None) -> FileFormat:
    """The file's format: ``declared`` if given, else by extension, else by its first byte."""
    if declared is not None:
        if declared not in ("csv", "jsonl"):
            raise CampaignFileError(f"unknown format {declared!r}: use csv or jsonl")
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
        raise CampaignFileError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CampaignFileError(f"{path} is a directory, not a CSV or JSON Lines file") from None
    except OSError as exc:
        raise CampaignFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    with file:
        head = file.read(8)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise CampaignFileError(
                "the file is UTF-16, not UTF-8: save it again as UTF-8 "
                "(in Excel: 'CSV UTF-8 (Comma delimited)')",
                line=1,
            )
        if head.startswith(b"PK\x03\x04"):
            raise CampaignFileError(
                "this is a binary file (it looks like an Excel .xlsx or a zip archive), "
                "not CSV or JSON Lines: export it as 'CSV UTF-8' first",
                line=1,
            )
        file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        blank = True
        for number, raw in enumerate(file, start=1):
            if b"\x00" in raw:
                raise CampaignFileError(
                    "this is a binary file (it contains NUL bytes), not CSV or JSON Lines "
                    "text: export the data as 'CSV UTF-8' or JSON Lines",
                    line=number,
                )
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.start + 1]
                raise CampaignFileError(
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
            raise CampaignFileError("the file ends in the middle of a UTF-8 character") from None
    if blank:
        raise CampaignFileError("the file is empty: it has no header and no rows")


def _pick_delimiter(header_line: str) -> str:
    counts = {delimiter: header_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _open_text(path: Path) -> IO[str]:
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte order mark.
    return path.open(encoding="utf-8-sig", newline="")


def csv_header(path: Path, defaults: RowDefaults | None = None) -> tuple[tuple[str, ...], str, int]:
    """The header of a CSV file (the names ``defaults.column`` gives its columns), its
    delimiter and the line it ends on."""
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
                names = tuple(cell.strip() for cell in cells)
                if defaults is not None:
                    names = tuple(defaults.column(name) if name else name for name in names)
                return names, delimiter, reader.line_num
    raise CampaignFileError("the file is empty: it has no header and no rows")


def check_header(
    columns: tuple[str, ...], *, line: int, defaults: RowDefaults, declared: frozenset[str] | None
) -> None:
    """Refuse a CSV header that cannot describe campaign rows, saying which column and why."""
    for position, name in enumerate(columns, start=1):
        if not name:
            raise CampaignFileError(
                f"column {position} of the header has no name: name it, or delete the column",
                line=line,
            )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise CampaignFileError(f"column {name!r} appears twice in the header", line=line)
        seen.add(name)
    if RECIPIENT not in columns:
        hint = _recipient_hint(columns)
        raise CampaignFileError(
            f"no {RECIPIENT!r} column (the columns are: {', '.join(map(repr, columns))}). "
            f"Name the column that holds the recipients {RECIPIENT!r}" + hint,
            line=line,
        )
    for name in columns:
        problem = column_problem(name, declared)
        if problem is not None:
            raise CampaignFileError(problem, line=line)
    if defaults.phone_number_id is None and "phone_number_id" not in columns:
        raise CampaignFileError(
            "no phone number id: pass --phone-number-id ID, or add a phone_number_id column"
        )
    if defaults.template_name is None and "template_name" not in columns:
        raise CampaignFileError("no template: pass --template NAME, or add a template_name column")


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


def column_problem(name: str, declared: frozenset[str] | None) -> str | None:
    """Why column (or key) ``name`` cannot be used, or ``None``."""
    if name in _RESERVED or BUTTON_KEY.fullmatch(name):
        return None
    if name.lower().startswith("button"):
        return (
            f"column {name!r} is not a button variable: button columns are named "
            "button_0, button_1, ... (the button's position, from 0)"
        )
    problem = variable_name_problem(name)
    if problem is not None:
        return (
            f"column {name!r} cannot be a template variable: {problem}. Rename it, or delete "
            "the column"
        )
    if declared is not None and name not in declared:
        return (
            f"unknown variable {name!r}: the template's variables (--variables) are "
            f"{', '.join(sorted(declared)) or 'none'}. Rename or delete the column, or fix "
            "--variables"
        )
    return None


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
    ``CampaignFileError`` when the header (CSV) cannot describe campaign rows.
    ``validate=False`` leaves out the checks of ``request_problems`` (the
    costly part: phone numbers), for rows already known to be valid.
    """
    rows = (
        _read_csv(path, defaults, declared)
        if file_format == "csv"
        else _read_jsonl(path, defaults, declared)
    )
    region = defaults.default_region
    return (validated(row, region) for row in rows) if validate else rows


def validated(row: Row, default_region: str | None = None) -> Row:
    """``row`` with the problems ``request_problems`` finds in its request added
    (recipients read in ``default_region`` when given)."""
    if row.request is None:
        return row
    found = [
        f"{field.split('.', 1)[1] if '.' in field else field}: {message}"
        for field, messages in request_problems(row.request, default_region).items()
        for message in messages
    ]
    if not found:
        return row
    return attrs.evolve(row, problems=tuple(dict.fromkeys((*row.problems, *found))))


def _read_csv(path: Path, defaults: RowDefaults, declared: frozenset[str] | None) -> Iterator[Row]:
    columns, delimiter, header_line = csv_header(path, defaults)
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
                    raise CampaignFileError(reason, line=line) from None
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
                if nested == "button_variables" and not BUTTON_KEY.fullmatch(name):
                    problems.append(
                        f"button_variables: {name!r} is not a button variable "
                        "(button_0, button_1, ...)"
                    )
                elif nested == "variables" and BUTTON_KEY.fullmatch(name):
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
        name = defaults.column(name)
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
        problem = column_problem(name, declared)
        if problem is not None:
            problems.append(problem.replace("column ", f"{where} ", 1))
        elif BUTTON_KEY.fullmatch(name):
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
