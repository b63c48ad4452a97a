"""Runtime errors of mappings: a record that cannot be mapped is skipped, never fatal."""

from __future__ import annotations

from syncer.errors import RecordError


class MappingError(RecordError):
    """A native or canonical record cannot be mapped (missing required field, bad number,
    unknown value)."""


class UnresolvedReference(MappingError):
    """A reference to a record the id map does not know yet (the customer's price list has not
    been synced): retried later, once the referenced record arrives."""

    def __init__(
        self, entity: str, value: str, *, record_key: str | None = None, field: str | None = None
    ) -> None:
        self.entity = entity
        self.value = value
        super().__init__(
            f"waiting for {entity} {value}: it has not been synced yet",
            record_key=record_key,
            field=field,
        )


class RecordRefused(MappingError):
    """A record the target's mapping refuses to write as it is (its ``refuse:`` rules): only a
    new version of the record can change that, so it is not retried on a schedule."""
