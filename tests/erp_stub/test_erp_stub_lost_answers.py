"""An ERP that does not deduplicate documents, and writes whose answers are lost: the stub's modes
for them, and the connector settling a lost answer by a lookup, never by posting again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from connectors.erp_stub import ErpStubConnector, ErpStubSettings
from sandboxes.erp import ErpStub
from syncer.connector import WriteOp
from syncer.remote.errors import UncertainWrite

USER, PASSWORD = "sync", "erp-lost-answers-pw"
SIZES = {"customers": 2, "items": 1, "vans": 0, "invoices": 0, "credit_notes": 0, "payments": 0}
WAIT = 30.0
"""Deadline for what another thread does; only reached when something is stuck."""


@pytest.fixture
def erp() -> Iterator[ErpStub]:
    with ErpStub(username=USER, password=PASSWORD, seed=SIZES, dedupe_documents=False) as server:
        yield server


def invoice(number: str) -> dict:
    return {
        "number": number,
        "customer": "C-00001",
        "date": "2026-11-29",
        "total": "3.000",
        "lines": [{"item": "I-00001", "qty": "2", "unit_price": "1.5", "total": "3.000"}],
    }


def connect(erp: ErpStub) -> ErpStubConnector:
    settings = ErpStubSettings(
        base_url=erp.url,  # type: ignore[arg-type]
        username=USER,
        password=SecretStr(PASSWORD),
    )
    return ErpStubConnector("erp", settings)


def api(erp: ErpStub) -> httpx.Client:
    return httpx.Client(base_url=f"{erp.url}/api/v1", auth=(USER, PASSWORD), timeout=WAIT)


def numbers(erp: ErpStub) -> Counter[str]:
    return Counter(record["number"] for record in erp.records("invoices"))


def until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_without_deduplication_a_second_post_of_a_number_is_a_second_document(erp):
    with api(erp) as http:
        first = http.post("/invoices", json=invoice("INV-1"))
        second = http.post("/invoices", json=invoice("INV-1"))
        found = http.get("/invoices", params={"number": "INV-1"}).json()["items"]
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert sorted(record["id"] for record in found) == sorted(
        [first.json()["id"], second.json()["id"]]
    )
    assert erp.stats().outcome("created", "invoices") == 2

    # The admin API switches deduplication back on: the number now finds its first document.
    admin = f"{erp.url}/__erp/options"
    assert httpx.get(admin, auth=(USER, PASSWORD)).json() == {"dedupe_documents": False}
    switched = httpx.post(admin, json={"dedupe_documents": True}, auth=(USER, PASSWORD))
    assert switched.json() == {"dedupe_documents": True} and erp.dedupe_documents
    with api(erp) as http:
        again = http.post("/invoices", json=invoice("INV-1"))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert numbers(erp) == {"INV-1": 2}


def test_held_answers_come_after_the_write_and_only_once_released(erp):
    erp.hold_answers("invoices")
    answers: list[httpx.Response] = []

    def post() -> None:
        with api(erp) as http:
            answers.append(http.post("/invoices", json=invoice("INV-7")))

    poster = threading.Thread(target=post)
    poster.start()
    until(lambda: erp.answer_faults().held == 1, "the answer to be held")
    assert numbers(erp) == {"INV-7": 1} and not answers  # applied, not answered
    with api(erp) as http:  # reads go on meanwhile
        assert http.get("/invoices", params={"number": "INV-7"}).status_code == 200
    erp.release_answers()
    poster.join(WAIT)
    assert [answer.status_code for answer in answers] == [201]
    assert erp.answer_faults().held == 0


def test_a_dropped_answer_closes_the_connection_after_the_write(erp):
    erp.drop_answers("invoices", 1)
    with api(erp) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/invoices", json=invoice("INV-8"))
        assert http.post("/invoices", json=invoice("INV-9")).status_code == 201
    assert numbers(erp) == {"INV-8": 1, "INV-9": 1}


def test_the_admin_api_sets_lists_and_clears_the_faults(erp):
    faults = f"{erp.url}/__erp/faults"
    auth = (USER, PASSWORD)
    assert httpx.post(faults, json={"hold": "credit_notes"}, auth=auth).status_code == 200
    state = httpx.post(faults, json={"drop": "invoices", "count": 2}, auth=auth).json()
    assert state == {"holding": ["credit_notes"], "held": 0, "dropping": {"invoices": 2}}
    refused = httpx.post(faults, json={"drop": "orders"}, auth=auth)
    assert refused.status_code == 400 and "orders" in refused.json()["error"]["message"]
    assert httpx.post(faults, json={"drop": "invoices", "count": 0}, auth=auth).status_code == 400
    cleared = httpx.delete(faults, auth=auth).json()
    assert cleared == {"holding": [], "held": 0, "dropping": {}}


@pytest.mark.anyio
async def test_a_lost_answer_is_settled_by_the_number_never_by_posting_again(erp):
    """Against an ERP that keeps every POST, a create whose answer is lost must be looked up:
    posting it again (as an idempotent request would be) makes a second invoice."""
    erp.drop_answers("invoices", 1)
    connector = connect(erp)
    try:
        [found] = await connector.write(
            "invoices",
            [WriteOp("create", invoice("INV-21"), ref="a", lookup=("number", "INV-21"))],
        )
        erp.drop_answers("invoices", 1)
        [unsure] = await connector.write(
            "invoices", [WriteOp("create", invoice("INV-22"), ref="b")]
        )
    finally:
        await connector.aclose()
    assert numbers(erp) == {"INV-21": 1, "INV-22": 1}
    [stored] = [record for record in erp.records("invoices") if record["number"] == "INV-21"]
    assert found.outcome == "created" and found.native_id == stored["id"]
    # Without a key to look it up by, the create is reported uncertain and never sent twice.
    assert unsure.outcome == "failed" and isinstance(unsure.error, UncertainWrite)
    assert erp.stats().count("POST", "invoices") == 2


def test_cli_serves_an_erp_that_does_not_deduplicate(tmp_path):
    command = [sys.executable, "-m", "syncer", "sandbox", "erp", "--port", "0"]
    command += ["--db", ":memory:", "--seed", "customers=2,items=1,vans=0,invoices=0"]
    command += ["--seed", "credit_notes=0,payments=0", "--no-dedupe-documents"]
    env = {**os.environ, "ERP_PASSWORD": PASSWORD}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            url = re.search(r"http://\S+", proc.stdout.readline()).group(0)
            with httpx.Client(base_url=f"{url}/api/v1", auth=(USER, PASSWORD)) as http:
                statuses = [http.post("/invoices", json=invoice("INV-5")).status_code for _ in "12"]
                found = http.get("/invoices", params={"number": "INV-5"}).json()["items"]
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=WAIT)
        output = proc.stdout.read()
    assert proc.returncode == 0
    assert statuses == [201, 201] and len(found) == 2
    assert "a number posted again creates another document" in output
