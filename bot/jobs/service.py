"""The scheduled work of the bridge, and the scheduler jobs that run it.

- `directory-refresh` (`BRIDGE_DIRECTORY_REFRESH_S`): reload the directory, tell its diff
  to `user-changes` / `org-changes` subscribers;
- `presence-poll` (`BRIDGE_PRESENCE_POLL_S`): poll watched groups, tell who came online
  or went offline;
- `recordings-poll` (60 s): relay new recordings to chats subscribed to `recordings`;
- `position-poll` (`BRIDGE_FOLLOW_POLL_S`): one batched 2.4 lookup for every follow and
  geofence watch; live locations moved, crossings told (`bot.jobs.positions`);
- `platform-health` (60 s): a cheap call; admins told of an outage once, recovery once;
- `report:<chat>:<topic>` (daily at HH:MM in `BRIDGE_TIMEZONE`): the attendance digest;
- `housekeeping` (hourly, and at start): delete what is past its keeping time
  (`storage/retention.py`), served files included.

What chats asked for lives in SQLite; the jobs are rebuilt from it at every start.
A scheduler job carries only names and ids (`run("report", chat_id, thread_id)`).
A run that fails is logged, counted (`pttbridge_job_failures{job=...}`), and simply
runs again at its next time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.base import BaseScheduler

from bot.attendance.reports import AttendanceReports
from bot.config import Settings
from bot.i18n import Translate
from bot.jobs.common import JobFailed
from bot.jobs.directory_diff import DirectoryDiff
from bot.jobs.health import PlatformHealth
from bot.jobs.positions import PositionPoll
from bot.jobs.presence import PresenceWatch
from bot.jobs.recordings import RecordingFeed
from bot.jobs.scheduler import daily, every
from bot.metrics import Metrics
from bot.parsing.timeexpr import parse_hhmm
from bot.platform import PlatformError
from bot.relay.context import Context
from bot.render.jobs import chat_jobs_lines
from storage.reports import Report
from storage.retention import Retention

log = logging.getLogger(__name__)

RECORDINGS_EVERY_S = 60
HEALTH_EVERY_S = 60
SYNC_EVERY_S = 60
HOUSEKEEPING_EVERY_S = 3600

# The fixed jobs (their name is their scheduler id).
FIXED = (
    "directory-refresh",
    "presence-poll",
    "position-poll",
    "recordings-poll",
    "platform-health",
    "reports-sync",
    "housekeeping",
)


def report_job_id(chat_id: int, thread_id: int) -> str:
    return f"report:{chat_id}:{thread_id}"


class Jobs:
    """The jobs above, each built by the composition root with the repositories it uses
    (shared with the relay); `start(scheduler)` once it runs."""

    def __init__(
        self,
        ctx: Context,
        settings: Settings,
        metrics: Metrics,
        *,
        presence: PresenceWatch,
        recordings: RecordingFeed,
        health: PlatformHealth,
        directory_diff: DirectoryDiff,
        reports: AttendanceReports,
        retention: Retention,
        positions: PositionPoll,
    ) -> None:
        self.settings = settings
        self.tz = settings.bridge.tz
        self.clock = ctx.clock
        self.metrics = metrics
        self.directory = ctx.directory
        self.presence, self.recordings, self.health = presence, recordings, health
        self.directory_diff, self.reports = directory_diff, reports
        self.retention = retention
        self.watches = presence.watches
        self.positions = positions
        self.follows = positions.follows  # /follow's live locations
        self.scheduler: BaseScheduler | None = None
        self._tasks: dict[str, Callable[..., Awaitable[Any]]] = {
            "directory-refresh": self.directory_diff.refresh,
            "directory-diff": self.directory_diff.diff,
            "presence-poll": self.presence.poll,
            "position-poll": self.positions.poll,
            "recordings-poll": self.recordings.poll,
            "platform-health": self.health.check,
            "report": self._report,
            "reports-sync": self._sync_reports,
            "housekeeping": self._housekeeping,
        }
        self._running: set[asyncio.Task[Any]] = set()
        self.caught_up = asyncio.Event()  # set when the start-up catch-up has run

    # -- running ---------------------------------------------------------------------------

    async def run(self, name: str, *ids: int, now: datetime | None = None) -> bool:
        """Run one job now (the scheduler calls this; so may tests). False if it failed."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self._tasks[name](*ids, now or self.clock())
            return True
        except (PlatformError, JobFailed) as exc:
            self.metrics.job_failures.labels(name).inc()
            log.warning("job %s failed (%s); it runs again next time", name, exc)
        except Exception:
            self.metrics.job_failures.labels(name).inc()
            log.exception("job %s failed; it runs again next time", name)
        finally:
            if task is not None:
                self._running.discard(task)
        return False

    async def _report(self, chat_id: int, thread_id: int, now: datetime) -> None:
        await self.reports.run(chat_id, thread_id, now)

    async def _housekeeping(self, now: datetime) -> None:
        gone = await self.retention.prune(now)
        if any(gone.values()):
            log.info("housekeeping deleted %s", ", ".join(f"{n} {t}" for t, n in gone.items()))

    async def describe_chat(self, t: Translate, chat_id: int) -> list[str]:
        """For /subscriptions: this chat's watches and daily digest, one line each."""
        watches = await self.watches.for_chat(chat_id)
        reports = await self.reports.reports.for_chat(chat_id)
        return chat_jobs_lines(t, watches, reports, self.directory, self.settings.bridge.timezone)

    # -- scheduling ------------------------------------------------------------------------

    async def start(self, scheduler: BaseScheduler) -> None:
        """Add the fixed jobs and every chat's daily report (from storage)."""
        self.scheduler = scheduler
        s = self.settings.bridge
        every(
            scheduler,
            "directory-refresh",
            self.run,
            s.directory_refresh_s,
            args=["directory-refresh"],
        )
        every(scheduler, "presence-poll", self.run, s.presence_poll_s, args=["presence-poll"])
        every(scheduler, "position-poll", self.run, s.follow_poll_s, args=["position-poll"])
        every(scheduler, "recordings-poll", self.run, RECORDINGS_EVERY_S, args=["recordings-poll"])
        every(scheduler, "platform-health", self.run, HEALTH_EVERY_S, args=["platform-health"])
        every(scheduler, "reports-sync", self.run, SYNC_EVERY_S, args=["reports-sync"])
        every(scheduler, "housekeeping", self.run, HOUSEKEEPING_EVERY_S, args=["housekeeping"])
        reports = await self._sync_reports(self.clock())
        log.info("jobs scheduled: %d fixed, %d daily reports", len(FIXED), reports)

    async def _sync_reports(self, now: datetime) -> int:
        """Make the scheduled digests match storage: a digest moved to a supergroup's new
        id, set or removed by another path, is picked up within a minute."""
        if self.scheduler is None:
            return 0
        wanted = {
            report_job_id(r.chat_id, r.thread_id): r for r in await self.reports.reports.all()
        }
        for job in self.scheduler.get_jobs():
            if job.id.startswith("report:") and job.id not in wanted:
                job.remove()
        for job_id, r in wanted.items():
            job = self.scheduler.get_job(job_id)
            at = parse_hhmm(r.at_time)
            trigger = getattr(job, "trigger", None) if job is not None else None
            fields = {f.name: str(f) for f in getattr(trigger, "fields", [])}
            if at is not None and (fields.get("hour"), fields.get("minute")) != (
                str(at.hour),
                str(at.minute),
            ):
                self.schedule_report(r)
        return len(wanted)

    async def catch_up(self) -> None:
        """At start: tell directory changes made while the bridge was down, and send the
        digests whose time passed meanwhile."""
        now = self.clock()
        try:
            await self.run("housekeeping", now=now)  # a bridge restarted often still prunes
            await self.run("directory-diff", now=now)
            for r in await self.reports.missed(now):
                log.info("sending the digest missed at %s in chat %s", r.at_time, r.chat_id)
                await self.run("report", r.chat_id, r.thread_id, now=now)
        finally:
            self.caught_up.set()

    async def set_report(
        self,
        chat_id: int,
        thread_id: int,
        at_time: str,
        org_id: int | None,
        created_by: int | None,
        now: datetime,
    ) -> tuple[Report, datetime | None]:
        """Set (or move) a chat's daily digest and schedule it (`/report daily`, `/subscribe
        attendance`); returns it and its next run. Setting it again unchanged keeps when it
        was last sent, so it is not sent twice that day."""
        repo = self.reports.reports
        current = await repo.get(chat_id, thread_id)
        if current is not None and (current.at_time, current.org_id) == (at_time, org_id):
            report = current
        else:
            report = await repo.set(chat_id, thread_id, at_time, org_id, created_by, now)
        self.schedule_report(report)
        return report, self.next_report_run(chat_id, thread_id)

    async def report_of(self, chat_id: int, thread_id: int) -> Report | None:
        """A chat's (topic's) daily digest, if it has one."""
        return await self.reports.reports.get(chat_id, thread_id)

    async def remove_report(self, chat_id: int, thread_id: int) -> bool:
        """Stop a chat's daily digest (`/report off`, `/unsubscribe attendance`)."""
        removed = await self.reports.reports.remove(chat_id, thread_id)
        self.unschedule_report(chat_id, thread_id)
        return removed

    def next_report_run(self, chat_id: int, thread_id: int) -> datetime | None:
        if self.scheduler is None:
            return None
        job = self.scheduler.get_job(report_job_id(chat_id, thread_id))
        return job.next_run_time if job is not None else None

    def schedule_report(self, report: Report) -> None:
        at = parse_hhmm(report.at_time)
        if self.scheduler is None or at is None:
            return
        daily(
            self.scheduler,
            report_job_id(report.chat_id, report.thread_id),
            self.run,
            at,
            self.tz,
            args=["report", report.chat_id, report.thread_id],
        )

    def unschedule_report(self, chat_id: int, thread_id: int) -> None:
        if self.scheduler is None:
            return
        job_id = report_job_id(chat_id, thread_id)
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)

    async def stop(self) -> None:
        """Remove the jobs (nothing new starts) and end the runs in flight."""
        if self.scheduler is not None:
            for job in list(self.scheduler.get_jobs()):
                if job.id in FIXED or job.id.startswith("report:"):
                    job.remove()
        current = asyncio.current_task()
        running = [t for t in self._running if t is not current]
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        await self.follows.close()
