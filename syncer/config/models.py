"""The shape of ``syncer.yaml``, as pydantic models that reject unknown keys.

Each connector type brings its own settings model (a subclass of :class:`ConnectorSettings`);
the loader picks it by the connector's ``type``. Later features add keys to these models; an
unknown key is always an error, so a typo never silently does nothing.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from pydantic import (
    AnyHttpUrl,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from syncer.config import state_url
from syncer.config.types import DeleteLimit, Duration, MaxDelete, TimeZoneName

Name = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"),
]
"""Names of connectors and flows: used on the command line and in the state store."""


class StrictModel(BaseModel):
    """Base for every configuration shape: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StateConfig(StrictModel):
    url: str = Field(default="sqlite:///syncer.db", repr=False)
    """SQLAlchemy URL of the state store. ``repr=False``: it may hold a database password."""

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        state_url.check(state_url.parse(value))
        return value


class LoggingConfig(StrictModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"
    """``auto``: human-readable on a terminal, one JSON object per line otherwise."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class DaemonConfig(StrictModel):
    host: str = "127.0.0.1"
    """Address of the health and metrics endpoint; loopback unless you mean to expose it."""
    port: int = Field(default=8787, ge=1, le=65535)


class HttpConnectorSettings(StrictModel):
    """Settings every HTTP-based connector shares (Repzo, the ERP stub, future ERPs)."""

    base_url: AnyHttpUrl
    timeout: Duration = timedelta(seconds=60)
    """Per-request timeout (connect, read and write each)."""
    max_retry_wait: Duration = timedelta(minutes=10)
    """Total time a flow run may spend waiting to retry requests to this system, all its calls
    together, before it stops cleanly (outside a run, such as a check: each call's limit)."""
    max_connect_wait: Duration = timedelta(seconds=30)
    """How long the system may stay unreachable (connection refused, unknown host, connect
    timeout) before the run gives up; any answer from the system starts the count again."""
    write_concurrency: int = Field(default=8, ge=1, le=64)
    """Writes in flight at once (most APIs have no bulk endpoint: one request per record)."""

    @field_validator("max_connect_wait")
    @classmethod
    def _some_time_to_connect(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("expected a duration above zero, such as 30s")
        return value

    def write_limit(self) -> int:
        return self.write_concurrency

    def transport_notes(self) -> list[str]:
        """What ``syncer check`` should say about how the system is reached: credentials sent
        in clear over the network."""
        url = self.base_url
        if url.scheme == "http" and not is_loopback(url.host or ""):
            return [
                f"base_url {url.scheme}://{url.host} is plain http to another machine: the "
                "credentials and the data travel unencrypted; use https"
            ]
        return []


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class StreamConflict:
    """A stream setting of a connector that its mapping contradicts."""

    setting: str
    """The key under ``connectors.<name>.streams.<stream>``."""
    value: str
    mapping_key: str
    """The key of the mapping file that says otherwise."""
    mapping_value: str


class ConnectorSettings(StrictModel):
    """Base of every connector type's settings. ``type`` picks the connector implementation.

    A connector type whose streams are laid out by its settings (a CSV file's key column) may
    define ``adopt_mapping(stream, *, key, cursor) -> (settings, [StreamConflict])``: the
    loader calls it for every stream a flow maps, so the mapping fills what the settings leave
    open and a contradiction is reported with both places."""

    type: str

    def write_limit(self) -> int:
        """Writes in flight at once to this system: one, unless its settings say otherwise."""
        return 1

    def notes(self) -> list[str]:
        """Things worth telling whoever runs ``syncer check`` about these settings."""
        return []


class StreamRef(StrictModel):
    connector: Name
    stream: str = Field(min_length=1)
    mapping: Path | None = None
    """Mapping file for this side of the flow; by default ``<connector type>/<stream>.yaml``
    is looked up in the ``mappings`` directories, then in the shipped ones."""


class Schedule(StrictModel):
    """When the daemon runs a flow: ``{every: 5m}`` or ``{cron: "*/10 * * * *"}``."""

    every: Duration | None = None
    cron: str | None = None
    timezone: TimeZoneName = "UTC"
    """Time zone the cron expression is read in (IANA name, e.g. Asia/Amman)."""

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(seconds=1):
            raise ValueError("expected an interval of at least 1s")
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(
                f"expected a 5-field cron expression such as '*/10 * * * *' ({exc})"
            ) from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError(
                "expected exactly one of 'every' (e.g. 5m) or 'cron' (e.g. '*/10 * * * *')"
            )
        return self


FlowMode = Literal["upsert", "create_only", "mirror"]


class CursorSettings(StrictModel):
    """How a flow's incremental reads frame their window (invariant 2)."""

    safety_margin: Duration = timedelta(seconds=5)
    """A scan reads up to the source's clock minus this, so rows still being committed when the
    scan starts are left for the next scan rather than skipped."""
    lookback: Duration = timedelta(0)
    """Extra time re-read before the stored watermark (for sources whose clocks or commits
    lag); re-read records are recognised and cost no writes. Applied to the query only."""


class ConflictSettings(StrictModel):
    """What decides when both sides of a two-way pair changed the same field (invariant 4)."""

    policy: Literal["ownership", "prefer", "newest"] = "ownership"
    """``ownership``: each field in ``owners`` has one system of record, other fields in conflict
    go to the review list; ``prefer``: the ``prefer`` side wins; ``newest``: the side changed
    last wins, unless the two changes are within ``clock_skew`` of each other (review list)."""
    owners: dict[str, Name] = Field(default_factory=dict)
    """Canonical field -> the connector that owns it."""
    prefer: Name | None = None
    clock_skew: Duration = timedelta(minutes=2)

    @model_validator(mode="after")
    def _prefer_needs_a_side(self) -> ConflictSettings:
        if self.policy == "prefer" and self.prefer is None:
            raise ValueError("policy 'prefer' needs prefer: <connector name>")
        return self


class MirrorSettings(StrictModel):
    """Safety limits of ``mode: mirror`` (invariant 11)."""

    max_delete: MaxDelete = DeleteLimit(share=0.1)
    """The most one run may disable, as a share of the target records this flow linked
    (``10%``) or a count (``50``). A listing that would disable more stops without disabling
    anything, because a source that suddenly lacks many records is more often broken than
    emptied; ``syncer sync FLOW --allow-mass-delete`` lets one run through."""


FILTER_NAMES = frozenset({"record"})
"""What a flow's ``filter`` expression sees: the native source record."""


class FlowConfig(StrictModel):
    name: Name
    source: StreamRef
    target: StreamRef
    schedule: Schedule | None = None
    """Without a schedule the flow only runs when asked (``syncer sync NAME``)."""
    mode: FlowMode = "upsert"
    """``upsert`` creates and updates; ``create_only`` never updates what exists (documents);
    ``mirror`` also disables target records that disappeared from a complete source listing."""
    enabled: bool = True
    cursor: CursorSettings = CursorSettings()
    conflict: ConflictSettings | None = None
    """For one flow of a two-way pair (either one); ownership with no owners by default."""
    batch_size: int = Field(default=1000, ge=1, le=10_000)
    """Records mapped, written and committed together, at most: pages are gathered until they
    hold this many records (a larger page is handled in several batches). The source
    connector's ``page_size`` sets how many records one read request asks for."""
    batch_wait: Duration = timedelta(seconds=5)
    """How long records read wait for more to fill their batch: a slow source still has its
    records written and committed at least this often."""
    write_back: bool | None = None
    """Whether the target's key of a record syncer created there is written back to the source
    (Repzo: ``integration_meta`` through update-integration-meta). None: the rule in the README
    (yes for one half of a two-way pair and for a target that assigns its own ids, such as an
    ERP; never for a file export)."""
    mirror: MirrorSettings = MirrorSettings()
    filter: str | None = None
    """An expression over the native source record (``record``), in the mappings' expression
    language: only records for which it is true go through this flow; the others are counted
    as skipped and left alone (never linked, written or disabled). One source stream can so
    feed several flows: ``'len(record["return_items"] or []) > 0'``."""
    reference_wait: Duration = timedelta(days=1)
    """How long a record waits for a record it refers to (the invoice's warehouse) to be
    synced. Meanwhile it is retried soon and often; after that, its dead letter says it gave
    up waiting and which flow would sync the missing record, and it is retried rarely."""
    stall_timeout: Duration = timedelta(minutes=15)
    """A run that makes no progress (no answer from any system, no committed batch) for this
    long stops renewing its lease, so another process can take the flow over."""

    @field_validator("filter")
    @classmethod
    def _filter_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from syncer.mapping.expressions import Expression, ExpressionError

        try:
            Expression(value, FILTER_NAMES)
        except ExpressionError as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _sides_named(self) -> FlowConfig:
        if self.conflict is None:
            return self
        sides = {self.source.connector, self.target.connector}
        named = set(self.conflict.owners.values()) | (
            {self.conflict.prefer} if self.conflict.prefer else set()
        )
        strangers = sorted(named - sides)
        if strangers:
            raise ValueError(
                f"conflict settings name {', '.join(map(repr, strangers))}; expected one of the "
                f"flow's connectors: {', '.join(sorted(sides))}"
            )
        return self


class SyncerConfig(StrictModel):
    """The whole configuration file."""

    state: StateConfig = StateConfig()
    connectors: dict[Name, ConnectorSettings] = Field(default_factory=dict)
    mappings: list[Path] = Field(default_factory=list)
    """Directories searched for mapping files before the shipped ones (relative paths are
    relative to the configuration file)."""
    flows: list[FlowConfig] = Field(default_factory=list)
    logging: LoggingConfig = LoggingConfig()
    daemon: DaemonConfig = DaemonConfig()

    _source: str | None = PrivateAttr(default=None)
    _bindings: Any = PrivateAttr(default=None)
    """The flows' compiled mappings as the loader checked them, with the flows and connectors
    they were compiled for: nothing compiles them a second time (see ``bind_flows``)."""
    _env_secrets: frozenset[str] = PrivateAttr(default=frozenset())
    """Values of environment variables named like secrets (``${PGPASSWORD}``) that the file
    used, wherever it used them: inside a URL they sit where no setting says they are secret."""

    @property
    def source(self) -> str | None:
        """The file this configuration was read from, if any."""
        return self._source

    def resolve(self, path: Path) -> Path:
        """A path from the configuration, made absolute relative to the file it came from."""
        if path.is_absolute() or self._source is None:
            return path
        return Path(self._source).resolve().parent / path

    def flow(self, name: str) -> FlowConfig:
        for flow in self.flows:
            if flow.name == name:
                return flow
        raise KeyError(name)


CREDENTIAL_PARAMETER = re.compile(
    r"^((ssl)?password|passwd|pwd|(client_)?secret|(access_|refresh_|auth_)?token|api[-_]?key)$",
    re.IGNORECASE,
)
"""URL query parameters that carry a credential (libpq's ``password`` and ``sslpassword``)."""


def secret_values(model: BaseModel) -> set[str]:
    """Every secret the configuration holds: SecretStr values, passwords and credential query
    parameters inside URLs, and environment variables named like secrets that it used.

    Loading a configuration registers these with the redactor that logs, the terminal and the
    state store share, so they are masked wherever they appear, whatever the key they travel
    under.
    """
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if secret:
                found.add(secret)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                visit(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)
        elif isinstance(value, str) and "://" in value:
            found.update(_url_secrets(value))
        elif isinstance(value, AnyUrl):
            if value.password:
                found.add(unquote(value.password))
            found.update(v for k, v in value.query_params() if CREDENTIAL_PARAMETER.match(k) and v)

    visit(model)
    if isinstance(model, SyncerConfig):
        found.update(model._env_secrets)
    return found


def _url_secrets(text: str) -> set[str]:
    try:
        url = state_url.parse(text)
    except ValueError:  # not a URL after all (a port that is not a number)
        return set()
    found = {url.password} if url.password else set()
    found.update(value for name, value in url.query if CREDENTIAL_PARAMETER.match(name) and value)
    return found
