"""Runs whose process died (kill -9, power cut, OOM) stay ``running`` in the store. When a flow
starts again on the same host, those of its runs whose process is gone are closed as
``interrupted``, so ``syncer status`` never shows a run that nobody is running. Runs recorded by
another host cannot be checked from here and are left as they are.

Finding and closing are two steps: a run is closed only after the run's observers have recorded
its end (Repzo's command log, through the outbox), so a process killed in between leaves it
``running`` for the next run to find again, never closed in the store and ``processing`` in
Repzo."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncer.state.base import utcnow
from syncer.state.models import Run

INTERRUPTED = "interrupted"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def find_abandoned(session: Session, flow: str) -> list[Run]:
    """This host's ``running`` runs of ``flow`` whose process is gone."""
    host = socket.gethostname()[:255]
    candidates = session.scalars(
        select(Run).where(Run.flow == flow, Run.status == "running", Run.host == host)
    )
    return [
        run
        for run in candidates
        if run.pid is not None and run.pid != os.getpid() and not process_alive(run.pid)
    ]


def close_abandoned(session: Session, run_ids: Sequence[str]) -> None:
    """Mark these runs (found by :func:`find_abandoned`) as interrupted, if still running."""
    for run in session.scalars(select(Run).where(Run.id.in_(run_ids), Run.status == "running")):
        run.status = INTERRUPTED
        run.finished_at = utcnow()
        run.error = (
            f"process {run.pid} ended without finishing this run; the next run went on from "
            "its last checkpoint"
        )
