"""Load ``syncer.yaml``: parse, interpolate, validate, cross-check, and report every problem.

All problems found in one pass are raised together as a :class:`~syncer.errors.ConfigError`,
each naming the file, the line, the key path and what was expected. Values that may be secret
are never quoted back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from syncer import plugins
from syncer.config import state_url
from syncer.config.models import ConnectorSettings, SyncerConfig, secret_values
from syncer.errors import ConfigError, ConfigIssue
from syncer.logs import register_secrets
from syncer.validation import add_pydantic_issues, describe, unknown_name
from syncer.yamlsource import KeyPath, YamlDocument, load_yaml

DEFAULT_CONFIG_FILE = "syncer.yaml"
CONFIG_ENV_VAR = "SYNCER_CONFIG"

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


_SECRET_VARIABLE = re.compile(
    r"password|passwd|secret|token|credential|api_?key|(^|_)(pass|pwd|key)(_|$)",
    re.IGNORECASE,
)
"""Names of environment variables whose values are secrets wherever the file puts them
(``PGPASSWORD``, ``DB_PASS``, ``REPZO_API_KEY``, ``ERP_TOKEN``)."""


class _RecordingEnvironment(Mapping[str, str]):
    """The environment, remembering which variables the file read."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.used: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        value = self._env[name]
        self.used[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> SyncerConfig:
    """Read and validate a configuration file. Raises ConfigError listing every problem.

    The configuration's secrets are registered with the process-wide redactor: from here on
    they are masked in logs, on the terminal and in the state store."""
    environment = _RecordingEnvironment(os.environ if env is None else env)
    doc = load_yaml(Path(path), environment, display_name=str(path))
    config = validate_document(doc)
    env_secrets = frozenset(
        value for name, value in environment.used.items() if value and _SECRET_VARIABLE.search(name)
    )
    register_secrets(env_secrets)
    if doc.issues or config is None:
        raise ConfigError(sorted(doc.issues, key=lambda i: (i.line or 0, i.path)))
    config._env_secrets = env_secrets
    register_secrets(secret_values(config))
    return config


def validate_document(doc: YamlDocument) -> SyncerConfig | None:
    """Validate parsed YAML; problems are appended to ``doc.issues``."""
    if doc.issues and doc.data is None:
        return None
    if doc.data is None:
        doc.issues.append(
            doc.issue(
                (),
                "the file is empty; expected a mapping with keys such as "
                "state, connectors, flows, logging, daemon",
            )
        )
        return None
    if not isinstance(doc.data, dict):
        doc.issues.append(
            doc.issue((), f"expected a mapping at the top level, got {describe(doc.data)}")
        )
        return None

    connectors = _validate_connectors(doc, doc.data.get("connectors"))
    top = {key: value for key, value in doc.data.items() if key != "connectors"}
    try:
        config = SyncerConfig.model_validate(top)
    except ValidationError as exc:
        add_pydantic_issues(doc, exc, SyncerConfig, prefix=())
        config = None
    raw_connectors = doc.data.get("connectors")
    _cross_check(
        doc, doc.data.get("flows"), raw_connectors if isinstance(raw_connectors, dict) else ()
    )
    if doc.issues or config is None or connectors is None:
        return None
    config = _resolve_paths(config.model_copy(update={"connectors": connectors}), doc.file)
    # Imported here: the mapping layer builds on the configuration models.
    from syncer.mapping.binding import (
        bind_flows,
        check_template_settings,
        remember_bindings,
        settle_streams,
    )

    bindings = bind_flows(config, doc)
    config = settle_streams(config, bindings, doc)
    config._source = doc.file
    remember_bindings(config, bindings)
    check_template_settings(config, bindings, doc)
    return None if doc.issues else config


def _resolve_paths(config: SyncerConfig, source: str) -> SyncerConfig:
    """Relative paths in the file mean relative to the file, wherever syncer runs from (cron
    starts it in another folder): the state store's SQLite file and every path a connector
    setting holds (a CSV folder). Mapping paths are resolved where they are used."""
    config._source = source
    base = Path(source).resolve().parent
    url = state_url.parse(config.state.url)
    database = url.database
    state = config.state
    if (
        url.backend == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
        and not Path(database).is_absolute()
    ):
        resolved = url.with_database(str(base / database))
        state = state.model_copy(update={"url": resolved.render()})
    connectors = {
        name: settings.model_copy(
            update={
                field: base / value
                for field in type(settings).model_fields
                if isinstance(value := getattr(settings, field), Path) and not value.is_absolute()
            }
        )
        for name, settings in config.connectors.items()
    }
    resolved_config = config.model_copy(update={"state": state, "connectors": connectors})
    resolved_config._source = source
    return resolved_config


def _validate_connectors(doc: YamlDocument, raw: Any) -> dict[str, ConnectorSettings] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        doc.issues.append(
            doc.issue(
                ("connectors",),
                f"expected a mapping of connector names to settings, got {describe(raw)}",
            )
        )
        return None
    known = plugins.connector_types()
    result: dict[str, ConnectorSettings] = {}
    ok = True
    for name, block in raw.items():
        where: KeyPath = ("connectors", name)
        if not isinstance(name, str) or not _NAME_PATTERN.match(name):
            doc.issues.append(
                doc.issue(
                    where,
                    "expected a connector name of letters, digits, "
                    "'_', '.' or '-', starting with a letter or digit",
                )
            )
            ok = False
            continue
        if not isinstance(block, dict):
            doc.issues.append(
                doc.issue(where, f"expected a mapping with at least 'type', got {describe(block)}")
            )
            ok = False
            continue
        type_name = block.get("type")
        if type_name is None:
            doc.issues.append(
                doc.issue(where, f"missing key 'type'; expected one of: {', '.join(known)}")
            )
            ok = False
            continue
        if type_name not in known:
            doc.issues.append(
                doc.issue((*where, "type"), unknown_name("connector type", type_name, known))
            )
            ok = False
            continue
        model = known[type_name].settings_model
        try:
            result[name] = model.model_validate(block)
        except ValidationError as exc:
            add_pydantic_issues(doc, exc, model, prefix=where)
            ok = False
    return result if ok else None


def _cross_check(doc: YamlDocument, raw_flows: Any, connector_names: Iterable[str]) -> None:
    """Checks that span several keys. Works on the raw data so it runs even when other parts of
    the file failed validation: one pass reports everything."""
    if not isinstance(raw_flows, list):
        return
    names = sorted(connector_names)
    first_seen: dict[str, int] = {}
    for index, flow in enumerate(raw_flows):
        if not isinstance(flow, dict):
            continue
        path: KeyPath = ("flows", index)
        name = flow.get("name")
        if isinstance(name, str):
            if name in first_seen:
                first_line = doc.line_of(("flows", first_seen[name], "name"))
                doc.issues.append(
                    doc.issue(
                        (*path, "name"),
                        f"duplicate flow name {name!r} (first defined at line {first_line})",
                    )
                )
            else:
                first_seen[name] = index
        ends = {side: flow.get(side) for side in ("source", "target")}
        for side, ref in ends.items():
            connector = ref.get("connector") if isinstance(ref, dict) else None
            where: KeyPath = (*path, side, "connector")
            if isinstance(connector, str) and connector not in names and not doc.is_tainted(where):
                doc.issues.append(doc.issue(where, unknown_name("connector", connector, names)))
        source, target = ends["source"], ends["target"]
        if (
            isinstance(source, dict)
            and isinstance(target, dict)
            and (
                (source.get("connector"), source.get("stream"))
                == (target.get("connector"), target.get("stream"))
            )
        ):
            doc.issues.append(
                doc.issue(
                    (*path, "target"),
                    "expected a target different from the source (same connector and stream)",
                )
            )


def resolve_config_path(option: str | None) -> str:
    """``--config`` wins, then ``$SYNCER_CONFIG``, then ``syncer.yaml`` in the working directory."""
    return option or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_FILE


__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "ConfigIssue",
    "load_config",
    "resolve_config_path",
]
