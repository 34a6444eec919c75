"""``mindo demo``: a whole campaign against a local emulator, with faults, and no account.

It serves the emulator over a real loopback socket, writes a CSV of generated
recipients, runs exactly what ``mindo bulk`` runs on it (``run_campaign``, drawn
by the same ``RichView``), and then checks the results against the emulator's
ledger: every ``sent`` row is in it once, no ``rejected`` row is in it, and
nothing was accepted twice.
"""

from __future__ import annotations

import csv
import json
import random
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import phonenumbers
import typer
from rich.console import Console

from ..campaign import CampaignOptions, RowDefaults, default_journal, run_campaign
from ..testing import DEFAULT_PHONE_NUMBER_ID, Emulator, FaultConfig, serve
from ._common import consoles
from .campaign import RichView

app = typer.Typer()

#: A little of everything a real gateway does, few enough to finish in seconds.
DEMO_FAULTS = FaultConfig(
    latency=0.004,
    jitter=0.008,
    rate_limited_probability=0.0007,  # 429 with Retry-After: 1 s (pauses the number)
    unavailable_probability=0.004,  # 503: refused before processing, retried
    server_error_probability=0.002,  # 500 after processing: unknown, never retried
    drop_probability=0.002,  # connection dropped after processing: unknown
    retry_after=1,
)

_NAMES = (
    "Juan",
    "María",
    "Sofía",
    "Mateo",
    "Valentina",
    "Santiago",
    "Camila",
    "Benjamín",
    "Lucía",
    "Joaquín",
    "Martina",
    "Thiago",
    "Emilia",
    "Lautaro",
    "Catalina",
    "Agustín",
)


def demo_recipients(count: int, seed: int) -> list[str]:
    """``count`` distinct, valid Argentine mobile numbers (+54 9 11 ...), reproducible by seed."""
    rng = random.Random(seed)
    numbers: dict[str, None] = {}
    while len(numbers) < count:
        candidate = f"+54911{rng.randrange(10**8):08d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            numbers[candidate] = None
    return list(numbers)


def write_demo_csv(path: Path, count: int, seed: int) -> None:
    """A campaign file for the ``welcome_message`` template: name, code and button_0."""
    rng = random.Random(seed + 1)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recipient_phone", "name", "code", "button_0"])
        for number in demo_recipients(count, seed):
            code = f"{rng.randrange(16**6):06X}"
            writer.writerow([number, rng.choice(_NAMES), code, f"welcome-{code}"])


def _describe_faults(faults: FaultConfig) -> str:
    low = faults.latency * 1000
    high = (faults.latency + faults.jitter) * 1000
    return (
        f"{low:.0f}-{high:.0f} ms latency; "
        f"{faults.rate_limited_probability:.2%} 429 (Retry-After: {faults.retry_after} s), "
        f"{faults.unavailable_probability:.1%} 503, "
        f"{faults.server_error_probability:.1%} 500 after processing, "
        f"{faults.drop_probability:.1%} connections dropped after processing"
    )


def run_demo(*, count: int, concurrency: int, seed: int, out: Console, err: Console) -> int:
    """Run the demo; return the exit status (0 when the results agree with the ledger)."""
    emulator = Emulator(faults=DEMO_FAULTS, seed=seed)
    with tempfile.TemporaryDirectory(prefix="mindo-demo-") as tmp, serve(emulator) as server:
        campaign = Path(tmp) / "demo.csv"
        results = Path(tmp) / "results.jsonl"
        write_demo_csv(campaign, count, seed)
        out.print(
            f"[bold]mindo demo[/]: {count:,} messages to generated recipients, sent by "
            "`mindo bulk` to a local Mindo emulator."
        )
        out.print(f"Emulator: {server.base_url} ({_describe_faults(DEMO_FAULTS)}).")
        options = CampaignOptions(
            path=campaign,
            defaults=RowDefaults(
                phone_number_id=DEFAULT_PHONE_NUMBER_ID, template_name="welcome_message"
            ),
            concurrency=concurrency,
            rate=None,
            journal=default_journal(campaign),
            out=results,
            api_key=server.api_key,
            base_url=server.base_url,
            timeout=10.0,
        )
        report = run_campaign(options, RichView(out, err))
        if report.tally is None:
            return report.exit_code
        return _reconcile(emulator, results, out, err, report.exit_code)


def _reconcile(emulator: Emulator, results: Path, out: Console, err: Console, code: int) -> int:
    """Compare ``--out`` with what the emulator accepted; print the verdict."""
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    outcomes = Counter(row["outcome"] for row in rows)
    ledger = emulator.ledger
    accepted = ledger.messages
    accepted_ids = {message.message_id for message in accepted}
    accepted_recipients = Counter(message.recipient_phone for message in accepted)
    sent_ids = [row["message_id"] for row in rows if row["outcome"] == "sent"]
    missing = [message_id for message_id in sent_ids if message_id not in accepted_ids]
    rejected_in_ledger = [
        row
        for row in rows
        if row["outcome"] == "rejected" and accepted_recipients[row["recipient_phone"]]
    ]
    unknown = [row["recipient_phone"] for row in rows if row["outcome"] == "unknown"]
    unknown_processed = sum(1 for phone in unknown if accepted_recipients[phone])
    duplicates = ledger.duplicates()
    twice = sum(1 for times in accepted_recipients.values() if times > 1)
    counts = ledger.counts
    faults_seen = (
        f"{counts['rate_limited']} x 429, {counts['unavailable']} x 503 (retried), "
        f"{counts['server_error_after_processing']} x 500 and {counts['dropped']} dropped "
        "connections (not retried: the message may have gone out)"
    )
    out.print(f"Emulator saw {counts['total_requests']:,} requests: {faults_seen}.")
    out.print(
        f"Ledger: the emulator accepted {len(accepted):,} messages = "
        f"{outcomes['sent']:,} sent + {unknown_processed:,} of the {len(unknown):,} unknown "
        f"(processed, but the answer was lost); {len(duplicates)} duplicates, "
        f"{twice} recipients messaged twice."
    )
    agree = (
        not missing
        and not rejected_in_ledger
        and not duplicates
        and not twice
        and len(accepted) == outcomes["sent"] + unknown_processed
        and len(rows) == sum(outcomes.values())
    )
    if agree:
        out.print(
            "[green]The results agree with the ledger:[/] every sent row's message id is in "
            "it exactly once, no rejected row is in it, nothing was sent twice."
        )
        # The demo's unknown rows are the point of the demo, not a failure.
        return 0 if code in (0, 1) else code
    err.print(
        f"[red]The results do NOT agree with the ledger[/]: {len(missing)} sent ids missing, "
        f"{len(rejected_in_ledger)} rejected rows accepted, {len(duplicates)} duplicates."
    )
    return 1


@app.command()
def demo(
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=200_000, help="Recipients to generate.")
    ] = 3000,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=1024, help="Sends in flight.")
    ] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the recipients and the faults.")] = 2024,
) -> None:
    """Run a whole campaign against a local emulator, with faults: no account needed."""
    out_console, err_console = consoles()
    raise typer.Exit(
        run_demo(count=count, concurrency=concurrency, seed=seed, out=out_console, err=err_console)
    )
