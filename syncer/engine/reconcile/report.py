"""What a reconciliation found: each document's verdict, and the report as JSON shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from syncer.engine.reconcile.compare import Difference, shown
from syncer.engine.reconcile.fields import ComparedFields
from syncer.engine.reconcile.window import Window

Status = Literal["equal", "different", "missing_in_target", "missing_in_source", "not_comparable"]
Side = Literal["source", "target"]


@dataclass(slots=True)
class DocumentResult:
    number: str
    status: Status
    source_id: str | None = None
    target_id: str | None = None
    differences: list[Difference] = field(default_factory=list)
    reason: str | None = None
    """Why it is not comparable."""
    side: Side | None = None
    """The side it could not be read or mapped on, when not comparable."""

    @property
    def native_of_side(self) -> str | None:
        """The native id on the side it could not be compared on."""
        return self.target_id if self.side == "target" else self.source_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "source_id": self.source_id,
            "target_id": self.target_id,
            "reason": self.reason,
            "side": self.side,
        }


def not_comparable(result: DocumentResult, side: Side, reason: str | None) -> DocumentResult:
    """``result``, marked as not comparable because of ``side``, for ``reason``."""
    result.status, result.side, result.reason = "not_comparable", side, reason
    return result


@dataclass(slots=True)
class Report:
    flow: str
    source: str
    target: str
    window: Window
    fields: ComparedFields
    documents: list[DocumentResult] = field(default_factory=list)
    undated: int = 0
    """Source records that name no time, so belong to no window: not checked."""

    def count(self, status: Status) -> int:
        return sum(1 for document in self.documents if document.status == status)

    @property
    def checked(self) -> int:
        return len(self.documents)

    @property
    def clean(self) -> bool:
        """Every document checked is on both sides and the same."""
        return all(document.status == "equal" for document in self.documents)

    @property
    def differences(self) -> list[Difference]:
        return [found for document in self.documents for found in document.differences]

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "source": self.source,
            "target": self.target,
            "since": self.window.since.isoformat(),
            "until": self.window.until.isoformat(),
            "checked": self.checked,
            "equal": self.count("equal"),
            "different": self.count("different"),
            "missing_in_target": self.count("missing_in_target"),
            "missing_in_source": self.count("missing_in_source"),
            "not_comparable": self.count("not_comparable"),
            "undated": self.undated,
            "fields": self.fields.as_dict(),
            "differences": [
                {
                    "number": found.number,
                    "field": found.field,
                    "source": shown(found.source),
                    "target": shown(found.target),
                }
                for found in self.differences
            ],
            "documents": [document.as_dict() for document in self.documents],
        }
