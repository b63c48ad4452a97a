"""``syncer demo``: a real sync, both ways, between a sandbox Repzo and the ERP stub.

Nothing here is a special demo path: the sandboxes are the ones ``syncer sandbox`` serves, the
configuration is ``config.example.yaml`` pointed at them, the mappings are the shipped ones and
every sync goes through the engine exactly as ``syncer sync`` does. The only liberty taken is
with the sandboxes' clocks, moved forward between steps so the demo does not have to wait out
the safety margin of each scan.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from sandboxes.erp import ErpStub
from sandboxes.repzo import RepzoSandbox
from sandboxes.repzo.documents import Sold, invoice
from syncer.config import load_config
from syncer.config.models import SyncerConfig
from syncer.engine.engine import Engine
from syncer.engine.reconcile import Report, reconcile
from syncer.engine.tally import RunResult
from syncer.state import open_store

EXAMPLE = "config.example.yaml"
"""The configuration the demo runs: a copy, shipped in this package, of the repository's
``config.example.yaml`` (a test keeps them identical), so that the demo works from an installed
wheel in any folder."""
API_KEY = "sandbox-api-key"
ERP_USER, ERP_PASSWORD = "sync", "sandbox-password"
HOUR_MS = 3_600_000

ERP_TO_REPZO = (
    "taxes-erp-to-repzo",
    "categories-erp-to-repzo",
    "products-erp-to-repzo",
    "variants-erp-to-repzo",
    "price-lists-erp-to-repzo",
    "price-list-lines-erp-to-repzo",
    "customers-erp-to-repzo",
)
REPZO_TO_ERP = (
    "customers-repzo-to-erp",
    "invoices-repzo-to-erp",
    "returns-repzo-to-erp",
    "payments-repzo-to-erp",
    "refunds-repzo-to-erp",
)
DEMO_APP_ID = "65f0c2a1b3c4d5e6f7a8b9c0"
"""The integration app the demo's logs belong to: the one config.example.yaml names."""


@dataclass
class Demo:
    folder: Path
    repzo: RepzoSandbox
    erp: ErpStub
    console: Console

    @property
    def config_path(self) -> Path:
        return self.folder / "syncer.yaml"

    def write_config(self) -> SyncerConfig:
        """config.example.yaml, pointed at this demo's sandboxes and integration app. Written
        into the demo's folder, its relative paths (the state store, the exports) land there."""
        text = resources.files("sandboxes").joinpath(EXAMPLE).read_text(encoding="utf-8")
        text = text.replace("${REPZO_BASE_URL:-http://127.0.0.1:8766}", self.repzo.url)
        text = text.replace("${ERP_BASE_URL:-http://127.0.0.1:8765}", self.erp.url)
        text = text.replace(f"# integration_app: {DEMO_APP_ID}", f"integration_app: {DEMO_APP_ID}")
        text = re.sub(r"(?m)^(\s*)level: INFO(\s*#.*)?$", r"\1level: WARNING\2", text)
        self.config_path.write_text(text, encoding="utf-8")
        (self.folder / "exports").mkdir(exist_ok=True)
        return load_config(self.config_path, env={})

    def tick(self) -> None:
        """Both systems' clocks a minute on: past the safety margin of the last scans."""
        self.repzo.clock.advance(60_000)
        self.erp.clock.advance(60_000)

    async def reconcile(self, config: SyncerConfig, names: tuple[str, ...]) -> list[Report]:
        """What ``syncer reconcile`` says of each document flow: it only reads."""
        store = open_store(config.state.url)
        try:
            async with Engine(config, store) as engine:
                return [await reconcile(engine.context, config.flow(name)) for name in names]
        finally:
            store.close()

    async def sync(self, config: SyncerConfig, names: tuple[str, ...]) -> list[RunResult]:
        store = open_store(config.state.url)
        try:
            async with Engine(config, store) as engine:
                return await engine.sync(list(names))
        finally:
            store.close()

    def show(
        self, title: str, results: list[RunResult], notes: dict[str, str] | None = None
    ) -> None:
        table = Table(title=title, title_justify="left")
        for column in (
            "flow",
            "read",
            "created",
            "updated",
            "unchanged",
            "failed",
            "conflicts",
            "why",
        ):
            table.add_column(column, justify="left" if column in ("flow", "why") else "right")
        for result in results:
            c = result.counts
            why = "" if result.read_back else (notes or {}).get(result.flow, "")
            if c.echoes:
                why = (
                    why + "; " if why else ""
                ) + f"{c.echoes} were our own writes read back (echoes)"
            table.add_row(
                result.label,
                *(
                    str(v)
                    for v in (c.read, c.created, c.updated, c.unchanged, c.failed, c.conflicts)
                ),
                why,
            )
        self.console.print(table)


def field_activity(demo: Demo, rng: random.Random) -> dict[str, Any]:
    """What reps did in Repzo today: a new shop; invoices for synced customers as a van-sales
    rep issues them (discounts, 16 % tax added or included in the price, cartons of 24, a
    return on one of them, one in dollars); a payment for each, one by cheque; a cash refund."""
    clients = [c for c in demo.repzo.documents("client") if not c.get("disabled")]
    variants = [v for v in demo.repzo.documents("variant") if not v.get("disabled")]
    demo.repzo.insert(
        "client",
        [
            {
                "name": "Souq Al Madina (new, added in the field)",
                "client_code": "FIELD-0001",
                "phone": "+962 79 555 0199",
                "city": "Zarqa",
                "country": "Jordan",
            }
        ],
    )

    def sold(variant: dict[str, Any], **amounts: Any) -> Sold:
        return Sold(
            variant_id=variant["_id"],
            product_id=variant["product"],
            product_name=variant["name"],
            variant_name=variant.get("sku") or variant["name"],
            price=int(variant.get("price") or 1000),
            **amounts,
        )

    invoices, payments = [], []
    for number in range(1, 6):
        client = rng.choice(clients)
        first, second, third = rng.sample(variants, 3)
        lines = [
            sold(
                first,
                qty=Decimal(rng.randint(1, 6)),
                discount_percent=Decimal(10),
                tax_rate=Decimal(16),
            ),
            sold(
                second, qty=Decimal(rng.randint(1, 3)), factor=24, unit="CTN", tax_rate=Decimal(16)
            ),
            sold(third, qty=Decimal(2), tax_rate=Decimal(16), tax_type="inclusive"),
        ]
        returned = [sold(third, qty=Decimal(1), tax_rate=Decimal(16))] if number == 2 else []
        document = invoice(
            f"INV-1021-{number}",
            client_id=client["_id"],
            client_name=client["name"],
            sold=lines,
            returned=returned,
            currency="USD" if number == 5 else "JOD",
        )
        invoices.append(document)
        cheque = number == 3
        payments.append(
            {
                "serial_number": {"formatted": f"PAY-1021-{number}"},
                "client_id": client["_id"],
                "client_name": client["name"],
                "creator": document["creator"],
                "amount": document["total"],
                "currency": document["currency"],
                "paytime": "2026-11-29",
                "payment_type": "check" if cheque else "cash",
                **({"check": {"check_number": 1002345, "bank": "Arab Bank"}} if cheque else {}),
                "LinkedTxn": {
                    "Txn_serial_number": document["serial_number"],
                    "Txn_invoice_total": document["total"],
                    "TxnType": "invoice",
                },
            }
        )
    demo.repzo.insert("fullinvoices", invoices)
    demo.repzo.insert("payments", payments)
    refunded = invoices[1]
    demo.repzo.insert(
        "refund",
        [
            {
                "serial_number": {"formatted": "RF-1021-1"},
                "client_id": refunded["client_id"],
                "client_name": refunded["client_name"],
                "amount": refunded["return_total"],
                "currency": "JOD",
                "paytime": "2026-11-29",
                "transaction_type": "cash",
                "LinkedTxn": {
                    "Txn_serial_number": refunded["serial_number"],
                    "Txn_total": refunded["return_total"],
                    "TxnType": "return_invoice",
                },
            }
        ],
    )
    return {"invoices": len(invoices), "payments": len(payments), "refunds": 1}


def edits_on_both_sides(demo: Demo) -> dict[str, Any]:
    """Ordinary edits in each system, and one customer edited on both sides at once."""
    changed = demo.erp.mutate(customers=5, items=3, seed=11)
    clients = {c["client_code"]: c for c in demo.repzo.documents("client")}
    field_edit = clients["C-00010"]
    httpx.put(
        f"{demo.repzo.url}/client/{field_edit['_id']}",
        json={"phone": "+962 79 000 1010"},
        headers={"api-key": API_KEY},
    ).raise_for_status()
    # C-00020 is edited in both systems: its phone (Repzo owns phones) and its email (nobody
    # owns emails, so a person decides).
    both = clients["C-00020"]
    httpx.patch(
        f"{demo.erp.url}/api/v1/customers/C-00020",
        json={"phone": "+962 6 111 2020", "email": "accounts@office.example"},
        auth=(ERP_USER, ERP_PASSWORD),
        headers={"content-type": "application/merge-patch+json"},
    ).raise_for_status()
    httpx.put(
        f"{demo.repzo.url}/client/{both['_id']}",
        json={"phone": "+962 79 222 2020", "email": "owner@shop.example"},
        headers={"api-key": API_KEY},
    ).raise_for_status()
    return {"erp": changed, "repzo": ["C-00010", "C-00020"]}


def _client(repzo: RepzoSandbox, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next((c for c in repzo.documents("client") if test(c)), {})


def run(folder: Path, console: Console, *, customers: int = 300, items: int = 120) -> int:
    """The whole demo; returns the exit code."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("syncer.db", "syncer.db-wal", "syncer.db-shm", "erp-stub.db"):
        (folder / stale).unlink(missing_ok=True)
    rng = random.Random(7)
    say: Callable[[str], None] = console.print
    with (
        RepzoSandbox(api_key=API_KEY) as repzo,
        ErpStub(
            username=ERP_USER, password=ERP_PASSWORD, db=str(folder / "erp-stub.db"), seed=False
        ) as erp,
    ):
        demo = Demo(folder, repzo, erp, console)
        erp.clock.set_offset(-HOUR_MS)  # the ERP's master data was there before today
        erp.seed(customers=customers, items=items, vans=3, invoices=0, credit_notes=0, payments=0)
        erp.clock.set_offset(0)
        repzo.insert(
            "integration-app",
            [
                {
                    "_id": DEMO_APP_ID,
                    "name": "repzo-sync demo",
                    "available_app": {"_id": "65f0c2a1b3c4d5e6f7a8b9c1", "name": "repzo-sync"},
                    "company_namespace": ["demo"],
                }
            ],
        )
        config = demo.write_config()
        say(f"[bold]repzo-sync demo[/]  (sandbox Repzo at {repzo.url}, ERP stub at {erp.url})")
        say(f"Configuration: {demo.config_path} (config.example.yaml pointed at the sandboxes)\n")

        say(
            f"[bold]1.[/] The ERP holds {customers} customers, {items} items, price lists and "
            "taxes; Repzo is empty."
        )
        first = asyncio.run(demo.sync(config, ERP_TO_REPZO))
        demo.show(
            "ERP -> Repzo, first sync",
            first,
            {
                "customers-erp-to-repzo": "price lists first: customers refer to them",
                "variants-erp-to-repzo": "Repzo prices and sells variants: one per ERP item",
                "price-list-lines-erp-to-repzo": "failed: prices set per carton (min_qty > 1); "
                "Repzo has no minimum quantity, so they wait for a person instead of applying "
                "from one piece",
            },
        )

        demo.tick()
        activity = field_activity(demo, rng)
        say(
            f"\n[bold]2.[/] In the field, reps add a shop in Repzo and issue "
            f"{activity['invoices']} invoices (discounts, 16% tax, cartons of 24, a return, one "
            f"in USD), {activity['payments']} payments (one by cheque) and "
            f"{activity['refunds']} cash refund."
        )
        demo.tick()
        back = asyncio.run(demo.sync(config, REPZO_TO_ERP))
        demo.show(
            "Repzo -> ERP",
            back,
            {
                "customers-repzo-to-erp": "the new shop became an ERP customer; its ERP key "
                "went back to Repzo via update-integration-meta",
                "invoices-repzo-to-erp": "each looked up by number first, so never posted "
                "twice; lines and totals equal Repzo's to 0.001",
                "returns-repzo-to-erp": "the return lines of INV-1021-2 became a credit note",
                "payments-repzo-to-erp": "each linked to the ERP invoice it settles",
            },
        )

        demo.tick()
        documents = ("invoices-repzo-to-erp", "returns-repzo-to-erp", "payments-repzo-to-erp")
        reports = asyncio.run(demo.reconcile(config, documents))
        say(
            "`syncer reconcile` compares them document by document, line by line: "
            + "; ".join(
                f"{name.removesuffix('-repzo-to-erp')} {report.checked} checked, "
                f"{report.count('equal')} equal"
                for name, report in zip(documents, reports, strict=True)
            )
            + "."
        )

        edits = edits_on_both_sides(demo)
        say(
            f"\n[bold]3.[/] Edits: {len(edits['erp']['customers'])} customers and "
            f"{len(edits['erp']['items'])} items in the ERP; a phone in Repzo; customer C-00020 "
            "edited on both sides at once."
        )
        demo.tick()
        again = asyncio.run(demo.sync(config, ERP_TO_REPZO + REPZO_TO_ERP))
        demo.show(
            "Both ways again",
            again,
            {
                "customers-erp-to-repzo": "only what changed; the new shop takes its ERP code; "
                "C-00020's phone kept (Repzo owns phones)",
                "customers-repzo-to-erp": "the phone edits went to the ERP; C-00020's email waits "
                "for a person",
            },
        )
        demo.tick()
        quiet = asyncio.run(demo.sync(config, ERP_TO_REPZO + REPZO_TO_ERP))
        writes = sum(r.counts.created + r.counts.updated for r in quiet)
        say(
            f"\n[bold]4.[/] Once more with nothing new: {writes} writes (unchanged records are "
            "never sent, and our own writes read back are recognised)."
        )

        erp_customer = erp.get("customers", "C-00020") or {}
        repzo_customer = _client(repzo, lambda c: c.get("client_code") == "C-00020")
        field_shop = _client(repzo, lambda c: str(c.get("name", "")).startswith("Souq Al Madina"))
        say(
            f"\nC-00020 phone: ERP {erp_customer.get('phone')!r}, Repzo "
            f"{repzo_customer.get('phone')!r} (Repzo owns phones)."
        )
        say(
            f"C-00020 email: ERP {erp_customer.get('email')!r}, Repzo "
            f"{repzo_customer.get('email')!r} (waiting in `syncer conflicts list`)."
        )
        say(
            f"The field shop is ERP customer {field_shop.get('client_code')}; Repzo keeps the link "
            f"as integration_meta.id = {field_shop.get('integration_meta', {}).get('id')!r}."
        )
        commands = len(repzo.documents("integration-command-log"))
        actions = len(repzo.documents("integration-action-log"))
        say(
            f"Repzo holds {commands} integration command logs and {actions} action logs of "
            "these runs."
        )
        say(
            "\n[bold]Where to look next[/]\n"
            f"  syncer status -c {demo.config_path}\n"
            f"  syncer conflicts list -c {demo.config_path}\n"
            f"  syncer dead-letters list -c {demo.config_path}\n"
            "  config.example.yaml is this demo's configuration, commented (see the README).\n"
            "  Serve the sandboxes yourself: `syncer sandbox repzo` and `syncer sandbox erp`."
        )
    failures = [r for r in first + back + again + quiet if r.status == "failed"]
    return 3 if failures else 0
