"""/heard <words> [date | from to] [user | group] (supervisor): recordings whose transcript
contains every word, newest first, ten a page, each with the ▶ of /recordings.

How the arguments read: words first (several separated by spaces; double quotes, straight or
curly, keep a phrase together and always make a word); then, from the first word after them
that is a time expression, one or two times (as /track takes them: a date alone is that whole
day); then a user or talk group. Without a time the last word names a user or group only when
it is exactly a name, account or pinyin (quote it to search for it instead). Without a
time, every transcript kept is searched. A name that fits several gets pick buttons; the
words and times are kept with that message, and a tap answers as if the id were typed.

The query of an answer is kept with its message (in the FSM storage, beside whose buttons a
message's are), so ◀ ▶▶ page through it later, after a restart too. A scoped supervisor finds
only recordings of speakers in their subtree, as /recordings shows only those.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import CallbackQuery, Message

from bot.asr.service import Transcriber
from bot.directory import Kind, Match
from bot.parsing.timeexpr import TimeExprError, parse_range, parse_time
from bot.render.heard import HEARD_PER_PAGE, HeardRow, heard_page, quoted
from bot.render.replies import Reply
from bot.telegram.callbacks import HeardPageCb, PickAction, PickCb, RecPlayCb
from handlers.filters import feature_router, remember_asker
from handlers.lookup import LookupContext, lookup_context
from handlers.recordings import locate
from handlers.reply import answer, edit
from handlers.resolve import kept_pick, picked_match, resolve_or_ask
from storage.roles import Role
from storage.transcript_search import Heard, TranscriptSearch

log = logging.getLogger(__name__)

MAX_SPAN = timedelta(days=3660)  # a range as long as recordings may be kept
MAX_PAGE = 10_000
QUERIES = "heard-queries"
QUERIES_KEPT = 200  # per chat: the newest answers' queries, for their page buttons
_NOT_TIMES = frozenset({"now", "现在"})  # words people say on the radio, not a range's end
_WORD = re.compile(r'"([^"]*)"|“([^”]*)”|(\S+)')
# What is meant as a time even when it is not one (2026-02-30, 25:00, -2x): told, not searched.
_TIMELIKE = re.compile(r"-[0-9]|[0-9]{4}[-/.][0-9]|[0-9]{1,2}[-/:：][0-9]")
# Letters and digits a Chinese keyboard types full-width (ＦＩＲＥ, １２): found as ASCII.
_HALF_WIDTH = MappingProxyType(
    {
        c: c - 0xFEE0
        for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
        for c in range(r[0], r[1] + 1)
    }
)


@dataclass(frozen=True)
class Word:
    text: str
    quoted: bool


def words_of(text: str) -> list[Word]:
    """The words typed: a quoted phrase is one word (an unmatched quote is a character)."""
    out: list[Word] = []
    for m in _WORD.finditer(text):
        if m[3] is not None:
            out.append(Word(m[3], False))
        else:
            out.append(Word(m[1] if m[1] is not None else m[2], True))
    return out


@dataclass(frozen=True)
class HeardArgs:
    """/heard as typed: the terms, the time words, the words naming a user or group."""

    terms: tuple[str, ...]
    times: tuple[str, ...] = ()
    target: str = ""


def read_args(text: str, now: datetime, tz: Any) -> HeardArgs:
    """Split /heard's arguments (see the module docstring); the target is not resolved."""

    def is_time(w: Word) -> bool:
        if w.quoted or w.text.lower() in _NOT_TIMES:
            return False
        if _TIMELIKE.match(w.text):
            return True
        try:
            parse_time(w.text, now, tz)
        except TimeExprError:
            return False
        return True

    words = words_of(text)
    first = next((k for k in range(1, len(words)) if is_time(words[k])), None)
    if first is None:
        terms = words
        times: list[Word] = []
        target: list[Word] = []
    else:
        end = first
        while end < len(words) and end - first < 4 and is_time(words[end]):
            end += 1
        terms, times, target = words[:first], words[first:end], words[end:]
    return HeardArgs(
        terms=tuple(dict.fromkeys(w.text.translate(_HALF_WIDTH) for w in terms if w.text.strip())),
        times=tuple(w.text for w in times),
        target=" ".join(w.text for w in target),
    )


@dataclass(frozen=True)
class HeardQuery:
    """What one /heard answer searches: kept with its message for the page buttons."""

    terms: tuple[str, ...]
    since: datetime | None = None
    until: datetime | None = None
    target: Match | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "terms": list(self.terms),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "kind": self.target.kind.value if self.target else None,
            "id": self.target.id if self.target else None,
            "label": self.target.label if self.target else None,
        }

    @classmethod
    def load(cls, data: Any) -> HeardQuery | None:
        """The query kept, or None when what is kept is not one (written by hand, or older)."""
        try:
            terms = tuple(str(x) for x in data["terms"])
            since = datetime.fromisoformat(data["since"]) if data["since"] else None
            until = datetime.fromisoformat(data["until"]) if data["until"] else None
            target = None
            if data["kind"] is not None:
                target = Match(Kind(data["kind"]), int(data["id"]), str(data["label"]), True)
        except (KeyError, TypeError, ValueError):
            return None
        return cls(terms, since, until, target) if terms else None


def _queries_key(bot_id: int, chat_id: int) -> StorageKey:
    return StorageKey(bot_id=bot_id, chat_id=chat_id, user_id=chat_id, destiny=QUERIES)


async def _keep_query(storage: BaseStorage, sent: Message, query: HeardQuery) -> None:
    if sent.bot is None:
        return
    key = _queries_key(sent.bot.id, sent.chat.id)
    kept = await storage.update_data(key, {str(sent.message_id): query.dump()})
    if len(kept) > QUERIES_KEPT + 20:
        newest = sorted(kept, key=int)[-QUERIES_KEPT:]
        await storage.set_data(key, {k: kept[k] for k in newest})


async def _kept_query(storage: BaseStorage, msg: Message) -> HeardQuery | None:
    if msg.bot is None:
        return None
    kept = await storage.get_data(_queries_key(msg.bot.id, msg.chat.id))
    return HeardQuery.load(kept.get(str(msg.message_id)))


def _bounds(query: HeardQuery, ctx: LookupContext) -> dict[str, Any] | None:
    """The search's speakers and talk group for this caller; None: the target is no longer
    one they may see."""
    directory, scope = ctx.directory, ctx.caller.scope
    out: dict[str, Any] = {}
    target = query.target
    if target is not None and target.kind is Kind.USER:
        user = directory.user(target.id, scope)
        if user is None:
            return None
        return {"speakers": {user.id}, "accounts": {user.account}}
    if target is not None:
        group = directory.group(target.id, scope)
        if group is None:
            return None
        out["group_name"] = group.name
    if scope is not None:
        users = directory.users(scope)
        out["speakers"] = {u.id for u in users}
        out["accounts"] = {u.account for u in users if u.account}
    return out


async def _play_buttons(ctx: LookupContext, hits: list[Heard]) -> dict[str, RecPlayCb]:
    """/recordings' ▶ for each hit the platform still lists (its user's day, page, place)."""
    tz = ctx.settings.bridge.tz
    wanted: dict[tuple[int, date], set[str]] = defaultdict(set)
    for h in hits:
        if h.user_id is not None:
            wanted[(h.user_id, h.begin.astimezone(tz).date())].add(h.recording_key)

    async def one(uid: int, day: date, keys: set[str]) -> dict[str, RecPlayCb]:
        user = ctx.directory.user(uid)
        if user is None:
            return {}
        dayint = int(day.strftime("%Y%m%d"))
        where = await locate(ctx.platform, user, day, keys)
        return {k: RecPlayCb(uid=uid, day=dayint, page=p, idx=i) for k, (p, i) in where.items()}

    found = await asyncio.gather(*(one(uid, day, keys) for (uid, day), keys in wanted.items()))
    return {k: cb for part in found for k, cb in part.items()}


async def _page(
    ctx: LookupContext, search: TranscriptSearch, query: HeardQuery, page: int
) -> Reply | None:
    """Page `page` of the answer to `query`; None when that page holds nothing (any more)."""
    t, tz = ctx.t, ctx.settings.bridge.tz
    bounds = _bounds(query, ctx)
    if bounds is None:
        assert query.target is not None
        return Reply(t("not-found", kind=query.target.kind.value, query=query.target.label))
    found = await search.find(
        query.terms,
        since=query.since,
        until=query.until,
        offset=(page - 1) * HEARD_PER_PAGE,
        limit=HEARD_PER_PAGE,
        **bounds,
    )
    if not found.hits:
        return None
    plays = await _play_buttons(ctx, found.hits)
    rows = []
    for h in found.hits:
        user = ctx.directory.user(h.user_id) if h.user_id is not None else None
        speaker = f"{user.name} ({user.account})" if user else (h.account or "—")
        rows.append(HeardRow(h, speaker, plays.get(h.recording_key)))
    filters = []
    if query.since is not None and query.until is not None:
        start, end = query.since.astimezone(tz), query.until.astimezone(tz)
        filters.append(
            t("heard-span", start=f"{start:%Y-%m-%d %H:%M}", end=f"{end:%Y-%m-%d %H:%M}")
        )
    if query.target is not None:
        filters.append(t("heard-who", name=query.target.label))
    return heard_page(
        t,
        query.terms,
        rows,
        page=page,
        total=found.total,
        filters=filters,
        tz=tz,
        more=found.more,
    )


async def _target(
    message: Message,
    ctx: LookupContext,
    name: str,
    query: HeardQuery,
    state: FSMContext,
    *,
    required: bool,
) -> tuple[Match | None, bool]:
    """The user or group `name` names in the caller's scope (None: it names none exactly
    and is not `required`: a word to search for), and whether the answer was given instead
    (it names nobody, or several: buttons to pick one, `query` kept with them)."""
    kinds = (Kind.USER, Kind.GROUP)
    found = ctx.directory.resolve(name, kinds, ctx.caller.scope)
    if not required and not any(m.exact for m in found):
        return None, False
    keep = {"query": query.dump()}
    match = await resolve_or_ask(
        message, ctx.t, ctx.directory, ctx.caller, name, kinds, PickAction.HEARD,
        state=state, keep=keep,
    )  # fmt: skip
    return match, match is None


async def heard(
    message: Message,
    command: CommandObject,
    ctx: LookupContext,
    transcriber: Transcriber,
    transcript_search: TranscriptSearch,
    state: FSMContext,
) -> None:
    t, tz = ctx.t, ctx.settings.bridge.tz
    if not transcriber.enabled:
        await answer(message, Reply(t("heard-off")))
        return
    now = ctx.clock()
    args = read_args(command.args or "", now, tz)
    terms, name, required = list(args.terms), args.target, True
    last_quoted = bool(terms) and words_of(command.args or "")[-1].quoted
    if not name and not args.times and len(terms) > 1 and not last_quoted:
        name, required = terms[-1], False  # a user or group only if exactly one's name
    rest = terms[:-1] if name and not required else terms
    if not rest:
        await answer(message, Reply(t("usage-heard")))
        return
    since = until = None
    if args.times:
        try:
            since, until = parse_range(args.times, now, tz, max_span=MAX_SPAN)
        except TimeExprError as err:
            await answer(message, Reply(t(err.msg_id, **err.msg_args) + "\n" + t("usage-heard")))
            return
    target = None
    if name:
        query = HeardQuery(tuple(rest), since, until)
        target, answered = await _target(message, ctx, name, query, state, required=required)
        if answered:
            return
        if target is not None:
            terms = rest
    await _search(message, ctx, transcript_search, HeardQuery(tuple(terms), since, until, target))


async def _search(
    message: Message, ctx: LookupContext, transcript_search: TranscriptSearch, query: HeardQuery
) -> None:
    """Answer `query` with its first page (typed, or finished with a pick), audited."""
    reply = await _page(ctx, transcript_search, query, 1)
    target, since, until = query.target, query.since, query.until
    # What was said on the radio is read here as ▶ would play it: audited the same way.
    await ctx.audit.add(
        ctx.caller.user_id,
        "heard",
        f"{target.kind.value}:{target.id}" if target is not None else "",
        {
            "words": list(query.terms),
            "from": since.isoformat() if since else None,
            "to": until.isoformat() if until else None,
        },
        "found" if reply is not None else "none",
        ctx.clock(),
    )
    if reply is None:
        reply = Reply(ctx.t("heard-none", words=quoted(query.terms)))
    sent = await answer(message, reply)
    if reply.keyboard is not None:
        await remember_asker(ctx.fsm_storage, sent, ctx.caller.user_id)
        await _keep_query(ctx.fsm_storage, sent, query)


async def picked(
    callback: CallbackQuery,
    callback_data: PickCb,
    ctx: LookupContext,
    transcriber: Transcriber,
    transcript_search: TranscriptSearch,
) -> None:
    """A pick button of /heard: the search as typed, with that user or group."""
    t = ctx.t
    picked_up = await kept_pick(
        callback, ctx, PickAction.HEARD, lambda kept: HeardQuery.load(kept.get("query"))
    )
    if picked_up is None:
        return
    msg, query = picked_up
    if not transcriber.enabled:
        await answer(msg, Reply(t("heard-off")))
        return
    kind, id_ = callback_data.kind, callback_data.id
    target = picked_match(ctx.directory, ctx.caller, kind, id_)
    if target is None:
        await answer(msg, Reply(t("not-found", kind=kind.value, query=id_)))
        return
    await _search(msg, ctx, transcript_search, replace(query, target=target))


async def page(
    callback: CallbackQuery,
    callback_data: HeardPageCb,
    ctx: LookupContext,
    transcript_search: TranscriptSearch,
) -> None:
    t, msg = ctx.t, callback.message
    query = await _kept_query(ctx.fsm_storage, msg) if isinstance(msg, Message) else None
    if query is None or not 1 <= callback_data.page <= MAX_PAGE:
        await callback.answer(t.plain("button-expired"), show_alert=True)
        return
    reply = await _page(ctx, transcript_search, query, callback_data.page)
    if reply is None:
        await callback.answer(t.plain("rec-last-page"))
        return
    await callback.answer()
    await edit(callback, reply)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, lookup_context)
    r.message.register(heard, Command("heard"))
    r.callback_query.register(page, HeardPageCb.filter())
    r.callback_query.register(picked, PickCb.filter(F.action == PickAction.HEARD))
    return r
