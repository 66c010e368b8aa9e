"""/near [radius] (supervisor): the online members nearest to a place.

The place is a shared location the command replies to, ``<lat>,<lon>``, or a user (their
last fix). Candidates are the users in the caller's scope: their fixes come from 2.4 (in
batches), which also says who is online, so no other call is needed. Fixes arrive in
WGS-84 (the client converts GCJ-02). The 📍 buttons are /where's (`WhereCb`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.directory import DirUser, Kind
from bot.geo.fences import nearest
from bot.geo.measure import LatLon
from bot.parsing.places import PlaceError, parse_radius, take_latlon
from bot.platform.models import Fix
from bot.render.near import (
    Near,
    latlon_place,
    near_ambiguous,
    near_reply,
    shared_place,
    user_place,
)
from bot.render.replies import Reply
from bot.render.text import Html
from handlers.filters import feature_router, remember_asker
from handlers.lookup import CommandContext, command_context
from handlers.reply import answer
from storage.roles import Role

DEFAULT_RADIUS_M = 5000.0
SHOWN = 10


@dataclass(frozen=True)
class Ask:
    """What /near was asked: a place (or a user's name to find it) and the radius text."""

    center: LatLon | None
    place: Html | None
    query: str
    radius: str


def read_args(message: Message, args: str) -> Ask | None:
    """The place and radius typed (None: no place given). Raises PlaceError."""
    shared = message.reply_to_message.location if message.reply_to_message else None
    if shared is not None:
        return Ask(LatLon(shared.latitude, shared.longitude), None, "", args)
    center, rest = take_latlon(args)
    if center is not None:
        return Ask(center, latlon_place(center), "", rest)
    if not rest:
        return None
    *name, last = rest.split()
    if name:
        try:
            parse_radius(last)
        except PlaceError as exc:
            if exc.reason == "range":
                raise
        else:
            return Ask(None, None, " ".join(name), last)
    return Ask(None, None, rest, "")


async def fixes_of(users: list[DirUser], ctx: CommandContext) -> dict[int, Fix]:
    # The client asks 2.4 in batches: a scope of thousands is a few requests.
    return {f.uid: f for f in await ctx.platform.latest_fixes([u.id for u in users])}


async def near(message: Message, command: CommandObject, ctx: CommandContext) -> None:
    t = ctx.t
    try:
        ask = read_args(message, (command.args or "").strip())
        radius_m = parse_radius(ask.radius) if ask is not None and ask.radius else None
    except PlaceError as exc:
        await answer(message, Reply(t(exc.msg_id, **exc.msg_args) + "\n" + t("usage-near")))
        return
    if ask is None:
        await answer(message, Reply(t("usage-near")))
        return
    radius_m = radius_m or DEFAULT_RADIUS_M
    scope = ctx.caller.scope
    target: DirUser | None = None
    if ask.center is None:
        found = ctx.directory.resolve(ask.query, Kind.USER, scope, limit=50)
        if not found:
            await answer(message, Reply(t("not-found", kind="user", query=ask.query)))
            return
        if len(found) > 1:
            await answer(message, near_ambiguous(t, ask.query, found))
            return
        target = ctx.directory.user(found[0].id, scope)
        if target is None:  # the directory changed between the two reads
            await answer(message, Reply(t("not-found", kind="user", query=ask.query)))
            return
    users = ctx.directory.users(scope)
    fixes = await fixes_of(users, ctx)
    center, place = ask.center, ask.place
    if target is not None:
        fix = fixes.get(target.id)
        if fix is None:
            no_fix = t("where-no-fix", name=target.name, account=target.account)
            await answer(message, Reply(no_fix))
            return
        center, place = LatLon(fix.lat, fix.lon), user_place(t, target)
    assert center is not None
    place = place or shared_place(t)
    by_id = {u.id: u for u in users}
    skip = target.id if target is not None else None
    online = [f for f in fixes.values() if f.online and f.uid in by_id and f.uid != skip]
    now = ctx.clock()
    close = nearest(center, online, radius_m, now, limit=SHOWN)
    beyond = None if close else next(iter(nearest(center, online, None, now, limit=1)), None)
    shown = [Near(by_id[n.fix.uid], n) for n in close]
    extra = Near(by_id[beyond.fix.uid], beyond) if beyond is not None else None
    await ctx.audit.add(
        ctx.caller.user_id,
        "near",
        str(target.id) if target is not None else f"{center.lat:.5f},{center.lon:.5f}",
        {"radius_m": radius_m, "candidates": len(users), "online": len(online)},
        f"{len(shown)} found",
        now,
    )
    sent = await answer(message, near_reply(t, ctx.lang, place, radius_m, shown, extra))
    await remember_asker(ctx.fsm_storage, sent, ctx.caller.user_id)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, command_context)
    r.message.register(near, Command("near"))
    return r
