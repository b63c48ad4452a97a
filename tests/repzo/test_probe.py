"""``syncer repzo probe`` end to end: the command line against loopback sandboxes that play Repzo
strictly or leniently, the findings in the state store, and the connector using them."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandboxes.repzo import RepzoSandbox
from syncer.cli import app
from syncer.config import load_config
from syncer.connector import ReadRequest
from syncer.engine.context import EngineContext
from syncer.state import open_store, upgrade_store
from syncer.state.findings import StoredFinding, load_findings, save_findings

KEY = "rk-probe-7f3a9c-never-shown"
CLIENTS = 150
VARIANTS = 30
READ_FACTS = {
    "per_page_cap",
    "from_updatedAt_inclusive",
    "to_updatedAt_inclusive",
    "unlisted_parameter",
    "variant_to_updatedAt",
    "default_order",
    "server_clock_skew",
}
WRITE_FACTS = {"meta_update_bumps_updatedAt", "delete_disables"}


@contextmanager
def sandbox(clients: int = CLIENTS, **options: Any) -> Iterator[RepzoSandbox]:
    with RepzoSandbox(api_key=KEY, **options) as server:
        server.seed("client", clients)
        server.seed("variant", VARIANTS)
        yield server


@pytest.fixture
def configure(tmp_path: Path, store_url: str) -> Callable[..., str]:
    """Write a configuration with one Repzo connector (plus extra connectors) and return it."""
    upgrade_store(store_url)  # a PostgreSQL store is never upgraded implicitly

    def write(url: str, *, key: str = KEY, extra: str = "", name: str = "syncer.yaml") -> str:
        path = tmp_path / name
        path.write_text(
            textwrap.dedent(
                f"""
                state: {{url: "{store_url}"}}
                connectors:
                  repzo: {{type: repzo, base_url: "{url}", api_key: {key}, namespace: demo,
                           max_retry_wait: 2s, max_connect_wait: 2s}}
                """
            )
            + textwrap.indent(textwrap.dedent(extra), "  ")
            + "flows: []\n",
            encoding="utf-8",
        )
        return str(path)

    return write


def probe(runner: CliRunner, config: str, *args: str) -> Any:
    return runner.invoke(app, ["repzo", "probe", "-c", config, *args])


def said(result: Any) -> str:
    """The command's output as one line of words, without the boxes rich draws round errors."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


def stored(store_url: str, connector: str = "repzo") -> dict[str, StoredFinding]:
    store = open_store(store_url)
    try:
        return {found.fact: found for found in load_findings(store, connector)}
    finally:
        store.close()


def values(store_url: str) -> dict[str, Any]:
    return {fact: found.value for fact, found in stored(store_url).items()}


def test_strict_and_lenient_sandboxes_give_different_answers(configure, runner, store_url):
    with sandbox() as strict:
        strict.clock.set_offset(120_000)  # Repzo's clock two minutes ahead of ours
        result = probe(runner, configure(strict.url))
        assert result.exit_code == 0, result.output
        found = values(store_url)
        assert set(found) == READ_FACTS
        assert found["per_page_cap"] == 100
        assert found["unlisted_parameter"] == "rejected"
        assert found["variant_to_updatedAt"] == "rejected"
        assert found["default_order"] == "descending"
        assert found["from_updatedAt_inclusive"] == "yes"
        assert found["to_updatedAt_inclusive"] == "yes"
        assert 118 <= found["server_clock_skew"] <= 122
        evidence = stored(store_url)["unlisted_parameter"].evidence
        assert "syncer_probe" in evidence and "400" in evidence
        assert "Repzo findings" in result.stdout and "per_page_cap" in result.stdout
        assert "at most 100 records a page" in result.stdout

    with sandbox(lenient=True) as lenient:
        result = probe(runner, configure(lenient.url))
        assert result.exit_code == 0, result.output
        found = values(store_url)
        assert found["per_page_cap"] is None  # 150 clients fit in one page: only a lower bound
        assert f"only {CLIENTS} clients" in stored(store_url)["per_page_cap"].evidence
        assert f"at least {CLIENTS}" in result.stdout
        assert found["unlisted_parameter"] == "filter"
        assert found["variant_to_updatedAt"] == "filter"
        assert found["default_order"] == "ascending"
        assert abs(found["server_clock_skew"]) <= 2


def test_a_cap_above_what_the_account_holds_is_a_lower_bound_and_a_served_one_a_cap(
    configure, runner, store_url
):
    with sandbox(clients=1001, lenient=True) as server:
        assert probe(runner, configure(server.url)).exit_code == 0
        assert values(store_url)["per_page_cap"] is None
        assert "no cap at or below 1000" in stored(store_url)["per_page_cap"].evidence
        server.set_options(max_per_page=250)
        assert probe(runner, configure(server.url)).exit_code == 0
        assert values(store_url)["per_page_cap"] == 250


def test_exclusive_updated_bounds_are_found(configure, runner, store_url):
    with sandbox(updated_bounds="exclusive") as server:
        assert probe(runner, configure(server.url)).exit_code == 0
        found = values(store_url)
        assert found["from_updatedAt_inclusive"] == "no"
        assert found["to_updatedAt_inclusive"] == "no"


def test_an_ignored_parameter_is_told_from_a_filter(configure, runner, store_url):
    with sandbox(unknown_params="ignore") as server:
        assert probe(runner, configure(server.url)).exit_code == 0
        found = values(store_url)
        assert found["unlisted_parameter"] == "ignored"
        assert found["variant_to_updatedAt"] == "ignored"


def test_a_failing_step_is_unknown_and_the_others_still_run(configure, runner, store_url):
    with sandbox() as server:
        server.script_fault("reject", count=1, method="GET", path="^/variant", status=403)
        result = probe(runner, configure(server.url))
        assert result.exit_code == 0, result.output
        found = stored(store_url)
        assert found["variant_to_updatedAt"].value == "unknown"
        assert "403" in found["variant_to_updatedAt"].evidence
        assert found["per_page_cap"].value == 100
        assert found["default_order"].value == "descending"


def test_findings_are_stored_and_replaced_by_a_new_probe(configure, runner, store_url):
    with sandbox() as server:
        config = configure(server.url)
        assert probe(runner, config).exit_code == 0
        first = stored(store_url)
        assert first["per_page_cap"].value == 100
        assert first["per_page_cap"].base_url == server.url

        server.set_options(max_per_page=40)
        assert probe(runner, config).exit_code == 0
        second = stored(store_url)
        assert set(second) == READ_FACTS  # one row per fact: replaced, not added
        assert second["per_page_cap"].value == 40
        assert second["per_page_cap"].probed_at > first["per_page_cap"].probed_at

        assert probe(runner, config, "--write").exit_code == 0
        assert set(stored(store_url)) == READ_FACTS | WRITE_FACTS
        assert probe(runner, config).exit_code == 0
        assert set(stored(store_url)) == READ_FACTS | WRITE_FACTS  # a read-only probe keeps them

        status = runner.invoke(app, ["status", "-c", config])
        assert "Repzo findings for repzo" in status.stdout and "per_page_cap=40" in status.stdout
        report = json.loads(runner.invoke(app, ["status", "--json", "-c", config]).stdout)
        assert {row["fact"] for row in report["repzo_findings"]} == READ_FACTS | WRITE_FACTS

    # Findings about another base URL say nothing about this one: a probe there drops them.
    store = open_store(store_url)
    try:
        save_findings(store, "repzo", "https://sv.api.repzo.me", [])
        assert load_findings(store, "repzo") == []
    finally:
        store.close()


def test_the_connector_asks_for_no_more_than_the_stored_cap(configure, runner, store_url):
    with sandbox(clients=250, lenient=True, max_per_page=100) as server:
        config_path = configure(server.url)
        assert probe(runner, config_path).exit_code == 0
        assert values(store_url)["per_page_cap"] == 100
        # The server would now serve any page size: pages of 100 can only be what was asked.
        server.set_options(max_per_page=None)
        config = load_config(config_path)
        assert config.connectors["repzo"].page_size == 500  # type: ignore[attr-defined]

        async def page_sizes(store_url: str) -> list[int]:
            store = open_store(store_url)
            context = EngineContext(config, store)
            try:
                repzo = context.connector("repzo")
                return [len(page.records) async for page in repzo.read("client", ReadRequest())]
            finally:
                await context.aclose()
                store.close()

        assert asyncio.run(page_sizes(store_url)) == [100, 100, 50]

        store = open_store(store_url)
        try:
            save_findings(store, "repzo", server.url, [_Fact("per_page_cap", None, "none")])
        finally:
            store.close()
        assert asyncio.run(page_sizes(store_url)) == [250]  # no cap: page_size rules


def test_write_creates_exactly_one_client_and_leaves_it_disabled(configure, runner, store_url):
    with sandbox() as server:
        before = {doc["_id"] for doc in server.documents("client")}
        server.reset_stats()
        result = probe(runner, configure(server.url), "--write")
        assert result.exit_code == 0, result.output
        created = [doc for doc in server.documents("client") if doc["_id"] not in before]
        assert len(created) == 1
        record = created[0]
        assert record["name"].startswith("syncer probe ")
        assert record["disabled"] is True
        assert record["integration_meta"]["syncer_probe"]
        stats = server.stats()
        assert stats.count("POST", "client") == 1
        assert stats.meta_updates == {"client": 1}
        assert f"_id {record['_id']}) exists in Repzo, disabled" in result.stdout
        found = values(store_url)
        assert found["meta_update_bumps_updatedAt"] == "no"  # the sandbox leaves updatedAt
        assert found["delete_disables"] == "yes"


def test_write_disables_the_client_even_when_a_step_fails(configure, runner, store_url):
    with sandbox() as server:
        server.script_fault("reject", count=1, method="POST", path="update-integration-meta")
        result = probe(runner, configure(server.url), "--write")
        assert result.exit_code == 0, result.output
        probes = [doc for doc in server.documents("client") if doc["name"].startswith("syncer")]
        assert len(probes) == 1 and probes[0]["disabled"] is True
        found = stored(store_url)
        assert found["meta_update_bumps_updatedAt"].value == "unknown"
        assert "400" in found["meta_update_bumps_updatedAt"].evidence
        assert found["delete_disables"].value == "yes"


def test_read_only_creates_and_changes_nothing(configure, runner):
    with sandbox() as server:
        documents = {name: server.documents(name) for name in ("client", "variant")}
        server.reset_stats()
        assert probe(runner, configure(server.url)).exit_code == 0
        stats = server.stats()
        assert stats.writes() == 0 and not stats.change_events and not stats.meta_updates
        assert {name: server.documents(name) for name in documents} == documents
        assert stats.count("GET") <= 15  # a few requests, not a crawl


def test_the_api_key_appears_nowhere(configure, runner, store_url):
    with sandbox() as server:
        result = probe(runner, configure(server.url), "--write")
        assert result.exit_code == 0, result.output
    assert KEY not in result.output
    assert all(KEY not in found.evidence for found in stored(store_url).values())


def test_a_wrong_key_exits_3_with_a_clear_message(configure, runner, store_url):
    with sandbox() as server:
        wrong = "rk-wrong-5521-never-shown"
        result = probe(runner, configure(server.url, key=wrong))
        assert server.stats().writes() == 0
    assert result.exit_code == 3, result.output
    assert "refused the API key (401)" in result.stderr
    assert wrong not in result.output and "Traceback" not in result.output
    assert stored(store_url) == {}


def test_an_unreachable_url_exits_3(configure, runner):
    result = probe(runner, configure("http://127.0.0.1:1"))
    assert result.exit_code == 3, result.output
    assert "cannot reach Repzo at http://127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.output


def test_the_connector_must_be_one_repzo_connector(configure, runner, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    csv = f'drop: {{type: csv, path: "{drop}"}}\n'
    config = configure("http://127.0.0.1:1", extra=csv)
    result = probe(runner, config, "--connector", "drop")
    assert result.exit_code == 2 and "is of type csv, not repzo" in said(result)
    result = probe(runner, config, "--connector", "repz")
    assert result.exit_code == 2 and "did you mean 'repzo'" in said(result)

    second = f'staging: {{type: repzo, base_url: "http://127.0.0.1:1", api_key: {KEY}}}\n'
    config = configure("http://127.0.0.1:1", extra=second, name="two.yaml")
    result = probe(runner, config)
    assert result.exit_code == 2 and "2 Repzo connectors (repzo, staging); name one" in said(result)
    assert KEY not in result.output


class _Fact:
    def __init__(self, fact: str, value: object, evidence: str) -> None:
        self.fact, self.value, self.evidence = fact, value, evidence


def test_the_migration_creates_the_findings_table(store_url):
    upgrade_store(store_url)
    store = open_store(store_url)
    try:
        save_findings(store, "repzo", "http://x", [_Fact("per_page_cap", 100, "seen")])
        save_findings(store, "repzo", "http://x", [_Fact("per_page_cap", None, "again")])
        (only,) = load_findings(store)
        assert (only.value, only.evidence) == (None, "again")
    finally:
        store.close()
