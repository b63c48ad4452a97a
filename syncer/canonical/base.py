"""Building blocks of the canonical entities: the base model and the shared field types."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from syncer.canonical.numbers import bounded, bounded_int


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("expected a timezone-aware time; a naive time is ambiguous")
    return value.astimezone(UTC)


def _bounded_decimal(value: Any, parse: ValidatorFunctionWrapHandler) -> Decimal:
    # Wrapped, so that a refusal quotes the value as given ("1e999999999"), not as parsed.
    number: Decimal = parse(value)
    return bounded(number, value)


def _integer_input(value: Any) -> Any:
    # pydantic turns a Decimal into an int with int(): Decimal("1e999999999") would never
    # come back. Checked before, so it is refused instead.
    return bounded(value) if isinstance(value, Decimal) else value


Number = Annotated[Decimal, Field(allow_inf_nan=False), WrapValidator(_bounded_decimal)]
"""An exact number within the bounds of :mod:`syncer.canonical.numbers`: whatever path it
came by (a transform, or text a connector read straight into the field), a number that would
cost a run its time (``1e999999999``) is refused here."""
Money = Number
"""An amount in the document's currency, exact. Repzo's x1000 integers and an ERP's decimal
strings are the mappings' business; the canonical model never holds a float amount."""
Quantity = Number
"""A quantity, exact (fractions of a unit happen: 0.5 kg)."""
Percent = Annotated[Number, Field(ge=0)]
"""A rate in percent: 16 means 16 %."""
Integer = Annotated[int, BeforeValidator(_integer_input), AfterValidator(bounded_int)]
"""A whole number within the same bounds."""
UtcDateTime = Annotated[datetime, AfterValidator(_aware_utc)]
"""An instant, always timezone-aware and normalised to UTC."""
Ref = Annotated[str, Field(min_length=1)]
"""The canonical id of another canonical record (resolved through the id map)."""


class CanonicalModel(BaseModel):
    """Base of every canonical entity.

    Unknown fields are refused, except inside ``extras``, which a mapping fills only when it
    asks to carry fields the canonical model does not know.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    entity: ClassVar[str]
    """The entity name mappings refer to (``customer``, ``invoice``...)."""
    natural_key: ClassVar[str | None] = None
    """Field that identifies the record across systems without any id map (a code, a document
    number), used to find it in a target before creating it."""
    references: ClassVar[dict[str, str]] = {}
    """Field -> entity it refers to (values are canonical ids of that entity)."""

    extras: dict[str, Any] = Field(default_factory=dict)
    """Native fields carried along unchanged, when a mapping asks for it."""


class LineModel(BaseModel):
    """Base of the parts of a document (invoice lines, tax lines...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    references: ClassVar[dict[str, str]] = {}
