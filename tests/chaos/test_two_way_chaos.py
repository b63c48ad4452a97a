"""Chaos over a two-way sync: ERP stub customers <-> sandbox Repzo clients, 20,000 records.

Half the customers are born in the ERP, half are new shops reps created in Repzo, so both
directions create 10,000 records. Then ``python -m syncer sync --all`` children run while both
servers misbehave: 30% of requests answer 429 with ``Retry-After: 1``, 10% a 5xx, some drop the
connection or cut the reply in half, a few stall for up to 1.5 s, and Repzo's integration log
endpoints are down the whole time. Some children are killed with SIGKILL at random points (a
seeded RNG; progress measured by the servers' counters), the others end on their own when their
retry budget (``max_retry_wait``) is spent. Between children, ERP users and reps edit a few
hundred customers on each side, and a few on both sides at once, so the pair's conflict policy
decides.

Then the faults stop, and one clean ``syncer sync --all`` (plus ``syncer dead-letters retry``,
which retries now whatever the backoff says) must leave:

- both sides with the same customers, compared by canonical hash over the fields both flows
  carry, read back through the shipped mappings;
- no duplicate: no two Repzo clients with one ``integration_meta.id`` or code, no two ERP
  customers with one ``external_ref`` or one shop's name, exactly one record per customer on
  each side;
- every record accounted for: every edit on both sides with its latest value (the owner's for
  a field edited on both sides), nothing left as a dead letter or a conflict, every Repzo
  integration log of the outage delivered;
- no secret (the Repzo API key, the ERP password) in any child's stdout or stderr (DEBUG, JSON),
  in any table of the state store, or in the integration logs Repzo stored;
- the clean run exiting 0.

Skipped unless ``pytest --chaos``. ``SYNCER_CHAOS_SEED`` picks other kill points, faults and
edits; ``SYNCER_CHAOS_RECORDS``, ``SYNCER_CHAOS_CHILDREN`` and ``SYNCER_CHAOS_KILLS`` size it.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from sandboxes.erp import ErpStub
from sandboxes.repzo import RepzoSandbox
from syncer.state import open_store, upgrade_store
from syncer.state.models import Conflict, DeadLetter, OutboxEntry, Run
from tests.chaos.world import (
    OWNERS,
    SYNC,
    ChaosWorld,
    Children,
    Editors,
    Plan,
    Sides,
    canonical,
    duplicates,
    leaks,
)
from tests.engine.conftest import KEY, PASSWORD, T0_MS, USER
from tests.test_secrets_everywhere import store_dump

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

ENDED = {0, 1, 3}
"""How a child under faults may end: done, done with dead letters, or stopped cleanly when a
system kept failing past its retry budget. Never 70 (a bug) or 2 (configuration)."""
MOST_WRITES = 400
"""A killed child sends at most about this many writes before its kill."""
LOG_STATUS = {
    "succeeded": "success",
    "partial": "success",
    "failed": "fail",
    "stopped": "skipped",
    "interrupted": "fail",
}
"""How Repzo's command log shows a run that ended. A killed run is closed as ``interrupted`` by
the next run of its flow, which closes its command log in Repzo as ``fail`` too (or writes one,
when the run died before its first)."""


@pytest.fixture
def chaos(tmp_path: Path) -> Iterator[tuple[ChaosWorld, Plan]]:
    plan = Plan.from_env()
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade_store(store_url)
    with (
        RepzoSandbox(api_key=KEY) as repzo,
        ErpStub(username=USER, password=PASSWORD, seed=False) as erp,
    ):
        repzo.clock.freeze(T0_MS)
        world = ChaosWorld(repzo, erp, tmp_path, store_url)
        world.seed(plan)
        world.write_config(plan)
        yield world, plan


def test_chaos_then_one_clean_run_leaves_both_sides_equal(chaos: tuple[ChaosWorld, Plan]):
    world, plan = chaos
    # Kill points and edits draw from RNGs of their own: how many records an edit round can
    # choose from depends on timing, and must not shift the kill points of a seed.
    rng = random.Random(f"{plan.seed}:kills")
    children = Children(world)
    editors = Editors(world, random.Random(f"{plan.seed}:edits"))
    timings: dict[str, float] = {}
    kinds = ["kill"] * plan.kills + ["end"] * (plan.children - plan.kills)
    rng.shuffle(kinds)
    started = time.monotonic()
    try:
        # 1. Chaos: children under faults, killed or ending on their own, people editing.
        for round_, kind in enumerate(kinds, start=1):
            world.faults_on(plan, round_)
            if kind == "kill":
                child = children.crash(rng, MOST_WRITES)
            else:
                children.start(*SYNC)
                child = children.finish("ended on its own")
            world.faults_off()
            killed = child.note.startswith("killed")
            assert (child.code == -9) if killed else (child.code in ENDED), (
                child.code,
                children.tail(child),
            )
            editors.round(plan.edits_per_side, plan.edits_both)
        timings["chaos"] = time.monotonic() - started
        faults = {"repzo": world.repzo.stats().faults, "erp": world.erp.stats().faults}

        # 2. The faults stop: one clean run, then the dead letters retried now.
        mark = time.monotonic()
        clean = children.run("--log-level", plan.clean_log_level, *SYNC)
        timings["clean sync"] = time.monotonic() - mark
        mark = time.monotonic()
        retried = children.run("dead-letters", "retry")
        timings["dead-letters retry"] = time.monotonic() - mark
        letters = children.run("dead-letters", "list", "--json")
        children.run("status", "--json")
        children.run("conflicts", "list", "--json")
    finally:
        children.close()
        editors.close()

    mark = time.monotonic()
    report = [
        f"seed {plan.seed}, {plan.records} records, {len(kinds)} children under faults",
        *(
            f"  child {c.number:2d} {' '.join(c.args)}: exit {c.code} in {c.seconds:.1f}s"
            f"{', ' + c.note if c.note else ''}"
            for c in children.done
        ),
        f"faults injected: {faults}",
        f"edits: {editors.expected.erp_edits} in the ERP, {editors.expected.repzo_edits} in "
        f"Repzo, {len(editors.expected.both)} records on both sides",
    ]
    print("\n" + "\n".join(report))
    outputs = children.texts()

    kills = [c for c in children.done if c.note.startswith("killed")]
    assert kills, "no child was killed: the chaos did not happen"
    problems: list[str] = []

    # (e) The clean run ends 0, and nothing is left for the retry.
    if clean.code != 0:
        problems.append(f"the clean run exited {clean.code}:\n{_summary(outputs, clean.number)}")
    if retried.code != 0:
        problems.append(f"dead-letters retry exited {retried.code}")

    sides = Sides.read(world)
    pairs = sides.pairs()

    # (b) Zero duplicates, and one record per customer on each side.
    codes = [c.get("client_code") for c in sides.clients]
    keys = [(c.get("integration_meta") or {}).get("id") for c in sides.clients]
    refs = [c.get("external_ref") for c in sides.customers]
    for what, values in (
        ("Repzo clients sharing a client_code", codes),
        ("Repzo clients sharing an integration_meta.id", keys),
        ("Repzo clients for one field shop", _shops(sides.clients)),
        ("ERP customers sharing an external_ref", refs),
        ("ERP customers for one field shop", _shops(sides.customers)),
    ):
        if twice := duplicates(values):
            problems.append(f"{len(twice)} {what}: {twice[:5]}")
    if len(sides.clients) != plan.records or len(sides.customers) != plan.records:
        problems.append(
            f"{len(sides.customers)} ERP customers and {len(sides.clients)} Repzo clients, "
            f"{plan.records} expected on each side"
        )
    unlinked = [c["_id"] for c in sides.clients if c["_id"] not in pairs]
    if unlinked:
        problems.append(f"{len(unlinked)} Repzo clients without the ERP's key: {unlinked[:5]}")
    if missing := set(sides.erp) - set(pairs.values()):
        problems.append(f"{len(missing)} ERP customers not in Repzo: {sorted(missing)[:5]}")

    # (a) Both sides equal by canonical hash over the fields both flows carry.
    erp_hashes, repzo_hashes = sides.hashes()
    if erp_hashes != repzo_hashes:
        differ = [
            (rid, key, _diff(sides.erp.get(key, {}), sides.repzo[rid]))
            for rid, key in pairs.items()
            if sides.erp.get(key) != sides.repzo[rid]
        ]
        born = Counter("repzo" if rid in set(world.repzo_born) else "erp" for rid, _, _ in differ)
        fields = Counter(name for _, _, diff in differ for name in diff)
        problems.append(
            f"{sum((erp_hashes - repzo_hashes).values())} ERP customers and "
            f"{sum((repzo_hashes - erp_hashes).values())} Repzo clients have no equal on the "
            f"other side ({len(differ)} linked pairs differ; born in {dict(born)}; fields "
            f"{dict(fields)}): {differ[:3]}"
        )

    # (c) Every edit arrived, with its latest value (the owner's for one made on both sides).
    by_key = {key: rid for rid, key in pairs.items()}
    stale = []
    for subject, wanted in editors.expected.values.items():
        rid = subject if subject in sides.repzo else by_key.get(subject)
        key = pairs.get(subject) if subject in sides.repzo else subject
        for name, value in wanted.items():
            want = canonical(name, value)
            have = {
                "erp": sides.erp.get(key or "", {}).get(name),
                "repzo": sides.repzo.get(rid or "", {}).get(name),
            }
            if have != {"erp": want, "repzo": want}:
                owner = OWNERS[name] if subject in editors.expected.both else None
                stale.append((subject, name, want, have, owner))
    if stale:
        problems.append(f"{len(stale)} edits did not arrive as expected: {stale[:5]}")
    listed = json.loads(outputs[f"child-{letters.number:02d}.stdout"])

    store = open_store(world.store_url)
    try:
        with store.session() as session:
            pending = session.scalars(select(DeadLetter).where(DeadLetter.status == "pending"))
            left = [(d.flow, d.record_key, d.error_kind, d.reason[:160]) for d in pending]
            conflicts = session.scalars(select(Conflict).where(Conflict.status == "open")).all()
            open_conflicts = [(c.kind, c.fields, (c.reason or "")[:160]) for c in conflicts]
            outbox = session.scalars(select(OutboxEntry).where(OutboxEntry.delivered_at.is_(None)))
            undelivered = [
                (o.sync_id, o.attempts, o.parked_at is not None, (o.last_error or "")[:120])
                for o in outbox
            ]
            runs = session.scalars(select(Run)).all()
            statuses = Counter(run.status for run in runs)
            sync_ids = {run.sync_id: run.status for run in runs if run.sync_id}
            ended = {
                sync_id: status for sync_id, status in sync_ids.items() if status in LOG_STATUS
            }
            attempts = Counter(letter.error_kind for letter in session.scalars(select(DeadLetter)))
    finally:
        store.close()
    if left or listed:
        problems.append(f"{len(left)} dead letters left after the clean run: {left[:5]}")
    if open_conflicts:
        problems.append(f"{len(open_conflicts)} conflicts left for review: {open_conflicts[:3]}")
    if undelivered:
        problems.append(
            f"{len(undelivered)} Repzo integration logs not delivered after the outage: "
            f"{undelivered[:3]}"
        )
    logs = {log["sync_id"]: log for log in world.repzo.documents("integration-command-log")}
    if missing_logs := sorted(set(ended) - set(logs)):
        problems.append(f"{len(missing_logs)} runs have no command log in Repzo")
    wrong = [
        (sync_id, status, logs[sync_id]["status"])
        for sync_id, status in ended.items()
        if sync_id in logs and LOG_STATUS[status] != logs[sync_id]["status"]
    ]
    if wrong:
        problems.append(
            f"{len(wrong)} command logs in Repzo do not show how the run ended: {wrong[:3]}"
        )
    if statuses["running"]:
        problems.append(f"{statuses['running']} runs still look alive: {dict(statuses)}")
    killed_runs = [sync_id for sync_id, status in sync_ids.items() if status == "interrupted"]
    print(
        f"runs: {dict(statuses)}; dead letters met on the way: {dict(attempts)}; "
        f"command logs in Repzo: {dict(Counter(log['status'] for log in logs.values()))}; "
        f"of the {len(killed_runs)} killed runs, "
        f"{sum(logs.get(s, {}).get('status') == 'processing' for s in killed_runs)} show "
        f"'processing' in Repzo and {sum(s not in logs for s in killed_runs)} have no log"
    )

    # (d) No secret anywhere: children's output, every table of the store, Repzo's logs.
    action_logs = world.repzo.documents("integration-action-log")
    places = {
        **outputs,
        "state store": store_dump(world.store_url),
        "Repzo integration logs": json.dumps([*logs.values(), *action_logs]),
    }
    if found := leaks(places):
        problems.append(f"secrets leaked: {found}")
    lines = [
        json.loads(line)
        for name, text in outputs.items()
        if name.endswith("stderr")
        for line in text.splitlines()[:200]
        if line.startswith("{")
    ]
    assert any(line.get("level") == "debug" for line in lines), "the children did not log DEBUG"

    timings["checks"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    print("durations: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items()))
    assert not problems, "\n".join([*problems, "", *report])


def _shops(records: list[dict]) -> list[str]:
    return [str(r["name"]) for r in records if str(r.get("name")).startswith("Field Shop")]


def _diff(erp: dict, repzo: dict) -> dict[str, tuple[object, object]]:
    return {
        name: (erp.get(name), repzo.get(name))
        for name in sorted(set(erp) | set(repzo))
        if erp.get(name) != repzo.get(name)
    }


def _summary(outputs: dict[str, str], number: int) -> str:
    out = outputs.get(f"child-{number:02d}.stdout", "")
    err = outputs.get(f"child-{number:02d}.stderr", "")
    errors = [line for line in err.splitlines() if '"level": "error"' in line]
    return f"{out[-3000:]}\n{chr(10).join(errors[-10:])}"
