"""Mirror mode: after a complete, clean listing, records the source no longer has are disabled
in the target.

Never after a partial listing (an outage would disable everything), nor after one with rows
that could not be read or identified (a broken row is not a deleted one). An empty listing of
a source that had records, or one that would disable more than ``mirror.max_delete``, looks
like a broken source rather than an emptied one: nothing is disabled and the run fails, unless
``--allow-mass-delete`` was given."""

from __future__ import annotations

from typing import Any

from syncer.connector import WriteOp
from syncer.engine import idmap, links
from syncer.engine.scan import Listing
from syncer.engine.scope import RunScope
from syncer.engine.write import write_split
from syncer.errors import SuspectListing
from syncer.logs import get_logger
from syncer.mapping.hashing import content_hash

log = get_logger(__name__)


async def mirror(scope: RunScope, listing: Listing, *, allow_mass_delete: bool) -> None:
    binding = scope.binding
    source, target = binding.source, binding.target
    if not listing.clean:
        log.warning(
            "mirror: some rows of the listing could not be read or identified, so nothing is "
            "disabled in this run; fix the source and the next clean listing will",
            unreadable=listing.rejected,
            unidentified=listing.unidentified,
        )
        return
    with scope.session() as session:
        present = idmap.live_count(session, binding.entity, source.name, source.stream)
        gone = idmap.not_seen_by(session, binding.entity, source.name, source.stream, scope.run_id)
        targets = idmap.by_canonical(
            session,
            binding.entity,
            target.name,
            target.stream,
            [row.canonical_id for row in gone],
        )
    live = [
        (row, linked)
        for row in gone
        if (linked := targets.get(row.canonical_id)) is not None and not linked.deleted
    ]
    check_mass_delete(scope, listing, present, len(live), allow_mass_delete=allow_mass_delete)
    ops: list[WriteOp] = []
    disables = "active" in target.mapping.write_fields
    for row, target_row in live:
        if disables:
            native = target.mapping.write({"active": False}, target.context, frozenset({"active"}))
            ops.append(WriteOp("update", native, ref=row.native_id, native_id=target_row.native_id))
        else:
            ops.append(WriteOp("delete", {}, ref=row.native_id, native_id=target_row.native_id))
    results = await write_split(binding, ops) if ops else []
    done = {result.ref for result in results if result.outcome != "failed"}
    with scope.fenced() as session:
        for row in gone:
            linked = targets.get(row.canonical_id)
            if (row.native_id in done or linked is None) and row.id is not None:
                # Forgetting the synced snapshot makes the record's return to the source a
                # change, which brings it back in the target.
                links.update_row(session, row.id, deleted=True, snapshot=None, content_hash=None)
            if row.native_id in done and linked is not None and linked.id is not None:
                # Remember that the target now has it disabled, so the record coming back to
                # the source is a change that enables it again.
                changed: dict[str, Any] = {"deleted": True}
                if disables:
                    changed["snapshot"] = {**(linked.snapshot or {}), "active": False}
                    changed["content_hash"] = content_hash(changed["snapshot"])
                links.update_row(session, linked.id, **changed)
                scope.counts.deleted += 1
    if gone:
        log.info("mirror: gone from the source", count=len(gone), disabled=len(done))


def check_mass_delete(
    scope: RunScope, listing: Listing, present: int, deleting: int, *, allow_mass_delete: bool
) -> None:
    binding = scope.binding
    flow = binding.flow
    source = binding.source.label
    limit = flow.mirror.max_delete
    claimed = listing.claimed
    if claimed is not None and listing.listed < claimed:
        # Not something --allow-mass-delete should wave through: the listing is short.
        raise SuspectListing(
            f"the complete listing of {source} gave {listing.listed} records, but "
            f"{flow.source.connector} said it holds {claimed}: a short listing (a page lost or "
            "capped) is not a complete one. Nothing was disabled",
            flow=flow.name,
            source=source,
            listed=listing.listed,
            present=present,
            deleting=deleting,
        )
    if listing.listed == 0 and present > 0:
        problem = (
            f"the complete listing of {source} is empty, but {present} records were there "
            "before: a missing, unmounted or truncated source looks like this"
        )
    elif deleting and not limit.allows(deleting, present):
        problem = (
            f"mirror would disable {deleting} of the {present} records of {source} in "
            f"{binding.target.label}, more than mirror.max_delete ({limit}) allows"
        )
    else:
        return
    if allow_mass_delete:
        log.warning("mirror: going ahead as --allow-mass-delete asks", reason=problem)
        return
    raise SuspectListing(
        f"{problem}. Nothing was disabled. If the source really lost these records, run "
        f"`syncer sync {flow.name} --allow-mass-delete` once",
        flow=flow.name,
        source=source,
        listed=listing.listed,
        present=present,
        deleting=deleting,
    )
