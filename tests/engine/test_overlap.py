"""One batch is decided while the one before is written: writes and commits stay in order, a
batch sharing a record with the one in flight waits for it, a stop or an error lets the batch
in flight finish and writes nothing after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from syncer.engine.overlap import Planned, overlapped


@dataclass(frozen=True)
class Batch:
    name: str
    keys: frozenset[str]
    ends_page: bool = True
    claims: frozenset[tuple[str, ...]] = frozenset()


class Log:
    def __init__(
        self,
        *,
        stop_after: str | None = None,
        fail_plan: str | None = None,
        fail_apply: str | None = None,
    ) -> None:
        self.events: list[str] = []
        self.seen_in_flight: dict[str, frozenset[tuple[str, ...]]] = {}
        self.stop = asyncio.Event()
        self.stop_after = stop_after
        self.fail_plan = fail_plan
        self.fail_apply = fail_apply

    async def plan(self, batch: Batch, in_flight: frozenset[tuple[str, ...]]) -> Planned[str]:
        self.events.append(f"plan {batch.name}")
        self.seen_in_flight[batch.name] = in_flight
        await asyncio.sleep(0.01)
        if batch.name == self.fail_plan:
            raise RuntimeError(f"plan {batch.name} failed")
        self.events.append(f"planned {batch.name}")
        return Planned(batch.name, batch.claims)

    async def apply(self, name: str) -> None:
        self.events.append(f"apply {name}")
        await asyncio.sleep(0.05)
        if name == self.fail_apply:
            raise RuntimeError(f"apply {name} failed")
        self.events.append(f"committed {name}")
        if name == self.stop_after:
            self.stop.set()

    def run(self, batches: list[Batch]) -> bool:
        async def source() -> AsyncIterator[Batch]:
            for batch in batches:
                yield batch

        async def main() -> bool:
            return await overlapped(
                source(),
                keys=lambda batch: batch.keys,
                plan=self.plan,
                apply=self.apply,
                stops_after=lambda batch: batch.ends_page and self.stop.is_set(),
            )

        return asyncio.run(main())


def batch(name: str, *keys: str, claims: tuple[tuple[str, ...], ...] = ()) -> Batch:
    return Batch(name, frozenset(keys or (name,)), claims=frozenset(claims))


def test_the_next_batch_is_decided_while_the_one_before_is_written_in_order():
    log = Log()
    assert log.run([batch("a"), batch("b"), batch("c")]) is True
    events = log.events
    assert [e for e in events if e.startswith("committed")] == [
        "committed a",
        "committed b",
        "committed c",
    ]
    # b was planned while a was being written, and written only after a was committed.
    assert events.index("plan b") < events.index("committed a")
    assert events.index("committed a") < events.index("apply b")


def test_the_claims_in_flight_are_the_batch_befores():
    log = Log()
    log.run([batch("a", claims=(("key", "C-1"),)), batch("b")])
    assert log.seen_in_flight == {"a": frozenset(), "b": frozenset({("key", "C-1")})}


def test_a_batch_holding_a_record_in_flight_waits_for_it_to_be_committed():
    log = Log()
    log.run([batch("a", "k1", "k2"), batch("b", "k2", "k3")])
    events = log.events
    assert events.index("committed a") < events.index("plan b")
    assert log.seen_in_flight["b"] == frozenset()  # nothing in flight any more


def test_a_stop_after_a_page_writes_nothing_more():
    log = Log(stop_after="a")
    assert log.run([batch("a"), batch("b"), batch("c")]) is False
    assert "apply b" not in log.events and "plan c" not in log.events
    assert "committed a" in log.events


def test_a_stop_within_a_page_finishes_the_page():
    log = Log(stop_after="a")
    batches = [Batch("a", frozenset({"a"}), ends_page=False), batch("b"), batch("c")]
    assert log.run(batches) is False
    assert [e for e in log.events if e.startswith("committed")] == ["committed a", "committed b"]


def test_a_plan_that_fails_lets_the_batch_in_flight_commit_first():
    log = Log(fail_plan="b")
    with pytest.raises(RuntimeError, match="plan b failed"):
        log.run([batch("a"), batch("b"), batch("c")])
    assert "committed a" in log.events and "apply b" not in log.events


def test_an_apply_that_fails_ends_the_batches_there():
    log = Log(fail_apply="a")
    with pytest.raises(RuntimeError, match="apply a failed"):
        log.run([batch("a"), batch("b"), batch("c")])
    assert "apply b" not in log.events and "plan c" not in log.events
