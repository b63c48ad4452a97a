"""One record to one record: source records that would land on the same target record are
parked instead of written, every one of them, since syncer cannot tell which is right (two
Repzo clients with one client_code exported to a CSV file keyed by code; two sources feeding
one Repzo stream with the same codes). Writing them would let one overwrite the other, and
linking both to one record cannot be stored."""

from __future__ import annotations

from collections.abc import Sequence

from syncer.engine import idmap
from syncer.engine.batch import Decision, Matched, Parked, Settled, Write
from syncer.engine.deadletters import Failure
from syncer.engine.links import Link
from syncer.engine.scope import RunScope
from syncer.logs import get_logger

log = get_logger(__name__)


def one_target_each(scope: RunScope, decisions: list[Decision]) -> list[Decision]:
    """The decisions, with those whose records share a target record parked. A target record
    is known by its key where the record to write carries it (a CSV key column), the one the
    identity lookup found, or the identity key it would be found by."""
    binding = scope.binding
    claims: dict[tuple[str, ...], list[Matched]] = {}
    new_links: dict[str, list[Matched]] = {}
    for decision in decisions:
        if isinstance(decision, Parked) or decision.match.target_row is not None:
            continue  # parked already, or linked: the record it goes to is its own
        match = decision.match
        if isinstance(decision, Settled) and match.found is None:
            continue  # nothing to write or link (a deletion of what never arrived)
        native = _target_key(scope, decision)
        if native is not None:
            claims.setdefault(("key", native), []).append(match)
            new_links.setdefault(native, []).append(match)
        if match.lookup is not None:
            claims.setdefault(("lookup", *match.lookup), []).append(match)
    refused: dict[str, str] = {}
    target = binding.target.label
    for claim, sharing in claims.items():
        if len({match.key for match in sharing}) < 2:
            continue
        where = f"{claim[1]} {claim[2]!r}" if claim[0] == "lookup" else f"the key {claim[1]!r}"
        names = ", ".join(match.record.described for match in sharing)
        for match in sharing:
            refused.setdefault(
                match.key,
                f"{len(sharing)} records of {binding.source.label} ({names}) would all be the "
                f"{target} record with {where}, and syncer cannot tell which one is right; none "
                "of them is synced until each has its own key in the source (or the extra ones "
                "are gone)",
            )
    if new_links:
        with scope.session() as session:
            taken = idmap.by_native(
                session, binding.entity, binding.target.name, binding.target.stream, list(new_links)
            )
            owners = {row.canonical_id for row in taken.values()}
            others = idmap.other_sides(
                session,
                binding.entity,
                owners,
                connector=binding.target.name,
                stream=binding.target.stream,
            )
        for native, row in taken.items():
            for match in new_links[native]:
                if match.key in refused or row.canonical_id == match.canonical_id:
                    continue
                refused[match.key] = (
                    f"the {target} record {native} is already the counterpart of "
                    f"{_side_names(others.get(row.canonical_id, []), row.canonical_id)}, and "
                    "syncer links one record to one record; this one is not synced. If both "
                    "are the same record, keep only one of them; if not, give this one a key "
                    "of its own"
                )
    if not refused:
        return decisions
    kept: list[Decision] = []
    for decision in decisions:
        reason = refused.get(decision.match.key)
        if reason is None or isinstance(decision, Parked):
            kept.append(decision)
            continue
        log.warning(
            "record not synced: it shares a target record", record=decision.match.key, reason=reason
        )
        failure = Failure(decision.match.key, reason, "identity", decision.match.record.native)
        kept.append(Parked(decision.match, failure))
    return kept


def _target_key(scope: RunScope, decision: Write | Settled) -> str | None:
    """The target's key of the record a record not linked yet goes to, where it is known
    before writing: found by the identity lookup, or carried by the record to write."""
    if decision.match.found is not None:
        return decision.match.found
    if not isinstance(decision, Write):
        return None
    # None: the target gives it its key (a Repzo _id) when it is created.
    return scope.binding.target.mapping.native_id_or_none(decision.op.record)


def _side_names(rows: Sequence[Link], canonical_id: str) -> str:
    if not rows:
        return f"another record (canonical id {canonical_id})"
    return " and ".join(f"{row.connector}.{row.stream} {row.native_id}" for row in rows)
