"""The sandbox dispatch platform, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.platform.coords import gcj02_to_wgs84
from bot.sandbox.data import (
    FIXED_USERS,
    NO_FIX_USER_ID,
    ROOT_ORG_ID,
    SOLO_GROUP_ID,
    TRICKY_USER_ID,
    TZ,
    SandboxData,
    local_day_start_ms,
)
from bot.sandbox.platform import Quirks, SandboxPlatform, serve_forever

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=TZ)  # a fixed clock: "today" is 2026-11-28 local
NOW_MS = int(NOW.timestamp() * 1000)
TODAY_MS = local_day_start_ms(NOW.date())
PAGE = {"size": 20, "current": 1}


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxPlatform]:
    sb = SandboxPlatform(now=lambda: NOW)
    await sb.start()
    yield sb
    await sb.stop()


@pytest.fixture
async def client(sandbox: SandboxPlatform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=sandbox.url + "/wapi", headers={"token": sandbox.token}, timeout=10
    ) as c:
        yield c


async def api(
    client: httpx.AsyncClient,
    path: str,
    body: Any = None,
    *,
    method: str = "POST",
    params: dict[str, Any] | None = None,
    expect: int | None = 200,
) -> Any:
    """Call an endpoint, check the envelope; returns `data` (or the envelope if expect is None)."""
    r = await client.request(method, path, json=body, params=params)
    assert r.status_code == 200
    env = r.json()
    assert isinstance(env["status"], int)
    assert isinstance(env["message"], str)
    assert "data" in env
    if expect is None:
        return env
    assert env["status"] == expect, env
    return env["data"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---- import, login, auth -------------------------------------------------------------------


def test_import_has_no_side_effects() -> None:
    code = "import asyncio; from bot.sandbox.platform import SandboxPlatform, Quirks, serve_forever"
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout == "" and out.stderr == ""


async def test_login_issues_a_working_token(sandbox: SandboxPlatform) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as c:
        r = await c.post(
            "/wapi/auth/open/login", json={"loginName": "dispatcher", "password": "sandbox-pass"}
        )
        env = r.json()
        assert env["status"] == 200
        token = env["data"]["token"]
        assert token and token != sandbox.token
        assert sandbox.login_count == 1
        r = await c.post("/wapi/orgUser/tree", headers={"token": token})
        assert r.json()["status"] == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"loginName": "dispatcher", "password": "wrong"}, 505),
        ({"loginName": "nobody", "password": "sandbox-pass"}, 504),
        ({"password": "sandbox-pass"}, 506),
    ],
)
async def test_login_failures(sandbox: SandboxPlatform, body: dict[str, Any], status: int) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as c:
        env = (await c.post("/wapi/auth/open/login", json=body)).json()
    assert env["status"] == status
    assert env["data"] is None
    assert sandbox.login_count == 0


async def test_missing_or_unknown_token_is_501_and_still_recorded(sandbox: SandboxPlatform) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url + "/wapi") as c:
        for headers in ({}, {"token": "bogus"}):
            r = await c.post("/orgUser/tree", headers=headers)
            assert r.status_code == 200
            assert r.json() == {"status": 501, "message": "未登录", "data": None}
    recorded = sandbox.requests_to("/orgUser/tree")
    assert len(recorded) == 2
    assert recorded[1].headers["token"] == "bogus"


async def test_expire_tokens_forces_a_new_login(sandbox: SandboxPlatform) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url + "/wapi") as c:
        login = {"loginName": "dispatcher", "password": "sandbox-pass"}
        issued = (await c.post("/auth/open/login", json=login)).json()["data"]["token"]

        async def status(token: str) -> int:
            return int((await c.post("/orgUser/tree", headers={"token": token})).json()["status"])

        sandbox.expire_tokens(revoke_fixed=False)
        assert await status(issued) == 501
        assert await status(sandbox.token) == 200
        sandbox.expire_tokens()
        assert await status(sandbox.token) == 501
        fresh = (await c.post("/auth/open/login", json=login)).json()["data"]["token"]
        assert await status(fresh) == 200
        assert sandbox.login_count == 2


async def test_custom_prefix_and_token_header() -> None:
    sb = SandboxPlatform(users=10, prefix="/gis/api", token_header="pc-access-token")
    await sb.start()
    try:
        async with httpx.AsyncClient(base_url=sb.url + "/gis/api") as c:
            r = await c.post("/orgUser/tree", headers={"pc-access-token": sb.token})
            assert r.json()["status"] == 200
            r = await c.post("/orgUser/tree", headers={"token": sb.token})
            assert r.json()["status"] == 501
            r = await c.post(
                "/auth/open/login", json={"loginName": sb.account, "password": sb.password}
            )
            assert r.json()["status"] == 200
    finally:
        await sb.stop()


# ---- every endpoint answers ----------------------------------------------------------------

ENDPOINTS: list[tuple[str, str, Any, dict[str, Any] | None]] = [
    ("GET", "/organization/getOrganizationTree2", None, None),
    ("POST", "/group/cgt/inThisGroupUids", {"gid": 1001, "uids": [10001, 10002]}, None),
    ("POST", "/pttUser/isOnline", {"gid": 1001, "uids": [10001, 10002]}, None),
    ("POST", "/location/getLatestCoords", {"uids": [10001]}, None),
    (
        "POST",
        "/location/trackPlayback",
        {"uids": [10001], "startTimestamp": NOW_MS - 3_600_000, "endTimestamp": NOW_MS},
        None,
    ),
    ("GET", "/ptt/audioRecord", {"userId": 10001, "page": PAGE}, None),
    ("POST", "/user/register", {"account": ["x1"], "name": ["新一"], "password": "abc123"}, None),
    ("POST", "/user/delete", {"pttIds": [10040]}, None),
    ("POST", "/group/create", {"name": "临时组", "oid": 266}, None),
    (
        "POST",
        "/group/bind",
        {
            "gid": 1001,
            "users": [{"id": 10003, "priority": 3, "callPermission": "Y", "canSpeak": "N"}],
        },
        None,
    ),
    ("POST", "/device/bind", {"id": 860001, "state": "0"}, None),
    ("POST", "/orgUser/tree", None, None),
    ("POST", "/org/user", None, {"id": 266}),
    ("POST", "/user/info", None, {"id": 10001}),
    (
        "POST",
        "/accept/event",
        {"from": {"id": 1, "name": "值班"}, "to": {"orgIds": [266]}, "title": "t", "content": "c"},
        None,
    ),
    (
        "POST",
        "/punchCard/record",
        {"startTime": TODAY_MS, "endTime": NOW_MS, "timeZone": 8, "page": PAGE},
        None,
    ),
    (
        "POST",
        "/signIn/record",
        {"startTime": "2026-11-27", "endTime": "2026-11-28", "timeZone": 8, "page": PAGE},
        None,
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "params"), ENDPOINTS, ids=[e[1] for e in ENDPOINTS]
)
async def test_every_endpoint_answers_an_envelope(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    params: dict[str, Any] | None,
) -> None:
    await api(client, path, body, method=method, params=params)


async def test_seventeen_endpoints_and_wrong_method(sandbox: SandboxPlatform) -> None:
    assert len({e[1] for e in ENDPOINTS}) == 17
    async with httpx.AsyncClient(base_url=sandbox.url) as c:
        r = await c.post("/wapi/ptt/audioRecord", headers={"token": sandbox.token})
        assert r.status_code == 405
        r = await c.post("/wapi/no/such/thing", headers={"token": sandbox.token})
        assert r.status_code == 404
        assert r.json()["path"] == "/wapi/no/such/thing"


# ---- directory: 2.1, 2.12, 2.13, 2.14 ------------------------------------------------------


def walk_tree2(node: dict[str, Any]) -> tuple[set[str], dict[str, Any]]:
    """(org ids, group nodes by gid) of a 2.1 tree, accepting object-or-list children."""
    orgs: set[str] = set()
    groups: dict[str, Any] = {}

    def visit(n: dict[str, Any]) -> None:
        if n["type"] == 1:
            groups[str(n["gid"])] = n
            return
        orgs.add(str(n.get("id", n.get("gid"))))
        for child in as_list(n.get("children", [])):
            visit(child)

    visit(node)
    return orgs, groups


async def test_tree2_single_object_quirk(
    sandbox: SandboxPlatform, client: httpx.AsyncClient
) -> None:
    tree = await api(client, "/organization/getOrganizationTree2", method="GET")
    assert tree["id"] == str(ROOT_ORG_ID) and tree["type"] == 0
    orgs, groups = walk_tree2(tree)
    assert orgs == {str(o) for o in sandbox.data.orgs}
    assert set(groups) == {str(g) for g in sandbox.data.groups}
    solo = groups[str(SOLO_GROUP_ID)]["users"]
    assert isinstance(solo, dict)
    assert solo == {"gid": "1006", "uid": "10006", "account": "zhaoliu01", "name": "赵六"}

    sandbox.quirks.tree_single_object = False
    sandbox.quirks.ids_as_strings = False
    tree = await api(client, "/organization/getOrganizationTree2", method="GET")
    assert tree["id"] == ROOT_ORG_ID
    _orgs, groups = walk_tree2(tree)
    assert groups[str(SOLO_GROUP_ID)]["users"] == [
        {"gid": 1006, "uid": 10006, "account": "zhaoliu01", "name": "赵六"}
    ]
    members_1001 = {u["uid"] for u in groups["1001"]["users"]}
    assert {10001, 10002} <= members_1001


async def test_org_user_tree(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    sandbox.quirks = Quirks.none()
    roots = await api(client, "/orgUser/tree")
    assert len(roots) == 1
    root = roots[0]
    assert root["id"] == "103" and root["parentId"] == "0"  # org ids are always strings
    users: list[dict[str, Any]] = []

    def visit(n: dict[str, Any]) -> None:
        for child in n.get("children", []):
            if child["type"] == 1:
                users.append(child)
            else:
                assert isinstance(child["id"], str)
                assert child["parentId"] == n["id"]
                visit(child)

    visit(root)
    assert len(users) == len(sandbox.data.users) == 40
    tricky = next(u for u in users if u["id"] == TRICKY_USER_ID)
    assert tricky["name"] == "李<b>&四" and tricky["account"] == "tricky"
    assert {u["online"] for u in users} == {0, 1}
    zs = [u for u in users if u["pinyin"].split("|")[0] == "zs"]
    assert {u["name"] for u in zs} >= {"张三", "张珊", "张山"}


async def test_org_user_and_user_info(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    org = await api(client, "/org/user", params={"id": "266"})
    assert org["id"] == "266" and org["parentId"] == "103"
    assert all(c["type"] == 1 for c in org["children"])
    assert {"10001", "10002"} <= {c["id"] for c in org["children"]}
    assert org["userCount"] == len(org["children"])

    info = await api(client, "/user/info", params={"id": 10002})
    assert info["account"] == "zhangshan01" and info["pinyin"] == "zs|zhangshan"
    assert [g["id"] for g in info["groups"]] == ["1002", "1001"]
    assert {"type", "name", "priority", "innerPriority"} <= set(info["groups"][0])
    assert await api(client, "/user/info", params={"id": 99}) is None  # the doc's "data: null"

    await api(client, "/org/user", params={"id": 4242}, expect=509)
    await api(client, "/org/user", expect=506)
    await api(client, "/org/user", params={"id": "abc"}, expect=502)
    await api(client, "/user/info", params={"id": "x"}, expect=502)


# ---- presence: 2.2, 2.3 --------------------------------------------------------------------


async def test_presence(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    body = {"gid": 1001, "uids": [10001, 10002, 10003, "10004", 99999]}
    # 张珊 is in 1001 right now; 张三 is online but talking in 1002; 张山 is offline
    assert await api(client, "/group/cgt/inThisGroupUids", body) == ["10002"]
    assert await api(client, "/pttUser/isOnline", body) == ["10001", "10002", "10004"]
    sandbox.quirks.ids_as_strings = False
    sandbox.data.users[10002].online = False
    assert await api(client, "/group/cgt/inThisGroupUids", body) == []
    assert await api(client, "/pttUser/isOnline", {**body, "gid": "1001"}) == [10001, 10004]

    await api(client, "/pttUser/isOnline", {"gid": 7, "uids": [10001]}, expect=514)
    await api(client, "/pttUser/isOnline", {"gid": 1001}, expect=506)
    await api(client, "/pttUser/isOnline", {"uids": [10001]}, expect=506)
    await api(client, "/pttUser/isOnline", {"gid": 1001, "uids": 10001}, expect=502)
    await api(client, "/group/cgt/inThisGroupUids", {"gid": "g1", "uids": []}, expect=502)


# ---- positions: 2.4, 2.5 -------------------------------------------------------------------


async def test_latest_coords_and_its_quirks(
    sandbox: SandboxPlatform, client: httpx.AsyncClient
) -> None:
    body = {"uids": [10001, 10003, NO_FIX_USER_ID, 424242]}
    coords = await api(client, "/location/getLatestCoords", body)
    assert [c["id"] for c in coords] == ["10001", "10003"]  # no fix, unknown: left out
    c = coords[0]
    fix = sandbox.data.users[10001].fix
    assert fix is not None
    assert (c["x"], c["y"]) == (pytest.approx(fix.lat), pytest.approx(fix.lon))  # x is latitude
    assert c["location"] == [c["y"], c["x"]]
    assert c["isOnLine"] == "2" and coords[1]["isOnLine"] is None
    datetime.strptime(c["time"], "%Y-%m-%d %H:%M:%S")

    expected_time = {
        "iso": lambda t: datetime.fromisoformat(t).timestamp() * 1000 == fix.time_ms,
        "s": lambda t: t == fix.time_ms // 1000,
        "ms": lambda t: t == fix.time_ms,
    }
    for fmt, check in expected_time.items():
        sandbox.quirks.coord_time_format = fmt
        c = (await api(client, "/location/getLatestCoords", body))[0]
        assert check(c["time"]), (fmt, c["time"])
    sandbox.quirks.coord_time_format = "absent"
    assert "time" not in (await api(client, "/location/getLatestCoords", body))[0]

    sandbox.quirks.online_as_string = False
    coords = await api(client, "/location/getLatestCoords", body)
    assert [c["isOnLine"] for c in coords] == [1, 0]

    sandbox.quirks.coordinates = "gcj02"
    c = (await api(client, "/location/getLatestCoords", body))[0]
    assert abs(c["x"] - fix.lat) + abs(c["y"] - fix.lon) > 0.002  # a few hundred metres off
    back = gcj02_to_wgs84(c["x"], c["y"])
    assert back == (pytest.approx(fix.lat, abs=1e-6), pytest.approx(fix.lon, abs=1e-6))
    await api(client, "/location/getLatestCoords", {}, expect=506)
    await api(client, "/location/getLatestCoords", {"uids": "10001"}, expect=502)


async def test_track_playback_shapes_units_and_gaps(
    sandbox: SandboxPlatform, client: httpx.AsyncClient
) -> None:
    body = {"uids": [10001, 10002], "startTimestamp": TODAY_MS, "endTimestamp": NOW_MS + 3_600_000}
    data = await api(client, "/location/trackPlayback", body)
    assert isinstance(data, list) and len(data) == 1  # list_of_maps
    tracks = data[0]
    assert set(tracks) == {"10001", "10002"}
    points = tracks["10001"]
    times = [p["time"] for p in points]
    assert times == sorted(times) and times[0] >= TODAY_MS and times[-1] <= NOW_MS
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert any(s >= 15 * 60_000 for s in steps)  # gaps between patrols
    assert min(steps) >= 30_000
    p = points[0]
    assert p["location"] == [p["y"], p["x"]] and p["positionType"] in (0, 1)
    assert 29.9 < p["x"] < 30.7 and 119.7 < p["y"] < 120.6

    sandbox.quirks.track_shape = "map"
    sandbox.quirks.track_time_unit = "s"
    data = await api(client, "/location/trackPlayback", body)
    assert set(data) == {"10001", "10002"}
    assert data["10001"][0]["time"] == times[0] // 1000

    sandbox.quirks.track_shape = "flat"
    data = await api(client, "/location/trackPlayback", body)
    assert len(data) == len(points) + len(tracks["10002"])
    assert {p["uid"] for p in data} == {"10001", "10002"}

    # local time strings work as well as timestamps
    sandbox.quirks.track_shape = "map"
    by_text = await api(
        client,
        "/location/trackPlayback",
        {"uids": [10001], "startTime": "2026-11-28 00:00:00", "endTime": "2026-11-28 15:00:00"},
    )
    assert len(by_text["10001"]) == len(points)
    assert await api(client, "/location/trackPlayback", {**body, "uids": [NO_FIX_USER_ID]}) == {}
    await api(client, "/location/trackPlayback", {"uids": [10001]}, expect=506)
    await api(client, "/location/trackPlayback", {"uids": [10001], "startTimestamp": 5}, expect=506)
    await api(
        client,
        "/location/trackPlayback",
        {"uids": [10001], "startTime": "yesterday", "endTime": "2026-11-28 15:00:00"},
        expect=502,
    )


# ---- recordings: 2.6 and /media ------------------------------------------------------------


async def audio(client: httpx.AsyncClient, body: dict[str, Any], expect: int = 200) -> Any:
    return await api(client, "/ptt/audioRecord", body, method="GET", expect=expect)


async def test_audio_records_paginate_honestly(
    sandbox: SandboxPlatform, client: httpx.AsyncClient
) -> None:
    body: dict[str, Any] = {"userId": "10001", "date": TODAY_MS, "page": {"size": 4, "current": 1}}
    first = await audio(client, body)
    total = first["total"]
    assert 3 <= total <= 25 and first["size"] == len(first["records"]) == min(4, total)
    seen = []
    for current in range(1, (total + 3) // 4 + 2):
        page = await audio(client, {**body, "page": {"size": 4, "current": current}})
        seen.extend(page["records"])
    assert len(seen) == total
    begins = [r["beginTime"] for r in seen]
    assert begins == sorted(begins, reverse=True) and len(set(begins)) == total
    assert all(TODAY_MS <= b <= NOW_MS for b in begins)
    assert all(r["fileUrl"].startswith(sandbox.url + "/media/") for r in seen)
    assert sandbox.requests_to("/ptt/audioRecord")[0].method == "GET"
    assert sandbox.requests_to("/ptt/audioRecord")[0].json["userId"] == "10001"

    by_account = await audio(client, {"account": "zhangsan01", "date": TODAY_MS, "page": PAGE})
    assert by_account["total"] == total

    sandbox.quirks.audio_total_as_pages = True
    assert (await audio(client, body))["total"] == (total + 3) // 4

    await audio(client, {"userId": 10001}, expect=506)
    await audio(client, {"userId": 10001, "page": {"size": 0, "current": 1}}, expect=502)
    await audio(client, {"userId": 10001, "page": {"size": 5, "current": 0}}, expect=502)
    await audio(client, {"userId": 77, "page": PAGE}, expect=517)
    await audio(client, {"account": "nobody", "page": PAGE}, expect=517)


async def test_audio_records_appear_after_delayed_polls(
    sandbox: SandboxPlatform, client: httpx.AsyncClient
) -> None:
    sandbox.quirks.recordings_delay_polls = 2
    body = {"userId": 10001, "date": TODAY_MS, "page": PAGE}
    assert (await audio(client, body))["records"] == []
    assert (await audio(client, body))["total"] == 0
    assert (await audio(client, body))["records"] != []
    other_day = {**body, "date": TODAY_MS - 86_400_000}
    assert (await audio(client, other_day))["records"] == []  # counted per (user, day)


async def test_media_files_and_lost_recordings(
    sandbox: SandboxPlatform, client: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as c:
        r = await c.get("/media/recording-zh.ogg")
        assert r.status_code == 200
        assert r.headers["content-type"] == "audio/ogg"
        assert r.content.startswith(b"OggS")
        r = await c.get("/media/recording-en.mp3")
        assert r.headers["content-type"] == "audio/mpeg" and len(r.content) > 1000
        r = await c.get("/media/photo/signin-1-0.png")
        assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")
        assert (await c.get("/media/nothing.ogg")).status_code == 404

        # about 1 recording in 20 points at a file that is gone
        records = []
        for uid in range(10001, 10041):
            records += (await audio(client, {"userId": uid, "page": {"size": 500, "current": 1}}))[
                "records"
            ]
        lost = [r for r in records if "/recording-" not in r["fileUrl"]]
        assert 0 < len(lost) < len(records) / 8
        assert (await c.get(lost[0]["fileUrl"])).status_code == 404
        kept = next(r for r in records if r not in lost)
        assert (await c.get(kept["fileUrl"])).status_code == 200
        assert any("durationMs" not in r for r in records)  # optional fields are sometimes absent


# ---- writes: 2.7 - 2.11, 2.15 --------------------------------------------------------------


async def test_register_and_delete(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    created = await api(
        client,
        "/user/register",
        {"account": ["newbie1", "newbie2"], "name": ["新兵", "王<i>"], "password": "secret1"},
    )
    assert [u["account"] for u in created] == ["newbie1", "newbie2"]
    assert created[0]["pinyin"] == "xb|xinbing" and created[0]["myOrg"] == "103"
    new_id = int(created[0]["id"])
    info = await api(client, "/user/info", params={"id": new_id})
    assert info["name"] == "新兵" and info["groups"] == []
    tree = json.dumps(await api(client, "/orgUser/tree"), ensure_ascii=False)
    assert "newbie2" in tree

    await api(client, "/user/delete", {"pttIds": [new_id, "10003"]})
    assert await api(client, "/user/info", params={"id": new_id}) is None
    assert 10003 not in sandbox.data.users
    await api(client, "/user/delete", {"pttIds": [10001, 5]}, expect=517)
    assert 10001 in sandbox.data.users  # the whole batch failed
    await api(client, "/user/delete", {}, expect=506)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"account": ["zhangsan01"], "name": ["x"], "password": "abc123"}, 508),
        ({"account": ["dup", "dup"], "name": ["a", "b"], "password": "abc123"}, 508),
        (
            {"account": [f"u{i}" for i in range(101)], "name": ["n"] * 101, "password": "abc123"},
            510,
        ),
        ({"account": ["ok1"], "name": ["x"], "password": "12345678"}, 535),
        ({"account": ["ok1"], "name": ["x"], "password": "ab1"}, 535),
        ({"account": ["ok1"], "name": ["x"]}, 506),
        ({"account": "ok1", "name": ["x"], "password": "abc123"}, 502),
        ({"account": ["ok1", "ok2"], "name": ["x"], "password": "abc123"}, 502),
    ],
)
async def test_register_failures(
    sandbox: SandboxPlatform, client: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    before = len(sandbox.data.users)
    env = await api(client, "/user/register", body, expect=None)
    assert env["status"] == status and env["data"] is None
    if status == 508:
        assert body["account"][0] in env["message"]
    assert len(sandbox.data.users) == before


async def test_register_batch_with_an_existing_account_creates_nothing(
    sandbox: SandboxPlatform, client: httpx.AsyncClient
) -> None:
    body = {"account": ["fresh1", "tricky"], "name": ["甲", "乙"], "password": "abc123"}
    env = await api(client, "/user/register", body, expect=508)
    assert env is None
    assert sandbox.data.user_by_account("fresh1") is None


async def test_groups_bind_and_devices(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    sandbox.quirks.unpadded_ctime = True
    g = await api(client, "/group/create", {"name": "抢险组", "oid": "267", "uids": [10003]})
    assert g["name"] == "抢险组" and g["myPttCount"] == 1 and g["deletedMarker"] == 0
    ctime = datetime.strptime(g["ctime"], "%Y-%m-%d %H:%M:%S")  # strptime takes unpadded too
    assert ctime.hour == 15 and g["ctime"].startswith("2026-11-28 15:")
    await api(client, "/group/create", {"name": "抢险组", "oid": 267}, expect=543)
    await api(client, "/group/create", {"name": "抢险组", "oid": 999}, expect=509)
    await api(client, "/group/create", {"name": "x", "oid": 266, "uids": [1]}, expect=517)
    await api(client, "/group/create", {"oid": 266}, expect=506)

    gid = int(g["id"])
    member = {"id": 10001, "priority": 2, "callPermission": "N", "canSpeak": "Y"}
    await api(client, "/group/bind", {"gid": gid, "users": [member]})
    info = await api(client, "/user/info", params={"id": 10001})
    assert {"id": str(gid), "innerPriority": 2} in [
        {"id": x["id"], "innerPriority": x["innerPriority"]} for x in info["groups"]
    ]
    await api(client, "/group/bind", {"gid": 5, "users": [member]}, expect=514)
    await api(client, "/group/bind", {"gid": gid, "users": [{**member, "id": 3}]}, expect=517)
    await api(
        client, "/group/bind", {"gid": gid, "users": [{**member, "priority": 11}]}, expect=502
    )
    await api(
        client, "/group/bind", {"gid": gid, "users": [{**member, "canSpeak": "yes"}]}, expect=502
    )

    await api(client, "/device/bind", {"id": 860005, "account": "tricky", "state": "1"})
    assert sandbox.data.devices[860005].account == "tricky"
    await api(client, "/device/bind", {"id": "860005", "state": 2})
    assert sandbox.data.devices[860005].state == 2 and sandbox.data.devices[860005].account is None
    await api(client, "/device/bind", {"id": 860005, "account": "nobody", "state": "1"}, expect=504)
    await api(client, "/device/bind", {"id": 860005, "state": "7"}, expect=502)
    await api(client, "/device/bind", {"id": 860005, "state": "1"}, expect=506)


async def test_accept_event_is_stored(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    body = {
        "from": {"id": "1", "name": "指挥中心"},
        "to": {"orgIds": ["266"], "userIds": [10004]},
        "title": "通知",
        "content": "今晚有雨",
        "accessory": [{"name": "a.png", "url": "http://x/a.png"}],
    }
    await api(client, "/accept/event", body)
    notice = sandbox.data.notices[-1]
    assert notice.org_ids == [266] and notice.user_ids == [10004]
    assert notice.body["title"] == "通知" and notice.received_ms == NOW_MS
    await api(client, "/accept/event", {**body, "to": {"orgIds": [1]}}, expect=509)
    await api(client, "/accept/event", {**body, "to": {"userIds": [1]}}, expect=517)
    await api(client, "/accept/event", {**body, "to": {}}, expect=506)
    await api(client, "/accept/event", {**body, "title": None}, expect=506)
    await api(client, "/accept/event", {**body, "accessory": "a.png"}, expect=502)
    assert len(sandbox.data.notices) == 1


# ---- attendance: 2.16, 2.17 ----------------------------------------------------------------


async def test_punch_card_records(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    week = {"startTime": NOW_MS - 7 * 86_400_000, "endTime": NOW_MS, "timeZone": 8}
    env = await api(
        client, "/punchCard/record", {**week, "page": {"size": 1000, "current": 1}}, expect=None
    )
    assert env["enMessage"] == "success"
    data = env["data"]
    records = data["records"]
    assert data["total"] == len(records) and data["pages"] == 1
    assert {r["state"] for r in records} == {0, 1, 2}
    assert all(
        r["scheduleId"] is None and r["scope"] is None and r["address"] is None for r in records
    )
    late = [
        r
        for r in records
        if r["state"] == 0
        and r["failure"] is not None
        and datetime.fromisoformat(r["signInTime"])
        > datetime.strptime(r["shouldTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ)
        + timedelta(minutes=r["failure"])
    ]
    assert late
    today = {r["userId"] for r in records if r["signInTime"].startswith("2026-11-28")}
    assert len(today) < len(sandbox.data.users)  # someone is missing
    assert all(
        datetime.fromisoformat(r["signInTime"]).timestamp() * 1000 <= NOW_MS for r in records
    )

    pages = await api(client, "/punchCard/record", {**week, "page": {"size": 7, "current": 2}})
    assert pages["records"] == records[7:14] and pages["pages"] == -(-len(records) // 7)

    in_266 = await api(
        client, "/punchCard/record", {**week, "oid": 266, "page": {"size": 1000, "current": 1}}
    )
    assert 0 < in_266["total"] < data["total"]
    assert {r["oid"] for r in in_266["records"]} <= {"266", "268"}

    sandbox.quirks.null_fields = False
    full = await api(client, "/punchCard/record", {**week, "page": {"size": 5, "current": 1}})
    assert all(r["scheduleId"] is not None and r["address"] for r in full["records"])

    await api(client, "/punchCard/record", {**week, "oid": 1, "page": PAGE}, expect=509)
    await api(client, "/punchCard/record", {"startTime": 0, "endTime": 1, "page": PAGE}, expect=506)
    await api(client, "/punchCard/record", {**week, "page": {"size": -1, "current": 1}}, expect=502)


async def test_sign_in_records(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    body = {
        "startTime": "2026-11-28",
        "endTime": "2026-11-28",
        "timeZone": 8,
        "page": {"size": 500, "current": 1},
    }
    data = await api(client, "/signIn/record", body)
    assert isinstance(data, list) and len(data) == 1  # the documented wrapping
    page = data[0]
    assert page["total"] == len(page["records"]) > 0
    r = page["records"][0]
    lon, lat = (float(x) for x in r["location"].split(","))
    assert 119.7 < lon < 120.6 and 29.9 < lat < 30.7
    assert all(x.startswith(sandbox.url + "/media/photo/") for x in r["image"].split(",") if x)
    assert all(
        datetime.fromisoformat(x["signTime"]).astimezone(TZ).date() == date(2026, 11, 28)
        for x in page["records"]
    )

    sandbox.quirks.signin_in_list = False
    two_days = await api(client, "/signIn/record", {**body, "startTime": "2026-11-27"})
    assert isinstance(two_days, dict) and two_days["total"] > page["total"]
    in_270 = await api(client, "/signIn/record", {**body, "oid": "270"})
    assert {x["myOrg"] for x in in_270["records"]} <= {"270"}
    await api(client, "/signIn/record", {**body, "startTime": "28/11/2026"}, expect=502)
    await api(client, "/signIn/record", {**body, "timeZone": None}, expect=506)


# ---- faults --------------------------------------------------------------------------------


async def test_fault_status_and_times(sandbox: SandboxPlatform, client: httpx.AsyncClient) -> None:
    sandbox.fail_next("/orgUser/tree", "status", status=501, times=2)
    assert (await api(client, "/orgUser/tree", expect=None))["message"] == "未登录"
    await api(client, "/orgUser/tree", expect=501)
    await api(client, "/orgUser/tree")
    sandbox.fail_next("tree", "status", status=599, message="奇怪的错误")
    env = await api(client, "/orgUser/tree", expect=599)
    assert env is None


@pytest.mark.parametrize(
    ("kind", "http_status", "content_type"),
    [
        ("http500", 500, "application/json"),
        ("http502", 502, "text/html"),
        ("html", 200, "text/html"),
        ("notjson", 200, "text/plain"),
    ],
)
async def test_fault_http_kinds(
    sandbox: SandboxPlatform,
    client: httpx.AsyncClient,
    kind: str,
    http_status: int,
    content_type: str,
) -> None:
    sandbox.fail_next("/pttUser/isOnline", kind)
    r = await client.post("/pttUser/isOnline", json={"gid": 1001, "uids": [10001]})
    assert r.status_code == http_status
    assert r.headers["content-type"].startswith(content_type)
    if kind == "http502":
        assert "Bad Gateway" in r.text
    if kind in ("html", "notjson"):
        with pytest.raises(ValueError):
            r.json()
    await api(client, "/pttUser/isOnline", {"gid": 1001, "uids": [10001]})


async def test_fault_truncated_disconnect_delay(
    sandbox: SandboxPlatform, client: httpx.AsyncClient
) -> None:
    sandbox.fail_next("/orgUser/tree", "truncated")
    r = await client.post("/orgUser/tree")
    assert r.status_code == 200 and r.text.startswith('{"status":200')
    with pytest.raises(ValueError):
        r.json()

    sandbox.fail_next("/orgUser/tree", "disconnect")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/orgUser/tree")

    sandbox.fail_next("/orgUser/tree", "delay", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/orgUser/tree", timeout=0.1)
    await api(client, "/orgUser/tree")
    assert len(sandbox.requests_to("/orgUser/tree")) == 4

    with pytest.raises(ValueError):
        sandbox.fail_next("/x", "explode")


# ---- determinism, large mode, callbacks, serve_forever -------------------------------------


def snapshot(d: SandboxData) -> Any:
    users = [
        (u.id, u.account, u.name, u.org_id, list(u.groups), u.current_group, u.online, u.fix)
        for u in d.users.values()
    ]
    return (
        users,
        [(o.id, o.name, o.parent_id) for o in d.orgs.values()],
        [(g.id, g.name, g.org_id) for g in d.groups.values()],
        d.track(10020, TODAY_MS, NOW_MS),
        d.recordings(10020, None),
        d.punch_records(TODAY_MS - 86_400_000, NOW_MS),
        d.signins(date(2026, 11, 27), date(2026, 11, 28)),
    )


def test_same_seed_same_data() -> None:
    a = SandboxData(seed=7, now=lambda: NOW)
    b = SandboxData(seed=7, now=lambda: NOW)
    c = SandboxData(seed=8, now=lambda: NOW)
    assert snapshot(a) == snapshot(b)
    assert snapshot(a) != snapshot(c)
    # the fixed users do not depend on the seed
    assert [(u.id, u.name, u.account) for u in list(c.users.values())[: len(FIXED_USERS)]] == [
        (f.id, f.name, f.account) for f in FIXED_USERS
    ]
    assert len({u.account for u in a.users.values()}) == len(a.users)
    online = sum(u.online for u in a.users.values())
    assert 0.4 < online / len(a.users) < 0.8


async def test_large_mode_serves_50000_users() -> None:
    sb = SandboxPlatform(users=50000, groups=2000)
    assert len(sb.data.orgs) >= 100 and len(sb.data.groups) == 2000
    await sb.start()
    try:
        async with httpx.AsyncClient(
            base_url=sb.url + "/wapi", headers={"token": sb.token}, timeout=30
        ) as c:
            roots = await api(c, "/orgUser/tree")
    finally:
        await sb.stop()
    count = 0
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node["type"] == 1:
            count += 1
        else:
            stack.extend(node.get("children", []))
    assert count == 50000


async def test_post_callback_and_make_report(sandbox: SandboxPlatform) -> None:
    received: list[tuple[str, str | None, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        received.append((request.path, request.headers.get("token"), await request.json()))
        return web.json_response({"status": 200, "message": "ok", "data": None})

    app = web.Application()
    app.router.add_post("/platform/events/{event}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bridge = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        status, answer = await sandbox.post_callback(bridge, "report")
        assert status == 200 and answer == {"status": 200, "message": "ok", "data": None}
        status, _ = await sandbox.post_callback(
            bridge + "/platform/events/user-deleted", "user-deleted", {"id": [10003]}, token="other"
        )
        assert status == 200
        await sandbox.post_callback(bridge, "org-updated")
    finally:
        await runner.cleanup()
    path, token, report = received[0]
    assert path == "/platform/events/report" and token == sandbox.token
    assert {"id", "code", "type", "level", "to", "from", "content"} <= set(report)
    assert isinstance(report["id"], int) and isinstance(report["to"]["id"], str)
    assert isinstance(report["from"]["id"], int) and report["from"]["account"]
    assert received[1] == ("/platform/events/user-deleted", "other", {"id": [10003]})
    assert received[2][0] == "/platform/events/org-updated"
    assert received[2][2]["id"][0] in sandbox.data.orgs

    nxt = sandbox.make_report(level="重大")
    assert nxt["id"] == report["id"] + 1 and nxt["level"] == "重大"
    with pytest.raises(ValueError):
        await sandbox.post_callback(bridge, "nope")


async def test_serve_forever_prints_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    task = asyncio.create_task(serve_forever("127.0.0.1", 0, 10, 3, 1))
    for _ in range(200):  # the line is printed once the server listens
        out = capsys.readouterr().out
        if out:
            break
        await asyncio.sleep(0.01)
    assert "sandbox platform: http://127.0.0.1:" in out and "token: sandbox-token" in out
    url = out.split()[2]
    async with httpx.AsyncClient() as c:
        r = await c.post(url + "/wapi/orgUser/tree", headers={"token": "sandbox-token"})
        assert r.json()["status"] == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
