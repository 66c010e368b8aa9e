"""Attendance (2.16 punch cards) and sign-ins (2.17): fetch every page, summarise, CSV.

Used by `/attendance`, `/signins` and the daily digest (`/report daily HH:MM`).
Plain data in and out: no Telegram here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.directory import Directory, DirUser
from bot.platform import PlatformClient
from bot.platform.models import PunchRecord, SignInRecord
from bot.render.csvfile import csv_bytes

PAGE_SIZE = 100

CLOCK_IN, CLOCK_OUT, SUPERSEDED = 0, 1, 2
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    """Who a record is about, as the directory knows them (else as the record says)."""

    user_id: int | None
    name: str
    account: str


@dataclass(frozen=True)
class Late:
    person: Person
    signed: datetime
    due: datetime
    minutes: int  # late by, counted from the due time (the grace only decides *whether*)


@dataclass
class PunchSummary:
    """One day of 2.16 for a set of people (an org subtree, or everyone visible)."""

    day: date
    people: int  # how many the directory expects (the org's users)
    clocked_in: list[Person] = field(default_factory=list)
    clocked_out: list[Person] = field(default_factory=list)
    late: list[Late] = field(default_factory=list)
    missing: list[Person] = field(default_factory=list)
    not_out: list[Person] = field(default_factory=list)  # clocked in, never out
    records: int = 0


@dataclass
class SignInSummary:
    day: date
    records: list[SignInRecord]
    people: int


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The first and last millisecond of a local day."""
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz) - timedelta(milliseconds=1)
    return start, end


async def fetch_punches(
    client: PlatformClient, day: date, tz: tzinfo, org_id: int | None
) -> list[PunchRecord]:
    """Every 2.16 record of a local day, all pages."""
    start, end = day_bounds(day, tz)
    return await client.all_pages(
        lambda n: client.punch_records(start, end, org_id=org_id, page=n, size=PAGE_SIZE)
    )


async def fetch_signins(
    client: PlatformClient, day: date, org_id: int | None
) -> list[SignInRecord]:
    """Every 2.17 record of a local day, all pages, oldest first."""
    records = await client.all_pages(
        lambda n: client.signin_records(day, day, org_id=org_id, page=n, size=PAGE_SIZE)
    )
    return sorted(records, key=lambda r: (r.sign_time or _EPOCH, r.id or 0))


def expected_people(
    directory: Directory, org_id: int | None, scope: frozenset[int] | None
) -> list[DirUser]:
    """Whom a day's attendance is about: the org subtree's users, or everyone in scope."""
    orgs = directory.subtree(org_id) if org_id is not None else scope
    users = directory.users(orgs)
    return sorted(users, key=lambda u: (u.pinyin_full, u.id))


def _person(r: PunchRecord | SignInRecord, directory: Directory) -> Person:
    u = directory.user(r.user_id) if r.user_id is not None else None
    if u is not None:
        return Person(u.id, u.name, u.account)
    account = getattr(r, "account", None) or ""
    return Person(r.user_id, r.user_name or account or str(r.user_id or "?"), account)


def is_late(r: PunchRecord) -> bool:
    """A clock-in after its due time plus the grace minutes (`failure`)."""
    if r.state != CLOCK_IN or r.sign_in_time is None or r.should_time is None:
        return False
    return r.sign_in_time > r.should_time + timedelta(minutes=r.failure or 0)


def summarize_punches(
    day: date,
    records: Sequence[PunchRecord],
    people: Sequence[DirUser],
    directory: Directory,
    *,
    finished: bool,
) -> PunchSummary:
    """Clocked in, clocked out, late (due time + grace), missing (expected, no record at all)
    and — for a day that is over (`finished`) — clocked in but never out."""
    s = PunchSummary(day=day, people=len(people), records=len(records))
    by_user: dict[int | str, list[PunchRecord]] = {}
    for r in records:
        key: int | str = r.user_id if r.user_id is not None else f"acct:{r.account}"
        by_user.setdefault(key, []).append(r)
    for recs in by_user.values():
        person = _person(recs[0], directory)
        ins = [r for r in recs if r.state == CLOCK_IN]
        outs = [r for r in recs if r.state == CLOCK_OUT]
        if ins:
            s.clocked_in.append(person)
        if outs:
            s.clocked_out.append(person)
        if ins and not outs and finished:
            s.not_out.append(person)
        late = [r for r in ins if is_late(r)]
        if late:
            worst = max(late, key=lambda r: r.sign_in_time - r.should_time)  # type: ignore[operator]
            assert worst.sign_in_time is not None and worst.should_time is not None
            delay = (worst.sign_in_time - worst.should_time).total_seconds() / 60
            s.late.append(Late(person, worst.sign_in_time, worst.should_time, math.ceil(delay)))
    seen = {r.user_id for r in records if r.user_id is not None}
    seen_accounts = {r.account for r in records if r.account}
    s.missing = [
        Person(u.id, u.name, u.account)
        for u in people
        if u.id not in seen and u.account not in seen_accounts
    ]
    for lst in (s.clocked_in, s.clocked_out, s.not_out):
        lst.sort(key=lambda p: (p.name, p.account))
    s.late.sort(key=lambda x: (-x.minutes, x.person.name))
    return s


# -- CSV (every cell neutralised by bot.render.csvfile) ------------------------------------------


def _local(dt: datetime | None, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return dt.astimezone(tz).strftime(fmt) if dt is not None else ""


def punch_csv(
    records: Sequence[PunchRecord],
    directory: Directory,
    tz: tzinfo,
    plain: Callable[[str], str],
) -> bytes:
    """Every 2.16 record, oldest first. `plain(msg_id)` gives the column names and values."""
    header = plain("att-csv-columns").split("|")
    event = {
        CLOCK_IN: plain("att-event-in"),
        CLOCK_OUT: plain("att-event-out"),
        SUPERSEDED: plain("att-event-superseded"),
    }
    kinds = {0: plain("att-type-unscheduled"), 1: plain("att-type-scheduled")}
    rows = []
    for r in sorted(records, key=lambda r: (r.sign_in_time or _EPOCH, r.user_id or 0)):
        p = _person(r, directory)
        late = ""
        if is_late(r):
            assert r.sign_in_time is not None and r.should_time is not None
            late = str(math.ceil((r.sign_in_time - r.should_time).total_seconds() / 60))
        rows.append(
            [
                _local(r.sign_in_time, tz, "%Y-%m-%d"),
                _local(r.sign_in_time, tz, "%H:%M:%S"),
                r.user_id if r.user_id is not None else "",
                r.account or p.account,
                r.user_name or p.name,
                r.org_name or "",
                "" if r.state is None else event.get(r.state, str(r.state)),
                _local(r.should_time, tz, "%H:%M"),
                "" if r.failure is None else r.failure,
                late,
                r.shifts_name or "",
                kinds.get(r.type, "") if r.type is not None else "",
                r.address or "",
                r.coordinate or "",
            ]
        )
    return csv_bytes(header, rows)


def signin_csv(records: Sequence[SignInRecord], tz: tzinfo, plain: Callable[[str], str]) -> bytes:
    """Every 2.17 record, oldest first."""
    header = plain("signin-csv-columns").split("|")
    rows = [
        [
            _local(r.sign_time, tz, "%Y-%m-%d"),
            _local(r.sign_time, tz, "%H:%M:%S"),
            r.id if r.id is not None else "",
            r.user_id if r.user_id is not None else "",
            r.user_name or "",
            r.user_phone or "",
            r.org_name or "",
            r.address or "",
            "" if r.lon is None else f"{r.lon:.6f}",
            "" if r.lat is None else f"{r.lat:.6f}",
            r.remark or "",
            " ".join(r.images),
        ]
        for r in records
    ]
    return csv_bytes(header, rows)
