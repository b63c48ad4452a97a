"""Findings of ``syncer repzo probe`` in the state store: saved by the command, read back when
the engine builds a connector, so what was learnt about an API once holds for every run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select

from syncer.config.models import ConnectorSettings
from syncer.remote.http import display_url
from syncer.state.base import utcnow
from syncer.state.models import RepzoFinding
from syncer.state.store import StateStore


class FindingLike(Protocol):
    """What a probe hands over: a fact, its JSON value and the evidence for it."""

    @property
    def fact(self) -> str: ...

    @property
    def value(self) -> Any: ...

    @property
    def evidence(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredFinding:
    connector: str
    fact: str
    value: Any
    evidence: str
    base_url: str
    probed_at: datetime


def endpoint_of(settings: ConnectorSettings) -> str:
    """The API a connector's findings belong to: its base URL without credentials, spelled as
    the connector's HTTP client spells it."""
    base_url = getattr(settings, "base_url", None)
    return display_url(str(base_url).rstrip("/")) if base_url is not None else ""


def save_findings(
    store: StateStore,
    connector: str,
    base_url: str,
    findings: Iterable[FindingLike],
    *,
    probed_at: datetime | None = None,
) -> None:
    """Store a probe's findings, replacing those facts. Facts this probe did not ask about (the
    write facts, after a read-only probe) keep their earlier rows, unless those were probed on
    another base URL: findings about another system say nothing about this one."""
    when = probed_at or utcnow()
    with store.session() as session:
        session.execute(
            delete(RepzoFinding).where(
                RepzoFinding.connector == connector, RepzoFinding.base_url != base_url
            )
        )
        for finding in findings:
            session.merge(
                RepzoFinding(
                    connector=connector,
                    fact=finding.fact,
                    value=finding.value,
                    evidence=finding.evidence,
                    base_url=base_url,
                    probed_at=when,
                )
            )


def load_findings(store: StateStore, connector: str | None = None) -> list[StoredFinding]:
    """Stored findings, of one connector or of all, by connector and fact."""
    query = select(RepzoFinding).order_by(RepzoFinding.connector, RepzoFinding.fact)
    if connector is not None:
        query = query.where(RepzoFinding.connector == connector)
    with store.session() as session:
        return [
            StoredFinding(
                row.connector, row.fact, row.value, row.evidence, row.base_url, row.probed_at
            )
            for row in session.scalars(query)
        ]


def findings_for(store: StateStore, connector: str, settings: ConnectorSettings) -> dict[str, Any]:
    """Fact -> value for a connector as configured now: rows probed on another base URL (the
    configuration moved from staging to production since) are left out."""
    endpoint = endpoint_of(settings)
    return {
        found.fact: found.value
        for found in load_findings(store, connector)
        if found.base_url == endpoint
    }
