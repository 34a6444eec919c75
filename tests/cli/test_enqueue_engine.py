"""``enqueue_campaign`` (``mindo bulk --enqueue``) with an in-memory queue: how each job's
result becomes a row of ``--out``, the summary and the exit status."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from mindo_async import SendRequest
from mindo_async._fanout import Progress
from mindo_async.campaign import (
    EXIT_NOT_ALL_SENT,
    EXIT_USAGE,
    CampaignOptions,
    ProgressCallback,
    QueueTarget,
    RowDefaults,
    Tally,
    enqueue_campaign,
)
from mindo_async.queue import JobResult

DEFAULTS = RowDefaults(phone_number_id="813497231850626", template_name="welcome_message")
TARGET = QueueTarget(redis_url="redis://127.0.0.1:9/0", namespace="t", poll=0.0)


class Collected:
    """A ``CampaignView`` that keeps what a run shows."""

    def __init__(self) -> None:
        self.printed: list[str] = []
        self.warned: list[str] = []
        self.updates: list[Progress] = []
        self.tally: Tally | None = None

    def print(self, text: str) -> None:
        self.printed.append(text)

    def warn(self, text: str) -> None:
        self.warned.append(text)

    @contextlib.contextmanager
    def progress(self, *, total: int, invalid: int) -> Iterator[ProgressCallback]:
        yield self.updates.append

    def summary(self, tally: Tally, *, name: str, elapsed: float, throughput: float) -> None:
        self.tally = tally


class FakeQueue:
    """A queue whose jobs end at once, each as ``outcomes[recipient]`` says."""

    def __init__(self, outcomes: dict[str, JobResult]) -> None:
        self.outcomes = outcomes
        self.enqueued: dict[str, SendRequest] = {}

    async def __aenter__(self) -> FakeQueue:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def enqueue(self, request: SendRequest) -> str:
        job_id = f"job-{len(self.enqueued)}"
        self.enqueued[job_id] = request
        return job_id

    async def results(self, job_ids: list[str]) -> dict[str, JobResult]:
        return {j: self.outcomes[self.enqueued[j].recipient_phone] for j in job_ids}


def run(
    tmp_path: Path, rows: list[str], outcomes: dict[str, JobResult]
) -> tuple[int, Collected, FakeQueue, list[dict[str, object]]]:
    source = tmp_path / "c.csv"
    source.write_text(
        "recipient_phone,name\n" + "".join(f"{r},Ana\n" for r in rows), encoding="utf-8"
    )
    out = tmp_path / "out.jsonl"
    queue = FakeQueue(outcomes)
    view = Collected()
    options = CampaignOptions(path=source, defaults=DEFAULTS, out=out, preflight="off")
    report = enqueue_campaign(options, TARGET, view, make_queue=lambda: queue)  # type: ignore[arg-type, return-value]
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return report.exit_code, view, queue, lines


def test_each_job_outcome_maps_to_its_row(tmp_path: Path) -> None:
    """sent, rejected, unknown, sent by an earlier job, and a repeated row: one --out line
    each, in file order; the repeat is not enqueued; exit 1 (not all sent)."""
    sent, refused, maybe, earlier = (f"+5491120000{i:03d}" for i in range(4))
    outcomes = {
        sent: JobResult("sent", "k0", "wamid.A"),
        refused: JobResult("rejected", "k1", error="TemplateNotFoundError: no such template"),
        maybe: JobResult("unknown", "k2", error="DeliveryUnknownError: read timeout"),
        earlier: JobResult("skipped", "k3", "wamid.D", error="AlreadyProcessedError: sent"),
    }
    code, view, queue, lines = run(tmp_path, [sent, refused, maybe, earlier, sent], outcomes)
    assert code == EXIT_NOT_ALL_SENT
    assert [r.recipient_phone for r in queue.enqueued.values()] == [sent, refused, maybe, earlier]
    assert [(r["line"], r["outcome"], r["message_id"]) for r in lines] == [
        (2, "sent", "wamid.A"),
        (3, "rejected", None),
        (4, "unknown", None),
        (5, "skipped", "wamid.D"),
        (6, "skipped", "wamid.A"),
    ]
    assert lines[1]["error"] == "TemplateNotFoundError: no such template"
    assert view.tally is not None
    kinds = view.tally.kinds
    assert (kinds["sent"], kinds["rejected"], kinds["unknown"]) == (1, 1, 1)
    assert (kinds["already_sent"], kinds["duplicate_sent"]) == (1, 1)
    assert view.updates[-1].done == 5
    assert any("Enqueued 4 jobs on redis://127.0.0.1:9/0" in w for w in view.warned)
    assert any("1 row rejected" in w for w in view.warned)


def test_a_refused_api_key_is_a_configuration_error(tmp_path: Path) -> None:
    """Jobs failing with AuthenticationError: exit 2 and advice about the workers' key."""
    number = "+5491120000001"
    outcomes = {number: JobResult("rejected", "k", error="AuthenticationError: invalid key")}
    code, view, _, _ = run(tmp_path, [number], outcomes)
    assert code == EXIT_USAGE
    assert any("the workers' API key" in w for w in view.warned)
