"""The map's JSON API under `/app/api/…` (DESIGN §5).

Every request is authenticated by Telegram's `initData` (`bot.webapp.auth`); the user
gets the role and org scope they have in chat. Answers are JSON, never cached; an error
is `{"error": "<what is wrong>"}`. Without `BRIDGE_PUBLIC_URL` every `/app/` route
answers 404 saying so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.access import Caller, Callers
from bot.directory import Directory
from bot.webapp import page
from bot.webapp.auth import AuthError, display_name, init_data_of
from storage.roles import Role

MAP_OFF = "the map is off: set BRIDGE_PUBLIC_URL"

Handler = Callable[[web.Request, Caller, str], Awaitable[web.Response]]


def answer(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


def error(status: int, reason: str) -> web.Response:
    return answer({"error": reason}, status)


class WebAppApi:
    """`register(app)` adds the `/app/` routes to the listener."""

    def __init__(
        self,
        *,
        public_url: str | None,
        bot_token: str,
        callers: Callers,
        directory: Directory,
        clock: Callable[[], datetime],
    ) -> None:
        self._on = public_url is not None
        self._token = bot_token
        self._callers = callers
        self._directory = directory
        self._clock = clock

    def register(self, app: web.Application) -> None:
        app.router.add_get("/app/api/me", self._authed(self._me))
        app.router.add_get("/app/api/groups", self._authed(self._groups))
        if self._on:
            page.register(app)
        app.router.add_get("/app", self._other)
        app.router.add_get("/app/{tail:.*}", self._other)

    def _authed(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def checked(request: web.Request) -> web.Response:
            if not self._on:
                return error(404, MAP_OFF)
            try:
                data = init_data_of(
                    request.headers.get("Authorization"), self._token, self._clock()
                )
            except AuthError as exc:
                return error(401, exc.reason)
            assert data.user is not None  # init_data_of refuses initData without one
            caller = await self._callers.of(data.user.id, data.user.language_code)
            if not caller.can(Role.VIEWER):
                return error(403, "no role")
            return await handler(request, caller, display_name(data.user))

        return checked

    async def _other(self, request: web.Request) -> web.Response:
        if not self._on:
            return error(404, MAP_OFF)
        if request.path.startswith("/app/api/"):
            return error(404, f"no such endpoint: {request.path}")
        return error(404, "the map page is not built yet")

    async def _me(self, request: web.Request, caller: Caller, name: str) -> web.Response:
        return answer(
            {
                "user_id": caller.user_id,
                "name": name,
                "role": caller.role.label,
                "scope": None if caller.scope is None else sorted(caller.scope),
                "language": caller.lang,
            }
        )

    async def _groups(self, request: web.Request, caller: Caller, name: str) -> web.Response:
        groups = sorted(self._directory.groups(caller.scope), key=lambda g: (g.name, g.id))
        return answer(
            {"groups": [{"id": g.id, "name": g.name, "members": len(g.member_ids)} for g in groups]}
        )
