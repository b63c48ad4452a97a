"""An ERP stub without its HTTP server: the store, clock, statistics and service, and the
control operations (seed, mutate, reset) that the Python API and the admin endpoints share."""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr, ValidationError

from sandboxes.erp import mutate as mutations
from sandboxes.erp import seeding
from sandboxes.erp.entities import entity
from sandboxes.erp.errors import bad_request
from sandboxes.erp.faults import AnswerFaults, FaultState
from sandboxes.erp.localtime import DEFAULT_UTC_OFFSET, LocalTime
from sandboxes.erp.records import Record
from sandboxes.erp.service import ErpService
from sandboxes.erp.stats import ErpStats, StatsRecorder
from sandboxes.erp.store import RecordStore
from sandboxes.kit.clock import SandboxClock
from sandboxes.kit.faults import (
    FaultInjector,
    FaultKind,
    FaultPlan,
    FaultSettings,
    ScriptedFault,
)

DEFAULT_USERNAME = "sync"
# What config.example.yaml falls back to: a known sandbox default, not a secret.
DEFAULT_PASSWORD = "sandbox-password"  # noqa: S105
PASSWORD_ENV = "ERP_PASSWORD"  # noqa: S105 - the variable's name


@dataclass(frozen=True)
class MutationResult:
    changed: dict[str, list[str]]
    """Per entity, the keys that were changed."""
    updated_at: str
    """The ``updated_at`` they now carry: an ``updated_since`` that finds exactly them."""


class ErpCore:
    def __init__(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        db: str = ":memory:",
        utc_offset: str = DEFAULT_UTC_OFFSET,
        seed: bool | Mapping[str, int] = True,
        random_seed: int = 0,
        dedupe_documents: bool = True,
    ) -> None:
        """``seed``: generate data when the store is empty, with the default sizes (True) or
        the given ones (``{"customers": 300}``); False starts empty. A store that already holds
        data (a file from an earlier run) is never reseeded. ``dedupe_documents``: see the
        property of that name."""
        self.username = username
        self._password = SecretStr(password)
        self.times = LocalTime(utc_offset)
        self.clock = SandboxClock()
        self.store = RecordStore(db)
        self.recorder = StatsRecorder()
        self.service = ErpService(
            self.store, self.clock, self.times, self.recorder, dedupe_documents=dedupe_documents
        )
        self.faults = AnswerFaults()
        """Writes applied whose answers are held or dropped (``hold_answers``...)."""
        self.request_faults = FaultInjector()
        """Random and scripted faults of any request (``set_faults``, ``script_fault``): 429s
        with Retry-After, 5xx, dropped connections, truncated replies, latency."""
        self._mutation_rounds = itertools.count(1)
        if seed is not False and self.store.is_empty():
            self.seed(random_seed=random_seed, **({} if seed is True else dict(seed)))

    def credentials_match(self, username: str, password: str) -> bool:
        # Both compared in constant time, and both always compared.
        user_ok = hmac.compare_digest(username.encode(), self.username.encode())
        password_ok = hmac.compare_digest(
            password.encode(), self._password.get_secret_value().encode()
        )
        return user_ok and password_ok

    # Data

    def seed(self, *, random_seed: int = 0, **sizes: int) -> dict[str, int]:
        """Generate data (see SeedSizes for the sizes and their defaults) on top of what is
        stored; returns how many records of each entity were created."""
        try:
            wanted = seeding.SeedSizes.model_validate(sizes)
        except ValidationError as exc:
            raise bad_request(f"Invalid seed sizes: {_first_error(exc)}.") from None
        now = self.service.now_s()
        return seeding.seed(
            self.service,
            self.store,
            wanted,
            random_seed=random_seed,
            now_s=now,
            today=self.times.today(now),
        )

    def mutate(self, *, seed: int | None = None, **counts: int) -> dict[str, list[str]]:
        """Edit ``counts[entity]`` records of each entity as a user of the ERP would, e.g.
        ``mutate(customers=10, items=5)``; returns the changed keys per entity."""
        return self.apply_mutation(counts, seed=seed).changed

    def apply_mutation(
        self, counts: Mapping[str, int], *, seed: int | None = None
    ) -> MutationResult:
        # Without a seed each call picks other records, yet a whole run stays repeatable.
        round_seed = f"seed-{seed}" if seed is not None else f"round-{next(self._mutation_rounds)}"
        now = self.service.now_s()
        changed = mutations.mutate(self.service, self.store, counts, seed=round_seed, now_s=now)
        for name, keys in changed.items():
            self.recorder.mutated(name, keys)
        return MutationResult(changed, self.times.format(now))

    def get(self, entity_name: str, key: str) -> Record | None:
        return self.store.get(entity(entity_name).name, key)

    def records(self, entity_name: str) -> list[Record]:
        """Every record of an entity in (updated_at, key) order, for assertions."""
        spec = entity(entity_name)
        return self.store.records(spec.name, key_field=spec.key)

    def now(self) -> str:
        """The ERP's current time as it writes it: ``2026-11-29T13:04:05+03:00``."""
        return self.times.format(self.service.now_s())

    # Observability and control

    @property
    def dedupe_documents(self) -> bool:
        """Whether a second POST of an invoice, credit note or payment number returns the first
        document (200), as the stub does by default, or creates a second document with the same
        number (201), as many ERPs do. Clients must then look a document up by its number
        before posting it again."""
        return self.service.dedupe_documents

    @dedupe_documents.setter
    def dedupe_documents(self, value: bool) -> None:
        self.service.dedupe_documents = value

    def hold_answers(self, entity_name: str) -> None:
        """From now on, apply writes to this entity but hold their answers until
        ``release_answers()``: a client killed meanwhile leaves records it never heard of."""
        self.faults.hold(entity(entity_name).name)

    def drop_answers(self, entity_name: str, count: int = 1) -> None:
        """Apply the next ``count`` writes to this entity, then close their connections
        without an answer: the client cannot tell whether they happened."""
        if count < 1:
            raise bad_request("count must be at least 1.")
        self.faults.drop(entity(entity_name).name, count)

    def release_answers(self) -> None:
        """Send every held answer; nothing is held or dropped any more."""
        self.faults.release()

    def answer_faults(self) -> FaultState:
        return self.faults.state()

    def set_faults(self, **settings: Any) -> FaultPlan:
        """Replace the random fault plan of the API (never the control API); see FaultSettings
        for the keywords (``rate_429=0.3, retry_after=1, rate_5xx=0.1, path="customers",
        seed=7``...). Held and dropped answers are separate and stay as they are."""
        plan = FaultSettings.model_validate(settings).to_plan()
        self.request_faults.configure(plan)
        return plan

    def fault_plan(self) -> FaultPlan:
        return self.request_faults.plan()

    def script_fault(
        self,
        kind: FaultKind,
        count: int = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        after: bool = False,
    ) -> None:
        """The next ``count`` API requests matching method/path (a regular expression searched
        in the path, such as ``^/api/v1/customers$``) fail with ``kind``."""
        self.request_faults.add_script(
            ScriptedFault(
                kind=kind,
                count=count,
                method=method,
                path=path,
                status=status,
                retry_after=retry_after,
                after=after,
            )
        )

    def clear_faults(self) -> None:
        """No more random or scripted faults (held and dropped answers: ``release_answers``)."""
        self.request_faults.clear()

    def stats(self) -> ErpStats:
        return self.recorder.snapshot(self.store.counts())

    def reset_stats(self) -> None:
        self.recorder.reset()

    def reset(self) -> None:
        """A brand-new, empty ERP: records, id sequences, statistics, injected faults and
        clock."""
        self.store.clear()
        self.recorder.reset()
        self.request_faults.clear()
        self.clock.reset()

    def close(self) -> None:
        self.faults.release()  # no handler thread stays parked on a held answer
        self.store.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self.username!r}, db={self.store.path!r})"


def _first_error(exc: ValidationError) -> str:
    error: dict[str, Any] = dict(exc.errors()[0])
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
