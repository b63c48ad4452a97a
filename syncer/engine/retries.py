"""Dead letters of a flow, run through it again: due ones on every run (with backoff), all of
them when a person asks (``syncer dead-letters retry``).

Records of a source a person can fix (files) are read again from the source, so a fixed file
fixes its dead letters. Others are looked up in the source by their id and retried as they are
now: the payload kept with a letter is the record as it was when it failed, and replaying it
would write that older version over whatever happened since (a person's edit, the other half
of a pair writing to it). Only a record the source no longer returns, or a source that cannot
be looked up by id, is retried from its payload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from syncer.connector import LOCATION_FIELD, ReadRequest, Record
from syncer.engine import deadletters
from syncer.engine.deadletters import Failure
from syncer.engine.scan import reading
from syncer.engine.scope import RunScope
from syncer.logs import get_logger
from syncer.remote.errors import UnsupportedQuery
from syncer.state.base import utcnow

log = get_logger(__name__)

Process = Callable[[Sequence[Record], Sequence[Failure]], Awaitable[None]]
"""Runs records (and failures to park) through the flow's stages and commits them."""


async def retry_dead_letters(scope: RunScope, process: Process, *, everything: bool) -> int:
    """Run due dead letters (``everything``: all pending ones) through the flow again; returns
    how many went through."""
    binding = scope.binding
    from_files = binding.source.info.from_files
    with scope.session() as session:
        letters = deadletters.due(
            session, binding.flow.name, utcnow(), include_read=from_files, everything=everything
        )
        keys = {letter.record_key for letter in letters}
        payloads = [letter.payload for letter in letters if letter.payload]
    if not keys:
        return 0
    binding.forget_misses()
    log.info("retrying dead letters", count=len(keys), reread=from_files)
    if from_files:
        return await _reread(scope, process, keys)
    if not payloads:
        return 0
    records = await current_versions(scope, payloads)
    before = scope.counts.failed
    await process(records, ())
    return len(records) - (scope.counts.failed - before)


CHUNK = 200
"""Ids per lookup of records by id in their source (here and in ``settle``)."""


async def current_versions(scope: RunScope, payloads: Sequence[Record]) -> list[Record]:
    """Each payload's record as the source holds it now; the payload where the source no longer
    returns it, or cannot be asked by id."""
    source = scope.binding.source
    mapping = source.mapping
    by_id: dict[str, Record] = {}
    unkeyed: list[Record] = []
    for payload in payloads:
        native_id = mapping.native_id_or_none(payload)
        if native_id is None:
            unkeyed.append(payload)
        else:
            by_id[native_id] = payload
    natives = list(by_id)
    current: dict[str, Record] = {}
    try:
        for start in range(0, len(natives), CHUNK):
            chunk = natives[start : start + CHUNK]
            for record in await source.connector.lookup(source.stream, mapping.key.text, chunk):
                native_id = mapping.native_id_or_none(record)
                if native_id in by_id:
                    current[native_id] = record
    except UnsupportedQuery as error:
        log.warning("dead letters are retried as they were kept", reason=error.message)
        return list(payloads)
    if gone := len(by_id) - len(current):
        log.info("some dead letters' records are no longer in the source", retried_as_kept=gone)
    return [current.get(native_id, payload) for native_id, payload in by_id.items()] + unkeyed


async def _reread(scope: RunScope, process: Process, keys: set[str]) -> int:
    """Read the whole source again and send the records the dead letters name (by id, or by
    ``file:line`` for rows that could not be read) through the flow. Letters whose record is
    nowhere to be found stay, tried again later."""
    mapping = scope.binding.source.mapping
    flow = scope.flow.name
    found: set[str] = set()
    unreadable: set[str] = set()
    async with reading(scope.binding.source, ReadRequest()) as pages:
        async for page in pages:
            wanted: list[Record] = []
            for record in page.records:
                location = record.get(LOCATION_FIELD)
                native_id = mapping.native_id_or_none(record)
                hits = {key for key in (native_id, location) if key in keys}
                if hits:
                    found.update(hits)
                    wanted.append(record)
            rejected = [
                Failure(r.key, r.reason, "read", {"raw": r.raw}, field=r.field)
                for r in page.rejected
                if r.key in keys
            ]
            unreadable.update(failure.record_key for failure in rejected)
            found.update(unreadable)
            if wanted or rejected:
                await process(wanted, rejected)
    with scope.fenced() as session:
        deadletters.resolve_reread(session, flow, unreadable, only=found)
        deadletters.postpone(session, flow, keys - found)
        resolved = deadletters.count_resolved(session, flow, keys)
    if keys - found:
        log.info(
            "some dead letters' records were not found when the source was read again",
            missing=len(keys - found),
        )
    return resolved
