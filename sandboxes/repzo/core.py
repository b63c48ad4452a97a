"""A sandbox without its HTTP server: the store, clock, faults and statistics, and the control
operations that the Python API and the admin endpoints both call."""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import SecretStr

from connectors.repzo.registry import Registry, Resource, load_registry
from sandboxes.kit.clock import SandboxClock, iso_ms
from sandboxes.kit.faults import (
    FaultInjector,
    FaultKind,
    FaultPlan,
    FaultSettings,
    ScriptedFault,
)
from sandboxes.repzo import seeding
from sandboxes.repzo.ids import ObjectIdFactory
from sandboxes.repzo.mutations import Among, PagingMutation, PagingMutator
from sandboxes.repzo.options import DEFAULT_API_KEY, SandboxOptions
from sandboxes.repzo.protocol import ApiError
from sandboxes.repzo.query import ListQuery
from sandboxes.repzo.routing import Router
from sandboxes.repzo.service import RepzoService
from sandboxes.repzo.stats import Stats, StatsRecorder
from sandboxes.repzo.store import Document, DocumentStore

# Seeding 200k documents in one list would hold them all in memory at once.
_SEED_CHUNK = 5_000


class SandboxCore:
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        namespace: Sequence[str] = ("demo",),
        db: str = ":memory:",
        registry: Registry | None = None,
        **options: Any,
    ) -> None:
        """``options`` are SandboxOptions fields (``lenient=True``, ``max_per_page=500``,
        ``unknown_params="ignore"``, ``updated_bounds="exclusive"``...)."""
        self._options = SandboxOptions(
            api_key=SecretStr(api_key), namespace=tuple(namespace), **options
        )
        self.registry = registry or load_registry()
        self.clock = SandboxClock()
        self.ids = ObjectIdFactory(self.clock.now_ms)
        self.store = DocumentStore(db)
        last_id = self.store.max_id()
        if last_id:
            self.ids.observe(last_id)
        self.faults = FaultInjector()
        self.mutator = PagingMutator()
        self.recorder = StatsRecorder()
        self.router = Router(self.registry)
        self.service = RepzoService(
            self.registry,
            self.store,
            self.clock,
            self.ids,
            self.recorder,
            self.mutator,
            lambda: self._options,
        )

    # Options

    @property
    def options(self) -> SandboxOptions:
        return self._options

    def set_options(self, **changes: Any) -> SandboxOptions:
        """Change options at run time, e.g. ``set_options(lenient=True)``; an option given
        ``None`` goes back to what the mode says."""
        merged = {**self._options.model_dump(), **changes}
        if isinstance(merged.get("api_key"), str):
            merged["api_key"] = SecretStr(merged["api_key"])
        self._options = SandboxOptions.model_validate(merged)
        return self._options

    admin_token: str | None = None
    """When set, admin requests (``/__sandbox/``) must carry it: anyone who can reach the
    server could otherwise reset, seed or fault it."""

    def admin_allowed(self, given: str | None) -> bool:
        if self.admin_token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.admin_token.encode())

    def key_matches(self, given: str | None) -> bool:
        expected = self._options.api_key.get_secret_value()
        return given is not None and hmac.compare_digest(given.encode(), expected.encode())

    # Data

    def resource(self, name: str) -> Resource:
        try:
            return self.registry.get(name)
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None

    def seed(self, resource: str, count: int, *, updated_at: int | None = None) -> list[str]:
        """Insert ``count`` generated documents; all get ``updatedAt`` = ``updated_at`` (ms
        epoch) if given, else the clock's now. Returns their ids, in order."""
        target = self.resource(resource)
        if count < 0:
            raise ApiError(400, "count must not be negative")
        stamp = iso_ms(self.clock.now_ms() if updated_at is None else updated_at)
        namespace = list(self._options.namespace)
        generated = seeding.generate(
            target,
            count,
            namespace=self._options.namespace,
            start=self.store.count(target.name) + 1,
        )
        ids = self.ids.new_many(count)
        id_iter = iter(ids)
        while chunk := list(itertools.islice(generated, _SEED_CHUNK)):
            self.store.save_many(
                target.name,
                (
                    {
                        "_id": next(id_iter),
                        **doc,
                        "company_namespace": namespace,
                        "createdAt": stamp,
                        "updatedAt": stamp,
                    }
                    for doc in chunk
                ),
            )
        return ids

    def insert(self, resource: str, docs: Iterable[Document]) -> list[str]:
        """Store documents as given, filling only ``_id``, timestamps, ``disabled`` and
        ``company_namespace`` where missing. No change events. Returns their ids."""
        target = self.resource(resource)
        stamped = [self.service.stamp_new(doc) for doc in docs]
        self.store.save_many(target.name, stamped)
        return [str(doc["_id"]) for doc in stamped]

    def get_document(self, resource: str, doc_id: str) -> Document | None:
        return self.store.get(self.resource(resource).name, doc_id)

    def documents(self, resource: str) -> list[Document]:
        """Every stored document of a resource, in _id order (for assertions)."""
        return self.store.find_docs(self.resource(resource).name, ListQuery())

    def touch(self, resource: str, ids: Sequence[str]) -> list[str]:
        """Bump ``updatedAt`` as an edit made in Repzo would; recorded as mutations."""
        return self.service.touch(self.resource(resource).name, list(ids))

    # Observability and faults

    def stats(self) -> Stats:
        return self.recorder.snapshot(self.store.counts())

    def reset_stats(self) -> None:
        self.recorder.reset()

    def set_faults(self, **settings: Any) -> FaultPlan:
        """Replace the random fault plan; see FaultSettings for the keywords
        (``rate_429=0.3, retry_after=1, seed=7``...)."""
        plan = FaultSettings.model_validate(settings).to_plan()
        self.faults.configure(plan)
        return plan

    def script_fault(
        self,
        kind: FaultKind,
        count: int = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        after: bool = False,
    ) -> None:
        """The next ``count`` requests matching method/path fail with ``kind``."""
        self.faults.add_script(
            ScriptedFault(
                kind=kind,
                count=count,
                method=method,
                path=path,
                status=status,
                retry_after=retry_after,
                after=after,
            )
        )

    def mutate_while_paging(
        self,
        resource: str,
        *,
        on_request: int = 2,
        count: int = 1,
        among: Among = "returned",
        seed: int = 0,
        ids: Sequence[str] = (),
        changes: Mapping[str, Any] | None = None,
        advance_ms: int = 0,
        late_ms: int = 0,
    ) -> None:
        """When list request number ``on_request`` for the resource arrives, bump ``updatedAt``
        of ``count`` documents chosen among those already returned, not yet returned, or both
        (or of exactly ``ids``), setting ``changes`` on them. ``advance_ms`` moves the clock
        forward first; ``late_ms`` stamps the edit that much before the moment it appears, as a
        commit that lands late would be (see PagingMutation)."""
        self.arm_mutation(
            PagingMutation(
                resource=resource,
                on_request=on_request,
                count=count,
                among=among,
                seed=seed,
                ids=tuple(ids),
                changes=dict(changes or {}),
                advance_ms=advance_ms,
                late_ms=late_ms,
            )
        )

    def arm_mutation(self, spec: PagingMutation) -> None:
        name = self.resource(spec.resource).name
        self.mutator.arm(spec.model_copy(update={"resource": name}))

    def clear_faults(self) -> None:
        self.faults.clear()
        self.mutator.clear()

    def reset(self) -> None:
        """Empty everything: documents, statistics, faults, pending mutations, clock."""
        self.store.clear()
        self.recorder.reset()
        self.clear_faults()
        self.clock.reset()

    def close(self) -> None:
        self.store.close()
