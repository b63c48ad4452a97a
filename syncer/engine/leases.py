"""One process at a time per flow (invariant 10), through the state store itself.

A flow run holds the lease of its (source, target) pair for as long as it runs. Taking it is a
compare-and-swap on the lease row's ``fence``: one UPDATE whose WHERE repeats the condition that
made the lease look free, so two processes that both saw it free cannot both take it, on SQLite
and on PostgreSQL alike. Every commit of the run's state renews the lease in the same
transaction, and only under the fence the run started with: a process that was paused past its
lease (a laptop lid, a stalled VM) finds the fence moved on and commits nothing.

A lease whose holder is a process of this host that no longer exists (``kill -9``, out of
memory) is taken over at once rather than after its expiry. A holder on another host is trusted
until its lease expires.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syncer.config.models import FlowConfig
from syncer.engine.abandoned import process_alive
from syncer.errors import SyncerError
from syncer.exit_codes import ExitCode
from syncer.state.base import utcnow
from syncer.state.models import Lease
from syncer.state.store import StateStore

DEFAULT_TTL = timedelta(seconds=60)
"""How long a lease outlives its last renewal. Runs renew on every commit and every TTL/3."""


class LeaseBusy(SyncerError):
    """Another process runs this flow now."""

    exit_code = ExitCode.OK

    def __init__(self, name: str, holder: str | None, expires_at: datetime | None) -> None:
        until = (
            f" (its lease runs to {expires_at.isoformat(timespec='seconds')})" if expires_at else ""
        )
        super().__init__(f"{holder or 'another process'} is running it{until}; skipped")
        self.name = name
        self.holder = holder
        self.expires_at = expires_at


class LeaseLost(SyncerError):
    """The run's lease went to another process: nothing more may be committed."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, name: str) -> None:
        super().__init__(
            "another process took this flow over (this one was paused or cut off from the state "
            f"store for longer than its lease); nothing more of this run was committed [{name}]"
        )
        self.name = name


@dataclass(frozen=True, slots=True)
class Held:
    name: str
    holder: str
    fence: int
    ttl: timedelta


def lease_name(flow: FlowConfig) -> str:
    """Flows moving the same stream into the same target share a lease, whatever their names."""
    source, target = flow.source, flow.target
    return f"{source.connector}/{source.stream}->{target.connector}/{target.stream}"[:255]


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:255]


def acquire(store: StateStore, name: str, holder: str, ttl: timedelta = DEFAULT_TTL) -> Held:
    """Take the lease or raise LeaseBusy."""
    _ensure_row(store, name)
    with store.session() as session:
        lease = session.get(Lease, name)
        assert lease is not None
        seen_fence, seen_holder, expires_at = lease.fence, lease.holder, lease.expires_at
        now = utcnow()
        dead = seen_holder is not None and _holder_is_dead(seen_holder)
        free = seen_holder is None or expires_at is None or expires_at <= now
        if not (free or dead or seen_holder == holder):
            raise LeaseBusy(name, seen_holder, expires_at)
        conditions = [Lease.name == name, Lease.fence == seen_fence]
        if not dead:
            # Re-checked inside the UPDATE: a renewal since our read keeps the lease its owner's.
            conditions.append(
                or_(Lease.holder.is_(None), Lease.expires_at.is_(None), Lease.expires_at <= now)
            )
        taken = session.execute(
            update(Lease)
            .where(*conditions)
            .values(
                holder=holder,
                fence=seen_fence + 1,
                acquired_at=now,
                heartbeat_at=now,
                expires_at=now + ttl,
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseBusy(name, None, None)
    return Held(name, holder, seen_fence + 1, ttl)


def renew(session: Session, held: Held) -> None:
    """Extend the lease inside ``session``'s transaction, or raise LeaseLost (which rolls that
    transaction back): the fence check every commit of a run's state goes through."""
    now = utcnow()
    renewed = session.execute(
        update(Lease)
        .where(Lease.name == held.name, Lease.holder == held.holder, Lease.fence == held.fence)
        .values(heartbeat_at=now, expires_at=now + held.ttl)
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(held.name)


def check(session: Session, held: Held) -> None:
    """Raise LeaseLost if another process took the lease over, without writing anything: the
    look a run takes before it writes to a target."""
    row = session.execute(
        select(Lease.holder, Lease.fence).where(Lease.name == held.name)
    ).one_or_none()
    if row is None or (row.holder, row.fence) != (held.holder, held.fence):
        raise LeaseLost(held.name)


def release(store: StateStore, held: Held) -> None:
    with store.session() as session:
        session.execute(
            update(Lease)
            .where(Lease.name == held.name, Lease.holder == held.holder, Lease.fence == held.fence)
            .values(holder=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )


def _ensure_row(store: StateStore, name: str) -> None:
    try:
        with store.session() as session:
            if session.get(Lease, name) is None:
                session.execute(insert(Lease).values(name=name, fence=0))
    except IntegrityError:
        pass  # another process inserted it first: the row exists, which is all we need


def _holder_is_dead(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not process_alive(pid)
