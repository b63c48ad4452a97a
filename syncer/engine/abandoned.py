"""Runs whose process died (kill -9, power cut, OOM) stay ``running`` in the store. When a flow
starts again on the same host, those of its runs whose process is gone are closed as
``interrupted``, so ``syncer status`` never shows a run that nobody is running. Runs recorded by
another host cannot be checked from here and are left as they are."""

from __future__ import annotations

import os
import socket

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


def close_abandoned(session: Session, flow: str) -> list[Run]:
    """Mark this host's dead ``running`` runs of ``flow`` as interrupted; returns them."""
    host = socket.gethostname()[:255]
    closed: list[Run] = []
    candidates = session.scalars(
        select(Run).where(Run.flow == flow, Run.status == "running", Run.host == host)
    )
    for run in candidates:
        if run.pid is None or run.pid == os.getpid() or process_alive(run.pid):
            continue
        run.status = INTERRUPTED
        run.finished_at = utcnow()
        run.error = (
            f"process {run.pid} ended without finishing this run; the next run went on from "
            "its last checkpoint"
        )
        closed.append(run)
    return closed
