"""``syncer sandbox``: local stand-ins for the systems syncer talks to, for demos and tests."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Literal

import typer

from connectors.repzo.sandbox import ADMIN_PREFIX, DEFAULT_API_KEY, RepzoSandbox
from syncer.cli.common import handles_errors
from syncer.config.types import parse_duration

app = typer.Typer(
    help="Local stand-ins for the systems syncer talks to, for demos and tests.",
    no_args_is_help=True,
)


@app.command("repzo")
@handles_errors
def repzo(
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8766,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
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
) -> None:
    """Serve a stand-in Repzo API until Ctrl-C: every resource of the registry, with Repzo's
    paging, filters and errors, plus fault injection. Control it under /__sandbox/."""
    seeds = [_seed_arg(value) for value in seed or ()]
    sandbox = RepzoSandbox(
        api_key=api_key,
        namespace=[part.strip() for part in namespace.split(",") if part.strip()],
        host=host,
        port=port,
        db=str(db) if db else ":memory:",
        updated_bounds=updated_filter,
        from_id_bound=from_id,
    )
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
        for resource, count in seeds:
            typer.echo(f"  seeded:  {count} {resource}")
        typer.echo("Press Ctrl-C to stop.")
        _wait_for_signal()
    finally:
        sandbox.close()
    typer.echo("Repzo sandbox stopped.")


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
