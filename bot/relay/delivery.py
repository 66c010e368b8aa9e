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
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
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


FIRST_WAIT_S = 10.0
FILE_ID_ERRORS = ("wrong file identifier", "file reference", "wrong remote file")


def _file_id_refused(exc: TelegramBadRequest) -> bool:
    """Telegram no longer takes a file id it gave (rare): the file is uploaded again."""
    return any(marker in exc.message.lower() for marker in FILE_ID_ERRORS)


class SentFiles:
    """Telegram file ids of files already sent, by the URL they were fetched from: a
    recording or an incident's photo that goes to ten chats is downloaded and uploaded
    once, then sent by its id (Telegram keeps a bot's file ids valid)."""

    def __init__(self, size: int = 2000) -> None:
        self._ids: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._size = size
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # lock, its users

    @contextlib.asynccontextmanager
    async def first(self, urls: list[str]) -> AsyncIterator[None]:
        """Hold the URLs not sent yet while one chat fetches and sends them: the other
        chats (drained in parallel) wait and then find their file ids, instead of
        downloading them too. Taken in sorted order, so two holders never wait for each
        other; waited for at most `FIRST_WAIT_S` — a first chat held up by its limits or
        retries must not hold up every other one."""
        wanted = sorted({url for url in urls if url not in self._ids})
        entries = [self._locks.setdefault(url, (asyncio.Lock(), [0])) for url in wanted]
        for _lock, users in entries:
            users[0] += 1
        try:
            async with contextlib.AsyncExitStack() as stack:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FIRST_WAIT_S):
                        for lock, _users in entries:
                            await stack.enter_async_context(lock)
                yield
        finally:
            for url, (_lock, users) in zip(wanted, entries, strict=True):
                users[0] -= 1
                if not users[0]:
                    del self._locks[url]

    def get(self, url: str) -> tuple[str, str] | None:
        """(kind, file id): kind is voice, audio, photo or document."""
        return self._ids.get(url)

    def remember(self, url: str, message: Message) -> None:
        if message.voice is not None:
            found = ("voice", message.voice.file_id)
        elif message.audio is not None:
            found = ("audio", message.audio.file_id)
        elif message.photo:
            found = ("photo", message.photo[-1].file_id)
        elif message.document is not None:
            found = ("document", message.document.file_id)
        else:
            return
        self._ids[url] = found
        self._ids.move_to_end(url)
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def forget(self, url: str) -> None:
        self._ids.pop(url, None)


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
        self.sent_files = SentFiles()
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
        the caption with a note and the link when the file cannot be fetched. A file
        already sent to another chat goes again by its Telegram file id, not downloaded
        and uploaded again."""
        async with self.sent_files.first([p["voice_url"]]):
            return await self._send_voice_now(row, p)

    async def _send_voice_now(self, row: OutboxRow, p: dict[str, Any]) -> list[int]:
        thread = row.thread_id or None
        url = p["voice_url"]
        known = self.sent_files.get(url)
        if known is not None:
            try:
                m = await self._send_file(row.chat_id, *known, p["text"], thread, p.get("duration"))
                return [m.message_id]
            except TelegramBadRequest as exc:
                if any(marker in exc.message.lower() for marker in GONE_MARKERS):
                    raise
                if _file_id_refused(exc):
                    self.sent_files.forget(url)
                # Otherwise this chat refuses it (voice messages, say): as below, per chat.
        try:
            clip = await self.media.fetch(url)
        except MediaError as exc:
            if exc.problem is MediaProblem.TOO_BIG:
                note = self.t("rec-too-big", url=url)
            elif exc.problem is MediaProblem.DEAD:
                note = self.t("rec-dead", detail=exc.detail)
            else:
                note = self.t("rec-unreachable", detail=exc.detail)
            msg = await self.bot.send_message(
                row.chat_id, p["text"] + "\n" + note, message_thread_id=thread
            )
            return [msg.message_id]
        file = BufferedInputFile(clip.data, clip.filename)
        kind = "voice" if clip.is_voice else "audio"
        try:
            m = await self._send_file(row.chat_id, kind, file, p["text"], thread, p.get("duration"))
        except TelegramBadRequest as exc:
            if any(marker in exc.message.lower() for marker in GONE_MARKERS):
                raise
            # Some chats refuse voice messages (a user's privacy setting): send the file —
            # to this chat only; the other chats still get a voice message.
            m = await self._send_file(row.chat_id, "document", file, p["text"], thread)
            return [m.message_id]
        self.sent_files.remember(url, m)
        return [m.message_id]

    async def _send_file(
        self,
        chat_id: int,
        kind: str,
        file: str | BufferedInputFile,
        caption: str | None,
        thread: int | None,
        duration: int | None = None,
        reply_to: int | None = None,
    ) -> Message:
        """Send a file (uploaded, or a Telegram file id) as `kind`: voice, audio, photo or
        document."""
        common: dict[str, Any] = {
            "caption": caption,
            "message_thread_id": thread,
            "reply_to_message_id": reply_to,
        }
        if kind == "voice":
            return await self.bot.send_voice(chat_id, file, duration=duration, **common)
        if kind == "audio":
            return await self.bot.send_audio(chat_id, file, duration=duration, **common)
        if kind == "photo":
            return await self.bot.send_photo(chat_id, file, **common)
        return await self.bot.send_document(chat_id, file, **common)

    async def _attachments(
        self, row: OutboxRow, items: list[dict[str, Any]], caption: str | None, parent: Message
    ) -> list[int]:
        async with self.sent_files.first([i["url"] for i in items]):
            return await self._attachments_now(row, items, caption, parent)

    async def _attachments_now(
        self, row: OutboxRow, items: list[dict[str, Any]], caption: str | None, parent: Message
    ) -> list[int]:
        sent: list[str] = []  # URLs already sent, so a retry never sends them twice
        ids: list[int] = []
        try:
            await self._send_attachments(row, items, caption, parent, sent, ids, reuse=True)
        except TelegramBadRequest as exc:
            if not _file_id_refused(exc):
                raise
            rest = [i for i in items if i["url"] not in sent]
            for item in rest:  # a file id Telegram no longer takes: upload them again
                self.sent_files.forget(item["url"])
            await self._send_attachments(row, rest, caption, parent, sent, ids, reuse=False)
        return ids

    async def _send_attachments(
        self,
        row: OutboxRow,
        items: list[dict[str, Any]],
        caption: str | None,
        parent: Message,
        sent: list[str],
        ids: list[int],
        *,
        reuse: bool,
    ) -> None:
        """An incident's images (one photo, or albums of up to 10) and audio, as replies
        to its message; what cannot be fetched is listed as links. Files sent to another
        chat before go by their Telegram file id. Adds the URLs it sent to `sent` and the
        message ids to `ids`, as it goes."""
        if not items:
            return
        thread = row.thread_id or None
        photos: list[tuple[str, str | BufferedInputFile]] = []
        audios: list[tuple[str, str | BufferedInputFile, str]] = []
        failed: list[str] = []
        for item in items:
            url = item["url"]
            known = self.sent_files.get(url) if reuse else None
            if known is not None:
                kind, file_id = known
                if kind == "photo":
                    photos.append((url, file_id))
                else:
                    audios.append((url, file_id, kind))
                continue
            try:
                clip = await self.media.fetch(url)
            except MediaError:
                failed.append(url)
                continue
            upload = BufferedInputFile(clip.data, clip.filename)
            if item["kind"] == "photo":
                photos.append((url, upload))
            else:
                audios.append((url, upload, "voice" if clip.is_voice else "audio"))
        if len(photos) == 1:
            url, file = photos[0]
            m = await self._send_file(
                row.chat_id, "photo", file, caption, thread, reply_to=parent.message_id
            )
            self.sent_files.remember(url, m)
            sent.append(url)
            ids.append(m.message_id)
        elif photos:
            for start in range(0, len(photos), 10):  # an album holds at most 10
                chunk = photos[start : start + 10]
                media = [
                    InputMediaPhoto(media=file, caption=caption if i == 0 else None)
                    for i, (_url, file) in enumerate(chunk)
                ]
                album = await self.bot.send_media_group(
                    row.chat_id,
                    media=list(media),
                    message_thread_id=thread,
                    reply_to_message_id=parent.message_id,
                )
                for (url, _file), m in zip(chunk, album, strict=False):
                    self.sent_files.remember(url, m)
                sent += [url for url, _file in chunk]
                ids += [m.message_id for m in album]
        for url, file, kind in audios:
            m = await self._send_file(
                row.chat_id, kind, file, caption, thread, reply_to=parent.message_id
            )
            self.sent_files.remember(url, m)
            sent.append(url)
            ids.append(m.message_id)
        if failed:
            links = "\n".join(f"📎 {esc(u)}" for u in failed)
            m = await self.bot.send_message(
                row.chat_id,
                self.t("inc-attachments-failed") + "\n" + links,
                message_thread_id=thread,
                reply_to_message_id=parent.message_id,
            )
            sent += failed
            ids.append(m.message_id)

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
