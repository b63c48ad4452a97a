"""The canonical model: the entities every connector maps its records to and from."""

from syncer.canonical.base import CanonicalModel, LineModel
from syncer.canonical.entities import (
    ENTITIES,
    Category,
    CreditNote,
    Customer,
    Discount,
    DocumentLine,
    Invoice,
    Payment,
    PriceList,
    PriceListItem,
    Product,
    Rep,
    StockLevel,
    Tax,
    TaxLine,
    Variant,
    Warehouse,
)

__all__ = [
    "ENTITIES",
    "CanonicalModel",
    "Category",
    "CreditNote",
    "Customer",
    "Discount",
    "DocumentLine",
    "Invoice",
    "LineModel",
    "Payment",
    "PriceList",
    "PriceListItem",
    "Product",
    "Rep",
    "StockLevel",
    "Tax",
    "TaxLine",
    "Variant",
    "Warehouse",
]
