"""The /near answer: plain data in, HTML and a keyboard of 📍 buttons out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.directory import DirUser, Match
from bot.geo.fences import Nearby
from bot.geo.measure import LatLon, age_text
from bot.platform.models import Fix
from bot.render.replies import Reply, T
from bot.render.text import Html, esc
from bot.telegram.callbacks import WhereCb

AMBIGUOUS_SHOWN = 8


@dataclass(frozen=True)
class Near:
    """A member found near the place: who, and their fix's distance and age."""

    user: DirUser
    found: Nearby[Fix]


def distance_text(t: T, metres: float, *, beyond: float | None = None) -> Html:
    """`350 m` / `350 米` under a kilometre, else `1.2 km` / `1.2 公里` (`12 km` from 10 km).
    With `beyond` (a radius it lies outside of), a distance that would read as no more than
    the radius once rounded ("nobody within 2 km; nearest: 2 km") is given in metres."""
    if (
        beyond is not None
        and metres > beyond
        and distance_text(t, metres) == distance_text(t, beyond)
    ):
        return t("near-metres", metres=str(math.ceil(metres)))
    if round(metres) < 1000:
        return t("near-metres", metres=str(round(metres)))
    km = metres / 1000
    shown = f"{km:.0f}" if km >= 10 else f"{km:.1f}".removesuffix(".0")
    return t("near-kilometres", km=shown)


def shared_place(t: T) -> Html:
    return t("near-place-shared")


def latlon_place(center: LatLon) -> Html:
    return Html(f"<code>{center.lat:.5f}, {center.lon:.5f}</code>")


def user_place(t: T, user: DirUser) -> Html:
    return t("near-place-user", name=user.name, account=user.account)


def _age(lang: str, n: Near) -> str:
    return age_text(n.found.age, lang) if n.found.age is not None else "?"


def _line(t: T, lang: str, n: Near) -> str:
    distance = distance_text(t, n.found.distance_m)
    return f"{esc(n.user.name)} <code>{esc(n.user.account)}</code> · {distance} · {_age(lang, n)}"


def near_reply(
    t: T, lang: str, place: Html, radius_m: float, found: Sequence[Near], beyond: Near | None
) -> Reply:
    """Who is online within the radius, nearest first, each with a 📍 button; nobody:
    say so, and name the nearest one beyond the radius (if anyone online has a fix)."""
    radius = distance_text(t, radius_m)
    kb = InlineKeyboardBuilder()
    if found:
        lines: list[str] = [t("near-title", count=len(found), radius=radius, place=place)]
        lines += [f"{i}. {_line(t, lang, n)}" for i, n in enumerate(found, 1)]
        shown = list(found)
    else:
        lines = [t("near-none", radius=radius, place=place)]
        if beyond is None:
            lines.append(t("near-none-beyond"))
            shown = []
        else:
            lines.append(
                t(
                    "near-beyond",
                    name=beyond.user.name,
                    account=beyond.user.account,
                    distance=distance_text(t, beyond.found.distance_m, beyond=radius_m),
                    age=_age(lang, beyond),
                )
            )
            shown = [beyond]
    for n in shown:
        kb.button(text=f"📍 {n.user.name}", callback_data=WhereCb(uid=n.user.id))
    kb.adjust(2)
    return Reply("\n".join(lines), kb.as_markup() if shown else None)


def near_ambiguous(t: T, query: str, matches: Sequence[Match]) -> Reply:
    """Several users match the name: list them, ask to type more."""
    lines: list[str] = [t("near-ambiguous", count=len(matches), query=query)]
    lines += [f"👤 {esc(m.label)}" for m in matches[:AMBIGUOUS_SHOWN]]
    return Reply("\n".join(lines))
