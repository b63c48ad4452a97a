"""Secrets never leave syncer: not on the terminal, not in log lines, not in the state store,
not in Repzo's integration logs, even when a remote system echoes them back in its errors."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner, Result

from sandboxes.repzo import ScriptedFault
from syncer.cli import app
from syncer.config import load_config
from syncer.config.dump import dump_config
from syncer.logs import Redactor, configure_logging, redact, register_secrets
from syncer.remote.http import display_url as display_base_url
from syncer.state.database import create_database, display_url
from tests.engine.conftest import CUSTOMER_FLOWS, KEY, PASSWORD, T0_MS, USER, World
from tests.engine.conftest import world as world  # the engine tests' fixture, shared here

APP_ID = "65f0c2a1b3c4d5e6f7a8b9c0"
SMALL = {"items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
SECRETS = (KEY, PASSWORD)
"""The Repzo API key and the ERP password of the engine tests' world."""


def _write_config(world: World) -> str:
    """Both systems of the world, the ERP password from the environment, integration logs on."""
    world.repzo.insert(
        "integration-app",
        [
            {
                "_id": APP_ID,
                "name": "ERP sync",
                "available_app": {"_id": "65f0c2a1b3c4d5e6f7a8b9c1", "name": "repzo-sync"},
                "company_namespace": ["demo"],
            }
        ],
    )
    path = world.folder / "secrets.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            state: {{url: "{world.store_url}"}}
            logging: {{level: DEBUG, format: json}}
            connectors:
              repzo:
                type: repzo
                base_url: "{world.repzo.url}"
                api_key: {KEY}
                namespace: demo
                integration_app: "{APP_ID}"
                max_retry_wait: 1s
              erp:
                type: erp_stub
                base_url: "{world.erp.url}"
                username: {USER}
                password: "${{SYNCER_TEST_ERP_PASSWORD}}"
              drop:
                type: csv
                path: "{world.folder / "drop"}"
                streams: {{customers: {{key: code}}}}
            flows:
            """
        )
        + textwrap.indent(textwrap.dedent(CUSTOMER_FLOWS).strip("\n"), "  ")
        + "\n"
        + textwrap.indent(
            "- {name: clients-to-csv, source: {connector: repzo, stream: client}, "
            "target: {connector: drop, stream: customers}}\n",
            "  ",
        ),
        encoding="utf-8",
    )
    return str(path)


def _echoing(status: int, path: str | None, method: str | None = None) -> ScriptedFault:
    """A refusal whose message quotes the credentials, as some servers' errors do."""
    return ScriptedFault(
        kind="reject",
        status=status,
        method=method,
        path=path,
        message=f"invalid api-key {KEY} (user {USER}, password {PASSWORD})",
    )


def store_dump(url: str) -> str:
    """Every row of every table, as the database holds it (no column type in between)."""
    engine = create_database(url)
    lines: list[str] = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    lines.append(f"{table}: {tuple(row)!r}")
    finally:
        engine.dispose()
    return "\n".join(lines)


class _Cli:
    """The command line, at DEBUG with JSON logs, keeping everything each command wrote."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.runner = CliRunner(env={"SYNCER_TEST_ERP_PASSWORD": PASSWORD})
        self.outputs: list[str] = []

    def __call__(self, *args: str) -> Result:
        result = self.runner.invoke(
            app, ["--log-level", "DEBUG", "--log-format", "json", *args, "-c", self.path]
        )
        self.outputs += [result.stdout, result.stderr]
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        return result


@pytest.fixture
def cli(world: World) -> Iterator[_Cli]:
    world.erp.seed(customers=4, **SMALL)
    world.erp.clock.freeze(T0_MS)
    yield _Cli(_write_config(world))
    # The runner's streams are closed now; the sandboxes still log as they stop.
    configure_logging("INFO", "auto")


def test_echoed_credentials_are_masked_everywhere(world: World, cli: _Cli) -> None:
    assert cli("sync", "price-lists").exit_code == 0

    # A 400 quoting the key and the ERP password: one record becomes a dead letter.
    world.repzo.faults.add_script(_echoing(400, "^/client$", "POST"))
    refused = cli("sync", "customers-erp-to-repzo")
    assert refused.exit_code == 1, refused.output
    world.repzo.faults.add_script(_echoing(400, "^/client$", "POST"))
    assert cli("dead-letters", "retry").exit_code == 1

    # A 401 quoting the key: the run fails.
    world.repzo.faults.add_script(_echoing(401, "^/client$", "GET"))
    failed = cli("sync", "clients-to-csv")
    assert failed.exit_code == 3, failed.output
    assert "error: clients-to-csv:" in failed.stderr and "***" in failed.stderr

    # The connection check quotes the remote message in its own error line.
    world.repzo.faults.add_script(_echoing(400, "^/client$"))
    assert cli("check").exit_code == 3

    for command in (
        ("status",),
        ("status", "--json"),
        ("dead-letters", "list"),
        ("dead-letters", "list", "--json"),
    ):
        assert cli(*command).exit_code == 0

    letters = json.loads(cli.outputs[-2])
    assert len(letters) == 1 and "***" in letters[0]["reason"]
    store = store_dump(world.store_url)
    assert "invalid api-key ***" in store  # the failures were stored, masked
    logs = json.dumps(
        world.repzo.documents("integration-command-log")
        + world.repzo.documents("integration-action-log")
    )
    assert "invalid api-key ***" in logs  # and sent to Repzo, masked
    log_lines = [
        json.loads(line)
        for output in cli.outputs
        for line in output.splitlines()
        if line.startswith("{") and '"level"' in line
    ]
    assert any(line["level"] == "debug" for line in log_lines)

    everything = {"terminal and logs": "\n".join(cli.outputs), "state store": store, "Repzo": logs}
    for where, found in everything.items():
        for secret in SECRETS:
            assert secret not in found, f"{secret!r} in the {where}"


def test_a_stored_secret_is_masked_when_shown(world: World, cli: _Cli) -> None:
    """A store written before masking existed (or by another tool) still shows no secret."""
    assert cli("sync", "price-lists").exit_code == 0
    engine = create_database(world.store_url)
    try:
        with engine.begin() as conn:
            # Raw SQL: the masking column types are not in the way.
            conn.execute(
                text("UPDATE runs SET status = 'failed', error = :error"),
                {"error": f"Repzo refused the credentials: invalid api-key {KEY}"},
            )
            conn.execute(
                text(
                    "INSERT INTO dead_letters (flow, connector, stream, record_key, reason, "
                    "error_kind, attempts, status, first_failed_at, last_failed_at) VALUES "
                    "('price-lists', 'erp', 'price_lists', 'PL-1', :reason, 'validation', 1, "
                    "'pending', :now, :now)"
                ),
                {"reason": f"password {PASSWORD} refused", "now": "2026-11-29 10:00:00"},
            )
    finally:
        engine.dispose()
    outputs = [
        cli("status"),
        cli("status", "--json"),
        cli("dead-letters", "list"),
        cli("dead-letters", "list", "--json"),
    ]
    shown = "\n".join(result.output for result in outputs)
    assert "***" in shown
    for secret in SECRETS:
        assert secret not in shown


# -- URLs -------------------------------------------------------------------------------------

PG_TOKEN = "pg-token-in-user-part"
QUERY_PASSWORD = "pg-query-password"
SSL_PASSWORD = "pg-ssl-key-password"
APP_SECRET = "pg-app-secret-value"
ERP_URL_PASSWORD = "erp-url-password"


@pytest.fixture
def url_config(write_config: Any) -> Path:
    """A store on a port where nothing answers, its credentials in every part of the URL."""
    path: Path = write_config(
        """
        state:
          url: "postgresql://${SYNCER_TEST_PG_TOKEN}@127.0.0.1:9/syncer?password=${PGPW}&sslpassword=SSLPW&application_name=${SYNCER_TEST_APP_SECRET}"
        connectors:
          repzo: {type: repzo, api_key: rk-url-tests}
          erp:
            type: erp_stub
            base_url: "https://sync:ERPPW@erp.internal/api?api_key=ERPPW"
            username: sync
            password: erp-password
        """.replace("SSLPW", SSL_PASSWORD).replace("ERPPW", ERP_URL_PASSWORD)
    )
    return path


URL_ENV = {
    "SYNCER_TEST_PG_TOKEN": PG_TOKEN,
    "PGPW": QUERY_PASSWORD,
    "SYNCER_TEST_APP_SECRET": APP_SECRET,
}
URL_SECRETS = (PG_TOKEN, QUERY_PASSWORD, SSL_PASSWORD, APP_SECRET, ERP_URL_PASSWORD)


def test_show_config_and_store_errors_mask_every_password_in_urls(url_config: Path) -> None:
    runner = CliRunner(env=URL_ENV)
    shown = runner.invoke(app, ["check", "--offline", "--show-config", "-c", str(url_config)])
    status = runner.invoke(app, ["status", "-c", str(url_config)])
    assert shown.exit_code == 3 and status.exit_code == 3  # nothing listens on port 9
    assert "postgresql://***@127.0.0.1:9/syncer?" in shown.output
    assert "password=***" in shown.output and "sslpassword=***" in shown.output
    assert "application_name=***" in shown.output
    assert "https://sync:***@erp.internal/api?api_key=***" in shown.output
    assert "error: state store postgresql+psycopg://***@127.0.0.1:9/syncer?" in status.stderr
    assert "sslpassword=***: cannot open it" in status.stderr
    for secret in URL_SECRETS:
        assert secret not in shown.output and secret not in status.output, secret


def test_dump_config_masks_urls(url_config: Path) -> None:
    config = load_config(url_config, env=URL_ENV)
    dumped = json.dumps(dump_config(config))
    for secret in URL_SECRETS:
        assert secret not in dumped, secret
    assert APP_SECRET in json.dumps(dump_config(config, reveal_secrets=True))


def test_display_url_masks_query_passwords_and_configured_secrets() -> None:
    register_secrets(["user-part-secret"])
    assert (
        display_url("postgresql://u:pw-1@db/x?password=pw-2&sslpassword=pw-3&sslmode=require")
        == "postgresql://u:***@db/x?password=***&sslmode=require&sslpassword=***"
    )
    assert display_url("postgresql://user-part-secret@db/x") == "postgresql://***@db/x"
    assert display_url("postgresql://u@db/x?PassWord=p%40ss") == "postgresql://u@db/x?PassWord=***"
    assert display_base_url("https://u:p@repzo.example/user-part-secret/?k=1") == (
        "https://repzo.example/***"
    )


def test_redaction_of_messages() -> None:
    register_secrets(["p@ss-w0rd"])
    assert redact("login p@ss-w0rd and p%40ss-w0rd") == "login *** and ***"
    assert redact("sent api-key: k-1 to db?sslpassword=s-2&x=1") == (
        "sent api-key: *** to db?sslpassword=***&x=1"
    )
    assert redact("at db?password=a:b: refused") == "at db?password=***: refused"
    # A key path in syncer's own messages holds no value to mask.
    message = "syncer.yaml:3: connectors.repzo.api_key: required key is missing"
    assert redact(message) == message
    assert Redactor().known("https://u:secret@h/x?token=t-1") == "https://u:***@h/x?token=***"


def test_a_dead_letter_payload_keeps_its_fields_but_not_our_secrets(sqlite_url: str) -> None:
    from syncer.engine.deadletters import Failure, park
    from syncer.state import open_store, upgrade_store

    register_secrets(["configured-secret-42"])
    upgrade_store(sqlite_url)
    store = open_store(sqlite_url)
    try:
        payload = {"id": "R-1", "password": "rep-own-password", "note": "configured-secret-42"}
        with store.session() as session:
            failure = Failure("R-1", "refused: configured-secret-42", "validation", payload)
            park(session, "reps", "erp", "reps", failure, "run-1")
        dump = store_dump(sqlite_url)
    finally:
        store.close()
    assert "configured-secret-42" not in dump
    # A retry sends the payload again: a record's own fields are data, not syncer's secrets.
    assert "rep-own-password" in dump
