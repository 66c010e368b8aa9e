"""/broadcast (admin): a guided notice to terminals (2.15) and to chats subscribed to notices.

Targets (orgs by buttons, users by name) -> title -> text -> attachments -> preview
-> Confirm / Edit / Cancel. The dialog lives in the SQLite FSM storage, so it
survives a restart. Confirm queues the notice durably for both sides at once and
runs exactly once, however often it is tapped.
"""

from __future__ import annotations

import enum
import io
import mimetypes
import socket
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.access import Caller
from bot.config import Settings
from bot.directory import Directory, Kind
from bot.platform.errors import error_for
from bot.platform.models import Notice
from bot.relay.service import Relay
from bot.render import Reply, T
from bot.services import UserLocks
from bot.text import esc
from handlers.filters import MinRole
from handlers.reply import answer, edit
from storage.audit import AuditRepo
from storage.files import FileRepo
from storage.notices import NoticeJob
from storage.roles import Role

MAX_TITLE = 100
MAX_TEXT = 3000
ORGS_PER_PAGE = 8
MAX_FILES = 10
MAX_FILE_BYTES = 20 * 1024 * 1024  # what a bot may download from Telegram


class Step(StatesGroup):
    targets = State()
    title = State()
    text = State()
    attachments = State()
    preview = State()


class BcAction(enum.StrEnum):
    ORG = "o"
    PAGE = "p"
    NEXT = "n"
    DONE = "d"
    CONFIRM = "c"
    EDIT = "e"
    EDIT_TARGETS = "et"
    EDIT_TITLE = "eh"
    EDIT_TEXT = "ex"
    EDIT_FILES = "ef"
    CANCEL = "x"


class BcCb(CallbackData, prefix="bc1"):
    action: BcAction
    value: int = 0


# Shown only once the draft has its title and text (the attachments step, the preview).
_AFTER_TEXT = frozenset(
    {
        BcAction.DONE,
        BcAction.EDIT,
        BcAction.EDIT_TARGETS,
        BcAction.EDIT_TITLE,
        BcAction.EDIT_TEXT,
        BcAction.EDIT_FILES,
    }
)


def _draft(data: dict[str, Any]) -> dict[str, Any]:
    d = dict(data.get("bc") or {})
    d.setdefault("orgs", [])
    d.setdefault("users", [])
    d.setdefault("files", [])
    d.setdefault("page", 0)
    return d


def public_base(settings: Settings, port: int | None) -> str:
    """Where the platform reaches the bridge's listener (it already calls it back there)."""
    host = settings.bridge.http_host
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://{host}:{port or settings.bridge.http_port}"


def _targets_view(t: T, directory: Directory, caller: Caller, d: dict[str, Any]) -> Reply:
    orgs = sorted(
        (
            o
            for o in directory.snapshot.orgs.values()
            if caller.scope is None or o.id in caller.scope
        ),
        key=lambda o: ([x.name for x in directory.org_path(o.id)], o.id),
    )
    pages = max(1, -(-len(orgs) // ORGS_PER_PAGE))
    page = min(max(int(d["page"]), 0), pages - 1)
    chosen = set(d["orgs"])
    kb = InlineKeyboardBuilder()
    for o in orgs[page * ORGS_PER_PAGE : (page + 1) * ORGS_PER_PAGE]:
        depth = len(directory.org_path(o.id)) - 1
        mark = "✅ " if o.id in chosen else ""
        kb.button(
            text=f"{'· ' * depth}{mark}{o.name}",
            callback_data=BcCb(action=BcAction.ORG, value=o.id),
        )
    kb.adjust(1)
    nav = InlineKeyboardBuilder()
    if page > 0:
        nav.button(text="◀", callback_data=BcCb(action=BcAction.PAGE, value=page - 1))
    if page < pages - 1:
        nav.button(text="▶", callback_data=BcCb(action=BcAction.PAGE, value=page + 1))
    nav.button(text=t.plain("btn-continue"), callback_data=BcCb(action=BcAction.NEXT))
    nav.button(text=t.plain("btn-cancel"), callback_data=BcCb(action=BcAction.CANCEL))
    kb.attach(nav)
    return Reply(t("bc-targets", targets=_target_summary(t, directory, d)), kb.as_markup())


def _target_summary(t: T, directory: Directory, d: dict[str, Any]) -> str:
    orgs = [o.name for oid in d["orgs"] if (o := directory.org(oid))]
    users = [u.name for uid in d["users"] if (u := directory.user(uid))]
    if not orgs and not users:
        return t.plain("bc-nobody")
    parts = []
    if orgs:
        parts.append(t.plain("bc-orgs", names="、".join(orgs)))
    if users:
        parts.append(t.plain("bc-users", names="、".join(users)))
    return "; ".join(parts)


def _reach(directory: Directory, d: dict[str, Any]) -> int:
    people: set[int] = set(d["users"])
    for oid in d["orgs"]:
        sub = directory.subtree(oid)
        people |= {u.id for u in directory.snapshot.users.values() if u.org_id in sub}
    return len(people)


def _notice(caller_name: str, caller_id: int, d: dict[str, Any]) -> Notice:
    return Notice.model_validate(
        {
            "from": {"id": caller_id, "name": caller_name},
            "to": {"orgIds": d["orgs"], "userIds": d["users"]},
            "title": d["title"],
            "content": d["text"],
            "accessory": d["files"],
        }
    )


async def _show_preview(
    message: Message,
    t: T,
    caller: Caller,
    name: str,
    directory: Directory,
    relay: Relay,
    state: FSMContext,
    d: dict[str, Any],
) -> None:
    await state.set_state(Step.preview)
    await state.update_data(bc=d)
    notice = _notice(name, caller.user_id, d)
    chats = await relay.notice_chats()
    kb = InlineKeyboardBuilder()
    kb.button(text=t.plain("btn-confirm"), callback_data=BcCb(action=BcAction.CONFIRM))
    kb.button(text=t.plain("btn-edit"), callback_data=BcCb(action=BcAction.EDIT))
    kb.button(text=t.plain("btn-cancel"), callback_data=BcCb(action=BcAction.CANCEL))
    kb.adjust(3)
    text = "\n".join(
        [
            t("bc-preview-head"),
            "",
            relay.notice_preview(notice),
            "",
            t(
                "bc-preview-reach",
                users=_reach(directory, d),
                targets=_target_summary(t, directory, d),
                chats=chats,
            ),
        ]
    )
    sent = await message.answer(text, reply_markup=kb.as_markup())
    # Confirm counts only on the latest preview: an older one may show another draft.
    d["preview_msg"] = sent.message_id
    await state.update_data(bc=d)


async def _after_step(
    message: Message,
    t: T,
    caller: Caller,
    directory: Directory,
    relay: Relay,
    state: FSMContext,
    d: dict[str, Any],
    next_step: State,
    prompt: str,
) -> None:
    """Go on to the next step, or straight back to the preview when editing one step."""
    if d.get("editing"):
        d["editing"] = False
        await _show_preview(message, t, caller, d.get("sender", ""), directory, relay, state, d)
        return
    await state.set_state(next_step)
    await state.update_data(bc=d)
    await message.answer(
        prompt, reply_markup=_files_kb(t) if next_step == Step.attachments else None
    )


def _files_kb(t: T) -> Any:
    kb = InlineKeyboardBuilder()
    kb.button(text=t.plain("btn-done"), callback_data=BcCb(action=BcAction.DONE))
    kb.button(text=t.plain("btn-cancel"), callback_data=BcCb(action=BcAction.CANCEL))
    return kb.as_markup()


async def start(
    message: Message, caller: Caller, t: T, directory: Directory, state: FSMContext
) -> None:
    sender = message.from_user.full_name if message.from_user else str(caller.user_id)
    d = _draft({})
    d["sender"] = sender
    await state.set_state(Step.targets)
    await state.update_data(bc=d)
    view = _targets_view(t, directory, caller, d)
    await message.answer(view.text, reply_markup=view.keyboard)


async def buttons(
    callback: CallbackQuery,
    callback_data: BcCb,
    caller: Caller,
    t: T,
    directory: Directory,
    relay: Relay,
    state: FSMContext,
    audit: AuditRepo,
    user_locks: UserLocks,
    files: FileRepo,
) -> None:
    msg = callback.message if isinstance(callback.message, Message) else None
    action = callback_data.action
    if action is BcAction.CONFIRM:
        await _confirm(callback, msg, caller, t, relay, state, audit, user_locks, files)
        return
    current = await state.get_state()
    if current is None or not current.startswith("Step:"):
        await callback.answer(t.plain("bc-expired"), show_alert=True)
        return
    d = _draft(await state.get_data())
    if action in _AFTER_TEXT and not ("title" in d and "text" in d):
        # Only a draft with its title and text shows these: an old or forged button.
        await callback.answer(t.plain("bc-expired"), show_alert=True)
        return
    await callback.answer()
    if msg is None:
        return
    if action is BcAction.CANCEL:
        await state.clear()
        await files.delete(_served(d))  # the bridge serves no file of a cancelled draft
        await msg.edit_text(t("cancelled"))
    elif action in (BcAction.ORG, BcAction.PAGE):
        if action is BcAction.ORG and directory.org(callback_data.value, caller.scope) is not None:
            chosen = set(d["orgs"]) ^ {callback_data.value}
            d["orgs"] = sorted(chosen)
        else:
            d["page"] = callback_data.value
        await state.update_data(bc=d)
        await edit(callback, _targets_view(t, directory, caller, d))  # may be unchanged
    elif action is BcAction.NEXT:
        if not d["orgs"] and not d["users"]:
            await msg.answer(t("bc-need-target"))
            return
        await msg.edit_reply_markup(reply_markup=None)
        await _after_step(
            msg, t, caller, directory, relay, state, d, Step.title, t("bc-ask-title", max=MAX_TITLE)
        )
    elif action is BcAction.DONE:
        await msg.edit_reply_markup(reply_markup=None)
        d["editing"] = False
        await _show_preview(msg, t, caller, d.get("sender", ""), directory, relay, state, d)
    elif action is BcAction.EDIT:
        kb = InlineKeyboardBuilder()
        for a, key in (
            (BcAction.EDIT_TARGETS, "bc-edit-targets"),
            (BcAction.EDIT_TITLE, "bc-edit-title"),
            (BcAction.EDIT_TEXT, "bc-edit-text"),
            (BcAction.EDIT_FILES, "bc-edit-files"),
        ):
            kb.button(text=t.plain(key), callback_data=BcCb(action=a))
        kb.adjust(2)
        await msg.edit_reply_markup(reply_markup=kb.as_markup())
    elif action is BcAction.EDIT_TARGETS:
        d["editing"] = True  # Next goes straight back to the preview, as after the others
        await state.set_state(Step.targets)
        await state.update_data(bc=d)
        view = _targets_view(t, directory, caller, d)
        await msg.answer(view.text, reply_markup=view.keyboard)
    elif action is BcAction.EDIT_TITLE:
        d["editing"] = True
        await state.set_state(Step.title)
        await state.update_data(bc=d)
        await msg.answer(t("bc-ask-title", max=MAX_TITLE))
    elif action is BcAction.EDIT_TEXT:
        d["editing"] = True
        await state.set_state(Step.text)
        await state.update_data(bc=d)
        await msg.answer(t("bc-ask-text", max=MAX_TEXT))
    elif action is BcAction.EDIT_FILES:
        await files.delete(_served(d))
        d["files"] = []
        await state.set_state(Step.attachments)
        await state.update_data(bc=d)
        await msg.answer(t("bc-ask-files", max=MAX_FILES), reply_markup=_files_kb(t))


async def target_users(
    message: Message, caller: Caller, t: T, directory: Directory, state: FSMContext
) -> None:
    d = _draft(await state.get_data())
    added, problems = [], []
    for word in (message.text or "").replace(",", " ").split():
        found = directory.resolve(word, Kind.USER, caller.scope)
        if len(found) == 1:
            if found[0].id not in d["users"]:
                d["users"].append(found[0].id)
            added.append(found[0].label)
        elif not found:
            problems.append(t.plain("not-found", kind="user", query=word))
        else:
            problems.append(
                t.plain("admin-ambiguous", query=word, names=", ".join(m.label for m in found))
            )
    await state.update_data(bc=d)
    lines = []
    if added:
        lines.append(t("bc-added", names="、".join(added)))
    lines += [esc(p) for p in problems]
    view = _targets_view(t, directory, caller, d)
    await message.answer("\n".join([*lines, "", view.text]), reply_markup=view.keyboard)


async def title(
    message: Message, caller: Caller, t: T, directory: Directory, relay: Relay, state: FSMContext
) -> None:
    text = (message.text or "").strip()
    if not text or len(text) > MAX_TITLE:
        await answer(message, Reply(t("bc-too-long", max=MAX_TITLE, length=len(text))))
        return
    d = _draft(await state.get_data())
    d["title"] = text
    await _after_step(
        message, t, caller, directory, relay, state, d, Step.text, t("bc-ask-text", max=MAX_TEXT)
    )


async def body(
    message: Message, caller: Caller, t: T, directory: Directory, relay: Relay, state: FSMContext
) -> None:
    text = (message.text or "").strip()
    if not text or len(text) > MAX_TEXT:
        await answer(message, Reply(t("bc-too-long", max=MAX_TEXT, length=len(text))))
        return
    d = _draft(await state.get_data())
    d["text"] = text
    await _after_step(
        message,
        t,
        caller,
        directory,
        relay,
        state,
        d,
        Step.attachments,
        t("bc-ask-files", max=MAX_FILES),
    )


async def attachment(
    message: Message,
    t: T,
    state: FSMContext,
    bot: Bot,
    http_port: int | None,
    settings: Settings,
    files: FileRepo,
) -> None:
    d = _draft(await state.get_data())
    if len(d["files"]) >= MAX_FILES:
        await message.answer(t("bc-files-full", max=MAX_FILES), reply_markup=_files_kb(t))
        return
    if message.text:
        url = message.text.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            await message.answer(t("bc-not-a-link"), reply_markup=_files_kb(t))
            return
        name = parts.path.rsplit("/", 1)[-1] or parts.hostname
        d["files"].append({"name": name, "url": url})
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
            await message.answer(t("bc-file-too-big"), reply_markup=_files_kb(t))
            return
        buf = io.BytesIO()
        await bot.download(item, destination=buf)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        token = await files.add(name, mime, buf.getvalue(), datetime.now(UTC))
        url = f"{public_base(settings, http_port)}/files/{token}/{quote(name)}"
        d["files"].append({"name": name, "url": url, "token": token})
    await state.update_data(bc=d)
    await message.answer(
        t("bc-file-added", name=d["files"][-1]["name"], count=len(d["files"])),
        reply_markup=_files_kb(t),
    )


async def discard_draft_files(data: dict[str, Any], files: FileRepo) -> None:
    """Stop serving the files of a draft that is being thrown away (e.g. by /cancel)."""
    await files.delete(_served(_draft(data)))


def _served(d: dict[str, Any]) -> list[str]:
    """Tokens of the draft's files the bridge serves itself (not pasted links)."""
    return [f["token"] for f in d["files"] if isinstance(f, dict) and f.get("token")]


def _platform_line(t: T, job: NoticeJob, lang: str) -> str:
    """What became of the notice on the platform (2.15), in the admin's language."""
    if job.state == "sent":
        return t("bc-platform-ok")
    if job.state == "pending":  # could not connect: tried again every 30 s
        return t("bc-platform-retrying")
    if job.error_code:
        explained = error_for(job.error_code, job.error_message or "").explain(lang)
        server = job.error_message or ""
        detail = explained + (f" — {server}" if server and server != explained else "")
        return t("bc-platform-failed", detail=f"{detail} · {job.error_code}")
    if job.attempts:
        return t("bc-platform-gave-up")
    return t("bc-platform-unknown")


async def _confirm(
    callback: CallbackQuery,
    msg: Message | None,
    caller: Caller,
    t: T,
    relay: Relay,
    state: FSMContext,
    audit: AuditRepo,
    user_locks: UserLocks,
    files: FileRepo,
) -> None:
    # Under the caller's lock, take the draft out of the dialog: a second tap finds nothing.
    async with user_locks.of(caller.user_id):
        if await state.get_state() != Step.preview.state:
            await callback.answer(t.plain("bc-already"), show_alert=False)
            return
        d = _draft(await state.get_data())
        if msg is None or d.get("preview_msg") != msg.message_id:
            await callback.answer(t.plain("bc-expired"), show_alert=True)
            return
        await state.clear()
    await callback.answer(t.plain("bc-sending"))
    notice = _notice(d.get("sender") or str(caller.user_id), caller.user_id, d)
    job_id, chats = await relay.ingest_notice(notice)
    await files.mark_sent(_served(d), datetime.now(UTC))  # kept FILES_KEPT from now
    await relay.process_inbox()  # pushes the queued notice to the platform now
    job = await relay.notice_job(job_id)
    assert job is not None
    await audit.add(
        caller.user_id,
        "broadcast",
        None,
        {"title": d["title"], "orgs": d["orgs"], "users": d["users"], "files": len(d["files"])},
        job.error or f"platform ok, {chats} chats",
        datetime.now(UTC),
    )
    platform_line = _platform_line(t, job, caller.lang)
    text = "\n".join([t("bc-sent-head"), platform_line, t("bc-chats", count=chats)])
    if msg is not None:
        await msg.edit_reply_markup(reply_markup=None)
        await msg.answer(text)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.filter(MinRole(Role.ADMIN))
    r.callback_query.filter(MinRole(Role.ADMIN))
    r.message.register(start, Command("broadcast"))
    r.callback_query.register(buttons, BcCb.filter())
    r.message.register(target_users, Step.targets, F.text, ~F.text.startswith("/"))
    r.message.register(title, Step.title, F.text, ~F.text.startswith("/"))
    r.message.register(body, Step.text, F.text, ~F.text.startswith("/"))
    r.message.register(attachment, Step.attachments, F.photo | F.document | F.text)
    return r
