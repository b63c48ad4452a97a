"""Hostile input to the CSV connector: file names and links that lead out of its folder, and
cell values a spreadsheet would run as formulas."""

from __future__ import annotations

import asyncio
import csv
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.csv import CsvConnector, CsvSettings, writer
from connectors.csv.formulas import DANGEROUS, escape, unescape
from connectors.csv.journal import journal_path
from connectors.csv.paths import file_name_problem
from syncer.cli import app
from syncer.config import load_config
from syncer.connector import LOCATION_FIELD, ReadRequest, WriteOp
from syncer.errors import ConfigError
from syncer.mapping.catalog import SHIPPED_DIR
from syncer.remote.errors import FatalRemoteError
from tests.csv.test_csv_mapping_round_trip import write_then_read
from tests.mapping.test_shipped_mappings import load, read_back

pytestmark = pytest.mark.anyio

SECRET = "root:x:0:0:do not touch\n"


def connector(folder: Path, **settings) -> CsvConnector:
    return CsvConnector("drop", CsvSettings.model_validate({"path": folder, **settings}))


async def read_all(conn: CsvConnector, stream: str) -> list[dict]:
    pages = [page async for page in conn.read(stream, ReadRequest())]
    assert not [r for p in pages for r in p.rejected]
    return [{k: v for k, v in r.items() if k != LOCATION_FIELD} for p in pages for r in p.records]


def creates(*records: dict) -> list[WriteOp]:
    return [WriteOp("create", record, ref=str(n)) for n, record in enumerate(records)]


def cells(path: Path) -> list[list[str]]:
    """The file's cells as any CSV reader (a spreadsheet's import) sees them."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the connector's, with a file nothing may read or write."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "passwd.csv").write_text(SECRET, encoding="utf-8")
    return folder


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


# -- file names in the configuration -----------------------------------------------------------

OUTSIDE_NAMES = [
    ("parent", "../outside/x.csv", "got a name with '..', which leads out of the folder"),
    ("absolute", "/etc/passwd", "got an absolute path"),
    ("parent glob", "../*.csv", "got a name with '..'"),
    ("down and up", "sub/../../x.csv", "got a name with '..'"),
    ("down and up through a link", "sub/../x.csv", "got a name with '..'"),
    ("windows parent", "..\\\\x.csv", "got a name with '..'"),
    ("windows drive", "C:\\\\exports\\\\x.csv", "got an absolute path"),
    ("windows share", "\\\\\\\\server\\\\share\\\\x.csv", "got an absolute path"),
    ("empty", "", "got an empty name"),
    ("the folder itself", ".", "got the name of a folder"),
]


@pytest.mark.parametrize(
    ("name", "fragment"), [c[1:] for c in OUTSIDE_NAMES], ids=[c[0] for c in OUTSIDE_NAMES]
)
def test_a_file_outside_the_folder_is_a_configuration_error(
    runner, write_config, tmp_path, drop, name, fragment
):
    state = tmp_path / "state.db"
    path = write_config(
        f"""
        state: {{url: "sqlite:///{state}"}}
        connectors:
          drop:
            type: csv
            path: ./drop
            streams:
              customers:
                file: "{name}"
                key: code
        flows: []
        """
    )
    result = runner.invoke(app, ["check", "--offline", "--config", str(path)])
    assert result.exit_code == 2, result.output
    expected = (
        f"{path}:8: connectors.drop.streams.customers.file: expected a file name inside the "
        "connector's folder (`path`), such as customers.csv or invoices_*.csv, "
    )
    assert expected in result.stderr, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert not state.exists()
    assert list(drop.iterdir()) == []


def test_a_file_name_from_the_environment_is_not_quoted_back(write_config, monkeypatch, drop):
    monkeypatch.setenv("SYNCER_TEST_CSV_FILE", "/srv/secret-share/token-1234.csv")
    path = write_config(
        """
        connectors:
          drop: {type: csv, path: ./drop, streams: {customers: {file: "${SYNCER_TEST_CSV_FILE}"}}}
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [issue] = caught.value.issues
    assert issue.path == "connectors.drop.streams.customers.file"
    assert "absolute path" in issue.message and "token-1234" not in issue.message


def test_a_stream_named_out_of_the_folder_needs_a_file(write_config, drop):
    path = write_config(
        """
        connectors:
          drop:
            type: csv
            path: ./drop
            streams:
              ../customers: {key: code}
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [issue] = caught.value.issues
    assert issue.path == "connectors.drop.streams"
    assert "stream '../customers' has no `file`, so its file would be ../customers.csv" in (
        issue.message
    )


@pytest.mark.parametrize(
    "name", ["customers.csv", "invoices_*.csv", "./customers.csv", "in/customers.csv", "a..b.csv"]
)
def test_names_inside_the_folder_are_accepted(name):
    assert file_name_problem(name) is None


# -- links out of the folder -----------------------------------------------------------------


async def test_a_link_to_a_file_outside_is_neither_read_nor_written(drop, outside):
    (drop / "customers.csv").symlink_to(outside / "passwd.csv")
    conn = connector(drop)
    for attempt in (
        read_all(conn, "customers"),
        conn.lookup("customers", "id", ["root"]),
        conn.write("customers", creates({"id": "C-1", "name": "=1+1"})),
    ):
        with pytest.raises(FatalRemoteError) as caught:
            await attempt
        assert str(caught.value).startswith(
            f"customers.csv is a symbolic link to {outside / 'passwd.csv'}, outside the folder "
            f"{drop}; syncer reads and writes only files inside the connector's folder"
        ), str(caught.value)
    await conn.aclose()
    assert (outside / "passwd.csv").read_text(encoding="utf-8") == SECRET
    assert sorted(p.name for p in drop.iterdir()) == ["customers.csv"]  # no journal, no temp


async def test_a_glob_that_matches_a_link_outside_is_refused(drop, outside):
    (drop / "invoices_1.csv").write_text("number\nINV-1\n", encoding="utf-8")
    (drop / "invoices_2.csv").symlink_to(outside / "passwd.csv")
    conn = connector(drop, streams={"invoices": {"file": "invoices_*.csv", "key": "number"}})
    with pytest.raises(FatalRemoteError, match=r"invoices_2\.csv is a symbolic link to"):
        await read_all(conn, "invoices")


async def test_a_linked_subfolder_outside_is_refused(drop, outside):
    (drop / "in").symlink_to(outside, target_is_directory=True)
    conn = connector(drop, streams={"customers": {"file": "in/passwd.csv"}})
    message = re.escape(
        f"in/passwd.csv is in in, which is a symbolic link to {outside}, outside the folder {drop};"
    )
    with pytest.raises(FatalRemoteError, match=message):
        await read_all(conn, "customers")
    with pytest.raises(FatalRemoteError, match=message):
        await conn.write("customers", creates({"id": "C-1"}))
    assert sorted(p.name for p in outside.iterdir()) == ["passwd.csv"]


async def test_a_journal_linked_outside_is_not_written_through(drop, outside):
    journal_path(drop / "customers.csv").symlink_to(outside / "passwd.csv")
    conn = connector(drop)
    with pytest.raises(FatalRemoteError, match=r"\.customers\.csv\.journal is a symbolic link"):
        await conn.write("customers", creates({"id": "C-1"}))
    assert (outside / "passwd.csv").read_text(encoding="utf-8") == SECRET
    assert not (drop / "customers.csv").exists()


def test_a_rewrite_never_writes_through_a_link_at_its_temporary_name(drop, outside, monkeypatch):
    # A link planted at the temporary file's name after the cleanup of leftovers (a race).
    monkeypatch.setattr(writer, "remove_leftovers", lambda path: None)
    monkeypatch.setattr(writer.uuid, "uuid4", lambda: SimpleNamespace(hex="guessed"))
    (drop / ".customers.csv.guessed.tmp").symlink_to(outside / "passwd.csv")
    with pytest.raises(FileExistsError):
        writer.upsert(
            drop / "customers.csv",
            [writer.Change("C-1", {"id": "C-1"})],
            key="id",
            encoding="utf-8",
            delimiter=",",
        )
    assert (outside / "passwd.csv").read_text(encoding="utf-8") == SECRET
    assert not (drop / "customers.csv").exists()


async def test_a_stream_name_that_leads_out_is_refused_when_used(drop, outside):
    # A flow's stream names a file too (`<stream>.csv`); it is checked where it is used.
    conn = connector(drop)
    with pytest.raises(FatalRemoteError, match=r"\.\./outside/passwd\.csv leads to .*outside"):
        await read_all(conn, "../outside/passwd")
    with pytest.raises(FatalRemoteError, match="leads to"):
        await conn.write("../outside/new", creates({"id": "C-1"}))
    assert sorted(p.name for p in outside.iterdir()) == ["passwd.csv"]


async def test_a_link_loop_is_refused_by_name(drop):
    (drop / "customers.csv").symlink_to("loop.csv")
    (drop / "loop.csv").symlink_to("customers.csv")
    with pytest.raises(FatalRemoteError, match=r"^customers\.csv cannot be followed to a file"):
        await read_all(connector(drop), "customers")


async def test_links_that_stay_inside_are_followed(drop):
    (drop / "archive").mkdir()
    (drop / "archive" / "customers-2026.csv").write_text("id,name\nC-1,Ali\n", encoding="utf-8")
    (drop / "customers.csv").symlink_to(Path("archive") / "customers-2026.csv")
    assert await read_all(connector(drop), "customers") == [{"id": "C-1", "name": "Ali"}]


def test_a_sync_into_a_link_outside_exits_3_and_names_it(runner, write_config, tmp_path, outside):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "in" / "customers.csv").write_text(
        "code,name,updated_at\nC-1,Ali,2026-11-29T10:00:00Z\n", encoding="utf-8"
    )
    (tmp_path / "out" / "customers.csv").symlink_to(outside / "passwd.csv")
    path = write_config(
        f"""
        state: {{url: "sqlite:///{tmp_path / "state.db"}"}}
        connectors:
          drop: {{type: csv, path: ./in}}
          out: {{type: csv, path: ./out}}
        flows:
          - name: copy
            source: {{connector: drop, stream: customers}}
            target: {{connector: out, stream: customers}}
        """
    )
    assert runner.invoke(app, ["db", "upgrade", "-c", str(path)]).exit_code == 0
    result = runner.invoke(app, ["sync", "copy", "-c", str(path)])
    assert result.exit_code == 3, result.output
    assert "customers.csv is a symbolic link to" in result.stderr
    assert "Traceback" not in result.output
    assert (outside / "passwd.csv").read_text(encoding="utf-8") == SECRET


# -- formulas ----------------------------------------------------------------------------------

# (value, the cell it is written as)
CELLS = [
    ('=HYPERLINK("http://evil.example","Click")', '\'=HYPERLINK("http://evil.example","Click")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+9)*cmd|' /C calc'!A0", "'@SUM(1+9)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-", "'-"),
    ("'=1+1", "''=1+1"),  # a user's own quote before a formula: one more, so it reads back
    ("''@x", "'''@x"),
    ("'hello", "'hello"),  # a quote before anything else is the user's, left alone
    ("'", "'"),
    ("''", "''"),
    ("-12.5", "-12.5"),  # plain numbers run nothing, and stay numbers in a spreadsheet
    ("+3", "+3"),
    ("-1e-05", "-1e-05"),
    ("-12,5", "-12,5"),
    ("-.5", "-.5"),
    ("-12.5.1", "'-12.5.1"),
    ("-1+2", "'-1+2"),
    ("-inf", "'-inf"),
    ("-١٢", "'-١٢"),  # not ASCII digits: not a plain number
    ("Shop = good", "Shop = good"),
    ("", ""),
]


@pytest.mark.parametrize(("value", "written"), CELLS, ids=[repr(c[0]) for c in CELLS])
def test_the_rule(value, written):
    assert escape(value) == written
    assert unescape(written) == value


@given(st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "1", ".", "a"])))
def test_what_is_written_reads_back_exactly(text):
    assert unescape(escape(text)) == text


PLAIN_NUMBER = r"[+-][0-9.,eE+-]*"


@given(st.text())
def test_no_written_cell_starts_a_formula(text):
    # What may still start with one of those characters is a plain number, nothing else.
    written = escape(text)
    assert written[:1] not in DANGEROUS or re.fullmatch(PLAIN_NUMBER, written)


HOSTILE = {value for value, _ in CELLS if value}


async def test_hostile_values_are_written_inert_and_read_back_as_they_were(drop):
    conn = connector(drop)
    records = [{"id": f"C-{n}", "name": value} for n, value in enumerate(sorted(HOSTILE))]
    await conn.write("customers", creates(*records))
    await conn.flush("customers")
    written = dict(CELLS)
    assert cells(drop / "customers.csv")[1:] == [
        [record["id"], written[record["name"]]] for record in records
    ]
    assert await read_all(conn, "customers") == [
        {"id": record["id"], "name": record["name"] or None} for record in records
    ]
    await conn.aclose()


async def found(conn: CsvConnector, key: str) -> list[dict]:
    rows = await conn.lookup("ledger", "ref", [key])
    return [{k: v for k, v in r.items() if k != LOCATION_FIELD} for r in rows]


@pytest.mark.parametrize("mode", ["upsert", "append"])
async def test_a_formula_key_is_one_row_however_often_it_is_written(drop, mode):
    conn = connector(drop, streams={"ledger": {"mode": mode, "key": "ref"}})
    row = {"ref": "=1+1", "amount": "-5"}
    first = await conn.write("ledger", creates(row))
    assert await found(conn, "=1+1") == [row]  # from the journal
    await conn.flush("ledger")
    assert cells(drop / "ledger.csv")[1:] == [["'=1+1", "-5"]]
    assert await found(conn, "=1+1") == [row]  # from the file
    assert await found(conn, "'=1+1") == []
    if mode == "upsert":
        again = await conn.write("ledger", creates({"ref": "=1+1", "amount": "-7"}))
        assert [r.outcome for r in first + again] == ["created", "updated"]
        await conn.write("ledger", [WriteOp("update", {"ref": "=1+1", "amount": "+cmd"}, ref="u")])
        await conn.flush("ledger")
        assert cells(drop / "ledger.csv")[1:] == [["'=1+1", "'+cmd"]]
        await conn.write("ledger", [WriteOp("delete", {"ref": "=1+1"}, ref="d")])
        await conn.flush("ledger")
        assert cells(drop / "ledger.csv")[1:] == []
    await conn.aclose()


async def test_rows_syncer_does_not_write_keep_their_text(drop):
    # Someone else's row, formula and all, is theirs: an upsert of another row copies it.
    (drop / "customers.csv").write_text("id,name\nC-1,=SUM(A1:A2)\nC-2,Omar\n", encoding="utf-8")
    conn = connector(drop)
    await conn.write("customers", [WriteOp("update", {"id": "C-2", "name": "@Omar"}, ref="0")])
    await conn.flush("customers")
    assert cells(drop / "customers.csv") == [
        ["id", "name"],
        ["C-1", "=SUM(A1:A2)"],
        ["C-2", "'@Omar"],
    ]
    await conn.aclose()


@pytest.mark.parametrize(
    ("connector_setting", "stream_setting", "escaped"),
    [(None, None, True), (False, None, False), (False, True, True), (True, False, False)],
)
async def test_the_switch(drop, connector_setting, stream_setting, escaped):
    settings: dict = {"streams": {"customers": {}}}
    if connector_setting is not None:
        settings["escape_formulas"] = connector_setting
    if stream_setting is not None:
        settings["streams"]["customers"]["escape_formulas"] = stream_setting
    conn = connector(drop, **settings)
    values = ["=1+1", "'=1+1", "-12.5"]
    rows = [{"id": f"C-{n}", "v": value} for n, value in enumerate(values)]
    await conn.write("customers", creates(*rows))
    await conn.flush("customers")
    shown = [row[1] for row in cells(drop / "customers.csv")[1:]]
    assert shown == ([escape(v) for v in values] if escaped else values)
    assert [r["v"] for r in await read_all(conn, "customers")] == values
    await conn.aclose()


def test_the_shipped_customers_mapping_reads_back_hostile_names(tmp_path):
    path = SHIPPED_DIR / "csv" / "customers.yaml"
    mapping = load(path)
    names = sorted(value for value in HOSTILE if value.strip())
    records = [
        {"code": f"=K{n}" if n % 2 else f"K-{n}", "name": name, "phone": "+962 6 555 0101"}
        for n, name in enumerate(names)
    ]
    read = asyncio.run(write_then_read(tmp_path, path, records))
    for values, native in zip(records, read, strict=True):
        back = read_back(mapping, native, values)
        assert {key: back[key] for key in values} == values
    written = [cell for row in cells(tmp_path / "customers.csv") for cell in row]
    assert "'+962 6 555 0101" in written
    assert all(re.fullmatch(PLAIN_NUMBER, cell) for cell in written if cell[:1] in DANGEROUS)
