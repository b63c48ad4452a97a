"""The canonical entities: what a customer, a product, an invoice... is, whatever system it
came from. Connectors never talk to each other; they meet here.

Conventions: money is ``Decimal``; instants are timezone-aware UTC; business dates (issue date,
due date) are ``date``; references to other records hold their canonical id; ``active`` is the
positive form of Repzo's ``disabled`` and an ERP's inactive or blocked flags.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from syncer.canonical.base import (
    CanonicalModel,
    Integer,
    LineModel,
    Money,
    Percent,
    Quantity,
    Ref,
    UtcDateTime,
)
from syncer.canonical.documents import document_problems

# -- parties ---------------------------------------------------------------------------------


class Customer(CanonicalModel):
    """A customer (Repzo: client): a shop, a pharmacy, a supermarket a rep visits."""

    entity: ClassVar[str] = "customer"
    natural_key: ClassVar[str | None] = "code"
    references: ClassVar[dict[str, str]] = {"price_list": "price_list", "parent": "customer"}

    code: str = Field(min_length=1)
    """The customer's code in the system of record (ERP customer number)."""
    name: str = Field(min_length=1)
    local_name: str | None = None
    """The name in the local script (Arabic, for instance)."""
    contact_name: str | None = None
    phone: str | None = None
    cell_phone: str | None = None
    email: str | None = None
    address: str | None = None
    """One-line formatted address."""
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zip: str | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    tax_number: str | None = None
    credit_limit: Money | None = None
    balance: Money | None = None
    """What the customer owes, as the system of record computes it."""
    price_list: Ref | None = None
    parent: Ref | None = None
    """The head office of a chain."""
    payment_terms_days: Integer | None = Field(default=None, ge=0)
    tags: list[str] = Field(default_factory=list)
    active: bool = True


class Rep(CanonicalModel):
    """A sales representative (Repzo: rep), who may drive a van that is a warehouse."""

    entity: ClassVar[str] = "rep"
    natural_key: ClassVar[str | None] = "code"
    references: ClassVar[dict[str, str]] = {"warehouse": "warehouse"}

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    username: str | None = None
    phone: str | None = None
    email: str | None = None
    warehouse: Ref | None = None
    """The van or store the rep sells from."""
    active: bool = True


# -- catalogue -------------------------------------------------------------------------------


class Tax(CanonicalModel):
    """A tax rate (VAT 16 %, say)."""

    entity: ClassVar[str] = "tax"
    natural_key: ClassVar[str | None] = "code"

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    rate: Percent
    inclusive: bool = False
    """Prices already contain the tax (Repzo's ``type: inclusive``) rather than add it."""
    active: bool = True


class Category(CanonicalModel):
    """A product category (Repzo requires one on every product)."""

    entity: ClassVar[str] = "category"
    natural_key: ClassVar[str | None] = "code"

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    local_name: str | None = None
    active: bool = True


class Product(CanonicalModel):
    """A product: what is sold, with one or more variants (sizes, flavours)."""

    entity: ClassVar[str] = "product"
    natural_key: ClassVar[str | None] = "code"
    references: ClassVar[dict[str, str]] = {"tax": "tax", "category": "category"}

    code: str = Field(min_length=1)
    """SKU or item code."""
    name: str = Field(min_length=1)
    local_name: str | None = None
    description: str | None = None
    barcode: str | None = None
    category: Ref | None = None
    brand: str | None = None
    unit: str | None = None
    """Base unit of measure (piece, kg...)."""
    base_price: Money | None = None
    tax: Ref | None = None
    active: bool = True


class Variant(CanonicalModel):
    """A sellable variant of a product; what invoice lines and prices point at."""

    entity: ClassVar[str] = "variant"
    natural_key: ClassVar[str | None] = "code"
    references: ClassVar[dict[str, str]] = {"product": "product"}

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    product: Ref | None = None
    barcode: str | None = None
    price: Money | None = None
    active: bool = True


class PriceList(CanonicalModel):
    """A named price list customers are assigned to."""

    entity: ClassVar[str] = "price_list"
    natural_key: ClassVar[str | None] = "code"

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    active: bool = True


class PriceListItem(CanonicalModel):
    """The price of one variant (or product) in one price list."""

    entity: ClassVar[str] = "price_list_item"
    natural_key: ClassVar[str | None] = "code"
    references: ClassVar[dict[str, str]] = {
        "price_list": "price_list",
        "product": "product",
        "variant": "variant",
    }

    code: str = Field(min_length=1)
    """Key of the line in the system of record (often price-list code + item code)."""
    price_list: Ref
    product: Ref | None = None
    variant: Ref | None = None
    price: Money
    min_quantity: Quantity | None = None
    active: bool = True


# -- inventory -------------------------------------------------------------------------------


class Warehouse(CanonicalModel):
    """A place stock is kept: a store, or a rep's van."""

    entity: ClassVar[str] = "warehouse"
    natural_key: ClassVar[str | None] = "code"

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: Literal["main", "van"] = "main"
    active: bool = True


class StockLevel(CanonicalModel):
    """How much of a variant a warehouse holds, as of a moment."""

    entity: ClassVar[str] = "stock_level"
    natural_key: ClassVar[str | None] = "code"
    references: ClassVar[dict[str, str]] = {
        "warehouse": "warehouse",
        "product": "product",
        "variant": "variant",
    }

    code: str = Field(min_length=1)
    """Key of the level in the system of record (warehouse code + item code)."""
    warehouse: Ref
    product: Ref | None = None
    variant: Ref | None = None
    """Systems that stock variants (Repzo) name the variant; others (most ERPs) the product."""
    quantity: Quantity
    """In the base unit."""
    as_of: UtcDateTime | None = None


# -- documents -------------------------------------------------------------------------------


class TaxLine(LineModel):
    """Tax charged on a document or a line."""

    references: ClassVar[dict[str, str]] = {"tax": "tax"}

    tax: Ref | None = None
    name: str | None = None
    rate: Percent | None = None
    amount: Money


class Discount(LineModel):
    """A discount or promotion applied to a document or a line."""

    name: str | None = None
    rate: Percent | None = None
    amount: Money


class DocumentLine(LineModel):
    """One line of an invoice or credit note. Its amounts add up (checked on every read,
    :mod:`syncer.canonical.documents`): ``round(quantity x unit_price, 3) - discount`` plus
    ``tax_amount`` unless ``tax_included`` equals ``total``."""

    references: ClassVar[dict[str, str]] = {"variant": "variant", "product": "product"}

    variant: Ref | None = None
    product: Ref | None = None
    item_code: str | None = None
    """The item's code as printed, kept even when the variant reference resolves."""
    description: str | None = None
    quantity: Quantity
    unit: str | None = None
    unit_factor: Quantity | None = None
    """Base units in one ``unit`` (a box of 12: 12)."""
    unit_price: Money
    """Price of one ``unit`` (the unit the line is sold in), before discount; it includes the
    tax when ``tax_included``."""
    tax_included: bool = False
    """The price is gross: the tax is part of it rather than added to it (Repzo's tax
    ``type: inclusive``)."""
    discount: Money = Decimal(0)
    """The discount of the whole line, on the same footing as the price."""
    tax_amount: Money = Decimal(0)
    """The tax of the whole line."""
    total: Money
    """What the line comes to, tax included."""
    taxes: list[TaxLine] = Field(default_factory=list)


class Invoice(CanonicalModel):
    """A sales invoice, usually issued in the field and pushed to the ERP once."""

    entity: ClassVar[str] = "invoice"
    natural_key: ClassVar[str | None] = "number"
    references: ClassVar[dict[str, str]] = {
        "customer": "customer",
        "rep": "rep",
        "warehouse": "warehouse",
    }

    number: str = Field(min_length=1)
    """The document number both systems print (Repzo ``serial_number.formatted``)."""
    customer: Ref
    customer_code: str | None = None
    customer_name: str | None = None
    rep: Ref | None = None
    warehouse: Ref | None = None
    issue_date: date
    due_date: date | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    status: Literal["draft", "open", "paid", "partially_paid", "cancelled"] = "open"
    subtotal: Money | None = None
    """What the invoice comes to before discounts and tax (total - tax + discounts)."""
    discount_total: Money = Decimal(0)
    tax_total: Money = Decimal(0)
    total: Money
    lines: list[DocumentLine] = Field(default_factory=list)
    taxes: list[TaxLine] = Field(default_factory=list)
    discounts: list[Discount] = Field(default_factory=list)
    notes: str | None = None
    salesperson: str | None = None
    """Who issued it, by name: the rep in the field or a user in the back office."""
    issued_at: UtcDateTime | None = None
    """When it was issued, to the millisecond, where the system records it."""

    @model_validator(mode="after")
    def _adds_up(self) -> Invoice:
        _refuse_unbalanced(self)
        return self


class CreditNote(CanonicalModel):
    """A return or credit note: goods or money given back to a customer."""

    entity: ClassVar[str] = "credit_note"
    natural_key: ClassVar[str | None] = "number"
    references: ClassVar[dict[str, str]] = {
        "customer": "customer",
        "rep": "rep",
        "warehouse": "warehouse",
        "invoice": "invoice",
    }

    number: str = Field(min_length=1)
    customer: Ref
    rep: Ref | None = None
    warehouse: Ref | None = None
    invoice: Ref | None = None
    """The invoice it reverses, where there is one."""
    issue_date: date
    reason: str | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    subtotal: Money | None = None
    discount_total: Money = Decimal(0)
    tax_total: Money = Decimal(0)
    total: Money
    lines: list[DocumentLine] = Field(default_factory=list)
    notes: str | None = None
    salesperson: str | None = None
    """Who issued it, by name."""

    @model_validator(mode="after")
    def _adds_up(self) -> CreditNote:
        _refuse_unbalanced(self)
        return self


def _refuse_unbalanced(document: Invoice | CreditNote) -> None:
    problems = document_problems(
        document.lines,
        given=document.model_fields_set,
        total=document.total,
        tax_total=document.tax_total,
        discount_total=document.discount_total,
        subtotal=document.subtotal,
    )
    if problems:
        raise ValueError(f"the document does not add up: {'; '.join(problems)}")


class Payment(CanonicalModel):
    """Money received from a customer, collected in the field or at the office."""

    entity: ClassVar[str] = "payment"
    natural_key: ClassVar[str | None] = "number"
    references: ClassVar[dict[str, str]] = {
        "customer": "customer",
        "rep": "rep",
        "invoice": "invoice",
    }

    number: str = Field(min_length=1)
    customer: Ref
    rep: Ref | None = None
    invoice: Ref | None = None
    """The invoice it settles, when it settles one."""
    amount: Money = Field(gt=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    method: Literal["cash", "cheque", "bank_transfer", "card", "other"] = "cash"
    paid_on: date
    reference: str | None = None
    """Cheque number, transfer reference..."""
    notes: str | None = None
    salesperson: str | None = None
    """Who collected it, by name."""


class Refund(CanonicalModel):
    """Money given back to a customer (Repzo: refund), in cash or by cheque."""

    entity: ClassVar[str] = "refund"
    natural_key: ClassVar[str | None] = "number"
    references: ClassVar[dict[str, str]] = {"customer": "customer", "rep": "rep"}

    number: str = Field(min_length=1)
    customer: Ref
    rep: Ref | None = None
    amount: Money = Field(gt=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    method: Literal["cash", "cheque"] = "cash"
    paid_on: date
    reference: str | None = None
    """Cheque number."""
    settles: str | None = None
    """The number of the document it refunds (a return invoice, a payment), where it says."""
    notes: str | None = None
    salesperson: str | None = None


ENTITIES: dict[str, type[CanonicalModel]] = {
    model.entity: model
    for model in (
        Customer,
        Rep,
        Tax,
        Category,
        Product,
        Variant,
        PriceList,
        PriceListItem,
        Warehouse,
        StockLevel,
        Invoice,
        CreditNote,
        Payment,
        Refund,
    )
}
"""Every canonical entity by name."""
DOCUMENTS = frozenset({"invoice", "credit_note", "payment", "refund"})
"""The entities that are documents: issued once, posted once, checked by ``syncer
reconcile``."""
