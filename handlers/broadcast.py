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
from typing import Any
from urllib.parse import quote, urlsplit

from aiogram import Bot, F, Router
from aiogram.filters import Command, Filter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.access import Caller
from bot.app.services import Clock, UserLocks
from bot.config import Settings
from bot.directory import Directory, Kind
from bot.platform.errors import error_for
from bot.platform.models import Notice
from bot.relay.service import Relay
from bot.render.replies import Reply, T
from bot.render.text import esc
from bot.telegram.callbacks import BcAction, BcCb
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


class DraftFile(BaseModel):
    """An attachment: a pasted link, or a file the bridge serves itself (it has a token)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    url: str
    token: str | None = None


class Draft(BaseModel):
    """The notice being written, as the dialog keeps it in the FSM storage (under "bc")."""

    model_config = ConfigDict(extra="ignore")

    orgs: list[int] = Field(default_factory=list)
    users: list[int] = Field(default_factory=list)
    files: list[DraftFile] = Field(default_factory=list)
    page: int = 0
    sender: str = ""
    title: str | None = None
    text: str | None = None
    editing: bool = False  # one step edited from the preview: back to the preview after it
    preview_msg: int | None = None  # the latest preview's message: Confirm counts only there

    @classmethod
    def of(cls, data: dict[str, Any]) -> Draft:
        """The draft in the dialog's data. Tolerant of what earlier versions stored there
        (a plain dict, keys missing): a field that does not read is left at its default, an
        attachment that does not read is left out, rather than failing the dialog."""
        raw = data.get("bc")
        if not isinstance(raw, dict):
            return cls()
        good: dict[str, Any] = {}
        for name, value in raw.items():
            if name == "files":
                value = [f for f in value or [] if _reads(DraftFile, f)]
            if name in cls.model_fields and _reads(cls, {name: value}):
                good[name] = value
        return cls.model_validate(good)

    def dump(self) -> dict[str, Any]:
        """As it is stored: the plain dict earlier versions wrote (no key for what is unset)."""
        return self.model_dump(exclude_none=True)

    @property
    def written(self) -> bool:
        return self.title is not None and self.text is not None

    def served(self) -> list[str]:
        """Tokens of the draft's files the bridge serves itself (not pasted links)."""
        return [f.token for f in self.files if f.token]


def _reads(model: type[BaseModel], value: Any) -> bool:
    try:
        model.model_validate(value)
    except ValidationError:
        return False
    return True


async def _keep(state: FSMContext, d: Draft, step: State | None = None) -> None:
    """Store the draft (and move the dialog to `step`)."""
    if step is not None:
        await state.set_state(step)
    await state.update_data(bc=d.dump())


def public_base(settings: Settings, port: int | None) -> str:
    """Where the platform reaches the bridge's listener (it already calls it back there)."""
    host = settings.bridge.http_host
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://{host}:{port or settings.bridge.http_port}"


def _targets_view(t: T, directory: Directory, caller: Caller, d: Draft) -> Reply:
    orgs = sorted(
        (
            o
            for o in directory.snapshot.orgs.values()
            if caller.scope is None or o.id in caller.scope
        ),
        key=lambda o: ([x.name for x in directory.org_path(o.id)], o.id),
    )
    pages = max(1, -(-len(orgs) // ORGS_PER_PAGE))
    page = min(max(d.page, 0), pages - 1)
    chosen = set(d.orgs)
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


def _target_summary(t: T, directory: Directory, d: Draft) -> str:
    orgs = [o.name for oid in d.orgs if (o := directory.org(oid))]
    users = [u.name for uid in d.users if (u := directory.user(uid))]
    if not orgs and not users:
        return t.plain("bc-nobody")
    parts = []
    if orgs:
        parts.append(t.plain("bc-orgs", names="、".join(orgs)))
    if users:
        parts.append(t.plain("bc-users", names="、".join(users)))
    return "; ".join(parts)


def _reach(directory: Directory, d: Draft) -> int:
    people: set[int] = set(d.users)
    for oid in d.orgs:
        sub = directory.subtree(oid)
        people |= {u.id for u in directory.snapshot.users.values() if u.org_id in sub}
    return len(people)


def _notice(caller_name: str, caller_id: int, d: Draft) -> Notice:
    return Notice.model_validate(
        {
            "from": {"id": caller_id, "name": caller_name},
            "to": {"orgIds": d.orgs, "userIds": d.users},
            "title": d.title,
            "content": d.text,
            "accessory": [f.model_dump(exclude_none=True) for f in d.files],
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
    d: Draft,
) -> None:
    await _keep(state, d, Step.preview)
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
    d.preview_msg = sent.message_id
    await _keep(state, d)


async def _after_step(
    message: Message,
    t: T,
    caller: Caller,
    directory: Directory,
    relay: Relay,
    state: FSMContext,
    d: Draft,
    next_step: State,
    prompt: str,
) -> None:
    """Go on to the next step, or straight back to the preview when editing one step."""
    if d.editing:
        d.editing = False
        await _show_preview(message, t, caller, d.sender, directory, relay, state, d)
        return
    await _keep(state, d, next_step)
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
    d = Draft(sender=sender)
    await _keep(state, d, Step.targets)
    view = _targets_view(t, directory, caller, d)
    await message.answer(view.text, reply_markup=view.keyboard)


# ------------------------------------------------------------------ the dialog's buttons


class OpenDraft(Filter):
    """A button of the presser's own dialog (the FSM is per user), at a step where it
    belongs: passes the `draft` and the message it is on (`msg`) to the handler.

    Fails when there is no dialog, or when the button is one only a draft with its title
    and text shows (an old or forged button): `stale` then says the notice is no longer
    being edited. With `on_message=False` it passes only when the message the button is
    on can no longer be read (Telegram gives no message after 48 h).
    """

    def __init__(self, *, on_message: bool = True) -> None:
        self.on_message = on_message

    async def __call__(
        self, callback: CallbackQuery, callback_data: BcCb, state: FSMContext
    ) -> bool | dict[str, Any]:
        current = await state.get_state()
        if current is None or not current.startswith("Step:"):
            return False
        d = Draft.of(await state.get_data())
        if callback_data.action in _AFTER_TEXT and not d.written:
            return False
        msg = callback.message if isinstance(callback.message, Message) else None
        if (msg is not None) != self.on_message:
            return False
        return {"draft": d, "msg": msg}


async def stale(callback: CallbackQuery, t: T) -> None:
    """A button of no dialog in progress, or of a step the draft is not at."""
    await callback.answer(t.plain("bc-expired"), show_alert=True)


async def unreadable(callback: CallbackQuery) -> None:
    """A button on a message Telegram no longer gives: nothing to edit there."""
    await callback.answer()


async def cancel(
    callback: CallbackQuery, msg: Message, t: T, state: FSMContext, draft: Draft, files: FileRepo
) -> None:
    await callback.answer()
    await state.clear()
    await files.delete(draft.served())  # the bridge serves no file of a cancelled draft
    await msg.edit_text(t("cancelled"))


async def toggle_org(
    callback: CallbackQuery,
    callback_data: BcCb,
    caller: Caller,
    t: T,
    directory: Directory,
    state: FSMContext,
    draft: Draft,
) -> None:
    await callback.answer()
    if directory.org(callback_data.value, caller.scope) is not None:
        draft.orgs = sorted(set(draft.orgs) ^ {callback_data.value})
    else:  # as before: an org out of reach turns the page (clamped to the last one)
        draft.page = callback_data.value
    await _keep(state, draft)
    await edit(callback, _targets_view(t, directory, caller, draft))  # may be unchanged


async def turn_page(
    callback: CallbackQuery,
    callback_data: BcCb,
    caller: Caller,
    t: T,
    directory: Directory,
    state: FSMContext,
    draft: Draft,
) -> None:
    await callback.answer()
    draft.page = callback_data.value
    await _keep(state, draft)
    await edit(callback, _targets_view(t, directory, caller, draft))  # may be unchanged


async def targets_chosen(
    callback: CallbackQuery,
    msg: Message,
    caller: Caller,
    t: T,
    directory: Directory,
    relay: Relay,
    state: FSMContext,
    draft: Draft,
) -> None:
    await callback.answer()
    if not draft.orgs and not draft.users:
        await msg.answer(t("bc-need-target"))
        return
    await msg.edit_reply_markup(reply_markup=None)
    prompt = t("bc-ask-title", max=MAX_TITLE)
    await _after_step(msg, t, caller, directory, relay, state, draft, Step.title, prompt)


async def files_done(
    callback: CallbackQuery,
    msg: Message,
    caller: Caller,
    t: T,
    directory: Directory,
    relay: Relay,
    state: FSMContext,
    draft: Draft,
) -> None:
    await callback.answer()
    await msg.edit_reply_markup(reply_markup=None)
    draft.editing = False
    await _show_preview(msg, t, caller, draft.sender, directory, relay, state, draft)


async def edit_menu(callback: CallbackQuery, msg: Message, t: T) -> None:
    await callback.answer()
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


async def edit_targets(
    callback: CallbackQuery,
    msg: Message,
    caller: Caller,
    t: T,
    directory: Directory,
    state: FSMContext,
    draft: Draft,
) -> None:
    await callback.answer()
    draft.editing = True  # Next goes straight back to the preview, as after the others
    await _keep(state, draft, Step.targets)
    view = _targets_view(t, directory, caller, draft)
    await msg.answer(view.text, reply_markup=view.keyboard)


async def edit_title(
    callback: CallbackQuery, msg: Message, t: T, state: FSMContext, draft: Draft
) -> None:
    await callback.answer()
    draft.editing = True
    await _keep(state, draft, Step.title)
    await msg.answer(t("bc-ask-title", max=MAX_TITLE))


async def edit_text(
    callback: CallbackQuery, msg: Message, t: T, state: FSMContext, draft: Draft
) -> None:
    await callback.answer()
    draft.editing = True
    await _keep(state, draft, Step.text)
    await msg.answer(t("bc-ask-text", max=MAX_TEXT))


async def edit_files(
    callback: CallbackQuery,
    msg: Message,
    t: T,
    state: FSMContext,
    draft: Draft,
    files: FileRepo,
) -> None:
    await callback.answer()
    await files.delete(draft.served())
    draft.files = []
    await _keep(state, draft, Step.attachments)
    await msg.answer(t("bc-ask-files", max=MAX_FILES), reply_markup=_files_kb(t))


# ------------------------------------------------------------------ the dialog's messages


async def target_users(
    message: Message, caller: Caller, t: T, directory: Directory, state: FSMContext
) -> None:
    d = Draft.of(await state.get_data())
    added, problems = [], []
    for word in (message.text or "").replace(",", " ").split():
        found = directory.resolve(word, Kind.USER, caller.scope)
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
    await _keep(state, d)
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
    d = Draft.of(await state.get_data())
    d.title = text
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
    d = Draft.of(await state.get_data())
    d.text = text
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
    clock: Clock,
) -> None:
    d = Draft.of(await state.get_data())
    if len(d.files) >= MAX_FILES:
        await message.answer(t("bc-files-full", max=MAX_FILES), reply_markup=_files_kb(t))
        return
    if message.text:
        url = message.text.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            await message.answer(t("bc-not-a-link"), reply_markup=_files_kb(t))
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
            await message.answer(t("bc-file-too-big"), reply_markup=_files_kb(t))
            return
        buf = io.BytesIO()
        await bot.download(item, destination=buf)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        token = await files.add(name, mime, buf.getvalue(), clock())
        url = f"{public_base(settings, http_port)}/files/{token}/{quote(name)}"
        d.files.append(DraftFile(name=name, url=url, token=token))
    await _keep(state, d)
    await message.answer(
        t("bc-file-added", name=d.files[-1].name, count=len(d.files)),
        reply_markup=_files_kb(t),
    )


async def discard_draft_files(data: dict[str, Any], files: FileRepo) -> None:
    """Stop serving the files of a draft that is being thrown away (e.g. by /cancel)."""
    await files.delete(Draft.of(data).served())


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


async def confirm(
    callback: CallbackQuery,
    caller: Caller,
    t: T,
    relay: Relay,
    state: FSMContext,
    audit: AuditRepo,
    user_locks: UserLocks,
    files: FileRepo,
    clock: Clock,
) -> None:
    msg = callback.message if isinstance(callback.message, Message) else None
    # Under the caller's lock, take the draft out of the dialog: a second tap finds nothing.
    async with user_locks.of(caller.user_id):
        if await state.get_state() != Step.preview.state:
            await callback.answer(t.plain("bc-already"), show_alert=False)
            return
        d = Draft.of(await state.get_data())
        if msg is None or d.preview_msg != msg.message_id:
            await callback.answer(t.plain("bc-expired"), show_alert=True)
            return
        await state.clear()
    await callback.answer(t.plain("bc-sending"))
    notice = _notice(d.sender or str(caller.user_id), caller.user_id, d)
    job_id, chats = await relay.ingest_notice(notice)
    await files.mark_sent(d.served(), clock())  # kept FILES_KEPT from now
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
    platform_line = _platform_line(t, job, caller.lang)
    text = "\n".join([t("bc-sent-head"), platform_line, t("bc-chats", count=chats)])
    await msg.edit_reply_markup(reply_markup=None)
    await msg.answer(text)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.filter(MinRole(Role.ADMIN))
    r.callback_query.filter(MinRole(Role.ADMIN))
    r.message.register(start, Command("broadcast"))
    # Confirm checks the dialog itself, under the caller's lock (it runs exactly once).
    r.callback_query.register(confirm, BcCb.filter(F.action == BcAction.CONFIRM))
    buttons = r.callback_query
    buttons.register(cancel, BcCb.filter(F.action == BcAction.CANCEL), OpenDraft())
    buttons.register(toggle_org, BcCb.filter(F.action == BcAction.ORG), OpenDraft())
    buttons.register(turn_page, BcCb.filter(F.action == BcAction.PAGE), OpenDraft())
    buttons.register(targets_chosen, BcCb.filter(F.action == BcAction.NEXT), OpenDraft())
    buttons.register(files_done, BcCb.filter(F.action == BcAction.DONE), OpenDraft())
    buttons.register(edit_menu, BcCb.filter(F.action == BcAction.EDIT), OpenDraft())
    buttons.register(edit_targets, BcCb.filter(F.action == BcAction.EDIT_TARGETS), OpenDraft())
    buttons.register(edit_title, BcCb.filter(F.action == BcAction.EDIT_TITLE), OpenDraft())
    buttons.register(edit_text, BcCb.filter(F.action == BcAction.EDIT_TEXT), OpenDraft())
    buttons.register(edit_files, BcCb.filter(F.action == BcAction.EDIT_FILES), OpenDraft())
    # What none of those took: a dialog there, but its message no longer readable; else
    # no dialog (or not at this button's step).
    buttons.register(unreadable, BcCb.filter(), OpenDraft(on_message=False))
    buttons.register(stale, BcCb.filter())
    r.message.register(target_users, Step.targets, F.text, ~F.text.startswith("/"))
    r.message.register(title, Step.title, F.text, ~F.text.startswith("/"))
    r.message.register(body, Step.text, F.text, ~F.text.startswith("/"))
    r.message.register(attachment, Step.attachments, F.photo | F.document | F.text)
    return r
