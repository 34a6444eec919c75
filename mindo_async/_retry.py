"""The retry decision: a pure function from what happened to what to do next."""

from __future__ import annotations

import random as _random
from collections.abc import Callable

import attrs

from ._errors import (
    APIConnectionError,
    APIError,
    DeliveryUnknownError,
    MindoError,
    RateLimitError,
    ServerError,
)


@attrs.frozen
class RetryPolicy:
    """How many times, and after how long, to retry a send that provably did not happen.

    ``retry_ambiguous=True`` also retries failures after which the message may
    already have been delivered; that can deliver it twice.
    """

    max_retries: int = 2
    retry_ambiguous: bool = False
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    #: A ``Retry-After`` longer than this is not waited for: the error is raised.
    max_retry_after: float = 60.0

    def backoff(self, retry_number: int, random: Callable[[], float] = _random.random) -> float:
        """Full-jitter exponential backoff before retry number ``retry_number`` (from 1)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** (retry_number - 1))
        return random() * ceiling

    def delay_before_retry(
        self,
        error: MindoError,
        attempts: int,
        random: Callable[[], float] = _random.random,
        *,
        idempotent: bool = False,
    ) -> float | None:
        """Seconds to wait before attempt ``attempts + 1``, or ``None`` to give up and raise.

        Retried: failures that prove the request never left (``APIConnectionError``
        marked retryable), 429 and 503 (refused before processing). Never retried:
        every other answer, and every ``DeliveryUnknownError`` unless
        ``retry_ambiguous`` is set. A server's ``Retry-After`` replaces the backoff;
        one longer than ``max_retry_after`` means giving up.

        For an ``idempotent`` endpoint (a read) the rules are a read's: every
        failure on the connection, 429, 500, 502, 503 and 504 are retried (not 501:
        "not implemented" will not change), with the same backoff.
        """
        if attempts > self.max_retries:
            return None
        if not is_retryable(error, retry_ambiguous=self.retry_ambiguous, idempotent=idempotent):
            return None
        retry_after = (
            error.retry_after if isinstance(error, (RateLimitError, ServerError)) else None
        )
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after
        return self.backoff(attempts, random)


#: The statuses after which a read (GET) is tried again.
READ_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_retryable(
    error: MindoError, *, retry_ambiguous: bool = False, idempotent: bool = False
) -> bool:
    """Whether sending again after ``error`` is safe (or allowed, for ambiguous errors).

    ``idempotent``: the request is a read, which may be repeated after any
    failure on the connection and after 429, 500, 502, 503 and 504.

    A redirect (3xx) is never retried, even with ``retry_ambiguous``: the same
    request would get the same answer.
    """
    if isinstance(error, APIError) and 300 <= error.status_code < 400:
        return False
    if idempotent:
        if isinstance(error, APIConnectionError):
            return error.retryable
        status = getattr(error, "status_code", None)
        return isinstance(error, (RateLimitError, ServerError)) and status in READ_RETRY_STATUSES
    if isinstance(error, DeliveryUnknownError):
        return retry_ambiguous
    if isinstance(error, APIConnectionError):
        return error.retryable
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, ServerError):
        return error.status_code == 503
    return False


def settle(error: MindoError, earlier: DeliveryUnknownError | None) -> MindoError:
    """The error to raise when a request gives up with ``error``.

    ``earlier`` is the first failure of an earlier attempt of the same request
    after which it may have been delivered (a 500, a connection dropped after
    sending, a read timeout), or ``None``. Once an attempt was ambiguous, the
    end result can only be sent or unknown: a later 429, 503, 4xx or connection
    failure proves only that *that* attempt did nothing, so it is raised as a
    ``DeliveryUnknownError`` whose ``__cause__`` is ``error``. Without an
    earlier ambiguous attempt, or when ``error`` already says "unknown",
    ``error`` is returned as is.
    """
    if earlier is None or isinstance(error, DeliveryUnknownError):
        return error
    request = getattr(error, "request", None) or earlier.request
    attempts = int(getattr(error, "attempts", 0) or earlier.attempts)
    unknown = DeliveryUnknownError(
        f"an earlier attempt may have delivered it ({_describe(earlier)}); "
        f"the last attempt failed with {_describe(error)}",
        request=request,
        attempts=attempts,
    )
    unknown.__cause__ = error
    return unknown


def _describe(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error)
    status = getattr(error, "status_code", None)
    prefix = f"HTTP {status}: " if status is not None else ""
    return f"{type(error).__name__}: {prefix}{text}"
