"""The ERP's semantics for every collection: list, get, create, update (merge patch) and
delete (deactivate), with documents immutable once posted and, unless ``dedupe_documents`` is
off, idempotent on ``number``.

Each write holds the store's transaction from its first read to its last write, so two clients
posting the same document number at once still get one document.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from sandboxes.erp.entities import KEY_SEPARATOR, EntitySpec
from sandboxes.erp.errors import ErpError, conflict, not_found, validation_failed
from sandboxes.erp.localtime import LocalTime
from sandboxes.erp.query import encode_cursor, parse_list_params
from sandboxes.erp.records import (
    Record,
    check_new_record,
    check_record,
    fill_from_references,
    json_object,
    merge_patch,
    with_defaults,
)
from sandboxes.erp.stats import StatsRecorder
from sandboxes.erp.store import RecordStore
from sandboxes.kit.clock import SandboxClock
from sandboxes.kit.replies import RawJson, Reply, dump_json

API_PREFIX = "/api/v1"
_STAMPS = ("created_at", "updated_at")


class ErpService:
    def __init__(
        self,
        store: RecordStore,
        clock: SandboxClock,
        times: LocalTime,
        stats: StatsRecorder,
        *,
        dedupe_documents: bool = True,
    ) -> None:
        self._store = store
        self._clock = clock
        self._times = times
        self._stats = stats
        self.dedupe_documents = dedupe_documents
        """A second POST of a document number returns the first document (True) or creates
        another one, as many ERPs do (False)."""

    def now_s(self) -> int:
        return self._clock.now_ms() // 1000

    # HTTP operations

    def list(self, spec: EntitySpec, query: Sequence[tuple[str, str]]) -> Reply:
        params = parse_list_params(query, self._times)
        # One extra row tells whether another page exists, so the last page says so itself.
        rows = self._store.page(
            spec.name,
            key_field=spec.key,
            since_s=params.since_s,
            after=params.after,
            filters=params.filters,
            limit=params.limit + 1,
        )
        more = len(rows) > params.limit
        rows = rows[: params.limit]
        cursor = encode_cursor(rows[-1].position, self._times) if more else None
        items = ",".join(row.body for row in rows)
        return Reply(200, RawJson(f'{{"items":[{items}],"next_cursor":{dump_json(cursor)}}}'))

    def get(self, spec: EntitySpec, key: str) -> Reply:
        return Reply(200, self._require(spec, key))

    def create(self, spec: EntitySpec, body: bytes) -> Reply:
        fields = json_object(body)
        with self._store.transaction():
            number = fields.get("number")
            if spec.document and self.dedupe_documents and isinstance(number, str) and number:
                existing = self._store.by_number(spec.name, number)
                if existing is not None:
                    # A client retrying a post whose answer it lost gets the original back.
                    self._stats.write(spec.name, "existing")
                    return Reply(200, existing, _location(spec, existing))
            record = self.insert(spec, fields, self.now_s())
        self._stats.write(spec.name, "created")
        return Reply(201, record, _location(spec, record))

    def update(self, spec: EntitySpec, key: str, body: bytes) -> Reply:
        patch = json_object(body)
        with self._store.transaction():
            current = self._require(spec, key)
            clean = check_record(spec, merge_patch(current, patch), self._store.exists)
            self._check_identity(spec, key, clean)
            if spec.document:
                _check_posted(spec, key, current, clean)
            record = self.save(spec, {spec.key: key, **clean, "created_at": current["created_at"]})
        self._stats.write(spec.name, "updated")
        return Reply(200, record)

    def delete(self, spec: EntitySpec, key: str) -> Reply:
        if spec.document:
            raise ErpError(
                405,
                "method_not_allowed",
                f"{spec.name.replace('_', ' ').capitalize()} are posted documents and cannot be "
                "deleted; PATCH their status to void instead.",
                headers={"Allow": "GET, PATCH"},
            )
        field, value = spec.inactive
        with self._store.transaction():
            record = self.save(spec, {**self._require(spec, key), field: value})
        self._stats.write(spec.name, "deactivated")
        return Reply(200, record)

    # Shared with seeding and mutations

    def insert(self, spec: EntitySpec, fields: Record, now_s: int | None = None) -> Record:
        """Check, key, stamp and store a new record, as a POST does (without the document
        idempotency, which is the caller's business). Raises ErpError 409/422."""
        now = self.now_s() if now_s is None else now_s
        with self._store.transaction():
            clean = check_new_record(spec, with_defaults(spec, fields), self._store.exists)
            key = self._new_key(spec, clean)
            clean = fill_from_references(spec, clean, self._store.get)
            stamp = self._times.format(now)
            record = {spec.key: key, **clean, "created_at": stamp, "updated_at": stamp}
            self._store.put(spec.name, key, now, record)
        return record

    def save(self, spec: EntitySpec, record: Record, now_s: int | None = None) -> Record:
        """Store a changed record with ``updated_at`` bumped to now: every accepted write moves
        the record to the end of the (updated_at, key) order, as an ERP's save does."""
        now = self.now_s() if now_s is None else now_s
        stamped = {**record, "updated_at": self._times.format(now)}
        self._store.put(spec.name, str(record[spec.key]), now, stamped)
        return stamped

    # Helpers

    def _require(self, spec: EntitySpec, key: str) -> Record:
        record = self._store.get(spec.name, key)
        if record is None:
            raise not_found(f"There is no {spec.singular} {key}.")
        return record

    def _new_key(self, spec: EntitySpec, clean: Record) -> str:
        if spec.keying == "generated":
            (number,) = self._store.next_numbers(spec.name)
            return spec.id_format.format(number)
        if spec.keying == "composite":
            key = KEY_SEPARATOR.join(str(clean[part]) for part in spec.key_parts)
        else:
            key = str(clean[spec.key])
        if self._store.exists(spec.name, key):
            raise conflict(f"The {spec.singular} {key} already exists; PATCH it instead.")
        return key

    def _check_identity(self, spec: EntitySpec, key: str, clean: Record) -> None:
        """The fields a key is made of cannot change: the record would become another one."""
        if spec.keying == "given" and clean[spec.key] != key:
            raise validation_failed(spec.singular, {spec.key: "cannot be changed; it is the key"})
        if spec.keying == "composite":
            parts = key.split(KEY_SEPARATOR)
            changed = {
                part: "cannot be changed; it is part of the id"
                for part, old in zip(spec.key_parts, parts, strict=True)
                if clean[part] != old
            }
            if changed:
                raise validation_failed(spec.singular, changed)


def _check_posted(spec: EntitySpec, key: str, current: Record, clean: Record) -> None:
    """A posted document keeps its content; only its status moves (paid, void...)."""
    fixed = {spec.key, *_STAMPS, "status"}
    names = (set(current) | set(clean)) - fixed
    changed = sorted(name for name in names if current.get(name) != clean.get(name))
    if changed:
        raise conflict(
            f"The {spec.singular} {key} is posted; only its status can change, and this request "
            f"changes {', '.join(changed)}."
        )


def _location(spec: EntitySpec, record: Record) -> dict[str, str]:
    return {"Location": f"{API_PREFIX}/{spec.name}/{quote(str(record[spec.key]), safe=':')}"}
