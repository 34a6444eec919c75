"""Writing ``--out``: one result per row, as JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ._results import RowResult
from ._rows import CampaignFileError, FileFormat

#: The fields of each ``--out`` line, in order (the CSV header).
OUT_FIELDS = ("line", "recipient_phone", "outcome", "message_id", "error", "recipient_e164")


class ResultWriter:
    """Writes ``--out``: JSON Lines (``.jsonl``, ``.ndjson``, ``.json``) or CSV (``.csv``)."""

    def __init__(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
            raise CampaignFileError(
                f"--out {path.name}: the results file must end in .jsonl or .csv"
            )
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
                    result.recipient_e164 or "",
                )
            )
        else:
            record = {
                "line": result.line,
                "recipient_phone": result.recipient_phone,
                "outcome": result.outcome,
                "message_id": result.message_id,
                "error": result.error,
                "recipient_e164": result.recipient_e164,
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
