"""A minimal repzo-sync connector: each ``<stream>.jsonl`` file in a folder is a stream."""

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from syncer.config.models import ConnectorSettings
from syncer.connector import (
    CheckResult,
    Page,
    ReadRequest,
    Record,
    StreamInfo,
    WriteOp,
    WriteResult,
)


class JsonlSettings(ConnectorSettings):
    type: Literal["jsonl"] = "jsonl"
    path: Path
    """Folder of ``<stream>.jsonl`` files, one JSON object per line, keyed by ``id``."""


class JsonlConnector:
    type_name: ClassVar[str] = "jsonl"
    settings_model: ClassVar[type[JsonlSettings]] = JsonlSettings

    def __init__(self, name: str, settings: JsonlSettings) -> None:
        self.name = name
        self.folder = settings.path

    def streams(self) -> Mapping[str, StreamInfo]:
        return {
            p.stem: StreamInfo(p.stem, key="id", cursor="none", can_create=True, can_update=True)
            for p in self.folder.glob("*.jsonl")
        }

    async def check(self) -> CheckResult:
        ok = self.folder.is_dir()
        return CheckResult(ok, f"folder {self.folder} {'found' if ok else 'does not exist'}")

    async def server_time(self) -> datetime:
        return datetime.now(UTC)

    def _load(self, stream: str) -> dict[str, Record]:
        path = self.folder / f"{stream}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return {str(r["id"]): r for r in map(json.loads, filter(None, lines))}

    async def read(self, stream: str, request: ReadRequest) -> AsyncIterator[Page]:
        yield Page(list(self._load(stream).values()), None)

    async def get(self, stream: str, native_id: str) -> Record | None:
        return self._load(stream).get(native_id)

    async def lookup(self, stream: str, field: str, values: Sequence[str]) -> list[Record]:
        return [r for r in self._load(stream).values() if str(r.get(field)) in values]

    async def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        rows = self._load(stream)
        results = []
        for op in ops:
            key = str(op.record.get("id") or op.native_id)
            outcome: Literal["created", "updated"] = "updated" if key in rows else "created"
            rows[key] = {**rows.get(key, {}), **op.record, "id": key}
            results.append(WriteResult(op.ref, outcome, native_id=key, record=rows[key]))
        text = "".join(json.dumps(r, default=str) + "\n" for r in rows.values())
        temporary = self.folder / f".{stream}.jsonl.tmp"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.folder / f"{stream}.jsonl")  # readers never see half a file
        return results

    async def aclose(self) -> None:
        return None
