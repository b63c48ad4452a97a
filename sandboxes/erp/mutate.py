"""Mutations: someone edits records in the ERP between two syncs.

Each chosen record really changes (a new phone, a new price, a status) and gets ``updated_at``
= now, so the next incremental read sees exactly the keys returned here and nothing else. The
choice is random but seeded, so a demo or a test can repeat it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sandboxes.erp import seed_data
from sandboxes.erp.entities import ENTITIES
from sandboxes.erp.errors import bad_request
from sandboxes.erp.records import Record
from sandboxes.erp.service import ErpService
from sandboxes.erp.store import Filter, RecordStore

Change = Callable[[Record, random.Random], Record]


@dataclass(frozen=True)
class Mutation:
    change: Change
    what: str
    """What changes, for help texts: "phone or credit limit"."""
    among: Filter | None = None
    """Only records matching this are candidates (an invoice can only become paid once)."""


def _customer(record: Record, rng: random.Random) -> Record:
    if rng.random() < 0.5:
        saudi = record.get("address", {}).get("country") == "Saudi Arabia"
        phone = record.get("phone")
        while phone == record.get("phone"):
            phone = seed_data.phone(rng, saudi=saudi, mobile=False)
        return {**record, "phone": phone}
    raised = Decimal(record.get("credit_limit") or 0) + rng.choice((250, 500, 1000))
    return {**record, "credit_limit": seed_data.money(raised)}


def _item(record: Record, rng: random.Random) -> Record:
    if rng.random() < 0.5:
        return {**record, "price": _repriced(record["price"], rng)}
    return {**record, "name": _toggled(record["name"], " (new pack)")}


def _renamed(record: Record, _rng: random.Random) -> Record:
    return {**record, "name": _toggled(record["name"], " (renamed)")}


def _line_price(record: Record, rng: random.Random) -> Record:
    return {**record, "price": _repriced(record["price"], rng)}


def _stock(record: Record, rng: random.Random) -> Record:
    on_hand = Decimal(record["on_hand"])
    moved = rng.randint(1, 48)
    sold = on_hand >= moved and rng.random() < 0.5
    return {**record, "on_hand": seed_data.quantity(on_hand - moved if sold else on_hand + moved)}


def _paid(record: Record, _rng: random.Random) -> Record:
    return {**record, "status": "paid"}


MUTATIONS: dict[str, Mutation] = {
    "customers": Mutation(_customer, "phone or credit limit"),
    "items": Mutation(_item, "price or name"),
    "item_groups": Mutation(_renamed, "name"),
    "price_lists": Mutation(_renamed, "name"),
    "price_list_lines": Mutation(_line_price, "price"),
    "warehouses": Mutation(_renamed, "name"),
    "stock_levels": Mutation(_stock, "quantity on hand"),
    "invoices": Mutation(_paid, "status to paid", Filter("status", ("open", "partial"))),
}


def mutate(
    service: ErpService,
    store: RecordStore,
    counts: Mapping[str, int],
    *,
    seed: str,
    now_s: int,
) -> dict[str, list[str]]:
    """Change ``counts[entity]`` records of each entity (fewer if it has fewer candidates);
    returns the changed keys per entity, sorted."""
    unknown = sorted(set(counts) - set(MUTATIONS))
    if unknown:
        raise bad_request(
            f"Cannot mutate {', '.join(unknown)}; mutable entities are {', '.join(MUTATIONS)}."
        )
    if any(count < 0 for count in counts.values()):
        raise bad_request("Mutation counts must not be negative.")
    changed: dict[str, list[str]] = {}
    with store.transaction():
        for entity, count in counts.items():
            spec, mutation = ENTITIES[entity], MUTATIONS[entity]
            rng = random.Random(f"{seed}:{entity}")
            if mutation.among is None:
                candidates = store.keys(entity)
            else:
                found = store.records(entity, [mutation.among], key_field=spec.key)
                candidates = [str(record[spec.key]) for record in found]
            chosen = sorted(rng.sample(candidates, min(count, len(candidates))))
            for key in chosen:
                current = store.get(entity, key)
                assert current is not None, "chosen from the store inside one transaction"
                service.save(spec, mutation.change(current, rng), now_s)
            changed[entity] = chosen
    return changed


def _repriced(price: str, rng: random.Random) -> str:
    old = Decimal(price)
    new = Decimal(seed_data.money(old * Decimal(rng.choice(("1.05", "1.10", "0.95")))))
    return seed_data.money(new if new != old else old + Decimal("0.050"))


def _toggled(name: str, suffix: str) -> str:
    """Add the suffix, or take it off again: names change without growing run after run."""
    return name.removesuffix(suffix) if name.endswith(suffix) else name + suffix
