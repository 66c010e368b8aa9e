"""Attendance and sign-in summaries with their CSV, for commands and the daily digest.

`/attendance` and `/signins` answer with `attendance()` / `signins()`. The daily
digest (`/report daily HH:MM`) is a cron job per chat; it sends yesterday in full
and today so far, with every record of both days as a CSV, through the outbox.
Each digest is sent once per day: `last_sent_at` is written in the transaction
that queues it. A digest missed because the bridge was down is sent at start if
its time passed less than `CATCH_UP` ago.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.attendance.records import (
    expected_people,
    fetch_punches,
    fetch_signins,
    punch_csv,
    signin_csv,
    summarize_punches,
)
from bot.i18n import Translate
from bot.jobs.common import Job, enqueue_text
from bot.parsing.timeexpr import parse_hhmm
from bot.relay.context import Context
from bot.relay.messages import Document
from bot.render.jobs import attendance_text, digest_text, signins_text
from storage.outbox import OutboxRepo
from storage.reports import Report, ReportRepo

log = logging.getLogger(__name__)

CATCH_UP = timedelta(hours=3)


@dataclass(frozen=True)
class Built:
    """A summary to post and its CSV file."""

    text: str
    csv: bytes
    filename: str
    caption: str


def _suffix(org_id: int | None) -> str:
    return f"-org{org_id}" if org_id is not None else ""


def latest_slot(report: Report, now: datetime, tz: tzinfo) -> datetime | None:
    """The most recent time (<= now) this report was due."""
    at = parse_hhmm(report.at_time)
    if at is None:
        return None
    local = now.astimezone(tz)
    slot = datetime.combine(local.date(), at, tz)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), at, tz)
    return slot


class AttendanceReports(Job):
    def __init__(self, ctx: Context, outbox: OutboxRepo, reports: ReportRepo) -> None:
        super().__init__(ctx, outbox)
        self.reports = reports

    def _org_name(self, org_id: int | None) -> str | None:
        org = self.directory.org(org_id) if org_id is not None else None
        return org.name if org else None

    async def attendance(
        self,
        day: date,
        org_id: int | None,
        scope: frozenset[int] | None,
        t: Translate,
        now: datetime,
    ) -> Built:
        """/attendance: one day's summary and every record."""
        records = await fetch_punches(self.platform, day, self.tz, org_id)
        people = expected_people(self.directory, org_id, scope)
        today = now.astimezone(self.tz).date()
        s = summarize_punches(day, records, people, self.directory, finished=day < today)
        so_far = now.astimezone(self.tz).strftime("%H:%M") if day == today else None
        text = attendance_text(t, s, self._org_name(org_id), self.tz, so_far=so_far)
        data = punch_csv(records, self.directory, self.tz, t.plain)
        return Built(
            text,
            data,
            f"attendance-{day.isoformat()}{_suffix(org_id)}.csv",
            t("att-csv-caption", day=day.isoformat(), count=len(records)),
        )

    async def signins(self, day: date, org_id: int | None, t: Translate) -> Built:
        """/signins: one day's sign-ins (time, who, where, remark) and every record."""
        records = await fetch_signins(self.platform, day, org_id)
        text = signins_text(t, day.isoformat(), records, self._org_name(org_id), self.tz)
        return Built(
            text,
            signin_csv(records, self.tz, t.plain),
            f"signins-{day.isoformat()}{_suffix(org_id)}.csv",
            t("att-csv-caption", day=day.isoformat(), count=len(records)),
        )

    async def digest(self, org_id: int | None, now: datetime) -> Built:
        """Yesterday in full and today so far, with every record of both days."""
        t = self.t
        today = now.astimezone(self.tz).date()
        yesterday = today - timedelta(days=1)
        people = expected_people(self.directory, org_id, None)
        before = await fetch_punches(self.platform, yesterday, self.tz, org_id)
        current = await fetch_punches(self.platform, today, self.tz, org_id)
        s_before = summarize_punches(yesterday, before, people, self.directory, finished=True)
        s_now = summarize_punches(today, current, people, self.directory, finished=False)
        text = digest_text(t, s_before, s_now, self._org_name(org_id), self.tz, now)
        span = f"{yesterday.isoformat()}_{today.isoformat()}"
        return Built(
            text,
            punch_csv(before + current, self.directory, self.tz, t.plain),
            f"attendance-{span}{_suffix(org_id)}.csv",
            t("att-csv-caption", day=span.replace("_", " – "), count=len(before) + len(current)),
        )

    async def run(self, chat_id: int, thread_id: int, now: datetime) -> bool:
        """The daily job of one chat: send the digest unless this day's was already sent."""
        report = await self.reports.get(chat_id, thread_id)
        if report is None or report.paused:
            return False
        slot = latest_slot(report, now, self.tz)
        if slot is not None and report.last_sent_at is not None and report.last_sent_at >= slot:
            log.info("digest for %s/%s already sent at %s", chat_id, thread_id, slot)
            return False
        built = await self.digest(report.org_id, now)
        document = Document(
            name=built.filename,
            data_b64=base64.b64encode(built.csv).decode("ascii"),
            caption=built.caption,
        )
        async with self.db.transaction():
            await enqueue_text(
                self.outbox,
                chat_id,
                thread_id,
                "attendance",
                built.text,
                now,
                document=document,
            )
            await self.reports.mark_sent(chat_id, thread_id, now)
        self.wake()
        return True

    async def missed(self, now: datetime) -> list[Report]:
        """Digests whose time passed while the bridge was down (less than `CATCH_UP` ago)."""
        out = []
        for r in await self.reports.all():
            slot = latest_slot(r, now, self.tz)
            if slot is None or r.paused or now - slot > CATCH_UP or r.created_at > slot:
                continue
            if r.last_sent_at is None or r.last_sent_at < slot:
                out.append(r)
        return out
