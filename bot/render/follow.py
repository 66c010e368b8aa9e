"""Renderers for /follow: the line above a live location, and the group's header."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.geo.measure import age_text
from bot.platform.models import Fix
from bot.render.replies import T
from bot.render.text import esc
from bot.telegram.callbacks import FollowCb

FOLLOW_STALE = timedelta(minutes=5)
"""A followed fix older than this is said to be old (the pin does not move)."""
NAMES_SHOWN = 30  # of a group's members not shown, at most this many are named


def local_time(at: datetime, tz: tzinfo, now: datetime, *, seconds: bool = False) -> str:
    """`at` in `tz`: the clock time when it is today (by `now`), else with its date; to the
    second with `seconds`."""
    local = at.astimezone(tz)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if local.date() == now.astimezone(tz).date():
        return local.strftime(clock)
    return local.strftime(f"%Y-%m-%d {clock}")


def follow_line(
    t: T,
    lang: str,
    name: str,
    since: datetime,
    fix: Fix | None,
    now: datetime,
    tz: tzinfo,
    *,
    ended: bool = False,
    handed_to: str | None = None,
) -> str:
    """Who is followed, since when, how old the fix is, and whether they are offline or
    their position old; or that the follow ended; or, `handed_to` given, that another
    follow of this chat shows them now (their own follow: "", else that group's name)."""
    lines = [t("follow-line", name=esc(name), time=local_time(since, tz, now))]
    if handed_to == "":
        lines.append(t("follow-handed-over"))
        return "\n".join(lines)
    if handed_to is not None:
        lines.append(t("follow-handed-over-group", group=esc(handed_to)))
        return "\n".join(lines)
    if ended:
        lines.append(t("follow-ended"))
        return "\n".join(lines)
    if fix is None:
        lines.append(t("follow-no-fix"))
        return "\n".join(lines)
    if fix.time is not None:
        lines.append(t("follow-fix", age=age_text(now - fix.time, lang)))
    lines.append(t("state-online") if fix.online else t("state-offline"))
    if fix.time is None or now - fix.time > FOLLOW_STALE:
        lines.append(t("follow-stale", name=esc(name)))
    return "\n".join(lines)


def stop_keyboard(t: T, follow_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=t.plain("follow-stop"), callback_data=FollowCb(follow_id=follow_id))
    return kb.as_markup()


def _names(names: Sequence[str]) -> str:
    return esc(", ".join(names[:NAMES_SHOWN]) + (" …" if len(names) > NAMES_SHOWN else ""))


def group_header(
    t: T,
    group: str,
    shown: int,
    rest: Sequence[str],
    until: datetime,
    now: datetime,
    tz: tzinfo,
    elsewhere: Sequence[str] = (),
) -> str:
    """The line a group's follow opens with: how many members are shown, the rest named,
    and those another follow of this chat already shows (one live location per person)."""
    time = local_time(until, tz, now)
    if not shown and not elsewhere:  # else "nobody is online" would be untrue
        lines = [t("follow-group-none", group=esc(group), time=time)]
    else:
        lines = [t("follow-group", group=esc(group), time=time, count=shown)]
    if rest and shown:
        lines.append(t("follow-group-rest", names=_names(rest)))
    if elsewhere:
        lines.append(t("follow-group-elsewhere", names=_names(elsewhere)))
    return "\n".join(lines)


def user_header(t: T, name: str, until: datetime, now: datetime, tz: tzinfo) -> str:
    """The line above a user's follow when it has a 🗺 button to carry (the map on)."""
    return t("map-follow-user", name=esc(name), time=local_time(until, tz, now))
