"""YAML aliases are expanded within a budget: an alias bomb ("billion laughs") in a
configuration or a mapping file is refused at load with exit 2, naming the file and the line of
the alias, before anything is built; the anchors people write (``<<: *defaults``) still load."""

from __future__ import annotations

import itertools
from pathlib import Path

from syncer.cli import app
from syncer.config import load_config
from syncer.mapping.catalog import MappingCatalog
from syncer.yamlsource import MAX_ALIAS_EXPANSION, parse_yaml


def bomb(levels: int = 9, key: str = "") -> str:
    """Nine levels of nine aliases each: 9**9 (387 million) values from ~340 bytes."""
    names = "abcdefghijklmnop"[:levels]
    text = f'{key}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for previous, name in itertools.pairwise(names):
        text += f"{key}{name}: &{name} [{','.join(['*' + previous] * 9)}]\n"
    return text


def over_budget_line(text: str) -> int:
    """The 1-based line of the first alias that takes the expansion past the budget."""
    sizes: dict[str, int] = {}
    expanded = 0
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("&", 1)[1].split(" ", 1)[0]
        aliases = line.count("*")
        if not aliases:
            sizes[name] = line.count('"lol"') + 1
            continue
        previous = line.split("*", 1)[1].split(",", 1)[0].rstrip("]")
        for _ in range(aliases):
            expanded += sizes[previous]
            if expanded > MAX_ALIAS_EXPANSION:
                return number
        sizes[name] = aliases * sizes[previous] + 1
    raise AssertionError("no alias goes over the budget")


CONFIG = """
state: {url: "sqlite:///STATE"}
connectors:
  repzo: &repzo
    type: repzo
    api_key: k-123456
    timeout: 30s
    namespace: acme
  repzo2:
    <<: *repzo
    api_key: k-654321
  drop: {type: csv, path: ./exports, streams: {customers: {key: code}}}
flows:
  - &flow
    name: customers
    source: {connector: drop, stream: customers}
    target: {connector: repzo, stream: client}
  - <<: *flow
    name: customers-2
    target: {connector: repzo2, stream: client}
"""

MAPPING = """\
connector: csv
stream: customers
entity: customer
key: code
cursor: updated_at
fields:
  code: code
  name: &text {path: name}
  city: {<<: *text, path: city}
  credit_limit: &money {path: credit_limit, transform: decimal_string}
  active: {path: active, type: bool, default: true}
"""


def test_the_bomb_is_refused_at_the_line_of_the_alias_that_goes_over():
    text = bomb()
    assert len(text) < 400
    document = parse_yaml(text, "bomb.yaml", {})
    assert document.data is None
    [issue] = document.issues
    assert issue.file == "bomb.yaml"
    assert issue.line == over_budget_line(text) == 5
    assert "the alias *d" in issue.message and "alias bomb" in issue.message


def test_a_config_with_a_bomb_exits_2_naming_file_and_line(runner, write_config, tmp_path):
    state = tmp_path / "state.db"
    body = CONFIG.replace("STATE", str(state)).lstrip("\n") + bomb(key="x-")
    path = write_config(body)
    first = len(CONFIG.lstrip("\n").splitlines())
    line = first + over_budget_line(bomb(key="x-"))

    result = runner.invoke(app, ["check", "--offline", "--config", str(path)])

    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: the alias *" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not state.exists()


def test_a_mapping_file_with_a_bomb_exits_2_naming_file_and_line(runner, write_config, tmp_path):
    (tmp_path / "exports").mkdir()
    folder = tmp_path / "maps" / "csv"
    folder.mkdir(parents=True)
    mapping = folder / "customers.yaml"
    mapping.write_text(MAPPING + bomb(key="x-"), encoding="utf-8")
    line = len(MAPPING.splitlines()) + over_budget_line(bomb(key="x-"))
    path = write_config(
        CONFIG.replace("STATE", str(tmp_path / "state.db")) + "mappings: [./maps]\n"
    )

    result = runner.invoke(app, ["check", "--offline", "--config", str(path)])

    assert result.exit_code == 2, result.output
    assert f"{mapping}:{line}: the alias *" in result.stderr, result.stderr


def test_a_self_referencing_alias_and_deep_nesting_are_refused_not_crashed():
    assert parse_yaml("a: &a [1, *a]\n", "self.yaml", {}).data == {"a": [1, None]}
    deep = parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml", {})
    assert deep.data is None
    [issue] = deep.issues
    assert issue.line == 1 and "nested more than 100 levels deep" in issue.message


def test_a_config_with_merge_keys_loads_with_the_lines_of_the_values(write_config, tmp_path):
    (tmp_path / "exports").mkdir()
    path = write_config(CONFIG.replace("STATE", str(tmp_path / "state.db")))
    config = load_config(path)
    repzo, repzo2 = config.connectors["repzo"], config.connectors["repzo2"]
    assert getattr(repzo, "namespace", None) == getattr(repzo2, "namespace", None) == "acme"
    assert getattr(repzo2, "api_key", None) != getattr(repzo, "api_key", None)
    assert repzo.timeout.total_seconds() == repzo2.timeout.total_seconds() == 30
    assert [flow.name for flow in config.flows] == ["customers", "customers-2"]
    assert config.flow("customers-2").target.connector == "repzo2"
    assert config.flow("customers-2").source.stream == "customers"

    # A merged value that is wrong is reported where it is written: in the anchored block.
    broken = write_config(
        CONFIG.replace("STATE", str(tmp_path / "state.db")).replace("30s", "soon"), "bad.yaml"
    )
    try:
        load_config(broken)
    except Exception as error:  # noqa: BLE001 - the assertion names what was expected
        message = str(error)
    else:
        raise AssertionError("a bad timeout loaded")
    assert f"{broken}:6: connectors.repzo.timeout" in message, message


def test_a_mapping_file_with_anchors_loads(tmp_path: Path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "customers.yaml").write_text(MAPPING, encoding="utf-8")
    catalog = MappingCatalog([tmp_path])
    loaded = catalog.load(folder / "customers.yaml")
    assert loaded.issues == ()
    assert loaded.mapping is not None
    record = {"code": "C-1", "name": "Shop", "city": "Amman", "credit_limit": "10.5"}
    assert loaded.mapping.native_id(record) == "C-1"
