"""/broadcast's draft: the notice being written, as the dialog keeps it in the FSM storage,
the steps it goes through, and its views (the targets page, each step's prompt, the preview).

The dialog's handlers are `handlers.broadcast`; each is given the presser's `Dialog`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.access import Caller
from bot.app.services import Clock
from bot.directory import Directory
from bot.platform.models import Notice
from bot.relay.service import Relay
from bot.render.replies import Reply, T
from bot.telegram.callbacks import BcAction, BcCb
from handlers.reply import answer
from storage.files import FileRepo

MAX_TITLE = 100
MAX_TEXT = 3000
ORGS_PER_PAGE = 8
MAX_FILES = 10


class Step(StatesGroup):
    targets = State()
    title = State()
    text = State()
    attachments = State()
    preview = State()


# Shown only once the draft has its title and text (the attachments step, the preview).
AFTER_TEXT = frozenset(
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

    def notice(self, sender: str, sender_id: int) -> Notice:
        """The notice as the platform takes it (2.15)."""
        return Notice.model_validate(
            {
                "from": {"id": sender_id, "name": sender},
                "to": {"orgIds": self.orgs, "userIds": self.users},
                "title": self.title,
                "content": self.text,
                "accessory": [f.model_dump(exclude_none=True) for f in self.files],
            }
        )


def _reads(model: type[BaseModel], value: Any) -> bool:
    try:
        model.model_validate(value)
    except ValidationError:
        return False
    return True


def _button(kb: InlineKeyboardBuilder, text: str, action: BcAction, value: int = 0) -> None:
    kb.button(text=text, callback_data=BcCb(action=action, value=value))


def targets_view(t: T, directory: Directory, caller: Caller, d: Draft) -> Reply:
    """The targets step: the orgs in the caller's scope, a page of them, as buttons."""
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
        _button(kb, f"{'· ' * depth}{mark}{o.name}", BcAction.ORG, o.id)
    kb.adjust(1)
    nav = InlineKeyboardBuilder()
    if page > 0:
        _button(nav, "◀", BcAction.PAGE, page - 1)
    if page < pages - 1:
        _button(nav, "▶", BcAction.PAGE, page + 1)
    _button(nav, t.plain("btn-continue"), BcAction.NEXT)
    _button(nav, t.plain("btn-cancel"), BcAction.CANCEL)
    kb.attach(nav)
    return Reply(t("bc-targets", targets=target_summary(t, directory, d)), kb.as_markup())


def target_summary(t: T, directory: Directory, d: Draft) -> str:
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


def reach(directory: Directory, d: Draft) -> int:
    """How many people the draft's orgs and users are."""
    people: set[int] = set(d.users)
    for oid in d.orgs:
        sub = directory.subtree(oid)
        people |= {u.id for u in directory.snapshot.users.values() if u.org_id in sub}
    return len(people)


def _keyboard(t: T, buttons: tuple[tuple[BcAction, str], ...], width: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for action, key in buttons:
        _button(kb, t.plain(key), action)
    kb.adjust(width)
    return kb.as_markup()


def files_kb(t: T) -> InlineKeyboardMarkup:
    """The attachments step's buttons: Done, Cancel."""
    return _keyboard(t, ((BcAction.DONE, "btn-done"), (BcAction.CANCEL, "btn-cancel")), 2)


def preview_kb(t: T) -> InlineKeyboardMarkup:
    buttons = (
        (BcAction.CONFIRM, "btn-confirm"),
        (BcAction.EDIT, "btn-edit"),
        (BcAction.CANCEL, "btn-cancel"),
    )
    return _keyboard(t, buttons, 3)


def edit_menu_kb(t: T) -> InlineKeyboardMarkup:
    """Edit on the preview: which step to do again."""
    buttons = (
        (BcAction.EDIT_TARGETS, "bc-edit-targets"),
        (BcAction.EDIT_TITLE, "bc-edit-title"),
        (BcAction.EDIT_TEXT, "bc-edit-text"),
        (BcAction.EDIT_FILES, "bc-edit-files"),
    )
    return _keyboard(t, buttons, 2)


@dataclass
class Dialog:
    """One admin's /broadcast in progress: the draft, where it is kept (`state`), and what
    its steps and views use. Each field but `draft` is named after the handler data key it
    comes from."""

    state: FSMContext
    t: T
    caller: Caller
    directory: Directory
    relay: Relay
    files: FileRepo
    clock: Clock
    draft: Draft

    @classmethod
    async def of(cls, data: dict[str, Any]) -> Dialog:
        """The dialog of the handler data, its draft as the FSM storage has it now."""
        given = {f.name: data[f.name] for f in fields(cls) if f.name != "draft"}
        return cls(**given, draft=Draft.of(await data["state"].get_data()))

    async def keep(self, step: State | None = None) -> None:
        """Store the draft (and move the dialog to `step`)."""
        if step is not None:
            await self.state.set_state(step)
        await self.state.update_data(bc=self.draft.dump())

    def targets_view(self) -> Reply:
        return targets_view(self.t, self.directory, self.caller, self.draft)

    def prompt(self, step: State) -> Reply:
        """What a step asks for."""
        t = self.t
        if step == Step.targets:
            return self.targets_view()
        if step == Step.title:
            return Reply(t("bc-ask-title", max=MAX_TITLE))
        if step == Step.text:
            return Reply(t("bc-ask-text", max=MAX_TEXT))
        return Reply(t("bc-ask-files", max=MAX_FILES), files_kb(t))

    async def ask(self, message: Message, step: State) -> None:
        """Move the dialog to `step` and ask for it."""
        await self.keep(step)
        await answer(message, self.prompt(step))

    async def after_step(self, message: Message, next_step: State) -> None:
        """Go on to the next step, or straight back to the preview when editing one step."""
        if self.draft.editing:
            self.draft.editing = False
            await self.show_preview(message)
            return
        await self.ask(message, next_step)

    async def show_preview(self, message: Message) -> None:
        t, d, directory = self.t, self.draft, self.directory
        await self.keep(Step.preview)
        chats = await self.relay.notice_chats()
        text = "\n".join(
            [
                t("bc-preview-head"),
                "",
                self.relay.notice_preview(d.notice(d.sender, self.caller.user_id)),
                "",
                t(
                    "bc-preview-reach",
                    users=reach(directory, d),
                    targets=target_summary(t, directory, d),
                    chats=chats,
                ),
            ]
        )
        sent = await message.answer(text, reply_markup=preview_kb(t))
        # Confirm counts only on the latest preview: an older one may show another draft.
        d.preview_msg = sent.message_id
        await self.keep()

    async def discard_files(self) -> None:
        """Stop serving the draft's files (it is thrown away, or its files chosen again)."""
        await self.files.delete(self.draft.served())
