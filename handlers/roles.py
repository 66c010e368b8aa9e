"""/role and /invite (admin): who may do what, optionally within an org subtree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.access import Caller
from bot.config import Settings
from bot.directory import Directory
from bot.render import Reply, T
from bot.text import esc
from handlers.filters import MinRole
from handlers.reply import answer
from storage.audit import AuditRepo
from storage.db import utcnow
from storage.invites import InviteRepo
from storage.roles import Role, RoleRepo
from storage.users import UserRepo

if TYPE_CHECKING:
    from bot.app import Bridge

router = Router(name=__name__)
router.message.filter(MinRole(Role.ADMIN))


class ArgError(Exception):
    """A wrong argument: the message key and its arguments."""

    def __init__(self, key: str, **args: object) -> None:
        super().__init__(key)
        self.key, self.args_ = key, args


def parse_org(words: list[str], caller: Caller, directory: Directory) -> int | None:
    """`org <id>` at the end of the arguments; a scoped admin must stay inside their scope."""
    org_id: int | None = None
    if words:
        if len(words) != 2 or words[0].lower() != "org" or not words[1].isdigit():
            raise ArgError("usage-org-arg")
        org_id = int(words[1])
        if directory.org(org_id, caller.scope) is None:
            raise ArgError("not-found", kind="org", query=words[1])
    elif caller.scope is not None:
        # A scoped admin may only hand out roles inside their own subtree.
        org_id = caller.org_id
    return org_id


@router.message(Command("role"))
async def role(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    roles: RoleRepo,
    users: UserRepo,
    audit: AuditRepo,
    directory: Directory,
    settings: Settings,
    bridge: Bridge,
) -> None:
    words = (command.args or "").split()
    if not words:
        await answer(message, Reply(await _list_roles(t, roles, users, directory, settings)))
        return
    try:
        if len(words) < 2:
            raise ArgError("usage-role")
        target = await _target(words[0], users)
        try:
            new_role = Role.parse(words[1])
        except ValueError:
            raise ArgError("usage-role") from None
        org_id = parse_org(words[2:], caller, directory)
        if target in settings.bridge.admin_ids:
            raise ArgError("role-config-admin", id=target)
    except ArgError as err:
        await answer(message, Reply(t(err.key, **err.args_)))
        return
    await roles.set(target, new_role, str(org_id) if org_id is not None else None, caller.user_id)
    await audit.add(
        caller.user_id,
        "role",
        str(target),
        {"role": new_role.label, "org": org_id},
        "ok",
        utcnow(),
    )
    await bridge.set_user_menu(target, new_role)
    org = directory.org(org_id) if org_id is not None else None
    org_name = org.name if org is not None else None
    key = "role-removed" if new_role is Role.NONE else "role-set"
    await answer(
        message,
        Reply(
            t(
                key,
                id=target,
                role=t(f"role-{new_role.label}"),
                org=esc(org_name) if org_name else t("everywhere"),
            )
        ),
    )


async def _target(word: str, users: UserRepo) -> int:
    if word.lstrip("-").isdigit():
        return int(word)
    if word.startswith("@"):
        seen = await users.find_by_username(word)
        if seen is not None:
            return seen.user_id
        raise ArgError("role-unknown-username", name=esc(word))
    raise ArgError("usage-role")


async def _list_roles(
    t: T, roles: RoleRepo, users: UserRepo, directory: Directory, settings: Settings
) -> str:
    lines: list[str] = [t("roles-title")]
    for uid in settings.bridge.admin_ids:
        seen = await users.get(uid)
        name = esc(seen.full_name) if seen else "—"
        lines.append(f"<code>{uid}</code> {name}: {t('role-admin')} ({t('role-from-settings')})")
    for g in await roles.list():
        seen = await users.get(g.user_id)
        name = esc(seen.full_name) if seen else "—"
        where = ""
        if g.org_id is not None:
            org = directory.org(int(g.org_id))
            where = " · " + (esc(org.name) if org else f"org {esc(g.org_id)}")
        lines.append(f"<code>{g.user_id}</code> {name}: {t(f'role-{g.role.label}')}{where}")
    lines.append("")
    lines.append(t("usage-role"))
    return "\n".join(lines)


@router.message(Command("invite"))
async def invite(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    invites: InviteRepo,
    audit: AuditRepo,
    directory: Directory,
    settings: Settings,
    bot: Bot,
) -> None:
    words = (command.args or "").split()
    try:
        if not words:
            raise ArgError("usage-invite")
        try:
            new_role = Role.parse(words[0])
        except ValueError:
            raise ArgError("usage-invite") from None
        if new_role is Role.NONE:
            raise ArgError("usage-invite")
        org_id = parse_org(words[1:], caller, directory)
    except ArgError as err:
        await answer(message, Reply(t(err.key, **err.args_)))
        return
    now = utcnow()
    code = await invites.create(
        new_role, str(org_id) if org_id is not None else None, caller.user_id, now
    )
    inv = await invites.get(code)
    assert inv is not None
    me = await bot.me()
    link = f"https://t.me/{me.username}?start={code}"
    await audit.add(
        caller.user_id, "invite", None, {"role": new_role.label, "org": org_id}, "ok", now
    )
    org = directory.org(org_id) if org_id is not None else None
    expires = inv.expires_at.astimezone(settings.bridge.tz).strftime("%Y-%m-%d %H:%M")
    await answer(
        message,
        Reply(
            t(
                "invite-created",
                role=t(f"role-{new_role.label}"),
                org=esc(org.name) if org else t("everywhere"),
                link=esc(link),
                expires=expires,
            )
        ),
    )
