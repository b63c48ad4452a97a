"""Edits made while a client pages, as the engine's cursor tests need them: named records, with
field values, at distinct instants, and commits that land late (stamped before they appear)."""

from __future__ import annotations

import httpx

from sandboxes.kit.clock import iso_ms
from sandboxes.repzo import PagingMutation
from tests.sandbox.conftest import KEY
from tests.sandbox.test_repzo_sandbox import T0, read_all_by_keyset


def window(client, since_ms, until_ms):
    """Ids listed in an updatedAt window, the way a scan asks for it."""
    ids, _ = read_all_by_keyset(
        client, "/client", per_page=50, from_updatedAt=since_ms, to_updatedAt=until_ms
    )
    return ids


def test_named_records_are_edited_with_values_at_two_instants(sandbox, client):
    sandbox.clock.freeze(T0)
    ids = sandbox.seed("client", 100, updated_at=T0 - 60_000)
    early, late = ids[3], ids[90]
    sandbox.mutate_while_paging("client", on_request=2, ids=[early], changes={"name": "first"})
    sandbox.mutate_while_paging(
        "client", on_request=3, ids=[late], changes={"name": "second"}, advance_ms=1_500
    )
    listed, requests = read_all_by_keyset(client, "/client", per_page=25)
    assert requests == 5 and len(listed) == 100
    first, second = sandbox.get_document("client", early), sandbox.get_document("client", late)
    assert (first["name"], first["updatedAt"]) == ("first", iso_ms(T0))
    assert (second["name"], second["updatedAt"]) == ("second", iso_ms(T0 + 1_500))
    assert sandbox.stats().mutations["client"] == (early, late)


def test_a_late_commit_is_stamped_before_the_moment_it_appears(sandbox, client):
    sandbox.clock.freeze(T0)
    ids = sandbox.seed("client", 10, updated_at=T0 - 60_000)
    sandbox.mutate_while_paging(
        "client", on_request=2, ids=[ids[0]], changes={"phone": "+962 7"}, late_ms=2_000
    )
    # The first listing (a scan's start) is served before the commit lands...
    assert ids[0] not in window(client, T0 - 3_000, T0)
    assert sandbox.get_document("client", ids[0])["updatedAt"] == iso_ms(T0 - 60_000)
    # ...the next one sees it, stamped two seconds before that first listing.
    assert window(client, T0 - 3_000, T0) == [ids[0]]
    doc = sandbox.get_document("client", ids[0])
    assert (doc["phone"], doc["updatedAt"]) == ("+962 7", iso_ms(T0 - 2_000))


def test_the_admin_api_arms_the_same_edits(sandbox, client):
    sandbox.clock.freeze(T0)
    ids = sandbox.seed("client", 5, updated_at=T0 - 60_000)
    spec = {"resource": "client", "on_request": 1, "ids": [ids[2]], "changes": {"name": "x"}}
    armed = httpx.post(f"{sandbox.url}/__sandbox/faults/mutate", json={**spec, "late_ms": 500})
    assert armed.status_code == 200
    assert armed.json()["mutations"] == [
        PagingMutation(**spec, late_ms=500).model_dump(mode="json")
    ]
    client.get("/client")
    assert sandbox.get_document("client", ids[2])["updatedAt"] == iso_ms(T0 - 500)
    refused = httpx.post(f"{sandbox.url}/__sandbox/faults/mutate", json={**spec, "late_ms": -1})
    assert refused.status_code == 400
    assert httpx.get(f"{sandbox.url}/client", headers={"api-key": KEY}).status_code == 200
