"""The sandbox platform put together: its HTTP server, envelope, login and media."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.sandbox.data import (
    MEDIA_FILES,
)
from bot.sandbox.platform.media import MEDIA_DIR, MEDIA_TYPES, tiny_png
from bot.sandbox.platform.quirks import Fault, RecordedRequest
from bot.sandbox.platform.routes.attendance import AttendanceRoutes
from bot.sandbox.platform.routes.directory import DirectoryRoutes
from bot.sandbox.platform.routes.events import EventRoutes
from bot.sandbox.platform.routes.positions import PositionRoutes
from bot.sandbox.platform.routes.recordings import RecordingRoutes
from bot.sandbox.platform.routes.tiles import TileRoutes
from bot.sandbox.platform.routes.writes import WriteRoutes
from bot.sandbox.platform.wire import (
    LOGIN_PAGE,
    MESSAGES,
    NGINX_502,
    ApiError,
    Call,
    as_str,
    iso_utc,
    json_response,
    required,
)


class SandboxPlatform(
    DirectoryRoutes,
    PositionRoutes,
    RecordingRoutes,
    WriteRoutes,
    EventRoutes,
    AttendanceRoutes,
    TileRoutes,
):
    """A simulated dispatch platform on 127.0.0.1 for tests, the demo and integrators.

    Every answer is the platform envelope with HTTP 200, errors included. The
    token (header `token_header`) is the fixed `token`, or one issued by the login
    call; :meth:`expire_tokens` invalidates them to exercise re-login.
    """

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port); returns the base URL."""
        self._closing = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        if ":" in shown:
            shown = f"[{shown}]"
        self.url = f"http://{shown}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening; injected delays still pending end at once."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- app --------------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        p = self.prefix
        endpoints: list[tuple[str, str, Callable[[Call], Any]]] = [
            ("GET", "/organization/getOrganizationTree2", self._org_tree2),
            ("POST", "/group/cgt/inThisGroupUids", self._in_this_group),
            ("POST", "/pttUser/isOnline", self._is_online),
            ("POST", "/location/getLatestCoords", self._latest_coords),
            ("POST", "/location/trackPlayback", self._track_playback),
            ("GET", "/ptt/audioRecord", self._audio_record),
            ("POST", "/user/register", self._register),
            ("POST", "/user/delete", self._delete_users),
            ("POST", "/group/create", self._group_create),
            ("POST", "/group/bind", self._group_bind),
            ("POST", "/device/bind", self._device_bind),
            ("POST", "/orgUser/tree", self._org_user_tree),
            ("POST", "/org/user", self._org_user),
            ("POST", "/user/info", self._user_info),
            ("POST", "/accept/event", self._accept_event),
            ("POST", "/punchCard/record", self._punch_records),
            ("POST", "/signIn/record", self._signin_records),
        ]
        for method, path, fn in endpoints:
            app.router.add_route(method, p + path, self._api(fn))
        app.router.add_post(p + "/auth/open/login", self._login)
        app.router.add_get("/media/photo/{name}", self._photo)
        app.router.add_get("/media/{name}", self._media)
        app.router.add_get("/tiles/{z}/{x}/{y}.png", self._tile)  # not the API: map tiles
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        raw = await request.read()
        parsed: Any = None
        if raw:
            with contextlib.suppress(ValueError):
                parsed = json.loads(raw)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k.lower(): v for k, v in request.headers.items()},
                json=parsed,
                body=raw,
            )
        )
        fault = self._take_fault(request.path)
        if fault is not None:
            if fault.kind == "delay":
                # cut short by stop(), so a test never waits for an abandoned slow answer
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.delay)
            elif fault.kind == "truncated":
                resp = await self._dispatch(request, handler)
                if isinstance(resp, web.Response) and isinstance(resp.body, bytes):
                    return web.Response(
                        status=resp.status,
                        body=resp.body[: len(resp.body) // 2],
                        content_type=resp.content_type,
                        charset=resp.charset,
                    )
                return resp
            else:
                return await self._fault_response(fault, request)
        return await self._dispatch(request, handler)

    async def _dispatch(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status in (404, 405):  # answer like the Spring Boot servers of this family
                return json_response(
                    {
                        "timestamp": iso_utc(self.data.now_ms()),
                        "status": exc.status,
                        "error": exc.reason,
                        "path": request.path,
                    },
                    status=exc.status,
                )
            raise

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if path.endswith(fault.suffix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _fault_response(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        kind = fault.kind
        if kind == "body":
            return json_response(fault.body)
        if kind == "status":
            status = fault.status or 500
            return json_response(
                {
                    "status": status,
                    "message": fault.message or MESSAGES.get(status, "错误"),
                    "data": None,
                }
            )
        if kind == "http500":
            return json_response(
                {
                    "timestamp": iso_utc(self.data.now_ms()),
                    "status": 500,
                    "error": "Internal Server Error",
                    "message": fault.message or "",
                    "path": request.path,
                },
                status=500,
            )
        if kind == "http502":
            return web.Response(status=502, text=NGINX_502, content_type="text/html")
        if kind == "html":
            return web.Response(text=LOGIN_PAGE, content_type="text/html", charset="utf-8")
        if kind == "notjson":
            return web.Response(
                text=fault.message or "系统维护中，请稍后再试", content_type="text/plain"
            )
        # "disconnect": drop the connection without a byte of answer
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError

    # ---- envelope, auth ---------------------------------------------------------------------

    def _token_ok(self, token: str | None) -> bool:
        if not token:
            return False
        return token in self._issued or (self._fixed_valid and token == self.token)

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(502, "请求体不是合法的 JSON") from None
        if not isinstance(body, dict):
            raise ApiError(502, "请求体必须是 JSON 对象")
        return body

    def _api(self, fn: Callable[[Call], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            if not self._token_ok(request.headers.get(self.token_header)):
                return self._envelope(501, MESSAGES[501], None)
            try:
                call = Call(request, await self._body(request), request.query)
                data = fn(call)
            except ApiError as exc:
                return self._envelope(exc.status, exc.message, None)
            if isinstance(data, web.Response):
                return data
            return self._envelope(200, MESSAGES[200], data)

        return handle

    async def _login(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
            login = as_str(required(body, "loginName"), "loginName")
            password = as_str(required(body, "password"), "password")
        except ApiError as exc:
            return self._envelope(exc.status, exc.message, None)
        if login != self.account:
            return self._envelope(504, MESSAGES[504], None)
        if password != self.password:
            return self._envelope(505, MESSAGES[505], None)
        token = secrets.token_hex(16)
        self._issued.add(token)
        self.login_count += 1
        return self._envelope(200, MESSAGES[200], {"token": token})

    # ---- media ------------------------------------------------------------------------------

    async def _media(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in MEDIA_FILES:
            raise web.HTTPNotFound()
        path = MEDIA_DIR / name
        return web.FileResponse(path, headers={"Content-Type": MEDIA_TYPES[path.suffix]})

    async def _photo(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not name.endswith(".png"):
            raise web.HTTPNotFound()
        return web.Response(body=tiny_png(name), content_type="image/png")


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8090,
    users: int = 40,
    groups: int = 6,
    seed: int = 1,
    moving: bool = True,
) -> None:
    """Run a sandbox platform until cancelled (``pttbridge sandbox``); some users move
    along paths (``bot.sandbox.data.paths``) unless `moving` is False."""
    sandbox = SandboxPlatform(users=users, groups=groups, seed=seed, moving=moving)
    url = await sandbox.start(host, port)
    print(
        f"sandbox platform: {url}  token: {sandbox.token}  "
        f"account: {sandbox.account} / {sandbox.password}  prefix: {sandbox.prefix}",
        flush=True,
    )
    print(
        f"  {len(sandbox.data.orgs)} orgs, {len(sandbox.data.groups)} talk groups, "
        f"{len(sandbox.data.users)} users (seed {seed}); recordings under {url}/media/",
        flush=True,
    )
    if moving:
        print(f"  {len(sandbox.data.paths)} users move along paths", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()
