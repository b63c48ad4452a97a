"""Reading back what the other half of a two-way pair wrote to this flow's source.

A scan stops at its upper bound (the source's clock minus the safety margin), so what the
other half wrote in the last seconds, or after this flow's scan, would wait for a later run: a
code the ERP gave a customer created from a Repzo client, a field the conflict policy kept for
this side while the other half wrote the rest of the record. Read back now, an echo costs a
hash comparison and anything more is synced, so one ``syncer sync`` leaves a pair settled.
Later scans see these records as echoes; the cursor is not moved here."""

from __future__ import annotations

import asyncio

from syncer.engine import idmap
from syncer.engine.retries import CHUNK, Process
from syncer.engine.scope import RunScope
from syncer.logs import get_logger

log = get_logger(__name__)


async def settle(scope: RunScope, process: Process, stop: asyncio.Event) -> None:
    binding = scope.binding
    if binding.pair is None:
        return
    source = binding.source
    with scope.session() as session:
        natives = idmap.written_by(
            session, binding.entity, source.name, source.stream, binding.pair.reverse
        )
    if not natives:
        return
    log.info("reading back what the other half of the pair wrote", records=len(natives))
    key = source.mapping.key.text
    for start in range(0, len(natives), CHUNK):
        if stop.is_set():
            return
        chunk = natives[start : start + CHUNK]
        records = await source.connector.lookup(source.stream, key, chunk)
        if records:
            await process(records, ())
        with scope.fenced() as session:
            # Gone since (deleted, merged): the next scans say what became of them.
            idmap.read_back_natives(session, binding.entity, source.name, source.stream, chunk)
