"""Setting up APScheduler 3.x jobs the same way everywhere.

Every job has an explicit id and `replace_existing=True` (rebuilding at start, or
moving a daily report, replaces it), `coalesce=True` (runs missed while the loop
was busy collapse into one), `max_instances=1` (a slow poll is never overlapped by
the next), and a misfire grace that fits its period: a run late by less than that
still happens, a later one is skipped for the next regular time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time, tzinfo
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

__all__ = ["DAILY_GRACE_S", "daily", "every"]

DAILY_GRACE_S = 3600
"""A daily digest delayed by less than an hour (a busy loop, a slow platform) is still sent."""


def every(
    scheduler: BaseScheduler,
    job_id: str,
    func: Callable[..., Any],
    seconds: float,
    *,
    args: Sequence[Any] = (),
    grace_s: float | None = None,
    start: datetime | None = None,
) -> Job:
    """Run `func(*args)` every `seconds`; a run late by up to one period still happens."""
    trigger = IntervalTrigger(seconds=seconds, start_date=start)
    grace = max(1, int(grace_s if grace_s is not None else seconds))
    return _add(scheduler, job_id, func, trigger, args, grace)


def daily(
    scheduler: BaseScheduler,
    job_id: str,
    func: Callable[..., Any],
    at: time,
    tz: tzinfo,
    *,
    args: Sequence[Any] = (),
    grace_s: int = DAILY_GRACE_S,
) -> Job:
    """Run `func(*args)` every day at `at` in `tz` (local wall-clock time, DST included)."""
    trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=tz)
    return _add(scheduler, job_id, func, trigger, args, grace_s)


def _add(
    scheduler: BaseScheduler,
    job_id: str,
    func: Callable[..., Any],
    trigger: BaseTrigger,
    args: Sequence[Any],
    grace_s: int,
) -> Job:
    """The one way a job is added (see the module's docstring)."""
    return scheduler.add_job(
        func,
        trigger,
        args=list(args),
        id=job_id,
        name=job_id,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=grace_s,
    )
