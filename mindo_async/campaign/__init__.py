"""The campaign engine behind ``mindo bulk``: a file of rows in, one message per row out.

Client-side fan-out: each row becomes one ``send`` call, paced and journaled
(the API's own server-side ``send-bulk`` is another thing). No typer and no
rich here, so that any command (``mindo bulk``, ``mindo demo``) or program can
run a campaign and draw it as it likes. One module per concept:

- ``_rows.py``: reading a CSV or JSON Lines file into rows, each with its problems;
- ``_check.py``: checking the whole file before anything is sent;
- ``_results.py``: what happened to each row (``RowResult``), the counts (``Tally``)
  and the exit statuses;
- ``_writing.py``: writing ``--out``;
- ``_run.py``: the run itself (``run_campaign``), reporting through a ``CampaignView``;
- ``_enqueue.py``: the same file handed to queue workers instead (``enqueue_campaign``,
  ``mindo bulk --enqueue``), then followed.

Not part of the library's public API (``mindo_async.__all__``): these names may
change between releases.
"""

from __future__ import annotations

from ._check import MAX_REPORTED, FileCheck, check_file, checked_rows, variables_problem
from ._enqueue import QueueTarget, enqueue_campaign
from ._results import (
    EXIT_INTERRUPTED,
    EXIT_NOT_ALL_SENT,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    RESULT_KINDS,
    InOrder,
    JournalLookup,
    RowResult,
    Tally,
    interrupted_row,
    invalid_row,
    journal_key,
    result_row,
)
from ._rows import (
    RECIPIENT,
    ROW_SETTINGS,
    CampaignFileError,
    FileFormat,
    Row,
    RowDefaults,
    check_encoding,
    check_header,
    column_problem,
    csv_header,
    detect_format,
    read_rows,
    validated,
)
from ._run import (
    CampaignOptions,
    CampaignReport,
    CampaignView,
    ProgressCallback,
    advice,
    configuration_problem,
    default_journal,
    describe_check,
    plural,
    run_campaign,
)
from ._writing import OUT_FIELDS, ResultWriter

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_NOT_ALL_SENT",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "MAX_REPORTED",
    "OUT_FIELDS",
    "RECIPIENT",
    "RESULT_KINDS",
    "ROW_SETTINGS",
    "CampaignFileError",
    "CampaignOptions",
    "CampaignReport",
    "CampaignView",
    "FileCheck",
    "FileFormat",
    "InOrder",
    "JournalLookup",
    "ProgressCallback",
    "QueueTarget",
    "ResultWriter",
    "Row",
    "RowDefaults",
    "RowResult",
    "Tally",
    "advice",
    "check_encoding",
    "check_file",
    "check_header",
    "checked_rows",
    "column_problem",
    "configuration_problem",
    "csv_header",
    "default_journal",
    "describe_check",
    "detect_format",
    "enqueue_campaign",
    "interrupted_row",
    "invalid_row",
    "journal_key",
    "plural",
    "read_rows",
    "result_row",
    "run_campaign",
    "validated",
    "variables_problem",
]
