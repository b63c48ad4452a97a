"""syncer mapping test: input, canonical and target record per sample, without any network."""

from __future__ import annotations

import json

from syncer.cli import app

CONFIG = """
connectors:
  repzo: {type: repzo, base_url: "http://127.0.0.1:1", api_key: rk-not-used, namespace: demo}
  erp: {type: erp_stub, base_url: "http://127.0.0.1:1", username: u, password: p}
flows:
  - name: customers
    source: {connector: erp, stream: customers}
    target: {connector: repzo, stream: client}
"""

GOOD = {
    "id": "C-00042",
    "name": "Al Noor Market",
    "address": {"city": "Amman", "country": "JO"},
    "price_list": "PL-RETAIL",
    "credit_limit": "15000.500",
    "status": "active",
    "updated_at": "2026-11-29T13:04:05+03:00",
}


def test_shows_input_canonical_and_target_per_record(runner, write_config, tmp_path):
    config = write_config(CONFIG)
    sample = tmp_path / "customers.jsonl"
    bad = {"id": "C-00043", "name": "Zain", "credit_limit": "12,5", "status": "active"}
    unknown = {"id": "C-00044", "name": "Omar", "status": "frozen"}
    sample.write_text("\n".join(json.dumps(r) for r in (GOOD, bad, unknown)), encoding="utf-8")

    result = runner.invoke(
        app, ["mapping", "test", "customers", "--input", str(sample), "-c", str(config), "--json"]
    )

    assert result.exit_code == 1  # some records could not be mapped
    first, second, third = (json.loads(line) for line in result.output.splitlines())
    assert first["canonical"]["code"] == "C-00042"
    assert first["canonical"]["credit_limit"] == "15000.500"
    assert first["canonical"]["price_list"] == "price_list:PL-RETAIL"
    target = first["target"]
    assert target["client_code"] == "C-00042" and target["financials"]["credit_limit"] == 15000500
    assert target["sv_priceList"] == "<price_list:PL-RETAIL in repzo>"
    assert target["integration_meta"] == {"id": "demo_C-00042"}
    assert first["lookup"] == {"integration_meta.id": "demo_C-00042"}
    assert len(first["hash"]) == 64
    assert second["error"] == "record C-00043, field credit_limit: expected a number, got '12,5'"
    assert "unknown value 'frozen'" in third["error"] and "field active" in third["error"]


def test_the_table_view(runner, write_config, tmp_path):
    config = write_config(CONFIG)
    sample = tmp_path / "one.json"
    sample.write_text(json.dumps(GOOD), encoding="utf-8")
    result = runner.invoke(
        app, ["mapping", "test", "customers", "-i", str(sample), "-c", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "canonical" in result.output and "demo_C-00042" in result.output
    assert "1 records, 1 mapped, 0 failed." in result.output


def test_bad_input_and_unknown_flow_exit_2(runner, write_config, tmp_path):
    config = write_config(CONFIG)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "C-1"}\n{"id": \n', encoding="utf-8")
    result = runner.invoke(
        app, ["mapping", "test", "customers", "-i", str(broken), "-c", str(config)]
    )
    assert result.exit_code == 2
    assert f"{broken}:2: invalid JSON" in result.stderr
    missing = runner.invoke(
        app, ["mapping", "test", "customer", "-i", str(broken), "-c", str(config)]
    )
    assert (
        missing.exit_code == 2
        and "unknown flow 'customer' (did you mean 'customers'?)" in missing.stderr
    )
