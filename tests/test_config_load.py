"""A good configuration loads into typed settings, round-trips, and keeps its secrets."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from connectors.erp_stub import ErpStubSettings
from connectors.repzo import RepzoSettings
from syncer.cli import app
from syncer.config import load_config, secret_values
from syncer.config.dump import dump_config
from syncer.errors import ConfigError
from syncer.logs import configure_logging, get_logger

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"
API_KEY = "rk_live_5f2a9c0d7e"
ERP_PASSWORD = "erp-pa55-word"
PG_PASSWORD = "pg-s3cret"

SECRET_CONFIG = """
state:
  url: postgresql://syncer:${PG_PASSWORD}@db.internal:5432/syncer
connectors:
  repzo:
    type: repzo
    api_key: ${REPZO_API_KEY}
    namespace: acme
  erp:
    type: erp_stub
    base_url: https://erp.internal
    username: sync
    password: ${ERP_PASSWORD}
flows:
  - name: customers
    source: {connector: erp, stream: customers}
    target: {connector: repzo, stream: client}
    schedule: {every: 90s}
"""


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("REPZO_API_KEY", API_KEY)
    monkeypatch.setenv("ERP_PASSWORD", ERP_PASSWORD)
    monkeypatch.setenv("PG_PASSWORD", PG_PASSWORD)


def test_example_config_loads_into_typed_settings():
    config = load_config(EXAMPLE, env={})
    repzo = config.connectors["repzo"]
    assert isinstance(repzo, RepzoSettings)
    assert repzo.api_key.get_secret_value() == "sandbox-api-key"
    assert repzo.write_concurrency == 8
    assert repzo.timeout == timedelta(seconds=60)
    assert isinstance(config.connectors["erp"], ErpStubSettings)
    assert [f.name for f in config.flows] == [
        "taxes-erp-to-repzo",
        "categories-erp-to-repzo",
        "products-erp-to-repzo",
        "variants-erp-to-repzo",
        "price-lists-erp-to-repzo",
        "price-list-lines-erp-to-repzo",
        "customers-erp-to-repzo",
        "customers-repzo-to-erp",
        "invoices-repzo-to-erp",
        "returns-repzo-to-erp",
        "payments-repzo-to-erp",
        "refunds-repzo-to-erp",
        "invoices-repzo-to-csv",
    ]
    pair = config.flow("customers-repzo-to-erp").conflict
    assert pair is not None and pair.owners == {
        "name": "erp",
        "credit_limit": "erp",
        "phone": "repzo",
    }
    assert config.flow("invoices-repzo-to-erp").mode == "create_only"
    assert config.flow("invoices-repzo-to-csv").enabled is False
    assert config.source == str(EXAMPLE)


def test_environment_interpolation(write_config):
    path = write_config(
        """
        state: {url: "${STATE_URL:-sqlite:///fallback.db}"}
        connectors:
          drop: {type: csv, path: "${DROP_DIR}/out", delimiter: "${DELIM:-;}"}
          price: {type: csv, path: "costs$$and$${NOT_A_VAR}"}
        """
    )
    config = load_config(path, env={"DROP_DIR": "/data", "DELIM": ""})
    folder = path.resolve().parent  # relative paths are relative to the configuration file
    assert config.state.url == f"sqlite:///{folder / 'fallback.db'}"
    assert str(config.connectors["drop"].path) == "/data/out"  # type: ignore[attr-defined]
    assert config.connectors["drop"].delimiter == ";"  # type: ignore[attr-defined]  # empty -> default
    price = config.connectors["price"].path  # type: ignore[attr-defined]
    assert price == folder / "costs$and${NOT_A_VAR}"


def test_defaults_for_an_almost_empty_file(write_config):
    path = write_config("logging: {level: debug}\n")
    config = load_config(path, env={})
    # Next to the configuration, wherever syncer is started from (cron starts it in /).
    assert config.state.url == f"sqlite:///{path.resolve().parent / 'syncer.db'}"
    assert config.logging.level == "DEBUG"
    assert config.daemon.port == 8787
    assert config.flows == [] and config.connectors == {}


def test_round_trip(write_config, secret_env, tmp_path):
    original = load_config(write_config(SECRET_CONFIG))
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(dump_config(original, reveal_secrets=True), buffer)
    again = load_config(write_config(buffer.getvalue(), name="again.yaml"))
    assert again.model_dump() == original.model_dump()
    assert again.connectors["repzo"].api_key.get_secret_value() == API_KEY  # type: ignore[attr-defined]


def test_secrets_found_for_redaction(write_config, secret_env):
    config = load_config(write_config(SECRET_CONFIG))
    assert secret_values(config) == {API_KEY, ERP_PASSWORD, PG_PASSWORD}


def test_secrets_never_in_repr_or_dump(write_config, secret_env):
    config = load_config(write_config(SECRET_CONFIG))
    shown = repr(config) + str(config) + json.dumps(dump_config(config))
    for secret in (API_KEY, ERP_PASSWORD, PG_PASSWORD):
        assert secret not in shown
    assert "***" in dump_config(config)["state"]["url"]


def test_secrets_never_in_logs(write_config, secret_env, capsys):
    config = load_config(write_config(SECRET_CONFIG))
    stream = io.StringIO()
    configure_logging("DEBUG", "json", secret_values(config), stream=stream)
    log = get_logger("test")
    repzo = config.connectors["repzo"]
    log.info("calling repzo", key=repzo.api_key.get_secret_value(), note=f"key is {API_KEY}")  # type: ignore[attr-defined]
    log.info("connecting", url=config.state.url, settings=config.model_dump())
    try:
        raise RuntimeError(f"login failed with password {ERP_PASSWORD}")
    except RuntimeError:
        log.exception("boom")
    text = stream.getvalue()
    assert text.count("\n") == 3
    for secret in (API_KEY, ERP_PASSWORD, PG_PASSWORD):
        assert secret not in text
    assert "login failed with password ***" in text


def test_secrets_never_in_errors(write_config, secret_env, runner):
    # A secret in a place that fails validation is not quoted back.
    broken = SECRET_CONFIG.replace(
        "    namespace: acme", "    namespace: acme\n    page_size: ${REPZO_API_KEY}"
    )
    path = write_config(broken)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "connectors.repzo.page_size: expected a valid integer" in caught.value.message
    assert API_KEY not in caught.value.message  # it came from the environment: never quoted
    broken = SECRET_CONFIG.replace("    username: sync", "    username: sync\n    password: [a, b]")
    path = write_config(broken)
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 2
    assert "duplicate key 'password'" in result.stderr
    for secret in (ERP_PASSWORD, PG_PASSWORD, API_KEY):
        assert secret not in result.output


def test_secret_value_of_wrong_type_is_not_quoted(write_config, monkeypatch):
    monkeypatch.setenv("ERP_PASSWORD", ERP_PASSWORD)
    path = write_config(
        f"""
        connectors:
          erp: {{type: erp_stub, username: u, password: {{value: "{ERP_PASSWORD}"}}}}
          repzo: {{type: repzo, api_key: "k", timeout: "{ERP_PASSWORD}"}}
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "connectors.erp.password" in caught.value.message
    # The timeout is not a secret key, so its bad value is quoted; the password never is.
    assert caught.value.message.count(ERP_PASSWORD) == 1
