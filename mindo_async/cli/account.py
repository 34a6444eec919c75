"""``mindo account``, ``mindo message``, ``mindo contact`` and ``mindo business``.

Read-only commands over the account-area endpoints, each with ``--json``.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.progress_bar import ProgressBar
from rich.table import Table

from .._client import AsyncMindo
from .._conversion import converter
from .._errors import (
    APIConnectionError,
    AuthenticationError,
    EndpointNotAvailableError,
    InvalidRequestError,
    MindoError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)
from .._models import MessageStatus
from .._protocol import mask_phone
from ..types.business import Branch, BusinessInfo, Holiday
from ..types.business_accounts import AccountPhoneNumber, BusinessAccounts, MessagingTier
from ..types.contacts import ContactLookup
from ..types.messages import MessageDetails
from ._common import (
    EXIT_NOT_ALL_SENT,
    EXIT_OK,
    EXIT_USAGE,
    ApiKeyOption,
    BaseUrlOption,
    TimeoutOption,
    VerboseOption,
    configuration_problem,
    configure_logging,
    consoles,
    error_json,
)

_T = TypeVar("_T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]


# -- shared ------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """A model (or a list of them) as JSON-ready data, snake_case field names."""
    return _plain(converter.unstructure(value))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return value


def advice(error: BaseException) -> str:
    """One sentence telling the user what to do about a failed read."""
    if isinstance(error, EndpointNotAvailableError):
        return "The API does not offer this yet: keep the message ids and try again later."
    if isinstance(error, AuthenticationError):
        return "Check MINDO_API_KEY (or --api-key): the API refused it (expired or revoked?)."
    if isinstance(error, PermissionDeniedError):
        return "This API key may not read this resource: ask for a key with access."
    if isinstance(error, NotFoundError):
        return "Check the id: the API does not know it."
    if isinstance(error, InvalidRequestError):
        return "Fix the value given."
    if isinstance(error, (ServerError, APIConnectionError)):
        return "The API could not be reached or failed: try again later."
    return "The API refused the request."


def _exit_code(error: BaseException) -> int:
    if isinstance(error, (InvalidRequestError, AuthenticationError, PermissionDeniedError)):
        return EXIT_USAGE
    return EXIT_NOT_ALL_SENT


def _read(
    call: Callable[[AsyncMindo], Awaitable[_T]],
    *,
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    json_output: bool,
    out: Console,
    err: Console,
) -> _T:
    """Run one read against the API; print the error and exit on failure."""
    problem = configuration_problem(api_key, base_url)
    if problem is not None:
        if json_output:
            out.print_json(data={"error": {"type": "ConfigurationError", "message": problem}})
        else:
            err.print(f"Error: {problem}")
        raise typer.Exit(EXIT_USAGE)

    async def run() -> _T:
        async with AsyncMindo(
            api_key=api_key, base_url=base_url, timeout=timeout, rate_limit=None
        ) as mindo:
            return await call(mindo)

    try:
        return anyio.run(run)
    except MindoError as exc:
        if json_output:
            data = error_json(exc)
            data["error"]["what_to_do"] = advice(exc)
            out.print_json(data=data)
        else:
            err.print(f"Error: {type(exc).__name__}: {exc}")
            if isinstance(exc, InvalidRequestError):
                for field, messages in exc.errors.items():
                    err.print(f"  {field}: {'; '.join(messages)}")
            err.print(advice(exc))
        raise typer.Exit(_exit_code(exc)) from None


def _show(
    call: Callable[[AsyncMindo], Awaitable[_T]],
    render: Callable[[_T, Console], None],
    *,
    json_output: bool,
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    verbose: bool,
) -> None:
    """One read command: run ``call``, then print its answer as JSON or with ``render``."""
    out, err = consoles()
    configure_logging(verbose)
    result = _read(
        call,
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        json_output=json_output,
        out=out,
        err=err,
    )
    if json_output:
        out.print_json(data=to_json(result))
    else:
        render(result, out)


def _when(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "-"


# -- mindo account ----------------------------------------------------------------------


def quota_bar(number: AccountPhoneNumber) -> ProgressBar | str:
    """The number's quota use as a bar (``-`` when the API gives no limit)."""
    quota = number.quota
    if quota is None or not quota.daily_limit:
        return "-"
    return ProgressBar(
        total=float(quota.daily_limit),
        completed=float(min(quota.unique_numbers_sent_24h, quota.daily_limit)),
        width=20,
        complete_style="red" if not quota.can_send or quota.remaining == 0 else "green",
    )


def print_accounts(accounts: BusinessAccounts, out: Console) -> None:
    """The account as tables: numbers with tier and quota, templates with variables."""
    out.print(f"[bold]{accounts.company_name}[/] (API key: {accounts.api_key_name})")
    for account in accounts.business_accounts:
        ident = f" (id {account.business_account_id})" if account.business_account_id else ""
        numbers = Table(
            title=f"{account.business_name}{ident}: phone numbers", title_justify="left"
        )
        for column in ("phone_number_id", "number", "name", "tier", "quota (24 h)", "used", "left"):
            numbers.add_column(column)
        for number in account.phone_numbers:
            quota = number.quota
            tier = number.messaging_limit_tier
            pace = f"\n{tier.pace}" if isinstance(tier, MessagingTier) else ""
            numbers.add_row(
                number.phone_number_id + (" *" if number.is_primary else ""),
                number.display_phone_number,
                number.verified_name,
                f"{tier or '-'}{pace}",
                quota_bar(number),
                f"{quota.unique_numbers_sent_24h:,}/{quota.daily_limit or '∞'}" if quota else "-",
                (
                    ("cannot send" if not quota.can_send else f"{quota.remaining:,}")
                    if quota and quota.remaining is not None
                    else "-"
                ),
            )
        out.print(numbers)
        templates = Table(title=f"{account.business_name}: templates", title_justify="left")
        for column in ("template", "language", "category", "variables (* required)"):
            templates.add_column(column)
        for template in account.templates:
            variables = ", ".join(
                f"{v.name}{'*' if v.is_required else ''} {v.type}"
                + (f" [{v.component}]" if v.component != "BODY" else "")
                for v in sorted(template.variables, key=lambda v: (v.component, v.position))
            )
            templates.add_row(template.name, template.language, template.category, variables or "-")
        out.print(templates)
    out.print("* primary number. The quota counts distinct recipients over a rolling 24 hours.")


def account_command(
    json_output: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Show the account: phone numbers with tier and quota, templates with their variables."""
    _show(
        lambda mindo: mindo.business_accounts.get(),
        print_accounts,
        json_output=json_output,
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        verbose=verbose,
    )


# -- mindo contact ----------------------------------------------------------------------


def print_contact(lookup: ContactLookup, phone: str, out: Console) -> None:
    """The lookup in words, with the phone masked."""
    if not lookup.found or lookup.contact is None:
        out.print(f"{mask_phone(phone)}: not a contact of any of the company's lists.")
        return
    contact = lookup.contact
    out.print(f"{contact.full_name or '(no name)'}  {mask_phone(contact.phone)}")
    if contact.email:
        out.print(f"  email            {contact.email}")
    if contact.contact_list_id is not None:
        out.print(
            f"  list             {contact.contact_list_name or ''} ({contact.contact_list_id})"
        )
    out.print(f"  has replied      {'yes' if lookup.has_replied else 'no'}")
    out.print(f"  last reply       {_when(lookup.last_reply_at)}")
    if lookup.session_window_active:
        out.print(f"  session window   open until {_when(lookup.session_expires_at)}")
    else:
        out.print("  session window   closed: only approved templates can be sent")


def contact_command(
    phone: Annotated[str, typer.Argument(help="The phone number, in any form the API accepts.")],
    json_output: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Look a contact up by phone: replies and WhatsApp's 24-hour session window."""
    _show(
        lambda mindo: mindo.contacts.lookup(phone),
        lambda result, out: print_contact(result, phone, out),
        json_output=json_output,
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        verbose=verbose,
    )


# -- mindo business ---------------------------------------------------------------------

business_app = typer.Typer(
    name="business",
    help="The company's profile, opening hours and holidays.",
    no_args_is_help=True,
)


def print_info(info: BusinessInfo, out: Console) -> None:
    """The company profile as lines."""
    out.print(f"[bold]{info.name}[/] (id {info.id})")
    for label, value in (
        ("email", info.email),
        ("phone", info.phone),
        ("website", info.website),
        ("address", info.address),
        ("time zone", info.timezone),
        ("size", info.company_size_display or info.company_size),
        ("types", ", ".join(str(t) for t in info.company_types)),
        ("categories", ", ".join(info.categories)),
        ("description", info.description),
    ):
        if value:
            out.print(f"  {label:<12} {value}")


def print_hours(branches: list[Branch], out: Console) -> None:
    """One table per branch."""
    for branch in branches:
        table = Table(
            title=f"{branch.branch_name} ({branch.branch_type or '-'}) {branch.address}",
            title_justify="left",
        )
        for column in ("days", "from", "to", "active", "note"):
            table.add_column(column)
        for schedule in branch.schedules:
            days = schedule.days_display or ", ".join(str(d) for d in schedule.days)
            if schedule.specific_date is not None:
                days = schedule.specific_date.isoformat()
            table.add_row(
                days,
                schedule.start_time.strftime("%H:%M"),
                schedule.finish_at.strftime("%H:%M"),
                "yes" if schedule.is_active else "no",
                schedule.description,
            )
        out.print(table)
    if not branches:
        out.print("No opening hours configured.")


def print_holidays(holidays: list[Holiday], out: Console) -> None:
    """The holidays as one table."""
    table = Table(title="Holidays", title_justify="left")
    for column in ("date", "name", "hours", "applies to", "note"):
        table.add_column(column)
    for holiday in holidays:
        hours = (
            f"{holiday.start_time:%H:%M}-{holiday.finish_at:%H:%M}"
            if holiday.has_custom_hours and holiday.start_time and holiday.finish_at
            else "closed"
        )
        where = (
            ", ".join(b.name or str(b.id) for b in holiday.branches_detail)
            or ", ".join(str(b) for b in holiday.branches)
            or "all branches"
        )
        table.add_row(
            holiday.date.isoformat(),
            holiday.name + ("" if holiday.is_active else " (inactive)"),
            hours,
            f"{where} ({holiday.attention_target or '-'})",
            holiday.description,
        )
    out.print(table)


@business_app.command("info")
def business_info_command(
    json_output: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """The company profile."""
    _show(
        lambda mindo: mindo.business.info(),
        print_info,
        json_output=json_output,
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        verbose=verbose,
    )


@business_app.command("hours")
def business_hours_command(
    json_output: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """The fixed weekly opening hours of every branch."""
    _show(
        lambda mindo: mindo.business.hours(),
        print_hours,
        json_output=json_output,
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        verbose=verbose,
    )


def _date_option(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not YYYY-MM-DD", param_hint=option) from None


@business_app.command("holidays")
def business_holidays_command(
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD), inclusive.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD), inclusive.")
    ] = None,
    json_output: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Closures and reduced-hours days, optionally between --from and --to."""
    first = _date_option(start, "--from")
    last = _date_option(end, "--to")
    _show(
        lambda mindo: mindo.business.holidays(start=first, end=last),
        print_holidays,
        json_output=json_output,
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        verbose=verbose,
    )


# -- mindo message ----------------------------------------------------------------------


def print_message(details: MessageDetails, out: Console) -> None:
    """One message's status and its transitions."""
    status = details.delivery_status
    out.print(f"{details.meta_message_id or details.id}: [bold]{status.current}[/]")
    out.print(f"  template   {details.template.name} ({details.template.language})")
    out.print(f"  to         {mask_phone(details.recipient.phone)}")
    for label, value in (
        ("sent", status.sent_at),
        ("delivered", status.delivered_at),
        ("read", status.read_at),
        ("failed", status.failed_at),
    ):
        if value is not None:
            out.print(f"  {label:<10} {_when(value)}")
    if status.error_code is not None or status.error_message:
        out.print(f"  error      {status.error_code or ''} {status.error_message or ''}".rstrip())


def message_ids_in(path: Path) -> list[str]:
    """The message ids in a campaign's journal (SQLite) or ``--out`` file (.jsonl or .csv).

    In file order, each once. ``ValueError`` when the file is none of those.
    """
    with path.open("rb") as probe:
        head = probe.read(16)
    ids: dict[str, None] = {}
    if head.startswith(b"SQLite format 3"):
        uri = path.resolve().as_uri() + "?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True)
            try:
                rows = db.execute(
                    "SELECT message_id FROM requests WHERE message_id IS NOT NULL"
                    " AND message_id != '' ORDER BY rowid"
                ).fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise ValueError(f"{path.name} is not a mindo journal ({exc})") from None
        for (message_id,) in rows:
            ids[str(message_id)] = None
        return list(ids)
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            if reader.fieldnames is None or "message_id" not in reader.fieldnames:
                raise ValueError(f"{path.name} has no message_id column")
            for row in reader:
                if row.get("message_id"):
                    ids[row["message_id"]] = None
        return list(ids)
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise ValueError(f"{path.name}: line {number} is not JSON") from None
            message_id = record.get("message_id") if isinstance(record, dict) else None
            if isinstance(message_id, str) and message_id:
                ids[message_id] = None
    return list(ids)


async def fetch_statuses(
    mindo: AsyncMindo,
    message_ids: list[str],
    *,
    concurrency: int,
    on_result: Callable[[str, MessageDetails | MindoError], None],
) -> None:
    """The status of every id, ``concurrency`` at a time; each result handed to ``on_result``.

    Stops at the first ``EndpointNotAvailableError`` (asking again cannot help)
    and raises it; any other error is that id's result.
    """
    pending: Iterator[str] = iter(message_ids)

    async def worker() -> None:
        for message_id in pending:
            try:
                result: MessageDetails | MindoError = await mindo.messages.get(message_id)
            except EndpointNotAvailableError:
                raise
            except MindoError as exc:
                result = exc
            on_result(message_id, result)

    async with anyio.create_task_group() as workers:
        for _ in range(max(1, min(concurrency, len(message_ids)))):
            workers.start_soon(worker)


STATUS_FIELDS = (
    "message_id",
    "status",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "error_code",
    "error",
)


def _status_record(message_id: str, result: MessageDetails | MindoError) -> dict[str, Any]:
    if isinstance(result, MindoError):
        return dict.fromkeys(STATUS_FIELDS) | {
            "message_id": message_id,
            "status": "error",
            "error": f"{type(result).__name__}: {result}",
        }
    status = result.delivery_status
    return {
        "message_id": message_id,
        "status": str(status.current),
        "sent_at": _when(status.sent_at) if status.sent_at else None,
        "delivered_at": _when(status.delivered_at) if status.delivered_at else None,
        "read_at": _when(status.read_at) if status.read_at else None,
        "failed_at": _when(status.failed_at) if status.failed_at else None,
        "error_code": status.error_code,
        "error": status.error_message,
    }


def _campaign_statuses(
    path: Path,
    *,
    concurrency: int,
    out_path: Path | None,
    json_output: bool,
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    out: Console,
    err: Console,
) -> int:
    try:
        message_ids = message_ids_in(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        err.print(f"Error: {exc}")
        return EXIT_USAGE
    if out_path is not None and out_path.suffix.lower() not in (".jsonl", ".csv"):
        err.print("Error: --out must end in .jsonl or .csv")
        return EXIT_USAGE
    if out_path is not None and out_path.resolve() == path.resolve():
        err.print("Error: --out must not be the file being read")
        return EXIT_USAGE
    if not message_ids:
        err.print(f"{path.name} has no message ids (nothing was sent by that campaign yet).")
        return EXIT_OK
    counts: Counter[str] = Counter()
    records: list[dict[str, Any]] = []
    progress = Progress(
        TextColumn("[bold]Fetching statuses[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = progress.add_task("status", total=len(message_ids))

    def on_result(message_id: str, result: MessageDetails | MindoError) -> None:
        record = _status_record(message_id, result)
        counts[record["status"]] += 1
        records.append(record)
        progress.advance(task)

    with progress:
        _read(
            lambda mindo: fetch_statuses(
                mindo, message_ids, concurrency=concurrency, on_result=on_result
            ),
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            json_output=json_output,
            out=out,
            err=err,
        )
    order = {message_id: i for i, message_id in enumerate(message_ids)}
    records.sort(key=lambda record: order[record["message_id"]])
    if out_path is not None:
        with out_path.open("w", encoding="utf-8", newline="") as file:
            if out_path.suffix.lower() == ".csv":
                writer = csv.DictWriter(file, fieldnames=STATUS_FIELDS)
                writer.writeheader()
                writer.writerows(records)
            else:
                for record in records:
                    file.write(json.dumps(record, ensure_ascii=False) + "\n")
    summary = {status: counts[status] for status in sorted(counts)}
    if json_output:
        out.print_json(data={"messages": len(message_ids), "statuses": summary})
    else:
        table = Table(title=f"{path.name}: {len(message_ids):,} messages", title_justify="left")
        table.add_column("status")
        table.add_column("messages", justify="right")
        known = [s.value for s in MessageStatus]
        for status in [*known, *(s for s in sorted(counts) if s not in known)]:
            table.add_row(status, f"{counts[status]:,}")
        out.print(table)
        if out_path is not None:
            out.print(f"Statuses: {out_path}")
    return EXIT_NOT_ALL_SENT if counts["error"] else EXIT_OK


def message_command(
    target: Annotated[
        str,
        typer.Argument(
            help="A message id (wamid), or a campaign's journal or --out file: then the "
            "status of every message in it.",
            show_default=False,
        ),
    ],
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=64, help="Lookups in flight.")
    ] = 8,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="With a file: write every status to a .jsonl or .csv."),
    ] = None,
    json_output: JsonOption = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Show a message's delivery status (sent, delivered, read, failed), or a campaign's."""
    out, err = consoles()
    configure_logging(verbose)
    path = Path(target)
    if not target.startswith("wamid.") and path.is_file():
        raise typer.Exit(
            _campaign_statuses(
                path,
                concurrency=concurrency,
                out_path=out_path,
                json_output=json_output,
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
                out=out,
                err=err,
            )
        )
    if out_path is not None:
        raise typer.BadParameter("--out goes with a journal or results file", param_hint="--out")
    details = _read(
        lambda mindo: mindo.messages.get(target),
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        json_output=json_output,
        out=out,
        err=err,
    )
    if json_output:
        out.print_json(data=to_json(details))
    else:
        print_message(details, out)


app = typer.Typer()
app.command("account")(account_command)
app.command("message")(message_command)
app.command("contact")(contact_command)
app.add_typer(business_app)

__all__ = ["app"]
