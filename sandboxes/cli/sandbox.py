"""``syncer sandbox``: local stand-ins for the systems syncer talks to, for demos and tests."""

from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Literal

import httpx
import typer

from sandboxes import erp as erp_stub
from sandboxes.repzo import ADMIN_PREFIX, DEFAULT_API_KEY, RepzoSandbox, SandboxOptions
from sandboxes.repzo.server import SandboxExposed
from syncer.cli.common import handles_errors
from syncer.config.types import parse_duration
from syncer.remote.errors import FatalRemoteError

app = typer.Typer(
    help="Local stand-ins for the systems syncer talks to, for demos and tests.",
    no_args_is_help=True,
)


@app.command("repzo")
@handles_errors
def repzo(
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8766,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. Beyond this machine only with --admin-token, which the "
            "admin API (/__sandbox/) then requires."
        ),
    ] = "127.0.0.1",
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="SYNCER_SANDBOX_ADMIN_TOKEN",
            help="Required by the admin API (/__sandbox/) as the x-sandbox-admin-token header; "
            "needed to listen beyond this machine.",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        str,
        typer.Option(
            envvar="REPZO_API_KEY",
            help="The key clients must send as the api-key header.",
            show_default=False,
        ),
    ] = DEFAULT_API_KEY,
    namespace: Annotated[
        str, typer.Option(help="Company namespace; parts separated by commas.")
    ] = "demo",
    db: Annotated[
        Path | None,
        typer.Option(help="SQLite file that keeps the data across restarts (default: memory)."),
    ] = None,
    seed: Annotated[
        list[str] | None,
        typer.Option(help="RESOURCE=N: generate N documents at start; repeatable."),
    ] = None,
    latency: Annotated[
        str | None,
        typer.Option(help="Delay every request: 20ms, or a range such as 10ms..50ms."),
    ] = None,
    rate_429: Annotated[float, typer.Option(help="Share of requests answered 429.")] = 0.0,
    retry_after: Annotated[int, typer.Option(help="Retry-After seconds on a 429.")] = 1,
    rate_5xx: Annotated[float, typer.Option(help="Share answered 500/502/503.")] = 0.0,
    rate_drop: Annotated[
        float, typer.Option(help="Share whose connection is closed without a reply.")
    ] = 0.0,
    rate_truncate: Annotated[
        float, typer.Option(help="Share whose reply body is cut in half.")
    ] = 0.0,
    fault_seed: Annotated[int, typer.Option(help="Seed of the fault RNG.")] = 0,
    updated_filter: Annotated[
        Literal["inclusive", "exclusive"],
        typer.Option(help="from_updatedAt/to_updatedAt as >=/<= or as >/<."),
    ] = "inclusive",
    from_id: Annotated[
        Literal["exclusive", "inclusive"],
        typer.Option(help="from__id as > (keyset) or >=."),
    ] = "exclusive",
    lenient: Annotated[
        bool,
        typer.Option(
            "--lenient",
            help="For experiments only: accept what Repzo's SDK does not (any query parameter "
            "as a filter, any body field, a guessed update-integration-meta type, logs without "
            "app_id), list in _id order and serve up to 50000 records a page.",
        ),
    ] = False,
    max_per_page: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Largest page served; a larger per_page gets this many and the reply says so. "
            "Default 100, or 50000 with --lenient.",
            show_default=False,
        ),
    ] = None,
    unknown_params: Annotated[
        Literal["reject", "ignore", "filter"] | None,
        typer.Option(
            help="A list query parameter the SDK does not name for that resource: answer 400 "
            "(reject), drop it (ignore) or use it as a filter. Default reject, or filter with "
            "--lenient.",
            show_default=False,
        ),
    ] = None,
    implicit_order: Annotated[
        Literal["newest", "id", "updated"] | None,
        typer.Option(
            help="The order of a list that asks for none: newest first, _id ascending, or "
            "least recently updated first (an edit moves a record to the end while a client "
            "pages). Default newest, or id with --lenient.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a stand-in Repzo API until Ctrl-C: every resource of the registry, with Repzo's
    paging, filters and errors, plus fault injection. Control it under /__sandbox/.

    It is as strict as Repzo's official SDK: a query parameter or body field the SDK does not
    name for the resource, a missing required field (a log's app_id too) and an
    update-integration-meta type no resource takes are 400s; a list asked for no order comes
    newest first; a page holds at most 100 records. --lenient is the forgiving server, for
    experiments only: what passes there may fail against Repzo."""
    seeds = [_seed_arg(value) for value in seed or ()]
    try:
        sandbox = RepzoSandbox(
            api_key=api_key,
            namespace=[part.strip() for part in namespace.split(",") if part.strip()],
            host=host,
            admin_token=admin_token,
            port=port,
            db=str(db) if db else ":memory:",
            updated_bounds=updated_filter,
            from_id_bound=from_id,
            lenient=lenient,
            max_per_page=max_per_page,
            unknown_params=unknown_params,
            implicit_order=implicit_order,
        )
    except SandboxExposed as exc:
        raise typer.BadParameter(str(exc), param_hint="--host") from None
    try:
        for resource, count in seeds:
            if resource not in sandbox.registry.resources:
                raise typer.BadParameter(
                    f"unknown Repzo resource {resource!r}", param_hint="--seed"
                )
            sandbox.seed(resource, count)
        sandbox.set_faults(
            latency_ms=_latency_arg(latency),
            rate_429=rate_429,
            retry_after=retry_after,
            rate_5xx=rate_5xx,
            rate_drop=rate_drop,
            rate_truncate=rate_truncate,
            seed=fault_seed,
        )
        try:
            sandbox.start()
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", param_hint="--port"
            ) from None
        typer.echo(f"Repzo sandbox listening on {sandbox.url}")
        typer.echo(f"  api-key: {api_key}")
        typer.echo(f"  admin:   {sandbox.url}{ADMIN_PREFIX}/stats")
        typer.echo(f"  mode:    {_mode(sandbox.options)}")
        for resource, count in seeds:
            typer.echo(f"  seeded:  {count} {resource}")
        typer.echo("Press Ctrl-C to stop.")
        _wait_for_signal()
    finally:
        sandbox.close()
    typer.echo("Repzo sandbox stopped.")


erp_app = typer.Typer(no_args_is_help=False)
app.add_typer(erp_app, name="erp")

ErpUsername = Annotated[str, typer.Option(help="Basic-auth user of the ERP API.")]
ErpPassword = Annotated[
    str,
    typer.Option(
        envvar=erp_stub.PASSWORD_ENV,
        help=f"Basic-auth password (default: ${erp_stub.PASSWORD_ENV}, else the sandbox default).",
        show_default=False,
    ),
]


@erp_app.callback(invoke_without_command=True)
@handles_errors
def erp(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    db: Annotated[
        str,
        typer.Option(help="SQLite file that keeps the ERP's data across restarts, or :memory:."),
    ] = "erp-stub.db",
    username: ErpUsername = erp_stub.DEFAULT_USERNAME,
    password: ErpPassword = erp_stub.DEFAULT_PASSWORD,
    utc_offset: Annotated[
        str, typer.Option(help="The ERP's local UTC offset, written in every timestamp.")
    ] = erp_stub.DEFAULT_UTC_OFFSET,
    seed: Annotated[
        list[str] | None,
        typer.Option(
            help="Sizes of the data generated into an empty store, e.g. customers=300,items=120 "
            "(also vans, invoices, credit_notes, payments, refunds)."
        ),
    ] = None,
    no_seed: Annotated[
        bool, typer.Option("--no-seed", help="Start with an empty store instead.")
    ] = False,
    random_seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 0,
    dedupe_documents: Annotated[
        bool,
        typer.Option(
            "--dedupe-documents/--no-dedupe-documents",
            help="Whether a second POST of an invoice, credit note or payment number returns "
            "the first document, or creates another one as many ERPs do.",
        ),
    ] = True,
) -> None:
    """Serve a stand-in ERP until Ctrl-C (or act on a running one with a command).

    Customers, items, price lists, stock and documents with an ERP's conventions: Basic auth,
    decimal strings, local-offset times, keyset cursors. Control it under /__erp/."""
    if ctx.invoked_subcommand is not None:
        return
    sizes: dict[str, int] = {}
    try:
        for value in seed or ():
            sizes.update(erp_stub.parse_sizes(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--seed") from None
    try:
        erp_stub.LocalTime(utc_offset)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--utc-offset") from None
    try:
        stub = erp_stub.ErpStub(
            host=host,
            port=port,
            db=db,
            username=username,
            password=password,
            utc_offset=utc_offset,
            seed=False if no_seed else sizes,
            random_seed=random_seed,
            dedupe_documents=dedupe_documents,
        )
    except sqlite3.Error as exc:
        raise typer.BadParameter(f"cannot open {db}: {exc}", param_hint="--db") from None
    try:
        try:
            stub.start()
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", param_hint="--port"
            ) from None
        records = stub.stats().records
        typer.echo(f"ERP stub listening on {stub.url}")
        typer.echo(f"  API:     {stub.url}{erp_stub.API_PREFIX}/<collection>")
        # The password is never echoed: it may be a real one taken from the environment.
        typer.echo(f"  user:    {username} (password from --password or ${erp_stub.PASSWORD_ENV})")
        typer.echo(f"  admin:   {stub.url}{erp_stub.ADMIN_PREFIX}/stats")
        typer.echo(f"  store:   {db}, {sum(records.values())} records, UTC offset {utc_offset}")
        repeated = "returns the first" if dedupe_documents else "creates another"
        typer.echo(f"  documents: a number posted again {repeated} document")
        typer.echo("Press Ctrl-C to stop.")
        _wait_for_signal()
    finally:
        stub.close()
    typer.echo("ERP stub stopped.")


@erp_app.command("mutate")
@handles_errors
def erp_mutate(
    url: Annotated[str, typer.Option(help="The running ERP stub.")] = "http://127.0.0.1:8765",
    username: ErpUsername = erp_stub.DEFAULT_USERNAME,
    password: ErpPassword = erp_stub.DEFAULT_PASSWORD,
    customers: Annotated[int, typer.Option(min=0, help="Customers to edit.")] = 0,
    items: Annotated[int, typer.Option(min=0, help="Items to edit.")] = 0,
    price_list_lines: Annotated[int, typer.Option(min=0, help="Prices to change.")] = 0,
    stock_levels: Annotated[int, typer.Option(min=0, help="Stock levels to move.")] = 0,
    invoices: Annotated[int, typer.Option(min=0, help="Open invoices to mark paid.")] = 0,
    seed: Annotated[
        int | None, typer.Option(help="Pick the same records every time with this seed.")
    ] = None,
) -> None:
    """Edit records in a running ERP stub and print exactly which keys changed.

    The edits are what its users would make: a customer's phone or credit limit, an item's
    price or name, a price, a stock level, an invoice paid."""
    counts = {
        "customers": customers,
        "items": items,
        "price_list_lines": price_list_lines,
        "stock_levels": stock_levels,
        "invoices": invoices,
    }
    body: dict[str, int] = {name: count for name, count in counts.items() if count}
    if not body:
        raise typer.BadParameter("say what to change, e.g. --customers 10 --items 5")
    if seed is not None:
        body["seed"] = seed
    endpoint = f"{url.rstrip('/')}{erp_stub.ADMIN_PREFIX}/mutate"
    try:
        response = httpx.post(endpoint, json=body, auth=(username, password), timeout=30)
    except httpx.HTTPError as exc:
        raise FatalRemoteError(
            f"cannot reach the ERP stub at {url}: {exc}", system="erp stub"
        ) from None
    if response.status_code != 200:
        raise FatalRemoteError(
            f"the ERP stub at {url} answered {response.status_code}: {_erp_message(response)}",
            system="erp stub",
            status=response.status_code,
        )
    result = response.json()
    for name, keys in result["changed"].items():
        typer.echo(f"{name}: {len(keys)} changed: {', '.join(keys) or '-'}")
    typer.echo(f"updated_at: {result['updated_at']}")


def _erp_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM; either is a normal stop (exit 0)."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _mode(options: SandboxOptions) -> str:
    name = "lenient (for experiments)" if options.lenient else "strict, as Repzo's SDK"
    return (
        f"{name}; unknown query parameters: {options.resolved_unknown_params}; "
        f"at most {options.resolved_max_per_page} records a page; lists asked for no order: "
        f"{options.resolved_implicit_order}"
    )


def _seed_arg(value: str) -> tuple[str, int]:
    resource, _, count = value.partition("=")
    if not resource or not count.isdigit():
        raise typer.BadParameter(f"expected RESOURCE=N, got {value!r}", param_hint="--seed")
    return resource.strip(), int(count)


def _latency_arg(value: str | None) -> int | tuple[int, int] | None:
    if value is None:
        return None
    low, _, high = value.partition("..")
    try:
        low_ms = round(parse_duration(low).total_seconds() * 1000)
        if not high:
            return low_ms
        return low_ms, round(parse_duration(high).total_seconds() * 1000)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--latency") from None
