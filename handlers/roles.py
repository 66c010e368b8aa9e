"""/role and /invite (admin): who may do what, optionally within an org subtree."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.access import Caller, Verdict, caller_of, grant_within, may_manage
from bot.app.services import Menus
from bot.config import Settings
from bot.directory import Directory
from bot.render.replies import Reply, T, roles_text
from bot.render.text import esc
from handlers.filters import feature_router
from handlers.lookup import CommandContext, command_context
from handlers.reply import answer
from storage.invites import Invite, InviteRepo
from storage.roles import Grant, Role, RoleRepo
from storage.users import UserRepo


class ArgError(Exception):
    """A wrong argument: the message key and its arguments."""

    def __init__(self, key: str, **args: object) -> None:
        super().__init__(key)
        self.key, self.args_ = key, args


# What a refusal of `may_manage` says (NOT_ADMIN: the router's filter answers first).
REFUSAL = MappingProxyType(
    {
        Verdict.NOT_ADMIN: "role-beyond-reach",
        Verdict.CONFIG_ADMIN: "role-config-admin",
        Verdict.HOLDER_OUT_OF_REACH: "role-not-yours",
        Verdict.GRANT_OUT_OF_REACH: "role-beyond-reach",
    }
)


def parse_org(words: list[str], caller: Caller, directory: Directory) -> int | None:
    """`org <id>` at the end of the arguments; a scoped admin must stay inside their scope."""
    org_id: int | None = None
    if words:
        # ASCII digits only: str.isdigit alone also takes "²", which int() refuses.
        digits = words[1].isascii() and words[1].isdigit() if len(words) == 2 else False
        if not digits or words[0].lower() != "org" or len(words[1]) > 18:
            raise ArgError("usage-org-arg")
        org_id = int(words[1])
        if directory.org(org_id, caller.scope) is None:
            raise ArgError("not-found", kind="org", query=words[1])
    elif caller.scope is not None:
        # A scoped admin may only hand out roles inside their own subtree.
        org_id = caller.org_id
    return org_id


async def role(
    message: Message,
    command: CommandObject,
    ctx: CommandContext,
    roles: RoleRepo,
    users: UserRepo,
    menus: Menus,
) -> None:
    caller, t, directory, settings = ctx.caller, ctx.t, ctx.directory, ctx.settings
    words = (command.args or "").split()
    if not words:
        await answer(
            message, Reply(await _list_roles(t, caller, roles, users, directory, settings))
        )
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
        verdict = may_manage(
            caller,
            await roles.get(target),
            new_role,
            org_id,
            target_is_config_admin=target in settings.bridge.admin_ids,
        )
        if verdict is not Verdict.OK:
            raise ArgError(REFUSAL[verdict], id=target)
    except ArgError as err:
        await answer(message, Reply(t(err.key, **err.args_)))
        return
    await roles.set(target, new_role, str(org_id) if org_id is not None else None, caller.user_id)
    await ctx.audit.add(
        caller.user_id,
        "role",
        str(target),
        {"role": new_role.label, "org": org_id},
        "ok",
        ctx.clock(),
    )
    await menus.set_user_menu(target, new_role)
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
    digits = word.removeprefix("-")
    if digits.isascii() and digits.isdigit():
        if len(digits) > 16:  # Telegram ids have at most 52 bits; SQLite takes 64
            raise ArgError("usage-role")
        return int(word)
    if word.startswith("@"):
        seen = await users.find_by_username(word)
        if seen is not None:
            return seen.user_id
        raise ArgError("role-unknown-username", name=esc(word))
    raise ArgError("usage-role")


async def _list_roles(
    t: T,
    caller: Caller,
    roles: RoleRepo,
    users: UserRepo,
    directory: Directory,
    settings: Settings,
) -> str:
    """Every role the caller could manage: a scoped admin sees only grants inside their
    subtree (not the settings' admins, not unscoped roles, not other orgs' people)."""
    admin_ids = settings.bridge.admin_ids
    admins: list[tuple[int, str | None]] = []
    if caller.scope is None:
        for uid in admin_ids:
            seen = await users.get(uid)
            admins.append((uid, seen.full_name if seen else None))
    grants: list[tuple[Grant, str | None, str | None]] = []
    for g in await roles.list():
        if g.user_id in admin_ids or not grant_within(g, caller.scope):
            continue
        seen = await users.get(g.user_id)
        org = directory.org(int(g.org_id)) if g.org_id is not None else None
        grants.append((g, seen.full_name if seen else None, org.name if org else None))
    return roles_text(t, admins, grants)


async def invite(
    message: Message, command: CommandObject, ctx: CommandContext, invites: InviteRepo
) -> None:
    caller, t, directory = ctx.caller, ctx.t, ctx.directory
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
        # Whoever redeems it is unknown yet: judged as someone without a role here, and
        # again against their own grant when they redeem it (`redeem_verdict`).
        verdict = may_manage(caller, None, new_role, org_id)
        if verdict is not Verdict.OK:
            raise ArgError(REFUSAL[verdict])
    except ArgError as err:
        await answer(message, Reply(t(err.key, **err.args_)))
        return
    now = ctx.clock()
    code = await invites.create(
        new_role, str(org_id) if org_id is not None else None, caller.user_id, now
    )
    inv = await invites.get(code)
    assert inv is not None
    me = await ctx.bot.me()
    link = f"https://t.me/{me.username}?start={code}"
    await ctx.audit.add(
        caller.user_id, "invite", None, {"role": new_role.label, "org": org_id}, "ok", now
    )
    org = directory.org(org_id) if org_id is not None else None
    expires = inv.expires_at.astimezone(ctx.settings.bridge.tz).strftime("%Y-%m-%d %H:%M")
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


async def redeem_verdict(
    invite: Invite, caller: Caller, roles: RoleRepo, directory: Directory, settings: Settings
) -> Verdict:
    """Whether redeeming `invite` may replace the redeemer's role.

    An invitation carries its creator's reach as it is now (a creator since demoted or
    re-scoped reaches less), judged by `may_manage` against the redeemer's current grant:
    a scoped admin's invitation never re-scopes an unscoped role or one held elsewhere.
    """
    admin_ids = settings.bridge.admin_ids
    if invite.created_by is None:  # made by the bridge itself: unscoped
        issuer = Caller(0, Role.ADMIN, None, None, caller.lang)
    else:
        issuer = caller_of(
            invite.created_by,
            await roles.get(invite.created_by),
            config_admin=invite.created_by in admin_ids,
            subtree=directory.subtree,
        )
    org_id = (
        int(invite.org_id)
        if invite.org_id and invite.org_id.isascii() and invite.org_id.isdigit()
        else None
    )
    return may_manage(
        issuer,
        await roles.get(caller.user_id),
        invite.role,
        org_id,
        target_is_config_admin=caller.user_id in admin_ids,
    )


async def invite_refusal(
    code: str,
    caller: Caller,
    now: datetime,
    invites: InviteRepo,
    roles: RoleRepo,
    directory: Directory,
    settings: Settings,
) -> str | None:
    """Before `/start <code>` redeems an invitation: the message key that refuses it, or
    None to go on (an unknown, used or expired code is left to the redemption to explain).

    Refused, the invitation stays unused: its creator may give it to someone it reaches.
    """
    invite = await invites.get(code)
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        return None
    if invite.role <= caller.role:
        return None  # it changes nothing: a redeemed invitation never lowers a role
    verdict = await redeem_verdict(invite, caller, roles, directory, settings)
    if verdict is Verdict.OK:
        return None
    if verdict is Verdict.HOLDER_OUT_OF_REACH:
        return "invite-not-yours"
    return "invite-invalid"  # its creator no longer reaches what it grants


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.ADMIN, command_context)
    r.message.register(role, Command("role"))
    r.message.register(invite, Command("invite"))
    return r
