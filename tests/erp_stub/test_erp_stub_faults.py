"""Injected faults of the ERP stub: the same plans and scripts as the sandbox Repzo (the shared
``sandboxes.kit.faults``), answered in the ERP's own error shape, counted in its
statistics, and survived by the ``erp_stub`` connector. Held and dropped answers of applied
writes are separate (``test_erp_stub_lost_answers.py``) and work alongside."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from connectors.erp_stub import ErpStubConnector, ErpStubSettings
from sandboxes.erp import ErpStub
from sandboxes.kit.faults import FaultRule, LatencyRule
from syncer.connector import ReadRequest, WriteOp
from syncer.remote.retry import RetryPolicy

USER, PASSWORD = "sync", "erp-faults-pw"
SIZES = {"customers": 30, "items": 0, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
CUSTOMERS = "^/api/v1/customers"


@pytest.fixture
def erp() -> Iterator[ErpStub]:
    with ErpStub(username=USER, password=PASSWORD, seed=SIZES) as server:
        yield server


@pytest.fixture
def api(erp: ErpStub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{erp.url}/api/v1", auth=(USER, PASSWORD), timeout=30) as client:
        yield client


def new_customer(name: str) -> dict:
    return {"name": name, "phone": "+962 79 000 0000"}


def test_a_scripted_429_carries_retry_after_in_the_erp_error_shape(erp, api):
    erp.script_fault("429", retry_after=2, path=CUSTOMERS)
    limited = api.get("/customers")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json() == {
        "error": {"code": "too_many_requests", "message": "Too Many Requests"}
    }
    assert api.get("/customers").status_code == 200
    stats = erp.stats()
    assert stats.faults == {"429": 1}
    assert stats.count("GET", "customers", 429) == 1 and stats.count("GET", "customers", 200) == 1


def test_random_faults_replay_with_their_seed(erp, api):
    def run() -> list[int]:
        erp.set_faults(rate_5xx=0.4, rate_429=0.2, seed=11)
        return [api.get("/customers", params={"limit": 1}).status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert {500, 502, 503} & set(first) and 429 in first and 200 in first
    erp.clear_faults()
    assert {api.get("/customers").status_code for _ in range(10)} == {200}


def test_a_5xx_before_the_write_leaves_nothing_and_one_after_it_applies_it(erp, api):
    before = len(erp.records("customers"))
    erp.script_fault("5xx", method="POST", status=503)
    refused = api.post("/customers", json=new_customer("not applied"))
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert len(erp.records("customers")) == before

    erp.script_fault("5xx", method="POST", status=502, after=True)
    assert api.post("/customers", json=new_customer("applied, reply lost")).status_code == 502
    assert [c["name"] for c in erp.records("customers")].count("applied, reply lost") == 1
    assert erp.stats().faults == {"5xx": 2}


def test_a_dropped_connection_and_a_truncated_reply(erp, api):
    erp.script_fault("drop", path=CUSTOMERS)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get("/customers")
    erp.script_fault("truncate", path=CUSTOMERS)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, json.JSONDecodeError)):
        api.get("/customers").json()
    assert api.get("/customers").status_code == 200
    stats = erp.stats()
    assert stats.faults == {"drop": 1, "truncate": 1}
    assert stats.count("GET", "customers", 0) == 1  # no answer at all


def test_faults_keep_to_their_scope_and_spare_the_control_api(erp, api):
    erp.set_faults(rules=[FaultRule(kind="drop", method="POST", path=CUSTOMERS)])
    assert api.get("/customers").status_code == 200
    assert api.post("/items", json={}).status_code == 422  # other collections: no fault
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("/customers", json=new_customer("x"))
    erp.set_faults(rate_5xx=1.0)
    admin = httpx.get(f"{erp.url}/__erp/stats", auth=(USER, PASSWORD))
    assert admin.status_code == 200
    assert admin.json()["faults"] == {"drop": 1}


def test_latency_and_latency_spikes(erp, api):
    erp.set_faults(latency_ms=60)
    started = time.perf_counter()
    assert api.get("/customers").status_code == 200
    assert time.perf_counter() - started >= 0.06

    # A spike on some requests only, drawn from the plan's seed.
    erp.set_faults(latency=[LatencyRule(min_ms=40, max_ms=50, rate=0.5)], seed=3)
    for _ in range(20):
        api.get("/customers", params={"limit": 1})
    spikes = erp.stats().faults["latency"] - 1
    assert 3 <= spikes <= 17


def test_the_admin_api_sets_shows_and_clears_the_plan_and_script(erp):
    faults = f"{erp.url}/__erp/faults"
    auth = (USER, PASSWORD)
    shown = httpx.post(
        f"{faults}/plan", json={"rate_429": 0.3, "retry_after": 1, "seed": 4}, auth=auth
    ).json()
    assert shown["plan"]["retry_after"] == 1 and shown["plan"]["seed"] == 4
    assert [rule["kind"] for rule in shown["plan"]["rules"]] == ["429"]
    scripted = httpx.post(
        f"{faults}/script", json={"kind": "5xx", "count": 2, "path": "customers"}, auth=auth
    ).json()
    assert scripted["script"][0]["left"] == 2
    assert httpx.post(f"{faults}/plan", json={"rate_429": 2}, auth=auth).status_code == 400
    assert httpx.post(f"{faults}/script", json={"kind": "nope"}, auth=auth).status_code == 400
    # The held and dropped answers keep their own endpoint and shape.
    assert httpx.get(faults, auth=auth).json() == {"holding": [], "held": 0, "dropping": {}}
    cleared = httpx.delete(f"{faults}/plan", auth=auth).json()
    assert cleared == {"plan": httpx.get(f"{faults}/plan", auth=auth).json()["plan"], "script": []}
    assert cleared["plan"]["rules"] == []


def test_injected_faults_and_lost_answers_work_together(erp, api):
    erp.script_fault("429", method="POST")
    erp.drop_answers("customers", 1)
    assert api.post("/customers", json=new_customer("first try")).status_code == 429
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("/customers", json=new_customer("second try"))
    names = [c["name"] for c in erp.records("customers")]
    assert "first try" not in names and names.count("second try") == 1


def connect(erp: ErpStub) -> ErpStubConnector:
    settings = ErpStubSettings(
        base_url=erp.url,  # type: ignore[arg-type]
        username=USER,
        password=SecretStr(PASSWORD),
        page_size=7,
    )
    connector = ErpStubConnector("erp", settings)
    connector.http.retry = RetryPolicy(initial_wait=0.01, jitter=0.01)
    return connector


@pytest.mark.anyio
async def test_the_connector_reads_and_writes_through_random_faults(erp):
    erp.set_faults(
        rate_429=0.2, retry_after=0, rate_5xx=0.1, rate_drop=0.05, rate_truncate=0.05, seed=9
    )
    seeded = sorted(str(c["id"]) for c in erp.records("customers"))
    connector = connect(erp)
    try:
        seen: list[str] = []
        async for page in connector.read("customers", ReadRequest()):
            seen.extend(str(record["id"]) for record in page.records)
        ops = [
            WriteOp(
                "create",
                {**new_customer(f"shop {n}"), "external_ref": f"ref-{n}"},
                ref=f"r{n}",
                lookup=("external_ref", f"ref-{n}"),
            )
            for n in range(20)
        ]
        results = await connector.write("customers", ops)
    finally:
        await connector.aclose()
    assert sorted(seen) == seeded
    faults = erp.stats().faults
    assert faults.get("429", 0) >= 3 and faults.get("5xx", 0) >= 1, faults
    # Every create either went through once or says it may not have: never twice.
    stored = [c["external_ref"] for c in erp.records("customers") if c.get("external_ref")]
    assert len(stored) == len(set(stored))
    created = {r.ref for r in results if r.outcome == "created"}
    assert {f"ref-{r[1:]}" for r in created} <= set(stored)
    assert len(created) >= 15
