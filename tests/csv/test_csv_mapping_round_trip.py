"""Every shipped CSV mapping reads back what syncer itself writes through it: canonical records
-> the mapping -> the CSV connector's real write (journal, rewrite, file) -> its real read ->
the same mapping -> the same canonical values, with no record refused on the way.

A mapping that only round-trips in memory is not enough: a file holds text, so a number, a
boolean, an empty value or a time must survive being a cell."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connectors.csv import CsvConnector, CsvSettings
from syncer.connector import ReadRequest, WriteOp
from syncer.mapping.catalog import SHIPPED_DIR
from syncer.mapping.hashing import content_hash
from tests.mapping.test_shipped_mappings import (
    both_ways,
    canonical,
    context_for,
    load,
    read_back,
    restrict,
)

CSV_MAPPINGS = sorted((SHIPPED_DIR / "csv").glob("*.yaml"))


def key_field(path: Path) -> str:
    mapping = load(path)
    return next(
        rule.name for rule in mapping.rules if rule.path and rule.path.text == mapping.key.text
    )


async def write_then_read(folder: Path, path: Path, records: list[dict[str, Any]]) -> list[Any]:
    mapping = load(path)
    fields = frozenset(both_ways(mapping.rules))
    stream = {"key": mapping.key.text}
    if mapping.cursor is not None:
        stream["updated_at"] = mapping.cursor.text
    connector = CsvConnector("drop", CsvSettings(path=folder, streams={mapping.stream: stream}))
    context = context_for(mapping)
    ops = [
        WriteOp("create", mapping.write(values, context, fields), ref=str(number))
        for number, values in enumerate(records)
    ]
    results = await connector.write(mapping.stream, ops)
    assert [result.outcome for result in results] == ["created"] * len(records)
    await connector.flush(mapping.stream)
    pages = [page async for page in connector.read(mapping.stream, ReadRequest())]
    await connector.aclose()
    rejected = [rejected for page in pages for rejected in page.rejected]
    assert not rejected, rejected
    return [record for page in pages for record in page.records]


@pytest.mark.parametrize("path", CSV_MAPPINGS, ids=[p.name for p in CSV_MAPPINGS])
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_csv_mapping_reads_back_what_syncer_writes(path, data, tmp_path_factory):
    mapping = load(path)
    fields = both_ways(mapping.rules)
    key = key_field(path)
    records = []
    for number in range(3):
        values = canonical(mapping, data)
        values[key] = f"K-{number}"  # rows are keyed: one per record
        # A NUL character is refused on write (test_a_nul_character_is_never_written): no
        # text holds one, and the reader refuses a row with one as damaged.
        assume(not any("\x00" in str(value) for value in values.values()))
        records.append(values)
    folder = tmp_path_factory.mktemp("drop")
    read = asyncio.run(write_then_read(folder, path, records))
    assert len(read) == len(records)
    for values, native in zip(records, read, strict=True):
        back = read_back(mapping, native, values)  # raises when the mapping refuses the record
        # As change detection sees them: an empty text and no value are one thing in a cell.
        assert content_hash(restrict(back, fields)) == content_hash(restrict(values, fields))
        assert mapping.native_id(native) == values[key]
