"""/subscribe, /unsubscribe, /subscriptions: what this chat (or topic) receives (/mute is
`handlers.mute`, included in this router).

Who may change it: `handlers.filters.ChatManager` — a bridge admin; or, with the role, an
administrator of this group (in a private chat, the person themself). A scoped person may
not replace or remove what was set with a wider reach than theirs (an all-org digest, an
unfiltered subscription), and sees in `/subscriptions` only the names inside their scope.

`presence` and `attendance` are not subscriptions of their own: `/subscribe presence
group <g...>` watches those groups as `/watch` does, `/subscribe attendance` sets the
daily digest as `/report daily` does, and `/unsubscribe` and `/subscriptions` treat
the watches and the digest as those two kinds.

A user or group name that fits several gets pick buttons (one name at a time, in the order
typed: users, then groups); the command as typed and the choices so far are kept with that
message (`handlers.resolve.kept_for_pick`), and a tap finishes it as if the id were typed.
The buttons answer only whoever asked, and only while they may still change this chat.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.access import Caller
from bot.directory import Directory, Kind, Match
from bot.parsing.timeexpr import parse_hhmm
from bot.render.fences import fence_watch_lines
from bot.render.replies import Reply, T, not_one, scope_refused, usage_at
from bot.render.subscriptions import (
    Stored,
    follow_lines,
    scoped_jobs_lines,
    subscribed_text,
    subscriptions_text,
)
from bot.telegram.callbacks import PickAction, PickCb
from handlers import mute
from handlers.filters import ChatManager, MinRole, asker_only, chat_change_refused, within
from handlers.lookup import LookupContext, lookup_context
from handlers.reply import answer
from handlers.resolve import kept_pick, picked_match, resolve_or_ask
from storage.fences import FenceRepo, FenceWatch
from storage.follows import Follow, FollowRepo
from storage.mutes import MuteRepo
from storage.reports import ReportRepo
from storage.roles import Role
from storage.subscriptions import KINDS, STORED_KINDS, Subscription, SubscriptionRepo

if TYPE_CHECKING:
    from bot.jobs import Jobs


def thread_of(message: Message) -> int:
    return (message.message_thread_id or 0) if message.is_topic_message else 0


DEFAULT_DIGEST_AT = "08:30"
"""`/subscribe attendance` without `at` (and no digest yet): said in usage-subscribe, README."""

_KEYWORDS = MappingProxyType(
    {
        "org": "org",
        "orgs": "org",
        "user": "user",
        "users": "user",
        "group": "group",
        "groups": "group",
        "level": "level",
        "levels": "level",
        "at": "at",
        "word": "words",
        "words": "words",
    }
)


@dataclass(frozen=True)
class SubscribeArgs:
    """`/subscribe` as typed: kinds, org ids, user and group names (not yet resolved),
    levels, the digest's time, and the words a recording's transcript must contain."""

    kinds: tuple[str, ...]
    orgs: tuple[int, ...] = ()
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    at: str | None = None
    words: tuple[str, ...] = ()


def _fits(mode: str, word: str, before: list[str]) -> bool:
    """Whether `word` can be the next value after the keyword `mode`."""
    if mode == "org":
        return word.isascii() and word.isdigit()  # not "²": int() refuses it
    if mode == "at":
        return not before and parse_hhmm(word) is not None
    return True


def parse_subscribe(words: list[str]) -> SubscribeArgs:
    """`<kind...> [org <id...>] [user <u...>] [group <g...>] [level <l...>] [at <HH:MM>]
    [words <w...>]`.

    Raises ValueError when it does not read so: an unknown kind, an org that is not an
    id, a keyword with nothing after it, a time that is not HH:MM, a filter that none
    of the kinds takes (`user` and `words` are for recordings, `group` for recordings and
    presence, `at` for attendance). `all` is every kind kept as a subscription (not
    presence, which needs groups, nor attendance, which sets a digest).
    """
    kinds: list[str] = []
    found: dict[str, list[str]] = {
        "org": [],
        "user": [],
        "group": [],
        "level": [],
        "at": [],
        "words": [],
    }
    mode = "kind"
    for w in words:
        lw = w.lower()
        if lw in _KEYWORDS and (mode == "kind" or found[mode]):
            mode = _KEYWORDS[lw]
        elif mode == "kind":
            if lw == "all":
                kinds.extend(STORED_KINDS)
            elif lw in KINDS:
                kinds.append(lw)
            else:
                raise ValueError(w)
        elif not _fits(mode, w, found[mode]):
            raise ValueError(w)
        else:
            found[mode].append(w)
    if not kinds or (mode != "kind" and not found[mode]):
        raise ValueError("")
    at = parse_hhmm(found["at"][0]) if found["at"] else None
    args = SubscribeArgs(
        kinds=tuple(dict.fromkeys(kinds)),
        orgs=tuple(dict.fromkeys(int(o) for o in found["org"])),
        users=tuple(dict.fromkeys(found["user"])),
        groups=tuple(dict.fromkeys(found["group"])),
        levels=tuple(dict.fromkeys(found["level"])),
        at=at.strftime("%H:%M") if at is not None else None,
        words=tuple(dict.fromkeys(found["words"])),
    )
    takes = set(args.kinds)
    if (
        ((args.users or args.words) and "recordings" not in takes)
        or (args.groups and not takes & {"recordings", "presence"})
        or (args.at and "attendance" not in takes)
    ):
        raise ValueError("")
    return args


async def wider_here(
    t: T,
    caller: Caller,
    directory: Directory,
    jobs: Jobs,
    chat_id: int,
    thread: int,
    *,
    subs: Sequence[Subscription] = (),
    groups: Collection[int] | None = (),
    digest: bool = False,
) -> list[str]:
    """What a command of `caller` would replace or remove in this chat (topic) that reaches
    beyond their scope, in words (empty: nothing; always so for an unscoped caller).

    `subs`: the subscriptions it would replace or remove; `groups`: the talk groups whose
    watches it would (None: every watch here); `digest`: whether it sets or stops the
    daily digest.
    """
    scope = caller.scope
    if scope is None:
        return []
    out: list[str] = [
        t.plain(f"kind-{s.kind}")
        for s in subs
        if not within(scope, orgs=s.orgs, scope_org=s.scope_org, named=bool(s.users or s.groups))
    ]
    for w in await jobs.watches.for_chat(chat_id):
        if w.thread_id != thread or (groups is not None and w.group_id not in groups):
            continue
        if not within(scope, scope_org=w.scope_org, named=True):
            group = directory.group(w.group_id, scope)
            what = t.plain("scope-what-watch", group=group.name) if group else None
            out.append(what or t.plain("kind-presence"))
    if digest:
        report = await jobs.report_of(chat_id, thread)
        if report is not None and not within(scope, orgs=[report.org_id]):
            out.append(t.plain("kind-attendance"))
    return out


async def refuse_wider(message: Message, t: T, wider: list[str]) -> None:
    """Say what the caller may not change (from `wider_here`)."""
    await answer(message, scope_refused(t, wider))


async def refused_here(
    message: Message,
    ctx: LookupContext,
    subs: Sequence[Subscription] = (),
    groups: Collection[int] | None = (),
    *,
    digest: bool = False,
) -> bool:
    """Whether the caller may not make this change in the message's chat (topic): then it
    is said what (`wider_here` has the arguments)."""
    chat_id, thread = message.chat.id, thread_of(message)
    wider = await wider_here(
        ctx.t,
        ctx.caller,
        ctx.directory,
        ctx.jobs,
        chat_id,
        thread,
        subs=subs,
        groups=groups,
        digest=digest,
    )
    if wider:
        await refuse_wider(message, ctx.t, wider)
    return bool(wider)


async def subscriptions_here(
    subscriptions: SubscriptionRepo, message: Message, kinds: Collection[str] | None
) -> list[Subscription]:
    """The subscriptions of the message's chat (topic) of these kinds (None: all)."""
    thread = thread_of(message)
    return [
        s
        for s in await subscriptions.for_chat(message.chat.id)
        if s.thread_id == thread and (kinds is None or s.kind in kinds)
    ]


def read_subscribe(t: T, text: str) -> SubscribeArgs | Reply:
    """`/subscribe`'s arguments, or the answer when they do not read: the word it stopped
    at (a kind, an org that is not an id, a bad time) and the usage; presence without
    groups; a digest of more than one org."""
    try:
        args = parse_subscribe(text.split())
    except ValueError as exc:
        usage = usage_at(t, "usage-subscribe", str(exc))
        return Reply(usage.text + "\n" + t("usage-subscribe-words"))
    if "presence" in args.kinds and not args.groups:
        return Reply(t("usage-subscribe-presence"))
    if "attendance" in args.kinds and len(args.orgs) > 1:
        return Reply(t("usage-org-arg"))  # the digest is of one org
    return args


Slot = tuple[Kind, int]
"""A name `/subscribe` resolves: a user's or a group's, and its place among those typed."""


@dataclass(frozen=True)
class Typed:
    """`/subscribe` as typed (its words, read as `args`) and what pick buttons chose so
    far: per slot, the kind and id of the button tapped."""

    words: tuple[str, ...]
    args: SubscribeArgs
    picks: Mapping[Slot, tuple[Kind, int]] = field(default_factory=dict)

    def names(self, kind: Kind) -> tuple[str, ...]:
        return self.args.users if kind is Kind.USER else self.args.groups

    def dump(self, ask: Slot) -> dict[str, Any]:
        """Kept with the pick buttons for the name in slot `ask`."""
        picks = [[s.value, i, k.value, id_] for (s, i), (k, id_) in self.picks.items()]
        return {"words": list(self.words), "ask": [ask[0].value, ask[1]], "picks": picks}

    @classmethod
    def load(cls, data: Mapping[str, Any], picked: tuple[Kind, int]) -> Typed | None:
        """The command kept, with `picked` for the name its buttons asked about; None when
        what is kept is not one."""
        try:
            words = tuple(str(w) for w in data["words"])
            kind, at = data["ask"]
            ask = (Kind(kind), int(at))
            picks = {(Kind(s), int(i)): (Kind(k), int(id_)) for s, i, k, id_ in data["picks"]}
            args = parse_subscribe(list(words))
        except (KeyError, TypeError, ValueError):
            return None
        typed = cls(words, args)
        if ask[0] not in (Kind.USER, Kind.GROUP) or not 0 <= ask[1] < len(typed.names(ask[0])):
            return None
        picks[ask] = picked
        return replace(typed, picks=picks)


@dataclass(frozen=True)
class Named:
    """The users and groups `/subscribe` names, each the one it means."""

    users: list[int]
    groups: list[int]


async def resolve_names(
    message: Message, ctx: LookupContext, typed: Typed, state: FSMContext
) -> Named | None:
    """The orgs, users and groups of the command in the caller's scope, each the one it
    means (a name picked with a button: that one); else the answer is given (not found,
    or buttons to pick among several, the command kept with them) and None."""
    t, directory, caller = ctx.t, ctx.directory, ctx.caller
    for o in typed.args.orgs:
        if directory.org(o, caller.scope) is None:
            await answer(message, not_one(t, "org", o))
            return None
    ids: dict[Kind, list[int]] = {Kind.USER: [], Kind.GROUP: []}
    for kind, found in ids.items():
        for i, name in enumerate(typed.names(kind)):
            match: Match | None
            if (kind, i) in typed.picks:
                picked, id_ = typed.picks[kind, i]
                match = picked_match(directory, caller, kind, id_) if picked is kind else None
                if match is None:
                    await answer(message, not_one(t, kind.value, id_))
                    return None
            else:
                match = await resolve_or_ask(
                    message, t, directory, caller, name, kind, PickAction.SUBSCRIBE,
                    state=state, keep=typed.dump((kind, i)),
                )  # fmt: skip
                if match is None:
                    return None
            found.append(match.id)
    return Named(list(dict.fromkeys(ids[Kind.USER])), list(dict.fromkeys(ids[Kind.GROUP])))


def subscribed_orgs(caller: Caller, args: SubscribeArgs) -> list[int]:
    """The orgs a subscription filters on: those typed; for a scoped person who typed none,
    their own (a scoped person subscribes only to their own subtree)."""
    if caller.scope is not None and not args.orgs and caller.org_id is not None:
        return [caller.org_id]
    return list(args.orgs)


async def store_subscribe(
    args: SubscribeArgs,
    named: Named,
    caller: Caller,
    chat_id: int,
    thread: int,
    now: datetime,
    *,
    subscriptions: SubscriptionRepo,
    reports: ReportRepo,
    directory: Directory,
    jobs: Jobs,
) -> Stored:
    """Set what `args` asks in this chat (topic): the watches, the digest, the
    subscriptions."""
    stored = Stored()
    scoped = caller.scope is not None
    scope_org = caller.org_id if scoped else None
    # Presence first: it is the part that asks the platform (what the group looks like
    # now), so a platform failure leaves the rest unchanged.
    if "presence" in args.kinds:
        for gid in named.groups:
            group = directory.group(gid)
            if group is None:
                continue
            new, obs = await jobs.presence.start_watching(
                chat_id, thread, group, scope_org, caller.user_id, now
            )
            stored.watches.append((new, group, obs))
    if "attendance" in args.kinds:
        current = await reports.get(chat_id, thread)
        org_id: int | None
        if args.orgs:
            org_id = args.orgs[0]
        elif scoped:
            org_id = caller.org_id
        else:  # unchanged: subscribing again does not widen a digest set for an org
            org_id = current.org_id if current is not None else None
        at = args.at or (current.at_time if current is not None else DEFAULT_DIGEST_AT)
        stored.digest = await jobs.set_report(chat_id, thread, at, org_id, caller.user_id, now)
    orgs = subscribed_orgs(caller, args)
    for kind in args.kinds:
        if kind not in STORED_KINDS:
            continue
        if kind == "recordings" and (named.users or named.groups):
            # Users and groups widen the org filter (either one will do); the subscriber's
            # scope still bounds them.
            sub = await subscriptions.set(
                chat_id,
                thread,
                kind,
                tuple(args.orgs),
                args.levels,
                caller.user_id,
                users=tuple(named.users),
                groups=tuple(named.groups),
                scope_org=scope_org,
                words=args.words,
            )
        else:
            sub = await subscriptions.set(
                chat_id,
                thread,
                kind,
                tuple(orgs),
                args.levels,
                caller.user_id,
                words=args.words if kind == "recordings" else (),
            )
        stored.subs[kind] = sub
    return stored


async def subscribe(
    message: Message,
    command: CommandObject,
    ctx: LookupContext,
    subscriptions: SubscriptionRepo,
    reports: ReportRepo,
    state: FSMContext,
) -> None:
    text = command.args or ""
    args = read_subscribe(ctx.t, text)
    if isinstance(args, Reply):
        await answer(message, args)
        return
    await _subscribe(message, Typed(tuple(text.split()), args), ctx, subscriptions, reports, state)


async def subscribe_picked(
    callback: CallbackQuery,
    callback_data: PickCb,
    ctx: LookupContext,
    subscriptions: SubscriptionRepo,
    reports: ReportRepo,
    state: FSMContext,
) -> None:
    """A pick button of /subscribe: the command finishes with that user or group in place
    of the name it asked about, as if its id had been typed."""
    picked = (callback_data.kind, callback_data.id)
    got = await kept_pick(
        callback, ctx, PickAction.SUBSCRIBE, lambda kept: Typed.load(kept, picked)
    )
    if got is not None:
        msg, typed = got
        await _subscribe(msg, typed, ctx, subscriptions, reports, state)


async def _subscribe(
    message: Message,
    typed: Typed,
    ctx: LookupContext,
    subscriptions: SubscriptionRepo,
    reports: ReportRepo,
    state: FSMContext,
) -> None:
    caller, t, args = ctx.caller, ctx.t, typed.args
    named = await resolve_names(message, ctx, typed, state)
    if named is None:
        return
    here = await subscriptions_here(subscriptions, message, args.kinds)
    groups = named.groups if "presence" in args.kinds else ()
    if await refused_here(message, ctx, here, groups, digest="attendance" in args.kinds):
        return
    chat_id, thread = message.chat.id, thread_of(message)
    now = ctx.clock()
    stored = await store_subscribe(
        args,
        named,
        caller,
        chat_id,
        thread,
        now,
        subscriptions=subscriptions,
        reports=reports,
        directory=ctx.directory,
        jobs=ctx.jobs,
    )
    await ctx.audit.add(
        caller.user_id,
        "subscribe",
        str(chat_id),
        {
            "kinds": list(args.kinds),
            "orgs": subscribed_orgs(caller, args),
            "users": named.users,
            "groups": named.groups,
            "levels": list(args.levels),
            "words": list(args.words),
            "at": args.at,
            "thread": thread,
        },
        "ok",
        now,
    )
    await answer(message, subscribed_text(t, args.kinds, stored, ctx.directory, ctx.settings))


async def unsubscribe(
    message: Message, command: CommandObject, ctx: LookupContext, subscriptions: SubscriptionRepo
) -> None:
    t, jobs = ctx.t, ctx.jobs
    arg = (command.args or "").strip().lower()
    if arg != "all" and arg not in KINDS:
        await answer(message, Reply(t("usage-unsubscribe")))
        return
    here = await subscriptions_here(subscriptions, message, None if arg == "all" else (arg,))
    groups = None if arg in ("all", "presence") else ()
    # Nothing removed: a scoped person may not take away what reaches further.
    if await refused_here(message, ctx, here, groups, digest=arg in ("all", "attendance")):
        return
    chat_id, thread = message.chat.id, thread_of(message)
    n = 0
    if arg in ("all", "presence"):
        n += await jobs.watches.remove_all(chat_id, thread)
    if arg in ("all", "attendance"):
        n += int(await jobs.remove_report(chat_id, thread))
    if arg == "all":
        n += await subscriptions.remove(chat_id, thread, None)
    elif arg in STORED_KINDS:
        n += await subscriptions.remove(chat_id, thread, arg)
    await ctx.audit.add(
        ctx.caller.user_id,
        "unsubscribe",
        str(chat_id),
        {"kind": arg, "thread": thread},
        str(n),
        ctx.clock(),
    )
    await answer(message, Reply(t("unsub-done", count=n)))


def fence_lines(
    t: T, watches: Sequence[FenceWatch], directory: Directory, scope: frozenset[int] | None
) -> list[str]:
    """The chat's fence watches (/fence), those set within the reader's `scope` named."""

    def visible(w: FenceWatch) -> bool:
        return within(scope, scope_org=w.scope_org, named=True)

    return fence_watch_lines(t, watches, directory, visible)


async def list_subscriptions(
    message: Message,
    ctx: LookupContext,
    subscriptions: SubscriptionRepo,
    reports: ReportRepo,
    mutes: MuteRepo,
    fences: FenceRepo,
    follows: FollowRepo,
) -> None:
    t, directory, settings = ctx.t, ctx.directory, ctx.settings
    chat_id, scope = message.chat.id, ctx.caller.scope
    now = ctx.clock()
    rows = await subscriptions.for_chat(chat_id)
    # Presence is the chat's watches and attendance its daily digest (bot.jobs): listed
    # from there, once each.
    watches = await ctx.jobs.watches.for_chat(chat_id)
    digests = await reports.for_chat(chat_id)
    extra = scoped_jobs_lines(t, watches, digests, directory, settings.bridge.timezone, scope)
    extra += fence_lines(t, await fences.watches_for_chat(chat_id), directory, scope)

    def visible(f: Follow) -> bool:  # set within the reader's scope: named
        return within(scope, scope_org=f.scope_org, named=True)

    running = await follows.for_chat(chat_id, now)
    extra += follow_lines(t, running, directory, visible, settings.bridge.tz, now)
    until = await mutes.get(chat_id)
    muted = until.astimezone(settings.bridge.tz) if until is not None and until > now else None
    await answer(message, subscriptions_text(t, rows, extra, directory, scope, muted))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.middleware(lookup_context)
    r.callback_query.middleware(lookup_context)
    r.callback_query.middleware(asker_only)
    r.message.register(subscribe, Command("subscribe"), ChatManager(Role.SUPERVISOR))
    picks = PickCb.filter(F.action == PickAction.SUBSCRIBE)
    r.callback_query.register(subscribe_picked, picks, ChatManager(Role.SUPERVISOR))
    r.message.register(unsubscribe, Command("unsubscribe"), ChatManager(Role.SUPERVISOR))
    r.message.register(list_subscriptions, Command("subscriptions"), ChatManager(Role.SUPERVISOR))
    # What ChatManager refused to someone with the role: not an administrator of this group.
    r.message.register(
        chat_change_refused(Role.SUPERVISOR),
        Command("subscribe", "unsubscribe", "subscriptions"),
        MinRole(Role.SUPERVISOR),
    )
    r.callback_query.register(chat_change_refused(Role.SUPERVISOR), picks, MinRole(Role.SUPERVISOR))
    # /mute after these, as it was registered here before (no command is shared).
    r.include_router(mute.router())
    return r
