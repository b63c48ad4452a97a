"""Reconciling a document flow: is what the target holds what the source holds?

The proof an accountant asks for. For one document flow (invoices, credit notes, payments,
refunds) and a time window, every source document is read exactly as a sync reads it (the
same connector, paging and retries, the same mapping, references resolved through the id map),
its counterpart is found in the target as a sync finds it (the id map, else the document
number through the target's identity lookup), both are put in canonical form and compared
field by field.

It only reads. Nothing is written to either system or to the state store (no run, no cursor,
no id-map row, no lease), so it can run beside a live sync.

The modules, one job each: :mod:`~.documents` (which flows are document flows),
:mod:`~.window` (the window checked), :mod:`~.sides` (a system of the flow and its records in
canonical form), :mod:`~.listing` (reading a side's records), :mod:`~.matching` (finding
counterparts), :mod:`~.fields` (what is compared), :mod:`~.compare` (comparing, pure),
:mod:`~.report` (what was found) and :mod:`~.reconciler` (the reconciliation itself).
"""

from syncer.engine.reconcile.compare import Difference, Value, compare, shown
from syncer.engine.reconcile.fields import ComparedFields, compared_fields
from syncer.engine.reconcile.reconciler import reconcile
from syncer.engine.reconcile.report import Report

__all__ = [
    "ComparedFields",
    "Difference",
    "Report",
    "Value",
    "compare",
    "compared_fields",
    "reconcile",
    "shown",
]
