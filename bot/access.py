"""Who is calling: role, org scope and language, resolved once per update."""

from __future__ import annotations

from dataclasses import dataclass

from storage.roles import Role


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
