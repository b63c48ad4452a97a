"""A small world for engine tests: the sandbox Repzo and the ERP stub on loopback (real HTTP),
a configuration wired to them, a state store (SQLite, and PostgreSQL when available), and a
way to run flows."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sandboxes.erp import ErpStub
from sandboxes.repzo import RepzoSandbox
from syncer.config import load_config
from syncer.config.models import SyncerConfig
from syncer.engine.engine import Engine
from syncer.engine.tally import RunResult
from syncer.state import open_store, upgrade_store
from syncer.state.store import StateStore

T = TypeVar("T")

KEY = "rk-engine-tests"
USER, PASSWORD = "sync", "erp-engine-pw"
T0_MS = 1_796_000_000_000
"""Both sandboxes' clocks start here, an hour after their seed data."""


EXPORT_FLOW = """
- name: clients-to-csv
  source: {connector: repzo, stream: client}
  target: {connector: drop, stream: customers}
"""
"""Repzo clients to a CSV drop: the one-way export users start with."""


@dataclass
class World:
    repzo: RepzoSandbox
    erp: ErpStub
    folder: Path
    store_url: str

    def config(self, flows: str, extra: str = "", *, page_size: int | None = None) -> SyncerConfig:
        """``page_size``: records per list request of both HTTP connectors (for tests that
        need several pages)."""
        paging = f", page_size: {page_size}" if page_size else ""
        path = self.folder / "syncer.yaml"
        path.write_text(
            textwrap.dedent(
                f"""
                state: {{url: "{self.store_url}"}}
                connectors:
                  repzo:
                    {{type: repzo, base_url: "{self.repzo.url}", api_key: {KEY},
                      namespace: demo{paging}}}
                  erp:
                    {{type: erp_stub, base_url: "{self.erp.url}", username: {USER},
                      password: {PASSWORD}{paging}}}
                  drop:
                    type: csv
                    path: "{self.folder / "drop"}"
                    streams: {{customers: {{key: code}}}}
                """
            )
            + textwrap.indent(textwrap.dedent(extra), "")
            + "flows:\n"
            + textwrap.indent(textwrap.dedent(flows).strip("\n"), "  ")
            + "\n",
            encoding="utf-8",
        )
        return load_config(path)

    def user_config(
        self,
        flows: str = EXPORT_FLOW,
        *,
        repzo: str = "namespace: acme",
        drop: str = "{type: csv, path: ./exports}",
        name: str = "user.yaml",
    ) -> str:
        """The short configuration a user writes from the README: this world's store and
        Repzo (plus ``repzo`` settings), a CSV connector ``drop`` and ``flows``, with relative
        paths. Returns the file's path; ``./exports`` exists."""
        (self.folder / "exports").mkdir(exist_ok=True)
        path = self.folder / name
        path.write_text(
            f'state: {{url: "{self.store_url}"}}\n'
            "connectors:\n"
            f'  repzo: {{type: repzo, base_url: "{self.repzo.url}", api_key: {KEY}'
            f"{', ' + repzo if repzo else ''}}}\n"
            f"  drop: {drop}\n"
            f"flows:\n{textwrap.dedent(flows).strip(chr(10))}\n",
            encoding="utf-8",
        )
        return str(path)

    def tick(self, seconds: float = 10) -> None:
        """Move both systems' clocks forward (past the safety margin of the last scan)."""
        delta = int(seconds * 1000)
        self.repzo.clock.advance(delta)
        self.erp.clock.advance(delta)

    def sync(self, config: SyncerConfig, *names: str) -> list[RunResult]:
        return self.with_engine(config, lambda engine: engine.sync(list(names)))

    def with_engine(self, config: SyncerConfig, use: Callable[[Engine], Awaitable[T]]) -> T:
        """Run ``use`` with an engine on this world's store, and close both."""

        async def main() -> T:
            store = open_store(self.store_url)
            try:
                async with Engine(config, store) as engine:
                    return await use(engine)
            finally:
                store.close()

        return asyncio.run(main())


class PriceListIds:
    """References of Repzo clients read outside a run: a Repzo price list ``_id`` is the ERP
    code it was created from (kept in its ``integration_meta.code``)."""

    def __init__(self, price_lists: list[dict[str, Any]]) -> None:
        self.codes = {p["_id"]: p["integration_meta"]["code"] for p in price_lists}

    def to_canonical(self, entity: str, native_id: str) -> str | None:
        assert entity == "price_list", entity
        return self.codes.get(native_id)

    def to_native(self, entity: str, canonical_id: str) -> str | None:  # pragma: no cover
        raise NotImplementedError

    def key_to_canonical(self, entity: str, natural_key: str) -> str | None:  # pragma: no cover
        raise NotImplementedError


class Killed(BaseException):
    """The process dies here: nothing after it runs, no handler in syncer sees it."""


@contextlib.contextmanager
def killed_at(target: object, name: str) -> Iterator[None]:
    """Run the block as a process killed when it reaches ``target.name``."""

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed(f"killed at {name}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(target, name, killed)
        with pytest.raises(Killed):
            yield


def store_for(url: str) -> StateStore:
    upgrade_store(url)
    return open_store(url)


@pytest.fixture
def world(tmp_path: Path, store_url: str) -> Iterator[World]:
    (tmp_path / "drop").mkdir()
    upgrade_store(store_url)
    with (
        RepzoSandbox(api_key=KEY) as repzo,
        ErpStub(username=USER, password=PASSWORD, seed=False) as erp,
    ):
        repzo.clock.freeze(T0_MS)
        erp.clock.freeze(T0_MS - 3_600_000)  # the ERP's data is an hour old when the test starts
        yield World(repzo, erp, tmp_path, store_url)


CUSTOMER_FLOWS = """
- name: price-lists
  source: {connector: erp, stream: price_lists}
  target: {connector: repzo, stream: pricelists}
- name: customers-erp-to-repzo
  source: {connector: erp, stream: customers}
  target: {connector: repzo, stream: client}
- name: customers-repzo-to-erp
  source: {connector: repzo, stream: client}
  target: {connector: erp, stream: customers}
"""

INVOICE_FLOWS = (
    CUSTOMER_FLOWS
    + """
- name: products
  source: {connector: erp, stream: items}
  target: {connector: repzo, stream: product}
- name: categories
  source: {connector: erp, stream: item_groups}
  target: {connector: repzo, stream: product-category}
- name: taxes
  source: {connector: erp, stream: taxes}
  target: {connector: repzo, stream: tax}
- name: invoices
  source: {connector: repzo, stream: fullinvoices}
  target: {connector: erp, stream: invoices}
  mode: create_only
"""
)
MASTER_DATA_FLOWS = ("taxes", "categories", "products", "price-lists", "customers-erp-to-repzo")
"""What an invoice refers to, in the order the references need."""


def insert_invoice(world: World, number: str, *, client_id: str | None = None) -> None:
    """A van-sales invoice in Repzo for the first client and product: 2 x 2.500 + 0.800 tax."""
    client = world.repzo.documents("client")[0]
    product = world.repzo.documents("product")[0]
    world.repzo.insert(
        "fullinvoices",
        [
            {
                "serial_number": {"formatted": number},
                "client_id": client_id or client["_id"],
                "issue_date": "2026-11-29",
                "status": "unpaid",
                "subtotal": 5000,
                "total": 5800,
                "tax_amount": 800,
                "items": [
                    {
                        "variant": {
                            "variant_id": "v-1",
                            "product_id": product["_id"],
                            "variant_name": product["sku"],
                        },
                        "qty": 2,
                        "price": 2500,
                        "tax_amount": 400,
                        "tax_total": 800,
                        "line_total": 5800,
                    }
                ],
            }
        ],
    )
