"""ERP price lists reach Repzo end to end, over real HTTP: items become Repzo products and their
variants, and each price-list line a Repzo price-list item of the right variant, product and
price list; a line priced from more than one piece, which Repzo cannot hold, is a dead letter
saying so, never a price applied from 1."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from syncer.state.models import DeadLetter
from tests.engine.conftest import PASSWORD, T0_MS, USER, World, store_for

FLOWS = """
- name: taxes
  source: {connector: erp, stream: taxes}
  target: {connector: repzo, stream: tax}
- name: categories
  source: {connector: erp, stream: item_groups}
  target: {connector: repzo, stream: product-category}
- name: products
  source: {connector: erp, stream: items}
  target: {connector: repzo, stream: product}
- name: variants
  source: {connector: erp, stream: items, mapping: erp_stub/items.variants.yaml}
  target: {connector: repzo, stream: variant}
- name: price-lists
  source: {connector: erp, stream: price_lists}
  target: {connector: repzo, stream: pricelists}
- name: price-list-lines
  source: {connector: erp, stream: price_list_lines}
  target: {connector: repzo, stream: pricelistsitems}
"""
# Listed with the lines first: `sync` runs each flow after those whose records it refers to.
ALL = ("price-list-lines", "price-lists", "variants", "products", "categories", "taxes")
ITEMS = 120
"""As `syncer demo` and the ERP stub seed by default: 240 price-list lines, 120 from a carton."""
SIZES = {"customers": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}


def seed(world: World, items: int = ITEMS) -> None:
    world.erp.seed(items=items, **SIZES)
    world.erp.clock.freeze(T0_MS)


def by_meta(world: World, resource: str) -> dict[str, dict[str, Any]]:
    """Repzo documents by the ERP key in their integration_meta.id (demo_<key>)."""
    return {
        doc["integration_meta"]["id"].removeprefix("demo_"): doc
        for doc in world.repzo.documents(resource)
        if doc.get("integration_meta", {}).get("id")
    }


def dead_letters(world: World, flow: str) -> dict[str, DeadLetter]:
    store = store_for(world.store_url)
    try:
        with store.session() as session:
            letters = session.query(DeadLetter).filter_by(flow=flow, status="pending").all()
            session.expunge_all()
    finally:
        store.close()
    return {letter.record_key: letter for letter in letters}


def edit_line(world: World, line_id: str, patch: dict[str, str]) -> None:
    """A person edits a price-list line in the ERP (through its API, as any client would)."""
    httpx.patch(
        f"{world.erp.url}/api/v1/price_list_lines/{line_id}",
        json=patch,
        auth=(USER, PASSWORD),
        headers={"content-type": "application/merge-patch+json"},
    ).raise_for_status()


def repzo_writes(world: World) -> int:
    return sum(
        count
        for resource, count in world.repzo.stats().change_events.items()
        if not resource.startswith("integration")
    )


def test_every_line_priced_from_one_piece_reaches_repzo_and_the_others_say_why(world):
    seed(world)
    config = world.config(FLOWS)
    results = world.sync(config, *ALL)
    # Each flow after those it refers to: the lines after the variants and price lists.
    order = [r.flow for r in results]
    assert order.index("products") < order.index("variants") < order.index("price-list-lines")
    assert order.index("price-lists") < order.index("price-list-lines")

    lines = world.erp.records("price_list_lines")
    assert len(lines) == 2 * ITEMS
    from_one = [line for line in lines if Decimal(line["min_qty"]) <= 1]
    from_more = [line for line in lines if Decimal(line["min_qty"]) > 1]
    # The seed has both: retail priced from 1 piece, wholesale by the carton.
    assert len(from_one) == len(from_more) == ITEMS

    products = by_meta(world, "product")
    variants = by_meta(world, "variant")
    price_lists = by_meta(world, "pricelist")
    items = by_meta(world, "pricelistitem")
    assert len(products) == len(variants) == ITEMS

    # Every line priced from one piece is a Repzo price-list item of the right variant, product
    # and price list, in thousandths.
    assert set(items) == {line["id"] for line in from_one}
    for line in from_one:
        item = items[line["id"]]
        assert item["variant_id"] == variants[line["item"]]["_id"]
        assert item["product_id"] == products[line["item"]]["_id"]
        assert item["pricelist_id"] == price_lists[line["price_list"]]["_id"]
        assert item["price"] == int(Decimal(line["price"]) * 1000)
        assert item["integration_meta"]["code"] == line["id"]

    # Every other line is a dead letter naming min_quantity and what Repzo lacks.
    [run] = [r for r in results if r.flow == "price-list-lines"]
    assert run.counts.created == len(from_one) and run.counts.failed == len(from_more)
    letters = dead_letters(world, "price-list-lines")
    assert set(letters) == {line["id"] for line in from_more}
    for line in from_more:
        letter = letters[line["id"]]
        assert letter.field == "min_quantity"
        assert letter.reason == (
            "Repzo price-list items have no minimum quantity, so this price would apply from a "
            f"quantity of 1 (min_quantity is {Decimal(line['min_qty'])})"
        )
        assert letter.error_kind == "refused" and letter.next_attempt_at is None

    # A second sync writes nothing: no churn, and the refused lines are not written either.
    world.tick()
    world.repzo.reset_stats()
    again = world.sync(config, *ALL)
    assert repzo_writes(world) == 0
    assert all(r.counts.created == r.counts.updated == 0 for r in again)
    assert set(by_meta(world, "pricelistitem")) == {line["id"] for line in from_one}
    # Refused lines are not retried on a schedule (the same line is refused again): the next
    # sync has no failures, so it does not exit 1 for them until one of them changes.
    assert sum(r.counts.failed for r in again) == 0


def test_a_variant_is_linked_to_the_repzo_product_of_the_same_item(world):
    seed(world, 8)
    config = world.config(FLOWS)
    world.sync(config, "variants", "products", "categories", "taxes")
    products = by_meta(world, "product")
    variants = by_meta(world, "variant")
    assert set(variants) == set(products) == {item["code"] for item in world.erp.records("items")}
    for item in world.erp.records("items"):
        variant = variants[item["code"]]
        assert variant["product"] == products[item["code"]]["_id"]
        assert variant["sku"] == item["code"] and variant["name"] == item["name"]
        assert variant["price"] == int(Decimal(item["price"]) * 1000)
        assert variant["disabled"] is (item["status"] == "discontinued")

    # An item edited in the ERP (a price or a name) is one source of two records: both change.
    world.tick()
    changed = world.erp.mutate(items=3, seed=5)["items"]
    world.tick()
    world.repzo.reset_stats()
    results = {r.flow: r for r in world.sync(config, "variants", "products")}
    assert results["variants"].counts.updated == results["products"].counts.updated == 3
    products, variants = by_meta(world, "product"), by_meta(world, "variant")
    for code in changed:
        item = world.erp.get("items", code)
        assert item is not None
        price = int(Decimal(item["price"]) * 1000)
        assert variants[code]["price"] == price and products[code]["base_price"] == str(price)
        assert variants[code]["name"] == products[code]["name"] == item["name"]
        assert variants[code]["product"] == products[code]["_id"]
    assert repzo_writes(world) == 6


def test_a_line_whose_minimum_quantity_grows_after_it_was_synced_is_refused_then(world):
    seed(world, 6)
    config = world.config(FLOWS)
    world.sync(config, *ALL)
    retail = [
        line for line in world.erp.records("price_list_lines") if Decimal(line["min_qty"]) <= 1
    ]
    changed, unchanged = retail[0], retail[1:]
    synced = by_meta(world, "pricelistitem")[changed["id"]]

    # A person in the ERP now prices that line from a carton of 12, and edits another price.
    world.tick()
    repriced = unchanged[0]
    edit_line(world, changed["id"], {"min_qty": "12.000"})
    edit_line(world, repriced["id"], {"price": "99.500"})
    world.tick()
    world.repzo.reset_stats()
    [run] = world.sync(config, "price-list-lines")

    # The grown minimum is seen as a change, and refused: the Repzo price stays as it was,
    # rather than becoming a price from 1 it never was. The other line goes through.
    assert run.counts.failed == 1 and run.counts.updated == 1
    letter = dead_letters(world, "price-list-lines")[changed["id"]]
    assert letter.field == "min_quantity" and "min_quantity is 12" in letter.reason
    items = by_meta(world, "pricelistitem")
    assert items[changed["id"]]["price"] == synced["price"]
    assert items[changed["id"]]["updatedAt"] == synced["updatedAt"]
    assert items[repriced["id"]]["price"] == 99_500
    assert repzo_writes(world) == 1


def test_a_refused_line_goes_through_once_its_minimum_is_one(world):
    seed(world, 4)
    config = world.config(FLOWS)
    world.sync(config, *ALL)
    letters = dead_letters(world, "price-list-lines")
    assert letters
    fixed = sorted(letters)[0]

    world.tick()
    edit_line(world, fixed, {"min_qty": "1.000"})
    world.tick()
    [run] = world.sync(config, "price-list-lines")

    assert run.counts.created == 1
    assert set(dead_letters(world, "price-list-lines")) == set(letters) - {fixed}
    line = world.erp.get("price_list_lines", fixed)
    assert line is not None
    item = by_meta(world, "pricelistitem")[fixed]
    assert item["price"] == int(Decimal(line["price"]) * 1000)
    assert item["variant_id"] == by_meta(world, "variant")[line["item"]]["_id"]
