"""/fence add|watch|list|del|unwatch (supervisor): geofences, and the chats told when
someone enters or leaves one (the crossings are decided by `bot.jobs.fences`).

A fence is a circle added as a reply to a shared location (`/fence add <name> <radius>`)
or at typed coordinates (`/fence add <name> <lat>,<lon> <radius>`), or a polygon of three
to fifty typed corners in order (`/fence add <name> <lat>,<lon> <lat>,<lon> <lat>,<lon> …`,
no radius; the map draws them too); it belongs to its creator's org scope (unscoped for an
unscoped supervisor), where its name is unique. A scoped supervisor sees and uses only the
fences of their subtree and watches only users and talk groups in it. Every subcommand
changes or shows what this chat receives: in a group, only its administrators may
(`ChatManager`), as with /watch; a scoped one may not replace or remove a watch set with a
wider reach than theirs. Each change is audited. A user or group name that fits several
gets pick buttons (one name at a time); the rest of the command is kept with that message,
and a tap finishes it as if the id were typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.directory import Kind, Match
from bot.geo.fences import polygon_bounds, polygon_fault
from bot.geo.measure import LatLon
from bot.parsing.places import PlaceError, parse_radius, take_latlons
from bot.render.fences import fence_added, fence_list, polygon_fault_text
from bot.render.replies import Reply, scope_refused
from bot.render.text import Html
from bot.telegram.callbacks import PickAction, PickCb
from handlers.filters import ChatManager, chat_change_refused, feature_router, within
from handlers.lookup import LookupContext, lookup_context
from handlers.reply import answer
from handlers.resolve import kept_pick, picked_match, resolve_or_ask
from handlers.subscriptions import fence_lines, thread_of
from storage.fences import Fence, FenceEvents, FenceRepo, FenceWatch
from storage.follows import TargetKind
from storage.roles import Role

EVENT_WORDS: Mapping[str, FenceEvents] = MappingProxyType(
    {
        "enter": "enter",
        "leave": "leave",
        "both": "both",
        "进入": "enter",
        "离开": "leave",
        "进出": "both",
    }
)


def _scope_org(ctx: LookupContext) -> int | None:
    """The org scope a scoped caller's fences and watches belong to (None: unscoped)."""
    return ctx.caller.org_id if ctx.caller.scope is not None else None


async def _one_fence(
    message: Message, ctx: LookupContext, fences: FenceRepo, name: str
) -> Fence | None:
    """The one fence of that name the caller sees; else the answer is given and None."""
    found = await fences.find(name, ctx.caller.scope)
    if len(found) == 1:
        return found[0]
    if not found:
        await answer(message, Reply(ctx.t("fence-unknown", query=name)))
    else:
        names = ", ".join(f"{f.name} · {f.org_id if f.org_id is not None else '—'}" for f in found)
        await answer(message, Reply(ctx.t("fence-ambiguous", query=name, names=names)))
    return None


async def _wider(message: Message, ctx: LookupContext, watches: list[FenceWatch]) -> bool:
    """Whether some of these watches reach beyond a scoped caller: then it is said."""
    scope = ctx.caller.scope
    wider = [w for w in watches if not within(scope, scope_org=w.scope_org, named=True)]
    if wider:
        what = [ctx.t.plain("kind-fence") + f" ({w.fence_name})" for w in wider[:1]]
        await answer(message, scope_refused(ctx.t, what))
    return bool(wider)


async def add_fence(message: Message, args: str, ctx: LookupContext, fences: FenceRepo) -> None:
    t = ctx.t
    name, _, rest = args.strip().partition(" ")
    if not name:
        await answer(message, Reply(t("usage-fence-add")))
        return
    try:
        places, radius_arg = take_latlons(rest)
        if len(places) > 1:
            await _add_polygon(message, name, places, radius_arg, ctx, fences)
            return
        if not places:
            reply = message.reply_to_message
            if reply is None or reply.location is None:
                await answer(message, Reply("\n".join([t("fence-no-place"), t("usage-fence-add")])))
                return
            lat, lon = reply.location.latitude, reply.location.longitude
        else:
            lat, lon = places[0].lat, places[0].lon
        if not radius_arg.strip() or len(radius_arg.split()) > 1:
            await answer(message, Reply(t("usage-fence-add")))
            return
        radius = parse_radius(radius_arg)
    except PlaceError as exc:
        await answer(message, Reply(t(exc.msg_id, **exc.msg_args)))
        return
    await _add(message, name, (lat, lon, radius), None, ctx, fences)


async def _add_polygon(
    message: Message,
    name: str,
    places: list[LatLon],
    after: str,
    ctx: LookupContext,
    fences: FenceRepo,
) -> None:
    """`/fence add <name>` with two or more corners: a polygon, if they make one."""
    corners = tuple((p.lat, p.lon) for p in places)
    fault = polygon_fault(corners)
    if fault is not None:
        await answer(message, Reply(polygon_fault_text(ctx.t, fault)))
        return
    if after.strip():
        try:
            parse_radius(after)
        except PlaceError:
            await answer(message, Reply(ctx.t("usage-fence-add")))
        else:
            await answer(message, Reply(ctx.t("fence-polygon-radius", points=len(corners))))
        return
    await _add(message, name, polygon_bounds(corners), corners, ctx, fences)


async def _add(
    message: Message,
    name: str,
    circle: tuple[float, float, float],
    polygon: tuple[tuple[float, float], ...] | None,
    ctx: LookupContext,
    fences: FenceRepo,
) -> None:
    """Store the fence (a circle, or a polygon with its bounding circle), audit, answer."""
    lat, lon, radius = circle
    now = ctx.clock()
    fence = await fences.add(
        name,
        lat,
        lon,
        radius,
        org_id=_scope_org(ctx),
        created_by=ctx.caller.user_id,
        now=now,
        polygon=polygon,
    )
    details = {"name": name, "lat": lat, "lon": lon, "radius_m": radius}
    if polygon is not None:
        details["count"] = len(polygon)
    await ctx.audit.add(
        ctx.caller.user_id,
        "fence-add",
        str(message.chat.id),
        details,
        "ok" if fence is not None else "name taken",
        now,
    )
    if fence is None:
        await answer(message, Reply(ctx.t("fence-taken", name=name)))
        return
    await answer(message, Reply(fence_added(ctx.t, fence)))


@dataclass(frozen=True)
class FenceArgs:
    """`/fence watch|unwatch` as typed: the fence (first word) and the names after it, the
    events, and the users and groups already picked with buttons (by the word's place)."""

    sub: Literal["watch", "unwatch"]
    words: tuple[str, ...]
    events: FenceEvents = "both"
    picks: tuple[tuple[int, Kind, int], ...] = ()  # (word's place, kind, id)

    @property
    def action(self) -> PickAction:
        return PickAction.FENCE_WATCH if self.sub == "watch" else PickAction.FENCE_UNWATCH

    def dump(self, at: int) -> dict[str, Any]:
        """Kept with the pick buttons for word `at`."""
        picks = [[i, k.value, id_] for i, k, id_ in self.picks]
        return {"sub": self.sub, "words": list(self.words), "events": self.events, "at": at,
                "picks": picks}  # fmt: skip

    @classmethod
    def load(cls, data: Mapping[str, Any], picked: tuple[Kind, int]) -> FenceArgs | None:
        """The command kept, with `picked` for the word its buttons asked about; None when
        what is kept is not one."""
        try:
            sub, events = data["sub"], data["events"]
            words = tuple(str(w) for w in data["words"])
            picks = {int(i): (Kind(k), int(id_)) for i, k, id_ in data["picks"]}
            at = int(data["at"])
        except (KeyError, TypeError, ValueError):
            return None
        if sub not in ("watch", "unwatch") or events not in EVENT_WORDS.values():
            return None
        if not 0 < at < len(words):
            return None
        picks[at] = picked
        return cls(sub, words, events, tuple((i, k, id_) for i, (k, id_) in sorted(picks.items())))


async def _targets(
    message: Message, ctx: LookupContext, args: FenceArgs, state: FSMContext
) -> list[Match] | None:
    """Each name as the one user or talk group it means in the caller's scope; else the
    answer is given (not found, or buttons to pick among several) and None."""
    out: list[Match] = []
    picks = {i: (kind, id_) for i, kind, id_ in args.picks}
    for i, name in enumerate(args.words[1:], 1):
        if i in picks:
            kind, id_ = picks[i]
            m = picked_match(ctx.directory, ctx.caller, kind, id_)
            if m is None:
                await answer(message, Reply(ctx.t("not-found", kind=kind.value, query=id_)))
                return None
        else:
            m = await resolve_or_ask(
                message,
                ctx.t,
                ctx.directory,
                ctx.caller,
                name,
                (Kind.USER, Kind.GROUP),
                args.action,
                state=state,
                keep=args.dump(i),
            )
            if m is None:
                return None
        out.append(m)
    return list({(m.kind, m.id): m for m in out}.values())


def _kind(m: Match) -> TargetKind:
    return "user" if m.kind is Kind.USER else "group"


async def _pick(
    message: Message, args: FenceArgs, ctx: LookupContext, fences: FenceRepo, state: FSMContext
) -> tuple[Fence, list[Match]] | None:
    """The fence (first word) and the users and groups after it, when the caller may
    change this chat's watches of them (all of the fence's, for none named); else the
    answer is given and None."""
    fence = await _one_fence(message, ctx, fences, args.words[0])
    if fence is None:
        return None
    targets = await _targets(message, ctx, args, state)
    if targets is None:
        return None
    keys = {(_kind(m), m.id) for m in targets}
    here = [
        w
        for w in await fences.watches_for_chat(message.chat.id)
        if w.thread_id == thread_of(message)
        and w.fence_id == fence.id
        and (not keys or (w.target_kind, w.target_id) in keys)
    ]
    if await _wider(message, ctx, here):
        return None
    return fence, targets


async def watch_fence(
    message: Message, args: str, ctx: LookupContext, fences: FenceRepo, state: FSMContext
) -> None:
    words = args.split()
    events: FenceEvents = "both"
    if len(words) > 2 and words[-1].lower() in EVENT_WORDS:
        events = EVENT_WORDS[words.pop().lower()]
    if len(words) < 2:
        await answer(message, Reply(ctx.t("usage-fence-watch")))
        return
    await _watch(message, FenceArgs("watch", tuple(words), events), ctx, fences, state)


async def _watch(
    message: Message, args: FenceArgs, ctx: LookupContext, fences: FenceRepo, state: FSMContext
) -> None:
    picked = await _pick(message, args, ctx, fences, state)
    if picked is None:
        return
    fence, targets = picked
    events = args.events
    chat_id, thread = message.chat.id, thread_of(message)
    now = ctx.clock()
    for m in targets:
        await fences.watch(
            fence.id,
            chat_id,
            thread,
            _kind(m),
            m.id,
            events,
            scope_org=_scope_org(ctx),
            created_by=ctx.caller.user_id,
            now=now,
        )
    await ctx.audit.add(
        ctx.caller.user_id,
        "fence-watch",
        str(chat_id),
        {
            "fence": fence.name,
            "users": [m.id for m in targets if m.kind is Kind.USER],
            "groups": [m.id for m in targets if m.kind is not Kind.USER],
            "events": events,
            "thread": thread,
        },
        "ok",
        now,
    )
    who = ", ".join(m.label for m in targets)
    await answer(message, Reply(ctx.t(f"fence-watching-{events}", who=who, name=fence.name)))


async def unwatch_fence(
    message: Message, args: str, ctx: LookupContext, fences: FenceRepo, state: FSMContext
) -> None:
    words = args.split()
    if not words:
        await answer(message, Reply(ctx.t("usage-fence-unwatch")))
        return
    await _unwatch(message, FenceArgs("unwatch", tuple(words)), ctx, fences, state)


async def _unwatch(
    message: Message, args: FenceArgs, ctx: LookupContext, fences: FenceRepo, state: FSMContext
) -> None:
    picked = await _pick(message, args, ctx, fences, state)
    if picked is None:
        return
    fence, targets = picked
    chat_id, thread = message.chat.id, thread_of(message)
    keys = {(_kind(m), m.id) for m in targets}
    if targets:
        n = 0
        for m in targets:
            n += await fences.unwatch(chat_id, thread, fence.id, _kind(m), m.id)
    else:
        n = await fences.unwatch(chat_id, thread, fence.id)
    await ctx.audit.add(
        ctx.caller.user_id,
        "fence-unwatch",
        str(chat_id),
        {"fence": fence.name, "targets": sorted(f"{k}:{i}" for k, i in keys), "thread": thread},
        str(n),
        ctx.clock(),
    )
    await answer(message, Reply(ctx.t("fence-unwatched", count=n, name=fence.name)))


async def fence_picked(
    callback: CallbackQuery,
    callback_data: PickCb,
    ctx: LookupContext,
    fences: FenceRepo,
    state: FSMContext,
) -> None:
    """A pick button of /fence watch|unwatch: the command finishes with that user or group
    in place of the name it asked about, as if its id had been typed."""
    picked = (callback_data.kind, callback_data.id)
    got = await kept_pick(
        callback, ctx, callback_data.action, lambda kept: FenceArgs.load(kept, picked)
    )
    if got is None:
        return
    msg, args = got
    if args.sub == "watch":
        await _watch(msg, args, ctx, fences, state)
    else:
        await _unwatch(msg, args, ctx, fences, state)


async def delete_fence(message: Message, args: str, ctx: LookupContext, fences: FenceRepo) -> None:
    name = args.strip()
    if not name:
        await answer(message, Reply(ctx.t("usage-fence-del")))
        return
    fence = await _one_fence(message, ctx, fences, name)
    if fence is None:
        return
    watched = [w for w in await fences.active_watches() if w.fence_id == fence.id]
    deleted = await fences.delete(fence.id)
    await ctx.audit.add(
        ctx.caller.user_id,
        "fence-del",
        str(message.chat.id),
        {"name": fence.name, "id": fence.id, "watches": len(watched)},
        "ok" if deleted else "gone",
        ctx.clock(),
    )
    await answer(message, Reply(ctx.t("fence-deleted", name=fence.name, count=len(watched))))


async def list_fences(message: Message, ctx: LookupContext, fences: FenceRepo) -> None:
    visible = await fences.visible(ctx.caller.scope)
    watches = await fences.watches_for_chat(message.chat.id)
    lines = fence_lines(ctx.t, watches, ctx.directory, ctx.caller.scope)
    text: Html = fence_list(ctx.t, visible, lines)
    await answer(message, Reply(text))


async def fence_command(
    message: Message,
    command: CommandObject,
    ctx: LookupContext,
    fences: FenceRepo,
    state: FSMContext,
) -> None:
    sub, _, rest = (command.args or "").strip().partition(" ")
    sub = sub.lower()
    if sub == "add":
        await add_fence(message, rest, ctx, fences)
    elif sub == "watch":
        await watch_fence(message, rest, ctx, fences, state)
    elif sub == "unwatch":
        await unwatch_fence(message, rest, ctx, fences, state)
    elif sub in ("del", "delete", "rm"):
        await delete_fence(message, rest, ctx, fences)
    elif sub in ("list", "ls") and not rest.strip():
        await list_fences(message, ctx, fences)
    else:
        await answer(message, Reply(ctx.t("usage-fence")))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, lookup_context)
    r.message.register(fence_command, Command("fence"), ChatManager(Role.SUPERVISOR))
    picks = PickCb.filter(F.action.in_({PickAction.FENCE_WATCH, PickAction.FENCE_UNWATCH}))
    r.callback_query.register(fence_picked, picks, ChatManager(Role.SUPERVISOR))
    # What ChatManager refused to a supervisor: not an administrator of this group.
    r.message.register(chat_change_refused(Role.SUPERVISOR), Command("fence"))
    r.callback_query.register(chat_change_refused(Role.SUPERVISOR), picks)
    return r
