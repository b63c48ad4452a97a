"""The Repzo sandbox over real HTTP: Repzo's semantics, the admin API, faults and the CLI.

These run against the strict default, so every request here is one the SDK's types allow; the
strictness itself is tested in test_repzo_sandbox_strict."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from connectors.repzo.registry import load_registry
from sandboxes.repzo import FaultRule, RepzoSandbox
from tests.sandbox.conftest import KEY

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
T0 = 1_790_000_000_000  # 2026-09-21T14:13:20.000Z, a fixed instant for frozen-clock tests
T0_ISO = "2026-09-21T14:13:20.000Z"
REGISTRY = load_registry()


def first_resource(predicate):
    return next(resource for resource in REGISTRY.resources.values() if predicate(resource))


ASCENDING = {"sort": "_id", "sortPageOrder": "asc"}
# What the SDK's log Data types require besides the command or action and its status.
LOG_BODY = {
    "app_id": "65f0c2a1b3c4d5e6f7a8b9c0",
    "available_app_id": "65f0c2a1b3c4d5e6f7a8b9c1",
    "available_app_name": "repzo-sync",
    "company_namespace": ["demo"],
    "start_time": T0,
    "message": "Request received",
}
COMMAND_LOG_BODY = {**LOG_BODY, "sync_details": [], "error_details": []}


def read_all_by_keyset(client, path, per_page, **params):
    """Read a collection the way the engine does: from__id keyset, _id ascending."""
    ids, last, requests = [], None, 0
    while True:
        query = {"per_page": per_page, "sortBy": json.dumps([{"field": "_id", "type": "asc"}])}
        query.update(params)
        if last:
            query["from__id"] = last
        page = client.get(path, params=query).json()
        requests += 1
        ids += [doc["_id"] for doc in page["data"]]
        if len(page["data"]) < per_page:
            return ids, requests
        last = ids[-1]


# Auth, routing, errors


def test_a_missing_or_wrong_api_key_is_401(sandbox):
    for headers in ({}, {"api-key": "wrong"}):
        response = httpx.get(f"{sandbox.url}/client", headers=headers)
        assert response.status_code == 401
        assert response.json()["message"] == "Unauthorized"
        assert response.json()["code"] == 401


def test_unknown_path_is_a_json_404_and_bad_json_a_400(client):
    response = client.get("/no-such-resource")
    assert response.status_code == 404
    assert response.json()["code"] == 404
    response = client.post(
        "/client", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_sdk_paths_are_served_as_aliases(client):
    resource = first_resource(lambda r: r.sdk_path and "create" in r.operations)
    body = {name: f"x-{name}" for name in resource.required_on_create}
    created = client.post(resource.sdk_path, json=body)
    assert created.status_code == 201
    assert client.get(f"{resource.path}/{created.json()['_id']}").status_code == 200


# Documents


def test_create_get_update_delete_round_trip(sandbox, client):
    sandbox.clock.freeze(T0)
    created = client.post("/client", json={"name": "Al-Noor", "client_code": "C1"})
    assert created.status_code == 201
    doc = created.json()
    assert re.fullmatch(r"[0-9a-f]{24}", doc["_id"])
    assert ISO_MS.fullmatch(doc["createdAt"]) and doc["createdAt"] == doc["updatedAt"]
    assert doc["disabled"] is False and doc["company_namespace"] == ["demo"]
    assert client.get(f"/client/{doc['_id']}").json() == doc

    sandbox.clock.advance(1_000)
    updated = client.put(f"/client/{doc['_id']}", json={"city": "Irbid", "_id": "ignored"}).json()
    assert updated["city"] == "Irbid" and updated["name"] == "Al-Noor"
    assert updated["_id"] == doc["_id"] and updated["createdAt"] == doc["createdAt"]
    assert updated["updatedAt"] > doc["updatedAt"]

    sandbox.clock.advance(1_000)
    deleted = client.delete(f"/client/{doc['_id']}")
    assert deleted.status_code == 200
    assert deleted.json()["disabled"] is True
    assert deleted.json()["updatedAt"] > updated["updatedAt"]
    assert client.get(f"/client/{doc['_id']}").json()["disabled"] is True

    missing = client.get("/client/0123456789abcdef01234567")
    assert missing.status_code == 404 and "not found" in missing.json()["message"]
    assert client.put("/client/0123456789abcdef01234567", json={}).status_code == 404


def test_delete_erases_where_it_does_not_disable(sandbox, client):
    resource = first_resource(lambda r: "delete" in r.operations and not r.delete_disables)
    (doc_id,) = sandbox.insert(resource.name, [{"name": "gone soon"}])
    assert client.delete(f"{resource.path}/{doc_id}").status_code == 200
    assert client.get(f"{resource.path}/{doc_id}").status_code == 404


def test_ids_increase_with_creation(client):
    ids = [client.post("/client", json={"name": f"n{i}"}).json()["_id"] for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_create_without_required_fields_names_each_one(client):
    resource = first_resource(
        lambda r: (
            "create" in r.operations and len(set(r.required_on_create) - {"company_namespace"}) >= 2
        )
    )
    response = client.post(resource.path, json={})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 400
    for field in set(resource.required_on_create) - {"company_namespace"}:
        assert f"{field} is required" in body["message"]
        assert field in body["errors"]


def test_sub_action_is_recorded_and_bumps_updated_at(sandbox, client):
    resource = first_resource(
        lambda r: any(op.method != "GET" and "{" in op.path for op in r.sub_actions.values())
    )
    action = next(
        op for op in resource.sub_actions.values() if op.method != "GET" and "{" in op.path
    )
    sandbox.clock.freeze(T0)
    (doc_id,) = sandbox.insert(resource.name, [{"name": "x"}])
    sandbox.clock.advance(5_000)
    path = re.sub(r"\{[^}]+\}", doc_id, action.path)
    response = client.request(action.method, path, json={})
    assert response.status_code == 200
    assert response.json()["_id"] == doc_id
    assert response.json()["updatedAt"] > response.json()["createdAt"]
    assert sandbox.stats().sub_actions == {f"{resource.name}/{action.name}": 1}


def test_sandbox_file_survives_a_restart(tmp_path):
    db = str(tmp_path / "repzo.db")
    with RepzoSandbox(api_key=KEY, db=db) as first:
        (old_id,) = first.seed("client", 1)
    with RepzoSandbox(api_key=KEY, db=db) as second:
        assert second.get_document("client", old_id)["client_code"] == "C000001"
        (new_id,) = second.seed("client", 1)
        assert new_id > old_id


def test_date_header_follows_the_sandbox_clock(sandbox, client):
    sandbox.clock.freeze(T0)
    assert client.get("/client").headers["date"] == "Mon, 21 Sep 2026 14:13:20 GMT"


# Lists


def test_paged_shape_and_last_page(sandbox, client):
    sandbox.seed("client", 30)
    first = client.get("/client", params={"per_page": 10, **ASCENDING}).json()
    assert {key: first[key] for key in ("total_result", "current_count", "total_pages")} == {
        "total_result": 30,
        "current_count": 10,
        "total_pages": 3,
    }
    assert first["current_page"] == 1 and first["prev_page_url"] is None
    assert first["path"].endswith("/client")
    second = client.get(first["next_page_url"]).json()
    assert second["current_page"] == 2
    third = client.get(second["next_page_url"]).json()
    assert third["current_count"] == 10 and third["next_page_url"] is None
    all_ids = [doc["_id"] for page in (first, second, third) for doc in page["data"]]
    assert all_ids == sorted(all_ids) and len(set(all_ids)) == 30
    assert client.get("/client").json()["per_page"] == 25


def test_keyset_reads_10k_clients_in_id_order_without_gaps_or_repeats(sandbox, client):
    seeded = sandbox.seed("client", 10_000)
    ids, requests = read_all_by_keyset(client, "/client", per_page=100)
    assert ids == sorted(seeded)
    assert requests == 101


def test_from_id_is_exclusive_unless_configured(sandbox, client):
    seeded = sandbox.seed("client", 5)
    keyset = {"from__id": seeded[1], "sortBy": json.dumps([{"field": "_id", "type": "asc"}])}
    exclusive = client.get("/client", params=keyset).json()["data"]
    assert [doc["_id"] for doc in exclusive] == seeded[2:]
    sandbox.set_options(from_id_bound="inclusive")
    inclusive = client.get("/client", params=keyset).json()["data"]
    assert [doc["_id"] for doc in inclusive] == seeded[1:]


def test_descending_sort_and_projection(sandbox, client):
    # project is the sandbox's own convenience; the SDK names it for no resource.
    sandbox.set_options(lenient=True)
    seeded = sandbox.seed("client", 5)
    page = client.get(
        "/client", params={"sortPageOrder": "dsc", "project": json.dumps(["name"])}
    ).json()
    assert [doc["_id"] for doc in page["data"]] == seeded[::-1]
    assert set(page["data"][0]) == {"_id", "name"}


def test_updated_at_bounds_inclusive_then_exclusive(sandbox, client):
    before = sandbox.seed("client", 2, updated_at=T0 - 1)
    at = sandbox.seed("client", 3, updated_at=T0)
    after = sandbox.seed("client", 2, updated_at=T0 + 1)

    def ids(**params):
        return sorted(doc["_id"] for doc in client.get("/client", params=params).json()["data"])

    assert ids(from_updatedAt=T0, to_updatedAt=T0) == sorted(at)
    assert ids(from_updatedAt=T0) == sorted(at + after)
    sandbox.set_options(updated_bounds="exclusive")
    assert ids(from_updatedAt=T0) == sorted(after)
    assert ids(to_updatedAt=T0) == sorted(before)
    assert ids(from_updatedAt=T0, to_updatedAt=T0) == []


def test_integration_meta_filter_with_a_json_array(sandbox, client):
    sandbox.seed("client", 20)
    wanted = json.dumps(["demo_C000003", "demo_C000017", "demo_nobody"])
    page = client.get("/client", params={"integration_meta.id": wanted}).json()
    assert sorted(doc["client_code"] for doc in page["data"]) == ["C000003", "C000017"]
    single = client.get("/client", params={"integration_meta.id": "demo_C000005"}).json()
    assert [doc["client_code"] for doc in single["data"]] == ["C000005"]
    by_code = client.get("/client", params={"client_code": json.dumps(["C000001", "C000002"])})
    assert by_code.json()["total_result"] == 2


def test_disabled_filter(sandbox, client):
    ids = sandbox.seed("client", 10)
    for doc_id in ids[:3]:
        client.delete(f"/client/{doc_id}")
    disabled = client.get("/client", params={"disabled": "true"}).json()
    enabled = client.get("/client", params={"disabled": "false"}).json()
    assert sorted(doc["_id"] for doc in disabled["data"]) == ids[:3]
    assert enabled["total_result"] == 7


def test_every_list_style_is_served_from_the_registry():
    styled = {
        style: REGISTRY.resources["client"].model_copy(
            update={
                "name": f"styled-{style}",
                "path": f"/styled-{style}",
                "list_style": style,
                "sdk_path": None,
                "operations": {
                    "list": REGISTRY.resources["client"]
                    .operations["list"]
                    .model_copy(update={"path": f"/styled-{style}"})
                },
            }
        )
        for style in ("array", "object", "limit_offset_total", "limit_offset_pagination", "none")
    }
    registry = REGISTRY.model_copy(
        update={"resources": {**REGISTRY.resources, **{r.name: r for r in styled.values()}}}
    )
    with (
        RepzoSandbox(api_key=KEY, registry=registry) as server,
        httpx.Client(base_url=server.url, headers={"api-key": KEY}) as http,
    ):
        for resource in styled.values():
            server.seed(resource.name, 3)
        assert len(http.get("/styled-array").json()) == 3
        newest = server.documents("styled-object")[-1]["_id"]
        assert http.get("/styled-object").json()["_id"] == newest
        total = http.get("/styled-limit_offset_total", params={"limit": 2, "offset": 2}).json()
        assert total["success"] is True and total["total"] == 3 and len(total["data"]) == 1
        paginated = http.get("/styled-limit_offset_pagination", params={"limit": 2}).json()
        assert paginated["pagination"]["total"] == 3 and len(paginated["data"]) == 2
        assert http.get("/styled-none").status_code == 405


# Integration logs and update-integration-meta


def test_command_log_upserts_by_sync_id_and_appends_details(client):
    base = {"sync_id": "run-1", "command": "client", "status": "processing", **COMMAND_LOG_BODY}
    client.post("/integration-command-log", json={**base, "details": [{"content": "a"}]})
    second = client.post(
        "/integration-command-log",
        json={**base, "status": "success", "details": [{"content": "b"}]},
    )
    assert second.status_code == 201
    found = client.get("/integration-command-log", params={"sync_id": "run-1"}).json()
    assert found["total_result"] == 1
    log = found["data"][0]
    assert log["status"] == "success"
    assert [detail["content"] for detail in log["details"]] == ["a", "b"]


def test_action_log_upsert_replaces_details(client):
    base = {"sync_id": "act-1", "action": "create_invoice", "status": "processing", **LOG_BODY}
    client.post("/integration-action-log", json={**base, "details": [{"content": "a"}]})
    client.post(
        "/integration-action-log", json={**base, "details": [{"content": "a"}, {"content": "b"}]}
    )
    found = client.get("/integration-action-log", params={"sync_id": "act-1"}).json()
    assert found["total_result"] == 1
    assert [detail["content"] for detail in found["data"][0]["details"]] == ["a", "b"]


def test_update_integration_meta_keeps_updated_at_and_is_no_change_event(sandbox, client):
    sandbox.clock.freeze(T0)
    doc = client.post("/client", json={"name": "x"}).json()
    sandbox.reset_stats()
    sandbox.clock.advance(60_000)
    response = client.post(
        "/update-integration-meta",
        params={"_id": doc["_id"], "type": "clients"},
        json=[{"key": "id", "value": "demo_E1"}],
    )
    assert response.status_code == 200
    client.post(
        "/update-integration-meta",
        params={"_id": doc["_id"], "type": "clients"},
        json={"integration_meta_keys": [{"key": "erp_code", "value": "E1"}]},
    )
    stored = client.get(f"/client/{doc['_id']}").json()
    assert stored["integration_meta"] == {"id": "demo_E1", "erp_code": "E1"}
    assert stored["updatedAt"] == doc["updatedAt"]
    stats = sandbox.stats()
    assert stats.meta_updates == {"client": 2}
    assert stats.change_events == {}
    assert stats.count(method="POST", resource="update-integration-meta", status=200) == 2
    unknown = client.post(
        "/update-integration-meta", params={"_id": doc["_id"], "type": "nope"}, json=[]
    )
    assert unknown.status_code == 400


# Faults


def test_scripted_429_carries_retry_after_then_clears(sandbox, client):
    sandbox.script_fault("429", count=1, retry_after=2, path="^/client")
    limited = client.get("/client")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["code"] == 429
    assert client.get("/client").status_code == 200


def test_random_5xx_is_reproducible_with_a_seed(sandbox, client):
    def run():
        sandbox.set_faults(rate_5xx=0.5, seed=7)
        return [client.get("/client").status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {500, 502, 503} & set(first) and 200 in first


def test_dropped_connection_raises(sandbox, client):
    sandbox.script_fault("drop")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get("/client")
    assert client.get("/client").status_code == 200


def test_truncated_body_fails(sandbox, client):
    sandbox.seed("client", 5)
    sandbox.script_fault("truncate")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, json.JSONDecodeError)):
        client.get("/client").json()
    assert sandbox.stats().faults == {"truncate": 1}


def test_fault_after_the_write_still_applies_it(sandbox, client):
    sandbox.script_fault("5xx", method="POST", status=502, after=True)
    assert client.post("/client", json={"name": "lost reply"}).status_code == 502
    assert sandbox.stats().documents == {"client": 1}


def test_faults_respect_scope_latency_and_spare_the_admin_api(sandbox, client):
    sandbox.set_faults(latency_ms=60, rules=[FaultRule(kind="drop", method="POST")])
    started = time.perf_counter()
    assert client.get("/client").status_code == 200
    assert time.perf_counter() - started >= 0.06
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post("/client", json={"name": "x"})
    assert httpx.get(f"{sandbox.url}/__sandbox/stats").status_code == 200


def test_mutate_while_paging_touches_already_returned_docs(sandbox, client):
    sandbox.clock.freeze(T0)
    sandbox.seed("client", 100)
    sandbox.mutate_while_paging("client", on_request=3, count=5, among="returned")
    sandbox.clock.advance(1_000)
    ids, _ = read_all_by_keyset(client, "/client", per_page=25)
    assert len(ids) == 100
    touched = sandbox.stats().mutations["client"]
    assert len(touched) == 5
    assert set(touched) <= set(ids[:50])  # only the two pages served before the third request
    for doc_id in touched:
        assert sandbox.get_document("client", doc_id)["updatedAt"] > T0_ISO


# Stats and the admin API


def test_stats_count_requests_writes_and_change_events(sandbox, client):
    doc = client.post("/client", json={"name": "x"}).json()
    client.put(f"/client/{doc['_id']}", json={"name": "x"})
    for _ in range(3):
        client.get("/client")
    client.get("/nowhere")
    stats = sandbox.stats()
    assert stats.count(method="GET", resource="client", status=200) == 3
    assert stats.count(resource="(unknown)", status=404) == 1
    assert stats.writes() == 2 and stats.writes("client") == 2
    assert stats.change_events == {"client": 2} and stats.noop_writes == {"client": 1}
    assert httpx.get(f"{sandbox.url}/__sandbox/stats").json()["total_writes"] == 2
    sandbox.reset_stats()
    assert sandbox.stats().count() == 0


def test_admin_api_seeds_controls_the_clock_and_resets(sandbox, client):
    admin = f"{sandbox.url}/__sandbox"
    seeded = httpx.post(f"{admin}/seed", json={"resource": "client", "count": 3, "updated_at": T0})
    assert seeded.status_code == 201 and seeded.json()["inserted"] == 3
    assert client.get("/client").json()["data"][0]["updatedAt"] == T0_ISO
    assert httpx.post(f"{admin}/clock", json={"freeze_ms": T0}).json()["now_ms"] == T0
    httpx.post(f"{admin}/faults/script", json={"kind": "5xx", "status": 503})
    assert client.get("/client").status_code == 503
    assert httpx.post(f"{admin}/faults", json={"rate_429": 2}).status_code == 400
    httpx.post(f"{admin}/reset")
    assert client.get("/client").json()["total_result"] == 0


# The command line


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_until_interrupted(stop_signal):
    command = [sys.executable, "-m", "syncer", "sandbox", "repzo", "--port", "0"]
    command += ["--api-key", KEY, "--seed", "client=3"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            line = proc.stdout.readline()
            url = re.search(r"http://\S+", line).group(0)
            response = httpx.get(f"{url}/client", headers={"api-key": KEY})
            assert response.json()["total_result"] == 3
        finally:
            proc.send_signal(stop_signal)
            proc.wait(timeout=10)
        assert proc.returncode == 0, proc.stderr.read()


def test_a_sandbox_beyond_this_machine_needs_an_admin_token():
    from sandboxes.repzo.server import SandboxExposed

    with pytest.raises(SandboxExposed, match="--admin-token"):
        RepzoSandbox(api_key=KEY, host="0.0.0.0")


def test_with_an_admin_token_the_admin_api_requires_it():
    with RepzoSandbox(api_key=KEY, admin_token="t0ken") as server:
        seed = f"{server.url}/__sandbox/seed"
        body = {"resource": "client", "count": 3}
        refused = httpx.post(seed, json=body)
        assert refused.status_code == 401 and "x-sandbox-admin-token" in refused.json()["message"]
        assert server.documents("client") == []
        allowed = httpx.post(seed, json=body, headers={"x-sandbox-admin-token": "t0ken"})
        assert allowed.is_success and len(server.documents("client")) == 3


def test_the_cli_refuses_to_expose_the_sandbox_without_a_token():
    from typer.testing import CliRunner

    from syncer.cli import app

    result = CliRunner().invoke(
        app, ["sandbox", "repzo", "--host", "0.0.0.0", "--port", "0"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2
    assert "beyond this machine" in " ".join(result.output.split())
