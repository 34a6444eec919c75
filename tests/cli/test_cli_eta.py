"""The ETA after a resume is computed from sends only (issue 14 item 11)."""

from __future__ import annotations

import io

from rich.console import Console

from mindo_async import Progress
from mindo_async.cli.campaign import _Bar, _send_rate


class TenSeconds(Progress):
    """A ``Progress`` ten seconds into the run, whatever the clock says."""

    @property
    def elapsed(self) -> float:
        return 10.0


def resumed() -> Progress:
    """1,000 rows skipped from the journal, then 10 sent, 10 s in."""
    return TenSeconds(total=2000, sent=10, skipped=1000)


def test_skipped_rows_do_not_count_in_the_rate() -> None:
    """1,000 skipped rows and 10 sends in 10 s: 1 send/s, not 101/s."""
    assert _send_rate(resumed()) == 1.0


def test_the_plain_progress_line_eta_follows_the_sends() -> None:
    """The plain line shows 1/s and an ETA of 990 s for the 990 rows left."""
    buffer = io.StringIO()
    bar = _Bar(Console(file=buffer, force_terminal=False, width=200), total=2000, invalid=0)
    with bar as on_progress:
        on_progress(resumed())
    line = buffer.getvalue()
    assert "1/s" in line
    assert "ETA 990 s" in line
