"""Server-side bulk sends (``send-bulk`` and ``bulk-sends/``): create, follow, page through.

``create`` is the most dangerous call of the API: one POST messages every
recipient, and it has no idempotency key. It is validated in full before any
I/O and never retried once it may have reached the server; an ambiguous
failure raises ``BulkSendUnknownError``, whose ``find_candidates`` looks for
the bulk send among the recent ones.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

import anyio
import attrs

from .._concurrency import collect, notify
from .._conversion import converter
from .._endpoints import BULK_SEND, BULK_SEND_MESSAGES, BULK_SENDS, SEND_BULK
from .._errors import (
    AlreadyProcessedError,
    APIConnectionError,
    APIError,
    BulkSendTimeoutError,
    BulkSendUnknownError,
    DeliveryUnknownError,
    DuplicateRequestError,
    InvalidRequestError,
    InvalidResponseError,
    PreflightError,
    RateLimitError,
    ServerError,
)
from .._journal import IN_FLIGHT, Journal, SQLiteJournal, request_digest
from .._models import MessageStatus, Outcome, SendRequest, SendResult, SkipReason
from .._pagination import AsyncPaginator
from .._preflight import check_campaign_async
from .._validation import request_problems, validate_bulk_send, validate_request
from ..types.bulk_sends import (
    BulkChunkResult,
    BulkMessage,
    BulkRecipient,
    BulkSend,
    BulkSendCreated,
    BulkSendRequest,
    BulkSendStatus,
    CreateManyResult,
)
from ._base import AsyncAPIResource
from .business_accounts import AsyncBusinessAccounts

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "AsyncBulkSends",
    "BulkChunkResult",
    "CreateManyResult",
    "encode_bulk_send",
]

#: Recipients per bulk send in ``create_many``. The API documents no limit; a
#: thousand recipients make a body of about 150 KB, far below the 2.5 MB a
#: Django server accepts by default, and one tier-1000 day.
DEFAULT_CHUNK_SIZE = 1000

#: The longest pause between polls after failed polls (``wait``).
MAX_POLL_BACKOFF = 60.0

#: How ``wait`` sleeps between polls (a test replaces it to see the delays).
_sleep = anyio.sleep

OnUpdate = Callable[[BulkSend], "Awaitable[None] | None"]


def encode_bulk_send(request: BulkSendRequest) -> bytes:
    """The JSON body of ``send-bulk`` for a validated ``request``: empty optional fields omitted."""
    recipients: list[dict[str, Any]] = []
    for recipient in request.recipients:
        item: dict[str, Any] = {"phone": recipient.phone}
        if recipient.variables is not None:
            item["variables"] = dict(recipient.variables)
        if recipient.button_variables is not None:
            item["button_variables"] = dict(recipient.button_variables)
        recipients.append(item)
    body = {
        "phone_number_id": request.phone_number_id,
        "template_name": request.template_name,
        "language": request.language,
        "recipients": recipients,
    }
    # Validation made every variable text, so the standard encoder will do.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _check_id(bulk_send_id: str) -> str:
    if not isinstance(bulk_send_id, str) or not bulk_send_id.strip():
        raise InvalidRequestError({"bulk_send_id": ["must be a non-empty string"]})
    return bulk_send_id


def _check_page_size(page_size: int | None, problems: dict[str, list[str]]) -> None:
    if page_size is not None and (
        not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1
    ):
        problems.setdefault("page_size", []).append("must be a whole number >= 1")


def _date_param(value: date | str | None, name: str, problems: dict[str, list[str]]) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        # A datetime's time part would be dropped silently: the filter takes a date.
        problems.setdefault(name, []).append("must be a date (YYYY-MM-DD), not a datetime")
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    problems.setdefault(name, []).append("must be a date or a YYYY-MM-DD string")
    return None


class AsyncBulkSends(AsyncAPIResource):
    """Server-side bulk sends: create (one or many), get, wait, messages, list."""

    # -- create --------------------------------------------------------------------------

    async def create(
        self,
        *,
        phone_number_id: str,
        template_name: str,
        recipients: Sequence[BulkRecipient],
        language: str = "es",
        preflight: bool = False,
    ) -> BulkSendCreated:
        """Create a bulk send: the server sends ``template_name`` to every recipient, paced.

        Every recipient is validated before any I/O with the rules of ``send``;
        ``InvalidRequestError`` names every problem by index
        (``recipients[3].phone``). A phone repeated with identical variables is
        sent once (``dropped_repeats`` on the result says how many were
        dropped); repeated with different variables, it is refused.

        Never retried once the request may have reached the server: a read
        timeout, a dropped connection, a 500, 502 or 504 raise
        ``BulkSendUnknownError`` (a ``DeliveryUnknownError``); use its
        ``find_candidates`` to see whether the bulk send exists. Failures that
        prove nothing was sent (connection refused, 429, 503) are retried.

        ``preflight=True`` first checks the campaign against the account
        (template, variables, number, quota: as ``AsyncMindo.preflight``) and
        raises ``PreflightError``, sending nothing, when anything is wrong.
        """
        request = BulkSendRequest(
            phone_number_id=phone_number_id,
            template_name=template_name,
            language=language,
            recipients=recipients,
        )
        ready, dropped = validate_bulk_send(request, self._requester.default_region)
        if preflight:
            await self._preflight(
                [
                    SendRequest(
                        phone_number_id=ready.phone_number_id,
                        template_name=ready.template_name,
                        language=ready.language,
                        recipient_phone=recipient.phone,
                        variables=recipient.variables,
                        button_variables=recipient.button_variables,
                    )
                    for recipient in ready.recipients
                ]
            )
        return await self._create(ready, dropped)

    async def _preflight(self, requests: Sequence[SendRequest]) -> None:
        """The account's pre-flight over ``requests``: ``PreflightError`` on any problem."""
        accounts = await AsyncBusinessAccounts(self._requester).get()
        report = await check_campaign_async(accounts, requests)
        if not report.ok:
            raise PreflightError(report)

    async def _create(self, request: BulkSendRequest, dropped: int) -> BulkSendCreated:
        attempted_at = datetime.now(timezone.utc)
        try:
            body = await self._post(SEND_BULK, body=encode_bulk_send(request), request=request)
            created = converter.structure(body, BulkSendCreated)
        except DeliveryUnknownError as exc:
            raise _unknown(exc, request, attempted_at) from exc
        except APIError:
            raise
        except Exception as exc:
            # A 2xx whose body is not the documented one: the bulk send was created.
            raise BulkSendUnknownError(
                f"send-bulk answered a body that is not the documented one ({exc})",
                request=request,
                attempted_at=attempted_at,
            ) from exc
        return attrs.evolve(created, dropped_repeats=dropped)

    # -- after an ambiguous failure ------------------------------------------------------

    async def find_candidates(
        self, error: BulkSendUnknownError, *, within: timedelta = timedelta(minutes=10)
    ) -> list[BulkSend]:
        """The bulk sends that may be the one ``error``'s attempt created, closest in time first.

        The list endpoint filters by Mindo's internal ids only, so the match is
        made here: the attempt's template name and language, its number (Meta's
        ``phone_number_id`` mapped to the internal id through
        ``business-accounts``; not used if the account does not list it), its
        recipient count, and ``created_at`` within ``within`` of the attempt.
        The list is read from the day before the attempt (whether its date
        filter includes the bound is not documented). An empty list means no
        such bulk send exists (yet: a server may take a moment to record it).
        """
        request = error.request
        if not isinstance(request, BulkSendRequest):
            raise TypeError("this error does not carry the BulkSendRequest it was raised for")
        attempted_at = error.attempted_at or datetime.now(timezone.utc)
        accounts = await AsyncBusinessAccounts(self._requester).get()
        number_ids = {
            number.id
            for number in accounts.phone_numbers
            if number.phone_number_id == request.phone_number_id and number.id is not None
        }
        since = (attempted_at - within).date() - timedelta(days=1)
        total = len(request.recipients)
        matches: list[BulkSend] = []
        async for bulk in self.list(created_after=since):
            template = bulk.template
            if template is None or template.template_name != request.template_name:
                continue
            if template.language != request.language:
                continue
            number = bulk.phone_number
            if number_ids and (number is None or number.id not in number_ids):
                continue
            if bulk.total_recipients != total:
                continue
            if abs(bulk.created_at - attempted_at) > within:
                continue
            matches.append(bulk)
        matches.sort(key=lambda bulk: abs(bulk.created_at - attempted_at))
        return matches

    # -- follow --------------------------------------------------------------------------

    async def get(self, bulk_send_id: str) -> BulkSend:
        """The status and progress of a bulk send (``NotFoundError`` for an unknown id)."""
        body = await self._get(BULK_SEND, path_params={"bulk_send_id": _check_id(bulk_send_id)})
        try:
            return converter.structure(body, BulkSend)
        except Exception as exc:
            error = InvalidResponseError(
                f"the bulk send's status is not the documented shape: {exc}",
                status_code=200,
                body=body,
            )
            error.endpoint = BULK_SEND
            raise error from exc

    async def wait(
        self,
        bulk_send_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float | None = None,  # noqa: ASYNC109 - the issue's documented signature
        on_update: OnUpdate | None = None,
    ) -> BulkSend:
        """Poll until the bulk send ends (COMPLETED, PARTIAL, FAILED or CANCELLED); return it.

        Polls every ``poll_interval`` seconds; after a failed poll (a connection
        failure, a 5xx, a 429 after the requester's own retries) it waits twice
        as long each time, up to a minute (or the server's ``Retry-After``), and
        goes on. ``on_update`` (a function or a coroutine function) is called
        with every state that differs from the previous one. Past ``timeout``
        seconds, ``BulkSendTimeoutError`` carries the last state read.
        Cancelling the caller stops the polling only: the bulk send goes on (the
        API has no call to cancel it). ``NotFoundError`` and other refusals are
        raised at once.
        """
        _check_id(bulk_send_id)
        if not (poll_interval > 0 and math.isfinite(poll_interval)):
            raise InvalidRequestError({"poll_interval": ["must be a positive number of seconds"]})
        if timeout is not None and not timeout >= 0:
            raise InvalidRequestError({"timeout": ["must be a number of seconds >= 0, or None"]})
        last: BulkSend | None = None
        # The scope also cancels a poll in progress at the deadline; the sync client
        # (no cancellation in a thread) stops at the deadline check below.
        with anyio.move_on_after(timeout if timeout is not None else math.inf) as scope:
            delay = poll_interval
            while True:
                try:
                    bulk = await self.get(bulk_send_id)
                except (
                    APIConnectionError,
                    RateLimitError,
                    ServerError,
                    DeliveryUnknownError,
                ) as exc:
                    retry_after = getattr(exc, "retry_after", None)
                    delay = min(max(delay * 2, poll_interval), MAX_POLL_BACKOFF)
                    if isinstance(retry_after, (int, float)) and retry_after > delay:
                        delay = float(retry_after)
                else:
                    delay = poll_interval
                    if bulk != last:
                        last = bulk
                        if on_update is not None:
                            await notify(on_update, bulk)
                    if bulk.is_terminal:
                        return bulk
                remaining = scope.deadline - anyio.current_time()
                if remaining <= 0:
                    break
                await _sleep(min(delay, remaining))
        state = f"; last status {last.status}" if last is not None else "; no poll succeeded"
        raise BulkSendTimeoutError(
            f"bulk send {bulk_send_id} did not end within {timeout} s{state} "
            "(it goes on at the server)",
            bulk_send_id=bulk_send_id,
            last=last,
            timeout=float(timeout if timeout is not None else math.inf),
        )

    # -- page through --------------------------------------------------------------------

    def messages(
        self,
        bulk_send_id: str,
        *,
        status: MessageStatus | str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[BulkMessage]:
        """The messages of a bulk send, page by page (``first_page()``, or iterate for every item).

        ``status`` keeps only ``sent``, ``delivered``, ``read`` or ``failed``
        messages (the server's filter; its example answers other statuses too).
        """
        problems: dict[str, list[str]] = {}
        status_param: str | None = None
        if status is not None:
            text = str(status).strip().lower()
            if text not in {s.value for s in MessageStatus}:
                problems["status"] = ["must be one of sent, delivered, read, failed"]
            status_param = text
        _check_page_size(page_size, problems)
        if problems:
            raise InvalidRequestError(problems)
        path = {"bulk_send_id": _check_id(bulk_send_id)}
        params = {"status": status_param, "page_size": page_size}

        async def fetch(url: str | None) -> Any:
            if url is not None:
                return await self._get(BULK_SEND_MESSAGES, url=url)
            return await self._get(BULK_SEND_MESSAGES, path_params=path, params=params)

        return AsyncPaginator(
            fetch=fetch,
            parse_item=lambda item: converter.structure(item, BulkMessage),
            what="bulk send's messages",
        )

    def list(
        self,
        *,
        status: BulkSendStatus | str | None = None,
        template: int | None = None,
        created_after: date | str | None = None,
        created_before: date | str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[BulkSend]:
        """Past bulk sends, page by page (``first_page()``, or iterate for every item).

        ``status``: one of the six ``BulkSendStatus`` values (any casing).
        ``template``: Mindo's internal template id (``BulkSend.template.id``),
        not a name. ``created_after`` / ``created_before``: dates; whether the
        server includes the bound itself is not documented, so widen by a day
        when it matters.
        """
        problems: dict[str, list[str]] = {}
        status_param: str | None = None
        if status is not None:
            try:
                status_param = BulkSendStatus(status).value
            except ValueError:
                problems["status"] = [
                    "must be one of " + ", ".join(s.value for s in BulkSendStatus)
                ]
        if template is not None and (
            not isinstance(template, int) or isinstance(template, bool) or template < 1
        ):
            problems["template"] = ["must be Mindo's internal template id (a whole number)"]
        after = _date_param(created_after, "created_after", problems)
        before = _date_param(created_before, "created_before", problems)
        _check_page_size(page_size, problems)
        if problems:
            raise InvalidRequestError(problems)
        params: dict[str, str | int | None] = {
            "status": status_param,
            "template": template,
            "created_after": after,
            "created_before": before,
            "page_size": page_size,
        }

        async def fetch(url: str | None) -> Any:
            if url is not None:
                return await self._get(BULK_SENDS, url=url)
            return await self._get(BULK_SENDS, params=params)

        return AsyncPaginator(
            fetch=fetch,
            parse_item=lambda item: converter.structure(item, BulkSend),
            what="list of bulk sends",
        )

    # -- many ----------------------------------------------------------------------------

    async def create_many(
        self,
        requests: Iterable[SendRequest] | AsyncIterable[SendRequest],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        journal: str | os.PathLike[str] | Journal | None = None,
        key: Callable[[SendRequest], str] | None = None,
        preflight: bool = False,
        on_chunk: Callable[[BulkChunkResult], Awaitable[None] | None] | None = None,
    ) -> CreateManyResult:
        """Create server-side bulk sends for many ``SendRequest``s, in chunks, journaled.

        The requests are grouped by (``phone_number_id``, ``template_name``,
        ``language``), in order of first appearance, and each group is split
        into chunks of ``chunk_size`` recipients (default ``DEFAULT_CHUNK_SIZE``);
        each chunk becomes one bulk send, created one after the other.

        Every request is validated first; ``InvalidRequestError`` names every
        problem (``requests[7].recipient_phone``) and nothing is sent. An
        identical repeat is skipped; a phone repeated in a group with different
        variables is refused.

        With a ``journal`` (a SQLite file or a ``Journal``, shared with
        ``send_many``: the same keys), every recipient is recorded with its
        chunk before the chunk's POST and with the bulk send's id after it. A
        recipient the journal has as sent, unknown or in flight is not sent
        again, whatever the chunking of the rerun. A chunk that failed
        ambiguously leaves its recipients ``UNKNOWN``: never resent; look for
        its bulk send with the error's ``find_candidates``.

        The input is read in full first (the grouping needs it).
        """
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise InvalidRequestError({"chunk_size": ["must be a whole number >= 1"]})
        items: list[Any] = await collect(requests)
        problems: dict[str, list[str]] = {}
        ready: list[SendRequest] = []
        for index, request in enumerate(items):
            if not isinstance(request, SendRequest):
                problems[f"requests[{index}]"] = [
                    f"must be a SendRequest, not {type(request).__name__}"
                ]
                continue
            region = self._requester.default_region
            found = request_problems(request, region)
            for name, messages in found.items():
                problems[f"requests[{index}].{name}"] = messages
            if not found:
                ready.append(validate_request(request, region))
        if problems:
            raise InvalidRequestError(problems)

        owned = False
        store: Journal | None
        if journal is None or isinstance(journal, Journal):
            store = journal
        else:
            store, owned = SQLiteJournal(journal), True
        try:
            plan = _plan(items, ready, store, key)
            if preflight and plan.groups:
                await self._preflight(
                    [request for group in plan.groups.values() for _, request, _ in group.members]
                )
            chunks: list[BulkChunkResult] = []
            for group in plan.groups.values():
                for start in range(0, len(group.members), chunk_size):
                    members = group.members[start : start + chunk_size]
                    result = await self._create_chunk(len(chunks), group, members, store)
                    chunks.append(result)
                    if on_chunk is not None:
                        await notify(on_chunk, result)
        finally:
            if owned and store is not None:
                store.close()
        return CreateManyResult(
            chunks=tuple(chunks), skipped=tuple(plan.skipped), dropped_repeats=plan.dropped
        )

    async def _create_chunk(
        self,
        index: int,
        group: _Group,
        members: Sequence[tuple[int, SendRequest, str]],
        store: Journal | None,
    ) -> BulkChunkResult:
        chunk_id = str(uuid.uuid4())
        request = group.request([ready for _, ready, _ in members])
        keys = [key for _, _, key in members]
        originals = tuple(group.originals[i] for i, _, _ in members)
        common = {
            "index": index,
            "chunk_id": chunk_id,
            "phone_number_id": group.phone_number_id,
            "template_name": group.template_name,
            "language": group.language,
            "requests": originals,
        }
        if store is not None:
            # Durable before the request can leave: a crash from here on leaves
            # these recipients in flight, which a rerun treats as UNKNOWN.
            store.begin_batch(keys, chunk_id)
        try:
            created = await self._create(request, 0)
        except BulkSendUnknownError as exc:
            if store is not None:
                store.finish_batch(keys, Outcome.UNKNOWN, error=f"chunk {chunk_id}: {exc.message}")
            return BulkChunkResult(outcome=Outcome.UNKNOWN, error=exc, **common)  # type: ignore[arg-type]
        except (APIError, APIConnectionError) as exc:
            if store is not None:
                store.finish_batch(keys, Outcome.REJECTED, error=f"chunk {chunk_id}: {exc}")
            return BulkChunkResult(outcome=Outcome.REJECTED, error=exc, **common)  # type: ignore[arg-type]
        except BaseException:
            # Cancelled, or a failure this code did not foresee, with the request
            # possibly on the wire: the recipients stay in flight (UNKNOWN on rerun).
            raise
        if store is not None:
            store.finish_batch(keys, Outcome.SENT, message_id=created.bulk_send_id)
        return BulkChunkResult(outcome=Outcome.SENT, created=created, **common)  # type: ignore[arg-type]


# -- create_many's plan ------------------------------------------------------------------


class _Group:
    """The requests of one (number, template, language), in input order."""

    def __init__(
        self, phone_number_id: str, template_name: str, language: str, originals: Sequence[Any]
    ) -> None:
        self.phone_number_id = phone_number_id
        self.template_name = template_name
        self.language = language
        self.originals = originals
        #: (input index, validated request, journal key)
        self.members: list[tuple[int, SendRequest, str]] = []
        #: phone -> (input index, variables identity)
        self.phones: dict[str, tuple[int, tuple[Any, ...]]] = {}

    def request(self, members: Sequence[SendRequest]) -> BulkSendRequest:
        return BulkSendRequest(
            phone_number_id=self.phone_number_id,
            template_name=self.template_name,
            language=self.language,
            recipients=tuple(
                BulkRecipient(
                    phone=r.recipient_phone,
                    variables=r.variables,
                    button_variables=r.button_variables,
                )
                for r in members
            ),
        )


@attrs.define
class _Plan:
    groups: dict[tuple[str, str, str], _Group]
    skipped: list[SendResult]
    dropped: int


def _identity(request: SendRequest) -> tuple[Any, ...]:
    def items(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((k, str(v)) for k, v in (mapping or {}).items()))

    return (items(request.variables), items(request.button_variables))


def _plan(
    originals: Sequence[Any],
    ready: Sequence[SendRequest],
    store: Journal | None,
    key: Callable[[SendRequest], str] | None,
) -> _Plan:
    groups: dict[tuple[str, str, str], _Group] = {}
    skipped: list[SendResult] = []
    problems: dict[str, list[str]] = {}
    seen: set[bytes] = set()
    dropped = 0
    for index, request in enumerate(ready):
        digest = request_digest(request)
        if digest in seen:
            dropped += 1
            skipped.append(
                SendResult(
                    request=originals[index],
                    outcome=Outcome.SKIPPED,
                    error=DuplicateRequestError("an identical request earlier in this run"),
                    index=index,
                    reason=SkipReason.DUPLICATE_IN_RUN,
                )
            )
            continue
        seen.add(digest)
        group_key = (request.phone_number_id, request.template_name, request.language)
        group = groups.get(group_key)
        if group is None:
            group = groups[group_key] = _Group(*group_key, originals)
        identity = _identity(request)
        earlier = group.phones.get(request.recipient_phone)
        if earlier is not None:
            problems[f"requests[{index}].recipient_phone"] = [
                f"repeats requests[{earlier[0]}] (same number, template and language) with "
                "different variables: one bulk send keeps only one of them"
            ]
            continue
        group.phones[request.recipient_phone] = (index, identity)
        journal_key = key(originals[index]) if key is not None else digest.hex()
        if store is not None:
            entry = store.lookup(journal_key)
            if entry is not None and entry.may_have_been_delivered:
                state = entry.state
                if state == IN_FLIGHT:
                    # An earlier run stopped with its chunk on the wire.
                    state = Outcome.UNKNOWN.value
                    store.finish(
                        journal_key,
                        Outcome.UNKNOWN,
                        error=f"chunk {entry.batch}: on the wire when an earlier run stopped",
                    )
                where = f" (bulk send {entry.message_id})" if entry.message_id else ""
                chunk = f" in chunk {entry.batch}" if entry.batch else ""
                skipped.append(
                    SendResult(
                        request=originals[index],
                        outcome=Outcome.SKIPPED,
                        error=AlreadyProcessedError(
                            f"the journal has this request as {state}{chunk}{where}"
                        ),
                        index=index,
                        reason=SkipReason.JOURNAL_SENT
                        if state == Outcome.SENT.value
                        else SkipReason.JOURNAL_UNKNOWN,
                    )
                )
                continue
        group.members.append((index, request, journal_key))
    if problems:
        raise InvalidRequestError(problems)
    groups = {k: g for k, g in groups.items() if g.members}
    return _Plan(groups, skipped, dropped)


# -- ambiguity -----------------------------------------------------------------------------


def _unknown(
    exc: DeliveryUnknownError, request: BulkSendRequest, attempted_at: datetime
) -> BulkSendUnknownError:
    status = getattr(exc, "status_code", None)
    error = BulkSendUnknownError(
        f"send-bulk failed after the request may have reached the server: {exc.message}; "
        "not retried",
        request=request,
        attempts=exc.attempts,
        attempted_at=attempted_at,
        status_code=status if isinstance(status, int) else None,
    )
    for name in ("endpoint", "url"):
        value = getattr(exc, name, None)
        if value is not None:
            setattr(error, name, value)
    return error
