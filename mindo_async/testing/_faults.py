"""Faults the emulator injects: what real networks and gateways do to a request.

Two sources, consulted in this order for every request to a route:

1. the script: faults queued with ``Emulator.script(...)``, one consumed per request;
2. the route's ``FaultConfig``: an added latency (with jitter) and probabilities
   of 429, 503, 500 and of a dropped connection, drawn from one
   ``random.Random(seed)``, so a seed gives the same sequence every run.

A third fault is not random: the per-phone-number rate limit
(``FaultConfig.phone_rate_limit``), a token bucket like Meta's 80 messages per
second, applied to requests that passed validation.

Whether a fault happens before or after processing decides whether the message
is in the ledger: 429 and 503 are rejections before any work (not in the
ledger); a 500 defaults to *after* processing (in the ledger, as a gateway
that called Meta and then failed: the worst case for a client), and a dropped
connection is after processing unless asked otherwise.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Literal

import attrs

#: Meta's default throughput per business phone number, in messages per second.
META_RATE_LIMIT = 80.0

FaultKind = Literal["pass", "status", "drop", "slow"]

_STATUS_OUTCOMES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}

_STATUS_ERRORS = {
    429: "Rate limit exceeded for this phone number (Meta error 130429); retry later",
    500: "Internal server error (injected by the Mindo emulator)",
    502: "Bad gateway (injected by the Mindo emulator)",
    503: "Service temporarily unavailable (injected by the Mindo emulator)",
    504: "Gateway timeout (injected by the Mindo emulator)",
}


def _check_delay(_instance: object, _attribute: object, value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"a delay must be a finite number of seconds >= 0, got {value!r}")


@attrs.frozen
class Fault:
    """One scripted fault, consumed by one request. Build it with the class methods.

    ``delay`` (seconds) is added to the route's configured latency before the
    response (or the dropped connection) happens.
    """

    kind: FaultKind
    status_code: int | None = None
    retry_after: int | None = None
    after_processing: bool = False
    delay: float = attrs.field(default=0.0, validator=_check_delay)
    error: str | None = None

    @classmethod
    def status(
        cls,
        status_code: int,
        *,
        retry_after: int | None = None,
        after_processing: bool | None = None,
        error: str | None = None,
    ) -> Fault:
        """Answer ``status_code`` with ``{"error": ...}`` (and ``Retry-After`` if given).

        ``after_processing`` says whether the message is processed (and in the
        ledger) before the error is answered. When not given: 429 and 503 are
        before processing (a rejection, not in the ledger); every other status,
        500 included, is after processing (in the ledger: the worst case).
        """
        if not 100 <= status_code <= 599:
            raise ValueError(f"not an HTTP status code: {status_code!r}")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0 seconds")
        if after_processing is None:
            after_processing = status_code not in (429, 503)
        return cls(
            "status",
            status_code=status_code,
            retry_after=retry_after,
            after_processing=after_processing,
            error=error,
        )

    @classmethod
    def drop_after_processing(cls, *, delay: float = 0.0) -> Fault:
        """Process the message (it is in the ledger), then close the connection unanswered.

        Over sockets the TCP connection is aborted; in-process (``httpx.ASGITransport``)
        the app raises ``httpx.RemoteProtocolError``, which the transport passes to
        the client just as httpx's socket transport would raise it.
        """
        return cls("drop", after_processing=True, delay=delay)

    @classmethod
    def drop_before_processing(cls, *, delay: float = 0.0) -> Fault:
        """Close the connection after reading the request, without processing it."""
        return cls("drop", after_processing=False, delay=delay)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Process the message (it is in the ledger) and answer 200 only after ``seconds``.

        Longer than the client's read timeout, this is the "timed out, but sent" case.
        """
        return cls("slow", after_processing=True, delay=seconds)

    @classmethod
    def none(cls) -> Fault:
        """No fault: answer this request normally (a placeholder in a script)."""
        return cls("pass")

    @property
    def outcome(self) -> str:
        """The ``Ledger.counts`` key of a request that met this fault."""
        if self.kind == "drop":
            return "dropped" if self.after_processing else "dropped_before_processing"
        if self.kind != "status" or self.status_code is None:
            return "sent"
        base = _STATUS_OUTCOMES.get(self.status_code)
        if base is None:
            base = "server_error" if self.status_code >= 500 else f"status_{self.status_code}"
        return f"{base}_after_processing" if self.after_processing else base

    @property
    def error_message(self) -> str:
        """The ``error`` string of the response body."""
        if self.error is not None:
            return self.error
        assert self.status_code is not None
        return _STATUS_ERRORS.get(self.status_code, f"HTTP {self.status_code} (injected fault)")


def _probability(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _rate(value: float | bool | None) -> float | None:
    # True switches Meta's default on; a bare bool must not become 1 message/s.
    if value is True:
        return META_RATE_LIMIT
    if value is False or value is None:
        return None
    return float(value)


def _check_rate(_instance: object, _attribute: object, value: float | None) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"phone_rate_limit must be a positive number or None, got {value!r}")


@attrs.frozen(kw_only=True)
class FaultConfig:
    """The faults of one route, applied to every request that no scripted fault claimed.

    Latency: every response waits ``latency`` seconds plus a uniform draw in
    ``[0, jitter]``. Probabilities (summing to at most 1) pick at most one of:
    429 with ``Retry-After: retry_after`` (before processing), 503 (before
    processing), 500 (after processing unless ``server_error_after_processing``
    is false), or a dropped connection after processing. ``phone_rate_limit``
    (messages per second per phone number id, burst of the same size; None is
    off, ``META_RATE_LIMIT`` is Meta's default) answers 429 to valid requests
    over the limit, which are then not in the ledger; ``True`` means
    ``META_RATE_LIMIT``.
    """

    latency: float = attrs.field(default=0.0, validator=_check_delay)
    jitter: float = attrs.field(default=0.0, validator=_check_delay)
    rate_limited_probability: float = attrs.field(default=0.0, validator=_probability)
    unavailable_probability: float = attrs.field(default=0.0, validator=_probability)
    server_error_probability: float = attrs.field(default=0.0, validator=_probability)
    drop_probability: float = attrs.field(default=0.0, validator=_probability)
    server_error_after_processing: bool = True
    retry_after: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    phone_rate_limit: float | None = attrs.field(
        default=None, converter=_rate, validator=_check_rate
    )

    def __attrs_post_init__(self) -> None:
        total = (
            self.rate_limited_probability
            + self.unavailable_probability
            + self.server_error_probability
            + self.drop_probability
        )
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities sum to {total}, more than 1")

    def _fault(self, index: int) -> Fault:
        if index == 0:
            return Fault.status(429, retry_after=self.retry_after)
        if index == 1:
            return Fault.status(503, retry_after=self.retry_after)
        if index == 2:
            return Fault.status(500, after_processing=self.server_error_after_processing)
        return Fault.drop_after_processing()

    def draw(self, rng: random.Random) -> tuple[float, Fault | None]:
        """Draw this request's added latency and fault from ``rng``.

        At most two numbers are drawn, always in the same order (jitter if any,
        then the fault if any probability is set), so a seed replays exactly.
        """
        delay = self.latency
        if self.jitter:
            delay += rng.uniform(0.0, self.jitter)
        fault: Fault | None = None
        probabilities = (
            self.rate_limited_probability,
            self.unavailable_probability,
            self.server_error_probability,
            self.drop_probability,
        )
        if any(probabilities):
            roll = rng.random()
            threshold = 0.0
            for index, probability in enumerate(probabilities):
                threshold += probability
                if roll < threshold:
                    fault = self._fault(index)
                    break
        return delay, fault


@attrs.frozen
class Plan:
    """What the emulator does to one request: wait ``delay`` seconds, then apply ``fault``."""

    delay: float = 0.0
    fault: Fault | None = None


class _TokenBucket:
    """``rate`` tokens per second, holding at most ``rate`` (so bursts of ``rate`` pass)."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.updated = now

    def take(self, now: float) -> float:
        """Take a token and return 0, or return the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class FaultInjector:
    """Per-route fault configs, scripts and rate-limit buckets; safe to use from any thread."""

    def __init__(
        self,
        configs: Mapping[str, FaultConfig],
        seed: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._configs = dict(configs)
        self._scripts: dict[str, deque[Fault]] = {}
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}
        self._rng = random.Random(seed)
        self._clock = clock

    def config(self, path: str) -> FaultConfig:
        """The config of ``path`` (the default, fault-free config if none was set)."""
        with self._lock:
            return self._configs.get(path, _NO_FAULTS)

    def set_config(self, path: str, config: FaultConfig) -> None:
        """Replace the config of ``path``; a changed rate limit starts with full buckets."""
        with self._lock:
            old = self._configs.get(path, _NO_FAULTS)
            self._configs[path] = config
            if old.phone_rate_limit != config.phone_rate_limit:
                for key in [key for key in self._buckets if key[0] == path]:
                    del self._buckets[key]

    def script(self, path: str, faults: tuple[Fault, ...]) -> None:
        """Queue ``faults`` for the next requests to ``path``, one per request."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(faults)

    def pending(self, path: str) -> tuple[Fault, ...]:
        """The scripted faults not consumed yet."""
        with self._lock:
            return tuple(self._scripts.get(path, ()))

    def clear_script(self, path: str | None = None) -> None:
        """Drop the queued faults of ``path``, or of every route."""
        with self._lock:
            if path is None:
                self._scripts.clear()
            else:
                self._scripts.pop(path, None)

    def plan(self, path: str) -> Plan:
        """Decide this request's fate: the next scripted fault, else a draw from the config."""
        with self._lock:
            config = self._configs.get(path, _NO_FAULTS)
            script = self._scripts.get(path)
            if script:
                scripted = script.popleft()
                delay = config.latency + scripted.delay
                if config.jitter:
                    delay += self._rng.uniform(0.0, config.jitter)
                return Plan(delay, None if scripted.kind in ("pass", "slow") else scripted)
            delay, fault = config.draw(self._rng)
            return Plan(delay, fault)

    def take_token(self, path: str, phone_number_id: str) -> float:
        """Charge one message to ``phone_number_id``; 0 if allowed, else seconds to wait."""
        with self._lock:
            rate = self._configs.get(path, _NO_FAULTS).phone_rate_limit
            if rate is None:
                return 0.0
            now = self._clock()
            bucket = self._buckets.get((path, phone_number_id))
            if bucket is None:
                bucket = self._buckets[(path, phone_number_id)] = _TokenBucket(rate, now)
            return bucket.take(now)


_NO_FAULTS = FaultConfig()
