"""Turning a flow's ``schedule`` into an APScheduler trigger, and describing it to people."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncer.config.models import Schedule
from syncer.config.types import format_duration


def trigger_for(schedule: Schedule) -> BaseTrigger:
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
    assert schedule.every is not None  # the model guarantees exactly one of the two
    return IntervalTrigger(seconds=schedule.every.total_seconds(), timezone=UTC)


def describe(schedule: Schedule | None) -> str:
    if schedule is None:
        return "on demand"
    if schedule.cron is not None:
        zone = "" if schedule.timezone == "UTC" else f" {schedule.timezone}"
        return f"cron {schedule.cron}{zone}"
    assert schedule.every is not None
    return f"every {format_duration(schedule.every)}"


def next_run(schedule: Schedule | None, now: datetime | None = None) -> datetime | None:
    """When the daemon, started now, would first run a flow with this schedule."""
    if schedule is None:
        return None
    moment = now or datetime.now(UTC)
    fire: datetime | None = trigger_for(schedule).get_next_fire_time(None, moment)
    return fire.astimezone(UTC) if fire is not None else None
