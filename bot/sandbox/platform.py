"""The sandbox dispatch platform: an aiohttp server speaking the platform's "wapi".

It serves the 17 endpoints of section 2 of ``reference/platform-api.md`` over
seeded data (:mod:`bot.sandbox.data`), the login call seen in deployments, and
the recordings as static audio. Every quirk a real server of this family shows
can be switched on or off at runtime (:class:`Quirks`), faults can be injected
per path (:meth:`SandboxPlatform.fail_next`), and every request is recorded so
tests can see exactly what a client sent. It can also play the platform's side
of section 3, posting callbacks to the bridge (:meth:`SandboxPlatform.post_callback`).
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import itertools
import json
import math
import random
import re
import secrets
import struct
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.sandbox.data import (
    DISPATCHER_ID,
    MEDIA_FILES,
    STREETS,
    TZ,
    Membership,
    Notice,
    Org,
    SandboxData,
    User,
    local_date_of,
    local_day_start_ms,
    md5_hex,
    pinyin_of,
)
from bot.sandbox.gcj02 import wgs84_to_gcj02

MEDIA_DIR = Path(__file__).parent / "media"
MEDIA_TYPES = {".ogg": "audio/ogg", ".mp3": "audio/mpeg"}

FAULT_KINDS = frozenset(
    {"status", "http500", "http502", "html", "truncated", "notjson", "delay", "disconnect", "body"}
)
CALLBACK_EVENTS = ("report", "org-updated", "org-deleted", "user-updated", "user-deleted")

# the platform's own wording (section 四 of the original)
MESSAGES: dict[int, str] = {
    200: "成功",
    500: "系统繁忙，请稍后再试",
    501: "未登录",
    502: "参数错误",
    504: "账号不存在",
    505: "账号或密码错误",
    506: "必填参数为空",
    508: "账号已存在",
    509: "组织不存在",
    510: "单次提交数据量太多",
    514: "群组不存在",
    517: "用户不存在",
    535: "密码强度不符合规范",
    542: "设备 id 不一致",
    543: "编号或名字已存在",
}

_ACCOUNT_RE = re.compile(r"[A-Za-z0-9_.@-]{1,32}")
_INT_RE = re.compile(r"\s*-?\d+\s*")

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html lang="zh-CN">\n<head><meta charset="utf-8">'
    "<title>调度平台 - 登录</title></head>\n<body>\n"
    '<form method="post" action="/login"><input name="username" placeholder="账号">'
    '<input name="password" type="password" placeholder="密码">'
    "<button>登录</button></form>\n</body>\n</html>\n"
)

REPORT_TYPES = ("火灾", "交通事故", "治安事件", "医疗急救", "设备故障", "自然灾害")
REPORT_LEVELS = ("一般", "较大", "重大", "特别重大")
REPORT_TEXTS = (
    ("仓库冒烟", "{street}一处仓库有浓烟冒出，现场人员已疏散，请求支援。"),
    ("两车追尾", "{street}路口两车追尾，一人轻伤，道路部分拥堵。"),
    ("人员晕倒", "{street}商场内一名老人晕倒，已拨打120，需要医护协助。"),
    ("对讲机故障", "巡逻途中对讲机无法发射，已更换备用机。"),
    ("积水严重", "{street}下穿隧道积水约40厘米，建议封闭交通。"),
    ("可疑人员", "{street}小区门口发现可疑人员徘徊，已上前询问。"),
)


@dataclass
class Quirks:
    """Switches for the real-server behaviours a robust client must tolerate.

    Defaults reproduce the worst case the reference documents; every field may be
    changed at runtime (``sandbox.quirks.tree_single_object = False``).
    :meth:`none` gives a server that follows the tables exactly.
    """

    ids_as_strings: bool = True  # ids as "103" where the doc examples use numbers
    tree_single_object: bool = True  # 2.1: one-element `children`/`users` as a bare object
    track_shape: str = "list_of_maps"  # 2.5: "map" | "list_of_maps" | "flat"
    track_time_unit: str = "ms"  # 2.5 point `time`: "s" | "ms"
    coord_time_format: str = "local"  # 2.4 `time`: "iso" | "local" | "s" | "ms" | "absent"
    online_as_string: bool = True  # 2.4 isOnLine "2"/null (else 1/0)
    signin_in_list: bool = True  # 2.17 page object wrapped in a one-element list
    audio_total_as_pages: bool = False  # 2.6 `total` is a page count instead of a record count
    recordings_delay_polls: int = 0  # 2.6: first N queries per (user, day) answer no records
    null_fields: bool = True  # 2.16: scheduleId, scope, address, ... arrive null
    coordinates: str = "wgs84"  # "gcj02": coordinates of 2.4 and 2.5 offset to GCJ-02
    unpadded_ctime: bool = True  # 2.9 ctime like "2022-2-15 15:20:12"

    @classmethod
    def none(cls) -> Quirks:
        """A well-behaved server: numbers as numbers, lists as lists, ms times, WGS-84."""
        return cls(
            ids_as_strings=False,
            tree_single_object=False,
            track_shape="map",
            track_time_unit="ms",
            coord_time_format="ms",
            online_as_string=False,
            signin_in_list=False,
            audio_total_as_pages=False,
            recordings_delay_polls=0,
            null_fields=False,
            coordinates="wgs84",
            unpadded_ctime=False,
        )


@dataclass
class RecordedRequest:
    """One request as the sandbox received it (recorded before any auth check).

    Header names are lower-cased; `json` is the parsed body or None; `body` the raw bytes.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes


@dataclass
class _Fault:
    suffix: str
    kind: str
    remaining: int
    status: int
    message: str
    delay: float
    body: Any = None


class ApiError(Exception):
    """An error answered inside the envelope (HTTP 200, `status` != 200)."""

    def __init__(self, status: int, detail: str = "") -> None:
        base = MESSAGES.get(status, "错误")
        super().__init__(f"{base}: {detail}" if detail else base)
        self.status = status
        self.message = f"{base}: {detail}" if detail else base


@dataclass
class _Call:
    request: web.Request
    body: dict[str, Any]
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"{self.request.scheme}://{self.request.host}"


# ---- request validation --------------------------------------------------------------------


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _required(body: Mapping[str, Any], key: str, label: str | None = None) -> Any:
    v = body.get(key)
    if _missing(v):
        raise ApiError(506, label or key)
    return v


def _as_int(v: Any, key: str) -> int:
    if isinstance(v, bool):
        raise ApiError(502, key)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and _INT_RE.fullmatch(v):
        return int(v)
    raise ApiError(502, key)


def _as_int_list(v: Any, key: str) -> list[int]:
    if not isinstance(v, list):
        raise ApiError(502, key)
    return [_as_int(x, key) for x in v]


def _as_str(v: Any, key: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)  # accounts are often phone numbers sent as numbers
    raise ApiError(502, key)


def _page(body: Mapping[str, Any]) -> tuple[int, int]:
    page = _required(body, "page")
    if not isinstance(page, dict):
        raise ApiError(502, "page")
    size = _as_int(_required(page, "size", "page.size"), "page.size")
    current = _as_int(_required(page, "current", "page.current"), "page.current")
    if size <= 0:
        raise ApiError(502, "page.size")
    if current < 1:
        raise ApiError(502, "page.current")
    return size, current


def _paginate(items: list[Any], size: int, current: int) -> tuple[list[Any], int]:
    pages = math.ceil(len(items) / size)
    return items[(current - 1) * size : current * size], pages


def _dedupe(ids: list[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def _parse_local(text: Any, key: str, fmt: str) -> datetime:
    if not isinstance(text, str):
        raise ApiError(502, key)
    try:
        return datetime.strptime(text.strip(), fmt).replace(tzinfo=TZ)
    except ValueError:
        raise ApiError(502, key) from None


# ---- time formats --------------------------------------------------------------------------


def iso_utc(ms: int) -> str:
    """ "2023-09-07T09:00:24.000+00:00", as the platform writes instants."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+00:00"


def local_str(ms: int) -> str:
    """ "2023-09-07 23:28:00" in the platform's local time."""
    return datetime.fromtimestamp(ms / 1000, TZ).strftime("%Y-%m-%d %H:%M:%S")


def _unpadded(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, TZ)
    return f"{dt.year}-{dt.month}-{dt.day} {dt.hour}:{dt.minute:02d}:{dt.second:02d}"


# ---- a tiny PNG for sign-in and report pictures (no imaging library needed) ----------------


def _png(name: str, width: int = 96, height: int = 72) -> bytes:
    digest = md5_hex(name)
    r, g, b = (int(digest[i : i + 2], 16) for i in (0, 2, 4))
    rows = []
    for y in range(height):
        stripe = (y // 8) % 2 == 0
        pixel = bytes((r, g, b)) if stripe else bytes((255 - r, 255 - g, 255 - b))
        rows.append(b"\x00" + pixel * width)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = binascii.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=_dumps(payload), status=status, content_type="application/json", charset="utf-8"
    )


class SandboxPlatform:
    """A simulated dispatch platform on 127.0.0.1 for tests, the demo and integrators.

    Every answer is the platform envelope with HTTP 200, errors included. The
    token (header `token_header`) is the fixed `token`, or one issued by the login
    call; :meth:`expire_tokens` invalidates them to exercise re-login.
    """

    def __init__(
        self,
        *,
        users: int = 40,
        groups: int = 6,
        orgs: int | None = None,
        seed: int = 1,
        token: str = "sandbox-token",
        account: str = "dispatcher",
        password: str = "sandbox-pass",
        prefix: str = "/wapi",
        token_header: str = "token",
        quirks: Quirks | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.quirks = quirks if quirks is not None else Quirks()
        self.data = SandboxData(users=users, groups=groups, orgs=orgs, seed=seed, now=now)
        self.seed = seed
        self.token = token
        self.account = account
        self.password = password
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.token_header = token_header
        self.requests: list[RecordedRequest] = []
        self.login_count = 0
        self.url = ""
        self._issued: set[str] = set()
        self._fixed_valid = True
        self._faults: list[_Fault] = []
        self._audio_polls: dict[tuple[int, int | None], int] = {}
        self._report_seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.app = self._make_app()

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

    # ---- test controls ----------------------------------------------------------------------

    def fail_next(
        self,
        path_suffix: str,
        kind: str,
        *,
        times: int = 1,
        status: int = 0,
        message: str = "",
        delay: float = 0.0,
        body: Any = None,
    ) -> None:
        """Make the next `times` requests whose path ends with `path_suffix` fail.

        Kinds: "status" (envelope with `status`), "http500", "http502" (nginx page),
        "html" (a login page, HTTP 200), "truncated" (the real answer cut in half —
        the call itself did happen), "notjson" (plain text), "delay" (answer after
        `delay` seconds), "disconnect" (close the connection, answer nothing), "body"
        (answer `body` as JSON, HTTP 200: any shape a real server might send). Except
        for "truncated" and "delay" the call is not carried out.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        self._faults.append(_Fault(path_suffix, kind, times, status, message, delay, body))

    def clear_faults(self) -> None:
        self._faults.clear()

    def expire_tokens(self, *, revoke_fixed: bool = True) -> None:
        """Invalidate every issued token (and the fixed one unless `revoke_fixed=False`):
        calls answer 501 until the client logs in again."""
        self._issued.clear()
        if revoke_fixed:
            self._fixed_valid = False

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        """The recorded requests whose path ends with `path_suffix`."""
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    # ---- callbacks (section 3) --------------------------------------------------------------

    def make_report(self, **overrides: Any) -> dict[str, Any]:
        """A realistic 3.1 incident report; ids come from a counter, content from the seed."""
        n = next(self._report_seq)
        rng = random.Random(f"{self.seed}:report:{n}")
        data = self.data
        orgs = sorted(data.orgs)
        org = data.orgs[rng.choice(orgs)] if orgs else data.root_org()
        reporters = [u for u in data.users.values() if u.org_id == org.id] or list(
            data.users.values()
        )
        reporter = rng.choice(reporters) if reporters else None
        topic, content = rng.choice(REPORT_TEXTS)
        street = rng.choice(STREETS)
        base = self.url or "http://127.0.0.1"
        report_id = 70000 + n
        urls: list[str] = []
        if rng.random() < 0.6:
            urls.append(f"{base}/media/photo/report-{report_id}.png")
        if rng.random() < 0.3:
            urls.append(f"{base}/media/recording-zh.mp3")
        day = datetime.fromtimestamp(data.now_ms() / 1000, TZ).strftime("%Y%m%d")
        body: dict[str, Any] = {
            "id": report_id,
            "code": f"SJ{day}{n:04d}",
            "type": rng.choice(REPORT_TYPES),
            "level": rng.choice(REPORT_LEVELS),
            "to": {"id": str(org.id), "name": org.name},
            "from": {
                "id": reporter.id if reporter else 0,
                "account": reporter.account if reporter else "",
                "name": reporter.name if reporter else "",
            },
            "topic": topic,
            "content": content.format(street=street),
            "address": f"浙江省杭州市{street}{rng.randint(1, 500)}号",
            "urls": urls,
        }
        body.update(overrides)
        return body

    def _callback_body(self, event: str) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:callback:{event}:{len(self.data.users)}")
        if event == "report":
            return self.make_report()
        if event.startswith("org-"):
            ids = sorted(self.data.orgs)
            return {"id": [rng.choice(ids)] if ids else []}
        ids = sorted(self.data.users)
        return {"id": [rng.choice(ids)] if ids else []}

    async def post_callback(
        self,
        url: str,
        event: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> tuple[int, dict[str, Any] | str]:
        """POST a section-3 callback as the platform would; returns (HTTP status, answer).

        `url` is the full callback URL; a bare base URL (no path) gets the bridge's
        route ``/platform/events/<event>`` appended.
        """
        if event not in CALLBACK_EVENTS:
            raise ValueError(f"unknown event {event!r}; one of {CALLBACK_EVENTS}")
        if urlsplit(url).path in ("", "/"):
            url = url.rstrip("/") + f"/platform/events/{event}"
        payload = body if body is not None else self._callback_body(event)
        headers = {"token": token if token is not None else self.token}
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=payload, headers=headers) as resp,
        ):
            text = await resp.text()
            try:
                parsed = json.loads(text)
            except ValueError:
                return resp.status, text
            return resp.status, parsed if isinstance(parsed, dict) else text

    # ---- app --------------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        p = self.prefix
        endpoints: list[tuple[str, str, Callable[[_Call], Any]]] = [
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
                return _json_response(
                    {
                        "timestamp": iso_utc(self.data.now_ms()),
                        "status": exc.status,
                        "error": exc.reason,
                        "path": request.path,
                    },
                    status=exc.status,
                )
            raise

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if path.endswith(fault.suffix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _fault_response(self, fault: _Fault, request: web.Request) -> web.StreamResponse:
        kind = fault.kind
        if kind == "body":
            return _json_response(fault.body)
        if kind == "status":
            status = fault.status or 500
            return _json_response(
                {
                    "status": status,
                    "message": fault.message or MESSAGES.get(status, "错误"),
                    "data": None,
                }
            )
        if kind == "http500":
            return _json_response(
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
    def _envelope(status: int, message: str, data: Any, **extra: Any) -> web.Response:
        return _json_response({"status": status, "message": message, "data": data, **extra})

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

    def _api(self, fn: Callable[[_Call], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            if not self._token_ok(request.headers.get(self.token_header)):
                return self._envelope(501, MESSAGES[501], None)
            try:
                call = _Call(request, await self._body(request), request.query)
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
            login = _as_str(_required(body, "loginName"), "loginName")
            password = _as_str(_required(body, "password"), "password")
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
        return web.Response(body=_png(name), content_type="image/png")

    # ---- wire helpers -----------------------------------------------------------------------

    def _id(self, value: int) -> int | str:
        return str(value) if self.quirks.ids_as_strings else value

    def _one_or_list(self, items: list[Any]) -> Any:
        if self.quirks.tree_single_object and len(items) == 1:
            return items[0]
        return items

    def _coords(self, lat: float, lon: float) -> tuple[float, float]:
        if self.quirks.coordinates == "gcj02":
            lat, lon = wgs84_to_gcj02(lat, lon)
        return round(lat, 8), round(lon, 8)

    def _online(self, online: bool) -> str | int | None:
        if self.quirks.online_as_string:
            return "2" if online else None
        return 1 if online else 0

    def _user(self, uid: int) -> User:
        u = self.data.users.get(uid)
        if u is None:
            raise ApiError(517, str(uid))
        return u

    def _org(self, oid: int) -> Org:
        o = self.data.orgs.get(oid)
        if o is None:
            raise ApiError(509, str(oid))
        return o

    def _user_node(self, u: User) -> dict[str, Any]:
        node: dict[str, Any] = {
            "type": 1,
            "id": self._id(u.id),
            "account": u.account,
            "name": u.name,
            "pinyin": u.pinyin,
            "online": 1 if u.online else 0,
            "priority": u.priority,
        }
        if u.role_id is not None:
            node["roleId"] = u.role_id
            node["roleName"] = u.role_name
        return node

    def _org_node(self, org: Org, users: list[User], group_count: int) -> dict[str, Any]:
        node: dict[str, Any] = {
            "type": 0,
            "id": str(org.id),  # org ids are strings in 2.12 and 2.13 whatever the quirk
            "parentId": str(org.parent_id),
            "name": org.name,
            "pinyin": org.pinyin,
            "groupCount": group_count,
            "userCount": len(users),
            "onlineCount": sum(1 for u in users if u.online),
            "address": org.address,
            "weight": org.weight,
            "ctime": org.ctime_ms,
        }
        if org.remark:
            node["remark"] = org.remark
        return node

    # ---- 2.1 --------------------------------------------------------------------------------

    def _org_tree2(self, call: _Call) -> Any:
        data = self.data
        sub_orgs = data.org_children()
        members = data.members_by_group()
        groups_by_org: dict[int, list[int]] = {}
        for g in data.groups.values():
            groups_by_org.setdefault(g.org_id, []).append(g.id)

        def children(oid: int) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for gid in groups_by_org.get(oid, ()):
                users = [
                    {
                        "gid": self._id(gid),
                        "uid": self._id(u.id),
                        "account": u.account,
                        "name": u.name,
                    }
                    for u in members[gid]
                ]
                out.append(
                    {
                        "gid": self._id(gid),
                        "name": data.groups[gid].name,
                        "type": 1,
                        "users": self._one_or_list(users),
                    }
                )
            for cid in sub_orgs.get(oid, ()):
                out.append(
                    {
                        "gid": self._id(cid),
                        "name": data.orgs[cid].name,
                        "type": 0,
                        "children": self._one_or_list(children(cid)),
                    }
                )
            return out

        root = data.root_org()
        return {
            "id": self._id(root.id),
            "name": root.name,
            "type": 0,
            "children": self._one_or_list(children(root.id)),
        }

    # ---- 2.2, 2.3 ---------------------------------------------------------------------------

    def _gid_and_uids(self, body: Mapping[str, Any]) -> tuple[int, list[int]]:
        gid = _as_int(_required(body, "gid"), "gid")
        uids = body.get("uids")
        if uids is None:
            raise ApiError(506, "uids")
        uid_list = _as_int_list(uids, "uids")
        if gid not in self.data.groups:
            raise ApiError(514, str(gid))
        return gid, _dedupe(uid_list)

    def _in_this_group(self, call: _Call) -> Any:
        gid, uids = self._gid_and_uids(call.body)
        users = self.data.users
        return [
            self._id(uid)
            for uid in uids
            if uid in users and users[uid].online and users[uid].current_group == gid
        ]

    def _is_online(self, call: _Call) -> Any:
        _gid, uids = self._gid_and_uids(call.body)
        users = self.data.users
        return [self._id(uid) for uid in uids if uid in users and users[uid].online]

    # ---- 2.4, 2.5 ---------------------------------------------------------------------------

    def _uids(self, body: Mapping[str, Any]) -> list[int]:
        uids = body.get("uids")
        if uids is None:
            raise ApiError(506, "uids")
        return _dedupe(_as_int_list(uids, "uids"))

    def _coord_time(self, ms: int) -> Any:
        fmt = self.quirks.coord_time_format
        if fmt == "iso":
            return iso_utc(ms)
        if fmt == "local":
            return local_str(ms)
        if fmt == "s":
            return ms // 1000
        return ms

    def _latest_coords(self, call: _Call) -> Any:
        out = []
        for uid in self._uids(call.body):
            u = self.data.users.get(uid)
            if u is None or u.fix is None:
                continue
            f = u.fix
            lat, lon = self._coords(f.lat, f.lon)
            entry: dict[str, Any] = {"id": self._id(u.id), "username": u.name, "x": lat, "y": lon}
            if f.speed is not None:
                entry["speed"] = f.speed
            if f.altitude is not None:
                entry["altitude"] = f.altitude
            if f.bearing is not None:
                entry["bearing"] = f.bearing
            if self.quirks.coord_time_format != "absent":
                entry["time"] = self._coord_time(f.time_ms)
            entry["location"] = [lon, lat]
            entry["isOnLine"] = self._online(u.online)
            out.append(entry)
        return out

    def _time_range(self, body: Mapping[str, Any]) -> tuple[int, int]:
        if body.get("startTimestamp") is not None or body.get("endTimestamp") is not None:
            start = _as_int(_required(body, "startTimestamp"), "startTimestamp")
            end = _as_int(_required(body, "endTimestamp"), "endTimestamp")
        elif body.get("startTime") is not None or body.get("endTime") is not None:
            fmt = "%Y-%m-%d %H:%M:%S"
            start_dt = _parse_local(_required(body, "startTime"), "startTime", fmt)
            end_dt = _parse_local(_required(body, "endTime"), "endTime", fmt)
            start, end = int(start_dt.timestamp() * 1000), int(end_dt.timestamp() * 1000)
        else:
            raise ApiError(506, "startTime/endTime 或 startTimestamp/endTimestamp")
        if end < start:
            raise ApiError(502, "结束时间早于开始时间")
        return start, end

    def _track_playback(self, call: _Call) -> Any:
        uids = self._uids(call.body)
        start, end = self._time_range(call.body)
        in_seconds = self.quirks.track_time_unit == "s"
        by_uid: dict[str, list[dict[str, Any]]] = {}
        for uid in uids:
            points = []
            for p in self.data.track(uid, start, end):
                lat, lon = self._coords(p.lat, p.lon)
                point: dict[str, Any] = {
                    "uid": self._id(uid),
                    "positionType": p.position_type,
                    "x": lat,
                    "y": lon,
                    "speed": p.speed,
                }
                if p.altitude is not None:
                    point["altitude"] = p.altitude
                if p.bearing is not None:
                    point["bearing"] = p.bearing
                point["time"] = p.time_ms // 1000 if in_seconds else p.time_ms
                point["location"] = [lon, lat]
                points.append(point)
            if points:
                by_uid[str(uid)] = points
        shape = self.quirks.track_shape
        if shape == "map":
            return by_uid
        if shape == "flat":
            return [p for points in by_uid.values() for p in points]
        return [by_uid]

    # ---- 2.6 --------------------------------------------------------------------------------

    def _audio_record(self, call: _Call) -> Any:
        body = dict(call.body)
        if not body:  # a client that cannot send a GET body may put the fields in the query
            q = call.query
            body = {k: q[k] for k in ("userId", "account", "date") if k in q}
            q_size = q.get("page.size", q.get("size"))
            q_current = q.get("page.current", q.get("current"))
            if q_size is not None or q_current is not None:
                body["page"] = {"size": q_size, "current": q_current}
        size, current = _page(body)
        user: User | None = None
        if not _missing(body.get("userId")):
            user = self._user(_as_int(body["userId"], "userId"))
        if not _missing(body.get("account")):
            by_account = self.data.user_by_account(_as_str(body["account"], "account"))
            if by_account is None:
                raise ApiError(517, str(body["account"]))
            if user is not None and by_account.id != user.id:
                return {"size": 0, "total": 0, "records": []}
            user = by_account
        day: date | None = None
        if not _missing(body.get("date")):
            day = local_date_of(_as_int(body["date"], "date"))

        key = (user.id if user else 0, day.toordinal() if day else None)
        self._audio_polls[key] = polls = self._audio_polls.get(key, 0) + 1
        if polls <= self.quirks.recordings_delay_polls:
            return {"size": 0, "total": 0, "records": []}

        targets = [user] if user is not None else list(self.data.users.values())
        recs = [r for u in targets for r in self.data.recordings(u.id, day)]
        if user is None:
            recs.sort(key=lambda r: r.begin_ms, reverse=True)
        page, pages = _paginate(recs, size, current)
        origin = call.origin
        records = []
        for r in page:
            rec: dict[str, Any] = {
                "userId": self._id(r.user_id),
                "account": r.account,
                "beginTime": r.begin_ms,
            }
            if r.duration_ms is not None:
                rec["durationMs"] = r.duration_ms
            if r.group_name is not None:
                rec["groupName"] = r.group_name
            rec["fileUrl"] = f"{origin}/media/{r.file}"
            records.append(rec)
        total = pages if self.quirks.audio_total_as_pages else len(recs)
        return {"size": len(records), "total": total, "records": records}

    # ---- 2.7 - 2.11 (writes) ----------------------------------------------------------------

    def _register(self, call: _Call) -> Any:
        body = call.body
        accounts = _required(body, "account")
        names = _required(body, "name")
        password = _as_str(_required(body, "password"), "password")
        if not isinstance(accounts, list):
            raise ApiError(502, "account")
        if not isinstance(names, list):
            raise ApiError(502, "name")
        if not accounts:
            raise ApiError(506, "account")
        if len(accounts) != len(names):
            raise ApiError(502, "account 与 name 数量不一致")
        if len(accounts) > 100:
            raise ApiError(510, "每次最多 100 个账号")
        accts = [_as_str(a, "account").strip() for a in accounts]
        for a in accts:
            if not _ACCOUNT_RE.fullmatch(a):
                raise ApiError(502, f"account {a!r}")
        clean_names = [_as_str(n, "name").strip() for n in names]
        if any(not n for n in clean_names):
            raise ApiError(506, "name")
        if len(password) < 6 or password.isdigit():
            raise ApiError(535)
        seen: set[str] = set()
        for a in accts:
            if a in seen or a == self.account or self.data.user_by_account(a) is not None:
                raise ApiError(508, a)
            seen.add(a)
        root = self.data.root_org()
        now = self.data.now_ms()
        out = []
        for a, n in zip(accts, clean_names, strict=True):
            u = self.data.add_user(a, n, password, root.id)
            out.append(
                {
                    "id": self._id(u.id),
                    "type": u.type,
                    "account": u.account,
                    "password": u.password_hash,
                    "name": u.name,
                    "pinyin": u.pinyin,
                    "state": u.state,
                    "myGroupCount": 0,
                    "priority": u.priority,
                    "myBloc": self._id(root.id),
                    "myOrg": self._id(u.org_id),
                    "creator": DISPATCHER_ID,
                    "ctime": iso_utc(now),
                    "chargeableTime": iso_utc(now),
                    "utime": None,
                    "expirationTime": iso_utc(now + 365 * 86_400_000),
                    "firstActiveTime": iso_utc(now),
                    "phoneNumber": None,
                }
            )
        return out

    def _delete_users(self, call: _Call) -> Any:
        ids = call.body.get("pttIds")
        if ids is None:
            raise ApiError(506, "pttIds")
        uids = _dedupe(_as_int_list(ids, "pttIds"))
        if not uids:
            raise ApiError(506, "pttIds")
        for uid in uids:
            self._user(uid)
        for uid in uids:
            self.data.delete_user(uid)
        return None

    def _group_dict(self, gid: int) -> dict[str, Any]:
        g = self.data.groups[gid]
        fmt = _unpadded if self.quirks.unpadded_ctime else local_str
        return {
            "id": self._id(g.id),
            "type": g.type,
            "name": g.name,
            "pinyin": g.pinyin,
            "priority": g.priority,
            "talkTime": g.talk_time,
            "myPttCount": len(self.data.members(gid)),
            "minTalkPriority": 10,
            "minListenPriority": 10,
            "ctime": fmt(g.ctime_ms),
            "utime": fmt(g.utime_ms),
            "deletedMarker": 0,
        }

    def _group_create(self, call: _Call) -> Any:
        body = call.body
        name = _as_str(_required(body, "name"), "name").strip()
        oid = _as_int(_required(body, "oid"), "oid")
        uids: list[int] = []
        if body.get("uids") is not None:
            uids = _dedupe(_as_int_list(body["uids"], "uids"))
        self._org(oid)
        if any(g.org_id == oid and g.name == name for g in self.data.groups.values()):
            raise ApiError(543, name)
        for uid in uids:
            self._user(uid)
        g = self.data.add_group(name, oid, uids)
        return self._group_dict(g.id)

    def _group_bind(self, call: _Call) -> Any:
        body = call.body
        gid = _as_int(_required(body, "gid"), "gid")
        raw_users = body.get("users")
        if raw_users is None:
            raw_users = []
        if not isinstance(raw_users, list):
            raise ApiError(502, "users")
        binds: list[tuple[int, Membership]] = []
        for item in raw_users:
            if not isinstance(item, dict):
                raise ApiError(502, "users")
            uid = _as_int(_required(item, "id", "users.id"), "users.id")
            prio = _as_int(_required(item, "priority", "users.priority"), "users.priority")
            call_perm = _required(item, "callPermission", "users.callPermission")
            can_speak = _required(item, "canSpeak", "users.canSpeak")
            if not 1 <= prio <= 10:
                raise ApiError(502, "users.priority")
            if call_perm not in ("Y", "N"):
                raise ApiError(502, "users.callPermission")
            if can_speak not in ("Y", "N"):
                raise ApiError(502, "users.canSpeak")
            binds.append((uid, Membership(prio, call_perm, can_speak)))
        if gid not in self.data.groups:
            raise ApiError(514, str(gid))
        for uid, _m in binds:
            self._user(uid)
        for uid, m in binds:
            self.data.bind(gid, uid, m)
        self.data.groups[gid].utime_ms = self.data.now_ms()
        return None

    def _device_bind(self, call: _Call) -> Any:
        body = call.body
        did = _as_int(_required(body, "id"), "id")
        state = str(_required(body, "state")).strip()
        if state not in ("0", "1", "2"):
            raise ApiError(502, "state")
        device = self.data.devices.get(did)
        if device is None:
            raise ApiError(542, str(did))
        if state == "1":
            account = _as_str(_required(body, "account"), "account")
            if self.data.user_by_account(account) is None:
                raise ApiError(504, account)
            device.account, device.state = account, 1
        else:
            device.account, device.state = None, int(state)
        return None

    # ---- 2.12 - 2.14 (directory) ------------------------------------------------------------

    def _org_user_tree(self, call: _Call) -> Any:
        data = self.data
        sub_orgs = data.org_children()
        users_by_org: dict[int, list[User]] = {}
        for u in data.users.values():
            users_by_org.setdefault(u.org_id, []).append(u)
        group_count: dict[int, int] = {}
        for g in data.groups.values():
            group_count[g.org_id] = group_count.get(g.org_id, 0) + 1

        def node(oid: int) -> dict[str, Any]:
            org = data.orgs[oid]
            users = users_by_org.get(oid, [])
            n = self._org_node(org, users, group_count.get(oid, 0))
            n["children"] = [node(c) for c in sub_orgs.get(oid, ())] + [
                self._user_node(u) for u in users
            ]
            return n

        return [node(data.root_org().id)]

    def _query_id(self, call: _Call) -> int:
        raw = call.query.get("id")
        if _missing(raw):
            raw = call.body.get("id")  # lenient: a client may send it in the body
        if _missing(raw):
            raise ApiError(506, "id")
        return _as_int(raw, "id")

    def _org_user(self, call: _Call) -> Any:
        org = self._org(self._query_id(call))
        users = [u for u in self.data.users.values() if u.org_id == org.id]
        groups = sum(1 for g in self.data.groups.values() if g.org_id == org.id)
        node = self._org_node(org, users, groups)
        del node["type"]  # the 2.13 example has no type on the org itself
        node["children"] = [self._user_node(u) for u in users]
        return node

    def _user_info(self, call: _Call) -> Any:
        u = self.data.users.get(self._query_id(call))
        if u is None:
            return None  # the document's example: unknown user -> data null, status 200
        node = self._user_node(u)
        del node["type"]
        node["groups"] = [
            {
                "id": self._id(gid),
                "type": g.type,
                "name": g.name,
                "pinyin": g.pinyin,
                "priority": g.priority,
                "innerPriority": m.priority,
            }
            for gid, m in u.groups.items()
            if (g := self.data.groups.get(gid)) is not None
        ]
        return node

    # ---- 2.15 -------------------------------------------------------------------------------

    def _accept_event(self, call: _Call) -> Any:
        body = call.body
        sender = _required(body, "from")
        if not isinstance(sender, dict):
            raise ApiError(502, "from")
        _as_int(_required(sender, "id", "from.id"), "from.id")
        _as_str(_required(sender, "name", "from.name"), "from.name")
        target = _required(body, "to")
        if not isinstance(target, dict):
            raise ApiError(502, "to")
        org_ids = _as_int_list(target.get("orgIds") or [], "to.orgIds")
        user_ids = _as_int_list(target.get("userIds") or [], "to.userIds")
        if not org_ids and not user_ids:
            raise ApiError(506, "to.orgIds/to.userIds")
        _as_str(_required(body, "title"), "title")
        _as_str(_required(body, "content"), "content")
        accessory = body.get("accessory")
        if accessory is not None:
            if not isinstance(accessory, list):
                raise ApiError(502, "accessory")
            for item in accessory:
                if not isinstance(item, dict):
                    raise ApiError(502, "accessory")
                _as_str(_required(item, "name", "accessory.name"), "accessory.name")
                _as_str(_required(item, "url", "accessory.url"), "accessory.url")
        for oid in org_ids:
            self._org(oid)
        for uid in user_ids:
            self._user(uid)
        self.data.notices.append(Notice(self.data.now_ms(), dict(body), org_ids, user_ids))
        return None

    # ---- 2.16, 2.17 (attendance) ------------------------------------------------------------

    def _oid_filter(self, body: Mapping[str, Any]) -> set[int] | None:
        if _missing(body.get("oid")):
            return None
        oid = _as_int(body["oid"], "oid")
        self._org(oid)
        return self.data.org_subtree(oid)

    def _punch_records(self, call: _Call) -> Any:
        body = call.body
        start = _as_int(_required(body, "startTime"), "startTime")
        end = _as_int(_required(body, "endTime"), "endTime")
        _as_int(_required(body, "timeZone"), "timeZone")
        size, current = _page(body)
        if end < start:
            raise ApiError(502, "结束时间早于开始时间")
        orgs = self._oid_filter(body)
        recs = [p for p in self.data.punch_records(start, end) if orgs is None or p.oid in orgs]
        recs.sort(key=lambda p: (-p.sign_ms, p.user_id))
        page, pages = _paginate(recs, size, current)
        nulls = self.quirks.null_fields
        records = [
            {
                "userId": self._id(p.user_id),
                "userName": p.user_name,
                "account": p.account,
                "scheduleId": None if nulls else self._id(p.schedule_id),
                "shiftsId": self._id(p.shifts_id),
                "shiftsName": None if nulls else p.shifts_name,
                "type": p.type,
                "address": None if nulls else p.address,
                "coordinate": None if nulls else f"{p.lon:.6f},{p.lat:.6f}",
                "signInTime": iso_utc(p.sign_ms),
                "shouldTime": local_str(p.should_ms) if p.should_ms is not None else None,
                "failure": p.failure,
                "state": p.state,
                "scope": None if nulls else p.scope,
                "timeZone": 8,
                "oid": self._id(p.oid),
                "myOrgName": p.org_name,
            }
            for p in page
        ]
        return self._envelope(
            200,
            MESSAGES[200],
            {"records": records, "total": len(recs), "pages": pages},
            enMessage="success",
            errorMessage=None,
        )

    def _signin_records(self, call: _Call) -> Any:
        body = call.body
        first = _parse_local(_required(body, "startTime"), "startTime", "%Y-%m-%d").date()
        last = _parse_local(_required(body, "endTime"), "endTime", "%Y-%m-%d").date()
        _as_int(_required(body, "timeZone"), "timeZone")
        size, current = _page(body)
        if last < first:
            raise ApiError(502, "结束时间早于开始时间")
        orgs = self._oid_filter(body)
        recs = [s for s in self.data.signins(first, last) if orgs is None or s.org_id in orgs]
        recs.sort(key=lambda s: (-s.sign_ms, s.id))
        page, pages = _paginate(recs, size, current)
        origin = call.origin
        records = [
            {
                "id": self._id(s.id),
                "userId": self._id(s.user_id),
                "myOrg": self._id(s.org_id),
                "myOrgName": s.org_name,
                "userName": s.user_name,
                "userPhone": s.phone,
                "image": ",".join(f"{origin}/media/photo/{name}" for name in s.images),
                "location": f"{s.lon:.6f},{s.lat:.6f}",
                "address": s.address,
                "signTime": iso_utc(s.sign_ms),
                "remark": s.remark,
                "timeZone": s.tz,
            }
            for s in page
        ]
        result = {"records": records, "total": len(recs), "pages": pages}
        return [result] if self.quirks.signin_in_list else result


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8090,
    users: int = 40,
    groups: int = 6,
    seed: int = 1,
) -> None:
    """Run a sandbox platform until cancelled (``pttbridge sandbox``)."""
    sandbox = SandboxPlatform(users=users, groups=groups, seed=seed)
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
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()


__all__ = [
    "FAULT_KINDS",
    "ApiError",
    "Quirks",
    "RecordedRequest",
    "SandboxPlatform",
    "iso_utc",
    "local_day_start_ms",
    "local_str",
    "pinyin_of",
    "serve_forever",
]
