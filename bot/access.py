"""Who is calling: role, org scope and language, resolved once per update; and the one rule
for who may change whose role."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from bot.i18n import pick_language
from storage.roles import Grant, Role, RoleRepo
from storage.users import UserRepo


@dataclass(frozen=True)
class Caller:
    """The Telegram user behind an update, as the bridge sees them.

    `scope` is None for an unscoped role, else the org ids of the subtree the
    role is limited to: everything outside it is "not found".
    """

    user_id: int
    role: Role
    org_id: int | None
    scope: frozenset[int] | None
    lang: str
    is_config_admin: bool = False

    def can(self, role: Role) -> bool:
        return self.role >= role


def caller_of(
    user_id: int,
    grant: Grant | None,
    *,
    config_admin: bool,
    subtree: Callable[[int], frozenset[int]],
    lang: str = "",
) -> Caller:
    """The `Caller` a stored grant (or `BRIDGE_ADMIN_IDS`) makes of a user.

    For judging someone who is not the sender of this update, e.g. the creator of an
    invitation when it is redeemed.
    """
    if config_admin:
        return Caller(user_id, Role.ADMIN, None, None, lang, is_config_admin=True)
    if grant is None:
        return Caller(user_id, Role.NONE, None, None, lang)
    org_id = int(grant.org_id) if grant.org_id else None
    scope = subtree(org_id) if org_id is not None else None
    return Caller(user_id, grant.role, org_id, scope, lang)


def grant_within(grant: Grant | None, scope: frozenset[int] | None) -> bool:
    """Whether a stored grant lies inside an org scope (None: everywhere, so always).

    An unscoped grant is inside no subtree; a grant for an org that is no longer in the
    directory is inside none either.
    """
    if scope is None:
        return True
    if grant is None or grant.org_id is None:
        return False
    return grant.org_id.isdigit() and int(grant.org_id) in scope


class Verdict(enum.StrEnum):
    """The answer of `may_manage`; anything but OK is a refusal, told in words."""

    OK = "ok"
    NOT_ADMIN = "not-admin"  # the caller may not grant roles at all
    CONFIG_ADMIN = "config-admin"  # the target is in BRIDGE_ADMIN_IDS: only the settings change it
    HOLDER_OUT_OF_REACH = "holder-out-of-reach"  # the target's role is unscoped or elsewhere
    GRANT_OUT_OF_REACH = "grant-out-of-reach"  # the new role would reach beyond the caller


def may_manage(
    caller: Caller,
    current: Grant | None,
    new_role: Role,
    new_org: int | None,
    *,
    target_is_config_admin: bool = False,
) -> Verdict:
    """Whether `caller` may replace the target's `current` grant by `new_role` at `new_org`.

    The one rule for `/role`, `/invite` and redeeming an invitation:

    * only admins grant; nobody changes an admin of ``BRIDGE_ADMIN_IDS`` from chat;
    * an unscoped admin may do anything else;
    * a scoped admin may change or remove only a grant held inside their subtree (or give
      a role to someone who holds none), never an unscoped grant, and may grant only inside
      their subtree: a role with an org in it, never an unscoped one (``Role.NONE`` removes,
      it grants nothing).
    """
    if not caller.can(Role.ADMIN):
        return Verdict.NOT_ADMIN
    if target_is_config_admin:
        return Verdict.CONFIG_ADMIN
    if caller.scope is None:
        return Verdict.OK
    if current is not None and not grant_within(current, caller.scope):
        return Verdict.HOLDER_OUT_OF_REACH
    if new_role is not Role.NONE and (new_org is None or new_org not in caller.scope):
        return Verdict.GRANT_OUT_OF_REACH
    return Verdict.OK


@dataclass(frozen=True)
class Callers:
    """Who is calling, from their Telegram id and language: the one lookup the chat (every
    update) and the map (every API request) make, so both give a person the same role,
    scope and language."""

    roles: RoleRepo
    users: UserRepo
    admin_ids: frozenset[int]
    subtree: Callable[[int], frozenset[int]]
    default_lang: str

    async def of(self, user_id: int, language_code: str | None) -> Caller:
        grant = await self.roles.get(user_id)
        chosen = await self.users.get_language(user_id)
        return caller_of(
            user_id,
            grant,
            config_admin=user_id in self.admin_ids,
            subtree=self.subtree,
            lang=pick_language(chosen, language_code, self.default_lang),
        )
