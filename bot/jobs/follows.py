"""/follow's live locations: sent, moved as the fixes change, stopped at their end.

The position poll (`bot.jobs.positions`) asks `users()` whom the follows concern and hands
the fixes it got to `on_fixes()`. Each followed user has a line (who, since when, the fix's
age; a Stop button) and a live location under it. A tick:

- stops the follows that ended or were stopped (`stopMessageLiveLocation`, the line says
  so, no button) and forgets them;
- sends what is missing (a new follow, a group member who came online: at most
  `MAX_SHOWN` per follow), its live period running to the follow's end;
- moves a live location only when its fix changed (never "not modified"), and edits a line
  only when its text changed.

One live location per person per chat (or topic), however they are followed (`assign`):
the user's own follow wins; a group follow skips a member shown by another follow there
and, when it showed them first, hands them over (its live location stopped, its line
saying who shows them now). When the other follow ends, the group picks the member up again
at the next tick (the same tick when it ran out), as a member who came online.

Moves and line edits are sent in the background at low priority (`low_priority()`):
relayed incidents and replies take a short window first, and the tick does not wait for
them. A user whose update is still in flight is skipped this tick: the newest fix wins,
nothing queues up. What was shown is stored (`FollowRepo`), so a
restarted bridge edits the same messages again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

from bot.geo.measure import telegram_heading
from bot.platform.models import Fix
from bot.relay.context import Context, Part
from bot.render.follow import follow_line, stop_keyboard
from bot.telegram.flood import low_priority
from storage.follows import Follow, FollowMessage, FollowRepo

log = logging.getLogger(__name__)

MAX_SHOWN = 10
"""Live locations of one talk group's follow, at most (the rest are named)."""
MIN_LIVE_S = 60  # Telegram's shortest live period

Shown = tuple[int, int, float, float, datetime | None]  # for FollowRepo.record_fixes


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who each follow shows, one live location per person per chat/topic.

    `update`: (follow, user, its message row if one was sent) to bring up to date;
    `hand_over`: (follow, its row, the follow that shows that user here instead) to stop.
    """

    update: list[tuple[Follow, int, FollowMessage | None]]
    hand_over: list[tuple[Follow, FollowMessage, Follow]]


def assign(
    follows: Sequence[Follow],
    messages: Mapping[int, list[FollowMessage]],
    fixes: Mapping[int, Fix],
    members: Callable[[Follow], list[int]],
) -> Assignment:
    """Share out the people of these follows so that a chat/topic shows each at most once.

    Per chat/topic: a user's own follow takes them first; then a group follow keeps the
    members it already shows (the older follow first, should two groups show one); then
    each group follow, oldest first, takes members who came online and are shown by no
    one there, up to `MAX_SHOWN` of its own. Rows a follow shows but no longer owns are
    to be handed over.
    """
    owner: dict[tuple[int, int, int], Follow] = {}  # (chat, thread, user) -> the follow
    ordered = sorted(follows, key=lambda f: f.id)
    groups = [f for f in ordered if f.target_kind == "group"]
    for f in ordered:
        if f.target_kind == "user":
            owner.setdefault((f.chat_id, f.thread_id, f.target_id), f)
    for f in groups:
        for m in messages.get(f.id, []):
            owner.setdefault((f.chat_id, f.thread_id, m.user_id), f)
    update: list[tuple[Follow, int, FollowMessage | None]] = []
    hand_over: list[tuple[Follow, FollowMessage, Follow]] = []
    for f in ordered:
        if f.target_kind == "user":
            if owner[(f.chat_id, f.thread_id, f.target_id)] is f:
                row = next((m for m in messages.get(f.id, []) if m.user_id == f.target_id), None)
                update.append((f, f.target_id, row))
            continue
        kept = 0
        for m in messages.get(f.id, []):
            by = owner[(f.chat_id, f.thread_id, m.user_id)]
            if by is f:
                update.append((f, m.user_id, m))
                kept += 1
            else:
                hand_over.append((f, m, by))
        for uid in members(f):
            if kept >= MAX_SHOWN:
                break
            key = (f.chat_id, f.thread_id, uid)
            if key in owner or (fix := fixes.get(uid)) is None or not fix.online:
                continue
            owner[key] = f
            update.append((f, uid, None))
            kept += 1
    return Assignment(update, hand_over)


class FollowUpdater(Part):
    """Keeps every follow's messages in step with the fixes the poll brings."""

    def __init__(self, ctx: Context, bot: Bot, repo: FollowRepo) -> None:
        super().__init__(ctx)
        self.bot = bot
        self.repo = repo
        self._in_flight: set[tuple[int, int]] = set()  # (chat, message) being edited
        self._lines: dict[tuple[int, int], str] = {}  # (chat, message) -> text shown
        self._finishing = asyncio.Lock()
        self._busy: dict[tuple[int, int], asyncio.Task[None]] = {}  # (follow, user) -> its update
        self._tasks: set[asyncio.Task[None]] = set()
        self._starting: set[tuple[int, int, str, int]] = set()  # being shown by /follow

    # -- whom ------------------------------------------------------------------------------

    def members(self, follow: Follow) -> list[int]:
        """A followed talk group's members its follower may see (none for a user)."""
        if follow.target_kind != "group":
            return []
        scope = None if follow.scope_org is None else self.directory.subtree(follow.scope_org)
        group = self.directory.group(follow.target_id, scope)
        if group is None:
            return []
        return [uid for uid in group.member_ids if self.directory.user(uid, scope) is not None]

    async def users(self, now: datetime) -> set[int]:
        """Whose fixes the running follows need: followed users, the members shown for a
        group, and, while a group shows fewer than `MAX_SHOWN`, its members (to see who
        comes online)."""
        follows = await self.repo.active(now)
        shown = await self.repo.messages([f.id for f in follows if f.target_kind == "group"])
        users: set[int] = set()
        for f in follows:
            if f.target_kind == "user":
                users.add(f.target_id)
                continue
            mine = {m.user_id for m in shown[f.id]}
            users |= mine
            if len(mine) < MAX_SHOWN:
                users.update(self.members(f))
        return users

    @contextlib.contextmanager
    def starting(self, chat_id: int, thread_id: int, kind: str, target_id: int) -> Iterator[None]:
        """While /follow starts this follow and sends its first messages: no tick sends
        them too (taken before the follow is stored, so no tick can see it first)."""
        key = (chat_id, thread_id, kind, target_id)
        self._starting.add(key)
        try:
            yield
        finally:
            self._starting.discard(key)

    # -- a tick ----------------------------------------------------------------------------

    async def on_fixes(self, fixes: Mapping[int, Fix], now: datetime) -> None:
        """Stop what ended, hand over who another follow shows, then send what is missing
        and move what moved — in the background, at low priority: the tick (and the
        geofences after it) does not wait for a short chat budget. A user whose previous
        update is still on its way is skipped: the next tick brings the newest fix."""
        await self.finish(now)
        # Rows read below may predate what an update in flight now records: leave its
        # user to the next tick, or a stale row would send (or drop) a live location twice.
        busy = set(self._busy)
        follows = await self.repo.active(now)
        messages = await self.repo.messages([f.id for f in follows])
        plan = assign(follows, messages, fixes, self.members)
        with low_priority():  # the tasks started here inherit it
            for f, m, by in plan.hand_over:
                if (f.id, m.user_id) in busy or self._is_starting(f) or self._is_starting(by):
                    continue
                self._spawn((f.id, m.user_id), self._hand_over(f, m, by, now))
            for f, uid, row in plan.update:
                if (f.id, uid) in busy or self._is_starting(f) or self._own_starting(f, uid):
                    continue
                self._spawn((f.id, uid), self._update(f, uid, row, fixes.get(uid), now))

    def _is_starting(self, f: Follow) -> bool:
        return (f.chat_id, f.thread_id, f.target_kind, f.target_id) in self._starting

    def _own_starting(self, f: Follow, uid: int) -> bool:
        """A group's member whose own follow /follow is starting here: it takes them."""
        return (f.chat_id, f.thread_id, "user", uid) in self._starting

    def _spawn(self, key: tuple[int, int], work: Coroutine[Any, Any, None]) -> None:
        if key in self._busy:
            work.close()
            return
        task = asyncio.create_task(work)
        self._busy[key] = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._done, key))

    async def _update(
        self, f: Follow, uid: int, shown: FollowMessage | None, fix: Fix | None, now: datetime
    ) -> None:
        result = await self._one(f, uid, shown, fix, now)
        if result is not None:
            await self.repo.record_fixes([result])

    def _done(self, key: tuple[int, int], task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._busy.get(key) is task:
            del self._busy[key]
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a follow's update failed; the next tick tries again", exc_info=exc)

    async def settle(self) -> None:
        """Wait for the updates in flight (tests, and a clean stop)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """End the updates in flight (the bridge stops)."""
        for task in list(self._tasks):
            task.cancel()
        await self.settle()

    async def show(self, follow: Follow, fixes: Mapping[int, Fix], now: datetime) -> None:
        """Send a new follow's messages now (the command's answer), with these fixes: for a
        user, first take them over from a group follow here that shows them."""
        here = await self._here(follow, now)
        if follow.target_kind == "user":  # a group's move of them on its way lands first
            for f in here:
                if (task := self._busy.get((f.id, follow.target_id))) is not None:
                    await asyncio.wait({task})
        here.append(follow)  # even in a paused chat: the command's answer
        messages = await self.repo.messages([f.id for f in here])
        plan = assign(here, messages, fixes, self.members)
        for f, m, by in plan.hand_over:
            if by.id == follow.id:
                await self._hand_over(f, m, by, now)
        work = [
            self._one(f, uid, row, fixes.get(uid), now)
            for f, uid, row in plan.update
            if f.id == follow.id
        ]
        results = await asyncio.gather(*work)
        await self.repo.record_fixes(r for r in results if r is not None)

    async def _here(self, follow: Follow, now: datetime) -> list[Follow]:
        """The other running follows of this follow's chat/topic."""
        return [
            f
            for f in await self.repo.active(now)
            if (f.chat_id, f.thread_id) == (follow.chat_id, follow.thread_id) and f.id != follow.id
        ]

    async def others_here(self, follow: Follow, now: datetime) -> set[int]:
        """Members of a group follow that other follows of its chat/topic show (their own
        follow, or another group's): the group does not show them."""
        here = await self._here(follow, now)
        messages = await self.repo.messages([f.id for f in here if f.target_kind == "group"])
        taken = {f.target_id for f in here if f.target_kind == "user"}
        taken |= {m.user_id for ms in messages.values() for m in ms}
        return taken & set(self.members(follow))

    async def _one(
        self, f: Follow, uid: int, shown: FollowMessage | None, fix: Fix | None, now: datetime
    ) -> Shown | None:
        """Bring one user's line and live location up to date; the fix shown, if one was."""
        try:
            caption_id = shown.caption_message_id if shown else None
            message_id = shown.message_id if shown else None
            if caption_id is None:
                caption_id = await self._send_line(f, uid, fix, now)
                if not await self._keep(f, uid, message_id, caption_id, now):
                    return None
            else:
                await self._edit_line(f, uid, caption_id, fix, now)
            if fix is None:
                return None
            if message_id is None:
                live_s = int((f.ends_at - now).total_seconds())
                if live_s < MIN_LIVE_S:
                    return None
                sent = await self.bot.send_location(
                    f.chat_id,
                    fix.lat,
                    fix.lon,
                    live_period=live_s,
                    heading=telegram_heading(fix.bearing),
                    message_thread_id=f.thread_id or None,
                )
                if not await self._keep(f, uid, sent.message_id, caption_id, now):
                    return None
                return (f.id, uid, fix.lat, fix.lon, fix.time)
            assert shown is not None
            if (shown.last_lat, shown.last_lon) == (fix.lat, fix.lon):
                return None  # the same place: Telegram would answer "not modified"
            key = (f.chat_id, message_id)
            if key in self._in_flight:
                return None  # the previous move is still on its way; the next tick follows
            self._in_flight.add(key)
            try:
                await self.bot.edit_message_live_location(
                    latitude=fix.lat,
                    longitude=fix.lon,
                    chat_id=f.chat_id,
                    message_id=message_id,
                    heading=telegram_heading(fix.bearing),
                )
            finally:
                self._in_flight.discard(key)
            return (f.id, uid, fix.lat, fix.lon, fix.time)
        except TelegramForbiddenError as exc:
            log.info("follow %s: the chat is closed to the bot (%s); stopping it", f.id, exc)
            await self.repo.stop(f.id, now)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return None
            # A live location the user stopped or deleted, a line deleted: nothing to move.
            log.info("follow %s: %s; stopping it", f.id, exc.message)
            await self.repo.stop(f.id, now)
        return None

    async def _keep(
        self, f: Follow, uid: int, message_id: int | None, caption_id: int, now: datetime
    ) -> bool:
        """Record what was just sent; if the follow was stopped meanwhile (its stop may have
        read its messages before these), stop them here: no live location is left behind."""
        if await self.repo.set_messages(f.id, uid, message_id, caption_id):
            return True
        sent = FollowMessage(f.id, uid, message_id, caption_id, None, None, None)
        await self._close(f, sent, now)
        return False

    def _line(
        self,
        f: Follow,
        uid: int,
        fix: Fix | None,
        now: datetime,
        ended: bool,
        by: Follow | None = None,
    ) -> str:
        user = self.directory.user(uid)
        name = user.name if user is not None else str(uid)
        to = None
        if by is not None:  # handed over: to their own follow, or (rarely) another group's
            group = self.directory.group(by.target_id) if by.target_kind == "group" else None
            to = "" if group is None else group.name
        return follow_line(
            self.t, self.t.lang, name, f.started_at, fix, now, self.tz, ended=ended, handed_to=to
        )

    async def _send_line(self, f: Follow, uid: int, fix: Fix | None, now: datetime) -> int:
        text = self._line(f, uid, fix, now, ended=False)
        sent = await self.bot.send_message(
            f.chat_id,
            text,
            message_thread_id=f.thread_id or None,
            reply_markup=stop_keyboard(self.t, f.id),
        )
        self._lines[(f.chat_id, sent.message_id)] = text
        return sent.message_id

    async def _edit_line(
        self, f: Follow, uid: int, caption_id: int, fix: Fix | None, now: datetime
    ) -> None:
        key = (f.chat_id, caption_id)
        text = self._line(f, uid, fix, now, ended=False)
        if self._lines.get(key) == text or key in self._in_flight:
            return
        self._in_flight.add(key)
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=f.chat_id,
                message_id=caption_id,
                reply_markup=stop_keyboard(self.t, f.id),
            )
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                raise
        finally:
            self._in_flight.discard(key)
        self._lines[key] = text

    # -- the end ---------------------------------------------------------------------------

    async def finish(self, now: datetime) -> int:
        """Stop the live locations of follows stopped or past their end, say so on their
        lines, and forget them; how many follows ended."""
        async with self._finishing:
            ended = await self.repo.finished(now)
            messages = await self.repo.messages([f.id for f in ended])
            for f in ended:
                for m in messages[f.id]:
                    await self._close(f, m, now)
                await self.repo.remove(f.id)
            return len(ended)

    async def _hand_over(self, f: Follow, m: FollowMessage, by: Follow, now: datetime) -> None:
        """Stop a group follow's live location of a member another follow here shows now,
        say so on its line, and forget it (the group may take them again later)."""
        await self._close(f, m, now, by)
        await self.repo.drop_user(f.id, m.user_id)

    async def _close(
        self, f: Follow, m: FollowMessage, now: datetime, by: Follow | None = None
    ) -> None:
        if m.message_id is not None:
            try:
                await self.bot.stop_message_live_location(
                    chat_id=f.chat_id, message_id=m.message_id
                )
            except (TelegramBadRequest, TelegramForbiddenError) as exc:
                # Ended by its period a moment before, or stopped by hand: it stands still.
                log.debug("follow %s: stopping %s: %s", f.id, m.message_id, exc)
        if m.caption_message_id is not None:
            key = (f.chat_id, m.caption_message_id)
            self._lines.pop(key, None)
            try:
                await self.bot.edit_message_text(
                    text=self._line(f, m.user_id, None, now, ended=True, by=by),
                    chat_id=f.chat_id,
                    message_id=m.caption_message_id,
                    reply_markup=None,
                )
            except (TelegramBadRequest, TelegramForbiddenError) as exc:
                log.debug("follow %s: ending line %s: %s", f.id, m.caption_message_id, exc)
