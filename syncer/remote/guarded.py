"""Creating a record exactly once over a network that loses answers.

A create whose answer never came (a timeout or a dropped connection after the request was sent)
may or may not have happened. Sending it again blindly can make a second invoice in a system
that does not deduplicate; so before each new attempt the record is looked up by a key it
carries, and only sent again when it is not there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from syncer.connector import Record, WriteOp
from syncer.logs import get_logger
from syncer.remote.errors import UncertainWrite

log = get_logger(__name__)

ATTEMPTS = 3
"""Sends of one record whose answers were lost, each after a lookup found nothing."""


async def create_once(
    op: WriteOp,
    create: Callable[[], Awaitable[Record]],
    find: Callable[[str, str], Awaitable[Sequence[Record]]],
) -> Record:
    """``create()``; when its outcome is unknown, ``find(field, value)`` by ``op.lookup``
    before trying again. Without a lookup key an uncertain create is not repeated: it
    surfaces as :class:`UncertainWrite` and the engine's own lookup settles it next run."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await create()
        except UncertainWrite:
            if op.lookup is None or attempt == ATTEMPTS:
                raise
            field, value = op.lookup
            existing = await find(field, value)
            if existing:
                log.info("create had in fact succeeded", ref=op.ref, lookup=field)
                return existing[0]
    raise AssertionError("unreachable")  # pragma: no cover
