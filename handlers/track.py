"""/track <user> [from] [to] (supervisor): summary, a PNG picture and a GPX 1.1 file.

The picture and the GPX are built off the event loop (matplotlib and XML for a
long track take a while). The picture is drawn over the operator's map tiles when they
can be had (`TileSource`, fetched first), else on plain axes. Every request is written
to the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.directory import Kind
from bot.geo.measure import Located, summarize, timed_sorted
from bot.geo.tiles import Basemap, TileSource
from bot.parsing.timeexpr import TimeExprError, parse_range
from bot.render.geo import track_summary
from bot.render.replies import Reply
from bot.render.text import truncate_caption
from bot.telegram.callbacks import PickAction, PickCb
from handlers.filters import feature_router
from handlers.lookup import LookupContext, filled_context
from handlers.reply import answer
from handlers.resolve import NameArg, Named, name_command, name_picked
from storage.roles import Role

TRACK = NameArg(Kind.USER, PickAction.TRACK, "usage-track", more=True)


@dataclass(frozen=True)
class TrackContext(LookupContext):
    """A `LookupContext` with the map tiles the picture is drawn over."""

    tiles: TileSource


track_context = filled_context(TrackContext)
"""Puts a `TrackContext` into the handler data as `ctx` (an inner middleware)."""


async def basemap(tiles: TileSource, points: Sequence[Located]) -> Basemap | None:
    """The map behind the track's picture, or None (drawn without one)."""
    from bot.geo.trackfiles import MAP_SIZE, track_view

    view = await asyncio.to_thread(track_view, points, tiles.crs)
    return None if view is None else await tiles.basemap(view, MAP_SIZE)


async def send_track(message: Message, named: Named, ctx: TrackContext) -> None:
    t, lang, tz, uid = ctx.t, ctx.lang, ctx.settings.bridge.tz, named.id
    now = ctx.clock()
    try:
        start, end = parse_range(named.rest, now, tz)
    except TimeExprError as err:
        await answer(message, Reply(t(err.msg_id, **err.msg_args) + "\n" + t("usage-track")))
        return
    user = ctx.directory.user(uid, ctx.caller.scope)
    if user is None:
        await answer(message, Reply(t("not-found", kind="user", query=uid)))
        return
    async with ChatActionSender.upload_document(
        bot=ctx.bot, chat_id=message.chat.id, message_thread_id=message.message_thread_id
    ):
        tracks = await ctx.platform.track([uid], start, end)
        points = timed_sorted(tracks.get(uid, []))
        await ctx.audit.add(
            ctx.caller.user_id,
            "track",
            str(uid),
            {"name": user.name, "from": start.isoformat(), "to": end.isoformat()},
            f"{len(points)} points",
            now,
        )
        if not points:
            await answer(message, Reply(t("track-none", name=user.name)))
            return
        summary = summarize(points)
        text = track_summary(t, lang, user, summary, start, end, tz)
        if len(points) == 1:
            p = points[0]
            pin = await message.answer_location(latitude=p.lat, longitude=p.lon)
            await pin.reply(text + "\n" + t("track-one-point"))
            return
        # Imported here: matplotlib costs ~60 MB of memory, only worth it once /track is used.
        from bot.geo.trackfiles import track_gpx, track_png

        stamp = start.astimezone(tz).strftime("%Y%m%d-%H%M")
        base = f"track-{user.account or user.id}-{stamp}"
        title = f"{user.name} {start.astimezone(tz):%Y-%m-%d %H:%M} – {end.astimezone(tz):%H:%M}"
        under = await basemap(ctx.tiles, points)
        png, gpx = await asyncio.gather(
            asyncio.to_thread(track_png, points, title=title, lang=lang, tz=tz, basemap=under),
            asyncio.to_thread(track_gpx, points, name=f"{user.name} ({user.account})"),
        )
        await message.answer_photo(
            BufferedInputFile(png, filename=f"{base}.png"), caption=truncate_caption(text)
        )
        await message.answer_document(
            BufferedInputFile(gpx, filename=f"{base}.gpx"),
            caption=t("track-gpx-caption", points=len(points)),
        )


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, track_context)
    r.message.register(name_command(TRACK, send_track), Command("track"))
    r.callback_query.register(
        name_picked(TRACK, send_track), PickCb.filter(F.action == PickAction.TRACK)
    )
    return r
