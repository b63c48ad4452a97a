"""A batch of source records through the stages: planned (map, match, decide), then applied
(write, commit). A scan overlaps the planning of one batch with the applying of the one before
(:mod:`syncer.engine.overlap`); dead letters retried and records read back go through both at
once (:meth:`BatchStages.process`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from syncer.connector import PartialWrite, Record
from syncer.engine import commit, decide, identity, match, prepare, write
from syncer.engine.batch import Decision, Plan, Write, Written
from syncer.engine.deadletters import Failure
from syncer.engine.identity import Claim
from syncer.engine.scope import RunScope
from syncer.logs import get_logger
from syncer.observe import FailedRecord, Observers

log = get_logger(__name__)


class BatchStages:
    """The stages of one run of one flow."""

    def __init__(self, scope: RunScope, observers: Observers) -> None:
        self.scope = scope
        self.observers = observers

    async def process(
        self,
        records: Sequence[Record],
        extra_failures: Sequence[Failure] = (),
        on_commit: Callable[[Session], None] | None = None,
    ) -> None:
        """Sync a batch of native source records (pages of a scan, dead letters being retried,
        records read back)."""
        await self.apply(await self.plan(records, extra_failures, on_commit))

    async def plan(
        self,
        records: Sequence[Record],
        extra_failures: Sequence[Failure] = (),
        on_commit: Callable[[Session], None] | None = None,
        in_flight: frozenset[Claim] = frozenset(),
    ) -> Plan:
        """Map, match and decide a batch: what to write, to commit and to park."""
        scope = self.scope
        taken, failures = prepare.filtered(scope, records)
        mapped, unmappable = prepare.map_records(scope, prepare.once_each(scope, taken))
        changed, unchanged = match.split_unchanged(scope, mapped)
        match.reserve(scope, changed)
        matched, ambiguous = await match.counterparts(scope, changed)
        decided = [*ambiguous, *await decide.decide(scope, matched)]
        decisions = identity.one_target_each(scope, decided, in_flight)
        return Plan(decisions, unchanged, [*failures, *unmappable, *extra_failures], on_commit)

    async def apply(self, plan: Plan) -> None:
        """Write a decided batch and commit it."""
        scope = self.scope
        decisions = plan.decisions
        if any(isinstance(decision, Write) for decision in decisions):
            self.scope.lifecycle.check()  # a process that lost the flow writes nothing more
        try:
            outcomes = await write.write(self.scope.binding, decisions)
        except PartialWrite as partial:
            await self._keep_what_was_written(decisions, partial)
            raise partial.cause from None
        written = [outcome for outcome in outcomes if isinstance(outcome, Written)]
        fatal = await write.write_back(scope, written)
        committed = commit.commit(
            scope,
            outcomes,
            unchanged=plan.unchanged.records,
            failures=plan.failures,
            read_back=plan.unchanged.read_back,
            on_commit=plan.on_commit,
        )
        for failure in committed.parked:
            await self.observers.record_failed(
                FailedRecord(failure.record_key, failure.reason, failure.field)
            )
        await self.observers.page_committed(self.scope.counts.as_body(), committed.records)
        if fatal is not None:
            raise fatal  # after the commit: what the target accepted is recorded first

    async def _keep_what_was_written(
        self, decisions: list[Decision], partial: PartialWrite
    ) -> None:
        """A write that ended part way: record the records the target answered for (their
        links, snapshots, write-backs, dead letters), so neither half of a pair takes them for
        new ones. The others stay as they were, and so does the scan's position: the next run
        reads this batch again."""
        outcomes = write.answered(decisions, partial.results)
        answered = [o for o in outcomes if isinstance(o, Written) and o.result is not None]
        log.warning(
            "the batch's writes stopped part way; recording the ones the target answered",
            answered=len(answered),
            unwritten=sum(1 for o in outcomes if isinstance(o, Written)) - len(answered),
            error=str(partial.cause),
        )
        if not answered:
            return
        await write.write_back(self.scope, answered)  # a failure here is the run's already
        committed = commit.commit(self.scope, answered)
        await self.observers.page_committed(self.scope.counts.as_body(), committed.records)
