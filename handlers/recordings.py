"""/recordings <user> [date] (supervisor): a day's voice recordings, and the audio itself.

When the platform lists nothing for today yet (it produces recordings
asynchronously), the reply says so and the bridge asks again about every 10 s, up
to 3 times, editing the message with what it finds. A past day is what it is (no
second look); a day in the future is refused in words. Every playback is written to
the audit log.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.directory import DirUser, Kind
from bot.jobs.recordings import recording_key
from bot.parsing.timeexpr import TimeExprError, parse_date
from bot.platform import PlatformClient, PlatformError
from bot.platform.models import Recording
from bot.relay.captions import TranscriptCaptions
from bot.render.geo import RECORDINGS_PER_PAGE, recording_caption, recordings_page
from bot.render.heard import excerpt, with_excerpts
from bot.render.replies import Reply
from bot.render.text import Html, split_html, truncate_caption
from bot.render.transcripts import Captioned
from bot.telegram.callbacks import PickAction, PickCb, RecPageCb, RecPlayCb
from bot.telegram.media import MediaError, MediaFetcher, MediaProblem
from handlers.filters import feature_router, remember_asker
from handlers.lookup import LookupContext, lookup_context
from handlers.reply import answer, edit
from handlers.resolve import NameArg, Named, Show, name_command, name_picked
from storage.roles import Role
from storage.transcripts import TranscriptRepo

log = logging.getLogger(__name__)

RETRIES = 3
MAX_PAGE = 10_000  # 100,000 recordings of one user in one day: beyond is a forged button


def _day(n: int) -> date | None:
    """A button's `yyyymmdd`, or None when it is no day at all (a forged button)."""
    try:
        return date(n // 10000, n // 100 % 100, n % 100)
    except (ValueError, OverflowError):
        return None


def _button_page(cb: RecPageCb | RecPlayCb) -> tuple[date, int] | None:
    """The day and page a button names, or None when no button of ours could say that."""
    day = _day(cb.day)
    if day is None or not 1 <= cb.page <= MAX_PAGE:
        return None
    return day, cb.page


async def _records(
    platform: PlatformClient, user: DirUser, day: date, page: int
) -> tuple[list[Recording], int | None]:
    """One page of the day's recordings, newest first, and the platform's `total`."""
    result = await platform.audio_records(
        user_id=user.id, day=day, page=page, size=RECORDINGS_PER_PAGE
    )
    return sorted(result.records, key=lambda r: r.begin, reverse=True), result.total


async def _has_next(
    platform: PlatformClient, user: DirUser, day: date, page: int, shown: int, total: int | None
) -> bool:
    """Whether a page after `page` holds anything, so that ▶▶ never leads to nothing.

    2.6's `total` may count pages or records. A full page `page` means at least
    `page * size` records, so a total above that is more records under either
    reading, and one below it can only be a page count. Only a total of exactly
    `page * size` (or none) is ambiguous: then ask for the next page's first record.
    """
    size = RECORDINGS_PER_PAGE
    if shown < size:
        return False
    if total is not None and total > page * size:
        return True
    if total is not None and 0 < total < page * size:
        return total > page
    try:
        probe = await platform.audio_records(user_id=user.id, day=day, page=page * size + 1, size=1)
    except PlatformError as exc:
        # The page itself came: show it, with ▶▶ (which says so if nothing follows).
        log.warning("recordings next-page probe failed: %s", exc)
        return True
    return bool(probe.records)


async def _page(
    platform: PlatformClient, user: DirUser, day: date, page: int
) -> tuple[list[Recording], bool]:
    records, total = await _records(platform, user, day, page)
    has_next = await _has_next(platform, user, day, page, len(records), total)
    return records, has_next


LOCATE_PAGES = 10  # pages of a user's day looked through for recordings /heard found


async def locate(
    platform: PlatformClient, user: DirUser, day: date, keys: set[str]
) -> dict[str, tuple[int, int]]:
    """Where ▶ finds each of `keys` (`bot.jobs.recordings.recording_key`) among `user`'s
    recordings of `day`: its page and its place on it; those not listed are left out."""
    found: dict[str, tuple[int, int]] = {}
    for page_no in range(1, LOCATE_PAGES + 1):
        try:
            records, _ = await _records(platform, user, day, page_no)
        except PlatformError as exc:
            log.warning("recordings lookup for ▶ failed: %s", exc)
            break
        for i, r in enumerate(records):
            key = recording_key(r)
            if key in keys:
                found.setdefault(key, (page_no, i))
        if len(found) == len(keys) or len(records) < RECORDINGS_PER_PAGE:
            break
    return found


async def _listing(
    ctx: LookupContext,
    transcripts: TranscriptRepo,
    user: DirUser,
    day: date,
    records: list[Recording],
    page_no: int,
    has_next: bool,
) -> Reply:
    """A page of the list, with a one-line excerpt under each recording transcribed."""
    reply = recordings_page(ctx.t, user, day, records, page_no, has_next, ctx.settings.bridge.tz)
    keys = [recording_key(r) for r in records]
    texts = await transcripts.texts(keys)
    return with_excerpts(reply, [excerpt(texts[k]) if k in texts else None for k in keys])


async def show_recordings(
    message: Message, named: Named, ctx: LookupContext, transcripts: TranscriptRepo
) -> None:
    t, tz, uid, args = ctx.t, ctx.settings.bridge.tz, named.id, named.rest
    now = ctx.clock()
    today = now.astimezone(tz).date()
    try:
        day = parse_date(args[0], now, tz) if args else today
    except TimeExprError as err:
        await answer(message, Reply(t(err.msg_id, **err.msg_args) + "\n" + t("usage-recordings")))
        return
    if day > today:
        await answer(message, Reply(t("rec-future", day=day.isoformat())))
        return
    user = ctx.directory.user(uid, ctx.caller.scope)
    if user is None:
        await answer(message, Reply(t("not-found", kind="user", query=uid)))
        return
    records, has_next = await _page(ctx.platform, user, day, 1)
    if records:
        sent = await answer(
            message, await _listing(ctx, transcripts, user, day, records, 1, has_next)
        )
        await remember_asker(ctx.fsm_storage, sent, ctx.caller.user_id)
        return
    if day < today:
        # The platform produces a recording soon after the talk: a past day is complete.
        await answer(message, Reply(t("rec-none", name=user.name, day=day.isoformat())))
        return
    waiting = await message.answer(
        t("rec-waiting", name=user.name, day=day.isoformat(), seconds=10)
    )
    await remember_asker(ctx.fsm_storage, waiting, ctx.caller.user_id)  # pages later
    ctx.background.spawn(_ask_again(waiting, user, day, ctx, transcripts))


async def _ask_again(
    waiting: Message, user: DirUser, day: date, ctx: LookupContext, transcripts: TranscriptRepo
) -> None:
    """The platform may still be producing the recordings: look again, edit the message."""
    t = ctx.t
    for _ in range(RETRIES):
        await asyncio.sleep(ctx.timings.recording_retry_s)
        try:
            records, has_next = await _page(ctx.platform, user, day, 1)
        except PlatformError as exc:
            log.warning("recordings retry failed: %s", exc)
            continue
        if records:
            reply = await _listing(ctx, transcripts, user, day, records, 1, has_next)
            await waiting.edit_text(reply.text, reply_markup=reply.keyboard)
            return
    await waiting.edit_text(t("rec-none", name=user.name, day=day.isoformat()))


RECORDINGS = NameArg(Kind.USER, PickAction.RECORDINGS, "usage-recordings", more=True)


async def _button_user(
    callback: CallbackQuery,
    callback_data: RecPageCb | RecPlayCb,
    ctx: LookupContext,
    *,
    to_chat: bool = False,
) -> tuple[DirUser, date, int] | None:
    """The user, day and page a button names; else the press is answered and None.

    `to_chat`: what follows is sent to the button's chat, so its message must be there.
    """
    t = ctx.t
    asked = _button_page(callback_data)
    if asked is None:
        await callback.answer(t.plain("button-expired"), show_alert=True)
        return None
    user = ctx.directory.user(callback_data.uid, ctx.caller.scope)
    if user is None or (to_chat and not isinstance(callback.message, Message)):
        await callback.answer(t.plain("not-found", kind="user", query=callback_data.uid))
        return None
    return user, *asked


async def page(
    callback: CallbackQuery,
    callback_data: RecPageCb,
    ctx: LookupContext,
    transcripts: TranscriptRepo,
) -> None:
    named = await _button_user(callback, callback_data, ctx)
    if named is None:
        return
    user, day, page_no = named
    records, has_next = await _page(ctx.platform, user, day, page_no)
    if not records:
        await callback.answer(ctx.t.plain("rec-last-page"), show_alert=False)
        return
    await callback.answer()
    reply = await _listing(ctx, transcripts, user, day, records, page_no, has_next)
    await edit(callback, reply)


async def _transcript_follows(
    captions: TranscriptCaptions | None,
    sent: Message | None,
    rec: Recording,
    caption: str,
    made: Captioned,
    lang: str,
) -> None:
    """▶'s voice message is out: the whole transcript as a reply to it when its caption
    has only an excerpt, or its caption completed when the transcript comes."""
    if captions is None or sent is None:
        return
    if made.reply is not None:
        for part in split_html(made.reply):
            await sent.reply(part)
    elif made.caption == caption:
        thread = sent.message_thread_id or 0
        key = recording_key(rec)
        await captions.sent(key, sent.chat.id, thread, sent.message_id, caption, lang)


async def play(
    callback: CallbackQuery,
    callback_data: RecPlayCb,
    ctx: LookupContext,
    media: MediaFetcher,
    captions: TranscriptCaptions | None = None,
) -> None:
    t, msg = ctx.t, callback.message
    named = await _button_user(callback, callback_data, ctx, to_chat=True)
    if named is None or not isinstance(msg, Message):
        return
    user, day, page_no = named
    await callback.answer(t.plain("rec-fetching"))
    records, _ = await _records(ctx.platform, user, day, page_no)
    if not 0 <= callback_data.idx < len(records):
        await msg.answer(t("rec-gone"))
        return
    rec = records[callback_data.idx]
    tz = ctx.settings.bridge.tz
    caption = truncate_caption(recording_caption(t, user, rec, tz))
    made = Captioned(Html(caption), None)
    if captions is not None and captions.enabled:
        await captions.want(rec, recording_key(rec))
        made = await captions.caption(recording_key(rec), caption, t.lang)
    else:
        captions = None
    outcome = "sent"
    sent: Message | None = None
    try:
        async with ChatActionSender.upload_voice(
            bot=ctx.bot, chat_id=msg.chat.id, message_thread_id=msg.message_thread_id
        ):
            clip = await media.fetch(rec.file_url)
            file = BufferedInputFile(clip.data, filename=clip.filename)
            duration = round(rec.duration_ms / 1000) if rec.duration_ms else None
            try:
                if clip.is_voice:
                    sent = await msg.answer_voice(file, caption=made.caption, duration=duration)
                else:
                    sent = await msg.answer_audio(file, caption=made.caption, duration=duration)
            except TelegramBadRequest as exc:
                # Telegram refuses some encodings as voice: fall back to a document.
                log.info("voice refused (%s); sending as a document", exc.message)
                sent = await msg.answer_document(file, caption=made.caption)
        await _transcript_follows(captions, sent, rec, caption, made, t.lang)
    except MediaError as exc:
        outcome = exc.problem.value
        if exc.problem is MediaProblem.TOO_BIG:
            await msg.answer(caption + "\n" + t("rec-too-big", url=rec.file_url))
        elif exc.problem is MediaProblem.DEAD:
            await msg.answer(t("rec-dead", detail=exc.detail))
        else:
            await msg.answer(t("rec-unreachable", detail=exc.detail))
    await ctx.audit.add(
        ctx.caller.user_id,
        "recording-play",
        str(user.id),
        {"name": user.name, "begin": rec.begin.isoformat(), "url": rec.file_url},
        outcome,
        ctx.clock(),
    )


def _show_with(transcripts: TranscriptRepo) -> Show[LookupContext]:
    async def show(message: Message, named: Named, ctx: LookupContext) -> None:
        await show_recordings(message, named, ctx, transcripts)

    return show


async def recordings_command(
    message: Message,
    command: CommandObject,
    ctx: LookupContext,
    state: FSMContext,
    transcripts: TranscriptRepo,
) -> None:
    await name_command(RECORDINGS, _show_with(transcripts))(message, command, ctx, state)


async def recordings_picked(
    callback: CallbackQuery,
    callback_data: PickCb,
    ctx: LookupContext,
    state: FSMContext,
    transcripts: TranscriptRepo,
) -> None:
    await name_picked(RECORDINGS, _show_with(transcripts))(callback, callback_data, ctx, state)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, lookup_context)
    r.message.register(recordings_command, Command("recordings"))
    r.callback_query.register(recordings_picked, PickCb.filter(F.action == PickAction.RECORDINGS))
    r.callback_query.register(page, RecPageCb.filter())
    r.callback_query.register(play, RecPlayCb.filter())
    return r
