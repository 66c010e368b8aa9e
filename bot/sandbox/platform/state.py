"""The platform's state, the controls tests use, callbacks to the bridge, the wire helpers."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.sandbox.data import (
    STREETS,
    TZ,
    Org,
    SandboxData,
    User,
)
from bot.sandbox.gcj02 import wgs84_to_gcj02
from bot.sandbox.platform.quirks import FAULT_KINDS, Fault, Quirks, RecordedRequest
from bot.sandbox.platform.wire import (
    CALLBACK_EVENTS,
    REPORT_LEVELS,
    REPORT_TEXTS,
    REPORT_TYPES,
    ApiError,
    json_response,
)


class PlatformState:
    """The platform's state (seeded data, tokens, faults, recorded requests), the
    controls tests use, callbacks to the bridge (section 3) and the wire helpers every
    route shares. `SandboxPlatform` is built on it with one mixin per API section
    (`routes/`) and the HTTP server (`server.py`)."""

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
        moving: bool = False,
    ) -> None:
        self.quirks = quirks if quirks is not None else Quirks()
        self.data = SandboxData(
            users=users, groups=groups, orgs=orgs, seed=seed, now=now, moving=moving
        )
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
        self._faults: list[Fault] = []
        self._audio_polls: dict[tuple[int, int | None], int] = {}
        self._report_seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.app = self._make_app()

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
        self._faults.append(Fault(path_suffix, kind, times, status, message, delay, body))

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

    def call_counts(self) -> Counter[str]:
        """How many requests each API path received (the path after the prefix, e.g.
        ``/location/getLatestCoords``), from the recorded requests."""
        cut = len(self.prefix)
        return Counter(
            r.path[cut:] if r.path.startswith(self.prefix) else r.path for r in self.requests
        )

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
            "online": 1 if self.data.online_now(u) else 0,
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
            "onlineCount": sum(1 for u in users if self.data.online_now(u)),
            "address": org.address,
            "weight": org.weight,
            "ctime": org.ctime_ms,
        }
        if org.remark:
            node["remark"] = org.remark
        return node

    def _make_app(self) -> web.Application:
        """The aiohttp application serving the API (built by `SandboxPlatform`)."""
        raise NotImplementedError

    @staticmethod
    def _envelope(status: int, message: str, data: Any, **extra: Any) -> web.Response:
        return json_response({"status": status, "message": message, "data": data, **extra})
