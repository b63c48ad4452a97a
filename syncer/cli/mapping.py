"""``syncer mapping test``: what a flow's mappings do to sample records, without any network."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from syncer.cli.common import ConfigOption, consoles, handles_errors, load
from syncer.config import DEFAULT_CONFIG_FILE
from syncer.errors import ConfigError, ConfigIssue, RecordError
from syncer.exit_codes import ExitCode
from syncer.mapping.binding import bind_flows, context_for
from syncer.mapping.hashing import content_hash
from syncer.validation import unknown_name

app = typer.Typer(help="Inspect and try out field mappings.", no_args_is_help=True)


class PreviewRefs:
    """References shown for what they are, since there is no id map to ask: the canonical
    side reads ``price_list:PL-RETAIL``, the target side ``<price_list:PL-RETAIL in repzo>``."""

    def __init__(self, target: str) -> None:
        self.target = target

    def to_canonical(self, entity: str, native_id: str) -> str | None:
        return f"{entity}:{native_id}"

    def to_native(self, entity: str, canonical_id: str) -> str | None:
        return f"<{canonical_id} in {self.target}>"

    def key_to_canonical(self, entity: str, natural_key: str) -> str | None:
        return f"{entity}:{natural_key}"


@app.command("test")
@handles_errors
def test(
    flow_name: Annotated[
        str, typer.Argument(metavar="FLOW", help="The flow whose mappings to try.")
    ],
    input_file: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help="Sample source records: a JSON array or object, or JSON lines."
        ),
    ],
    config_path: ConfigOption = DEFAULT_CONFIG_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per record.")] = False,
) -> None:
    """Show each input record, its canonical form and the record the target would receive,
    with errors per record. Exit code 1 when some record cannot be mapped."""
    config = load(config_path)
    names = [flow.name for flow in config.flows]
    if flow_name not in names:
        raise ConfigError(
            [ConfigIssue(config_path, None, "flows", unknown_name("flow", flow_name, names))]
        )
    flow = config.flow(flow_name)
    bound = bind_flows(config)[flow_name]
    records = read_records(input_file)
    source_context = context_for(
        config.connectors[flow.source.connector], PreviewRefs(flow.target.connector)
    )
    target_context = context_for(
        config.connectors[flow.target.connector], PreviewRefs(flow.target.connector)
    )
    out = consoles.out()
    failed = 0
    for number, record in enumerate(records, start=1):
        result: dict[str, Any] = {"record": number, "input": record}
        try:
            canonical = bound.source.read(record, source_context)
            result["canonical"] = canonical.values
            result["hash"] = content_hash(canonical.values, bound.fields)
            result["target"] = bound.target.write(
                canonical.values, target_context, bound.fields, record_key=canonical.native_id
            )
            lookup = bound.target.lookup(canonical.values, target_context)
            if lookup:
                result["lookup"] = {lookup[0]: lookup[1]}
        except RecordError as error:
            failed += 1
            result["error"] = error.message
        if as_json:
            out.print(
                json.dumps(result, default=jsonable, ensure_ascii=False),
                markup=False,
                soft_wrap=True,
            )
        else:
            out.print(_render(result, flow.source.connector, flow.target.connector))
    if not as_json:
        out.print(f"{len(records)} records, {len(records) - failed} mapped, {failed} failed.")
    if failed:
        raise typer.Exit(int(ExitCode.DEAD_LETTERS))


def read_records(path: Path) -> list[dict[str, Any]]:
    """A JSON array, a single JSON object, or JSON lines; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ConfigError(
            [ConfigIssue(str(path), None, "", f"cannot read the input: {error.strerror}")]
        ) from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = _parse(path, text, 0)
        if not isinstance(data, list):
            raise ConfigError([ConfigIssue(str(path), 1, "", "expected a JSON array of records")])
        records = data
    else:
        try:
            single = json.loads(text)
        except json.JSONDecodeError:
            records = [
                _parse(path, line, index)
                for index, line in enumerate(text.splitlines())
                if line.strip()
            ]
        else:
            records = [single]
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ConfigError(
                [
                    ConfigIssue(
                        str(path),
                        None,
                        f"[{index}]",
                        f"expected a JSON object, got {type(record).__name__}",
                    )
                ]
            )
    return records


def _parse(path: Path, text: str, line_offset: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            [
                ConfigIssue(
                    str(path),
                    error.lineno + line_offset,
                    "",
                    f"invalid JSON: {error.msg} (column {error.colno})",
                )
            ]
        ) from None


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot show a {type(value).__name__}")


def _render(result: dict[str, Any], source: str, target: str) -> Panel:
    def block(value: Any) -> Syntax:
        return Syntax(
            json.dumps(value, indent=2, default=jsonable, ensure_ascii=False),
            "json",
            word_wrap=True,
        )

    table = Table.grid(padding=(0, 2))
    table.add_column(f"input ({source})")
    table.add_column("canonical")
    table.add_column(f"target ({target})")
    table.add_row(f"[bold]input ({source})[/]", "[bold]canonical[/]", f"[bold]target ({target})[/]")
    table.add_row(
        block(result["input"]),
        block(result.get("canonical", {})),
        block(result.get("target", {})),
    )
    parts: list[Any] = [table]
    if "error" in result:
        parts.append(f"[red]error:[/] {result['error']}")
    if "lookup" in result:
        parts.append(f"looked up in the target by {result['lookup']} before it is created")
    title = f"record {result['record']}"
    return Panel(
        Group(*parts),
        title=title,
        title_align="left",
        border_style="red" if "error" in result else "green",
    )
