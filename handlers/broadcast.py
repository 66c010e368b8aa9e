"""/broadcast (admin): a guided notice to terminals (2.15) and to chats subscribed to notices.

Targets (orgs by buttons, users by name) -> title -> text -> attachments -> preview
-> Confirm / Edit / Cancel. The dialog lives in the SQLite FSM storage, so it
survives a restart. Confirm queues the notice durably for both sides at once and
runs exactly once, however often it is tapped.
"""

from __future__ import annotations

import io
import mimetypes
import socket
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlsplit

from aiogram import Bot, F, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.app.services import UserLocks
from bot.config import Settings
from bot.directory import Kind
from bot.render.replies import Reply, T, notice_sent_text
from bot.render.text import esc
from bot.telegram.callbacks import BcAction, BcCb
from handlers.broadcast_draft import (
    AFTER_TEXT,
    MAX_FILES,
    MAX_TEXT,
    MAX_TITLE,
    Dialog,
    Draft,
    DraftFile,
    Step,
    edit_menu_kb,
    files_kb,
)
from handlers.filters import MinRole
from handlers.reply import answer, edit
from storage.audit import AuditRepo
from storage.files import FileRepo
from storage.roles import Role

MAX_FILE_BYTES = 20 * 1024 * 1024  # what a bot may download from Telegram


def public_base(settings: Settings, port: int | None) -> str:
    """Where the platform reaches the bridge's listener (it already calls it back there)."""
    host = settings.bridge.http_host
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://{host}:{port or settings.bridge.http_port}"


async def start(message: Message, dialog: Dialog) -> None:
    """A new draft, at its first step (it replaces one in progress)."""
    user = message.from_user
    dialog.draft = Draft(sender=user.full_name if user else str(dialog.caller.user_id))
    await dialog.ask(message, Step.targets)


# ------------------------------------------------------------------ the dialog's buttons


class OpenDraft(Filter):
    """A button of the presser's own dialog (the FSM is per user), at a step where it
    belongs: passes the `dialog` and the message it is on (`msg`) to the handler.

    Fails when there is no dialog, or when the button is one only a draft with its title
    and text shows (an old or forged button): `stale` then says the notice is no longer
    being edited. With `on_message=False` it passes only when the message the button is
    on can no longer be read (Telegram gives no message after 48 h).
    """

    def __init__(self, *, on_message: bool = True) -> None:
        self.on_message = on_message

    async def __call__(
        self, callback: CallbackQuery, callback_data: BcCb, **data: Any
    ) -> bool | dict[str, Any]:
        current = await data["state"].get_state()
        if current is None or not current.startswith("Step:"):
            return False
        dialog = await Dialog.of(data)
        if callback_data.action in AFTER_TEXT and not dialog.draft.written:
            return False
        msg = callback.message if isinstance(callback.message, Message) else None
        if (msg is not None) != self.on_message:
            return False
        return {"dialog": dialog, "msg": msg}


async def with_dialog(event: TelegramObject, **data: Any) -> dict[str, Any]:
    """A filter that always passes: the sender's `dialog` (its draft may be empty)."""
    return {"dialog": await Dialog.of(data)}


async def stale(callback: CallbackQuery, t: T) -> None:
    """A button of no dialog in progress, or of a step the draft is not at."""
    await callback.answer(t.plain("bc-expired"), show_alert=True)


async def unreadable(callback: CallbackQuery) -> None:
    """A button on a message Telegram no longer gives: nothing to edit there."""
    await callback.answer()


async def cancel(callback: CallbackQuery, msg: Message, dialog: Dialog) -> None:
    await callback.answer()
    await dialog.state.clear()
    await dialog.discard_files()  # the bridge serves no file of a cancelled draft
    await msg.edit_text(dialog.t("cancelled"))


async def targets_turned(callback: CallbackQuery, callback_data: BcCb, dialog: Dialog) -> None:
    """An org pressed (chosen, or no longer) or a page turned: the targets page again."""
    await callback.answer()
    d, value, scope = dialog.draft, callback_data.value, dialog.caller.scope
    if callback_data.action == BcAction.ORG and dialog.directory.org(value, scope) is not None:
        d.orgs = sorted(set(d.orgs) ^ {value})
    else:  # a page; as before, an org out of reach turns the page (clamped to the last one)
        d.page = value
    await dialog.keep()
    await edit(callback, dialog.targets_view())  # may be unchanged


async def targets_chosen(callback: CallbackQuery, msg: Message, dialog: Dialog) -> None:
    await callback.answer()
    if not dialog.draft.orgs and not dialog.draft.users:
        await msg.answer(dialog.t("bc-need-target"))
        return
    await msg.edit_reply_markup(reply_markup=None)
    await dialog.after_step(msg, Step.title)


async def files_done(callback: CallbackQuery, msg: Message, dialog: Dialog) -> None:
    await callback.answer()
    await msg.edit_reply_markup(reply_markup=None)
    dialog.draft.editing = False
    await dialog.show_preview(msg)


async def edit_menu(callback: CallbackQuery, msg: Message, t: T) -> None:
    await callback.answer()
    await msg.edit_reply_markup(reply_markup=edit_menu_kb(t))


async def edit_step(
    callback: CallbackQuery, callback_data: BcCb, msg: Message, dialog: Dialog
) -> None:
    """Do one step again from the preview: then straight back to the preview (Next on the
    targets, Done on the attachments, the title or the text sent)."""
    await callback.answer()
    step = EDITS[callback_data.action]
    if step == Step.attachments:  # chosen again from none
        await dialog.discard_files()
        dialog.draft.files = []
    else:
        dialog.draft.editing = True
    await dialog.ask(msg, step)


EDITS = MappingProxyType(
    {
        BcAction.EDIT_TARGETS: Step.targets,
        BcAction.EDIT_TITLE: Step.title,
        BcAction.EDIT_TEXT: Step.text,
        BcAction.EDIT_FILES: Step.attachments,
    }
)


# ------------------------------------------------------------------ the dialog's messages


async def target_users(message: Message, dialog: Dialog) -> None:
    t, d = dialog.t, dialog.draft
    added, problems = [], []
    for word in (message.text or "").replace(",", " ").split():
        found = dialog.directory.resolve(word, Kind.USER, dialog.caller.scope)
        if len(found) == 1:
            if found[0].id not in d.users:
                d.users.append(found[0].id)
            added.append(found[0].label)
        elif not found:
            problems.append(t.plain("not-found", kind="user", query=word))
        else:
            problems.append(
                t.plain("admin-ambiguous", query=word, names=", ".join(m.label for m in found))
            )
    await dialog.keep()
    lines = []
    if added:
        lines.append(t("bc-added", names="、".join(added)))
    lines += [esc(p) for p in problems]
    view = dialog.targets_view()
    await message.answer("\n".join([*lines, "", view.text]), reply_markup=view.keyboard)


async def _written(message: Message, t: T, limit: int) -> str | None:
    """The message's text for the title or the text, or None when it is empty or longer
    than `limit` (then said so)."""
    text = (message.text or "").strip()
    if not text or len(text) > limit:
        await answer(message, Reply(t("bc-too-long", max=limit, length=len(text))))
        return None
    return text


async def title(message: Message, dialog: Dialog) -> None:
    if (text := await _written(message, dialog.t, MAX_TITLE)) is not None:
        dialog.draft.title = text
        await dialog.after_step(message, Step.text)


async def body(message: Message, dialog: Dialog) -> None:
    if (text := await _written(message, dialog.t, MAX_TEXT)) is not None:
        dialog.draft.text = text
        await dialog.after_step(message, Step.attachments)


async def attachment(
    message: Message, dialog: Dialog, bot: Bot, http_port: int | None, settings: Settings
) -> None:
    t, d = dialog.t, dialog.draft
    if len(d.files) >= MAX_FILES:
        await message.answer(t("bc-files-full", max=MAX_FILES), reply_markup=files_kb(t))
        return
    if message.text:
        url = message.text.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            await message.answer(t("bc-not-a-link"), reply_markup=files_kb(t))
            return
        name = parts.path.rsplit("/", 1)[-1] or parts.hostname
        d.files.append(DraftFile(name=name, url=url))
    else:
        if message.photo:
            item = message.photo[-1]
            name, size = f"photo-{item.file_unique_id}.jpg", item.file_size
        else:
            assert message.document is not None
            item = message.document  # type: ignore[assignment]
            name = message.document.file_name or f"file-{item.file_unique_id}"
            size = message.document.file_size
        if size is not None and size > MAX_FILE_BYTES:
            await message.answer(t("bc-file-too-big"), reply_markup=files_kb(t))
            return
        buf = io.BytesIO()
        await bot.download(item, destination=buf)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        token = await dialog.files.add(name, mime, buf.getvalue(), dialog.clock())
        url = f"{public_base(settings, http_port)}/files/{token}/{quote(name)}"
        d.files.append(DraftFile(name=name, url=url, token=token))
    await dialog.keep()
    await message.answer(
        t("bc-file-added", name=d.files[-1].name, count=len(d.files)),
        reply_markup=files_kb(t),
    )


async def discard_draft_files(data: dict[str, Any], files: FileRepo) -> None:
    """Stop serving the files of a draft that is being thrown away (e.g. by /cancel)."""
    await files.delete(Draft.of(data).served())


async def confirm(
    callback: CallbackQuery, dialog: Dialog, audit: AuditRepo, user_locks: UserLocks
) -> None:
    msg = callback.message if isinstance(callback.message, Message) else None
    state, caller, t = dialog.state, dialog.caller, dialog.t
    # Under the caller's lock, take the draft out of the dialog: a second tap finds nothing.
    async with user_locks.of(caller.user_id):
        if await state.get_state() != Step.preview.state:
            await callback.answer(t.plain("bc-already"), show_alert=False)
            return
        d = Draft.of(await state.get_data())  # as it is now, under the lock
        if msg is None or d.preview_msg != msg.message_id:
            await callback.answer(t.plain("bc-expired"), show_alert=True)
            return
        await state.clear()
    await callback.answer(t.plain("bc-sending"))
    relay, clock = dialog.relay, dialog.clock
    notice = d.notice(d.sender or str(caller.user_id), caller.user_id)
    job_id, chats = await relay.ingest_notice(notice)
    await dialog.files.mark_sent(d.served(), clock())  # kept FILES_KEPT from now
    await relay.process_inbox()  # pushes the queued notice to the platform now
    job = await relay.notice_job(job_id)
    assert job is not None
    await audit.add(
        caller.user_id,
        "broadcast",
        None,
        {"title": d.title, "orgs": d.orgs, "users": d.users, "files": len(d.files)},
        job.error or f"platform ok, {chats} chats",
        clock(),
    )
    await msg.edit_reply_markup(reply_markup=None)
    await msg.answer(notice_sent_text(t, job, chats, caller.lang))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.filter(MinRole(Role.ADMIN))
    r.callback_query.filter(MinRole(Role.ADMIN))
    r.message.register(start, Command("broadcast"), with_dialog)
    # Confirm checks the dialog itself, under the caller's lock (it runs exactly once).
    r.callback_query.register(confirm, BcCb.filter(F.action == BcAction.CONFIRM), with_dialog)
    buttons = r.callback_query
    buttons.register(cancel, BcCb.filter(F.action == BcAction.CANCEL), OpenDraft())
    buttons.register(targets_turned, BcCb.filter(F.action == BcAction.ORG), OpenDraft())
    buttons.register(targets_turned, BcCb.filter(F.action == BcAction.PAGE), OpenDraft())
    buttons.register(targets_chosen, BcCb.filter(F.action == BcAction.NEXT), OpenDraft())
    buttons.register(files_done, BcCb.filter(F.action == BcAction.DONE), OpenDraft())
    buttons.register(edit_menu, BcCb.filter(F.action == BcAction.EDIT), OpenDraft())
    for action in EDITS:
        buttons.register(edit_step, BcCb.filter(F.action == action), OpenDraft())
    # What none of those took: a dialog there, but its message no longer readable; else
    # no dialog (or not at this button's step).
    buttons.register(unreadable, BcCb.filter(), OpenDraft(on_message=False))
    buttons.register(stale, BcCb.filter())
    typed = F.text & ~F.text.startswith("/")
    r.message.register(target_users, Step.targets, typed, with_dialog)
    r.message.register(title, Step.title, typed, with_dialog)
    r.message.register(body, Step.text, typed, with_dialog)
    r.message.register(attachment, Step.attachments, F.photo | F.document | F.text, with_dialog)
    return r
