"""The delivery worker: sends outbox rows to Telegram, in order per chat, at least once.

Each chat with due rows gets one drainer task that sends its rows one after
another; chats proceed in parallel, all through the bot's one flood limiter.
A row is marked 'sending' before the call and 'sent' (with its message ids)
after it: a crash in between means a resend, never a loss.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import AckCb
from bot.i18n import Translator
from bot.media import MediaError, MediaFetcher, MediaProblem
from bot.metrics import Metrics
from bot.relay.render import mute_summary
from bot.text import esc, visible_text
from storage.chats import ChatRepo
from storage.incidents import Incident, IncidentRepo
from storage.mutes import MuteRepo
from storage.outbox import OutboxRepo, OutboxRow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
STOP_GRACE_S = 5.0
GONE_MARKERS = ("chat not found", "bot was kicked", "user is deactivated", "chat was deleted")


def ack_keyboard(incident_id: int, label: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=label, callback_data=AckCb(incident=incident_id))
    return kb.as_markup()


class ChatGone(Exception):
    """The chat blocked the bot, removed it, or no longer exists."""


class Delivery:
    """Drains the outbox. `wake()` after enqueueing; `run()` as a background task."""

    def __init__(
        self,
        bot: Bot,
        *,
        outbox: OutboxRepo,
        incidents: IncidentRepo,
        mutes: MuteRepo,
        chats: ChatRepo,
        media: MediaFetcher,
        metrics: Metrics,
        translator: Translator,
        language: str,
        on_chat_gone: Callable[[int, str], Awaitable[None]],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.bot = bot
        self.outbox = outbox
        self.incidents = incidents
        self.mutes = mutes
        self.chats = chats
        self.media = media
        self.metrics = metrics
        self.t = translator.get(language)
        self._on_chat_gone = on_chat_gone
        self.clock = clock or (lambda: datetime.now(UTC))
        # An incident's message, rendered from the stored incident when a row is sent
        # (`Relay.incident_message`): its rows carry only the incident's id.
        self.render_incident: Callable[[Incident], dict[str, Any]] | None = None
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
                ids = await self._send(row)
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
            except (TelegramServerError, TelegramNetworkError) as exc:
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
            except TelegramBadRequest as exc:
                # Refused for good (bad HTML, a deleted topic, ...): a dead letter.
                log.error("message %s refused by Telegram: %s", row.id, exc.message)
                await self.outbox.mark_dead(row.id, exc.message)
                self.metrics.message("failed")
                continue
            await self.outbox.mark_sent(row.id, ids, self.clock())
            self.metrics.message("sent")

    async def _send(self, row: OutboxRow) -> list[int]:
        try:
            return await self._send_payload(row)
        except TelegramForbiddenError as exc:
            raise ChatGone(exc.message) from None
        except (TelegramBadRequest, TelegramNotFound) as exc:
            if any(m in exc.message.lower() for m in GONE_MARKERS):
                raise ChatGone(exc.message) from None
            raise

    async def _send_payload(self, row: OutboxRow) -> list[int]:
        p: dict[str, Any] = row.payload
        thread = row.thread_id or None
        if "edit" in p:
            e = p["edit"]
            markup = ack_keyboard(e["ack"], e["ack_label"]) if e.get("ack") else None
            try:
                await self.bot.edit_message_text(
                    text=e["text"],
                    chat_id=row.chat_id,
                    message_id=e["message_id"],
                    reply_markup=markup,
                )
            except TelegramBadRequest as exc:
                if "not modified" not in exc.message and "not found" not in exc.message:
                    raise
            return [e["message_id"]]
        if "voice_url" in p:
            return await self._send_voice(row, p)
        if row.incident_id is not None and self.render_incident is not None:
            incident = await self.incidents.get(row.incident_id)
            if incident is not None:  # shows its acknowledgement if one came meanwhile
                p = {**p, **self.render_incident(incident)}
        markup = ack_keyboard(p["ack"], p.get("ack_label", "✅")) if p.get("ack") else None
        text = p["text"]
        msg = await self.bot.send_message(
            row.chat_id, text, message_thread_id=thread, reply_markup=markup
        )
        ids = [msg.message_id]
        if row.incident_id is not None:
            await self.incidents.add_message(row.incident_id, row.chat_id, msg.message_id)
        ids += await self._attachments(row, p.get("attachments") or [], p.get("caption"), msg)
        if "document" in p:  # jobs: a CSV after its summary, {"name", "data_b64", "caption"}
            doc = p["document"]
            m = await self.bot.send_document(
                row.chat_id,
                BufferedInputFile(base64.b64decode(doc["data_b64"]), doc["name"]),
                caption=doc.get("caption"),
                message_thread_id=thread,
                reply_to_message_id=msg.message_id,
            )
            ids.append(m.message_id)
        return ids

    async def _send_voice(self, row: OutboxRow, p: dict[str, Any]) -> list[int]:
        """Jobs: a recording `{"text": caption, "voice_url", "duration"?}` as voice or audio;
        the caption with a note and the link when the file cannot be fetched."""
        thread = row.thread_id or None
        try:
            clip = await self.media.fetch(p["voice_url"])
        except MediaError as exc:
            if exc.problem is MediaProblem.TOO_BIG:
                note = self.t("rec-too-big", url=p["voice_url"])
            elif exc.problem is MediaProblem.DEAD:
                note = self.t("rec-dead", detail=exc.detail)
            else:
                note = self.t("rec-unreachable", detail=exc.detail)
            msg = await self.bot.send_message(
                row.chat_id, p["text"] + "\n" + note, message_thread_id=thread
            )
            return [msg.message_id]
        file = BufferedInputFile(clip.data, clip.filename)
        send = self.bot.send_voice if clip.is_voice else self.bot.send_audio
        try:
            m = await send(
                row.chat_id,
                file,
                caption=p["text"],
                duration=p.get("duration"),
                message_thread_id=thread,
            )
        except TelegramBadRequest as exc:
            if any(marker in exc.message.lower() for marker in GONE_MARKERS):
                raise
            # Some chats refuse voice messages (a user's privacy setting): send the file.
            m = await self.bot.send_document(
                row.chat_id, file, caption=p["text"], message_thread_id=thread
            )
        return [m.message_id]

    async def _attachments(
        self, row: OutboxRow, items: list[dict[str, Any]], caption: str | None, parent: Message
    ) -> list[int]:
        if not items:
            return []
        ids: list[int] = []
        thread = row.thread_id or None
        photos: list[tuple[str, bytes]] = []
        failed: list[str] = []
        audios: list[tuple[str, bytes, bool]] = []
        for item in items:
            try:
                clip = await self.media.fetch(item["url"])
            except MediaError:
                failed.append(item["url"])
                continue
            if item["kind"] == "photo":
                photos.append((clip.filename, clip.data))
            else:
                audios.append((clip.filename, clip.data, clip.is_voice))
        if len(photos) == 1:
            name, data = photos[0]
            m = await self.bot.send_photo(
                row.chat_id,
                BufferedInputFile(data, name),
                caption=caption,
                message_thread_id=thread,
                reply_to_message_id=parent.message_id,
            )
            ids.append(m.message_id)
        elif photos:
            for start in range(0, len(photos), 10):  # an album holds at most 10
                chunk = photos[start : start + 10]
                media = [
                    InputMediaPhoto(
                        media=BufferedInputFile(data, name), caption=caption if i == 0 else None
                    )
                    for i, (name, data) in enumerate(chunk)
                ]
                sent = await self.bot.send_media_group(
                    row.chat_id,
                    media=list(media),
                    message_thread_id=thread,
                    reply_to_message_id=parent.message_id,
                )
                ids += [m.message_id for m in sent]
        for name, data, voice in audios:
            file = BufferedInputFile(data, name)
            if voice:
                m = await self.bot.send_voice(
                    row.chat_id,
                    file,
                    caption=caption,
                    message_thread_id=thread,
                    reply_to_message_id=parent.message_id,
                )
            else:
                m = await self.bot.send_audio(
                    row.chat_id,
                    file,
                    caption=caption,
                    message_thread_id=thread,
                    reply_to_message_id=parent.message_id,
                )
            ids.append(m.message_id)
        if failed:
            links = "\n".join(f"📎 {esc(u)}" for u in failed)
            m = await self.bot.send_message(
                row.chat_id,
                self.t("inc-attachments-failed") + "\n" + links,
                message_thread_id=thread,
                reply_to_message_id=parent.message_id,
            )
            ids.append(m.message_id)
        return ids

    async def _end_mute(self, chat_id: int) -> None:
        """A mute ended: one summary of what was held, then the held incidents in order."""
        rows = await self.outbox.open_rows(chat_id)
        # Incidents, recordings and digests with their file are sent, not folded.
        kept = ("edit", "voice_url", "document")
        folded = [
            r for r in rows if r.kind != "incidents" and not any(k in r.payload for k in kept)
        ]
        kinds = [r.kind for r in rows if "edit" not in r.payload]
        if kinds:
            # visible_text unescapes: escape the folded lines again for HTML.
            lines = [f"• {esc(visible_text(r.payload.get('text', ''))[:300])}" for r in folded]
            text = mute_summary(self.t, kinds, lines)
            await self.outbox.summarize(
                chat_id,
                {"text": text},
                folded=[r.id for r in folded],
                before=min(r.sort_key for r in rows),
                now=self.clock(),
            )
        await self.mutes.clear(chat_id)
        self._wake.set()
