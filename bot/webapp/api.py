"""The map's JSON API under `/app/api/…` (DESIGN §5; the contract in issue 16).

Every request is authenticated by Telegram's `initData` (`bot.webapp.auth`); the user
gets the role and org scope they have in chat: a viewer sees presence but no fix, a
scoped supervisor only their subtree (anything outside it is "not found", exactly as
something that does not exist), a stranger nothing. Answers are JSON, never cached; an
error is `{"error": "<what is wrong, naming the field>"}` — never a 500. Coordinates in
answers and bodies are in the tiles' CRS (`BRIDGE_MAP_TILES_CRS`). Reads of positions,
tracks and recordings are audited as `/where`, `/track` and playback are. Without
`BRIDGE_PUBLIC_URL` every `/app/` route answers 404 saying so.

Each platform call is given `PLATFORM_TIMEOUT_S` in all, retries included: a stalled
platform is 504 then, not a wait through the client's retries. Identical positions requests
(one target, the same members, fixes or not) share one platform call: those that come while
it runs, and for `SHARE_FOR` after it was made — 200 supervisors' pages on one talk group
cost the platform one call. Audio goes to the page as the platform sends it; a client that
takes no chunk for `AUDIO_STALL_S` is cut off, and the platform's connection with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, TypeVar

import pydantic_core
from aiogram.utils.web_app import WebAppInitData
from aiohttp import web

from bot.access import Caller, Callers
from bot.config import BridgeSettings
from bot.directory import Directory, DirUser
from bot.geo.fences import polygon_bounds, polygon_problem
from bot.geo.measure import timed_sorted
from bot.platform import PlatformClient, PlatformError, PlatformTimeoutError
from bot.platform.client import FIXES_PER_CALL
from bot.platform.models import Fix, Recording
from bot.telegram.media import MediaError, MediaFetcher, MediaProblem, MediaStream
from bot.webapp import page
from bot.webapp.audio import AudioTickets
from bot.webapp.auth import AuthError, display_name, init_data_of
from bot.webapp.links import MapTarget
from bot.webapp.params import (
    BODY_MAX,
    ParamError,
    Target,
    day_of,
    fence_draft,
    once,
    one_id,
    span_of,
    target_of,
)
from bot.webapp.shapes import Crs, fence_json, member_json, recording_json, track_json
from storage.audit import AuditRepo
from storage.fences import FenceRepo
from storage.roles import Role

log = logging.getLogger(__name__)

MAP_OFF = "the map is off: set BRIDGE_PUBLIC_URL"
REFRESH_S: Final = 5  # how often the page asks for positions again
AUDIT_EVERY: Final = timedelta(minutes=10)  # one positions row per caller and target
AUDIT_MEMORY: Final = 10_000  # (caller, target) pairs remembered for that
MEMBERS_MAX: Final = 5_000  # users of one org on one map; more is a sub-org's job
RECORDING_PAGE: Final = 100
RECORDING_PAGES: Final = 20  # 2,000 recordings of one user in one day
SHARE_FOR: Final = timedelta(seconds=2)  # a positions answer serves its twins this long
SHARED_MAX: Final = 1_000  # targets whose answers are kept for that
AUDIO_STALL_S: Final = 30.0  # a page that takes no audio chunk this long is cut off

T = TypeVar("T")
Handler = Callable[[web.Request, Caller, WebAppInitData], Awaitable[web.StreamResponse]]


def answer(body: Any, status: int = 200) -> web.Response:
    # pydantic-core's encoder: a 500-member group's positions in a fifth of json.dumps' time.
    return web.Response(
        body=pydantic_core.to_json(body),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def error(status: int, reason: str) -> web.Response:
    return answer({"error": reason}, status)


class NotFound(Exception):
    """Nothing of that kind and id, or not in the caller's scope: the same 404."""

    def __init__(self, kind: str, id_: int) -> None:
        super().__init__(f"{kind} {id_} not found")


class TooSlow(Exception):
    """A platform call took longer than its deadline (`PLATFORM_TIMEOUT_S`): 504."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the platform did not answer within {seconds:g} s")


Presence = tuple[dict[int, Fix], set[int]]
# What a positions call asks the platform: target kind and id, the members, fixes or not.
PresenceKey = tuple[str, int, tuple[int, ...], bool]


@dataclass(slots=True)
class _Shared:
    """One platform call for positions, and when it was made."""

    task: asyncio.Task[Presence]
    asked_at: datetime
    waiters: int = 0


@dataclass(frozen=True, slots=True)
class Members:
    """Whom a positions request covers, in the caller's scope."""

    kind: str
    id: int
    name: str
    users: list[DirUser]


class WebAppApi:
    """`register(app)` adds the `/app/` routes to the listener."""

    def __init__(
        self,
        *,
        settings: BridgeSettings,
        bot_token: str,
        callers: Callers,
        directory: Directory,
        platform: PlatformClient,
        media: MediaFetcher,
        audit: AuditRepo,
        fences: FenceRepo,
        clock: Callable[[], datetime],
    ) -> None:
        self._on = settings.public_url is not None
        self._settings = settings
        self._tz = settings.tz
        self._crs = Crs(settings.map_tiles_crs)
        self._token = bot_token
        self._callers = callers
        self._directory = directory
        self._platform = platform
        self._media = media
        self._audit = audit
        self._fences = fences
        self._clock = clock
        self._tickets = AudioTickets(clock)
        # The deadline of each platform call: PLATFORM_TIMEOUT_S, which the one
        # platform client is built with.
        self._deadline_s = platform.http.timeout.read or 10.0
        self._shared: dict[PresenceKey, _Shared] = {}
        # When each (caller, target kind, target id) was last audited: the page polls.
        self._audited: OrderedDict[tuple[int, str, int], datetime] = OrderedDict()

    def register(self, app: web.Application) -> None:
        # Each route with the least role it needs: a viewer sees presence, no more.
        routes: list[tuple[str, str, Handler, Role]] = [
            ("GET", "/app/api/me", self._me, Role.VIEWER),
            ("GET", "/app/api/groups", self._groups, Role.VIEWER),
            ("GET", "/app/api/positions", self._positions, Role.VIEWER),
            ("GET", "/app/api/track", self._track, Role.SUPERVISOR),
            ("GET", "/app/api/recordings", self._recordings, Role.SUPERVISOR),
            ("GET", "/app/api/audio/{id}", self._audio, Role.SUPERVISOR),
            ("GET", "/app/api/fences", self._fence_list, Role.SUPERVISOR),
            ("POST", "/app/api/fences", self._fence_add, Role.SUPERVISOR),
            ("DELETE", "/app/api/fences/{id}", self._fence_delete, Role.SUPERVISOR),
        ]
        self._resources = [
            app.router.add_route(method, path, self._authed(handler, role, path)).resource
            for method, path, handler, role in routes
        ]
        # Anything else under /app/api/, whatever the method: a JSON 404, or 405 naming the
        # methods the endpoint takes (aiohttp's own 405 would be plain text).
        app.router.add_route("*", "/app/api/{tail:.*}", self._other)
        if self._on:
            page.register(app, self._settings.map_tiles)
        app.router.add_get("/app", self._other)
        app.router.add_get("/app/{tail:.*}", self._other)

    def _authed(
        self, handler: Handler, role: Role, route: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """`handler` behind initData and `role`; its failures answered in words, and logged
        under the `route` (a pattern: the request's own path may carry anything, newlines
        included)."""

        async def checked(request: web.Request) -> web.StreamResponse:
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
            if not caller.can(role):
                return error(403, "supervisors only")
            try:
                once(key for key, _ in request.query.items())
                return await handler(request, caller, data)
            except ParamError as exc:
                return error(400, str(exc))
            except NotFound as exc:
                return error(404, str(exc))
            except TooSlow as exc:
                log.warning("%s: %s", route, exc)
                return error(504, str(exc))
            except PlatformTimeoutError as exc:
                log.warning("%s: the platform failed: %s", route, exc)
                return error(504, f"the platform did not answer in time: {exc}")
            except PlatformError as exc:
                log.warning("%s: the platform failed: %s", route, exc)
                return error(502, f"the platform did not answer as expected: {exc}")

        return checked

    async def _other(self, request: web.Request) -> web.Response:
        if not self._on:
            return error(404, MAP_OFF)
        if request.path.startswith("/app/api/"):
            allowed: set[str] = set()
            for resource in self._resources:
                if resource is not None:
                    allowed |= (await resource.resolve(request))[1]
            if allowed:
                methods = ", ".join(sorted(allowed))
                response = error(405, f"{request.method} is not taken here: {methods}")
                response.headers["Allow"] = methods
                return response
            return error(404, f"no such endpoint: {request.path}")
        if request.path == "/app":
            # A link without the slash: the page, its query kept (the fragment stays with
            # the browser and follows the redirect).
            query = f"?{request.query_string}" if request.query_string else ""
            raise web.HTTPPermanentRedirect(f"/app/{query}")
        return error(404, f"not found: {request.path}")

    # ---- who, and what they may see ------------------------------------------------------

    async def _me(self, request: web.Request, caller: Caller, data: WebAppInitData) -> web.Response:
        assert data.user is not None
        supervisor = caller.can(Role.SUPERVISOR)
        s = self._settings
        # What the page opens first: initData's `start_param` (`g123`, `u456`, `o7`).
        start = MapTarget.of_start_param(data.start_param)
        return answer(
            {
                "user_id": caller.user_id,
                "name": display_name(data.user),
                "role": caller.role.label,
                "scope": None if caller.scope is None else sorted(caller.scope),
                "language": caller.lang,
                "can": dict.fromkeys(
                    ("positions", "tracks", "recordings", "fences", "draw_fences"), supervisor
                ),
                "map": {
                    "tiles": s.map_tiles,
                    "crs": s.map_tiles_crs,
                    "attribution": s.map_attribution,
                    "refresh_s": REFRESH_S,
                    # Times on the page are shown as in chat: in BRIDGE_TIMEZONE.
                    "timezone": s.timezone,
                },
                "start": None if start is None else {"kind": start.kind, "id": start.id},
            }
        )

    async def _groups(
        self, request: web.Request, caller: Caller, data: WebAppInitData
    ) -> web.Response:
        scope = caller.scope
        groups = sorted(self._directory.groups(scope), key=lambda g: (g.name, g.id))
        orgs = sorted(
            (o for o in self._directory.snapshot.orgs.values() if scope is None or o.id in scope),
            key=lambda o: (o.name, o.id),
        )
        return answer(
            {
                "groups": [
                    {"id": g.id, "name": g.name, "members": len(g.member_ids)} for g in groups
                ],
                "orgs": [
                    {
                        "id": o.id,
                        "name": o.name,
                        # A scoped caller's top org does not reveal what is above it.
                        "parent_id": o.parent_id if scope is None or o.parent_id in scope else None,
                    }
                    for o in orgs
                ],
            }
        )

    def _user(self, caller: Caller, uid: int) -> DirUser:
        user = self._directory.user(uid, caller.scope)
        if user is None:
            raise NotFound("user", uid)
        return user

    def _members(self, caller: Caller, target: Target) -> Members:
        scope, d = caller.scope, self._directory
        if target.kind == "user":
            user = self._user(caller, target.id)
            return Members("user", user.id, user.name, [user])
        if target.kind == "group":
            group = d.group(target.id, scope)
            if group is None:
                raise NotFound("group", target.id)
            # Members outside the caller's scope are not shown, not even as offline.
            users = [u for uid in group.member_ids if (u := d.user(uid, scope)) is not None]
            return Members("group", group.id, group.name, users)
        org = d.org(target.id, scope)
        if org is None:
            raise NotFound("org", target.id)
        users = d.users(d.subtree(org.id))
        if len(users) > MEMBERS_MAX:
            raise ParamError(
                "org", f"{len(users)} users, over {MEMBERS_MAX}: open a sub-org or a talk group"
            )
        return Members("org", org.id, org.name, users)

    # ---- positions -----------------------------------------------------------------------

    async def _positions(
        self, request: web.Request, caller: Caller, data: WebAppInitData
    ) -> web.Response:
        members = self._members(caller, target_of(request.query))
        uids = [u.id for u in members.users]
        see_fixes = caller.can(Role.SUPERVISOR)
        fixes, online = await self._shared_presence(members, uids, see_fixes)
        now = self._clock()
        if see_fixes:
            await self._audit_positions(caller, members, len(fixes), now)
        tz, crs = self._tz, self._crs
        return answer(
            {
                "target": {"kind": members.kind, "id": members.id, "name": members.name},
                "at": now.astimezone(tz).isoformat(),
                "crs": crs.name,
                "positions": see_fixes,
                "members": [
                    member_json(
                        u,
                        u.id in online,
                        fixes.get(u.id) if see_fixes else None,
                        now,
                        tz,
                        crs,
                    )
                    for u in members.users
                ],
            }
        )

    async def _in_time(self, work: Awaitable[T]) -> T:
        """`work` (one platform call) within the deadline, else `TooSlow`."""
        try:
            async with asyncio.timeout(self._deadline_s):
                return await work
        except TimeoutError:
            raise TooSlow(self._deadline_s) from None

    async def _shared_presence(
        self, members: Members, uids: list[int], see_fixes: bool
    ) -> Presence:
        """`_presence`, one platform call for identical requests: those while it runs and
        those within `SHARE_FOR` of it (a failed call serves only those that waited for it)."""
        key: PresenceKey = (members.kind, members.id, tuple(uids), see_fixes)
        now = self._clock()
        shared = self._shared.get(key)
        if shared is None or not self._fresh(shared, now):
            task = asyncio.create_task(self._presence(members, uids, see_fixes))
            task.add_done_callback(_retrieved)
            shared = self._shared[key] = _Shared(task, now)
            self._forget_stale(now)
        # Shielded: one waiter gone does not cancel the others' call; the last one gone
        # does, so that no platform call outlives every request that wanted it. Each of its
        # platform calls is bounded by the deadline.
        shared.waiters += 1
        try:
            return await asyncio.shield(shared.task)
        finally:
            shared.waiters -= 1
            if not shared.waiters and not shared.task.done():
                shared.task.cancel()

    @staticmethod
    def _fresh(shared: _Shared, now: datetime) -> bool:
        if not shared.task.done():
            return True
        if shared.task.cancelled() or shared.task.exception() is not None:
            return False
        return timedelta(0) <= now - shared.asked_at < SHARE_FOR

    def _forget_stale(self, now: datetime) -> None:
        for key in [k for k, s in self._shared.items() if not self._fresh(s, now)]:
            del self._shared[key]
        while len(self._shared) > SHARED_MAX:  # the oldest first, running or not
            del self._shared[next(iter(self._shared))]

    async def _presence(self, members: Members, uids: list[int], see_fixes: bool) -> Presence:
        """The members' fixes (2.4) and who is online. For a talk group 2.3 says who is
        online, fix or not (a viewer needs nothing else); otherwise 2.4's `isOnLine` does."""
        if not uids:
            return {}, set()
        if members.kind != "group":
            fixes = {f.uid: f for f in await self._fixes(uids)}
            return fixes, {uid for uid, f in fixes.items() if f.online}
        online = self._in_time(self._platform.online_uids(members.id, uids))
        if not see_fixes:
            return {}, set(await online)
        found, online_ids = await asyncio.gather(self._fixes(uids), online)
        fixes = {f.uid: f for f in found}
        return fixes, set(online_ids) | {uid for uid, f in fixes.items() if f.online}

    async def _fixes(self, uids: list[int]) -> list[Fix]:
        """2.4 for `uids`, each call of `FIXES_PER_CALL` users within the deadline: an org
        of 5,000 is ten calls, each as quick as a talk group's one."""
        fixes: list[Fix] = []
        for start in range(0, len(uids), FIXES_PER_CALL):
            chunk = uids[start : start + FIXES_PER_CALL]
            fixes += await self._in_time(self._platform.latest_fixes(chunk))
        return fixes

    async def _audit_positions(
        self, caller: Caller, members: Members, with_fix: int, now: datetime
    ) -> None:
        """One row per caller and target per `AUDIT_EVERY`, as /where writes them."""
        key = (caller.user_id, members.kind, members.id)
        last = self._audited.get(key)
        if last is not None and timedelta(0) <= now - last < AUDIT_EVERY:
            return
        self._audited[key] = now
        self._audited.move_to_end(key)
        while len(self._audited) > AUDIT_MEMORY:
            self._audited.popitem(last=False)
        details: dict[str, Any]
        if members.kind == "user":
            action, details = "where", {"name": members.name}
            result = "fix" if with_fix else "no fix"
        else:
            action = "where-group" if members.kind == "group" else "where-org"
            details = {"name": members.name, "members": len(members.users), "with_fix": with_fix}
            result = "ok"
        await self._audit.add(caller.user_id, action, str(members.id), details, result, now)

    # ---- track and recordings (supervisors) ------------------------------------------------

    async def _track(
        self, request: web.Request, caller: Caller, data: WebAppInitData
    ) -> web.Response:
        uid = self._required_id(request, "user")
        now = self._clock()
        start, end = span_of(request.query, now, self._tz)
        user = self._user(caller, uid)
        tracks = await self._in_time(self._platform.track([uid], start, end))
        points = timed_sorted(tracks.get(uid, []))
        await self._audit.add(
            caller.user_id,
            "track",
            str(uid),
            {"name": user.name, "from": start.isoformat(), "to": end.isoformat()},
            f"{len(points)} points",
            now,
        )
        body = await asyncio.to_thread(track_json, points, self._crs)
        return answer(
            {
                "user": {"id": user.id, "name": user.name},
                "from": start.astimezone(self._tz).isoformat(),
                "to": end.astimezone(self._tz).isoformat(),
                **body,
            }
        )

    @staticmethod
    def _required_id(request: web.Request, field: str) -> int:
        value = one_id(request.query, field)
        if value is None:
            raise ParamError(field, "missing")
        return value

    async def _recordings(
        self, request: web.Request, caller: Caller, data: WebAppInitData
    ) -> web.Response:
        uid = self._required_id(request, "user")
        day = day_of(request.query, self._clock().astimezone(self._tz).date())
        user = self._user(caller, uid)
        records = await self._day_of_recordings(uid, day)
        records.sort(key=lambda r: r.begin, reverse=True)
        return answer(
            {
                "user": {"id": user.id, "name": user.name},
                "date": day.isoformat(),
                "recordings": [
                    recording_json(r, self._tickets.issue(caller.user_id, uid, r), self._tz)
                    for r in records
                ],
            }
        )

    async def _day_of_recordings(self, uid: int, day: date) -> list[Recording]:
        records: list[Recording] = []
        for n in range(1, RECORDING_PAGES + 1):
            got = await self._in_time(
                self._platform.audio_records(user_id=uid, day=day, page=n, size=RECORDING_PAGE)
            )
            records += got.records
            if len(got.records) < RECORDING_PAGE:
                break
        return records

    async def _audio(
        self, request: web.Request, caller: Caller, data: WebAppInitData
    ) -> web.StreamResponse:
        ticket = self._tickets.get(request.match_info["id"], caller.user_id)
        if ticket is None:
            return error(404, "no such recording: list the recordings again")
        user = self._user(caller, ticket.user_id)  # still in scope?
        rec = ticket.recording
        outcome = "failed"
        try:
            response, outcome = await self._stream(request, rec)
            return response
        except TooSlow:
            outcome = "timeout"
            raise
        except MediaError as exc:
            outcome = exc.problem.value
            if exc.problem is MediaProblem.DEAD:
                return error(404, f"the recording is gone from the platform ({exc.detail})")
            if exc.problem is MediaProblem.TOO_BIG:
                return error(502, f"the recording is too large to stream ({exc.detail})")
            return error(502, f"the platform's file server did not answer ({exc.detail})")
        finally:
            await self._audit.add(
                caller.user_id,
                "recording-play",
                str(user.id),
                {"name": user.name, "begin": rec.begin.isoformat(), "url": rec.file_url},
                outcome,
                self._clock(),
            )

    async def _stream(self, request: web.Request, rec: Recording) -> tuple[web.StreamResponse, str]:
        """The audio as it comes, and how it ended ("streamed", or what cut it: the platform's
        problem, "stalled" for a client that took nothing for `AUDIO_STALL_S`, "client gone")."""
        try:
            async with asyncio.timeout(self._deadline_s) as deadline:
                async with self._media.open(rec.file_url) as stream:
                    # The platform answered in time: from here each chunk has its own bound.
                    deadline.reschedule(None)
                    return await self._relay(request, stream)
        except TimeoutError:
            raise TooSlow(self._deadline_s) from None

    async def _relay(
        self, request: web.Request, stream: MediaStream
    ) -> tuple[web.StreamResponse, str]:
        mime = stream.mime if stream.mime.startswith("audio/") else "audio/mpeg"
        response = web.StreamResponse(
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        )
        response.content_type = mime
        if stream.size is not None:
            response.content_length = stream.size
        await response.prepare(request)
        try:
            async for chunk in stream.chunks():
                async with asyncio.timeout(AUDIO_STALL_S):
                    await response.write(chunk)
        except MediaError as exc:
            # The status is sent: all that is left is to cut the answer short.
            log.warning("recording broke off while streamed: %s", exc)
            response.force_close()
            return response, exc.problem.value
        except TimeoutError:
            # The page takes nothing (a phone gone to sleep mid-download): drop its connection,
            # whose full buffers would block the last write too, and so the platform's.
            log.warning("the page took no audio for %g s: cut off", AUDIO_STALL_S)
            if request.transport is not None:
                request.transport.abort()
            return response, "stalled"
        except ConnectionError:
            return response, "client gone"
        await response.write_eof()
        return response, "streamed"

    # ---- fences (supervisors) --------------------------------------------------------------

    async def _fence_list(
        self, request: web.Request, caller: Caller, data: WebAppInitData
    ) -> web.Response:
        visible = await self._fences.visible(caller.scope)
        return answer({"fences": [fence_json(f, self._crs) for f in visible]})

    async def _fence_add(
        self, request: web.Request, caller: Caller, data: WebAppInitData
    ) -> web.Response:
        raw = await self._body(request)
        if raw is None:
            return error(413, f"body: larger than {BODY_MAX} bytes")
        draft = fence_draft(raw, self._crs.into)
        lat, lon, radius, polygon = draft.lat, draft.lon, draft.radius_m, draft.points
        details: dict[str, Any] = {"name": draft.name}
        if polygon is not None:
            problem = polygon_problem(polygon)
            if problem is not None:
                raise ParamError("polygon", problem)
            lat, lon, radius = polygon_bounds(polygon)
            details["count"] = len(polygon)
        details.update(lat=lat, lon=lon, radius_m=radius)
        now = self._clock()
        fence = await self._fences.add(
            draft.name,
            lat,
            lon,
            radius,
            org_id=caller.org_id if caller.scope is not None else None,
            created_by=caller.user_id,
            now=now,
            polygon=polygon,
        )
        await self._audit.add(
            caller.user_id,
            "fence-add",
            "map",
            details,
            "ok" if fence is not None else "name taken",
            now,
        )
        if fence is None:
            return error(409, f"name: a fence named {draft.name!r} exists already")
        return answer({"fence": fence_json(fence, self._crs)}, 201)

    @staticmethod
    async def _body(request: web.Request) -> bytes | None:
        """The body, or None past `BODY_MAX` (announced or sent)."""
        if request.content_length is not None and request.content_length > BODY_MAX:
            return None
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(4096):
            size += len(chunk)
            if size > BODY_MAX:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _fence_delete(
        self, request: web.Request, caller: Caller, data: WebAppInitData
    ) -> web.Response:
        fence_id = one_id({"id": request.match_info["id"]}, "id")
        assert fence_id is not None
        fence = await self._fences.get(fence_id)
        if fence is None or not _visible(caller, fence.org_id):
            raise NotFound("fence", fence_id)
        watched = [w for w in await self._fences.active_watches() if w.fence_id == fence.id]
        deleted = await self._fences.delete(fence.id)
        await self._audit.add(
            caller.user_id,
            "fence-del",
            "map",
            {"name": fence.name, "id": fence.id, "watches": len(watched)},
            "ok" if deleted else "gone",
            self._clock(),
        )
        if not deleted:
            raise NotFound("fence", fence_id)
        return answer({"deleted": fence.id})


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A shared call's failure is its waiters' to tell; when none waited to the end (their
    deadlines passed), it is taken here rather than reported as never retrieved."""
    if not task.cancelled():
        task.exception()


def _visible(caller: Caller, org_id: int | None) -> bool:
    """Whether a fence of that org scope is the caller's to see (`FenceRepo.visible`)."""
    return caller.scope is None or (org_id is not None and org_id in caller.scope)
