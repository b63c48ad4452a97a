"""The strict sandbox refuses what Repzo's SDK does not allow; the lenient one lets it through.

The resources are given their SDK facts here (as ``types.ts`` has them), so these tests do not
depend on what the generated registry holds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from connectors.repzo.registry import Registry, Resource, load_registry
from sandboxes.repzo import RepzoSandbox
from tests.sandbox.conftest import KEY

REGISTRY = load_registry()
PAGING = ("page", "per_page", "sort", "sortPageOrder")
T0 = 1_790_000_000_000
ASC_BY_ID = json.dumps([{"field": "_id", "type": "asc"}])
LOG_FIELDS = ("app_id", "company_namespace", "sync_id", "status", "details")
APP_ID = "65f0c2a1b3c4d5e6f7a8b9c0"


def sdk_registry() -> Registry:
    """The registry with the SDK's facts, abridged, on the resources these tests use, and no
    meta type on any other."""
    client_fields = ("name", "client_code", "city", "disabled", "company_namespace")
    facts: dict[str, dict[str, Any]] = {
        "client": {
            "sdk_namespace": "Client",
            "list_params": (
                *PAGING,
                *("from_updatedAt", "to_updatedAt", "name", "disabled", "_id", "client_code"),
                *("populatedKeys", "from__id", "to__id", "sortBy"),
            ),
            "list_param_prefixes": ("integration_meta.", "customFields."),
            "required_on_create": ("name",),
            "create_fields": (*client_fields, "integration_meta"),
            "update_fields": (*client_fields, "integration_meta"),
            "update_prefixes": ("integration_meta.",),
            "meta_type": "clients",
        },
        "variant": {
            "sdk_namespace": "Variant",
            "list_params": (*PAGING, "_id", "name", "from_updatedAt", "from__id", "to__id"),
            "list_param_prefixes": ("integration_meta.",),
        },
        "fullinvoices": {"sdk_namespace": "FullInvoice", "meta_type": "fullinvoices"},
        # Required lists short of the SDK's, to show app_id is required whatever they say.
        "integration-command-log": {
            "sdk_namespace": "CommandLog",
            "list_params": (*PAGING, "_id", "app_id", "command", "status", "sync_id"),
            "required_on_create": ("sync_id", "command", "status"),
            "create_fields": (*LOG_FIELDS, "command"),
        },
        "integration-action-log": {
            "sdk_namespace": "ActionLogs",
            "list_params": (*PAGING, "_id", "app_id", "action", "status", "sync_id"),
            "required_on_create": ("sync_id", "action", "status"),
            "create_fields": (*LOG_FIELDS, "action"),
        },
    }
    resources = {
        name: resource.model_copy(update={"meta_type": None, **facts.get(name, {})})
        for name, resource in REGISTRY.resources.items()
    }
    return REGISTRY.model_copy(update={"resources": resources})


def with_resource(registry: Registry, resource: Resource) -> Registry:
    return registry.model_copy(
        update={"resources": {**registry.resources, resource.name: resource}}
    )


SDK_REGISTRY = sdk_registry()


@contextmanager
def serve(**options: Any) -> Iterator[tuple[RepzoSandbox, httpx.Client]]:
    with (
        RepzoSandbox(api_key=KEY, registry=SDK_REGISTRY, **options) as server,
        httpx.Client(base_url=server.url, headers={"api-key": KEY}, timeout=10) as http,
    ):
        yield server, http


@pytest.fixture
def strict() -> Iterator[tuple[RepzoSandbox, httpx.Client]]:
    with serve() as pair:
        yield pair


@pytest.fixture
def lenient() -> Iterator[tuple[RepzoSandbox, httpx.Client]]:
    with serve(lenient=True) as pair:
        yield pair


def ids_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [doc["_id"] for doc in response.json()["data"]]


# 1. Query parameters


def test_an_unlisted_query_parameter_is_a_400_naming_it_and_the_resource(strict):
    _, http = strict
    response = http.get("/client", params={"colour": "red"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith(
        "Unknown query parameter 'colour' for /client; accepted: page, per_page, sort, "
    )
    assert message.endswith("integration_meta.*, customFields.*")
    assert response.json()["errors"] == {"colour": "not accepted"}
    two = http.get("/client", params={"colour": "red", "size": "L"}).json()["message"]
    assert two.startswith("Unknown query parameters 'colour', 'size' for /client;")


def test_listed_parameters_prefixes_and_bracket_keys_are_accepted(strict):
    server, http = strict
    ids = server.seed("client", 5)
    assert ids_of(http.get("/client", params={"integration_meta.id": "demo_C000002"})) == [ids[1]]
    assert ids_of(http.get("/client", params={"customFields.tier": "gold"})) == []
    bracketed = http.get("/client", params=[("_id[]", ids[0]), ("_id[]", ids[4])])
    assert sorted(ids_of(bracketed)) == [ids[0], ids[4]]


def test_to_updated_at_is_refused_where_unlisted_and_a_range_where_listed(strict):
    server, http = strict
    server.seed("variant", 2, updated_at=T0 - 1)
    server.seed("variant", 2, updated_at=T0 + 1)
    refused = http.get("/variant", params={"to_updatedAt": T0})
    assert refused.status_code == 400
    assert refused.json()["message"].startswith(
        "Unknown query parameter 'to_updatedAt' for /variant; accepted: "
    )
    assert http.get("/variant", params={"from_updatedAt": T0}).json()["total_result"] == 2
    old_clients = server.seed("client", 2, updated_at=T0 - 1)
    server.seed("client", 2, updated_at=T0 + 1)
    assert sorted(ids_of(http.get("/client", params={"to_updatedAt": T0}))) == old_clients


def test_sort_by_is_refused_where_unlisted_and_from_id_works_where_listed(strict):
    server, http = strict
    ids = server.seed("variant", 4)
    refused = http.get("/variant", params={"sortBy": ASC_BY_ID, "from__id": ids[0]})
    assert refused.status_code == 400
    assert "'sortBy' for /variant" in refused.json()["message"]
    after = http.get("/variant", params={"from__id": ids[0], "sort": "_id", "sortPageOrder": "asc"})
    assert ids_of(after) == ids[1:]


def test_a_limit_offset_list_takes_limit_and_offset_though_the_sdk_lists_pages():
    variant = SDK_REGISTRY.resources["variant"]
    resource = variant.model_copy(update={"list_style": "limit_offset_total"})
    registry = with_resource(SDK_REGISTRY, resource)
    with (
        RepzoSandbox(api_key=KEY, registry=registry) as server,
        httpx.Client(base_url=server.url, headers={"api-key": KEY}) as http,
    ):
        server.seed(resource.name, 3)
        body = http.get(resource.path, params={"limit": 2, "offset": 1}).json()
        assert body["total"] == 3 and len(body["data"]) == 2
        assert http.get(resource.path, params={"order": "asc"}).status_code == 400


# 2. Order


def test_a_list_asked_for_no_order_comes_newest_first(strict):
    server, http = strict
    ids = server.seed("client", 5)
    assert ids_of(http.get("/client")) == ids[::-1]
    # sortPageOrder orders by the field sort names; alone it names none.
    assert ids_of(http.get("/client", params={"sortPageOrder": "asc"})) == ids[::-1]
    assert ids_of(http.get("/client", params={"sortBy": ASC_BY_ID})) == ids
    assert ids_of(http.get("/client", params={"sort": "_id", "sortPageOrder": "asc"})) == ids
    assert ids_of(http.get("/client", params={"sort": "_id", "sortPageOrder": "dsc"})) == ids[::-1]


# 3. Page size


def test_per_page_is_capped_echoed_and_next_page_url_reads_everything(strict):
    server, http = strict
    ids = server.seed("client", 250)
    first = http.get("/client", params={"per_page": 1000, "sortBy": ASC_BY_ID}).json()
    assert (first["per_page"], first["current_count"], first["total_pages"]) == (100, 100, 3)
    assert "per_page=100" in first["next_page_url"]
    assert "per_page=100" in first["last_page_url"]
    seen, page = [], first
    while True:
        seen += [doc["_id"] for doc in page["data"]]
        if page["next_page_url"] is None:
            break
        page = http.get(page["next_page_url"]).json()
    assert seen == ids


def test_max_per_page_is_an_option():
    with serve(max_per_page=10) as (server, http):
        server.seed("client", 25)
        body = http.get("/client", params={"per_page": 50}).json()
        assert (body["per_page"], body["current_count"], body["total_pages"]) == (10, 10, 3)


# 4. update-integration-meta


def test_update_integration_meta_takes_only_a_resources_meta_type(strict):
    server, http = strict
    (doc_id,) = server.seed("client", 1)
    entry = [{"key": "id", "value": "demo_E1"}]
    for wrong in ("client", "Clients", "variants"):
        refused = http.post(
            "/update-integration-meta", params={"_id": doc_id, "type": wrong}, json=entry
        )
        assert refused.status_code == 400
        assert refused.json()["message"] == (
            f"Unknown type {wrong!r} for update-integration-meta; accepted: clients, fullinvoices"
        )
    done = http.post(
        "/update-integration-meta", params={"_id": doc_id, "type": "clients"}, json=entry
    )
    assert done.status_code == 200 and done.json()["integration_meta"]["id"] == "demo_E1"


def test_update_integration_meta_guesses_while_the_registry_knows_no_meta_type():
    unknown = {
        name: resource.model_copy(update={"meta_type": None})
        for name, resource in SDK_REGISTRY.resources.items()
    }
    registry = SDK_REGISTRY.model_copy(update={"resources": unknown})
    with (
        RepzoSandbox(api_key=KEY, registry=registry) as server,
        httpx.Client(base_url=server.url, headers={"api-key": KEY}) as http,
    ):
        (doc_id,) = server.seed("client", 1)
        params = {"_id": doc_id, "type": "clients"}
        entry = [{"key": "id", "value": "x"}]
        assert http.post("/update-integration-meta", params=params, json=entry).status_code == 200


# 5. Bodies


def test_an_unlisted_body_field_is_a_400_naming_it(strict):
    server, http = strict
    created = http.post("/client", json={"name": "x", "colour": "red", "size": "L"})
    assert created.status_code == 400
    assert created.json()["message"] == (
        "Unknown fields 'colour', 'size' in the create body for /client; accepted: name, "
        "client_code, city, disabled, company_namespace, integration_meta, integration_meta.*"
    )
    (doc_id,) = server.seed("client", 1)
    updated = http.put(f"/client/{doc_id}", json={"colour": "red"})
    assert updated.status_code == 400
    assert updated.json()["message"].startswith(
        "Unknown field 'colour' in the update body for /client; accepted: name, "
    )
    dotted = http.put(f"/client/{doc_id}", json={"customFields.tier": "gold"})
    assert dotted.status_code == 400 and "'customFields.tier'" in dotted.json()["message"]


def test_an_update_may_send_server_fields_and_listed_prefixes(strict):
    server, http = strict
    (doc_id,) = server.seed("client", 1)
    doc = server.get_document("client", doc_id)
    echoed = {key: doc[key] for key in ("_id", "createdAt", "updatedAt")}
    body = {**echoed, "__v": 0, "city": "Irbid", "integration_meta.id": "demo_E9"}
    updated = http.put(f"/client/{doc_id}", json=body)
    assert updated.status_code == 200, updated.text
    assert updated.json()["city"] == "Irbid"
    assert updated.json()["integration_meta"]["id"] == "demo_E9"
    assert "__v" not in updated.json()


def test_a_log_without_app_id_is_a_400(strict):
    _, http = strict
    command = {"sync_id": "run-1", "command": "c", "status": "received", "company_namespace": []}
    for app_id in ({}, {"app_id": None}):
        refused = http.post("/integration-command-log", json={**command, **app_id})
        assert refused.status_code == 400
        assert refused.json()["message"] == "app_id is required"
        assert refused.json()["errors"] == {"app_id": "app_id is required"}
    action = {"sync_id": "act-1", "action": "a", "status": "processing"}
    assert http.post("/integration-action-log", json=action).status_code == 400
    assert (
        http.post("/integration-action-log", json={**action, "app_id": APP_ID}).status_code == 201
    )


def test_company_namespace_is_required_only_where_the_sdk_create_body_says_so(strict):
    _, http = strict
    # The SDK's CommandLog body requires it; its ActionLogs body leaves it to the server.
    command = {"sync_id": "run-2", "command": "c", "status": "received", "app_id": APP_ID}
    refused = http.post("/integration-command-log", json=command)
    assert refused.json()["message"] == "company_namespace is required"
    assert refused.status_code == 400
    action = {"sync_id": "act-2", "action": "a", "status": "processing", "app_id": APP_ID}
    assert http.post("/integration-action-log", json=action).status_code == 201
    # A required list taken from a spec file, not the SDK, names it though Repzo fills it.
    spec_only = SDK_REGISTRY.resources["client"].model_copy(
        update={
            "sdk_namespace": None,
            "required_on_create": ("name", "company_namespace", "disabled"),
        }
    )
    sdk = spec_only.model_copy(update={"sdk_namespace": "Client"})
    for resource, status in ((spec_only, 201), (sdk, 400)):
        with (
            RepzoSandbox(api_key=KEY, registry=with_resource(SDK_REGISTRY, resource)) as server,
            httpx.Client(base_url=server.url, headers={"api-key": KEY}) as client,
        ):
            assert client.post("/client", json={"name": "x"}).status_code == status


# Lenient: the same requests succeed


def test_the_lenient_sandbox_accepts_every_request_the_strict_one_refuses(lenient):
    server, http = lenient
    ids = server.seed("client", 150)
    variants = server.seed("variant", 2, updated_at=T0)
    assert http.get("/client", params={"colour": "red"}).json()["total_result"] == 0
    assert ids_of(http.get("/variant", params={"to_updatedAt": T0})) == variants
    assert http.get("/variant", params={"sortBy": ASC_BY_ID}).status_code == 200
    assert ids_of(http.get("/client", params={"per_page": 1000})) == ids
    assert http.get("/client", params={"per_page": 1000}).json()["per_page"] == 1000
    meta = http.post(
        "/update-integration-meta",
        params={"_id": ids[0], "type": "client"},
        json=[{"key": "id", "value": "E1"}],
    )
    assert meta.status_code == 200
    created = http.post("/client", json={"name": "x", "colour": "red"})
    assert created.status_code == 201 and created.json()["colour"] == "red"
    log = {"sync_id": "run-1", "command": "c", "status": "received", "app_id": None}
    assert http.post("/integration-command-log", json=log).status_code == 201


def test_explicit_options_win_over_the_mode():
    with serve(lenient=True, unknown_params="reject", max_per_page=100) as (server, http):
        server.seed("client", 150)
        assert http.get("/client", params={"colour": "red"}).status_code == 400
        assert http.get("/client", params={"per_page": 1000}).json()["per_page"] == 100
        assert http.post("/client", json={"name": "x", "colour": "red"}).status_code == 201
    with serve(unknown_fields="keep") as (_, http):
        assert http.post("/client", json={"name": "x", "colour": "red"}).status_code == 201


def test_unknown_params_ignore_drops_them_and_filter_applies_them():
    with serve(unknown_params="ignore") as (server, http):
        ids = server.seed("variant", 3, updated_at=T0)
        assert http.get("/variant", params={"colour": "red"}).json()["total_result"] == 3
        assert http.get("/variant", params={"to_updatedAt": T0 - 1}).json()["total_result"] == 3
        # Ignored, not lenient: the order is still newest first.
        assert ids_of(http.get("/variant", params={"sortBy": ASC_BY_ID})) == ids[::-1]
    with serve(unknown_params="filter") as (server, http):
        server.seed("variant", 3, updated_at=T0)
        assert http.get("/variant", params={"colour": "red"}).json()["total_result"] == 0
        assert http.get("/variant", params={"to_updatedAt": T0 - 1}).json()["total_result"] == 0
        assert http.get("/variant", params={"to_updatedAt": T0}).json()["total_result"] == 3


def test_unknown_fields_drop_and_the_older_strict_fields_switch():
    for options in ({"unknown_fields": "drop"}, {"strict_fields": True}):
        with serve(**options) as (_, http):
            created = http.post("/client", json={"name": "x", "colour": "red"})
            assert created.status_code == 201 and "colour" not in created.json()
    with serve(strict_fields=False) as (_, http):
        assert http.post("/client", json={"name": "x", "colour": "red"}).status_code == 201


def test_the_admin_api_switches_modes_and_takes_back_what_it_shows(strict):
    server, http = strict
    admin = f"{server.url}/__sandbox/options"
    shown = httpx.get(admin).json()
    assert shown["lenient"] is False and shown["max_per_page"] is None
    assert shown["effective"]["unknown_params"] == "reject"
    assert shown["effective"]["max_per_page"] == 100
    assert httpx.post(admin, json=shown).status_code == 200
    switched = httpx.post(admin, json={"lenient": True}).json()
    assert switched["effective"] == {
        "unknown_params": "filter",
        "unknown_fields": "keep",
        "max_per_page": 50_000,
        "implicit_order": "id",
        "exact_meta_types": False,
        "sdk_required": False,
    }
    assert http.get("/client", params={"colour": "red"}).status_code == 200
    assert httpx.post(admin, json={"unknown_params": "sometimes"}).status_code == 400


def test_cli_lenient_and_page_size_switches():
    command = [sys.executable, "-m", "syncer", "sandbox", "repzo", "--port", "0"]
    command += ["--api-key", KEY, "--seed", "client=12", "--lenient"]
    command += ["--max-per-page", "5", "--unknown-params", "reject"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            url = re.search(r"http://\S+", proc.stdout.readline()).group(0)
            with httpx.Client(base_url=url, headers={"api-key": KEY}) as http:
                page = http.get("/client", params={"per_page": 50}).json()
                assert (page["per_page"], page["total_pages"]) == (5, 3)
                ids = [doc["_id"] for doc in page["data"]]
                assert ids == sorted(ids)  # lenient order
                options = http.get("/__sandbox/options").json()
                assert options["lenient"] is True
                assert options["effective"]["unknown_params"] == "reject"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        assert proc.returncode == 0, proc.stderr.read()
