"""Renderers for positions, tracks and recordings: plain data in, HTML and keyboards out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.directory import DirGroup, DirUser
from bot.geo.measure import TrackSummary, age_text, compass, is_stale
from bot.platform.models import Fix, Recording
from bot.render.replies import Reply, T
from bot.render.text import esc
from bot.telegram.callbacks import RecPageCb, RecPlayCb, WhereCb

RECORDINGS_PER_PAGE = 10


def _when(t: datetime, tz: tzinfo, now: datetime) -> str:
    local = t.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")


def fix_details(t: T, lang: str, user: DirUser, fix: Fix, now: datetime, tz: tzinfo) -> str:
    """The caption of a pin: who, when and how old, speed, heading, altitude, online, source."""
    lines: list[str] = [f"📍 <b>{esc(user.name)}</b> <code>{esc(user.account)}</code>"]
    if fix.time is not None:
        lines.append(
            t("where-time", time=_when(fix.time, tz, now), age=age_text(now - fix.time, lang))
        )
        if is_stale(fix.time, now):
            lines.append(t("where-stale"))
    else:
        lines.append(t("where-no-time"))
    if fix.speed is not None:
        lines.append(t("where-speed", speed=f"{fix.speed:.0f}"))
    word = compass(fix.bearing, lang)
    if word is not None and fix.bearing is not None:
        lines.append(t("where-heading", word=word, degrees=f"{fix.bearing:.0f}"))
    if fix.altitude is not None:
        lines.append(t("where-altitude", metres=f"{fix.altitude:.0f}"))
    lines.append(t("state-online") if fix.online else t("state-offline"))
    if fix.position_type is not None:
        lines.append(t("where-source-cell") if fix.position_type == 1 else t("where-source-gps"))
    lines.append(f"<code>{fix.lat:.6f}, {fix.lon:.6f}</code>")
    return "\n".join(lines)


def group_fixes(
    t: T,
    lang: str,
    group: DirGroup,
    members: Sequence[DirUser],
    fixes: Mapping[int, Fix],
    now: datetime,
    tz: tzinfo,
) -> Reply:
    """Every member's last fix, newest first; members without a fix listed as such."""
    with_fix = [u for u in members if u.id in fixes]
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    with_fix.sort(key=lambda u: fixes[u.id].time or epoch, reverse=True)
    without = [u for u in members if u.id not in fixes]
    lines: list[str] = [
        t("where-group-title", group=group.name, count=len(members), located=len(with_fix))
    ]
    kb = InlineKeyboardBuilder()
    for u in with_fix:
        f = fixes[u.id]
        dot = "🟢" if f.online else "⚪"
        age = age_text(now - f.time, lang) if f.time else "?"
        speed = ""
        if f.speed is not None:
            speed = " · " + t("where-group-speed", speed=f"{f.speed:.0f}")
        stale = " ⚠️" if is_stale(f.time, now) else ""
        lines.append(f"{dot} {esc(u.name)} <code>{esc(u.account)}</code> · {age}{speed}{stale}")
    for u in with_fix[:48]:  # Telegram allows 100 buttons; keep the keyboard usable
        kb.button(text=f"📍 {u.name}", callback_data=WhereCb(uid=u.id))
    kb.adjust(2)
    if without:
        lines.append("")
        lines.append(t("where-group-no-fix", count=len(without)))
        lines.extend(f"  {esc(u.name)} <code>{esc(u.account)}</code>" for u in without)
    return Reply("\n".join(lines), kb.as_markup() if with_fix else None)


def track_summary(
    t: T, lang: str, user: DirUser, s: TrackSummary, start: datetime, end: datetime, tz: tzinfo
) -> str:
    fmt = "%Y-%m-%d %H:%M"
    lines: list[str] = [
        f"🛰 <b>{esc(user.name)}</b> <code>{esc(user.account)}</code>",
        t(
            "track-range",
            start=start.astimezone(tz).strftime(fmt),
            end=end.astimezone(tz).strftime(fmt),
        ),
        t(
            "track-points",
            points=s.points,
            gps=round(s.gps_share * 100),
            segments=s.segments,
        ),
        t("track-distance", km=f"{s.distance_km:.2f}", moving=_duration(s.moving_time, lang)),
    ]
    if s.max_speed_kmh is not None:
        avg = f"{s.avg_speed_kmh:.0f}" if s.avg_speed_kmh is not None else "—"
        lines.append(t("track-speed", max=f"{s.max_speed_kmh:.0f}", avg=avg))
    if s.first is not None and s.last is not None:
        lines.append(
            t(
                "track-ends",
                first=s.first.time.astimezone(tz).strftime(fmt),
                last=s.last.time.astimezone(tz).strftime(fmt),
            )
        )
    return "\n".join(lines)


def _duration(d: timedelta, lang: str) -> str:
    minutes = int(d.total_seconds() // 60)
    h, m = divmod(minutes, 60)
    if lang == "zh":
        return f"{h} 小时 {m} 分" if h else f"{m} 分钟"
    return f"{h} h {m} min" if h else f"{m} min"


def recordings_page(
    t: T,
    user: DirUser,
    day: date,
    records: Sequence[Recording],
    page: int,
    has_next: bool,
    tz: tzinfo,
) -> Reply:
    """One page of a day's recordings, newest first, with ▶ per recording and ◀ ▶ paging."""
    dayint = int(day.strftime("%Y%m%d"))
    lines: list[str] = [
        t("rec-title", name=user.name, account=user.account, day=day.isoformat(), page=page)
    ]
    kb = InlineKeyboardBuilder()
    for i, r in enumerate(records):
        secs = (r.duration_ms or 0) / 1000
        dur = f"{int(secs // 60)}:{int(secs % 60):02d}" if r.duration_ms is not None else "?"
        group = esc(r.group_name) if r.group_name else "—"
        lines.append(f"{i + 1}. {r.begin.astimezone(tz).strftime('%H:%M:%S')} · {dur} · {group}")
        kb.button(
            text=f"▶ {i + 1}", callback_data=RecPlayCb(uid=user.id, day=dayint, page=page, idx=i)
        )
    kb.adjust(5)
    nav = InlineKeyboardBuilder()
    if page > 1:
        nav.button(text="◀", callback_data=RecPageCb(uid=user.id, day=dayint, page=page - 1))
    if has_next:
        nav.button(text="▶▶", callback_data=RecPageCb(uid=user.id, day=dayint, page=page + 1))
    kb.attach(nav)
    return Reply("\n".join(lines), kb.as_markup())


def recording_caption(t: T, user: DirUser, r: Recording, tz: tzinfo) -> str:
    secs = (r.duration_ms or 0) / 1000
    return t(
        "rec-caption",
        name=user.name,
        account=user.account,
        time=r.begin.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
        group=r.group_name or "—",
        seconds=f"{secs:.0f}",
    )
