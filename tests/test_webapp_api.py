"""The map's JSON API (issue 16): Telegram's initData, checked with the bot token, gives
the user the role and org scope they have in chat; everything else is 401, 403 or 404."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import itertools
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from conftest import SANDBOX_NOW, Clock, examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.demo.stack import BOT_TOKEN, PEOPLE, Stack
from bot.sandbox.platform import SandboxPlatform
from storage.roles import Role

PUBLIC_URL = "https://bridge.example.com"
NOW = SANDBOX_NOW.astimezone(UTC)


def sign(fields: dict[str, str], token: str = BOT_TOKEN) -> str:
    """initData as Telegram builds it (core.telegram.org/bots/webapps, "Validating data
    received via the Mini App"): the fields sorted by name as `key=value` lines, signed
    with HMAC-SHA256 keyed by HMAC-SHA256("WebAppData", bot token)."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def init_data(
    user_id: int,
    *,
    at: datetime = NOW,
    token: str = BOT_TOKEN,
    language: str = "en",
    start_param: str | None = None,
) -> str:
    user = {"id": user_id, "first_name": "Map", "last_name": "User", "language_code": language}
    fields = {
        "query_id": "AAH-test",
        "user": json.dumps(user, separators=(",", ":")),
        "auth_date": str(int(at.timestamp())),
    }
    if start_param is not None:
        fields["start_param"] = start_param
    return sign(fields, token)


def person(key: str) -> int:
    return next(p.id for p in PEOPLE if p.key == key)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def map_stack(
    make_bot_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> Callable[..., Awaitable[Stack]]:
    async def make(
        public_url: str | None = PUBLIC_URL,
        *,
        sandbox: SandboxPlatform | None = None,
        platform: dict[str, Any] | None = None,
        **bridge: Any,
    ) -> Stack:
        overrides = {"public_url": public_url, **bridge} if public_url else bridge
        # The sandbox stands still at the bridge's now: one "today", fixes of a known age.
        sandbox = sandbox or SandboxPlatform(now=lambda: SANDBOX_NOW)
        return await make_bot_stack(
            sandbox=sandbox,
            bridge_overrides=overrides,
            platform_overrides=platform or {},
            clock=clock,
        )

    return make


async def get(
    stack: Stack, path: str, auth: str | bytes | None = None
) -> tuple[int, dict[str, Any], httpx.Headers]:
    headers = {} if auth is None else {"Authorization": auth}
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        response = await client.get(path, headers=headers)
    return response.status_code, response.json(), response.headers


async def test_an_admin_sees_themselves_and_every_group(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    admin = person("admin")
    status, me, headers = await get(stack, "/app/api/me", f"tma {init_data(admin)}")
    assert status == 200, me
    assert {k: me[k] for k in ("user_id", "name", "role", "scope", "language")} == {
        "user_id": admin,
        "name": "Map User",
        "role": "admin",
        "scope": None,
        "language": "en",
    }
    assert headers["Cache-Control"] == "no-store"
    status, body, headers = await get(stack, "/app/api/groups", f"tma {init_data(admin)}")
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    assert stack.bridge is not None
    every = stack.bridge.directory.groups()
    assert every and len(body["groups"]) == len(every)
    by_id = {g.id: g for g in every}
    for group in body["groups"]:
        assert group["name"] == by_id[group["id"]].name
        assert group["members"] == len(by_id[group["id"]].member_ids)


async def test_a_scoped_supervisor_sees_only_their_subtree(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    scoped = next(p for p in PEOPLE if p.key == "scoped")
    assert stack.bridge is not None and scoped.org_id is not None
    subtree = stack.bridge.directory.subtree(scoped.org_id)
    status, me, _ = await get(stack, "/app/api/me", f"tma {init_data(scoped.id)}")
    assert status == 200, me
    assert me["role"] == "supervisor"
    assert me["scope"] == sorted(subtree)
    status, body, _ = await get(stack, "/app/api/groups", f"tma {init_data(scoped.id)}")
    assert status == 200, body
    ids = {g["id"] for g in body["groups"]}
    inside = {g.id for g in stack.bridge.directory.groups() if g.org_id in subtree}
    assert ids == inside
    assert ids and len(ids) < len(stack.bridge.directory.groups())


async def test_the_language_is_the_one_the_chat_uses(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    viewer = person("viewer")
    status, me, _ = await get(stack, "/app/api/me", f"tma {init_data(viewer, language='zh-hans')}")
    assert (status, me["role"], me["language"]) == (200, "viewer", "zh")


async def test_a_user_without_a_role_gets_nothing(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    auth = f"tma {init_data(person('stranger'))}"
    for path in ("/app/api/me", "/app/api/groups"):
        status, body, headers = await get(stack, path, auth)
        assert (status, body) == (403, {"error": "no role"})
        assert headers["Cache-Control"] == "no-store"


async def test_forged_and_foreign_init_data_are_refused(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    admin = person("admin")
    genuine = init_data(admin)
    # Another user id under the admin's hash.
    forged = genuine.replace(f"%22id%22%3A{admin}", f"%22id%22%3A{admin + 1}")
    assert forged != genuine
    other_bot = init_data(admin, token="999999:another-bots-secret")
    no_hash = genuine.partition("&hash=")[0]
    for data in (forged, other_bot, no_hash, "not=a&valid=one", "%%%"):
        status, body, _ = await get(stack, "/app/api/groups", f"tma {data}")
        assert status == 401, data
        assert body == {"error": "initData is not signed for this bot"}


async def test_init_data_older_than_a_day_is_expired(
    map_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> None:
    stack = await map_stack()
    auth = f"tma {init_data(person('admin'))}"
    clock.advance(timedelta(hours=23, minutes=59))
    assert (await get(stack, "/app/api/me", auth))[0] == 200
    clock.advance(timedelta(minutes=2))
    status, body, _ = await get(stack, "/app/api/me", auth)
    assert status == 401
    assert body["error"].startswith("initData expired")
    future = f"tma {init_data(person('admin'), at=clock.now + timedelta(hours=1))}"
    status, body, _ = await get(stack, "/app/api/me", future)
    assert (status, body) == (401, {"error": "initData is dated in the future"})


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "missing Authorization: tma <initData>"),
        ("", "missing Authorization: tma <initData>"),
        ("tma", "the Authorization header must be 'tma <initData>'"),
        ("Bearer abc", "the Authorization header must be 'tma <initData>'"),
        ("tma ＡＢＣ".encode(), "the Authorization header is not ASCII (initData is URL-encoded)"),
        (b"tma \xff\xfe\x80", "the Authorization header is not ASCII (initData is URL-encoded)"),
    ],
    ids=["missing", "empty", "no-data", "bearer", "utf8", "garbled"],
)
async def test_a_missing_or_garbled_header_is_401(
    map_stack: Callable[..., Awaitable[Stack]], auth: str | bytes | None, reason: str
) -> None:
    stack = await map_stack()
    status, body, _ = await get(stack, "/app/api/me", auth)
    assert (status, body) == (401, {"error": reason})


async def test_the_map_is_off_without_a_public_url(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack(public_url=None)
    auth = f"tma {init_data(person('admin'))}"
    for path in (
        "/app/",
        "/app/api/me",
        "/app/api/groups",
        "/app/api/positions?group=1001",
        "/app/api/fences",
        "/app/api/nothing",
    ):
        status, body, headers = await get(stack, path, auth)
        assert (status, body) == (404, {"error": "the map is off: set BRIDGE_PUBLIC_URL"}), path
        assert headers["Cache-Control"] == "no-store"


async def test_other_app_paths_say_what_is_missing(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    status, body, _ = await get(stack, "/app/api/nothing")
    assert (status, body) == (404, {"error": "no such endpoint: /app/api/nothing"})


# ---- the endpoints of the map (issue 16's contract) -------------------------------------------

SUPERVISOR_ONLY = (
    ("GET", "/app/api/track?user=10001"),
    ("GET", "/app/api/recordings?user=10001"),
    ("GET", "/app/api/audio/anything"),
    ("GET", "/app/api/fences"),
    ("POST", "/app/api/fences"),
    ("DELETE", "/app/api/fences/1"),
)
EVERY_ENDPOINT = (
    ("GET", "/app/api/me"),
    ("GET", "/app/api/groups"),
    ("GET", "/app/api/positions?group=1001"),
    *SUPERVISOR_ONLY,
)


async def call(
    stack: Stack,
    method: str,
    path: str,
    who: str | int,
    *,
    body: Any = None,
    content: bytes | None = None,
    data: str | None = None,
) -> tuple[int, Any, httpx.Headers]:
    """`who`'s request (a person's key or a Telegram id); the JSON answer, or the bytes."""
    uid = person(who) if isinstance(who, str) else who
    headers = {"Authorization": f"tma {data or init_data(uid)}"}
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        response = await client.request(method, path, headers=headers, json=body, content=content)
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.status_code, response.json(), response.headers
    return response.status_code, response.content, response.headers


def sandbox_fix(stack: Stack, uid: int) -> tuple[float, float] | None:
    data = stack.platform.data
    fix = data.fix_now(data.users[uid])
    return None if fix is None else (fix.lat, fix.lon)


async def audit_rows(stack: Stack, action: str) -> list[Any]:
    assert stack.bridge is not None
    return [e for e in await stack.bridge.audit.latest(1000) if e.action == action]


async def test_me_says_what_the_role_may_do_and_how_to_draw_the_map(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    for who, allowed in (("admin", True), ("supervisor", True), ("viewer", False)):
        status, me, _ = await call(stack, "GET", "/app/api/me", who)
        assert status == 200, me
        assert me["can"] == dict.fromkeys(
            ("positions", "tracks", "recordings", "fences", "draw_fences"), allowed
        ), who
        assert me["start"] is None
    assert stack.bridge is not None
    s = stack.bridge.settings.bridge
    assert me["map"] == {
        "tiles": s.map_tiles,
        "crs": "wgs84",
        "attribution": s.map_attribution,
        "refresh_s": 5,
        "timezone": "Asia/Shanghai",
    }
    for param, start in (
        ("g1001", {"kind": "group", "id": 1001}),
        ("u10001", {"kind": "user", "id": 10001}),
        ("o266", {"kind": "org", "id": 266}),
        ("x1", None),
        ("g", None),
        ("g12a", None),
        ("g-1", None),
    ):
        data = init_data(person("supervisor"), start_param=param)
        status, me, _ = await call(stack, "GET", "/app/api/me", "supervisor", data=data)
        assert (status, me["start"]) == (200, start), param


async def test_groups_come_with_the_orgs_in_scope(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    directory = stack.bridge.directory
    status, body, _ = await call(stack, "GET", "/app/api/groups", "admin")
    assert status == 200
    every = directory.snapshot.orgs
    assert [o["id"] for o in body["orgs"]] == [
        o.id for o in sorted(every.values(), key=lambda o: (o.name, o.id))
    ]
    assert {o["id"]: o["parent_id"] for o in body["orgs"]} == {
        o.id: o.parent_id for o in every.values()
    }
    assert [g["name"] for g in body["groups"]] == sorted(g["name"] for g in body["groups"])
    status, body, _ = await call(stack, "GET", "/app/api/groups", "scoped")
    subtree = directory.subtree(266)
    assert {o["id"] for o in body["orgs"]} == subtree
    # The scoped supervisor's top org does not say what lies above it.
    assert {o["id"]: o["parent_id"] for o in body["orgs"]}[266] is None
    assert all(o["parent_id"] in subtree for o in body["orgs"] if o["id"] != 266)


async def test_a_supervisor_sees_every_member_where_the_platform_has_them(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    data = stack.platform.data
    for group in stack.bridge.directory.groups():
        status, body, headers = await call(
            stack, "GET", f"/app/api/positions?group={group.id}", "supervisor"
        )
        assert status == 200, body
        assert headers["Cache-Control"] == "no-store"
        assert body["target"] == {"kind": "group", "id": group.id, "name": group.name}
        assert (body["positions"], body["crs"]) == (True, "wgs84")
        assert datetime.fromisoformat(body["at"]) == NOW
        assert [m["id"] for m in body["members"]] == list(group.member_ids)
        for m in body["members"]:
            user = data.users[m["id"]]
            assert (m["name"], m["account"]) == (user.name, user.account)
            assert m["online"] == data.online_now(user), m
            expected = sandbox_fix(stack, m["id"])
            if expected is None:
                assert m["fix"] is None
                continue
            fix = m["fix"]
            assert (fix["lat"], fix["lon"]) == pytest.approx(expected, abs=1e-6)
            platform_fix = data.fix_now(user)
            assert platform_fix is not None
            at = datetime.fromtimestamp(platform_fix.time_ms / 1000, UTC)
            assert datetime.fromisoformat(fix["at"]) == at.replace(microsecond=0) or abs(
                datetime.fromisoformat(fix["at"]) - at
            ) < timedelta(seconds=1)
            assert fix["stale"] == (NOW - at > timedelta(minutes=10)), m
            assert fix["speed_kmh"] == pytest.approx(platform_fix.speed, abs=0.05)


async def test_presence_without_a_fix_and_a_viewer_sees_no_fix(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    data = stack.platform.data
    # 王五 (10005) is online and has never sent a fix: online all the same.
    group = next(g for g in stack.bridge.directory.groups() if 10005 in g.member_ids)
    assert data.online_now(data.users[10005]) and data.fix_now(data.users[10005]) is None
    answers = {}
    for who in ("supervisor", "viewer"):
        status, body, _ = await call(stack, "GET", f"/app/api/positions?group={group.id}", who)
        assert status == 200, body
        answers[who] = body
        online = {m["id"]: m["online"] for m in body["members"]}
        assert online[10005] is True
        assert online == {uid: data.online_now(data.users[uid]) for uid in group.member_ids}
    viewer = answers["viewer"]
    assert viewer["positions"] is False
    assert [m["fix"] for m in viewer["members"]] == [None] * len(group.member_ids)
    assert any(m["fix"] for m in answers["supervisor"]["members"])
    # A viewer reads no position: nothing to audit.
    assert [e.actor_id for e in await audit_rows(stack, "where-group")] == [person("supervisor")]
    # One user, and an org's subtree.
    status, body, _ = await call(stack, "GET", "/app/api/positions?user=10001", "viewer")
    assert (status, body["members"][0]["fix"], body["members"][0]["online"]) == (200, None, True)
    status, body, _ = await call(stack, "GET", "/app/api/positions?org=266", "supervisor")
    assert status == 200, body
    subtree = stack.bridge.directory.subtree(266)
    assert {m["id"] for m in body["members"]} == {
        u.id for u in data.users.values() if u.org_id in subtree
    }
    assert body["target"]["kind"] == "org"


async def test_positions_on_gcj02_tiles_are_shifted_and_fences_come_back_as_wgs84(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    from bot.platform.coords import gcj02_to_wgs84, wgs84_to_gcj02

    stack = await map_stack(map_tiles_crs="gcj02")
    status, body, _ = await call(stack, "GET", "/app/api/positions?user=10001", "supervisor")
    assert (status, body["crs"]) == (200, "gcj02")
    wgs = sandbox_fix(stack, 10001)
    assert wgs is not None
    fix = body["members"][0]["fix"]
    shifted = wgs84_to_gcj02(*wgs)
    assert (fix["lat"], fix["lon"]) == pytest.approx(shifted, abs=1e-6)
    assert abs(shifted[0] - wgs[0]) + abs(shifted[1] - wgs[1]) > 1e-3  # a real shift
    drawn = {"lat": 30.28, "lon": 120.16, "radius_m": 300}
    status, body, _ = await call(
        stack, "POST", "/app/api/fences", "supervisor", body={"name": "depot", "circle": drawn}
    )
    assert status == 201, body
    assert stack.bridge is not None
    stored = await stack.bridge.repos.fences.get(body["fence"]["id"])
    assert stored is not None
    assert (stored.lat, stored.lon) == pytest.approx(gcj02_to_wgs84(30.28, 120.16), abs=1e-7)
    # Back on the tiles where it was drawn.
    assert (body["fence"]["lat"], body["fence"]["lon"]) == pytest.approx((30.28, 120.16), abs=1e-6)
    drawn_polygon = [[30.28, 120.16], [30.29, 120.16], [30.29, 120.18]]
    status, body, _ = await call(
        stack, "POST", "/app/api/fences", "supervisor", body={"name": "T", "polygon": drawn_polygon}
    )
    assert status == 201, body
    stored = await stack.bridge.repos.fences.get(body["fence"]["id"])
    assert stored is not None and stored.polygon is not None
    for (lat, lon), (glat, glon) in zip(stored.polygon, drawn_polygon, strict=True):
        assert (lat, lon) == pytest.approx(gcj02_to_wgs84(glat, glon), abs=1e-7)
    for back, drawn_point in zip(body["fence"]["points"], drawn_polygon, strict=True):
        assert back == pytest.approx(drawn_point, abs=1e-6)
    status, track, _ = await call(stack, "GET", "/app/api/track?user=10001", "supervisor")
    assert status == 200
    data = stack.platform.data
    start_ms = int((NOW - timedelta(hours=4)).timestamp() * 1000)
    first = data.track(10001, start_ms, int(NOW.timestamp() * 1000))[0]
    assert track["points"][0][:2] == pytest.approx(wgs84_to_gcj02(first.lat, first.lon), abs=1e-6)


async def test_a_track_is_the_platforms_points_oldest_first_with_a_summary(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    data = stack.platform.data
    now_ms = int(NOW.timestamp() * 1000)
    for query, hours in (("", 4), ("&hours=1", 1), ("&hours=24", 24)):
        status, body, _ = await call(stack, "GET", f"/app/api/track?user=10001{query}", "admin")
        assert status == 200, body
        expected = data.track(10001, now_ms - hours * 3_600_000, now_ms)
        assert expected, hours
        assert body["user"] == {"id": 10001, "name": data.users[10001].name}
        assert datetime.fromisoformat(body["to"]) == NOW
        assert datetime.fromisoformat(body["from"]) == NOW - timedelta(hours=hours)
        assert len(body["points"]) == len(expected) == body["summary"]["points"]
        assert [p[2] for p in body["points"]] == [p.time_ms // 1000 for p in expected]
        assert body["points"][-1][:2] == pytest.approx(
            [expected[-1].lat, expected[-1].lon], abs=1e-6
        )
        assert body["summary"]["duration_s"] == (expected[-1].time_ms - expected[0].time_ms) // 1000
        assert body["summary"]["km"] > 0
    start, end = NOW - timedelta(hours=30), NOW - timedelta(hours=26)
    q = httpx.QueryParams({"user": 10001, "from": start.isoformat(), "to": end.isoformat()})
    status, body, _ = await call(stack, "GET", f"/app/api/track?{q}", "admin")
    assert status == 200, body
    expected = data.track(10001, int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    assert len(body["points"]) == len(expected)
    rows = await audit_rows(stack, "track")
    assert len(rows) == 4 and {r.target for r in rows} == {"10001"}


async def test_a_long_track_is_thinned_to_5000_points_keeping_both_ends(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    data = stack.platform.data
    # A week: one point per TRACK_STEP_S, far more than 5,000.
    start = NOW - timedelta(days=6)
    q = httpx.QueryParams({"user": 10001, "from": start.isoformat(), "to": NOW.isoformat()})
    status, body, _ = await call(stack, "GET", f"/app/api/track?{q}", "admin")
    assert status == 200, body
    expected = data.track(10001, int(start.timestamp() * 1000), int(NOW.timestamp() * 1000))
    assert len(expected) > 5_000
    assert body["summary"]["points"] == len(expected)
    # One stride for the whole track (at most 5,000 points), plus each stretch's last point.
    stretches = 1 + sum(b.time_ms - a.time_ms > 600_000 for a, b in itertools.pairwise(expected))
    assert 5_000 / 2 <= len(body["points"]) <= 5_000 + stretches
    assert body["points"][0][2] == expected[0].time_ms // 1000
    assert body["points"][-1][2] == expected[-1].time_ms // 1000


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("positions?", "group: give exactly one of group, org or user"),
        ("positions?group=1001&user=10001", "group: give exactly one of group, org or user"),
        ("positions?group=-1", "group: not an id (digits expected)"),
        ("positions?org=1e3", "org: not an id (digits expected)"),
        ("positions?user=" + "9" * 16, "user: not an id (digits expected)"),
        ("", "user: missing"),
        ("user=abc", "user: not an id (digits expected)"),
        ("user=10001&hours=0", "hours: a whole number of hours, 1 to 24"),
        ("user=10001&hours=25", "hours: a whole number of hours, 1 to 24"),
        ("user=10001&hours=2.5", "hours: a whole number of hours, 1 to 24"),
        ("user=10001&from=2026-11-28T08:00:00%2B08:00", "to: missing (from and to go together)"),
        (
            "user=10001&from=yesterday&to=now",
            "from: not an ISO-8601 time (2026-11-28T08:00:00+08:00)",
        ),
        (
            "user=10001&from=2026-11-28T09:00:00%2B08:00&to=2026-11-28T08:00:00%2B08:00",
            "to: not after from",
        ),
        (
            "user=10001&from=2026-11-01T09:00:00%2B08:00&to=2026-11-28T08:00:00%2B08:00",
            "to: more than 7 days after from",
        ),
        (
            "user=10001&hours=2&from=2026-11-28T07:00:00%2B08:00&to=2026-11-28T08:00:00%2B08:00",
            "hours: give hours or from and to, not both",
        ),
        (  # no year at all in UTC
            "user=10001&from=0001-01-01T00:00:00%2B14:00&to=0001-01-02T00:00:00%2B14:00",
            "from: not between 2000 and 2999",
        ),
        ("user=10001&from=2999-12-31&to=9999-12-31", "to: not between 2000 and 2999"),
    ],
)
async def test_a_bad_positions_or_track_request_names_the_field(
    map_stack: Callable[..., Awaitable[Stack]], query: str, error: str
) -> None:
    stack = await map_stack()
    path = f"/app/api/{query}" if query.startswith("positions?") else f"/app/api/track?{query}"
    status, body, _ = await call(stack, "GET", path, "supervisor")
    assert (status, body) == (400, {"error": error})


async def a_days_recordings(stack: Stack) -> tuple[date, str, dict[str, Any]]:
    """The latest day on which user 10001 has recordings, its path, the supervisor's list."""
    data = stack.platform.data
    day = next(d for d in reversed(data.history_days()) if data.recordings(10001, d))
    path = f"/app/api/recordings?user=10001&date={day.isoformat()}"
    status, body, _ = await call(stack, "GET", path, "supervisor")
    assert status == 200, body
    return day, path, body


async def test_recordings_play_through_the_bridge_for_whoever_listed_them(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    from bot.sandbox.platform import MEDIA_DIR

    stack = await map_stack()
    data = stack.platform.data
    day, path, body = await a_days_recordings(stack)
    expected = data.recordings(10001, day)
    assert (body["user"]["id"], body["date"]) == (10001, day.isoformat())
    listed = body["recordings"]
    begins = [datetime.fromisoformat(r["begin"]) for r in listed]
    assert begins == sorted(begins, reverse=True)
    assert [int(b.timestamp() * 1000) for b in begins] == sorted(
        (r.begin_ms for r in expected), reverse=True
    )
    assert all(str(stack.platform.url) not in json.dumps(r) for r in listed)  # no fileUrl
    by_begin = {r.begin_ms: r for r in expected}
    first = listed[0]
    rec = by_begin[int(begins[0].timestamp() * 1000)]
    assert first["audio"] == f"/app/api/audio/{first['id']}"
    status, audio, headers = await call(stack, "GET", first["audio"], "supervisor")
    assert status == 200
    assert headers["content-type"].startswith("audio/")
    assert audio == (MEDIA_DIR / rec.file).read_bytes()
    # The same listing again keeps the ids; another supervisor's or a forged id is refused.
    again = (await call(stack, "GET", path, "supervisor"))[1]["recordings"]
    assert [r["id"] for r in again] == [r["id"] for r in listed]
    for who, audio_path in (
        ("admin", first["audio"]),
        ("supervisor", "/app/api/audio/" + first["id"][:-2] + "xx"),
        ("supervisor", "/app/api/audio/..%2F..%2Fmedia%2F" + rec.file),
    ):
        status, body, _ = await call(stack, "GET", audio_path, who)
        assert (status, body) == (404, {"error": "no such recording: list the recordings again"})
    rows = await audit_rows(stack, "recording-play")
    assert len(rows) == 1
    assert (rows[0].actor_id, rows[0].target, rows[0].result) == (
        person("supervisor"),
        "10001",
        "streamed",
    )
    # Today by default; a day after today is refused.
    status, body, _ = await call(stack, "GET", "/app/api/recordings?user=10001", "supervisor")
    assert (status, body["date"]) == (200, data.today().isoformat())
    for query, error in (
        ("user=10001&date=2026-11-29", "date: after today (2026-11-28)"),
        ("user=10001&date=2026-02-30", "date: no such day"),
        ("user=10001&date=28.11.2026", "date: not a date (YYYY-MM-DD)"),
        ("user=10001&date=0001-01-01", "date: before 2000"),
        ("date=2026-11-28", "user: missing"),
    ):
        status, body, _ = await call(stack, "GET", f"/app/api/recordings?{query}", "supervisor")
        assert (status, body) == (400, {"error": error}), query


async def test_a_recording_the_file_server_fails_is_502_and_audited(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    data = stack.platform.data
    day, _, body = await a_days_recordings(stack)
    listed = body["recordings"]
    rec = next(
        r
        for r in data.recordings(10001, day)
        if r.begin_ms == int(datetime.fromisoformat(listed[0]["begin"]).timestamp() * 1000)
    )
    stack.platform.fail_next(f"/media/{rec.file}", "http502")
    status, body, _ = await call(stack, "GET", listed[0]["audio"], "supervisor")
    assert status == 502 and body["error"].startswith("the platform's file server did not answer")
    rows = await audit_rows(stack, "recording-play")
    assert [r.result for r in rows] == ["unreachable"]


async def test_fences_are_listed_added_and_deleted_in_scope(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    circle = {"lat": 30.28, "lon": 120.16, "radius_m": 250}
    status, body, _ = await call(
        stack, "POST", "/app/api/fences", "scoped", body={"name": "Yard", "circle": circle}
    )
    assert status == 201, body
    yard = body["fence"]
    assert yard == {
        "id": yard["id"],
        "name": "Yard",
        "kind": "circle",
        "lat": 30.28,
        "lon": 120.16,
        "radius_m": 250.0,
        "points": None,
    }
    stored = await stack.bridge.repos.fences.get(yard["id"])
    assert stored is not None and stored.org_id == 266
    # The same name in the same scope: 409; in another scope (unscoped) it is free.
    status, body, _ = await call(
        stack, "POST", "/app/api/fences", "scoped", body={"name": "yard", "circle": circle}
    )
    assert (status, body) == (409, {"error": "name: a fence named 'yard' exists already"})
    status, body, _ = await call(
        stack, "POST", "/app/api/fences", "supervisor", body={"name": "HQ", "circle": circle}
    )
    assert status == 201, body
    hq = body["fence"]
    status, body, _ = await call(stack, "GET", "/app/api/fences", "scoped")
    assert [f["name"] for f in body["fences"]] == ["Yard"]
    status, body, _ = await call(stack, "GET", "/app/api/fences", "supervisor")
    assert [f["name"] for f in body["fences"]] == ["HQ", "Yard"]
    # Out of scope is "not found", as a fence that does not exist.
    for fence_id in (hq["id"], 99999):
        status, body, _ = await call(stack, "DELETE", f"/app/api/fences/{fence_id}", "scoped")
        assert (status, body) == (404, {"error": f"fence {fence_id} not found"})
    status, body, _ = await call(stack, "DELETE", "/app/api/fences/abc", "scoped")
    assert (status, body) == (400, {"error": "id: not an id (digits expected)"})
    status, body, _ = await call(stack, "DELETE", f"/app/api/fences/{yard['id']}", "scoped")
    assert (status, body) == (200, {"deleted": yard["id"]})
    assert await stack.bridge.repos.fences.get(yard["id"]) is None
    status, body, _ = await call(stack, "DELETE", f"/app/api/fences/{yard['id']}", "scoped")
    assert status == 404
    added = await audit_rows(stack, "fence-add")
    assert sorted(r.result for r in added) == ["name taken", "ok", "ok"]
    deleted = await audit_rows(stack, "fence-del")
    assert [(r.actor_id, r.args["name"]) for r in deleted] == [(person("scoped"), "Yard")]


CIRCLE = {"lat": 30.28, "lon": 120.16, "radius_m": 250}


async def test_a_polygon_fence_is_stored_with_its_bounding_circle(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    from bot.geo.fences import polygon_bounds

    stack = await map_stack()
    assert stack.bridge is not None
    square = [[30.28, 120.16], [30.28, 120.17], [30.29, 120.17], [30.29, 120.16]]
    status, body, _ = await call(
        stack, "POST", "/app/api/fences", "scoped", body={"name": "Block", "polygon": square}
    )
    assert status == 201, body
    fence = body["fence"]
    lat, lon, radius = polygon_bounds(square)
    assert fence["kind"] == "polygon"
    assert fence["points"] == square
    assert (fence["lat"], fence["lon"]) == pytest.approx((lat, lon), abs=1e-6)
    assert fence["radius_m"] == pytest.approx(radius, abs=0.1)
    stored = await stack.bridge.repos.fences.get(fence["id"])
    assert stored is not None and stored.polygon == tuple(map(tuple, square))
    assert stored.org_id == 266
    listed = (await call(stack, "GET", "/app/api/fences", "scoped"))[1]["fences"]
    assert listed == [fence]
    [row] = await audit_rows(stack, "fence-add")
    assert (row.args["name"], row.args["count"], row.result) == ("Block", 4, "ok")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "body: not JSON"),
        (b"\xff\xfe", "body: not JSON"),
        (b"[1, 2]", "body: not a JSON object"),
        (b'"fence"', "body: not a JSON object"),
        ({"circle": CIRCLE}, "name: missing (a text of 1 to 64 characters)"),
        ({"name": 5, "circle": CIRCLE}, "name: missing (a text of 1 to 64 characters)"),
        ({"name": "  ", "circle": CIRCLE}, "name: 1 to 64 characters"),
        ({"name": "x" * 65, "circle": CIRCLE}, "name: 1 to 64 characters"),
        (
            {"name": "two words", "circle": CIRCLE},
            "name: one word: no spaces or control characters",
        ),
        ({"name": "a\u0000b", "circle": CIRCLE}, "name: one word: no spaces or control characters"),
        ({"name": "n"}, "circle: give exactly one of circle or polygon"),
        (
            {"name": "n", "circle": CIRCLE, "polygon": [[1, 2]] * 3},
            "circle: give exactly one of circle or polygon",
        ),
        ({"name": "n", "circle": [30, 120]}, "circle: not an object {lat, lon, radius_m}"),
        ({"name": "n", "circle": {**CIRCLE, "lat": 91}}, "circle.lat: out of range (-90 to 90)"),
        ({"name": "n", "circle": {**CIRCLE, "lon": "120"}}, "circle.lon: not a number"),
        ({"name": "n", "circle": {**CIRCLE, "lon": True}}, "circle.lon: not a number"),
        ({"name": "n", "circle": {"lat": 30, "lon": 120}}, "circle.radius_m: not a number"),
        (
            {"name": "n", "circle": {**CIRCLE, "radius_m": 9.9}},
            "circle.radius_m: out of range (10 to 50000)",
        ),
        (
            {"name": "n", "circle": {**CIRCLE, "radius_m": 50_001}},
            "circle.radius_m: out of range (10 to 50000)",
        ),
        (
            b'{"name": "n", "circle": {"lat": NaN, "lon": 1, "radius_m": 50}}',
            "circle.lat: out of range (-90 to 90)",
        ),
        ({"name": "n", "polygon": {"a": 1}}, "polygon: not a list of [lat, lon] points"),
        ({"name": "n", "polygon": [[30, 120], [30.01, 120]]}, "polygon: 3 to 50 points"),
        ({"name": "n", "polygon": [[30, 120]] * 51}, "polygon: 3 to 50 points"),
        (
            {"name": "n", "polygon": [[30, 120], [30.01, 120], [30, 181]]},
            "polygon[2].lon: out of range (-180 to 180)",
        ),
        (
            {"name": "n", "polygon": [[30, 120], [30.01, 120], [30]]},
            "polygon[2]: not a [lat, lon] pair",
        ),
        (  # a bow tie
            {"name": "n", "polygon": [[30, 120], [30.01, 120.01], [30.01, 120], [30, 120.01]]},
            "polygon: the edge from point 1 crosses the edge from point 3",
        ),
        (
            {"name": "n", "polygon": [[30, 120], [30.01, 120], [30, 120], [30, 120.01]]},
            "polygon: point 3 repeats point 1",
        ),
    ],
)
async def test_a_bad_fence_body_names_the_field(
    map_stack: Callable[..., Awaitable[Stack]], body: Any, error: str
) -> None:
    stack = await map_stack()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, answer, _ = await call(stack, "POST", "/app/api/fences", "supervisor", content=raw)
    assert (status, answer) == (400, {"error": error})
    assert await audit_rows(stack, "fence-add") == []


async def test_a_fence_body_over_16_kib_is_refused_unread(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    raw = json.dumps({"name": "n", "circle": CIRCLE, "pad": "x" * 20_000}).encode()
    status, body, _ = await call(stack, "POST", "/app/api/fences", "supervisor", content=raw)
    assert (status, body) == (413, {"error": "body: larger than 16384 bytes"})


async def test_every_endpoint_refuses_a_stranger_and_a_viewer_what_is_not_theirs(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    for method, path in EVERY_ENDPOINT:
        status, body, headers = await call(stack, method, path, "stranger", body={})
        assert (status, body) == (403, {"error": "no role"}), path
        assert headers["Cache-Control"] == "no-store"
    for method, path in SUPERVISOR_ONLY:
        status, body, _ = await call(stack, method, path, "viewer", body={})
        assert (status, body) == (403, {"error": "supervisors only"}), path


async def test_a_scoped_supervisor_gets_404_outside_the_subtree_on_every_endpoint(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    directory = stack.bridge.directory
    subtree = directory.subtree(266)
    outside_user = next(u for u in directory.users() if u.org_id not in subtree)
    outside_group = next(g for g in directory.groups() if g.org_id not in subtree)
    outside_org = next(o for o in directory.snapshot.orgs.values() if o.id not in subtree)
    inside_user = next(u for u in directory.users() if u.org_id in subtree)
    for path, kind, id_ in (
        (f"/app/api/positions?user={outside_user.id}", "user", outside_user.id),
        (f"/app/api/positions?group={outside_group.id}", "group", outside_group.id),
        (f"/app/api/positions?org={outside_org.id}", "org", outside_org.id),
        (f"/app/api/track?user={outside_user.id}", "user", outside_user.id),
        (f"/app/api/recordings?user={outside_user.id}", "user", outside_user.id),
        ("/app/api/positions?user=424242", "user", 424242),
    ):
        status, body, _ = await call(stack, "GET", path, "scoped")
        assert (status, body) == (404, {"error": f"{kind} {id_} not found"}), path
    for path in (
        f"/app/api/positions?user={inside_user.id}",
        f"/app/api/track?user={inside_user.id}",
        f"/app/api/recordings?user={inside_user.id}",
    ):
        assert (await call(stack, "GET", path, "scoped"))[0] == 200, path
    # A recording listed by an unscoped supervisor cannot be played by the scoped one.
    data = stack.platform.data
    day = next(d for d in data.history_days() if data.recordings(outside_user.id, d))
    listed = (
        await call(
            stack, "GET", f"/app/api/recordings?user={outside_user.id}&date={day}", "supervisor"
        )
    )[1]["recordings"]
    status, body, _ = await call(stack, "GET", listed[0]["audio"], "scoped")
    assert (status, body) == (404, {"error": "no such recording: list the recordings again"})
    # Scoped after listing it: the id no longer plays what is now out of reach.
    await stack.bridge.roles.set(person("supervisor"), Role.SUPERVISOR, "266", None)
    status, body, _ = await call(stack, "GET", listed[0]["audio"], "supervisor")
    assert (status, body) == (404, {"error": f"user {outside_user.id} not found"})
    # A group of their subtree shows only the members in it.
    inside_group = next(g for g in directory.groups() if g.org_id in subtree)
    body = (await call(stack, "GET", f"/app/api/positions?group={inside_group.id}", "scoped"))[1]
    assert all(directory.user(m["id"], subtree) is not None for m in body["members"])


async def test_positions_are_audited_once_per_caller_and_target_every_10_minutes(
    map_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> None:
    stack = await map_stack()
    for _ in range(3):
        for path in ("/app/api/positions?group=1001", "/app/api/positions?user=10001"):
            for who in ("supervisor", "admin"):
                assert (await call(stack, "GET", path, who))[0] == 200
    assert len(await audit_rows(stack, "where-group")) == 2
    where = await audit_rows(stack, "where")
    assert sorted(r.actor_id for r in where) == sorted([person("supervisor"), person("admin")])
    assert {(r.target, r.result) for r in where} == {("10001", "fix")}
    clock.advance(timedelta(minutes=9, seconds=59))
    await call(stack, "GET", "/app/api/positions?group=1001", "supervisor")
    assert len(await audit_rows(stack, "where-group")) == 2
    clock.advance(timedelta(seconds=2))
    await call(stack, "GET", "/app/api/positions?group=1001", "supervisor")
    rows = await audit_rows(stack, "where-group")
    assert len(rows) == 3
    assert stack.bridge is not None
    group = stack.bridge.directory.group(1001)
    assert group is not None and rows[0].args["members"] == len(group.member_ids)
    await call(stack, "GET", "/app/api/positions?org=266", "supervisor")
    assert [r.target for r in await audit_rows(stack, "where-org")] == ["266"]


async def test_a_platform_failure_is_502_naming_the_platform(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    stack.platform.fail_next("/location/getLatestCoords", "status", status=503, times=5)
    status, body, _ = await call(stack, "GET", "/app/api/positions?user=10001", "supervisor")
    assert status == 502
    assert body["error"].startswith("the platform did not answer as expected")


# ---- the parameters as plain functions: any input is an answer or a ParamError --------------

QUERY_TEXT = st.text(max_size=30) | st.sampled_from(
    ["1001", "0", "4", "24", "2026-11-28", "2026-11-28T08:00:00+08:00", "0001-01-01T00:00+14:00"]
)
QUERIES = st.dictionaries(
    st.sampled_from(["group", "org", "user", "hours", "from", "to", "date"]), QUERY_TEXT
)
LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
JSONISH = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=examples(300), deadline=None)
@given(query=QUERIES)
def test_any_query_is_read_or_refused_naming_a_field(query: dict[str, str]) -> None:
    from zoneinfo import ZoneInfo

    from bot.webapp.params import ParamError, day_of, span_of, target_of

    tz = ZoneInfo("Asia/Shanghai")
    for read in (
        lambda: target_of(query),
        lambda: span_of(query, NOW, tz),
        lambda: day_of(query, NOW.astimezone(tz).date()),
    ):
        try:
            read()
        except ParamError as exc:
            assert exc.field in {"group", "org", "user", "hours", "from", "to", "date"}
            assert str(exc).startswith(f"{exc.field}: ")


@settings(max_examples=examples(300), deadline=None)
@given(
    body=st.fixed_dictionaries(
        {}, optional={"name": LEAF, "circle": JSONISH, "polygon": JSONISH, "x": JSONISH}
    ).map(json.dumps)
    | st.binary(max_size=60).map(lambda b: b.decode("latin-1"))
)
def test_any_fence_body_is_a_draft_in_range_or_a_param_error(body: str) -> None:
    from bot.webapp.params import ParamError, fence_draft

    try:
        draft = fence_draft(body.encode("utf-8", "surrogatepass"), lambda a, b: (a, b))
    except ParamError as exc:
        assert exc.field.split(".")[0].split("[")[0] in {"body", "name", "circle", "polygon"}
        return
    assert 1 <= len(draft.name) <= 64
    for lat, lon in draft.points or [(draft.lat, draft.lon)]:
        assert -90 <= lat <= 90 and -180 <= lon <= 180


@settings(max_examples=examples(200), deadline=None)
@given(lat=st.floats(18, 53), lon=st.floats(74, 134))
def test_a_point_drawn_on_gcj02_tiles_comes_back_where_it_was(lat: float, lon: float) -> None:
    from bot.webapp.shapes import Crs

    crs = Crs("gcj02")
    assert crs.out(*crs.into(lat, lon)) == pytest.approx((lat, lon), abs=2e-6)


async def test_the_page_without_its_slash_is_redirected_with_its_query(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        response = await client.get("/app?group=1002&x=%C3%A9")
        assert response.status_code == 308
        assert response.headers["Location"] == "/app/?group=1002&x=%C3%A9"
        response = await client.get("/app")
        assert (response.status_code, response.headers["Location"]) == (308, "/app/")
        response = await client.get("/app/nothing-here")
        assert response.status_code == 404


# ---- the map as an outsider attacks it (issue 16) --------------------------------------------


async def test_init_data_with_a_field_twice_or_without_a_user_is_refused(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    admin = person("admin")
    genuine = init_data(admin)
    someone = urlencode({"user": json.dumps({"id": admin + 1, "first_name": "Eve"})})
    for data in (
        # The same auth_date again: the signature still holds, the repeat is refused.
        f"{genuine}&auth_date={int(NOW.timestamp())}",
        # Another user first (what the page's URLSearchParams would read), the signed one last.
        f"{someone}&{genuine}",
        f"{genuine}&hash=" + "0" * 64,
    ):
        status, body, _ = await get(stack, "/app/api/me", f"tma {data}")
        assert (status, body) == (401, {"error": "initData repeats a field"}), data
    nobody = sign({"query_id": "AAH-test", "auth_date": str(int(NOW.timestamp()))})
    status, body, _ = await get(stack, "/app/api/me", f"tma {nobody}")
    assert (status, body) == (401, {"error": "initData names no user"})


async def test_the_scheme_is_case_insensitive_and_a_64_kib_header_is_refused_unharmed(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    genuine = init_data(person("supervisor"))
    for scheme in ("TMA", "Tma", "tMa"):
        status, me, _ = await get(stack, "/app/api/me", f"{scheme} {genuine}")
        assert (status, me["role"]) == (200, "supervisor"), scheme
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        for huge in (f"tma {genuine}&pad={'x' * 65536}", "tma " + "%41" * 21846):
            response = await client.get("/app/api/me", headers={"Authorization": huge})
            assert response.status_code == 400, response.status_code  # aiohttp: over 8190 bytes
        # Within the header limit, a padded initData is not Telegram's: 401.
        padded = f"tma {genuine}&pad={'x' * 7000}"
        response = await client.get("/app/api/me", headers={"Authorization": padded})
        assert (response.status_code, response.json()) == (
            401,
            {"error": "initData is not signed for this bot"},
        )
        # The listener is unharmed.
        response = await client.get("/app/api/me", headers={"Authorization": f"tma {genuine}"})
        assert response.status_code == 200


async def test_a_role_removed_a_second_ago_is_refused_at_once_on_every_endpoint(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    sup = person("supervisor")
    data = stack.platform.data
    day = next(d for d in data.history_days() if data.recordings(10001, d))
    status, body, _ = await call(stack, "GET", f"/app/api/recordings?user=10001&date={day}", sup)
    assert status == 200 and body["recordings"], body
    audio = body["recordings"][0]["audio"]
    assert (await call(stack, "GET", audio, sup))[0] == 200
    # The same initData, still fresh: the role is read from the store on every request.
    await stack.bridge.roles.set(sup, Role.VIEWER)
    for method, path in (*SUPERVISOR_ONLY, ("GET", audio)):
        status, body, _ = await call(stack, method, path, sup, body={})
        assert (status, body) == (403, {"error": "supervisors only"}), path
    status, body, _ = await call(stack, "GET", "/app/api/positions?user=10001", sup)
    assert (status, body["positions"], body["members"][0]["fix"]) == (200, False, None)
    await stack.bridge.roles.set(sup, Role.NONE)
    for method, path in (*EVERY_ENDPOINT, ("GET", audio)):
        status, body, _ = await call(stack, method, path, sup, body={})
        assert (status, body) == (403, {"error": "no role"}), path
    assert [r.result for r in await audit_rows(stack, "recording-play")] == ["streamed"]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("positions?group=1001&group=1002", "group: given more than once"),
        ("positions?group=1001&group=1001", "group: given more than once"),
        ("track?user=10001&user=10002", "user: given more than once"),
        ("track?user=10001&hours=1&hours=2", "hours: given more than once"),
        ("recordings?user=10001&date=2026-11-27&date=2026-11-28", "date: given more than once"),
        ("positions?group=%EF%BC%91%EF%BC%90", "group: not an id (digits expected)"),
        ("positions?group=%D9%A1%D9%A2", "group: not an id (digits expected)"),
        ("positions?user=NaN", "user: not an id (digits expected)"),
        ("positions?user=1e309", "user: not an id (digits expected)"),
        ("positions?user=-10001", "user: not an id (digits expected)"),
        ("positions?user=" + "9" * 4000, "user: not an id (digits expected)"),
        ("positions?user=10001%00", "user: not an id (digits expected)"),
        ("track?user=10001&hours=NaN", "hours: a whole number of hours, 1 to 24"),
        ("track?user=10001&hours=1e309", "hours: a whole number of hours, 1 to 24"),
        ("track?user=10001&hours=-4", "hours: a whole number of hours, 1 to 24"),
        ("track?user=10001&hours=%D9%A3", "hours: a whole number of hours, 1 to 24"),
        ("track?user=10001&hours=" + "9" * 4000, "hours: a whole number of hours, 1 to 24"),
        (
            "track?user=10001&from=NaN&to=1e309",
            "from: not an ISO-8601 time (2026-11-28T08:00:00+08:00)",
        ),
        (
            "track?user=10001&from=%EF%BC%92026-11-28T08:00&to=2026-11-28T09:00",
            "from: not an ISO-8601 time (2026-11-28T08:00:00+08:00)",
        ),
        ("recordings?user=10001&date=%EF%BC%92026-11-28", "date: not a date (YYYY-MM-DD)"),
        ("recordings?user=10001&date=-2026-11-28", "date: not a date (YYYY-MM-DD)"),
        ("recordings?user=10001&date=99999-11-28", "date: not a date (YYYY-MM-DD)"),
    ],
)
async def test_odd_and_repeated_parameters_are_400_naming_the_field(
    map_stack: Callable[..., Awaitable[Stack]], query: str, error: str
) -> None:
    stack = await map_stack()
    status, body, _ = await call(stack, "GET", f"/app/api/{query}", "supervisor")
    assert (status, body) == (400, {"error": error})
    for action in ("where", "where-group", "track"):
        assert await audit_rows(stack, action) == []


async def test_a_parameter_the_api_does_not_read_may_repeat(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    status, body, _ = await call(stack, "GET", "/app/api/positions?group=1001&_=1&_=2", "viewer")
    assert (status, body["target"]["id"]) == (200, 1001)


async def post_raw(port: int, auth: str, head: str, pieces: int, chunked: bool) -> bytes:
    """A POST of /app/api/fences whose body is announced as `head` and only begun: `pieces`
    of 4 KiB sent, then the answer read (it must come without the rest)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            (
                f"POST /app/api/fences HTTP/1.1\r\nHost: bridge\r\nAuthorization: {auth}\r\n"
                f"Content-Type: application/json\r\n{head}\r\n"
            ).encode()
        )
        piece = b"[" * 4096
        for _ in range(pieces):
            writer.write(b"1000\r\n" + piece + b"\r\n" if chunked else piece)
        await writer.drain()
        head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head_bytes.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return head_bytes + await asyncio.wait_for(reader.readexactly(length), 30)
    finally:
        writer.close()


async def test_a_10_mb_body_is_refused_after_16_kib_without_reading_the_rest(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None and stack.bridge.http_port is not None
    auth = f"tma {init_data(person('supervisor'))}"
    for head, chunked in (
        (f"Content-Length: {10 * 1024 * 1024}\r\n", False),
        ("Transfer-Encoding: chunked\r\n", True),
    ):
        # 64 KiB of 10 MiB sent: the answer comes all the same.
        answer = await post_raw(stack.bridge.http_port, auth, head, 16, chunked)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert answer.endswith(b'{"error":"body: larger than 16384 bytes"}')
    # A stranger's body is not read at all: refused on the header.
    stranger = f"tma {init_data(person('stranger'))}"
    answer = await post_raw(
        stack.bridge.http_port, stranger, "Transfer-Encoding: chunked\r\n", 0, True
    )
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert await audit_rows(stack, "fence-add") == []


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            b'{"name": "n", "circle": ' + b"[" * 8000 + b"]" * 8000 + b"}",
            400,
            "body: not JSON",
        ),
        (
            json.dumps({"name": "big", "polygon": [[30.0, 120.0]] * 1_000_000}).encode(),
            413,
            "body: larger than 16384 bytes",
        ),
        (
            json.dumps({"name": "a\u202eb", "circle": CIRCLE}).encode(),
            400,
            "name: one word: no spaces or control characters",
        ),
        (
            json.dumps({"name": "a\u200bb", "circle": CIRCLE}).encode(),
            400,
            "name: one word: no spaces or control characters",
        ),
        (
            json.dumps({"name": "a\u0007b", "circle": CIRCLE}).encode(),
            400,
            "name: one word: no spaces or control characters",
        ),
        (
            json.dumps({"name": "x" * 10_240, "circle": CIRCLE}).encode(),
            400,
            "name: 1 to 64 characters",
        ),
        (b'{"name": "\xc3\x28", "circle": {}}', 400, "body: not JSON"),
        (b'{"name": "\\ud800"}', 400, "name: one word: no spaces or control characters"),
    ],
    ids=["nested-8000", "polygon-10e6", "rtl", "zwsp", "bell", "name-10k", "bad-utf8", "lone"],
)
async def test_hostile_fence_bodies_are_refused_naming_the_field(
    map_stack: Callable[..., Awaitable[Stack]], body: bytes, status: int, error: str
) -> None:
    stack = await map_stack()
    got, answer, _ = await call(stack, "POST", "/app/api/fences", "supervisor", content=body)
    assert (got, answer) == (status, {"error": error})
    assert await audit_rows(stack, "fence-add") == []


async def test_a_fence_id_with_dot_segments_deletes_nothing(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None and stack.bridge.http_port is not None
    made = []
    for name in ("one", "two"):
        status, body, _ = await call(
            stack, "POST", "/app/api/fences", "supervisor", body={"name": name, "circle": CIRCLE}
        )
        assert status == 201, body
        made.append(body["fence"]["id"])
    first, second = made
    auth = f"tma {init_data(person('supervisor'))}"
    answers = []
    for path in (
        f"/app/api/fences/{first}/../{second}",
        f"/app/api/fences/{first}/%2E%2E/{second}",
        f"/app/api/fences/{first}%2F..%2F{second}",
        f"/app/api/fences/{first}%2f..%2f{second}",
        f"/app/api/fences/{first}%252F..%252F{second}",
        f"/app/api/fences/{second}%00",
        f"/app/api/fences/%2B{second}",
        f"/app/api/fences/{second}.0",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.bridge.http_port)
        writer.write(
            f"DELETE {path} HTTP/1.1\r\nHost: b\r\nAuthorization: {auth}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        answer = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        answers.append(answer.split(b"\r\n", 1)[0])
    # Not normalised into /fences/<second>: unencoded, no endpoint has that path (404);
    # encoded, the id is not one (400).
    assert answers[:2] == [b"HTTP/1.1 404 Not Found"] * 2, answers
    assert all(b" 400 " in a for a in answers[2:]), answers
    for fence_id in made:
        assert await stack.bridge.repos.fences.get(fence_id) is not None
    assert await audit_rows(stack, "fence-del") == []


async def test_a_group_in_scope_shows_only_its_members_in_scope_as_where_does(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    directory = stack.bridge.directory
    subtree = directory.subtree(266)
    inside = [u.id for u in directory.users() if u.org_id in subtree][:3]
    outside = [u.id for u in directory.users() if u.org_id not in subtree][:2]
    assert len(inside) == 3 and len(outside) == 2
    mixed = stack.platform.data.add_group("Mixed", 266, [*inside, *outside])
    assert await directory.refresh()
    status, body, _ = await call(stack, "GET", f"/app/api/positions?group={mixed.id}", "scoped")
    assert status == 200, body
    # The members outside the subtree are left out, as chat's /where leaves them out.
    assert [m["id"] for m in body["members"]] == inside
    [row] = await audit_rows(stack, "where-group")
    assert (row.target, row.args["members"]) == (str(mixed.id), 3)
    [reply] = await stack.say("scoped", f"/where {mixed.id}")
    for uid in [*inside, *outside]:
        user = directory.user(uid)
        assert user is not None
        assert (user.name in reply.plain_text()) == (uid in inside), user.name
    for uid in outside:
        for path in (
            f"/app/api/positions?user={uid}",
            f"/app/api/track?user={uid}",
            f"/app/api/recordings?user={uid}",
        ):
            status, body, _ = await call(stack, "GET", path, "scoped")
            assert (status, body) == (404, {"error": f"user {uid} not found"}), path
    # Nothing refused is audited as if it had been read.
    assert len(await audit_rows(stack, "where-group")) == 2  # the API's and chat's
    assert await audit_rows(stack, "where") == []
    assert await audit_rows(stack, "track") == []


def platform_calls(stack: Stack, suffix: str) -> int:
    return sum(1 for r in stack.platform.requests if r.path.endswith(suffix))


async def test_200_pages_on_a_500_member_group_cost_the_platform_one_call(
    map_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> None:
    sandbox = SandboxPlatform(users=600, groups=6, now=lambda: SANDBOX_NOW)
    uids = sorted(sandbox.data.users)[:500]
    group = sandbox.data.add_group("Five hundred", min(sandbox.data.orgs), uids)
    stack = await map_stack(sandbox=sandbox)
    path = f"/app/api/positions?group={group.id}"
    auth = {"Authorization": f"tma {init_data(person('supervisor'))}"}
    fixes, online = platform_calls(stack, "/getLatestCoords"), platform_calls(stack, "/isOnline")
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=stack.bridge_url, limits=limits, timeout=120) as client:
        answers = await asyncio.gather(*(client.get(path, headers=auth) for _ in range(200)))
        assert [a.status_code for a in answers] == [200] * 200
        bodies = [a.json() for a in answers]
        assert all(b["members"] == bodies[0]["members"] for b in bodies)
        assert [m["id"] for m in bodies[0]["members"]] == uids
        assert sum(1 for m in bodies[0]["members"] if m["fix"]) > 0
        # One 2.4 and one 2.3 served all 200 (500 users fit one 2.4 call).
        assert platform_calls(stack, "/getLatestCoords") == fixes + 1
        assert platform_calls(stack, "/isOnline") == online + 1
    # Each caller is still audited as /where would be: one row per 10 minutes.
    assert len(await audit_rows(stack, "where-group")) == 1
    # A viewer's page asks only 2.3: a call of its own.
    assert (await call(stack, "GET", path, "viewer"))[0] == 200
    assert platform_calls(stack, "/isOnline") == online + 2
    # Two seconds later the platform is asked again.
    clock.advance(timedelta(seconds=2))
    assert (await call(stack, "GET", path, "supervisor"))[0] == 200
    assert platform_calls(stack, "/getLatestCoords") == fixes + 2


async def test_a_failed_platform_call_is_not_served_again(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    stack.platform.fail_next("/location/getLatestCoords", "status", status=517, times=1)
    status, body, _ = await call(stack, "GET", "/app/api/positions?user=10001", "supervisor")
    assert status == 502, body
    # The clock has not moved: only a good answer is shared for 2 s.
    status, body, _ = await call(stack, "GET", "/app/api/positions?user=10001", "supervisor")
    assert status == 200 and body["members"][0]["fix"] is not None


@pytest.mark.parametrize(
    ("path", "suffix"),
    [
        ("positions?user=10001", "/location/getLatestCoords"),
        ("positions?group=1001", "/location/getLatestCoords"),
        ("positions?group=1001", "/pttUser/isOnline"),
        ("track?user=10001", "/location/trackPlayback"),
        ("recordings?user=10001", "/ptt/audioRecord"),
    ],
)
async def test_a_stalled_platform_is_504_at_its_timeout_not_after_the_retries(
    map_stack: Callable[..., Awaitable[Stack]], path: str, suffix: str
) -> None:
    stack = await map_stack(platform={"timeout_s": 2})
    # The sandbox holds this answer for an hour (cut short when it stops).
    stack.platform.fail_next(suffix, "delay", delay=3600, times=1)
    before = platform_calls(stack, suffix)
    async with httpx.AsyncClient(base_url=stack.bridge_url, timeout=60) as client:
        response = await client.get(
            f"/app/api/{path}",
            headers={"Authorization": f"tma {init_data(person('supervisor'))}"},
        )
    assert (response.status_code, response.json()) == (
        504,
        {"error": "the platform did not answer within 2 s"},
    )
    # Asked once: the deadline is the request's, not one per retry.
    assert platform_calls(stack, suffix) == before + 1


async def test_a_stalled_file_server_is_504_and_audited_so(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack(platform={"timeout_s": 2})
    data = stack.platform.data
    day = next(d for d in data.history_days() if data.recordings(10001, d))
    listed = (await call(stack, "GET", f"/app/api/recordings?user=10001&date={day}", "supervisor"))[
        1
    ]["recordings"]
    for file in {r.file for r in data.recordings(10001, day)}:
        stack.platform.fail_next(f"/media/{file}", "delay", delay=3600, times=1)
    async with httpx.AsyncClient(base_url=stack.bridge_url, timeout=60) as client:
        response = await client.get(
            listed[-1]["audio"],
            headers={"Authorization": f"tma {init_data(person('supervisor'))}"},
        )
    assert (response.status_code, response.json()) == (
        504,
        {"error": "the platform did not answer within 2 s"},
    )
    assert [r.result for r in await audit_rows(stack, "recording-play")] == ["timeout"]


async def test_a_page_that_stops_taking_audio_lets_go_of_the_platform(
    map_stack: Callable[..., Awaitable[Stack]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp import web

    import bot.webapp.api

    monkeypatch.setattr(bot.webapp.api, "AUDIO_STALL_S", 0.5)
    released = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        """A recording that never ends, as a file server that streams a live channel."""
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        try:
            while True:
                await response.write(b"\xff\xfb\x90\x00" * 16384)
        except ConnectionError:
            return response
        finally:
            released.set()

    app = web.Application()
    app.router.add_get("/live.mp3", endless)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        stack = await map_stack()
        assert stack.bridge is not None and stack.bridge.http_port is not None
        account = stack.platform.data.users[10001].account
        record = {
            "userId": 10001,
            "account": account,
            "beginTime": int(NOW.timestamp() * 1000) - 60_000,
            "durationMs": 3_600_000,
            "fileUrl": f"http://127.0.0.1:{port}/live.mp3",
        }
        stack.platform.fail_next(
            "/ptt/audioRecord",
            "body",
            body={"status": 200, "message": "ok", "data": {"total": 1, "records": [record]}},
        )
        status, body, _ = await call(stack, "GET", "/app/api/recordings?user=10001", "supervisor")
        assert status == 200, body
        [listed] = body["recordings"]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", stack.bridge.http_port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        auth = f"tma {init_data(person('supervisor'))}"
        writer.write(
            f"GET {listed['audio']} HTTP/1.1\r\nHost: b\r\nAuthorization: {auth}\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 200 ") and b"audio/mpeg" in head
        # The page reads no more. The bridge lets go of the file server at once, not never.
        await asyncio.wait_for(released.wait(), 60)
        writer.close()
    finally:
        await runner.cleanup()


async def test_a_gzip_bomb_is_refused_after_16_kib_of_what_it_unpacks_to(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    # 20 MB of JSON packed into some 20 KB, sent without a length (chunked).
    bomb = gzip.compress(b'{"name": "n", "pad": "' + b"0" * 20_000_000 + b'"}')
    assert len(bomb) < 100_000

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(bomb), 4096):
            yield bomb[start : start + 4096]

    headers = {
        "Authorization": f"tma {init_data(person('supervisor'))}",
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient(base_url=stack.bridge_url, timeout=60) as client:
        response = await client.post("/app/api/fences", content=chunks(), headers=headers)
    assert (response.status_code, response.json()) == (
        413,
        {"error": "body: larger than 16384 bytes"},
    )


@pytest.mark.parametrize(
    "kind", ["status", "http500", "http502", "html", "truncated", "notjson", "disconnect", "body"]
)
async def test_every_way_the_platform_fails_is_502_naming_it(
    map_stack: Callable[..., Awaitable[Stack]], kind: str
) -> None:
    stack = await map_stack()
    # As often as the client tries a read (3 times): every attempt meets the fault.
    stack.platform.fail_next(
        "/location/getLatestCoords", kind, times=3, status=517, body={"status": "x"}
    )
    status, body, headers = await call(stack, "GET", "/app/api/positions?group=1001", "admin")
    assert status == 502, body
    assert body["error"].startswith("the platform did not answer as expected: platform")
    assert "/location/getLatestCoords" in body["error"]
    assert headers["Cache-Control"] == "no-store"
    # Nothing half-read is shown or shared: the next request asks again and gets the fixes.
    stack.platform.clear_faults()
    status, body, _ = await call(stack, "GET", "/app/api/positions?group=1001", "admin")
    assert status == 200 and any(m["fix"] for m in body["members"]), body


async def test_thirty_pages_saving_one_fence_name_at_once_make_one_fence(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    answers = await asyncio.gather(
        *(
            call(stack, "POST", "/app/api/fences", "supervisor", body={"name": "gate", "circle": c})
            for c in [{**CIRCLE, "radius_m": 100 + n} for n in range(30)]
        )
    )
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [201] + [409] * 29, statuses
    listed = (await call(stack, "GET", "/app/api/fences", "supervisor"))[1]["fences"]
    assert [f["name"] for f in listed] == ["gate"]
    results = sorted(r.result for r in await audit_rows(stack, "fence-add"))
    assert results == ["name taken"] * 29 + ["ok"]


async def test_an_org_of_1200_asks_2_4_three_times_each_within_the_timeout(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    sandbox = SandboxPlatform(users=1200, groups=6, now=lambda: SANDBOX_NOW)
    root = next(o.id for o in sandbox.data.orgs.values() if o.parent_id == 0)
    stack = await map_stack(sandbox=sandbox, platform={"timeout_s": 3})
    # Each of the three 2.4 calls takes half the timeout: slower in all than one timeout,
    # and still an answer, not a 504 (the deadline is each call's, not the request's).
    stack.platform.fail_next("/location/getLatestCoords", "delay", delay=1.5, times=3)
    before = platform_calls(stack, "/getLatestCoords")
    async with httpx.AsyncClient(base_url=stack.bridge_url, timeout=60) as client:
        response = await client.get(
            f"/app/api/positions?org={root}",
            headers={"Authorization": f"tma {init_data(person('admin'))}"},
        )
    assert response.status_code == 200, response.text
    assert len(response.json()["members"]) == len(sandbox.data.users)
    assert platform_calls(stack, "/getLatestCoords") == before + 3


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/app/api/me", "GET"),
        ("POST", "/app/api/positions?group=1001", "GET"),
        ("PATCH", "/app/api/fences", "GET, POST"),
        ("GET", "/app/api/fences/1", "DELETE"),
        ("HEAD", "/app/api/groups", "GET"),
    ],
)
async def test_a_method_an_endpoint_does_not_take_is_a_json_405_naming_those_it_does(
    map_stack: Callable[..., Awaitable[Stack]], method: str, path: str, allowed: str
) -> None:
    stack = await map_stack()
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.headers["Cache-Control"] == "no-store"
    if method != "HEAD":
        assert response.json() == {"error": f"{method} is not taken here: {allowed}"}
    status, body, _ = await call(stack, "DELETE", "/app/api/nothing/1", "admin")
    assert (status, body) == (404, {"error": "no such endpoint: /app/api/nothing/1"})


def test_audio_ids_are_per_recording_and_caller_and_bounded() -> None:
    from bot.platform.models import Recording
    from bot.webapp.audio import TICKET_TTL, AudioTickets

    clock = Clock(NOW)
    tickets = AudioTickets(clock, limit=3)
    url = "https://files.example/shared.ogg"
    begin_ms = int(NOW.timestamp() * 1000)
    first = Recording.model_validate(
        {"userId": 7, "beginTime": begin_ms, "fileUrl": url}, context={"tz": UTC}
    )
    second = first.model_copy(update={"begin": NOW + timedelta(minutes=1)})
    a, b = tickets.issue(1, 7, first), tickets.issue(1, 7, second)
    assert a != b  # one file, two recordings: two ids
    assert tickets.issue(1, 7, first) == a  # listed again: the same id
    assert tickets.issue(2, 7, first) not in (a, b)  # another caller: another id
    found = tickets.get(b, 1)
    assert found is not None and found.recording.begin == second.begin
    assert tickets.get(b, 2) is None  # not given to caller 2
    third = first.model_copy(update={"begin": NOW + timedelta(minutes=2)})
    tickets.issue(1, 7, third)  # a fourth id: the oldest is forgotten
    assert len(tickets) == 3 and tickets.get(b, 1) is None
    clock.advance(TICKET_TTL + timedelta(seconds=1))
    assert tickets.get(a, 1) is None  # too old
