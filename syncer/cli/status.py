"""``syncer status``: flows, cursors, last runs and dead letters."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from syncer.cli.common import ConfigOption, consoles, echo_json, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE
from syncer.state import inspect_store, open_store
from syncer.state.findings import StoredFinding, load_findings
from syncer.status import FlowStatus, StatusReport, collect_status


@handles_errors
def status(
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show each flow's cursor, last run and pending dead letters."""
    config = load(config_path)
    info = inspect_store(config.state.url)
    findings: list[StoredFinding] = []
    if not info.exists:
        report = collect_status(config, None, info.display_url)
    else:
        store = open_store(config.state.url)
        try:
            report = collect_status(config, store, store.display_url)
            findings = load_findings(store)
        finally:
            store.close()
    if as_json:
        data = report.as_dict()
        if findings:
            data["repzo_findings"] = [asdict(found) for found in findings]
        echo_json(data, default=_json_default)
        return
    _render(report)
    _render_outbox(report)
    _render_findings(findings)


def _render_outbox(report: StatusReport) -> None:
    outbox = report.outbox
    if not (outbox.waiting or outbox.parked):
        return
    line = f"Repzo integration logs not delivered: {outbox.waiting} waiting for a retry"
    if outbox.parked:
        line += (
            f", {outbox.parked} parked because Repzo refused them (never retried; "
            f"latest: {outbox.last_refusal})"
        )
    consoles.out().print(line, markup=False, soft_wrap=True)


def _render_findings(findings: list[StoredFinding]) -> None:
    """One line per probed connector: the evidence is `syncer repzo probe`'s to show."""
    out = consoles.out()
    by_connector: dict[str, list[StoredFinding]] = {}
    for found in findings:
        by_connector.setdefault(found.connector, []).append(found)
    for connector, facts in by_connector.items():
        values = ", ".join(
            f"{found.fact}={'unknown' if found.value is None else found.value}" for found in facts
        )
        probed = _when(max(found.probed_at for found in facts))
        out.print(
            f"Repzo findings for {connector} (probed {probed}): {values}",
            markup=False,
            soft_wrap=True,
        )


def _render(report: StatusReport) -> None:
    out = consoles.out()
    if not report.store_exists:
        out.print(f"State store {report.store} does not exist yet: nothing has run.")
    elif report.store_empty:
        out.print(f"State store {report.store} is empty: no flow has run yet.")
    else:
        out.print(f"State store {report.store}: {report.runs_recorded} runs recorded.")
    if not report.flows:
        out.print("No flows are configured.")
        return
    table = Table(title="Flows", title_justify="left")
    for column in ("flow", "source -> target", "schedule", "cursor", "last run", "dead letters"):
        table.add_column(column)
    for flow in report.flows:
        table.add_row(
            flow.name if flow.in_config else f"{flow.name} (not in config)",
            f"{flow.source} -> {flow.target}" if flow.in_config else "-",
            (flow.schedule if flow.enabled else f"{flow.schedule} (disabled)")
            if flow.in_config
            else "-",
            flow.cursor or "-",
            _last_run(flow),
            str(flow.dead_letters),
        )
    out.print(table)


def _last_run(flow: FlowStatus) -> str:
    run = flow.last_run
    if run is None:
        return "never"
    when = _when(run.finished_at or run.started_at)
    counts = (
        f"read {run.read}, created {run.created}, updated {run.updated}, "
        f"unchanged {run.unchanged}, failed {run.failed}"
    )
    what = f"{run.status} (dead-letter retry)" if run.kind == "retry" else run.status
    text = f"{what} {when}\n{counts}"
    if run.error:
        text += f"\n{run.error}"
    return text


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")
