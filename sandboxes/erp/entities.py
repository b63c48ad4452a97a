"""The ERP stub's collections and the shape of their records.

These specs are the server's side of ``mappings/erp_stub/*.yaml``: every native path a mapping
reads or writes is a field here, with the format the ERP keeps it in. Validation, seeding and
the admin mutations all work from this one table, so a field cannot be served in one shape and
accepted in another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FieldKind = Literal[
    "text",
    "money",  # decimal string, 3 places: "15000.000"
    "quantity",  # decimal string, 3 places: "24.000"
    "rate",  # percentage as a decimal string, 2 places: "16.00"
    "date",  # business date, YYYY-MM-DD
    "bool",
    "count",  # whole number >= 0
    "texts",  # list of strings (barcodes)
    "units",  # list of {code, factor}
    "address",  # object with the ADDRESS_PARTS keys
    "lines",  # list of document lines, checked against EntitySpec.line_fields
]
Keying = Literal["generated", "given", "composite"]

ADDRESS_PARTS = ("street", "city", "region", "country", "postcode")
KEY_SEPARATOR = ":"
"""Joins the parts of a composite id: ``PL-RETAIL:I-00017``."""
SERVER_OWNED = ("created_at", "updated_at")

CUSTOMER_STATUSES = ("active", "inactive")
ITEM_STATUSES = ("active", "discontinued")
INVOICE_STATUSES = ("draft", "open", "paid", "partial", "void")
CREDIT_NOTE_STATUSES = ("draft", "open", "applied", "void")
PAYMENT_STATUSES = ("posted", "void")
PAYMENT_METHODS = ("cash", "cheque", "transfer", "card", "other")
REFUND_STATUSES = ("posted", "void")
REFUND_METHODS = ("cash", "cheque")
WAREHOUSE_TYPES = ("store", "van")
DEFAULT_CURRENCY = "JOD"


@dataclass(frozen=True)
class FieldSpec:
    kind: FieldKind = "text"
    required: bool = False
    ref: str | None = None
    """Entity whose key this field holds; an unknown key is refused, as an ERP would."""
    choices: tuple[str, ...] = ()
    default: Any = None
    """Filled in on create when the field is absent (an immutable JSON scalar)."""
    positive: bool = False
    """For amounts: must be more than zero (a refund of nothing is not a refund)."""


@dataclass(frozen=True)
class EntitySpec:
    name: str
    """Collection name in the URL: ``/api/v1/<name>``."""
    singular: str
    """How messages name one record: "unknown customer C-99999"."""
    key: str
    keying: Keying
    fields: dict[str, FieldSpec]
    id_format: str = ""
    """For generated keys: the format of the sequence number, ``C-{:05d}``."""
    key_parts: tuple[str, ...] = ()
    """For composite keys: the fields joined with ``:`` to make the id."""
    inactive: tuple[str, Any] = ("active", False)
    """What DELETE sets: master data is deactivated, never erased."""
    document: bool = False
    """Posted documents: idempotent on ``number``, immutable but for ``status``, not deletable."""
    line_fields: dict[str, FieldSpec] = field(default_factory=dict)
    """For documents with lines (invoices, credit notes): the fields of a line. Such documents
    must add up on create (see ``arithmetic``)."""


def _text(*, required: bool = False, ref: str | None = None) -> FieldSpec:
    return FieldSpec("text", required=required, ref=ref)


def _active() -> FieldSpec:
    return FieldSpec("bool", default=True)


def _document_lines() -> dict[str, FieldSpec]:
    return {
        "item": _text(required=True, ref="items"),
        "item_code": _text(),
        "description": _text(),
        # May be negative: a correction line, which real ERPs accept.
        "qty": FieldSpec("quantity", required=True),
        "uom": _text(),
        # The price of one unit sold; gross (tax part of it) when tax_included.
        "unit_price": FieldSpec("money", required=True),
        "tax_included": FieldSpec("bool", default=False),
        # Discount and tax are amounts for the whole line, not per unit.
        "discount": FieldSpec("money", default="0.000"),
        "tax": FieldSpec("money", default="0.000"),
        # Computed from the above when omitted; refused when given and different.
        "total": FieldSpec("money"),
    }


def _document_totals() -> dict[str, FieldSpec]:
    """A document's header amounts: each is computed from the lines when omitted (a discount
    of 0.000 without line discounts) and refused when given and different, so none has a
    default of its own that could disagree with the lines."""
    return {
        "subtotal": FieldSpec("money"),
        "discount": FieldSpec("money"),
        "tax": FieldSpec("money"),
        "total": FieldSpec("money"),
    }


_CUSTOMERS = EntitySpec(
    name="customers",
    singular="customer",
    key="id",
    keying="generated",
    id_format="C-{:05d}",
    inactive=("status", "inactive"),
    fields={
        "name": _text(required=True),
        "name_local": _text(),
        "contact": _text(),
        "phone": _text(),
        "mobile": _text(),
        "email": _text(),
        "address": FieldSpec("address"),
        "tax_id": _text(),
        "credit_limit": FieldSpec("money", default="0.000"),
        "balance": FieldSpec("money", default="0.000"),
        "price_list": _text(ref="price_lists"),
        "payment_terms_days": FieldSpec("count", default=0),
        "status": FieldSpec("text", choices=CUSTOMER_STATUSES, default="active"),
        # Another system's key for the customer (an integration sets it when it creates one),
        # so a create whose answer was lost can be found instead of made twice.
        "external_ref": _text(),
    },
)

_ITEM_GROUPS = EntitySpec(
    name="item_groups",
    singular="item group",
    key="code",
    keying="given",
    fields={
        "code": _text(required=True),
        "name": _text(required=True),
        "name_local": _text(),
        "active": _active(),
    },
)

_ITEMS = EntitySpec(
    name="items",
    singular="item",
    key="code",
    keying="given",
    inactive=("status", "discontinued"),
    fields={
        "code": _text(required=True),
        "name": _text(required=True),
        "name_local": _text(),
        "description": _text(),
        "barcodes": FieldSpec("texts"),
        "group": _text(ref="item_groups"),
        "brand": _text(),
        "uom": FieldSpec("text", default="PCS"),
        "units": FieldSpec("units"),
        "price": FieldSpec("money", default="0.000"),
        "tax_code": _text(ref="taxes"),
        "status": FieldSpec("text", choices=ITEM_STATUSES, default="active"),
    },
)

_TAXES = EntitySpec(
    name="taxes",
    singular="tax",
    key="code",
    keying="given",
    fields={
        "code": _text(required=True),
        "name": _text(required=True),
        "rate": FieldSpec("rate", required=True),
        "inclusive": FieldSpec("bool", default=False),
        "active": _active(),
    },
)

_PRICE_LISTS = EntitySpec(
    name="price_lists",
    singular="price list",
    key="code",
    keying="given",
    fields={
        "code": _text(required=True),
        "name": _text(required=True),
        "currency": FieldSpec("text", default=DEFAULT_CURRENCY),
        "active": _active(),
    },
)

_PRICE_LIST_LINES = EntitySpec(
    name="price_list_lines",
    singular="price list line",
    key="id",
    keying="composite",
    key_parts=("price_list", "item"),
    fields={
        "price_list": _text(required=True, ref="price_lists"),
        "item": _text(required=True, ref="items"),
        "price": FieldSpec("money", required=True),
        "min_qty": FieldSpec("quantity", default="1.000"),
        "active": _active(),
    },
)

_WAREHOUSES = EntitySpec(
    name="warehouses",
    singular="warehouse",
    key="code",
    keying="given",
    fields={
        "code": _text(required=True),
        "name": _text(required=True),
        "type": FieldSpec("text", choices=WAREHOUSE_TYPES, default="store"),
        "active": _active(),
    },
)

_STOCK_LEVELS = EntitySpec(
    name="stock_levels",
    singular="stock level",
    key="id",
    keying="composite",
    key_parts=("warehouse", "item"),
    fields={
        "warehouse": _text(required=True, ref="warehouses"),
        "item": _text(required=True, ref="items"),
        "on_hand": FieldSpec("quantity", required=True),
        "active": _active(),
    },
)

_INVOICES = EntitySpec(
    name="invoices",
    singular="invoice",
    key="id",
    keying="generated",
    id_format="SI-{:06d}",
    document=True,
    fields={
        "number": _text(required=True),
        "customer": _text(required=True, ref="customers"),
        "customer_name": _text(),
        "warehouse": _text(ref="warehouses"),
        "date": FieldSpec("date", required=True),
        "due_date": FieldSpec("date"),
        "currency": FieldSpec("text", default=DEFAULT_CURRENCY),
        "status": FieldSpec("text", choices=INVOICE_STATUSES, default="open"),
        **_document_totals(),
        "notes": _text(),
        "salesperson": _text(),
        "lines": FieldSpec("lines", required=True),
    },
    line_fields=_document_lines(),
)

_CREDIT_NOTES = EntitySpec(
    name="credit_notes",
    singular="credit note",
    key="id",
    keying="generated",
    id_format="CN-{:06d}",
    document=True,
    fields={
        "number": _text(required=True),
        "customer": _text(required=True, ref="customers"),
        "customer_name": _text(),
        "warehouse": _text(ref="warehouses"),
        "original_invoice": _text(ref="invoices"),
        "date": FieldSpec("date", required=True),
        "reason": _text(),
        "currency": FieldSpec("text", default=DEFAULT_CURRENCY),
        "status": FieldSpec("text", choices=CREDIT_NOTE_STATUSES, default="open"),
        **_document_totals(),
        "notes": _text(),
        "salesperson": _text(),
        "lines": FieldSpec("lines", required=True),
    },
    line_fields=_document_lines(),
)

_PAYMENTS = EntitySpec(
    name="payments",
    singular="payment",
    key="id",
    keying="generated",
    id_format="RCPT-{:06d}",
    document=True,
    fields={
        "number": _text(required=True),
        "customer": _text(required=True, ref="customers"),
        "invoice": _text(ref="invoices"),
        "amount": FieldSpec("money", required=True),
        "currency": FieldSpec("text", default=DEFAULT_CURRENCY),
        "method": FieldSpec("text", choices=PAYMENT_METHODS, default="cash"),
        "date": FieldSpec("date", required=True),
        "reference": _text(),
        "notes": _text(),
        "salesperson": _text(),
        "status": FieldSpec("text", choices=PAYMENT_STATUSES, default="posted"),
    },
)

_REFUNDS = EntitySpec(
    name="refunds",
    singular="refund",
    key="id",
    keying="generated",
    id_format="RF-{:06d}",
    document=True,
    fields={
        "number": _text(required=True),
        "customer": _text(required=True, ref="customers"),
        "amount": FieldSpec("money", required=True, positive=True),
        "currency": FieldSpec("text", default=DEFAULT_CURRENCY),
        "method": FieldSpec("text", choices=REFUND_METHODS, default="cash"),
        "date": FieldSpec("date", required=True),
        "reference": _text(),
        # The number of the document refunded (a credit note, a return invoice), as printed:
        # it may be another system's number the ERP does not have, so it is not a reference.
        "settles": _text(),
        "notes": _text(),
        "salesperson": _text(),
        "status": FieldSpec("text", choices=REFUND_STATUSES, default="posted"),
    },
)

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        _CUSTOMERS,
        _ITEM_GROUPS,
        _ITEMS,
        _TAXES,
        _PRICE_LISTS,
        _PRICE_LIST_LINES,
        _WAREHOUSES,
        _STOCK_LEVELS,
        _INVOICES,
        _CREDIT_NOTES,
        _PAYMENTS,
        _REFUNDS,
    )
}


def entity(name: str) -> EntitySpec:
    """The spec of a collection; KeyError names the known ones."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(
            f"no collection {name!r}; the ERP has {', '.join(sorted(ENTITIES))}"
        ) from None
