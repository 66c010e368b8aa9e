"""Access filters for routers: `router.message.filter(MinRole(Role.VIEWER))`."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter

from bot.access import Caller
from storage.roles import Role


class MinRole(Filter):
    """Passes when the caller's role is at least `role`."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, event: Any, caller: Caller | None = None) -> bool:
        return caller is not None and caller.role >= self.role
