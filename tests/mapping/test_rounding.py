"""A write that rounds an amount to what the target keeps is counted and shown, or refused
where the mapping says ``exact: true``; nothing is rounded silently."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from syncer.mapping.catalog import load_mapping
from syncer.mapping.errors import MappingError
from syncer.mapping.mapping import MappingContext, Rounded

PRODUCT = """
connector: repzo
stream: product
entity: product
fields:
  code: sku
  name: name
  base_price: {path: price, transform: money_x1000%s}
"""


def mapping(tmp_path: Path, extra: str = ""):
    path = tmp_path / "product.yaml"
    path.write_text(textwrap.dedent(PRODUCT % extra), encoding="utf-8")
    return load_mapping(path)


def write(tmp_path: Path, price: str, extra: str = "") -> tuple[dict, list[Rounded]]:
    seen: list[Rounded] = []
    native = mapping(tmp_path, extra).write(
        {"code": "I-1", "name": "Tea", "base_price": Decimal(price)},
        MappingContext(rounded=seen.append),
        record_key="I-1",
    )
    return native, seen


def test_an_amount_below_repzos_thousandth_is_rounded_and_told(tmp_path: Path) -> None:
    native, seen = write(tmp_path, "0.0004")
    assert native["price"] == 0
    assert seen == [Rounded("base_price", Decimal("0.0004"), Decimal("0"))]


def test_an_amount_repzo_keeps_exactly_is_not_reported(tmp_path: Path) -> None:
    native, seen = write(tmp_path, "12.345")
    assert (native["price"], seen) == (12345, [])


def test_exact_refuses_the_record_instead(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as refused:
        write(tmp_path, "0.0005", ", exact: true")
    assert refused.value.field == "base_price"
    assert "0.0005 cannot be written exactly: the target keeps 0.001" in str(refused.value)
