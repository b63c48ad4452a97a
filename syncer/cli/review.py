"""``syncer dead-letters`` and ``syncer conflicts``: the records waiting for a person."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from syncer.cli.common import ConfigOption, consoles, echo_json, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE
from syncer.engine import review
from syncer.engine.engine import Engine
from syncer.state import StateStore, open_store, review_queries
from syncer.state.models import DeadLetter

dead_letters = typer.Typer(
    help="Records that could not be synced: list, retry, drop.", no_args_is_help=True
)
conflicts = typer.Typer(
    help="Records changed on both sides that need a person.", no_args_is_help=True
)

T = TypeVar("T")

FlowOption = Annotated[str | None, typer.Option("--flow", help="Only this flow's.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def _store(config_path: str) -> Iterator[StateStore]:
    """The configured state store, closed when done."""
    store = open_store(load(config_path).state.url)
    try:
        yield store
    finally:
        store.close()


def _with_engine(config_path: str, action: Callable[[Engine], Awaitable[T]]) -> T:
    config = load(config_path)
    store = open_store(config.state.url)

    async def run() -> T:
        async with Engine(config, store) as engine:
            return await action(engine)

    try:
        return asyncio.run(run())
    finally:
        store.close()


@dead_letters.command("list")
@handles_errors
def list_dead_letters(
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    flow: FlowOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also resolved and dropped ones.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Pending dead letters: the record, why it failed, how often, when it is tried again."""
    with _store(config_path) as store, store.session() as session:
        letters = review_queries.dead_letters(session, flow=flow, everything=everything)
    if as_json:
        echo_json([_letter(letter) for letter in letters])
        return
    out = consoles.out()
    if not letters:
        out.print("No dead letters." if everything else "No pending dead letters.")
        return
    table = Table(title="Dead letters", title_justify="left")
    for column in (
        "id",
        "flow",
        "record",
        "kind",
        "field",
        "reason",
        "attempts",
        "next attempt (UTC)",
        "status",
    ):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            str(letter.id),
            letter.flow,
            letter.record_key,
            letter.error_kind,
            letter.field or "",
            letter.reason,
            str(letter.attempts),
            letter.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if letter.next_attempt_at else "",
            letter.status,
        )
    out.print(table)


def _letter(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "flow": letter.flow,
        "record": letter.record_key,
        "kind": letter.error_kind,
        "field": letter.field,
        "reason": letter.reason,
        "status_code": letter.status_code,
        "attempts": letter.attempts,
        "status": letter.status,
        "first_failed_at": letter.first_failed_at,
        "last_failed_at": letter.last_failed_at,
        "next_attempt_at": letter.next_attempt_at,
        "payload": letter.payload,
    }


@dead_letters.command("retry")
@handles_errors
def retry_dead_letters(
    ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="[ID]...", help="Dead letters to retry (default: all pending)."),
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    flow: FlowOption = None,
) -> None:
    """Retry now, whatever their backoff says. Exit code 1 if some still fail."""
    report = _with_engine(config_path, lambda engine: review.retry(engine, ids or [], flow))
    out = consoles.out()
    still_failing = 0
    for name, (tried, synced) in report.flows.items():
        out.print(f"{name}: retried {tried}, synced {synced}, still failing {tried - synced}")
        still_failing += tried - synced
    if not report.flows:
        out.print("No pending dead letters to retry.")
    if still_failing:
        raise typer.Exit(1)


@dead_letters.command("drop")
@handles_errors
def drop_dead_letters(
    ids: Annotated[
        list[int] | None, typer.Argument(metavar="[ID]...", help="Dead letters to drop.")
    ] = None,
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    flow: FlowOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Drop every pending one (of --flow).")
    ] = False,
) -> None:
    """Stop retrying records a person decided will not be synced."""
    if not ids and not everything:
        raise typer.BadParameter("name the dead letters to drop, or use --all", param_hint="ID")

    async def action(engine: Engine) -> int:
        return review.drop(engine, ids or [], flow)

    dropped = _with_engine(config_path, action)
    consoles.out().print(f"Dropped {dropped} dead letter{'s' if dropped != 1 else ''}.")


@conflicts.command("list")
@handles_errors
def list_conflicts(
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    everything: Annotated[bool, typer.Option("--all", help="Also resolved ones.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Records both sides changed in a way the pair's policy could not decide."""
    with _store(config_path) as store, store.session() as session:
        found = review_queries.conflicts(session, everything=everything)
        natives = review_queries.natives_of(session, [c.canonical_id for c in found])
    rows: list[dict[str, Any]] = [
        {
            "id": conflict.id,
            "entity": conflict.entity,
            "records": {
                conflict.source: natives.get((conflict.canonical_id, conflict.source)),
                conflict.target: natives.get((conflict.canonical_id, conflict.target)),
            },
            "fields": conflict.fields,
            "reason": conflict.reason,
            "status": conflict.status,
            "resolution": conflict.resolution,
            "detected_at": conflict.detected_at,
        }
        for conflict in found
    ]
    if as_json:
        echo_json(rows)
        return
    out = consoles.out()
    if not rows:
        out.print("No conflicts waiting." if not everything else "No conflicts.")
        return
    table = Table(title="Conflicts", title_justify="left")
    for column in ("id", "entity", "record", "field", "values", "reason", "status"):
        table.add_column(column)
    for row in rows:
        records = ", ".join(f"{side} {native}" for side, native in row["records"].items())
        for name, sides in row["fields"].items():
            values = "\n".join(f"{side}: {value!r}" for side, value in sides.items())
            table.add_row(
                str(row["id"]), row["entity"], records, name, values, row["reason"], row["status"]
            )
    out.print(table)
    out.print("Resolve one with `syncer conflicts resolve ID --take SIDE`.")


@conflicts.command("resolve")
@handles_errors
def resolve_conflict(
    conflict_id: Annotated[int, typer.Argument(metavar="ID")],
    take: Annotated[
        str, typer.Option("--take", help="The side whose values win (a connector name).")
    ],
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
) -> None:
    """Take one side's values for the conflicting fields and write them to the other side."""
    fields = _with_engine(
        config_path, lambda engine: review.resolve_conflict(engine, conflict_id, take)
    )
    consoles.out().print(f"Conflict {conflict_id} resolved: {', '.join(fields)} taken from {take}.")
