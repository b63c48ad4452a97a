"""Seeding: fills the ERP with generated data through the same checks a POST goes through.

It appends to what is there rather than replacing it: reference data (taxes, item groups, the
two price lists, the warehouses) only where missing, customers and items under fresh keys,
price-list lines and stock levels for every pair that lacks one, and documents drawn from the
active cards. Each entity has its own random stream, so asking for more items does not change
which customers are generated.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from sandboxes.erp import seed_data
from sandboxes.erp.entities import ENTITIES, KEY_SEPARATOR
from sandboxes.erp.records import Record
from sandboxes.erp.service import ErpService
from sandboxes.erp.store import Filter, RecordStore


class SeedSizes(BaseModel):
    """How much to generate. The defaults make a small distributor that starts in a blink."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customers: int = Field(100, ge=0)
    items: int = Field(50, ge=0)
    vans: int = Field(3, ge=0)
    """Warehouses of type van besides the main store; each has stock of every item."""
    invoices: int = Field(10, ge=0)
    credit_notes: int = Field(3, ge=0)
    payments: int = Field(5, ge=0)
    refunds: int = Field(2, ge=0)
    """Credit notes paid back in cash or by cheque; at most one per credit note not refunded
    yet, so none without credit notes."""


def parse_sizes(text: str) -> dict[str, int]:
    """``customers=300,items=120`` -> ``{"customers": 300, "items": 120}``; ValueError naming
    the part that is wrong."""
    sizes: dict[str, int] = {}
    for part in filter(None, (chunk.strip() for chunk in text.split(","))):
        name, _, count = part.partition("=")
        name = name.strip()
        if name not in SeedSizes.model_fields:
            raise ValueError(
                f"unknown seed size {name!r}; expected {', '.join(SeedSizes.model_fields)}"
            )
        if not count.strip().isdigit():
            raise ValueError(f"expected NAME=COUNT, got {part!r}")
        sizes[name] = int(count)
    return sizes


def seed(
    service: ErpService,
    store: RecordStore,
    sizes: SeedSizes,
    *,
    random_seed: int,
    now_s: int,
    today: date,
) -> dict[str, int]:
    """Generate and store the records; returns how many of each entity were created."""
    created: Counter[str] = Counter()

    def rng(entity: str) -> random.Random:
        # Keyed by what is already stored, so a second seed continues rather than repeats.
        return random.Random(f"{random_seed}:{entity}:{len(store.keys(entity))}")

    def add(entity: str, fields: Record) -> Record:
        record = service.insert(ENTITIES[entity], fields, now_s)
        created[entity] += 1
        return record

    def ensure(entity: str, key: str, fields: Record) -> None:
        if not store.exists(entity, key):
            add(entity, fields)

    with store.transaction():
        for tax in seed_data.TAXES:
            ensure("taxes", tax["code"], tax)
        for group in seed_data.item_groups():
            ensure("item_groups", group["code"], group)
        for price_list in seed_data.PRICE_LISTS:
            ensure("price_lists", price_list["code"], price_list)
        for number in range(sizes.vans + 1):
            warehouse = seed_data.warehouse(number)
            ensure("warehouses", warehouse["code"], warehouse)

        customers = rng("customers")
        for _ in range(sizes.customers):
            add("customers", seed_data.customer(customers))
        items = rng("items")
        for number in _free_item_numbers(store, sizes.items):
            add("items", seed_data.item(items, number))

        all_items = store.records("items", key_field="code")
        for list_code in (seed_data.RETAIL, seed_data.WHOLESALE):
            for item in all_items:
                line = seed_data.price_list_line(list_code, item)
                ensure("price_list_lines", _pair(list_code, item["code"]), line)
        stock = rng("stock_levels")
        for warehouse_code in store.keys("warehouses"):
            for item in all_items:
                level = seed_data.stock_level(stock, warehouse_code, item["code"])
                ensure("stock_levels", _pair(warehouse_code, item["code"]), level)

        _seed_documents(store, sizes, rng, add, today)
    return dict(created)


def _seed_documents(
    store: RecordStore,
    sizes: SeedSizes,
    rng: Callable[[str], random.Random],
    add: Callable[[str, Record], Record],
    today: date,
) -> None:
    catalogue = _catalogue(store)
    if catalogue is None:
        return
    invoices = rng("invoices")
    for number in store.next_numbers("invoice-series", sizes.invoices):
        add("invoices", seed_data.invoice(invoices, number, catalogue, today))

    posted = store.records(
        "invoices", [Filter("status", ("open", "paid", "partial"))], key_field="id"
    )
    notes = rng("credit_notes")
    returnable = [invoice for invoice in posted if any(map(seed_data.returnable, invoice["lines"]))]
    originals = notes.sample(returnable, min(sizes.credit_notes, len(returnable)))
    for number, original in zip(
        store.next_numbers("credit-note-series", len(originals)), originals, strict=True
    ):
        add("credit_notes", seed_data.credit_note(notes, number, original, today))

    receipts = rng("payments")
    settled = [invoice for invoice in posted if invoice["status"] in ("paid", "partial")]
    chosen = receipts.sample(settled, min(sizes.payments, len(settled)))
    for number, invoice in zip(
        store.next_numbers("payment-series", len(chosen)), chosen, strict=True
    ):
        add("payments", seed_data.payment(receipts, number, invoice, today))

    _seed_refunds(store, sizes.refunds, rng("refunds"), add)


def _seed_refunds(
    store: RecordStore,
    count: int,
    rng: random.Random,
    add: Callable[[str, Record], Record],
) -> None:
    """Refund credit notes not refunded yet: a second seed never pays one back twice."""
    refunded = {str(refund.get("settles")) for refund in store.records("refunds", key_field="id")}
    notes = [
        note
        for note in store.records("credit_notes", [Filter("status", ("open",))], key_field="id")
        if note["number"] not in refunded and Decimal(note["total"]) > 0
    ]
    chosen = rng.sample(notes, min(count, len(notes)))
    for number, note in zip(store.next_numbers("refund-series", len(chosen)), chosen, strict=True):
        add("refunds", seed_data.refund(rng, number, note))


def _catalogue(store: RecordStore) -> seed_data.Catalogue | None:
    """The active cards documents may use; None when there are no customers or items yet."""
    customers = store.records("customers", [Filter("status", ("active",))], key_field="id")
    items = store.records("items", [Filter("status", ("active",))], key_field="code")
    if not customers or not items:
        return None
    vans = [
        str(row["code"])
        for row in store.records("warehouses", [Filter("type", ("van",))], key_field="code")
    ]
    return seed_data.Catalogue(
        customers=customers,
        items=items,
        vans=vans or [seed_data.MAIN_WAREHOUSE],
        tax_rates={
            str(tax["code"]): Decimal(tax["rate"])
            for tax in store.records("taxes", key_field="code")
        },
        prices={
            (str(line["price_list"]), str(line["item"])): str(line["price"])
            for line in store.records("price_list_lines", key_field="id")
        },
    )


def _free_item_numbers(store: RecordStore, count: int) -> list[int]:
    """Numbers for new item codes, skipping any code a client has already created."""
    numbers: list[int] = []
    while len(numbers) < count:
        numbers += [
            number
            for number in store.next_numbers("item-codes", count - len(numbers))
            if not store.exists("items", f"I-{number:05d}")
        ]
    return numbers


def _pair(left: str, right: str) -> str:
    return f"{left}{KEY_SEPARATOR}{right}"
