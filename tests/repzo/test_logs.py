"""Integration logs are built in the official SDK's shape."""

from __future__ import annotations

import pytest

from connectors.repzo.integration_logs import ActionLog, AppIdentity, CommandLog

APP = {
    "_id": "65f0c2a1b3c4d5e6f7a8b9c0",
    "available_app": {"_id": "65f0c2a1b3c4d5e6f7a8b9c1", "name": "repzo-sync"},
    "company_namespace": ["acme"],
}


def test_identity_comes_from_the_populated_app():
    identity = AppIdentity.from_app(APP)
    assert identity.fields() == {
        "app_id": "65f0c2a1b3c4d5e6f7a8b9c0",
        "available_app_id": "65f0c2a1b3c4d5e6f7a8b9c1",
        "available_app_name": "repzo-sync",
        "company_namespace": ["acme"],
    }


def test_identity_keeps_the_configured_id_and_namespace_where_the_answer_lacks_them():
    # An answer without the app's fields (a proxy's, a changed API) must not send logs
    # without app_id, which Repzo refuses, nor drop the configured namespace.
    identity = AppIdentity.from_app(
        {"data": []}, app_id="65f0c2a1b3c4d5e6f7a8b9c0", namespace=("corpus",)
    )
    assert identity.fields()["app_id"] == "65f0c2a1b3c4d5e6f7a8b9c0"
    assert identity.fields()["company_namespace"] == ["corpus"]
    assert AppIdentity.from_app(APP, app_id="other", namespace=("x",)).fields() == (
        AppIdentity.from_app(APP).fields()
    )


def test_command_log_sends_the_latest_detail_and_counts_in_body():
    log = CommandLog(AppIdentity.from_app(APP), "customers-erp-to-repzo", sync_id="s-1")
    log.set_status("processing")
    log.add_detail("read 120 customers from erp")
    log.add_detail("wrote 118, 2 failed")
    log.body = {"created": 100, "updated": 18, "unchanged": 0, "failed": 2}
    log.set_status("success", error=[{"record": "C-7", "message": "name is required"}])
    doc = log.document()
    assert doc["command"] == "customers-erp-to-repzo" and doc["sync_id"] == "s-1"
    assert doc["status"] == "success" and doc["onGoing"] is False
    assert [d["content"] for d in doc["details"]] == ["wrote 118, 2 failed"]
    assert doc["message"] == "wrote 118, 2 failed"
    assert doc["body"]["failed"] == 2 and doc["sync_details"][0]["body"] == doc["body"]
    assert doc["error"][0]["record"] == "C-7" and doc["error_details"][0]["error"] == doc["error"]
    assert {"processedAt", "succeededAt"} <= set(doc)
    assert doc["total_time"] == doc["end_time"] - doc["start_time"] >= 0
    assert doc["app_id"] == APP["_id"] and doc["company_namespace"] == ["acme"]


def test_action_log_sends_every_detail():
    log = ActionLog(AppIdentity(), "create_invoice", sync_id="a-1")
    log.add_detail("Invoice INV-1021-4")
    log.add_detail("ERP responded with SI-000311")
    log.set_status("fail", error={"message": "customer C-9 is blocked"})
    doc = log.document()
    assert doc["action"] == "create_invoice" and "command" not in doc
    assert [d["content"] for d in doc["details"]] == [
        "Invoice INV-1021-4",
        "ERP responded with SI-000311",
    ]
    assert doc["status"] == "fail" and doc["error"] == {"message": "customer C-9 is blocked"}
    # The SDK's ActionLogs.Data has no stamps, onGoing or *_details: a strict server refuses them.
    assert not {"failedAt", "onGoing", "error_details", "sync_details", "retries"} & set(doc)


def test_command_log_always_sends_what_the_sdk_type_requires():
    log = CommandLog(AppIdentity.from_app(APP), "items", sync_id="s-2")
    log.set_status("processing")
    doc = log.document()
    assert doc["sync_details"] == [] and doc["error_details"] == []
    assert doc["retries"] == 1 and doc["onGoing"] is True and "processedAt" in doc
    assert "body" not in doc and "error" not in doc


def test_action_log_refuses_a_status_the_sdk_does_not_have():
    log = ActionLog(AppIdentity(), "create_invoice")
    assert log.status == "processing"
    with pytest.raises(ValueError):
        log.set_status("skipped")
