"""Exceptions raised by mindo_async.

The hierarchy, and what each branch tells the caller about delivery::

    MindoError
    ├── ConfigurationError (ValueError)       bad api_key, base_url or options (at construction)
    ├── ClientClosedError (RuntimeError)      the client was used after aclose()
    ├── InvalidRequestError (ValueError)      refused before any I/O: NOT delivered
    ├── APIConnectionError                    provably never reached the server: NOT delivered
    ├── DeliveryUnknownError                  may have been delivered: do not resend blindly
    │   └── BulkSendUnknownError              send-bulk: the bulk send may exist (find_candidates)
    ├── BulkSendTimeoutError (TimeoutError)   bulk_sends.wait gave up; the bulk send goes on
    ├── SkippedError                          fan-out only: never attempted: NOT delivered
    │   ├── DuplicateRequestError
    │   └── AlreadyProcessedError
    ├── PreflightError                        the pre-flight found problems: nothing was sent
    ├── UnknownPhoneNumberError (KeyError)    no such phone_number_id in the business accounts
    ├── UnknownTemplateError (KeyError)       no such template (or language) for that account
    └── APIError                              the server answered with an error status
        ├── BadRequestError (400)             NOT delivered
        │   ├── ValidationError
        │   ├── TemplateNotApprovedError
        │   └── QuotaExceededError            the number's daily quota of recipients is used up
        ├── AuthenticationError (401)         NOT delivered
        ├── PermissionDeniedError (403)       NOT delivered
        ├── NotFoundError (404)               NOT delivered
        │   ├── TemplateNotFoundError
        │   └── PhoneNumberNotFoundError
        ├── EndpointNotAvailableError         404 (not the API's JSON), 405 or 501: not offered yet
        ├── RateLimitError (429)              NOT delivered (refused before processing)
        ├── ServerError (5xx)                 501 and 503: NOT delivered
        │   └── ServerDeliveryUnknownError (also DeliveryUnknownError): 500, 502, 504, ...
        └── InvalidResponseError              a read's answer is not the documented one
            └── UnexpectedResponseError (also DeliveryUnknownError): the same for a send, a
                                              2xx not echoing it, or a 3xx to it

Only the non-idempotent endpoints (``send`` and ``send-bulk``) raise
``DeliveryUnknownError``: a read (GET) changes nothing at the server, so its
ambiguous failures are ``APIConnectionError`` or ``ServerError`` and are retried.

Errors raised for a request carry ``endpoint`` (the ``Endpoint`` of the table),
``method`` and ``url``, and ``request``: the request object of that endpoint
(a ``SendRequest`` for a send).

Every exception text is built from the server's message and the request's
non-secret fields only: the API key never appears in one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._endpoints import Endpoint
    from .types.bulk_sends import BulkSend


class MindoError(Exception):
    """Base class of every exception raised by mindo_async."""


class _RequestContext:
    """Where a request-level error happened: set by the requester when it raises."""

    #: The endpoint of the failed request, from the endpoint table.
    endpoint: Endpoint | None = None
    #: The URL requested (it never holds the API key, which travels in a header).
    url: str | None = None

    @property
    def method(self) -> str | None:
        """The HTTP method of the failed request."""
        return self.endpoint.method if self.endpoint is not None else None


class ConfigurationError(MindoError, ValueError):
    """The client was configured wrongly (missing or malformed key, unsafe base URL)."""


class ClientClosedError(MindoError, RuntimeError):
    """The client was used after it was closed."""


class EventLoopMismatchError(MindoError, RuntimeError):
    """An ``AsyncMindo`` was used from an event loop other than the one it was first
    used in (one global client, ``asyncio.run`` per call); nothing was sent."""


class InvalidRequestError(MindoError, ValueError):
    """The request was refused on the client before any I/O; nothing was sent.

    ``errors`` maps each offending field name to the list of its problems.
    """

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in errors.items()}
        details = "; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in self.errors.items())
        super().__init__(f"invalid request, nothing was sent: {details}")


class APIConnectionError(_RequestContext, MindoError):
    """The request failed on the connection, even after retries.

    For a send: it provably never reached the server; nothing was sent (a send
    that may have reached it is a ``DeliveryUnknownError`` instead). For a read,
    any failure on the connection (read timeouts and drops included).

    ``retryable`` is false when trying again cannot help (a TLS certificate
    failure, an unsupported URL), so it was not retried.
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 1,
        retryable: bool = True,
        request: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.retryable = retryable
        self.request = request

    def __str__(self) -> str:
        return f"{self.message} (never reached the server; {self.attempts} attempt(s))"


class DeliveryUnknownError(_RequestContext, MindoError):
    """The request may have been processed: the message may have been delivered.

    Raised for read timeouts, connections dropped after the request was sent,
    500/502/504 and other ambiguous 5xx answers, and 2xx answers that are not the
    documented body. The library does not retry these by default, because a
    retry could deliver the message twice. ``request`` is the request that was
    sent, so the caller can decide (check with the recipient, or resend knowingly).
    """

    request: Any
    attempts: int

    def __init__(self, message: str, *, request: Any = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.attempts = attempts

    def __str__(self) -> str:
        return f"{self.message} (the message may have been delivered; {self.attempts} attempt(s))"


class SharedStateUnavailableError(MindoError, ConnectionError):
    """The shared rate limiter or journal (Redis, say) could not be reached in time.

    Raised before anything is sent: without its slot and its claim, nothing goes out.
    """


class SkippedError(MindoError):
    """A fan-out request that was never attempted; nothing was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DuplicateRequestError(SkippedError):
    """Skipped: an identical request earlier in the same run was sent instead."""


class AlreadyProcessedError(SkippedError):
    """Skipped: the journal says this request was already sent (or may have been)."""


class APIError(_RequestContext, MindoError):
    """The server answered with an error status.

    ``status_code`` is the HTTP status, ``body`` the decoded JSON body (or the
    raw text when it is not JSON), ``message`` the server's message, and
    ``attempts`` the number of HTTP attempts made.
    """

    status_code: int
    body: Any
    message: str
    attempts: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        attempts: int = 1,
        request: Any = None,
    ) -> None:
        MindoError.__init__(self, message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.attempts = attempts
        self.request = request

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {self.message}"


class BadRequestError(APIError):
    """400: the server refused the request; nothing was sent."""


class ValidationError(BadRequestError):
    """400 with per-field errors; ``field_errors`` maps field name to messages."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        attempts: int = 1,
        request: Any = None,
        field_errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, body=body, attempts=attempts, request=request
        )
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})


class TemplateNotApprovedError(BadRequestError):
    """400: the template exists but does not have APPROVED status in Meta."""


class AuthenticationError(APIError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIError):
    """403: the API key may not use this resource."""


class NotFoundError(APIError):
    """404: something named in the request does not exist."""


class TemplateNotFoundError(NotFoundError):
    """404: no template of that name and language in this business account."""


class PhoneNumberNotFoundError(NotFoundError):
    """404: no WhatsApp phone number with that ``phone_number_id``."""


class RateLimitError(APIError):
    """429: refused before processing; ``retry_after`` is the server's wait in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body: Any = None,
        attempts: int = 1,
        request: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, body=body, attempts=attempts, request=request
        )
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx. A 501 or 503 was refused before processing; other 5xx are ``DeliveryUnknownError``.

    ``retry_after`` is the server's ``Retry-After`` in seconds, if it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        attempts: int = 1,
        request: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, body=body, attempts=attempts, request=request
        )
        self.retry_after = retry_after


class ServerDeliveryUnknownError(ServerError, DeliveryUnknownError):
    """500, 502, 504 (and other ambiguous 5xx): the gateway may have sent the message."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        attempts: int = 1,
        request: Any = None,
        retry_after: float | None = None,
    ) -> None:
        ServerError.__init__(
            self,
            message,
            status_code=status_code,
            body=body,
            attempts=attempts,
            request=request,
            retry_after=retry_after,
        )

    def __str__(self) -> str:
        return (
            f"HTTP {self.status_code}: {self.message} "
            f"(the message may have been delivered; {self.attempts} attempt(s))"
        )


class InvalidResponseError(APIError):
    """The answer to a read is not the documented one (a 2xx body of another shape, a 3xx,
    or a pagination link to another host, refused without a request)."""


class UnexpectedResponseError(InvalidResponseError, DeliveryUnknownError):
    """A 2xx (or other) answer to a send whose body is not the documented one: it may have
    been sent."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        attempts: int = 1,
        request: Any = None,
    ) -> None:
        APIError.__init__(
            self, message, status_code=status_code, body=body, attempts=attempts, request=request
        )

    def __str__(self) -> str:
        return (
            f"HTTP {self.status_code}: {self.message} "
            f"(the message may have been delivered; {self.attempts} attempt(s))"
        )


class QuotaExceededError(BadRequestError):
    """The phone number's daily quota of distinct recipients is used up; nothing was sent.

    The API does not document this answer; the library reads a 400 whose JSON body
    says ``"code": "quota_exceeded"`` (the emulator's answer) as this error. A
    fan-out skips the rest of that number's sends after one.
    """


class EndpointNotAvailableError(APIError):
    """The server does not offer this endpoint yet (a non-JSON 404, a 405 or a 501).

    The message-status endpoint is "coming soon" in the API's own overview: this
    error says so instead of looking like an unknown id.
    """

    @classmethod
    def from_error(cls, error: APIError, message: str) -> EndpointNotAvailableError:
        """This error with everything ``error`` carries (status, body, endpoint, ...)."""
        new = cls.__new__(cls)
        new.__dict__.update(error.__dict__)
        new.message = message
        new.args = (message,)
        return new


class UnknownPhoneNumberError(MindoError, KeyError):
    """No phone number with that ``phone_number_id`` in the business accounts.

    ``phone_number_id`` is the id asked for and ``known`` the ids that exist.
    """

    def __init__(self, phone_number_id: str, known: tuple[str, ...]) -> None:
        self.phone_number_id = phone_number_id
        self.known = known
        listed = ", ".join(known) if known else "none"
        self.message = f"no phone number with phone_number_id {phone_number_id!r}; known: {listed}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UnknownTemplateError(MindoError, KeyError):
    """No template of that name (or not in that language) for the business account.

    ``languages`` are the languages the template exists in there (empty when the
    name itself is unknown); ``known`` the template names that exist.
    """

    def __init__(
        self,
        name: str,
        language: str | None,
        *,
        languages: tuple[str, ...] = (),
        known: tuple[str, ...] = (),
        phone_number_id: str | None = None,
    ) -> None:
        self.name = name
        self.language = language
        self.languages = languages
        self.known = known
        self.phone_number_id = phone_number_id
        where = f" for phone number {phone_number_id}" if phone_number_id else ""
        if languages:
            self.message = (
                f"template {name!r} has no language {language!r}{where}; "
                f"it exists in: {', '.join(languages)}"
            )
        else:
            names = ", ".join(known) if known else "none"
            self.message = f"no template {name!r}{where}; templates: {names}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class PreflightError(MindoError):
    """The pre-flight found problems, so nothing was sent; ``report`` lists them.

    ``report`` is the ``PreflightReport`` (typed loosely here: this module
    imports nothing of the library, so that every module can import it).
    """

    report: Any

    def __init__(self, report: Any) -> None:
        self.report = report
        problems = report.problems
        shown = "; ".join(problem.message for problem in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        self.message = (
            f"the pre-flight found {len(problems)} problem(s), nothing was sent: {shown}{more}"
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class BulkSendUnknownError(DeliveryUnknownError):
    """``send-bulk`` failed ambiguously: the bulk send may exist, and it was not retried.

    Raised for a read timeout, a connection dropped after the request was sent,
    a 500, 502 or 504, or a 2xx whose body is not the documented one. Creating
    it again could message every recipient twice, so the library never does.
    ``await exc.find_candidates(mindo)`` lists the bulk sends that match this
    attempt (template, language, number, recipient count, created within a few
    minutes of ``attempted_at``), so you can tell whether it exists.

    The original error is ``__cause__`` (a ``ServerDeliveryUnknownError`` keeps
    its ``status_code`` there). ``request`` is the ``BulkSendRequest`` sent.
    """

    def __init__(
        self,
        message: str,
        *,
        request: Any = None,
        attempts: int = 1,
        attempted_at: datetime | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, request=request, attempts=attempts)
        #: When the POST was started (the client's clock, UTC).
        self.attempted_at = attempted_at
        #: The HTTP status of an ambiguous answer (500, 502, 504, 2xx), if there was one.
        self.status_code = status_code

    def __str__(self) -> str:
        return (
            f"{self.message} (the bulk send may have been created; {self.attempts} attempt(s); "
            "see find_candidates)"
        )

    async def find_candidates(
        self, mindo: _HasBulkSends, *, within: timedelta = timedelta(minutes=10)
    ) -> list[BulkSend]:
        """The bulk sends that match this attempt, closest in time first (I/O: lists them).

        ``mindo`` is the ``AsyncMindo`` that raised it (or any with the same
        account): the same as ``await mindo.bulk_sends.find_candidates(exc)``.
        A match has the attempt's template name and language, its sending number
        (mapped from Meta's ``phone_number_id`` to Mindo's internal id through
        ``business-accounts``), its recipient count, and was created within
        ``within`` of ``attempted_at``. An empty list means none was found; a
        bulk send created by someone else with the same shape at the same time
        would match too.
        """
        return await mindo.bulk_sends.find_candidates(self, within=within)


class _CandidateFinder(Protocol):
    async def find_candidates(
        self, error: BulkSendUnknownError, *, within: timedelta = ...
    ) -> list[BulkSend]: ...


class _HasBulkSends(Protocol):
    """An ``AsyncMindo``, as far as ``find_candidates`` needs one."""

    @property
    def bulk_sends(self) -> _CandidateFinder: ...


class BulkSendTimeoutError(MindoError, TimeoutError):
    """``bulk_sends.wait`` gave up before the bulk send reached a terminal status.

    The bulk send goes on at the server. ``last`` is the last ``BulkSend`` read
    (``None`` if no poll succeeded).
    """

    def __init__(
        self, message: str, *, bulk_send_id: str, last: BulkSend | None, timeout: float
    ) -> None:
        super().__init__(message)
        self.message = message
        self.bulk_send_id = bulk_send_id
        self.last = last
        self.timeout = timeout
