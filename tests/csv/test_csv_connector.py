"""The CSV connector: encodings and delimiters, broken rows, fingerprints, windows, writes."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.csv import CsvConnector, CsvSettings
from syncer.connector import LOCATION_FIELD, Page, ReadRequest, WriteOp
from syncer.remote.errors import FatalRemoteError

pytestmark = pytest.mark.anyio

ARABIC = "سوق النور"


def connector(folder: Path, **settings) -> CsvConnector:
    return CsvConnector("drop", CsvSettings.model_validate({"path": folder, **settings}))


async def read(conn: CsvConnector, stream: str, request: ReadRequest | None = None) -> list[Page]:
    return [page async for page in conn.read(stream, request or ReadRequest())]


def records(pages: list[Page]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != LOCATION_FIELD} for p in pages for r in p.records]


@pytest.mark.parametrize(
    ("encoding", "setting", "bom"),
    [
        ("utf-8", "utf-8-sig", False),
        ("utf-8", "utf-8-sig", True),
        ("utf-8", "utf-8", True),  # a BOM the setting does not expect is still stripped
        ("cp1256", "cp1256", False),
        ("latin-1", "latin-1", False),
    ],
)
async def test_encodings(tmp_path, encoding, setting, bom):
    name = ARABIC if encoding in ("utf-8", "cp1256") else "Café Noël"
    data = f"id,name\nC-1,{name}\n".encode(encoding)
    (tmp_path / "customers.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    rows = records(await read(connector(tmp_path, encoding=setting), "customers"))
    assert rows == [{"id": "C-1", "name": name}]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
async def test_a_wide_encoding_read_as_utf8_is_named_not_taken_for_columns(tmp_path, encoding):
    (tmp_path / "customers.csv").write_bytes("id,name\nC-1,Ali\n".encode(encoding))
    with pytest.raises(FatalRemoteError) as caught:
        await read(connector(tmp_path), "customers")
    wide = "UTF-32" if "32" in encoding else "UTF-16"
    assert caught.value.message.startswith(
        f"customers.csv:1: the file looks like {wide} text, but the stream's encoding is "
        f"utf-8-sig: save it as UTF-8, or set the stream's `encoding` to {wide.lower()}"
    )
    # Read as what it is, it reads: line breaks of two or four bytes, one inside a cell too.
    (tmp_path / "customers.csv").write_bytes(
        f'id,name\nC-1,Ali\nC-2,"{ARABIC}\nline 2"\n'.encode(encoding)
    )
    rows = records(await read(connector(tmp_path, encoding=encoding), "customers"))
    assert rows == [{"id": "C-1", "name": "Ali"}, {"id": "C-2", "name": f"{ARABIC}\nline 2"}]


async def test_a_header_in_another_encoding_stops_the_read(tmp_path):
    (tmp_path / "customers.csv").write_bytes("id,nom_cl\xe9\nC-1,Ali\n".encode("latin-1"))
    with pytest.raises(FatalRemoteError) as caught:
        await read(connector(tmp_path, encoding="utf-8"), "customers")
    assert caught.value.message.startswith(
        "customers.csv:1: the header has bytes that are not valid utf-8"
    )


async def test_a_nul_character_rejects_its_row_and_is_not_kept(tmp_path):
    (tmp_path / "customers.csv").write_bytes(b"id,name\nC-1,Ali\nC-2,Om\x00\x00ar\nC-3,Sara\n")
    pages = await read(connector(tmp_path), "customers")
    assert [r["id"] for r in records(pages)] == ["C-1", "C-3"]
    [rejected] = [r for p in pages for r in p.rejected]
    assert (rejected.key, rejected.field) == ("customers.csv:3", "name")
    assert rejected.reason.startswith("a NUL character (byte 0), which no text holds")
    assert "\x00" not in repr(rejected.raw)


async def test_a_nul_character_is_never_written(tmp_path):
    conn = connector(tmp_path, streams={"customers": {"key": "id"}})
    ops = [
        WriteOp("create", {"id": "C-1", "name": "Ali"}, ref="1"),
        WriteOp("create", {"id": "C-2", "name": "Om\x00ar"}, ref="2"),
        WriteOp("create", {"id": "C-3", "name": "Sara"}, ref="3"),
    ]
    results = await conn.write("customers", ops)
    await conn.flush("customers")
    assert [r.outcome for r in results] == ["created", "failed", "created"]
    assert results[1].error is not None
    assert results[1].error.message.startswith(
        "column 'name' would hold a NUL character (byte 0), which a CSV file cannot carry"
    )
    assert b"\x00" not in (tmp_path / "customers.csv").read_bytes()
    assert [r["id"] for r in records(await read(conn, "customers"))] == ["C-1", "C-3"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
async def test_delimiters_and_quoting(tmp_path, delimiter):
    text = (
        f'id{delimiter}name{delimiter}note\nC-1{delimiter}"A{delimiter} B"{delimiter}"two\nlines"\n'
    )
    (tmp_path / "customers.csv").write_text(text, encoding="utf-8")
    rows = records(await read(connector(tmp_path, delimiter=delimiter), "customers"))
    assert rows == [{"id": "C-1", "name": f"A{delimiter} B", "note": "two\nlines"}]


async def test_a_file_without_a_header(tmp_path):
    (tmp_path / "items.csv").write_text("I-1;Water;0.250\nI-2;Juice;1.100\n", encoding="utf-8")
    conn = connector(
        tmp_path,
        streams={
            "items": {
                "header": False,
                "columns": ["code", "name", "price"],
                "delimiter": ";",
                "key": "code",
            }
        },
    )
    rows = records(await read(conn, "items"))
    assert rows == [
        {"code": "I-1", "name": "Water", "price": "0.250"},
        {"code": "I-2", "name": "Juice", "price": "1.100"},
    ]


async def test_broken_rows_are_isolated_with_file_line_and_column(tmp_path):
    raw = (
        b"id,name,amount\n"
        b"C-1,Ali,5\n"
        b"C-2,Extra,6,oops\n"  # line 3: one column too many
        b"C-3,\xd8\xb3\xff\xfe,7\n"  # line 4: not UTF-8
        b"C-4,Short\n"  # line 5: one column short
        b"C-5,Omar,9\n"
    )
    (tmp_path / "customers.csv").write_bytes(raw)
    pages = await read(connector(tmp_path, encoding="utf-8"), "customers")
    assert [r["id"] for r in records(pages)] == ["C-1", "C-5"]
    rejected = [r for p in pages for r in p.rejected]
    assert [(r.key, r.field) for r in rejected] == [
        ("customers.csv:3", None),
        ("customers.csv:4", "name"),
        ("customers.csv:5", "amount"),
    ]
    assert "expected 3 columns" in rejected[0].reason and "got 4" in rejected[0].reason
    assert rejected[1].reason == "bytes that are not valid utf-8"
    assert [r[LOCATION_FIELD] for p in pages for r in p.records] == [
        "customers.csv:2",
        "customers.csv:6",
    ]


async def test_an_unchanged_file_is_not_read_again_and_a_reexport_changes_nothing(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("id,name\nC-1,Ali\nC-2,Omar\n", encoding="utf-8")
    conn = connector(tmp_path)
    first = await read(conn, "customers")
    assert len(records(first)) == 2
    position = first[-1].position
    assert position is not None

    again = await read(conn, "customers", ReadRequest(after=position))
    assert records(again) == [] and again[-1].position == position

    stat = path.stat()
    path.write_text("id,name\nC-1,Ali\nC-2,Omar\n", encoding="utf-8")  # re-exported: same bytes
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    reexport = await read(conn, "customers", ReadRequest(after=position))
    assert records(reexport) == []
    assert reexport[-1].position != position  # the new mtime is remembered, so no rehash next time

    path.write_text("id,name\nC-1,Ali\nC-2,Omar Saleh\n", encoding="utf-8")
    changed = await read(conn, "customers", ReadRequest(after=reexport[-1].position))
    assert [r["name"] for r in records(changed)] == ["Ali", "Omar Saleh"]


async def test_a_glob_stream_reads_only_the_files_that_changed(tmp_path):
    (tmp_path / "invoices_2026-11-28.csv").write_text(
        "number,total\nINV-1,5.000\n", encoding="utf-8"
    )
    (tmp_path / "invoices_2026-11-29.csv").write_text(
        "number,total\nINV-2,7.500\n", encoding="utf-8"
    )
    (tmp_path / "other.csv").write_text("x\n1\n", encoding="utf-8")
    conn = connector(tmp_path, streams={"invoices": {"file": "invoices_*.csv", "key": "number"}})
    first = await read(conn, "invoices")
    assert [r["number"] for r in records(first)] == ["INV-1", "INV-2"]
    (tmp_path / "invoices_2026-11-30.csv").write_text(
        "number,total\nINV-3,1.000\n", encoding="utf-8"
    )
    later = await read(conn, "invoices", ReadRequest(after=first[-1].position))
    assert [r["number"] for r in records(later)] == ["INV-3"]
    assert set(conn.streams()) >= {"other", "invoices"}


async def test_an_updated_at_column_gives_a_window(tmp_path):
    (tmp_path / "customers.csv").write_text(
        "id,changed\nC-1,29/11/2026 09:00\nC-2,29/11/2026 13:30\n"
        "C-3,yesterday\nC-4,30/11/2026 08:00\n",
        encoding="utf-8",
    )
    conn = connector(
        tmp_path,
        streams={
            "customers": {
                "updated_at": "changed",
                "updated_at_format": "%d/%m/%Y %H:%M",
                "timezone": "Asia/Amman",
            }
        },
    )
    assert conn.info("customers").cursor == "updated_at"
    window = ReadRequest(
        updated_from=datetime(2026, 11, 29, 7, 0, tzinfo=UTC),  # 10:00 in Amman
        updated_to=datetime(2026, 11, 29, 21, 0, tzinfo=UTC),
    )
    pages = await read(conn, "customers", window)
    assert [r["id"] for r in records(pages)] == ["C-2"]
    [bad] = [r for p in pages for r in p.rejected]
    assert (bad.key, bad.field) == ("customers.csv:4", "changed")
    assert "expected a time in the format %d/%m/%Y %H:%M" in bad.reason


async def test_an_emptied_file_read_by_its_updated_at_column_is_not_taken_for_empty(tmp_path):
    (tmp_path / "customers.csv").write_text("id,changed\n", encoding="utf-8")
    streams = {"customers": {"updated_at": "changed"}}
    window = ReadRequest(updated_from=datetime(2026, 11, 29, tzinfo=UTC), known=2)

    # Nothing known from it yet: a header-only file is an empty source.
    assert records(await read(connector(tmp_path, streams=streams), "customers")) == []
    with pytest.raises(FatalRemoteError, match="has no rows now, but had 2"):
        await read(connector(tmp_path, streams=streams), "customers", window)
    # A delta export may have nothing to say.
    streams["customers"]["may_be_empty"] = True
    assert records(await read(connector(tmp_path, streams=streams), "customers", window)) == []


@pytest.mark.parametrize("may_be_empty", [False, True])
async def test_an_emptied_file_read_by_fingerprint_fails_unless_it_may_be_empty(
    tmp_path, may_be_empty
):
    path = tmp_path / "customers.csv"
    path.write_text("id,name\nC-1,Shop\nC-2,Store\n", encoding="utf-8")
    conn = connector(tmp_path, streams={"customers": {"may_be_empty": may_be_empty}})
    position = (await read(conn, "customers"))[-1].position
    path.write_text("id,name\n", encoding="utf-8")
    again = ReadRequest(after=position)
    if may_be_empty:
        assert records(await read(conn, "customers", again)) == []
    else:
        with pytest.raises(FatalRemoteError, match="has no rows now, but had 2"):
            await read(conn, "customers", again)


async def test_pages_are_bounded(tmp_path):
    (tmp_path / "rows.csv").write_text(
        "id\n" + "".join(f"{n}\n" for n in range(25)), encoding="utf-8"
    )
    pages = await read(connector(tmp_path, page_size=10), "rows")
    assert [len(p.records) for p in pages] == [10, 10, 5]
    assert [p.position is None for p in pages] == [True, True, False]


async def test_upsert_writes_keyed_rows_and_rerunning_changes_nothing(tmp_path):
    conn = connector(tmp_path, streams={"invoices": {"key": "number"}})
    ops = [
        WriteOp("create", {"number": "INV-1", "customer": "C-1", "total": "5.000"}, ref="a"),
        WriteOp(
            "create",
            {"number": "INV-2", "customer": "C-2", "total": "7.500", "notes": None},
            ref="b",
        ),
    ]
    results = await conn.write("invoices", ops)
    assert [(r.outcome, r.native_id) for r in results] == [
        ("created", "INV-1"),
        ("created", "INV-2"),
    ]
    path = tmp_path / "invoices.csv"
    await conn.flush("invoices")
    content = path.read_bytes()
    assert content.startswith(b"\xef\xbb\xbfnumber,customer,total,notes\r\n")  # Excel-friendly
    again = await conn.write("invoices", ops)
    assert [r.outcome for r in again] == ["updated", "updated"]
    await conn.flush("invoices")
    assert path.read_bytes() == content

    await conn.write(
        "invoices",
        [
            WriteOp("update", {"number": "INV-1", "total": "6.000"}, ref="a", native_id="INV-1"),
            WriteOp("delete", {}, ref="b", native_id="INV-2"),
            WriteOp(
                "create",
                {"number": "INV-3", "customer": "C-3", "total": "1", "currency": "JOD"},
                ref="c",
            ),
        ],
    )
    rows = records(await read(conn, "invoices"))
    assert rows == [
        # An empty cell reads back as a null: CSV has no other way to write one.
        {"number": "INV-1", "customer": "C-1", "total": "6.000", "notes": None, "currency": None},
        {"number": "INV-3", "customer": "C-3", "total": "1", "notes": None, "currency": "JOD"},
    ]
    assert not list(tmp_path.glob(".*.tmp"))


async def test_a_record_without_its_key_fails_alone(tmp_path):
    conn = connector(tmp_path, streams={"invoices": {"key": "number"}})
    results = await conn.write(
        "invoices",
        [
            WriteOp("create", {"total": "1"}, ref="x"),
            WriteOp("create", {"number": "INV-9"}, ref="y"),
        ],
    )
    assert [r.outcome for r in results] == ["failed", "created"]
    assert "has no 'number' value" in results[0].error.message


async def test_append_mode_is_a_ledger(tmp_path):
    conn = connector(tmp_path, streams={"payments": {"key": "number", "mode": "append"}})
    await conn.write("payments", [WriteOp("create", {"number": "P-1", "amount": "5"}, ref="a")])
    await conn.flush("payments")
    (tmp_path / "payments.csv").write_bytes(
        (tmp_path / "payments.csv").read_bytes().rstrip(b"\r\n")
    )
    await conn.write("payments", [WriteOp("create", {"number": "P-1", "amount": "5"}, ref="b")])
    assert [r["number"] for r in records(await read(conn, "payments"))] == ["P-1", "P-1"]
    with pytest.raises(Exception, match=r"column 'extra' is not in payments\.csv's header"):
        await conn.write("payments", [WriteOp("create", {"number": "P-2", "extra": "x"}, ref="c")])


async def test_updating_a_file_with_a_broken_row_is_refused_and_changes_nothing(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("id,name\nC-1,Ali\nC-2,Omar,extra\n", encoding="utf-8")
    before = path.read_bytes()
    conn = connector(tmp_path)
    with pytest.raises(
        Exception, match=r"customers.csv:3: cannot update the file: expected 2 columns"
    ):
        await conn.write("customers", [WriteOp("create", {"id": "C-3", "name": "Zain"}, ref="a")])
    assert path.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


async def test_lookup_and_get(tmp_path):
    (tmp_path / "customers.csv").write_text("id,name\nC-1,Ali\nC-2,Omar\n", encoding="utf-8")
    conn = connector(tmp_path)
    assert (await conn.get("customers", "C-2"))["name"] == "Omar"
    assert await conn.get("customers", "C-9") is None
    assert [r["id"] for r in await conn.lookup("customers", "name", ["Ali"])] == ["C-1"]


async def test_check(tmp_path):
    assert (await connector(tmp_path).check()).ok
    missing = await connector(tmp_path / "nope").check()
    assert not missing.ok and "does not exist" in missing.message


def test_reads_do_not_block_the_event_loop(tmp_path):
    (tmp_path / "rows.csv").write_text(
        "id\n" + "".join(f"{n}\n" for n in range(20_000)), encoding="utf-8"
    )
    ticks = 0

    async def main() -> int:
        nonlocal ticks
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        count = sum(
            [
                len(p.records)
                async for p in connector(tmp_path, page_size=1000).read("rows", ReadRequest())
            ]
        )
        stop.set()
        await task
        return count

    assert asyncio.run(main()) == 20_000
    assert ticks > 20  # the loop kept turning while pages were parsed


async def test_an_unparseable_number_names_the_file_line_and_column(tmp_path):
    from connectors.csv import CsvSettings as Settings
    from syncer.mapping.catalog import SHIPPED_DIR, load_mapping
    from syncer.mapping.errors import MappingError
    from syncer.mapping.mapping import MappingContext

    (tmp_path / "customers.csv").write_text(
        "code,name,credit_limit\nC-1,Ali,1500.5\nC-2,Omar,lots\n", encoding="utf-8"
    )
    conn = connector(tmp_path, streams={"customers": {"key": "code"}})
    mapping = load_mapping(SHIPPED_DIR / "csv" / "customers.yaml", Settings.model_fields)
    [page] = await read(conn, "customers")
    assert mapping.read(page.records[0], MappingContext()).values["credit_limit"] == 1500.5
    with pytest.raises(MappingError) as caught:
        mapping.read(page.records[1], MappingContext())
    assert caught.value.record_key == "C-2 (customers.csv:3)"
    assert caught.value.field == "credit_limit"
    assert "expected a number, got 'lots'" in caught.value.message


def test_an_unknown_time_zone_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"expected an IANA time zone .* got 'Mars/Olympus'"):
        CsvSettings.model_validate(
            {"path": tmp_path, "streams": {"customers": {"timezone": "Mars/Olympus"}}}
        )
