"""The chaos test's world: both sandboxes faulted, ``syncer`` children started and killed, the
edits people make meanwhile, and what the end state must be.

Everything random is drawn from one seeded RNG (``SYNCER_CHAOS_SEED``), and progress is
measured by the servers' own counters, never by sleeping a fixed time: a slow machine changes
the timing, not what is checked.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from sandboxes.erp import ErpStub
from sandboxes.repzo import FaultRule, LatencyRule, RepzoSandbox
from syncer.engine.snapshots import snapshot
from syncer.mapping.catalog import SHIPPED_DIR, load_mapping
from syncer.mapping.hashing import content_hash
from syncer.mapping.mapping import CompiledMapping, MappingContext, PassThroughRefs
from syncer.state import open_store
from syncer.state.models import IdMapEntry
from tests.engine.conftest import KEY, PASSWORD, T0_MS, USER, PriceListIds

SECRETS = (KEY, PASSWORD)
"""The Repzo API key and the ERP password: neither may appear anywhere afterwards."""
PASSWORD_ENV = "SYNCER_TEST_ERP_PASSWORD"
APP_ID = "65f0c2a1b3c4d5e6f7a8b9c0"
NAMESPACE = "demo"
OWNERS = {"name": "erp", "credit_limit": "erp", "phone": "repzo", "city": "repzo"}
"""The pair's conflict policy: each field edited on both sides has an owner."""
ERP_FIELDS = ("name", "credit_limit")
"""What ERP users edit (fields the ERP owns)."""
REPZO_FIELDS = ("phone", "city")
"""What reps edit in Repzo (fields Repzo owns)."""
BOTH_FIELDS = ("phone", "credit_limit")
"""What is edited on both sides of one record at once: one field each side owns."""
WAIT = 420.0
"""Deadline for anything to happen: only reached when something is truly stuck."""
SYNC = ("sync", "--all")
SYNCER = [sys.executable, "-m", "syncer"]

LOGS_DOWN = FaultRule(kind="5xx", rate=1.0, path=r"^/integration-(command|action)-log")
"""Repzo's integration log endpoints answer 5xx the whole chaos phase."""


@dataclass(frozen=True)
class Plan:
    """How hard the chaos is; the defaults are the issue's."""

    seed: int
    records: int
    """Customers in all: half born in the ERP, half in Repzo (reps' new shops)."""
    children: int
    """``syncer sync --all`` runs under faults (the clean run comes after them)."""
    kills: int
    """How many of them are killed with SIGKILL; the others end on their own."""
    rate_429: float = 0.3
    retry_after: int = 1
    rate_5xx: float = 0.1
    rate_drop: float = 0.02
    rate_truncate: float = 0.02
    spike_rate: float = 0.01
    spike_ms: tuple[int, int] = (300, 1500)
    max_retry_wait: str = "8s"
    """Each flow run's budget of waiting per system: past it the run stops cleanly (exit 3)."""
    batch_size: int = 100
    write_concurrency: int = 64
    edits_per_side: int = 60
    """Records edited on each side between two children."""
    edits_both: int = 8
    """Records edited on both sides at once between two children."""
    clean_log_level: str = "INFO"
    """Of the clean run (JSON all the same). At DEBUG, httpx and httpcore log ten lines per
    request, which doubles the time of a run this size; the children under faults log DEBUG."""

    @classmethod
    def from_env(cls) -> Plan:
        return cls(
            seed=int(os.environ.get("SYNCER_CHAOS_SEED", "20261201")),
            records=int(os.environ.get("SYNCER_CHAOS_RECORDS", "20000")),
            children=int(os.environ.get("SYNCER_CHAOS_CHILDREN", "6")),
            kills=int(os.environ.get("SYNCER_CHAOS_KILLS", "4")),
            clean_log_level=os.environ.get("SYNCER_CHAOS_CLEAN_LOG_LEVEL", "INFO"),
        )

    def faults(self, round_: int, *, logs_down: bool) -> dict[str, Any]:
        """``set_faults`` keywords for one round: a fresh seed each round, so toggling the
        faults off for the edits never replays the same sequence."""
        return {
            "rate_429": self.rate_429,
            "retry_after": self.retry_after,
            "rate_5xx": self.rate_5xx,
            "rate_drop": self.rate_drop,
            "rate_truncate": self.rate_truncate,
            "latency": [
                LatencyRule(min_ms=self.spike_ms[0], max_ms=self.spike_ms[1], rate=self.spike_rate)
            ],
            "rules": [LOGS_DOWN] if logs_down else [],
            "seed": self.seed * 1000 + round_,
        }


class ChaosWorld:
    """Both sandboxes on loopback threads, their clocks frozen, a file store, a configuration
    at DEBUG with JSON logs, and Repzo integration logs turned on."""

    def __init__(self, repzo: RepzoSandbox, erp: ErpStub, folder: Path, store_url: str) -> None:
        self.repzo = repzo
        self.erp = erp
        self.folder = folder
        self.store_url = store_url
        self.config = folder / "syncer.yaml"
        self.repzo_born: list[str] = []
        """Repzo ``_id`` of the shops reps created in the field."""
        self.erp_born: list[str] = []
        """ERP keys of the customers the ERP started with."""

    def write_config(self, plan: Plan) -> None:
        self.repzo.insert(
            "integration-app",
            [
                {
                    "_id": APP_ID,
                    "name": "ERP sync",
                    "available_app": {"_id": "65f0c2a1b3c4d5e6f7a8b9c1", "name": "repzo-sync"},
                    "company_namespace": [NAMESPACE],
                }
            ],
        )
        owners = ", ".join(f"{name}: {side}" for name, side in OWNERS.items())
        limits = (
            f"max_retry_wait: {plan.max_retry_wait}\n"
            f"write_concurrency: {plan.write_concurrency}\n"
            "timeout: 20s\n"
        )
        self.config.write_text(
            textwrap.dedent(
                f"""
                state: {{url: "{self.store_url}"}}
                logging: {{level: DEBUG, format: json}}
                connectors:
                  repzo:
                    type: repzo
                    base_url: "{self.repzo.url}"
                    api_key: {KEY}
                    namespace: {NAMESPACE}
                    integration_app: "{APP_ID}"
                    page_size: 100
                    {textwrap.indent(limits, " " * 20).strip()}
                  erp:
                    type: erp_stub
                    base_url: "{self.erp.url}"
                    username: {USER}
                    password: "${{{PASSWORD_ENV}}}"
                    page_size: 200
                    {textwrap.indent(limits, " " * 20).strip()}
                flows:
                  - name: price-lists
                    source: {{connector: erp, stream: price_lists}}
                    target: {{connector: repzo, stream: pricelists}}
                  - name: customers-erp-to-repzo
                    source: {{connector: erp, stream: customers}}
                    target: {{connector: repzo, stream: client}}
                    batch_size: {plan.batch_size}
                    conflict: {{policy: ownership, owners: {{{owners}}}}}
                  - name: customers-repzo-to-erp
                    source: {{connector: repzo, stream: client}}
                    target: {{connector: erp, stream: customers}}
                    batch_size: {plan.batch_size}
                """
            ),
            encoding="utf-8",
        )

    def seed(self, plan: Plan) -> None:
        """Half the customers in the ERP, half as new shops in Repzo (no key of the other
        side), all an hour old."""
        each = plan.records // 2
        self.erp.clock.freeze(T0_MS - 3_600_000)
        self.erp.seed(customers=each, items=0, vans=0, invoices=0, credit_notes=0, payments=0)
        self.erp.clock.freeze(T0_MS)
        self.erp_born = [str(c["id"]) for c in self.erp.records("customers")]
        rng = random.Random(plan.seed)
        stamp = "2026-11-30T00:00:00.000Z"  # T0 minus an hour
        self.repzo.clock.freeze(T0_MS)
        self.repzo_born = self.repzo.insert(
            "client",
            (
                {
                    "name": f"Field Shop {n:05d}",
                    "client_code": f"F-{n:05d}",
                    "phone": f"+962 79 {rng.randrange(10**7):07d}",
                    "city": rng.choice(("Amman", "Irbid", "Zarqa", "Aqaba")),
                    "formatted_address": f"{n} Street {rng.randint(1, 60)}",
                    "country": "Jordan",
                    "financials": {"credit_limit": rng.choice((0, 250_000, 1_500_000))},
                    "createdAt": stamp,
                    "updatedAt": stamp,
                }
                for n in range(1, each + 1)
            ),
        )

    def faults_on(self, plan: Plan, round_: int) -> None:
        self.repzo.set_faults(**plan.faults(round_, logs_down=True))
        self.erp.set_faults(**plan.faults(round_, logs_down=False))

    def faults_off(self) -> None:
        self.repzo.clear_faults()
        self.erp.clear_faults()

    def tick(self, seconds: float) -> None:
        """Move both clocks forward (past the safety margin of the last scan)."""
        delta = int(seconds * 1000)
        self.repzo.clock.advance(delta)
        self.erp.clock.advance(delta)

    def writes(self) -> int:
        """Writes both systems received for customers: the children's progress."""
        erp = self.erp.stats()
        return self.repzo.stats().writes("client") + sum(
            erp.count(method, "customers") for method in ("POST", "PATCH")
        )


# -- children ---------------------------------------------------------------------------------


@dataclass
class Child:
    number: int
    args: tuple[str, ...]
    process: subprocess.Popen[bytes]
    started: float
    code: int | None = None
    note: str = ""
    seconds: float = 0.0


class Children:
    """``python -m syncer`` child processes, one at a time, each with its own stdout and stderr
    files, the ERP password in their environment."""

    def __init__(self, world: ChaosWorld) -> None:
        self.world = world
        self.done: list[Child] = []
        self.child: Child | None = None
        self.env = {**os.environ, PASSWORD_ENV: PASSWORD}

    def start(self, *args: str) -> Child:
        assert self.child is None
        number = len(self.done) + 1
        out = self.output(number, "stdout").open("wb")
        err = self.output(number, "stderr").open("wb")
        with out, err:
            process = subprocess.Popen(
                [*SYNCER, *args, "--config", str(self.world.config)],
                stdout=out,
                stderr=err,
                env=self.env,
            )
        self.child = Child(number, args, process, time.monotonic())
        return self.child

    def output(self, number: int, stream: str) -> Path:
        return self.world.folder / f"child-{number:02d}.{stream}"

    def finish(self, note: str = "") -> Child:
        """Wait for the child to end on its own."""
        child = self._take()
        try:
            child.code = child.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
            raise AssertionError(
                f"syncer {' '.join(child.args)} hung:\n{self.tail(child)}"
            ) from None
        return self._done(child, note)

    def kill(self, note: str) -> Child:
        child = self._take()
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGKILL)
        child.code = child.process.wait(timeout=WAIT)
        return self._done(child, note)

    def run(self, *args: str) -> Child:
        self.start(*args)
        return self.finish()

    def _take(self) -> Child:
        assert self.child is not None
        child, self.child = self.child, None
        return child

    def _done(self, child: Child, note: str) -> Child:
        child.seconds = time.monotonic() - child.started
        child.note = note
        self.done.append(child)
        return child

    def wait_until(self, condition: Callable[[], bool]) -> bool:
        """Poll until ``condition`` holds (True) or the child exits on its own (False)."""
        assert self.child is not None
        deadline = time.monotonic() + WAIT
        while not condition():
            if self.child.process.poll() is not None:
                return False
            if time.monotonic() > deadline:
                raise AssertionError(f"the child made no progress:\n{self.tail(self.child)}")
            time.sleep(0.05)
        return True

    def crash(self, rng: random.Random, most_writes: int) -> Child:
        """Start ``syncer sync --all`` and SIGKILL it: after a random 0.5-6 s (while it starts,
        plans a scan, reads or waits out a 429), or at a random instant after its k-th write
        to either system (in the middle of a batch's writes, between them and the commit, or
        while keys are written back)."""
        child = self.start(*SYNC)
        before = self.world.writes()
        if rng.random() < 0.3:
            delay = rng.uniform(0.5, 6.0)
            until = time.monotonic() + delay
            alive = self.wait_until(lambda: time.monotonic() >= until)
            note = f"killed after {delay:.1f}s"
        else:
            wanted = before + rng.randint(1, most_writes)
            alive = self.wait_until(lambda: self.world.writes() >= wanted)
            extra = rng.uniform(0, 0.3)
            until = time.monotonic() + extra
            alive = alive and self.wait_until(lambda: time.monotonic() >= until)
            note = f"killed after write {wanted - before} (+{extra:.2f}s)"
        if not alive:
            return self.finish(f"ended on its own before it was {note.split(' ', 1)[1]}")
        del child
        return self.kill(f"{note}, {self.world.writes() - before} writes")

    def close(self) -> None:
        if self.child is not None and self.child.process.poll() is None:
            self.child.process.kill()
            self.child.process.wait()

    def tail(self, child: Child) -> str:
        return self.output(child.number, "stderr").read_text(errors="replace")[-3000:]

    def texts(self) -> dict[str, str]:
        """Everything every child wrote, by file name."""
        return {
            path.name: path.read_text(encoding="utf-8", errors="replace")
            for child in self.done
            for path in (self.output(child.number, "stdout"), self.output(child.number, "stderr"))
        }


# -- edits --------------------------------------------------------------------------------------


@dataclass
class Expected:
    """What edited records must end up holding, in canonical form: subject -> field -> value.

    A subject is an ERP key for a customer born in the ERP, a Repzo ``_id`` for a shop born in
    Repzo."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    erp_edits: int = 0
    repzo_edits: int = 0
    both: set[str] = field(default_factory=set)
    edited_in_erp: set[str] = field(default_factory=set)
    edited_in_repzo: set[str] = field(default_factory=set)

    def expect(self, subject: str, name: str, value: Any) -> None:
        self.values.setdefault(subject, {})[name] = value


class Editors:
    """ERP users and reps editing customers between two children, through each system's own
    API (the faults are off meanwhile, as they are only for syncer)."""

    def __init__(self, world: ChaosWorld, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.expected = Expected()
        self.erp = httpx.Client(
            base_url=f"{world.erp.url}/api/v1", auth=(USER, PASSWORD), timeout=30
        )
        self.repzo = httpx.Client(base_url=world.repzo.url, headers={"api-key": KEY}, timeout=30)
        self._serial = 0

    def close(self) -> None:
        self.erp.close()
        self.repzo.close()

    def round(self, per_side: int, both: int) -> None:
        self.world.tick(2)
        born = set(self.world.erp_born)
        linked = {
            key: rid for key, rid in linked_erp_born(self.world.store_url).items() if key in born
        }
        subjects = {rid: key for key, rid in linked.items()}
        # Each edits what it owns, so the outcome does not depend on when syncer ran.
        erp_subjects = self.rng.sample(
            [key for key in self.world.erp_born if key not in self.expected.both], per_side
        )
        for key in erp_subjects:
            self._edit_erp(key, self.rng.choice(ERP_FIELDS))
        # Reps edit their own new shops, and customers syncer has linked (a record syncer
        # created but has not recorded yet is a first link: its source side wins, by design).
        candidates = [
            *self.world.repzo_born,
            *(repzo_id for key, repzo_id in linked.items() if key not in self.expected.both),
        ]
        for repzo_id in self.rng.sample(candidates, per_side):
            subject = subjects.get(repzo_id, repzo_id)
            self._edit_repzo(subject, repzo_id, self.rng.choice(REPZO_FIELDS))
        # A few linked customers edited on both sides at once: the policy decides per field.
        fresh = [
            key
            for key in linked
            if key not in self.expected.both
            and key not in self.expected.edited_in_erp
            and key not in self.expected.edited_in_repzo
        ]
        for key in self.rng.sample(fresh, min(both, len(fresh))):
            self.expected.both.add(key)
            values = {name: self._value(name) for name in BOTH_FIELDS}
            self._edit_erp(key, "credit_limit", expect=True, value=values["credit_limit"])
            self._edit_erp(key, "phone", expect=False, value=self._value("phone"))
            self._edit_repzo(key, linked[key], "phone", expect=True, value=values["phone"])
            self._edit_repzo(key, linked[key], "credit_limit", expect=False)
        self.world.tick(10)  # past the safety margin: the next scans cover the edits

    def _value(self, name: str) -> Any:
        self._serial += 1
        n = self._serial
        if name == "name":
            return f"Edited Customer {n}"
        if name == "credit_limit":
            return Decimal(self.rng.randrange(1, 400) * 250)
        if name == "phone":
            return f"+962 78 {n:07d}"
        return self.rng.choice(("Madaba", "Salt", "Jerash", "Karak", "Mafraq")) + f" {n}"

    def _edit_erp(self, key: str, name: str, *, expect: bool = True, value: Any = None) -> None:
        value = self._value(name) if value is None else value
        native = {"credit_limit": f"{value:.3f}"} if name == "credit_limit" else {name: value}
        response = self.erp.patch(
            f"/customers/{key}",
            content=json.dumps(native),
            headers={"content-type": "application/merge-patch+json"},
        )
        assert response.status_code == 200, response.text
        self.expected.erp_edits += 1
        self.expected.edited_in_erp.add(key)
        if expect:
            self.expected.expect(key, name, value)

    def _edit_repzo(
        self, subject: str, repzo_id: str, name: str, *, expect: bool = True, value: Any = None
    ) -> None:
        value = self._value(name) if value is None else value
        native = (
            {"financials": {"credit_limit": int(value * 1000)}}
            if name == "credit_limit"
            else {name: value}
        )
        response = self.repzo.put(f"/client/{repzo_id}", json=native)
        assert response.status_code == 200, response.text
        self.expected.repzo_edits += 1
        self.expected.edited_in_repzo.add(subject)
        if expect:
            self.expected.expect(subject, name, value)


def linked_erp_born(store_url: str) -> dict[str, str]:
    """ERP key -> Repzo ``_id`` of the customers syncer has synced on both sides (a snapshot
    recorded for each side)."""
    store = open_store(store_url)
    try:
        with store.session() as session:
            rows = session.scalars(
                select(IdMapEntry).where(
                    IdMapEntry.entity == "customer", IdMapEntry.snapshot.is_not(None)
                )
            ).all()
            sides: dict[str, dict[str, str]] = {}
            for row in rows:
                sides.setdefault(row.canonical_id, {})[row.connector] = row.native_id
    finally:
        store.close()
    return {
        both["erp"]: both["repzo"] for both in sides.values() if "erp" in both and "repzo" in both
    }


# -- the end state ---------------------------------------------------------------------------


@dataclass
class Sides:
    """Both systems' customers, read back through the shipped mappings as canonical
    snapshots of the fields both flows carry."""

    fields: frozenset[str]
    erp: dict[str, dict[str, Any]]
    """ERP key -> snapshot."""
    repzo: dict[str, dict[str, Any]]
    """Repzo ``_id`` -> snapshot."""
    clients: list[dict[str, Any]]
    customers: list[dict[str, Any]]

    @classmethod
    def read(cls, world: ChaosWorld) -> Sides:
        erp_map = load_mapping(SHIPPED_DIR / "erp_stub" / "customers.yaml", ["namespace"])
        repzo_map = load_mapping(SHIPPED_DIR / "repzo" / "client.yaml", ["namespace"])
        fields = _carried(erp_map, repzo_map) & _carried(repzo_map, erp_map)
        assert {"code", "name", "phone", "city", "credit_limit", "price_list"} <= fields
        erp_context = MappingContext({"namespace": NAMESPACE}, PassThroughRefs())
        repzo_context = MappingContext(
            {"namespace": NAMESPACE}, PriceListIds(world.repzo.documents("pricelist"))
        )
        customers = world.erp.records("customers")
        clients = world.repzo.documents("client")
        return cls(
            fields=fields,
            erp={
                str(c["id"]): snapshot(erp_map.read(c, erp_context).values, fields)
                for c in customers
            },
            repzo={
                str(c["_id"]): snapshot(repzo_map.read(c, repzo_context).values, fields)
                for c in clients
            },
            clients=clients,
            customers=customers,
        )

    def hashes(self) -> tuple[Counter[str], Counter[str]]:
        return (
            Counter(content_hash(values) for values in self.erp.values()),
            Counter(content_hash(values) for values in self.repzo.values()),
        )

    def pairs(self) -> dict[str, str]:
        """Repzo ``_id`` -> ERP key, by the key written back (``integration_meta.id``)."""
        prefix = f"{NAMESPACE}_"
        found = {}
        for client in self.clients:
            meta = client.get("integration_meta") or {}
            key = str(meta.get("id") or "")
            if key.startswith(prefix):
                found[str(client["_id"])] = key.removeprefix(prefix)
        return found


def _carried(source: CompiledMapping, target: CompiledMapping) -> frozenset[str]:
    return source.read_fields & target.write_fields


def duplicates(values: Iterable[Any]) -> list[Any]:
    """Values found more than once (empty ones do not count)."""
    return sorted(value for value, n in Counter(values).items() if n > 1 and value)


def canonical(name: str, value: Any) -> Any:
    return snapshot({name: value}, [name]).get(name)


# -- secrets ------------------------------------------------------------------------------------


def leaks(places: Mapping[str, str]) -> list[str]:
    """``secret in place`` for every secret found anywhere."""
    return [
        f"{secret[:3]}... in {where}"
        for where, found in places.items()
        for secret in SECRETS
        if secret in found
    ]
