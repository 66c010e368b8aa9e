"""What the jobs post: presence changes, attendance and sign-in summaries, the daily digest.

Plain data and a translator in, Telegram HTML out; every platform string escaped and,
when absurdly long, shortened (`clip`): a list of names stays a list of names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from bot.attendance.records import Person, PunchSummary
from bot.directory import Directory
from bot.i18n import Translate
from bot.platform.models import SignInRecord
from bot.render.relay import PLACE_LIMIT, clip
from bot.render.text import esc
from storage.reports import Report
from storage.watches import Watch

T = Translate
LIST_LIMIT = 30
DIGEST_LIST_LIMIT = 10
PRESENCE_NAMES_LIMIT = 40


@dataclass(frozen=True)
class PresenceItem:
    """A member whose presence changed: now online (in this group or another), or offline."""

    name: str
    account: str
    online: bool
    here: bool


@dataclass(frozen=True)
class PresenceBlock:
    group_name: str
    group_id: int
    items: Sequence[PresenceItem]


def _names(t: T, items: Sequence[PresenceItem]) -> str:
    shown = [f"{clip(t, i.name)} <code>{clip(t, i.account)}</code>" for i in items]
    if len(shown) > PRESENCE_NAMES_LIMIT:
        rest = len(shown) - PRESENCE_NAMES_LIMIT
        shown = [*shown[:PRESENCE_NAMES_LIMIT], t("and-more", count=rest)]
    return ", ".join(shown)


def presence_text(t: T, blocks: Sequence[PresenceBlock], at: str) -> str:
    """One message for one chat and one poll: every watched group that changed."""
    lines: list[str] = [t("presence-title", time=at)]
    for b in blocks:
        lines.append("")
        lines.append(f"👥 <b>{clip(t, b.group_name, PLACE_LIMIT)}</b> <code>{b.group_id}</code>")
        here = [i for i in b.items if i.online and i.here]
        elsewhere = [i for i in b.items if i.online and not i.here]
        gone = [i for i in b.items if not i.online]
        for key, items in (
            ("presence-here", here),
            ("presence-elsewhere", elsewhere),
            ("presence-offline", gone),
        ):
            if items:
                lines.append(f"{t(key, count=len(items))} {_names(t, items)}")
    return "\n".join(lines)


# -- attendance ------------------------------------------------------------------------------


def _people(t: T, people: Sequence[Person], limit: int) -> list[str]:
    lines = [f"  {clip(t, p.name)} <code>{clip(t, p.account)}</code>" for p in people[:limit]]
    if len(people) > limit:
        lines.append("  " + t("and-more", count=len(people) - limit))
    return lines


def attendance_lines(
    t: T, s: PunchSummary, tz: tzinfo, *, limit: int = LIST_LIMIT, so_far: str | None = None
) -> list[str]:
    """The summary of one day (no title): counts, then who was late, missing, not out."""
    if not s.records and not s.people:
        return [t("att-none", day=s.day.isoformat())]
    counts = t(
        "att-counts",
        people=s.people,
        clockedin=len(s.clocked_in),
        clockedout=len(s.clocked_out),
        late=len(s.late),
        missing=len(s.missing),
    )
    lines = [counts + (f" {t('att-so-far', time=so_far)}" if so_far else "")]
    if s.late:
        lines.append(t("att-late-title", count=len(s.late)))
        for x in s.late[:limit]:
            lines.append(
                "  "
                + t(
                    "att-late-line",
                    name=clip(t, x.person.name),
                    account=clip(t, x.person.account),
                    time=x.signed.astimezone(tz).strftime("%H:%M"),
                    due=x.due.astimezone(tz).strftime("%H:%M"),
                    minutes=x.minutes,
                )
            )
        if len(s.late) > limit:
            lines.append("  " + t("and-more", count=len(s.late) - limit))
    if s.missing:
        lines.append(t("att-missing-title", count=len(s.missing)))
        lines += _people(t, s.missing, limit)
    if s.not_out:
        lines.append(t("att-not-out-title", count=len(s.not_out)))
        lines += _people(t, s.not_out, limit)
    return lines


def _title(t: T, key: str, day: str, org_name: str | None) -> str:
    title = t(key, day=day)
    return title + (f" · {clip(t, org_name, PLACE_LIMIT)}" if org_name else "")


def attendance_text(
    t: T, s: PunchSummary, org_name: str | None, tz: tzinfo, *, so_far: str | None = None
) -> str:
    """/attendance: the summary of one day; the CSV follows as a file."""
    lines = [_title(t, "att-title", s.day.isoformat(), org_name)]
    lines += attendance_lines(t, s, tz, so_far=so_far)
    return "\n".join(lines)


def digest_text(
    t: T,
    yesterday: PunchSummary,
    today: PunchSummary,
    org_name: str | None,
    tz: tzinfo,
    at: datetime,
) -> str:
    """The daily digest: yesterday in full, today so far, shorter lists (the CSV has all)."""
    head = t("digest-title") + (f" · {clip(t, org_name, PLACE_LIMIT)}" if org_name else "")
    lines = [head, "", f"<b>{esc(yesterday.day.isoformat())}</b>"]
    lines += attendance_lines(t, yesterday, tz, limit=DIGEST_LIST_LIMIT)
    lines += ["", f"<b>{esc(today.day.isoformat())}</b>"]
    lines += attendance_lines(
        t, today, tz, limit=DIGEST_LIST_LIMIT, so_far=at.astimezone(tz).strftime("%H:%M")
    )
    return "\n".join(lines)


def signins_text(
    t: T,
    day: str,
    records: Sequence[SignInRecord],
    org_name: str | None,
    tz: tzinfo,
    *,
    limit: int = LIST_LIMIT,
) -> str:
    """/signins: how many, by how many people, then each: time, who, where, remark."""
    lines = [_title(t, "signin-title", day, org_name)]
    if not records:
        lines.append(t("signin-none", day=day))
        return "\n".join(lines)
    people = {r.user_id if r.user_id is not None else r.user_name for r in records}
    lines.append(t("signin-counts", count=len(records), people=len(people)))
    for r in records[:limit]:
        when = r.sign_time.astimezone(tz).strftime("%H:%M") if r.sign_time else "—"
        line: str = t(
            "signin-line",
            time=when,
            name=clip(t, r.user_name or str(r.user_id or "?")),
            place=clip(t, r.address, PLACE_LIMIT)
            or (f"{r.lat:.5f}, {r.lon:.5f}" if r.lat is not None and r.lon is not None else "—"),
        )
        if r.remark:
            line += " · " + clip(t, r.remark, PLACE_LIMIT)
        lines.append("  " + line)
    if len(records) > limit:
        lines.append("  " + t("and-more", count=len(records) - limit))
    return "\n".join(lines)


def watch_text(t: T, new: bool, group_name: str, online: int, members: int, poll_s: int) -> str:
    """`/watch`, `/subscribe presence`: the group now watched here, and how many are online."""
    return t(
        "watch-done" if new else "watch-already",
        group=group_name,
        online=online,
        count=members,
        seconds=str(poll_s),
    )


def chat_jobs_lines(
    t: T, watches: Sequence[Watch], reports: Sequence[Report], directory: Directory, zone: str
) -> list[str]:
    """/subscriptions: a chat's presence watches and its daily digest, as bullet lines."""
    lines: list[str] = []
    for w in watches:
        group = directory.group(w.group_id)
        where = t.plain("subs-topic", thread=w.thread_id) if w.thread_id else ""
        name = group.name if group else str(w.group_id)
        lines.append(f"• {t('watch-line', group=name)}{where}")
    for r in reports:
        where = t.plain("subs-topic", thread=r.thread_id) if r.thread_id else ""
        org = org_label(directory, r.org_id)
        if org is not None:
            line = t("report-line-org", time=r.at_time, zone=zone, org=org)
        else:
            line = t("report-line", time=r.at_time, zone=zone)
        lines.append(f"• {line}{where}")
    return lines


def org_label(directory: Directory, org_id: int | None) -> str | None:
    """An org's name; its id if the directory no longer has it; None for no org."""
    if org_id is None:
        return None
    org = directory.org(org_id)
    return org.name if org is not None else str(org_id)


def report_set_text(
    t: T,
    report: Report,
    directory: Directory,
    zone: str,
    first: datetime | None,
    tz: tzinfo,
    now: datetime | None = None,
) -> str:
    """`/report daily`, `/subscribe attendance`: the digest now set, and when the first one
    comes: today, or tomorrow when today's time has passed (today's is then not sent: a
    digest set after its time waits for the next day). Counted from `now`, else from when
    the report was set; `first` (the scheduler's next run) is shown for a report set days
    ago and set again unchanged when `now` is not given.
    """
    org = org_label(directory, report.org_id)
    return t(
        "report-set-org" if org else "report-set",
        time=report.at_time,
        zone=zone,
        org=org or "",
        first=first_digest(t, report, first, tz, now),
    )


def first_digest(
    t: T, report: Report, first: datetime | None, tz: tzinfo, now: datetime | None
) -> str:
    """When a digest just set is first sent, in words: 今天 08:30, 明天 08:30 (and why)."""
    base = (now or report.created_at).astimezone(tz)
    try:
        at = time.fromisoformat(report.at_time)
    except ValueError:
        return first.astimezone(tz).strftime("%Y-%m-%d %H:%M") if first else "—"
    run = datetime.combine(base.date(), at, tz)
    if run <= base:
        run = datetime.combine(base.date() + timedelta(days=1), at, tz)
    if now is None and first is not None and abs(first - run) > timedelta(days=1):
        # Set unchanged again: `created_at` is when it was first set, days ago.
        first = first.astimezone(tz)
        return t("report-first-date", day=first.date().isoformat(), time=first.strftime("%H:%M"))
    hhmm = run.strftime("%H:%M")
    if run.date() == base.date():
        return t("report-first-today", time=hhmm)
    return t("report-first-tomorrow", time=hhmm)  # today's time has passed


def report_current_text(t: T, report: Report | None, directory: Directory, zone: str) -> str:
    """`/report` alone: the digest of this chat (topic), with its org, or that there is none."""
    if report is None:
        return t("report-current-none")
    org = org_label(directory, report.org_id)
    if org is not None:
        return t("report-current-org", time=report.at_time, zone=zone, org=org)
    return t("report-current", time=report.at_time, zone=zone)
