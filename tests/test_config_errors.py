"""Every kind of configuration mistake: exit code 2, a message naming file, line, key path and
what was expected, and nothing touched (no state store created)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncer.cli import app
from syncer.config import load_config
from syncer.errors import ConfigError

BASE = """
state:
  url: sqlite:///STATE
connectors:
  repzo:
    type: repzo
    api_key: k-123456
  erp:
    type: erp_stub
    username: sync
    password: p-123456
flows:
  - name: customers
    source: {connector: erp, stream: customers}
    target: {connector: repzo, stream: client}
"""


def edit(old: str, new: str, base: str = BASE) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


def add(text: str, base: str = BASE) -> str:
    return base + text


# (id, file text, key path, fragment of the explanation). The line the message must name is
# the one marked with "#!" (no mark: the message names no line).
CASES = [
    ("unknown top-level key", add("flow: []  #!\n"), "flow", "did you mean 'flows'"),
    (
        "unknown connector key",
        edit("    api_key: k-123456", "    apikey: k-123456  #!"),
        "connectors.repzo.apikey",
        "unknown key (did you mean 'api_key'?)",
    ),
    (
        "wrong type",
        edit("    api_key: k-123456", "    api_key: k-123456\n    page_size: many  #!"),
        "connectors.repzo.page_size",
        "expected a valid integer, unable to parse string as an integer, got 'many'",
    ),
    (
        "missing environment variable",
        edit("k-123456", "${SYNCER_TEST_UNSET_KEY}  #!"),
        "connectors.repzo.api_key",
        "environment variable SYNCER_TEST_UNSET_KEY is not set",
    ),
    (
        "environment reference never closed",
        edit("k-123456", '"${SYNCER_TEST_KEY"  #!'),
        "connectors.repzo.api_key",
        "the environment reference to SYNCER_TEST_KEY is not closed with '}'",
    ),
    (
        "environment default in the shell's other syntax",
        edit("k-123456", '"${SYNCER_TEST_KEY:k-654321}"  #!'),
        "connectors.repzo.api_key",
        "a default is written ${SYNCER_TEST_KEY:-default} (with ':-')",
    ),
    (
        "environment reference without a name",
        edit("k-123456", '"${:-k-654321}"  #!'),
        "connectors.repzo.api_key",
        "an environment reference without a variable name",
    ),
    (
        "base_url of another scheme",
        edit(
            "    api_key: k-123456", "    api_key: k-123456\n    base_url: ftp://repo.example  #!"
        ),
        "connectors.repzo.base_url",
        "URL scheme should be 'http' or 'https'",
    ),
    (
        "bad interval",
        add("    schedule: {every: 5 minutes}  #!\n"),
        "flows[0].schedule.every",
        "expected a duration such as 30s",
    ),
    (
        "bad cron",
        add('    schedule: {cron: "every hour"}  #!\n'),
        "flows[0].schedule.cron",
        "expected a 5-field cron expression",
    ),
    (
        "both every and cron",
        add('    schedule: {every: 5m, cron: "* * * * *"}  #!\n'),
        "flows[0].schedule",
        "expected exactly one of 'every'",
    ),
    (
        "interval too short",
        add("    schedule: {every: 10ms}  #!\n"),
        "flows[0].schedule.every",
        "at least 1s",
    ),
    (
        "bad time zone",
        add('    schedule: {cron: "0 4 * * *", timezone: Mars/Olympus}  #!\n'),
        "flows[0].schedule.timezone",
        "expected an IANA time zone",
    ),
    (
        "duplicate flow name",
        add(
            "  - name: customers  #!\n"
            "    source: {connector: erp, stream: items}\n"
            "    target: {connector: repzo, stream: product}\n"
        ),
        "flows[1].name",
        "duplicate flow name 'customers' (first defined at line 12)",
    ),
    (
        "flow names an unknown connector",
        edit("{connector: erp, stream: customers}", "{connector: sap, stream: customers}  #!"),
        "flows[0].source.connector",
        "unknown connector 'sap'; expected one of: erp, repzo",
    ),
    (
        "source equals target",
        edit("{connector: repzo, stream: client}", "{connector: erp, stream: customers}  #!"),
        "flows[0].target",
        "expected a target different from the source",
    ),
    (
        "bad mode",
        add("    mode: upset  #!\n"),
        "flows[0].mode",
        "expected 'upsert', 'create_only' or 'mirror', got 'upset'",
    ),
    (
        "flow name with a space",
        edit("  - name: customers", "  - name: my customers  #!"),
        "flows[0].name",
        "expected a name of letters, digits",
    ),
    (
        "missing required key in a flow",
        edit("    target: {connector: repzo, stream: client}\n", "").replace(
            "  - name: customers", "  - name: customers  #!"
        ),
        "flows[0].target",
        "required key is missing",
    ),
    (
        "unknown connector type",
        edit("    type: erp_stub", "    type: sap_b1  #!"),
        "connectors.erp.type",
        "unknown connector type 'sap_b1'; expected one of: csv, erp_stub, repzo",
    ),
    (
        "connector without type",
        edit("  erp:\n    type: erp_stub\n", "  erp:  #!\n"),
        "connectors.erp",
        "missing key 'type'; expected one of: csv, erp_stub, repzo",
    ),
    (
        "missing required connector setting",
        edit("    password: p-123456\n", "").replace("  erp:", "  erp:  #!"),
        "connectors.erp.password",
        "required key is missing",
    ),
    (
        "connector name with a space",
        edit("  erp:", "  my erp:  #!"),
        "connectors.my erp",
        "expected a connector name",
    ),
    (
        "bad base URL",
        edit("    api_key: k-123456", "    api_key: k-123456\n    base_url: sv.api.repzo.me  #!"),
        "connectors.repzo.base_url",
        "expected a valid URL",
    ),
    (
        "unsupported state backend",
        edit("  url: sqlite:///STATE", "  url: mysql://u@h/db  #!"),
        "state.url",
        "expected a sqlite:// or postgresql:// URL",
    ),
    (
        "bad log format",
        add("logging:\n  format: xml  #!\n"),
        "logging.format",
        "expected 'auto', 'json' or 'console'",
    ),
    (
        "port out of range",
        add("daemon:\n  port: 70000  #!\n"),
        "daemon.port",
        "less than or equal to 65535",
    ),
    (
        "flows is not a list",
        BASE.split("flows:")[0] + "flows:  #!\n  name: x\n",
        "flows",
        "expected a list, got a mapping",
    ),
    (
        "YAML syntax error",
        add("logging: [\n  {level: INFO\ndaemon: {}  #!\n"),
        "",
        "YAML syntax error",
    ),
    (
        "duplicate YAML key",
        add("logging: {}\nlogging: {}  #!\n"),
        "",
        "duplicate key 'logging'",
    ),
    (
        "top level is a list",
        "- a  #!\n- b\n",
        "",
        "expected a mapping at the top level, got a list",
    ),
    ("empty file", "# nothing here  #!\n", "", "the file is empty"),
]


def marked_line(text: str) -> int | None:
    for number, line in enumerate(text.lstrip("\n").splitlines(), start=1):
        if "#!" in line:
            return number
    return None


def run_check(runner, path: Path):
    return runner.invoke(app, ["check", "--config", str(path)])


@pytest.mark.parametrize(
    ("text", "key_path", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_config_exits_2_with_location(
    runner, write_config, tmp_path, text, key_path, fragment, monkeypatch
):
    line = marked_line(text)
    monkeypatch.delenv("SYNCER_TEST_UNSET_KEY", raising=False)
    state = tmp_path / "state.db"
    path = write_config(text.replace("STATE", str(state)))

    result = run_check(runner, path)

    assert result.exit_code == 2, result.output
    where = f"{path}:{line}" if line is not None else str(path)
    expected = f"{where}: {key_path}: " if key_path else f"{where}: "
    message = result.stderr
    assert expected in message, message
    assert fragment in message, message
    assert "Traceback" not in message
    # Nothing is touched: even the command that creates the store refuses before opening it.
    upgrade = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
    assert upgrade.exit_code == 2
    assert not state.exists()


def test_missing_file(runner, tmp_path):
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, ["check", "--config", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: file not found" in result.stderr


def test_config_path_from_environment(runner, tmp_path, monkeypatch):
    missing = tmp_path / "from-env.yaml"
    monkeypatch.setenv("SYNCER_CONFIG", str(missing))
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2
    assert f"{missing}: file not found" in result.stderr


def test_every_problem_is_reported_in_one_pass(write_config, monkeypatch):
    monkeypatch.delenv("SYNCER_TEST_UNSET_KEY", raising=False)
    path = write_config(
        """
        state: {url: "oracle://x"}
        connectors:
          repzo: {type: repzo, api_key: "${SYNCER_TEST_UNSET_KEY}", timeout: soon}
          odd: {type: nope}
        flows:
          - {name: a, source: {connector: ghost, stream: s}, target: {connector: repzo, stream: c},
             mode: x}
          - {name: a, source: {connector: repzo, stream: c}, target: {connector: repzo, stream: c2}}
        logging: {level: loud}
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    paths = [issue.path for issue in caught.value.issues]
    assert paths == [
        "state.url",
        "connectors.repzo.api_key",
        "connectors.repzo.timeout",
        "connectors.odd.type",
        "flows[0].source.connector",
        "flows[0].mode",
        "flows[1].name",
        "logging.level",
    ]
    assert [issue.line for issue in caught.value.issues] == [1, 3, 3, 4, 6, 7, 8, 9]


def test_a_misspelled_choice_gets_a_suggestion(runner, write_config, tmp_path):
    path = write_config(add("    mode: upset\n").replace("STATE", str(tmp_path / "state.db")))
    result = run_check(runner, path)
    assert result.exit_code == 2
    assert (
        f"{path}:15: flows[0].mode: expected 'upsert', 'create_only' or 'mirror', got 'upset' "
        "(did you mean 'upsert'?)"
    ) in result.stderr
