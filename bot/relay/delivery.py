"""The delivery worker: sends outbox rows to Telegram, in order per chat, at least once.

Each chat with due rows gets one drainer task that sends its rows one after
another (through `Sender`); chats proceed in parallel, all through the bot's one
flood limiter. A row is marked 'sending' before the call and 'sent' (with its
message ids) after it: a crash in between means a resend, never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.i18n import Translate
from bot.metrics import Metrics
from bot.relay.files import SentFiles
from bot.relay.messages import AckEdit, CaptionEdit, TextMessage, read_message
from bot.relay.sender import ChatGone, Sender
from bot.render.relay import mute_summary
from bot.render.text import esc, visible_text
from bot.telegram.media import MediaFetcher
from storage.chats import ChatRepo
from storage.incidents import IncidentRepo
from storage.mutes import MuteRepo
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
STOP_GRACE_S = 5.0


class Delivery:
    """Drains the outbox. `wake()` after enqueueing; `run()` as a background task."""

    def __init__(
        self,
        bot: Bot,
        media: MediaFetcher,
        metrics: Metrics,
        t: Translate,
        clock: Callable[[], datetime],
        *,
        outbox: OutboxRepo,
        incidents: IncidentRepo,
        mutes: MuteRepo,
        chats: ChatRepo,
        on_chat_gone: Callable[[int, str], Awaitable[None]],
    ) -> None:
        self.bot = bot
        self.outbox = outbox
        self.incidents = incidents
        self.mutes = mutes
        self.chats = chats
        self.media = media
        self.metrics = metrics
        self.t = t  # in BRIDGE_LANGUAGE
        self._on_chat_gone = on_chat_gone
        self.clock = clock
        self.sent_files = SentFiles()
        self.sender = Sender(
            bot,
            outbox=outbox,
            incidents=incidents,
            media=media,
            sent_files=self.sent_files,
            t=self.t,
        )
        self._wake = asyncio.Event()
        self._active: dict[int, asyncio.Task[None]] = {}
        self.idle = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        recovered = await self.outbox.recover()
        if recovered:
            log.warning(
                "%d messages were in flight at the last stop: sending them again", recovered
            )
        while True:
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery round failed; retrying")
            timeout = 30.0
            muted = await self.mutes.active(self.clock())
            # A muted chat's rows wait for the mute's end, a busy chat's for its drainer
            # (which wakes this loop when it ends): neither is a reason to spin.
            due = await self.outbox.next_due(exclude=frozenset(muted) | frozenset(self._active))
            if due is not None:
                timeout = max(0.0, min(timeout, (due - self.clock()).total_seconds()))
            if muted:
                soonest = min(muted.values())
                timeout = max(0.0, min(timeout, (soonest - self.clock()).total_seconds()))
            if not self._active and timeout > 0:
                self.idle.set()
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands
            # as the wake-up fires, and stop() then waits for this loop forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(timeout, 0.01)):
                    await self._wake.wait()
            self._wake.clear()

    async def _round(self) -> None:
        if self._stopping:
            return
        now = self.clock()
        for chat_id in await self.mutes.ended(now):
            await self._end_mute(chat_id)
        muted = frozenset((await self.mutes.active(now)).keys())
        busy = frozenset(self._active)
        for chat_id in await self.outbox.chats_with_work(now, exclude=muted | busy):
            self.idle.clear()
            task = asyncio.create_task(self._drain(chat_id))
            self._active[chat_id] = task
            task.add_done_callback(functools.partial(self._drained, chat_id))

    def _drained(self, chat_id: int, _task: asyncio.Task[None]) -> None:
        self._active.pop(chat_id, None)
        self._wake.set()

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Start no new send; let those in flight finish for up to `grace` seconds, so a
        message Telegram took is recorded as sent and not sent again after a restart."""
        self._stopping = True
        tasks = list(self._active.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, chat_id: int) -> None:
        while not self._stopping:
            if await self.mutes.get(chat_id) is not None:
                return
            row = await self.outbox.head(chat_id)
            if row is None or row.next_at > self.clock():
                return
            await self.outbox.mark_sending(row.id)
            try:
                ids = await self.sender.send(row)
            except TelegramMigrateToChat as exc:
                new_id = exc.migrate_to_chat_id
                log.info("chat %s became supergroup %s: moving its rows", chat_id, new_id)
                await self.outbox.retry_later(row.id, "migrated", self.clock())
                await self.chats.upsert(chat_id, "group", None)
                await self.chats.migrate(chat_id, new_id)
                self._wake.set()
                return
            except ChatGone as exc:
                await self.outbox.kill_chat(chat_id, str(exc))
                self.metrics.message("failed")
                await self._on_chat_gone(chat_id, str(exc))
                return
            except TelegramRetryAfter as exc:
                self.metrics.message("429")
                await self.outbox.retry_later(
                    row.id, "retry after", self.clock() + timedelta(seconds=exc.retry_after)
                )
                return
            except TelegramBadRequest as exc:
                # Refused for good (bad HTML, a deleted topic, ...): a dead letter.
                log.error("message %s refused by Telegram: %s", row.id, exc.message)
                await self.outbox.mark_dead(row.id, exc.message)
                self.metrics.message("failed")
                continue
            except Exception as exc:
                # A server or network error, or one nobody foresaw (a 429 without
                # retry_after, ...): tried again later, never left 'sending' until a restart.
                if not isinstance(exc, TelegramServerError | TelegramNetworkError):
                    log.exception("message %s failed unexpectedly; will retry", row.id)
                if row.attempts + 1 >= MAX_ATTEMPTS:
                    await self.outbox.mark_dead(row.id, f"{type(exc).__name__}: {exc}")
                    self.metrics.message("failed")
                    continue
                delay = min(2 ** (row.attempts + 1), 300)
                await self.outbox.retry_later(
                    row.id, f"{type(exc).__name__}: {exc}", self.clock() + timedelta(seconds=delay)
                )
                self.metrics.message("retried")
                return
            await self.outbox.mark_sent(row.id, ids, self.clock())
            self.metrics.message("sent")

    async def _end_mute(self, chat_id: int) -> None:
        """A mute ended: one summary of what was held, then the held incidents in order."""
        rows = [
            (r, read_message(r.payload, r.incident_id))
            for r in await self.outbox.open_rows(chat_id)
        ]
        # Incidents, recordings and digests with their file are sent, not folded.
        folded = [(r, m) for r, m in rows if r.kind != "incidents" and isinstance(m, TextMessage)]
        # Edits of messages already sent (acknowledgements, completed captions) held nothing.
        kinds = [r.kind for r, m in rows if not isinstance(m, AckEdit | CaptionEdit)]
        if kinds:
            # visible_text unescapes: escape the folded lines again for HTML.
            lines = [f"• {esc(visible_text(m.text)[:300])}" for _r, m in folded]
            text = mute_summary(self.t, kinds, lines)
            await self.outbox.summarize(
                chat_id,
                TextMessage(text=text).to_payload(),
                folded=[r.id for r, _m in folded],
                before=min(r.sort_key for r, _m in rows),
                now=self.clock(),
            )
        await self.mutes.clear(chat_id)
        self._wake.set()
