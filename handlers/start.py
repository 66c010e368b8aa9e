"""/start (with an invite code), /help, /lang, /cancel: for anyone."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.access import Caller
from bot.app.services import Clock, Menus
from bot.config import Settings
from bot.directory import Directory
from bot.i18n import Translator
from bot.parsing.registration import REGISTER_START
from bot.render.replies import Reply, T
from bot.telegram.commands import sections
from bot.webapp.links import MapMenu
from handlers.accounts import open_register
from handlers.broadcast import discard_draft_files
from handlers.reply import answer
from handlers.roles import invite_refusal
from storage.audit import AuditRepo
from storage.db import Database
from storage.files import FileRepo
from storage.invites import InviteRepo, InviteStatus
from storage.roles import Role, RoleRepo
from storage.users import UserRepo


def map_line(t: T, caller: Caller, *, map_on: bool, private: bool) -> str | None:
    """/help's line about the map: how to open it, or, for those who would use it most
    (supervisors and admins), that the operator has not turned it on."""
    if not map_on:
        return t("map-help-off") if caller.can(Role.SUPERVISOR) else None
    if not caller.can(Role.SUPERVISOR):
        return t("map-help-on-viewer") if caller.can(Role.VIEWER) else None
    return t("map-help-on-menu" if private else "map-help-on-supervisor")


def help_text(t: T, caller: Caller, map_help: str | None = None) -> str:
    """/help: the general commands, then a part per section (查询 / 位置 / 推送 / 管理) the
    caller's role may use anything of, each command with an example of its arguments; and
    `map_help`, the line about the map, when given."""
    if caller.role is Role.NONE:
        return t("help-unknown", id=caller.user_id)
    lines: list[str] = [t("help-title", role=t(f"role-{caller.role.label}"))]
    for section, commands in sections(caller.role):
        if section is not None:
            lines += ["", t(f"help-section-{section.value}")]
        for c in commands:
            what = t(f"cmd-{c.name}")
            if c.example:
                example = t.plain(f"help-example-{c.name}")
                lines.append(t("help-line-example", name=c.name, what=what, example=example))
            else:
                lines.append(t("help-line", name=c.name, what=what))
    lines.append("")
    lines.append(t("help-names"))
    if map_help is not None:
        lines += ["", map_help]
    return "\n".join(lines)


async def start_with_code(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    invites: InviteRepo,
    roles: RoleRepo,
    audit: AuditRepo,
    directory: Directory,
    settings: Settings,
    db: Database,
    menus: Menus,
    state: FSMContext,
    clock: Clock,
) -> None:
    code = (command.args or "").strip()
    if code == REGISTER_START:  # the link /register gives in a group: the dialog, in private
        await open_register(message, caller, t, state)
        return
    now = clock()
    refusal = await invite_refusal(code, caller, now, invites, roles, directory, settings)
    if refusal is not None:
        await answer(message, Reply(t(refusal) + "\n\n" + help_text(t, caller)))
        return
    async with db.transaction():
        invite = await invites.redeem(code, caller.user_id, now)
        if invite is not None:
            # A redeemed invite never lowers a role the user already has.
            if invite.role > caller.role:
                await roles.set(caller.user_id, invite.role, invite.org_id, invite.created_by)
            await audit.add(
                caller.user_id,
                "invite-redeem",
                str(caller.user_id),
                {"role": invite.role.label, "org": invite.org_id},
                "ok",
                now,
            )
    if invite is None:
        status = await invites.status(code, now)
        key = {
            InviteStatus.USED: "invite-used",
            InviteStatus.EXPIRED: "invite-expired",
        }.get(status, "invite-invalid")
        await answer(message, Reply(t(key) + "\n\n" + help_text(t, caller)))
        return
    role = max(invite.role, caller.role)
    # The menu of commands and, with the map on, the map's menu button (`Menus`).
    await menus.set_user_menu(caller.user_id, role)
    private, map_on = message.chat.type == "private", settings.bridge.public_url is not None
    new_caller = Caller(caller.user_id, role, caller.org_id, caller.scope, caller.lang)
    await answer(
        message,
        Reply(
            t("invite-redeemed", role=t(f"role-{role.label}"))
            + "\n\n"
            + help_text(t, new_caller, map_line(t, new_caller, map_on=map_on, private=private))
        ),
    )


async def start(
    message: Message,
    caller: Caller,
    t: T,
    settings: Settings,
    map_menu: MapMenu | None = None,  # absent from a dispatcher built without the map
) -> None:
    private = message.chat.type == "private"
    line = map_line(t, caller, map_on=settings.bridge.public_url is not None, private=private)
    await answer(message, Reply(help_text(t, caller, line)))
    if private and map_menu is not None:
        await map_menu.update(caller.user_id, caller.role, t.plain("map-menu"))


async def lang(
    message: Message,
    command: CommandObject,
    caller: Caller,
    users: UserRepo,
    translator: Translator,
    menus: Menus,
) -> None:
    arg = (command.args or "").strip().lower()
    if arg not in ("zh", "en"):
        await answer(message, Reply(translator.get(caller.lang)("usage-lang")))
        return
    await users.set_language(caller.user_id, arg)  # type: ignore[arg-type]
    if caller.role > Role.NONE:
        await menus.set_user_menu(caller.user_id, caller.role)
    await answer(message, Reply(translator.get(arg)("lang-set")))


async def cancel(message: Message, state: FSMContext, t: T, files: FileRepo) -> None:
    had = await state.get_state()
    await discard_draft_files(await state.get_data(), files)  # a broadcast's uploads
    await state.clear()
    await answer(message, Reply(t("cancelled") if had else t("nothing-to-cancel")))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.register(start_with_code, CommandStart(deep_link=True, magic=F.args.len() > 0))
    r.message.register(start, Command("help"))
    r.message.register(start, CommandStart())
    r.message.register(lang, Command("lang"))
    r.message.register(cancel, Command("cancel"))
    return r
