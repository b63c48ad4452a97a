"""Generated documents for seeding: a realistic Repzo client, or a generic document that fills a
resource's required fields.

Generation is deterministic (same resource, count and start give the same documents), so
benchmarks and demos are repeatable. The server stamps ``_id`` and the timestamps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from connectors.repzo.fields import is_known, known_paths
from connectors.repzo.registry import Resource

_CITIES = ("Amman", "Irbid", "Zarqa", "Aqaba", "Madaba", "Salt", "Jerash", "Karak", "Mafraq")
_KINDS = ("Market", "Grocery", "Supermarket", "Pharmacy", "Bakery", "Mini Market", "Stores")
_STAMPED_BY_SERVER = frozenset({"company_namespace", "_id", "createdAt", "updatedAt"})
_NAMES = ("Al-Noor", "Al-Amal", "Al-Salam", "Al-Baraka", "Al-Rawda", "Al-Quds", "Al-Yasmeen")


def generate(
    resource: Resource, count: int, *, namespace: tuple[str, ...], start: int = 1
) -> Iterator[dict[str, Any]]:
    """``count`` documents numbered from ``start`` (keep numbering across seeds so codes and
    external ids stay unique)."""
    make = _client if resource.name == "client" else _generic
    prefix = "_".join(namespace)
    rng = random.Random(start)
    for number in range(start, start + count):
        yield make(resource, number, prefix, rng)


def _client(_resource: Resource, number: int, prefix: str, rng: random.Random) -> dict[str, Any]:
    code = f"C{number:06d}"
    city = rng.choice(_CITIES)
    return {
        "name": f"{rng.choice(_NAMES)} {rng.choice(_KINDS)} {number}",
        "local_name": "",
        "client_code": code,
        "phone": f"+9627{rng.randint(70_000_000, 99_999_999)}",
        "cell_phone": "",
        "email": "",
        "city": city,
        "state": city,
        "country": "Jordan",
        "formatted_address": f"{rng.randint(1, 200)} Street {rng.randint(1, 60)}, {city}",
        "lat": round(31.9 + rng.uniform(-0.5, 0.5), 6),
        "lng": round(35.9 + rng.uniform(-0.5, 0.5), 6),
        "tax_number": f"{rng.randint(10_000_000, 99_999_999)}",
        # Where the SDK's ClientSchema keeps it, as Repzo's SAP integration writes it.
        "financials": {"credit_limit": rng.choice((0, 500_000, 1_000_000, 2_500_000))},
        "tags": [],
        "assigned_to": [],
        "teams": [],
        "disabled": False,
        "integration_meta": {"id": f"{prefix}_{code}", "code": code},
    }


def _generic(resource: Resource, number: int, prefix: str, _rng: random.Random) -> dict[str, Any]:
    code = f"{resource.name.upper().replace('/', '-')}-{number:06d}"
    doc: dict[str, Any] = {
        field: f"{field} {number}"
        for field in resource.required_on_create
        if field not in _STAMPED_BY_SERVER
    }
    extras = {
        "name": f"{resource.title or resource.name} {number}",
        "code": code,
        "disabled": False,
        "integration_meta": {"id": f"{prefix}_{code}"},
    }
    # Only fields the SDK's record type has (all of them where it says nothing): a generated
    # document should look like one Repzo could hold.
    known = known_paths(resource)
    doc.update(
        (name, value)
        for name, value in extras.items()
        if not resource.record_fields or name == "disabled" or is_known(name, known)
    )
    return doc
