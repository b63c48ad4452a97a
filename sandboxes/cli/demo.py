"""``syncer demo``: a real sync both ways between a sandbox Repzo and the ERP stub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sandboxes import demo as demo_run
from syncer.cli.common import consoles, handles_errors
from syncer.logs import configure_logging


@handles_errors
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Where the demo keeps its files.")] = Path(
        "syncer-demo"
    ),
    customers: Annotated[int, typer.Option(help="ERP customers to start with.", min=30)] = 300,
    items: Annotated[int, typer.Option(help="ERP items to start with.", min=10)] = 120,
) -> None:
    """Start a sandbox Repzo and the ERP stub on free loopback ports, sync them both ways with
    the shipped configuration and mappings, change records on each side (one conflict
    included), sync again, and show what moved in each direction and why."""
    configure_logging("WARNING")
    raise typer.Exit(
        demo_run.run(folder.resolve(), consoles.out(), customers=customers, items=items)
    )
