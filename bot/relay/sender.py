"""The sender: one outbox row's typed message turned into Bot API calls.

A row may take several Telegram messages (a long incident, its attachments, a digest's
file); steps an earlier try sent are skipped (`_Steps`), files another chat was sent go
by their Telegram file id (`SentFiles`).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNotFound,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translate
from bot.relay.captions import TranscriptCaptions
from bot.relay.files import SentFiles
from bot.relay.messages import (
    AckEdit,
    Attachment,
    CaptionEdit,
    Document,
    DocumentMessage,
    FenceAlert,
    IncidentMessage,
    LegacyIncident,
    VoiceMessage,
    read_message,
)
from bot.render.relay import link
from bot.render.text import MESSAGE_LIMIT, Html, split_html, truncate_caption, visible_len
from bot.render.transcripts import Captioned
from bot.telegram.callbacks import AckCb
from bot.telegram.media import (
    TELEGRAM_PHOTO_LIMIT,
    MediaError,
    MediaFetcher,
    MediaProblem,
    MediaStream,
)
from storage.incidents import IncidentRepo
from storage.outbox import OutboxRepo, OutboxRow

log = logging.getLogger(__name__)

GONE_MARKERS = ("chat not found", "bot was kicked", "user is deactivated", "chat was deleted")


def ack_keyboard(incident_id: int, label: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=label, callback_data=AckCb(incident=incident_id))
    return kb.as_markup()


# A caption edit Telegram refuses because the message is no longer there to edit (deleted
# meanwhile, or no caption to complete): nothing to retry.
CAPTION_GONE = ("not found", "can't be edited", "message_id_invalid", "no caption")
FILE_ID_ERRORS = ("wrong file identifier", "file reference", "wrong remote file")
# An upload streams from the platform to Telegram: up to 50 MB over two networks.
UPLOAD_TIMEOUT_S = 600


def _file_id_refused(exc: TelegramBadRequest) -> bool:
    """Telegram no longer takes a file id it gave (rare): the file is uploaded again."""
    return any(marker in exc.message.lower() for marker in FILE_ID_ERRORS)


def _gone(exc: TelegramBadRequest) -> bool:
    """The chat itself is gone (not this message refused)."""
    return any(marker in exc.message.lower() for marker in GONE_MARKERS)


def _reply(message_id: int | None) -> ReplyParameters | None:
    """A reply to the row's first message, sent even if someone deleted that meanwhile."""
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


class _Steps:
    """The messages of one outbox row, sent step by step. Steps an earlier try sent (it
    failed part-way: a 429, a network error, a crash) are skipped and keep their ids;
    what was sent is recorded before the next message goes, so a retry never repeats it.
    A row of one message costs no extra write."""

    def __init__(self, outbox: OutboxRepo, row: OutboxRow) -> None:
        self._outbox = outbox
        self._row_id = row.id
        self.done: dict[str, list[int]] = dict(row.progress)
        self._dirty = False

    def get(self, key: str) -> list[int] | None:
        return self.done.get(key)

    async def flush(self) -> None:
        """Record the steps sent so far (called before sending the next message)."""
        if self._dirty:
            await self._outbox.mark_progress(self._row_id, self.done)
            self._dirty = False

    def record(self, keys: Sequence[str], ids: list[int]) -> None:
        for key in keys:
            self.done[key] = ids
        self._dirty = True

    async def run(
        self, keys: str | Sequence[str], send: Callable[[], Awaitable[list[int]]]
    ) -> list[int]:
        """`send()` unless every one of `keys` was sent before; the message ids."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        if all(key in self.done for key in keys):
            return self.done[keys[0]]
        await self.flush()
        ids = await send()
        self.record(keys, ids)
        return ids

    def ids(self) -> list[int]:
        """Every message id of the row, in the order sent, each once."""
        return list(dict.fromkeys(i for ids in self.done.values() for i in ids))


class ChatGone(Exception):
    """The chat blocked the bot, removed it, or no longer exists."""


class Sender:
    """Sends outbox rows; raises `ChatGone` when the chat can no longer receive."""

    def __init__(
        self,
        bot: Bot,
        *,
        outbox: OutboxRepo,
        incidents: IncidentRepo,
        media: MediaFetcher,
        sent_files: SentFiles,
        t: Translate,
        captions: TranscriptCaptions | None = None,
    ) -> None:
        self.bot = bot
        self.outbox = outbox
        self.incidents = incidents
        self.media = media
        self.sent_files = sent_files
        self.t = t
        # Transcripts in recordings' captions (set by the composition root; None: none).
        self.captions = captions

    async def send(self, row: OutboxRow) -> list[int]:
        try:
            return await self._send_payload(row)
        except TelegramForbiddenError as exc:
            raise ChatGone(exc.message) from None
        except (TelegramBadRequest, TelegramNotFound) as exc:
            if any(m in exc.message.lower() for m in GONE_MARKERS):
                raise ChatGone(exc.message) from None
            raise

    async def _send_payload(self, row: OutboxRow) -> list[int]:
        """Every message of a row, in order: its text (split under Telegram's limit; the
        first part carries the button), the messages that follow it, attachments, a
        document. Steps sent by an earlier try of the row are not sent again."""
        message = read_message(row.payload, row.incident_id)
        if isinstance(message, AckEdit):
            return await self._edit(row, message)
        if isinstance(message, LegacyIncident):
            # Rendered at start before the worker runs; one left means a fault of ours.
            raise ValueError(f"incident row {row.id} was never rendered")
        steps = _Steps(self.outbox, row)
        if isinstance(message, VoiceMessage):
            await self._send_voice(row, message, steps)
            return steps.ids()
        if isinstance(message, FenceAlert):
            await self._send_fence_alert(row, message, steps)
            return steps.ids()
        if isinstance(message, CaptionEdit):
            await self._complete_caption(row, message, steps)
            return steps.ids()
        markup = None
        attachments: list[Attachment] = []
        caption = None
        if isinstance(message, IncidentMessage):
            # Split by its renderer already (see incident_messages).
            parts = [part for part in [message.text, *message.more] if part]
            if row.incident_id is not None and message.ack_label:  # "": acknowledged
                markup = ack_keyboard(row.incident_id, message.ack_label)
            attachments, caption = message.attachments, message.caption
        else:
            parts = split_html(message.text or "")
        header: int | None = None
        for i, part in enumerate(parts):
            ids = await steps.run(
                f"text:{i}",
                functools.partial(self._send_text, row, part, markup if i == 0 else None),
            )
            if i == 0:
                header = ids[0]
        await self._attachments(row, attachments, caption, header, steps)
        if isinstance(message, DocumentMessage):  # a CSV after its summary
            await steps.run(
                "document", functools.partial(self._send_document, row, message.document, header)
            )
        return steps.ids()

    async def _send_text(
        self, row: OutboxRow, text: str, markup: InlineKeyboardMarkup | None
    ) -> list[int]:
        msg = await self.bot.send_message(
            row.chat_id, text, message_thread_id=row.thread_id or None, reply_markup=markup
        )
        if markup is not None and row.incident_id is not None:
            # The copy an acknowledgement edits (and a press is judged by): the header.
            await self.incidents.add_message(row.incident_id, row.chat_id, msg.message_id)
        return [msg.message_id]

    async def _send_texts(self, row: OutboxRow, text: str, reply_to: int | None) -> list[int]:
        ids = []
        for part in split_html(text):
            msg = await self.bot.send_message(
                row.chat_id,
                part,
                message_thread_id=row.thread_id or None,
                reply_parameters=_reply(reply_to),
            )
            ids.append(msg.message_id)
        return ids

    async def _send_fence_alert(self, row: OutboxRow, alert: FenceAlert, steps: _Steps) -> None:
        """A crossing: its text, then the pin where it was decided, as a reply to it."""
        ids = await steps.run("text:0", functools.partial(self._send_text, row, alert.text, None))
        await steps.run("pin", functools.partial(self._send_pin, row, alert, ids[0]))

    async def _send_pin(self, row: OutboxRow, alert: FenceAlert, reply_to: int) -> list[int]:
        m = await self.bot.send_location(
            row.chat_id,
            latitude=alert.lat,
            longitude=alert.lon,
            message_thread_id=row.thread_id or None,
            reply_parameters=_reply(reply_to),
        )
        return [m.message_id]

    async def _send_document(
        self, row: OutboxRow, doc: Document, reply_to: int | None
    ) -> list[int]:
        caption = doc.caption
        m = await self.bot.send_document(
            row.chat_id,
            BufferedInputFile(base64.b64decode(doc.data_b64), doc.name),
            caption=truncate_caption(caption) if caption else None,
            message_thread_id=row.thread_id or None,
            reply_parameters=_reply(reply_to),
        )
        return [m.message_id]

    async def _edit(self, row: OutboxRow, e: AckEdit) -> list[int]:
        """An acknowledgement: the incident's header edited (it always fits: the renderer
        leaves room for the line; the cut here is only a guard against a dead letter)."""
        markup = ack_keyboard(e.ack, e.ack_label) if e.ack else None
        text = e.text
        if visible_len(text) > MESSAGE_LIMIT:
            text = truncate_caption(text, MESSAGE_LIMIT)
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=row.chat_id,
                message_id=e.message_id,
                reply_markup=markup,
            )
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message and "not found" not in exc.message:
                raise
        return [e.message_id]

    async def _send_voice(self, row: OutboxRow, p: VoiceMessage, steps: _Steps) -> None:
        """Jobs: a recording as voice or audio;
        the caption with a note and the link when the file cannot be fetched. A file
        already sent to another chat goes again by its Telegram file id, not downloaded
        and uploaded again. A recording's transcript known by now is in the caption (the
        whole text as a reply when it does not fit); one still to come is added by an edit
        (`TranscriptCaptions`)."""
        caption = truncate_caption(p.text)
        made = Captioned(Html(caption), None)
        key, lang = p.recording_key, p.language or self.t.lang
        if key is not None and self.captions is not None:
            made = await self.captions.caption(key, caption, lang)
        if steps.get("voice") is None:
            async with self.sent_files.first([p.voice_url]):
                await steps.run(
                    "voice", functools.partial(self._send_voice_now, row, p, made.caption, steps)
                )
        voice = steps.get("voice")
        as_text = steps.get("voice-as-text") is not None  # the file could not be sent
        if key is None or self.captions is None or not voice or as_text:
            return
        if made.reply is not None:
            await steps.run(
                "transcript", functools.partial(self._send_texts, row, made.reply, voice[0])
            )
        elif made.caption == caption:  # sent without its transcript: completed later
            await self.captions.sent(key, row.chat_id, row.thread_id, voice[0], caption, lang)

    async def _complete_caption(self, row: OutboxRow, e: CaptionEdit, steps: _Steps) -> None:
        """A voice message's caption completed with its transcript, then the whole text as
        a reply to it when the caption has only an excerpt."""
        edited = await steps.run("caption", functools.partial(self._edit_caption, row, e))
        if e.reply is not None and edited:
            await steps.run(
                "reply", functools.partial(self._send_texts, row, e.reply, e.message_id)
            )

    async def _edit_caption(self, row: OutboxRow, e: CaptionEdit) -> list[int]:
        """The caption edited; [] when the message is gone (deleted meanwhile)."""
        try:
            await self.bot.edit_message_caption(
                chat_id=row.chat_id, message_id=e.message_id, caption=truncate_caption(e.caption)
            )
        except TelegramBadRequest as exc:
            words = exc.message.lower()
            if _gone(exc):
                raise
            if "not modified" in words:
                return [e.message_id]
            if any(gone in words for gone in CAPTION_GONE):
                log.info("caption of message %s not completed: %s", e.message_id, exc.message)
                return []
            raise
        return [e.message_id]

    async def _send_voice_now(
        self, row: OutboxRow, p: VoiceMessage, caption: str, steps: _Steps
    ) -> list[int]:
        thread = row.thread_id or None
        url = p.voice_url
        known = self.sent_files.get(url)
        if known is not None:
            try:
                m = await self._send_file(row.chat_id, *known, caption, thread, p.duration)
                return [m.message_id]
            except TelegramBadRequest as exc:
                if _gone(exc):
                    raise
                if _file_id_refused(exc):
                    self.sent_files.forget(url)
                # Otherwise this chat refuses it (voice messages, say): as below, per chat.
        try:
            async with self.media.open(url) as stream:
                kind = "voice" if stream.is_voice else "audio"
                try:
                    m = await self._upload(row.chat_id, kind, stream, caption, thread, p.duration)
                except TelegramBadRequest as exc:
                    if _gone(exc):
                        raise
                    refused = True
                else:
                    refused = False
            if refused:
                # Some chats refuse voice messages (a user's privacy setting): send the
                # file — to this chat only; the other chats still get a voice message.
                async with self.media.open(url) as stream:
                    m = await self._upload(row.chat_id, "document", stream, caption, thread)
                return [m.message_id]
        except MediaError as exc:
            if exc.problem is MediaProblem.TOO_BIG:
                # The link goes in after translating: Fluent refuses an argument over
                # 2,500 characters, and a signed file URL can be longer.
                marker = Html("\ue000")
                note = Html(self.t("rec-too-big", url=marker).replace(marker, link(self.t, url)))
            elif exc.problem is MediaProblem.DEAD:
                note = self.t("rec-dead", detail=exc.detail)
            else:
                note = self.t("rec-unreachable", detail=exc.detail)
            steps.record(["voice-as-text"], [])  # no caption to complete
            return await self._send_texts(row, p.text + "\n" + note, None)
        self.sent_files.remember(url, m)
        return [m.message_id]

    async def _send_file(
        self,
        chat_id: int,
        kind: str,
        file: str | InputFile,
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
            "reply_parameters": _reply(reply_to),
        }
        if not isinstance(file, str):
            common["request_timeout"] = UPLOAD_TIMEOUT_S
        if kind == "voice":
            return await self.bot.send_voice(chat_id, file, duration=duration, **common)
        if kind == "audio":
            return await self.bot.send_audio(chat_id, file, duration=duration, **common)
        if kind == "photo":
            return await self.bot.send_photo(chat_id, file, **common)
        return await self.bot.send_document(chat_id, file, **common)

    async def _upload(
        self,
        chat_id: int,
        kind: str,
        stream: MediaStream,
        caption: str | None,
        thread: int | None,
        duration: int | None = None,
        reply_to: int | None = None,
    ) -> Message:
        """`_send_file` of a download streamed as Telegram reads it; a download that broke
        off or outgrew the limit on the way is told as that `MediaError`."""
        try:
            return await self._send_file(
                chat_id, kind, stream.input_file(), caption, thread, duration, reply_to
            )
        except Exception:
            if stream.error is not None:
                raise stream.error from None
            raise

    async def _attachments(
        self,
        row: OutboxRow,
        items: list[Attachment],
        caption: str | None,
        reply_to: int | None,
        steps: _Steps,
    ) -> None:
        """An incident's images (one photo, or an album) and audio, as replies to its
        message; what cannot be fetched or sent is listed as links. Files sent to another
        chat before go by their Telegram file id; the others are streamed, one download
        open per file at most (a few for an album), never a whole file in memory."""
        todo = [i for i in items if steps.get(f"file:{i.url}") is None]
        if not todo:
            return
        async with self.sent_files.first([i.url for i in todo]):
            failed: list[str] = []
            photos = [i.url for i in todo if i.kind == "photo"]
            others = [(i.url, i.kind) for i in todo if i.kind != "photo"]
            if len(photos) > 1:
                try:
                    photos = await self._album(row, photos, caption, reply_to, steps, failed)
                except (TelegramBadRequest, TelegramEntityTooLarge, MediaError) as exc:
                    if isinstance(exc, TelegramBadRequest) and _gone(exc):
                        raise
                    if isinstance(exc, TelegramBadRequest) and _file_id_refused(exc):
                        for url in photos:
                            self.sent_files.forget(url)
                    # One photo spoils the album (too large, not an image, broke off): each
                    # goes on its own, and only the bad one becomes a link.
                    log.info("an album was refused (%s): its photos go one by one", exc)
                    failed.clear()
            for url, kind in [(u, "photo") for u in photos] + others:
                try:
                    await steps.run(
                        f"file:{url}",
                        functools.partial(self._send_attachment, row, url, kind, caption, reply_to),
                    )
                except (MediaError, TelegramBadRequest, TelegramEntityTooLarge) as exc:
                    if isinstance(exc, TelegramBadRequest) and _gone(exc):
                        raise
                    log.info("attachment not sent, told as a link: %s", exc)
                    failed.append(url)
            if failed:
                lines = [f"📎 {link(self.t, u)}" for u in failed]
                text = "\n".join([self.t("inc-attachments-failed"), *lines])
                await steps.run(
                    [f"file:{u}" for u in failed],
                    functools.partial(self._send_texts, row, text, reply_to),
                )

    async def _send_attachment(
        self, row: OutboxRow, url: str, kind: str, caption: str | None, reply_to: int | None
    ) -> list[int]:
        """One attachment, `photo` or `audio` (sent as voice when Telegram plays it so): by
        its file id if it went to another chat, else streamed; a picture Telegram will not
        take as a photo (over 10 MB, say) or a chat that refuses voice gets a document."""
        chat_id, thread = row.chat_id, row.thread_id or None
        known = self.sent_files.get(url)
        if known is not None:
            try:
                m = await self._send_file(chat_id, *known, caption, thread, reply_to=reply_to)
                return [m.message_id]
            except TelegramBadRequest as exc:
                if not _file_id_refused(exc):
                    raise
                self.sent_files.forget(url)
        async with self.media.open(url) as stream:
            if kind == "photo":
                big = stream.size is not None and stream.size > TELEGRAM_PHOTO_LIMIT
                as_kind = "document" if big else "photo"
            else:
                as_kind = "voice" if stream.is_voice else "audio"
            try:
                m = await self._upload(chat_id, as_kind, stream, caption, thread, None, reply_to)
            except TelegramBadRequest as exc:
                if _gone(exc) or as_kind == "document":
                    raise
                log.info("%s refused as %s (%s): sent as a document", url, as_kind, exc.message)
            else:
                self.sent_files.remember(url, m)
                return [m.message_id]
        async with self.media.open(url) as stream:
            m = await self._upload(chat_id, "document", stream, caption, thread, None, reply_to)
        return [m.message_id]

    async def _album(
        self,
        row: OutboxRow,
        urls: list[str],
        caption: str | None,
        reply_to: int | None,
        steps: _Steps,
        failed: list[str],
    ) -> list[str]:
        """Photos as one album (the renderer sends at most ten). Those that cannot be
        fetched go to `failed`; returns those to send on their own (too large for a
        photo, or left alone)."""
        alone: list[str] = []
        chosen: list[tuple[str, str | InputFile]] = []
        async with contextlib.AsyncExitStack() as stack:
            streams: list[MediaStream] = []
            for url in urls:
                known = self.sent_files.get(url)
                if known is not None:
                    if known[0] == "photo":
                        chosen.append((url, known[1]))
                    else:
                        alone.append(url)
                    continue
                try:
                    stream = await stack.enter_async_context(self.media.open(url))
                except MediaError:
                    failed.append(url)
                    continue
                if stream.size is not None and stream.size > TELEGRAM_PHOTO_LIMIT:
                    alone.append(url)
                    continue
                streams.append(stream)
                chosen.append((url, stream.input_file()))
            if len(chosen) < 2:
                return [url for url, _file in chosen] + alone
            media = [
                InputMediaPhoto(media=file, caption=caption if i == 0 else None)
                for i, (_url, file) in enumerate(chosen)
            ]
            await steps.flush()
            try:
                album = await self.bot.send_media_group(
                    row.chat_id,
                    media=list(media),
                    message_thread_id=row.thread_id or None,
                    reply_parameters=_reply(reply_to),
                    request_timeout=UPLOAD_TIMEOUT_S,
                )
            except Exception:
                broken = next((s.error for s in streams if s.error is not None), None)
                if broken is not None:
                    raise broken from None
                raise
        for (url, _file), m in zip(chosen, album, strict=False):
            self.sent_files.remember(url, m)
        steps.record([f"file:{url}" for url, _file in chosen], [m.message_id for m in album])
        return alone
