"""Every native path of a shipped Repzo mapping exists in the official SDK's types for its
resource, unless the mapping marks it ``unverified`` with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from connectors.repzo.fields import is_known, known_paths, unknown_paths
from connectors.repzo.registry import Resource, load_registry
from syncer.mapping.catalog import SHIPPED_DIR
from syncer.mapping.spec import MappingSpec

REPZO_MAPPINGS = sorted((SHIPPED_DIR / "repzo").glob("*.yaml"))


def resource_for(stream: str) -> Resource:
    return load_registry().by_stream(stream)


def spec_of(text: str) -> MappingSpec:
    return MappingSpec.model_validate(YAML(typ="safe").load(text))


@pytest.mark.parametrize("path", REPZO_MAPPINGS, ids=[p.name for p in REPZO_MAPPINGS])
def test_shipped_repzo_mapping_uses_only_fields_the_sdk_has(path: Path):
    spec = spec_of(path.read_text(encoding="utf-8"))
    resource = resource_for(spec.stream)
    assert resource.record_fields, f"the SDK table has no record type for {spec.stream}"
    problems = [problem.message(resource) for problem in unknown_paths(spec, resource)]
    assert not problems, "\n".join(problems)


CLIENT = """
connector: repzo
stream: client
entity: customer
key: _id
fields:
  code: client_code
  credit_limit: {path: credit_limit, transform: money_x1000}
  first_contact: {path: "contacts[0]"}
"""


def test_a_field_the_sdk_does_not_have_is_named_with_the_likely_one():
    resource = resource_for("client")
    [problem] = unknown_paths(spec_of(CLIENT), resource)
    assert problem.where == "fields.credit_limit" and problem.path == "credit_limit"
    assert problem.suggestion == "financials.credit_limit"
    assert "financials.credit_limit" in problem.message(resource)


def test_unverified_needs_a_reason_and_silences_the_check():
    marked = CLIENT.replace(
        "credit_limit: {path: credit_limit, transform: money_x1000}",
        "credit_limit: {path: credit_limit, unverified: true, reason: seen on our tenant}",
    )
    assert unknown_paths(spec_of(marked), resource_for("client")) == []
    with pytest.raises(ValidationError, match="expected a reason"):
        spec_of(marked.replace(", reason: seen on our tenant", ""))


def test_paths_under_open_maps_and_list_items_are_known():
    known = known_paths(resource_for("client"))
    assert is_known("integration_meta.id", known)
    assert is_known("financials", known)
    assert not is_known("financial.credit_limit", known)
    invoice = known_paths(resource_for("fullinvoices"))
    assert is_known("items[0].qty", invoice) or is_known("items[].qty", invoice)


def test_syncer_check_names_a_user_mapping_path_the_sdk_does_not_have(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from syncer.cli import app

    shipped = (SHIPPED_DIR / "repzo" / "client.yaml").read_text(encoding="utf-8")
    mine = tmp_path / "mine" / "repzo"
    mine.mkdir(parents=True)
    (mine / "client.yaml").write_text(
        shipped.replace("{path: financials.credit_limit,", "{path: credit_limit,"),
        encoding="utf-8",
    )
    (tmp_path / "drop").mkdir()
    config = tmp_path / "syncer.yaml"
    config.write_text(
        "mappings: [./mine]\n"
        "connectors:\n"
        "  repzo: {type: repzo, api_key: k, namespace: acme}\n"
        "  drop: {type: csv, path: ./drop}\n"
        "flows:\n"
        "  - name: clients-to-csv\n"
        "    source: {connector: repzo, stream: client}\n"
        "    target: {connector: drop, stream: customers}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path.parent)  # paths are the configuration's, wherever syncer runs
    result = CliRunner().invoke(app, ["check", "--offline", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "fields.credit_limit: credit_limit is not a field of Repzo's client" in result.output
    assert "did you mean financials.credit_limit?" in result.output
    # The shipped mapping, which has it right, draws no such note.
    (mine / "client.yaml").write_text(shipped, encoding="utf-8")
    clean = CliRunner().invoke(app, ["check", "--offline", "-c", str(config)])
    assert "is not a field of Repzo's" not in clean.output
