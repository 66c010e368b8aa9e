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

Moves and line edits are sent in the background at low priority (`low_priority()`):
relayed incidents and replies take a short window first, and the tick does not wait for
them. A user whose update is still in flight is skipped this tick: the newest fix wins,
nothing queues up. What was shown is stored (`FollowRepo`), so a
restarted bridge edits the same messages again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime

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


class FollowUpdater(Part):
    """Keeps every follow's messages in step with the fixes the poll brings."""

    def __init__(self, ctx: Context, bot: Bot, repo: FollowRepo) -> None:
        super().__init__(ctx)
        self.bot = bot
        self.repo = repo
        self._in_flight: set[tuple[int, int]] = set()  # (chat, message) being edited
        self._lines: dict[tuple[int, int], str] = {}  # (chat, message) -> text shown
        self._finishing = asyncio.Lock()
        self._busy: set[tuple[int, int]] = set()  # (follow, user) being updated
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

    def _wanted(
        self, follow: Follow, shown: list[FollowMessage], fixes: Mapping[int, Fix]
    ) -> list[int]:
        if follow.target_kind == "user":
            return [follow.target_id]
        have = [m.user_id for m in shown]
        new = [
            uid
            for uid in self.members(follow)
            if uid not in have and (fix := fixes.get(uid)) is not None and fix.online
        ]
        return have + new[: max(0, MAX_SHOWN - len(have))]

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
        """Stop what ended, then send what is missing and move what moved — in the
        background, at low priority: the tick (and the geofences after it) does not wait
        for a short chat budget. A user whose previous update is still on its way is
        skipped: the next tick brings the newest fix."""
        await self.finish(now)
        follows = await self.repo.active(now)
        messages = await self.repo.messages([f.id for f in follows])
        with low_priority():  # the tasks started here inherit it
            for f in follows:
                if (f.chat_id, f.thread_id, f.target_kind, f.target_id) in self._starting:
                    continue
                by_user = {m.user_id: m for m in messages[f.id]}
                for uid in self._wanted(f, messages[f.id], fixes):
                    key = (f.id, uid)
                    if key in self._busy:
                        continue
                    self._busy.add(key)
                    task = asyncio.create_task(
                        self._update(key, f, by_user.get(uid), fixes.get(uid), now)
                    )
                    self._tasks.add(task)
                    task.add_done_callback(self._done)

    async def _update(
        self,
        key: tuple[int, int],
        f: Follow,
        shown: FollowMessage | None,
        fix: Fix | None,
        now: datetime,
    ) -> None:
        try:
            result = await self._one(f, key[1], shown, fix, now)
            if result is not None:
                await self.repo.record_fixes([result])
        finally:
            self._busy.discard(key)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
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
        """Send a new follow's messages now (the command's answer), with these fixes."""
        shown = (await self.repo.messages([follow.id]))[follow.id]
        by_user = {m.user_id: m for m in shown}
        work = [
            self._one(follow, uid, by_user.get(uid), fixes.get(uid), now)
            for uid in self._wanted(follow, shown, fixes)
        ]
        results = await asyncio.gather(*work)
        await self.repo.record_fixes(r for r in results if r is not None)

    async def _one(
        self, f: Follow, uid: int, shown: FollowMessage | None, fix: Fix | None, now: datetime
    ) -> Shown | None:
        """Bring one user's line and live location up to date; the fix shown, if one was."""
        try:
            caption_id = shown.caption_message_id if shown else None
            message_id = shown.message_id if shown else None
            if caption_id is None:
                caption_id = await self._send_line(f, uid, fix, now)
                await self.repo.set_messages(f.id, uid, message_id, caption_id)
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
                await self.repo.set_messages(f.id, uid, sent.message_id, caption_id)
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

    def _line(self, f: Follow, uid: int, fix: Fix | None, now: datetime, ended: bool) -> str:
        user = self.directory.user(uid)
        name = user.name if user is not None else str(uid)
        return follow_line(self.t, self.t.lang, name, f.started_at, fix, now, self.tz, ended=ended)

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

    async def _close(self, f: Follow, m: FollowMessage, now: datetime) -> None:
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
                    text=self._line(f, m.user_id, None, now, ended=True),
                    chat_id=f.chat_id,
                    message_id=m.caption_message_id,
                    reply_markup=None,
                )
            except (TelegramBadRequest, TelegramForbiddenError) as exc:
                log.debug("follow %s: ending line %s: %s", f.id, m.caption_message_id, exc)
