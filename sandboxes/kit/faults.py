"""Fault injection, shared by both sandbox servers (the Repzo sandbox and the ERP stub): what
goes wrong with a request before (or after) the server serves it.

A plan holds random faults (each a share of the matching requests, drawn from an RNG seeded by
the plan, so a run replays) and latency. A script holds deterministic ones ("the next 2 GETs
of /client answer 429") for unit tests; a script entry wins over the plan. A
:class:`FaultInjector` decides; :func:`serve_with_faults` carries the decision out on the
handler's socket (only the handler owns it: a dropped connection is closed with no reply at
all, a truncated reply promises its full Content-Length and sends half). What is particular to
each server, the shape of its error replies and what it counts, is passed in.
"""

from __future__ import annotations

import functools
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sandboxes.kit.http import JsonRequestHandler
from sandboxes.kit.replies import Reply

FaultKind = Literal["429", "5xx", "drop", "truncate", "reject"]
"""``reject`` answers a 4xx validation error (400 by default) without running the operation:
a record the server refuses, for tests of per-record failures."""
DEFAULT_5XX = (500, 502, 503)
NO_RESPONSE = 0
"""Status counted for a request whose connection was dropped before any reply."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scope(_Model):
    """Which requests a fault applies to: all, or those of one method and/or path pattern."""

    method: str | None = None
    path: str | None = None
    """Regular expression searched in the request path (no query string)."""

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _pattern(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or _pattern(self.path).search(path) is not None


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


class FaultRule(Scope):
    kind: FaultKind
    rate: float = Field(1.0, ge=0, le=1)
    """Share of the matching requests that fail."""
    statuses: tuple[int, ...] = DEFAULT_5XX
    """For 5xx: the statuses to pick from."""
    after: bool = False
    """For 5xx and drop: run the operation first, then lose its reply, as when a gateway times
    out on a write that went through. (A truncated reply always comes after the operation, and
    a 429 always before it.)"""

    @field_validator("statuses")
    @classmethod
    def _server_errors(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 500 <= status <= 599 for status in value):
            raise ValueError("statuses must be 5xx codes")
        return value


class LatencyRule(Scope):
    min_ms: int = Field(ge=0)
    max_ms: int | None = None
    """Upper end of a uniform range; None for a fixed delay."""
    rate: float = Field(1.0, ge=0, le=1)
    """Share of the matching requests delayed: below 1 for spikes now and then. A request the
    rule spares goes on to the next latency rule."""

    @model_validator(mode="after")
    def _ordered(self) -> LatencyRule:
        if self.max_ms is not None and self.max_ms < self.min_ms:
            raise ValueError("max_ms must not be below min_ms")
        return self


class FaultPlan(_Model):
    rules: tuple[FaultRule, ...] = ()
    latency: tuple[LatencyRule, ...] = ()
    retry_after: int = Field(1, ge=0)
    """Seconds in the Retry-After header of a 429."""
    seed: int = 0


class FaultSettings(_Model):
    """The short way to write a plan, used by ``set_faults(...)``, the admin API and the CLI:
    one rate per kind, all limited to the same method/path, plus any scoped ``rules``."""

    latency_ms: int | tuple[int, int] | None = None
    rate_429: float = Field(0.0, ge=0, le=1)
    retry_after: int = Field(1, ge=0)
    rate_5xx: float = Field(0.0, ge=0, le=1)
    statuses_5xx: tuple[int, ...] = DEFAULT_5XX
    rate_drop: float = Field(0.0, ge=0, le=1)
    rate_truncate: float = Field(0.0, ge=0, le=1)
    method: str | None = None
    path: str | None = None
    after: bool = False
    seed: int = 0
    rules: tuple[FaultRule, ...] = ()
    latency: tuple[LatencyRule, ...] = ()

    def to_plan(self) -> FaultPlan:
        scope = {"method": self.method, "path": self.path}
        rates: tuple[tuple[FaultKind, float], ...] = (
            ("429", self.rate_429),
            ("5xx", self.rate_5xx),
            ("drop", self.rate_drop),
            ("truncate", self.rate_truncate),
        )
        rules = [
            FaultRule(kind=kind, rate=rate, statuses=self.statuses_5xx, after=self.after, **scope)
            for kind, rate in rates
            if rate > 0
        ]
        latency = list(self.latency)
        if self.latency_ms is not None:
            low, high = (
                (self.latency_ms, None) if isinstance(self.latency_ms, int) else self.latency_ms
            )
            latency.insert(0, LatencyRule(min_ms=low, max_ms=high, **scope))
        return FaultPlan(
            rules=(*rules, *self.rules),
            latency=tuple(latency),
            retry_after=self.retry_after,
            seed=self.seed,
        )


class ScriptedFault(Scope):
    """The next ``count`` matching requests fail this way."""

    kind: FaultKind
    count: int = Field(1, ge=1)
    status: int | None = None
    """For 5xx: the status (default 500); for reject: the 4xx status (default 400)."""
    retry_after: int | None = Field(None, ge=0)
    """For 429: overrides the plan's Retry-After."""
    after: bool = False
    message: str | None = None
    """For 429, 5xx and reject: the error message to answer with instead of the sandbox's own, as
    a server that echoes what it was sent (``invalid api-key <key>``)."""


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    delay_s: float = 0.0
    kind: FaultKind | None = None
    status: int | None = None
    """The status to answer with for 429 and 5xx."""
    retry_after: int | None = None
    after: bool = False
    message: str | None = None
    """The error message to answer with, when a scripted fault gives one."""


NO_FAULT = Decision()


@dataclass
class _Pending:
    fault: ScriptedFault
    left: int


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._rng = random.Random(0)
        self._script: list[_Pending] = []

    def configure(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)

    def add_script(self, fault: ScriptedFault) -> None:
        with self._lock:
            self._script.append(_Pending(fault, fault.count))

    def clear(self) -> None:
        with self._lock:
            self._plan = FaultPlan()
            self._rng = random.Random(0)
            self._script.clear()

    def plan(self) -> FaultPlan:
        with self._lock:
            return self._plan

    def scripted(self) -> list[tuple[ScriptedFault, int]]:
        """Script entries still waiting, with how many requests each has left."""
        with self._lock:
            return [(pending.fault, pending.left) for pending in self._script]

    def decide(self, method: str, path: str) -> Decision:
        with self._lock:
            plan = self._plan
            delay_s = 0.0
            for rule in plan.latency:
                if not rule.matches(method, path):
                    continue
                # A rule for every request draws nothing, so plans without spikes replay the
                # random sequence they always did.
                if rule.rate < 1 and self._rng.random() >= rule.rate:
                    continue
                high = rule.min_ms if rule.max_ms is None else rule.max_ms
                delay_s = self._rng.uniform(rule.min_ms, high) / 1000
                break
            scripted = self._next_scripted(method, path, plan.retry_after, delay_s)
            if scripted is not None:
                return scripted
            for fault in plan.rules:
                # Draw for every matching rule, hit or not, so one rule's outcome never shifts
                # the random sequence another rule sees: the same seed replays the same run.
                if fault.matches(method, path) and self._rng.random() < fault.rate:
                    return Decision(
                        delay_s=delay_s,
                        kind=fault.kind,
                        status=self._status(fault.kind, fault.statuses),
                        retry_after=plan.retry_after if fault.kind == "429" else None,
                        after=fault.after,
                    )
            return Decision(delay_s=delay_s) if delay_s else NO_FAULT

    def _next_scripted(
        self, method: str, path: str, retry_after: int, delay_s: float
    ) -> Decision | None:
        for index, pending in enumerate(self._script):
            fault = pending.fault
            if not fault.matches(method, path):
                continue
            pending.left -= 1
            if pending.left == 0:
                del self._script[index]
            default = 400 if fault.kind == "reject" else 500
            statuses = (fault.status,) if fault.status else (default,)
            return Decision(
                delay_s=delay_s,
                kind=fault.kind,
                status=self._status(fault.kind, statuses),
                retry_after=(
                    (fault.retry_after if fault.retry_after is not None else retry_after)
                    if fault.kind == "429"
                    else None
                ),
                after=fault.after,
                message=fault.message,
            )
        return None

    def _status(self, kind: FaultKind, statuses: tuple[int, ...]) -> int | None:
        if kind == "429":
            return 429
        if kind == "reject":
            return statuses[0] if statuses and 400 <= statuses[0] < 500 else 400
        if kind == "5xx":
            return statuses[0] if len(statuses) == 1 else self._rng.choice(statuses)
        return None


# -- carrying a decision out ----------------------------------------------------------------

Refusal = Callable[[int, str], Reply]
"""(status, message) -> the server's own error reply (its JSON error shape)."""

DEFAULT_MESSAGES = {
    "429": "Too Many Requests",
    "reject": "Validation failed: the record was refused (injected by the sandbox)",
    "5xx": "Injected server error",
}


def failure_status(decision: Decision) -> int:
    """The status a failing decision answers with; NO_RESPONSE for a dropped connection."""
    if decision.kind == "drop" or decision.status is None:
        return NO_RESPONSE
    return decision.status


def fails_before(decision: Decision) -> bool:
    """Whether the request fails without being served: a 429 or a rejection always, a 5xx or
    a drop unless it comes ``after`` the operation."""
    return decision.kind in ("429", "reject") or (
        decision.kind in ("5xx", "drop") and not decision.after
    )


def serve_with_faults(
    handler: JsonRequestHandler,
    decision: Decision,
    *,
    serve: Callable[[], Reply],
    refusal: Refusal,
    count: Callable[[int], None],
    count_fault: Callable[[str], None],
    answer: Callable[[Reply], bool] | None = None,
) -> None:
    """Serve one request through ``decision``: wait its latency, then fail it before the
    operation, or run the operation (``serve``) and lose, cut or send its reply.

    ``count(status)`` records the request with the status the client gets (NO_RESPONSE when it
    gets none), always before the answer goes out: a client that reads the statistics right
    after its answer finds its own request there. ``count_fault(kind)`` records each injected
    fault (``latency`` included). ``answer(reply)``, when given, is asked once the operation's
    reply is counted: False means the server dealt with the connection itself (an answer it
    drops on purpose), and nothing is sent."""
    if decision.delay_s:
        count_fault("latency")
        time.sleep(decision.delay_s)
    if decision.kind is not None:
        count_fault(decision.kind)
    if fails_before(decision):
        count(failure_status(decision))
        _fail(handler, decision, refusal)
        return
    reply = serve()
    if decision.kind is not None and decision.kind != "truncate":
        # A 5xx or a drop after the operation: it happened, its reply is lost.
        count(failure_status(decision))
        _fail(handler, decision, refusal)
        return
    count(reply.status)
    if answer is not None and not answer(reply):
        return
    handler.write_reply(reply, truncate=decision.kind == "truncate")


def _fail(handler: JsonRequestHandler, decision: Decision, refusal: Refusal) -> None:
    """Carry out a 429, a rejection, a 5xx or a dropped connection."""
    if decision.kind == "drop" or decision.status is None:
        handler.abort()
        return
    kind = "429" if decision.status == 429 else "reject" if decision.status < 500 else "5xx"
    reply = refusal(decision.status, decision.message or DEFAULT_MESSAGES[kind])
    if decision.retry_after is not None:
        reply.headers["Retry-After"] = str(decision.retry_after)
    handler.write_reply(reply)
