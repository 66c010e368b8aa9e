"""The platform client over real HTTP against the sandbox platform on 127.0.0.1.

Every endpoint 2.1–2.17 (what is sent, what comes back), every quirk switched on
and off, every status code, bad answers, timeouts, retry bounds, auth and re-login.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError

from bot.config import PlatformSettings
from bot.config import Settings as AllSettings
from bot.platform import (
    DeviceState,
    GroupBinding,
    PlatformAuthError,
    PlatformBadResponseError,
    PlatformClient,
    PlatformConflictError,
    PlatformError,
    PlatformForbiddenError,
    PlatformNotFoundError,
    PlatformRequestError,
    PlatformTimeoutError,
    PlatformUnknownError,
    PlatformUnreachableError,
)
from bot.platform.errors import known_codes
from bot.platform.models import (
    CreatedGroup,
    Fix,
    Notice,
    Org,
    Page,
    PunchRecord,
    RecordingPage,
    SignInRecord,
    TrackPoint,
    TreeNode,
    UserInfo,
)
from bot.platform.times import to_ms
from bot.sandbox.data import TZ, Membership, local_day_start_ms
from bot.sandbox.platform import Quirks, RecordedRequest, SandboxPlatform


class FakeSleep(Protocol):
    delays: list[float]


MakeClient = Callable[..., Awaitable[PlatformClient]]
Factory = Callable[..., Awaitable[SandboxPlatform]]
MakeSettings = Callable[..., PlatformSettings]

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=TZ)  # the sandbox's clock (conftest)
TODAY = NOW.date()


def only(sandbox: SandboxPlatform, suffix: str) -> RecordedRequest:
    """The one request the sandbox received at `suffix`."""
    reqs = sandbox.requests_to(suffix)
    assert len(reqs) == 1, [r.path for r in sandbox.requests]
    return reqs[0]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def ints(values: list[Any]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


# ---- every endpoint, 2.1–2.17 ------------------------------------------------------------


async def test_2_1_org_tree(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    tree = await client.org_tree()
    assert isinstance(tree, TreeNode) and tree.id == 103 and not tree.is_group

    groups: dict[int, TreeNode] = {}
    orgs: set[int] = set()

    def visit(node: TreeNode) -> None:
        if node.is_group:
            groups[node.id] = node
        else:
            orgs.add(node.id)
        for child in node.children:
            visit(child)

    visit(tree)
    assert orgs == set(sandbox.data.orgs)
    assert set(groups) == set(sandbox.data.groups) == {1001, 1002, 1003, 1004, 1005, 1006}
    solo = groups[1006].users  # one member: the server sends a bare object
    assert [(u.uid, u.account, u.name, u.gid) for u in solo] == [(10006, "zhaoliu01", "赵六", 1006)]
    assert {10001, 10002} <= {u.uid for u in groups[1001].users}
    req = only(sandbox, "/organization/getOrganizationTree2")
    assert req.method == "GET" and req.path == "/wapi/organization/getOrganizationTree2"
    assert req.headers["token"] == sandbox.token


async def test_2_2_and_2_3_presence(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    uids = [10001, 10002, 10003, 10004]
    # 张珊 talks in 1001; 张三 is online but in 1002; 张山 is offline; 李四 online elsewhere
    assert await client.in_group_uids(1001, uids) == [10002]
    assert await client.online_uids(1001, uids) == [10001, 10002, 10004]
    for suffix in ("/group/cgt/inThisGroupUids", "/pttUser/isOnline"):
        req = only(sandbox, suffix)
        assert req.method == "POST"
        assert req.json == {"gid": 1001, "uids": uids}
        assert ints([req.json["gid"], *req.json["uids"]])  # numbers, as the table says


async def test_2_4_latest_fixes(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    fixes = await client.latest_fixes([10001, 10003, 10005, 424242])
    assert all(isinstance(f, Fix) for f in fixes)
    assert [f.uid for f in fixes] == [10001, 10003]  # no fix / unknown: left out
    for f in fixes:
        truth = sandbox.data.users[f.uid].fix
        assert truth is not None
        assert (f.lat, f.lon) == (pytest.approx(truth.lat), pytest.approx(truth.lon))
        assert f.time == datetime.fromtimestamp(truth.time_ms / 1000, TZ)
        assert (f.speed, f.altitude, f.bearing) == (truth.speed, truth.altitude, truth.bearing)
    assert [f.online for f in fixes] == [True, False]
    assert fixes[0].username == "张三"
    req = only(sandbox, "/location/getLatestCoords")
    assert req.json == {"uids": [10001, 10003, 10005, 424242]} and ints(req.json["uids"])


async def test_2_5_track(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    start, end = NOW - timedelta(hours=6), NOW
    tracks = await client.track([10001, 10002, 10005], start, end)
    assert set(tracks) == {10001, 10002}  # 10005 never reported a position
    for uid, points in tracks.items():
        truth = sandbox.data.track(uid, to_ms(start), to_ms(end))
        assert len(points) == len(truth) > 10
        assert all(isinstance(p, TrackPoint) and p.uid == uid for p in points)
        times = [p.time for p in points]
        assert None not in times and times == sorted(times)  # type: ignore[type-var]
        first = points[0]
        assert (first.lat, first.lon) == (pytest.approx(truth[0].lat), pytest.approx(truth[0].lon))
        assert first.time == datetime.fromtimestamp(truth[0].time_ms / 1000, TZ)
        assert first.position_type == truth[0].position_type
    req = only(sandbox, "/location/trackPlayback")
    assert req.json == {
        "uids": [10001, 10002, 10005],
        "startTimestamp": to_ms(start),
        "endTimestamp": to_ms(end),
    }
    assert ints([req.json["startTimestamp"], req.json["endTimestamp"]])


async def test_2_6_audio_records_is_a_get_with_a_json_body(
    sandbox: SandboxPlatform, make_client: MakeClient
) -> None:
    client = await make_client(sandbox)
    page = await client.audio_records(user_id=10001, day=TODAY, page=1, size=5)
    assert isinstance(page, RecordingPage)
    truth = sandbox.data.recordings(10001, TODAY)
    assert page.total == len(truth) > 0
    assert 0 < len(page.records) <= 5
    rec = page.records[0]
    assert rec.user_id == 10001 and rec.account == "zhangsan01"
    assert rec.file_url.startswith(sandbox.url + "/media/")
    assert rec.begin == datetime.fromtimestamp(truth[0].begin_ms / 1000, TZ)
    req = only(sandbox, "/ptt/audioRecord")
    assert req.method == "GET"
    assert req.json == {
        "userId": 10001,
        "date": local_day_start_ms(TODAY),
        "page": {"size": 5, "current": 1},
    }
    assert req.headers["content-type"] == "application/json"

    by_account = await client.audio_records(account="zhangsan01", day=TODAY, page=2, size=5)
    assert by_account.records and by_account.records[0] != rec
    assert sandbox.requests_to("/ptt/audioRecord")[1].json == {
        "account": "zhangsan01",
        "date": local_day_start_ms(TODAY),
        "page": {"size": 5, "current": 2},
    }


async def test_2_7_register_users(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    users = await client.register_users(["newbie01", "newbie02"], ["新人", "新手"], "abc123")
    assert [(u.account, u.name) for u in users] == [("newbie01", "新人"), ("newbie02", "新手")]
    for u in users:
        assert sandbox.data.users[u.id].account == u.account
        assert u.pinyin and u.state == 1 and u.my_org == 103
    req = only(sandbox, "/user/register")
    assert req.json == {
        "account": ["newbie01", "newbie02"],
        "name": ["新人", "新手"],
        "password": "abc123",
    }
    with pytest.raises(PlatformConflictError) as exc:  # 508 account exists
        await client.register_users(["newbie01"], ["又一个"], "abc123")
    assert exc.value.code == 508
    with pytest.raises(ValueError):
        await client.register_users(["a", "b"], ["only one"], "abc123")


async def test_2_8_delete_users(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    await client.delete_users([10040])
    assert 10040 not in sandbox.data.users
    assert only(sandbox, "/user/delete").json == {"pttIds": [10040]}
    with pytest.raises(PlatformNotFoundError) as exc:
        await client.delete_users([10040])
    assert exc.value.code == 517


async def test_2_9_create_group(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    group = await client.create_group("临时组", 266, [10001, 10002])
    assert isinstance(group, CreatedGroup) and group.id in sandbox.data.groups
    assert group.name == "临时组" and group.member_count == 2
    assert group.ctime == NOW
    assert only(sandbox, "/group/create").json == {
        "name": "临时组",
        "oid": 266,
        "uids": [10001, 10002],
    }
    bare = await client.create_group("空组", 267)
    assert bare.member_count == 0
    assert sandbox.requests_to("/group/create")[1].json == {"name": "空组", "oid": 267}
    with pytest.raises(PlatformNotFoundError) as exc:
        await client.create_group("x", 4242)
    assert exc.value.code == 509


async def test_2_10_bind_group(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    bindings = [
        GroupBinding(10003, priority=3, call_permission=True, can_speak=False),
        GroupBinding(10004),
    ]
    await client.bind_group(1001, bindings)
    assert sandbox.data.users[10003].groups[1001] == Membership(3, "Y", "N")
    assert sandbox.data.users[10004].groups[1001] == Membership(10, "Y", "Y")
    assert only(sandbox, "/group/bind").json == {
        "gid": 1001,
        "users": [
            {"id": 10003, "priority": 3, "callPermission": "Y", "canSpeak": "N"},
            {"id": 10004, "priority": 10, "callPermission": "Y", "canSpeak": "Y"},
        ],
    }
    with pytest.raises(PlatformNotFoundError) as exc:
        await client.bind_group(4242, bindings)
    assert exc.value.code == 514


async def test_2_11_bind_device(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    await client.bind_device("860005", DeviceState.ASSIGNED, "tricky")
    assert (sandbox.data.devices[860005].account, sandbox.data.devices[860005].state) == (
        "tricky",
        1,
    )
    await client.bind_device("860005", DeviceState.REPAIR)
    assert (sandbox.data.devices[860005].account, sandbox.data.devices[860005].state) == (None, 2)
    sent = [r.json for r in sandbox.requests_to("/device/bind")]
    assert sent == [
        {"id": "860005", "state": "1", "account": "tricky"},
        {"id": "860005", "state": "2"},
    ]


async def test_2_12_org_user_tree(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    roots = await client.org_user_tree()
    assert len(roots) == 1 and isinstance(roots[0], Org)
    root = roots[0]
    assert root.id == 103 and root.parent_id == 0  # "103" and "0" arrive as strings
    orgs = root.walk()
    assert {o.id for o in orgs} == set(sandbox.data.orgs)
    assert all(o.parent_id == sandbox.data.orgs[o.id].parent_id for o in orgs)
    users = {u.id: u for o in orgs for u in o.users}
    assert len(users) == len(sandbox.data.users) == 40
    assert users[10004].name == "李<b>&四" and users[10004].account == "tricky"
    assert users[10001].online and not users[10003].online
    assert users[10001].pinyin == "zs|zhangsan" and users[10001].role_name == "队长"
    req = only(sandbox, "/orgUser/tree")
    assert req.method == "POST" and req.body == b""


async def test_2_13_org_users_sends_id_as_query(
    sandbox: SandboxPlatform, make_client: MakeClient
) -> None:
    client = await make_client(sandbox)
    org = await client.org_users(266)
    assert org is not None and org.id == 266 and org.parent_id == 103 and org.orgs == []
    assert {10001, 10002} <= {u.id for u in org.users}
    assert org.user_count == len(org.users)
    req = only(sandbox, "/org/user")
    assert req.query == {"id": "266"} and req.body == b""
    with pytest.raises(PlatformNotFoundError) as exc:
        await client.org_users(4242)
    assert exc.value.code == 509


async def test_2_14_user_info_sends_id_as_query(
    sandbox: SandboxPlatform, make_client: MakeClient
) -> None:
    client = await make_client(sandbox)
    info = await client.user_info(10002)
    assert isinstance(info, UserInfo)
    assert (info.id, info.account, info.name, info.pinyin) == (
        10002,
        "zhangshan01",
        "张珊",
        "zs|zhangshan",
    )
    assert [g.id for g in info.groups] == [1002, 1001]
    assert info.groups[0].inner_priority == 5 and info.online
    assert await client.user_info(99) is None  # data: null is "no such user"
    assert [r.query for r in sandbox.requests_to("/user/info")] == [{"id": "10002"}, {"id": "99"}]
    assert all(r.body == b"" for r in sandbox.requests_to("/user/info"))


async def test_2_15_send_notice(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    notice = Notice.model_validate(
        {
            "from": {"id": "1", "name": "指挥中心"},
            "to": {"orgIds": ["266"], "userIds": [10004]},
            "title": "降雨预警",
            "content": "今晚有大雨，注意安全",
            "accessory": [{"name": "map.png", "url": "http://x/map.png"}],
        }
    )
    await client.send_notice(notice)
    stored = sandbox.data.notices[-1]
    assert stored.org_ids == [266] and stored.user_ids == [10004]
    assert only(sandbox, "/accept/event").json == {
        "from": {"id": 1, "name": "指挥中心"},
        "to": {"orgIds": [266], "userIds": [10004]},
        "title": "降雨预警",
        "content": "今晚有大雨，注意安全",
        "accessory": [{"name": "map.png", "url": "http://x/map.png"}],
    }
    to_users = Notice.model_validate(
        {"from": {"id": 1, "name": "x"}, "to": {"userIds": [10001]}, "title": "t", "content": "c"}
    )
    await client.send_notice(to_users)
    assert sandbox.requests_to("/accept/event")[1].json["to"] == {"userIds": [10001]}


async def test_2_16_punch_records(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    start = NOW - timedelta(days=2)
    page = await client.punch_records(start, NOW, org_id=266, page=1, size=7)
    assert isinstance(page, Page) and len(page.records) == 7
    assert page.total is not None and page.total > 7
    assert page.pages == math.ceil(page.total / 7)
    assert all(isinstance(r, PunchRecord) and r.oid in (266, 268) for r in page.records)
    req = only(sandbox, "/punchCard/record")
    assert req.json == {
        "startTime": to_ms(start),
        "endTime": to_ms(NOW),
        "timeZone": 8,
        "page": {"size": 7, "current": 1},
        "oid": 266,
    }
    assert ints([req.json["startTime"], req.json["endTime"], req.json["timeZone"]])

    everything = await client.all_pages(
        lambda n: client.punch_records(start, NOW, org_id=266, page=n, size=7)
    )
    assert len(everything) == page.total
    assert len(sandbox.requests_to("/punchCard/record")) == 1 + page.pages


async def test_2_17_signin_records(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    page = await client.signin_records(TODAY - timedelta(days=1), TODAY, page=1, size=500)
    assert isinstance(page, Page) and page.records
    assert page.total == len(page.records) and page.pages == 1
    rec = page.records[0]
    assert isinstance(rec, SignInRecord) and rec.user_id in sandbox.data.users
    assert rec.lat is not None and 29.9 < rec.lat < 30.7
    assert rec.lon is not None and 119.7 < rec.lon < 120.6
    assert all(url.startswith(sandbox.url + "/media/photo/") for url in rec.images)
    req = only(sandbox, "/signIn/record")
    assert req.json == {
        "startTime": "2026-11-27",
        "endTime": "2026-11-28",
        "timeZone": 8,
        "page": {"size": 500, "current": 1},
    }
    in_270 = await client.signin_records(TODAY, TODAY, org_id=270)
    assert {r.org_id for r in in_270.records} <= {270}
    assert sandbox.requests_to("/signIn/record")[1].json["oid"] == 270


# ---- quirks: each switched on and off parses to the same typed result -------------------


def comparable(value: Any) -> Any:
    """Models as plain data, times as whole epoch seconds (the formats differ in precision)."""
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if hasattr(value, "model_dump"):
        return (type(value).__name__, comparable(value.model_dump()))
    if isinstance(value, datetime):
        assert value.tzinfo is not None
        return math.floor(value.timestamp())
    return value


READS: dict[str, Callable[[PlatformClient], Awaitable[Any]]] = {
    "org_tree": lambda c: c.org_tree(),
    "in_group": lambda c: c.in_group_uids(1001, [10001, 10002, 10004]),
    "online": lambda c: c.online_uids(1001, [10001, 10002, 10003, 10004]),
    "fixes": lambda c: c.latest_fixes([10001, 10002, 10003, 10004, 10006, 10020]),
    "track": lambda c: c.track([10001, 10002, 10020], NOW - timedelta(hours=8), NOW),
    "audio": lambda c: c.audio_records(user_id=10001, day=TODAY),
    "org_user_tree": lambda c: c.org_user_tree(),
    "org_users": lambda c: c.org_users(266),
    "user_info": lambda c: c.user_info(10001),
    "punch": lambda c: c.punch_records(NOW - timedelta(days=1), NOW, size=20),
    "signin": lambda c: c.signin_records(TODAY - timedelta(days=1), TODAY, size=20),
}

QUIRKS: list[tuple[str, Any, list[str]]] = [
    ("ids_as_strings", True, list(READS)),
    ("tree_single_object", True, ["org_tree"]),
    ("track_shape", "list_of_maps", ["track"]),
    ("track_shape", "flat", ["track"]),
    ("track_time_unit", "s", ["track"]),
    ("coord_time_format", "iso", ["fixes"]),
    ("coord_time_format", "local", ["fixes"]),
    ("coord_time_format", "s", ["fixes"]),
    ("online_as_string", True, ["fixes"]),
    ("signin_in_list", True, ["signin"]),
]


@pytest.mark.parametrize(
    ("quirk", "value", "reads"), QUIRKS, ids=[f"{q}={v}" for q, v, _ in QUIRKS]
)
async def test_each_quirk_parses_to_the_same_result(
    sandbox: SandboxPlatform, make_client: MakeClient, quirk: str, value: Any, reads: list[str]
) -> None:
    client = await make_client(sandbox)
    sandbox.quirks = Quirks.none()
    plain = {name: await READS[name](client) for name in reads}
    setattr(sandbox.quirks, quirk, value)
    quirky = {name: await READS[name](client) for name in reads}
    for name in reads:
        assert plain[name] not in (None, [], {}), name  # the comparison means something
        assert comparable(quirky[name]) == comparable(plain[name]), name


async def test_all_quirks_at_once_parse_like_none(
    sandbox: SandboxPlatform, make_client: MakeClient
) -> None:
    client = await make_client(sandbox)
    worst = {name: comparable(await read(client)) for name, read in READS.items()}
    sandbox.quirks = Quirks.none()
    sandbox.quirks.null_fields = True  # changes the data itself: checked below
    best = {name: comparable(await read(client)) for name, read in READS.items()}
    assert worst == best


async def test_nested_single_objects_at_any_depth(
    sandbox_factory: Factory, make_client: MakeClient
) -> None:
    # A platform of one org with one sub-org holding one talk group of one member:
    # every `children` and `users` along the way is a bare object.
    sb = await sandbox_factory(users=1, groups=1, orgs=2)
    sb.data.groups[1001].org_id = 266
    client = await make_client(sb)
    raw = await client._call("GET", "/organization/getOrganizationTree2")
    assert isinstance(raw["children"], dict)
    assert isinstance(raw["children"]["children"], dict)
    assert isinstance(raw["children"]["children"]["users"], dict)
    tree = await client.org_tree()
    (sub,) = tree.children
    (group,) = sub.children
    assert (tree.id, sub.id, group.id, group.is_group) == (103, 266, 1001, True)
    assert [u.uid for u in group.users] == [10001]


async def test_fix_without_time(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    sandbox.quirks.coord_time_format = "absent"
    fixes = await client.latest_fixes([10001, 10003])
    assert [f.time for f in fixes] == [None, None]
    assert [f.uid for f in fixes] == [10001, 10003]


async def test_online_flag_as_numbers(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    for as_string in (True, False):
        sandbox.quirks.online_as_string = as_string
        fixes = await client.latest_fixes([10001, 10003])
        assert [f.online for f in fixes] == [True, False]


async def test_punch_records_with_null_fields(
    sandbox: SandboxPlatform, make_client: MakeClient
) -> None:
    client = await make_client(sandbox)
    nulls = await client.punch_records(NOW - timedelta(days=1), NOW, size=20)
    assert nulls.records and all(
        r.schedule_id is None and r.address is None and r.coordinate is None for r in nulls.records
    )
    assert all(r.user_id is not None and r.sign_in_time is not None for r in nulls.records)
    sandbox.quirks.null_fields = False
    full = await client.punch_records(NOW - timedelta(days=1), NOW, size=20)
    assert all(r.schedule_id is not None and r.address for r in full.records)
    assert [r.user_id for r in full.records] == [r.user_id for r in nulls.records]


async def test_audio_total_as_page_count(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    records = await client.audio_records(user_id=10001, day=TODAY, size=3)
    sandbox.quirks.audio_total_as_pages = True
    pages = await client.audio_records(user_id=10001, day=TODAY, size=3)
    assert records.records == pages.records
    assert records.total is not None and pages.total == math.ceil(records.total / 3)


async def test_recordings_appear_later(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    sandbox.quirks.recordings_delay_polls = 1
    first = await client.audio_records(user_id=10001, day=TODAY)
    assert first.records == [] and first.total == 0
    second = await client.audio_records(user_id=10001, day=TODAY)
    assert second.records


@pytest.mark.parametrize("unpadded", [True, False])
async def test_group_ctime_unpadded_or_not(
    sandbox_factory: Factory, make_client: MakeClient, unpadded: bool
) -> None:
    early = datetime(2026, 2, 5, 8, 3, 9, tzinfo=TZ)  # "2026-2-5 8:03:09" unpadded
    sb = await sandbox_factory(now=lambda: early)
    sb.quirks.unpadded_ctime = unpadded
    client = await make_client(sb)
    group = await client.create_group("早班组", 266)
    assert group.ctime == early


# ---- GCJ-02 ------------------------------------------------------------------------------


async def test_gcj02_fixes_and_tracks_come_back_in_wgs84(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    sandbox.quirks.coordinates = "gcj02"
    client = await make_client(sandbox, platform_settings(sandbox, coordinates="gcj02"))
    uids = [10001, 10002, 10003, 10004, 10006, *range(10007, 10041)]
    fixes = await client.latest_fixes(uids)
    assert len(fixes) > 20
    for f in fixes:
        truth = sandbox.data.users[f.uid].fix
        assert truth is not None
        assert haversine_m(f.lat, f.lon, truth.lat, truth.lon) < 5

    start = NOW - timedelta(hours=4)
    tracks = await client.track([10001, 10002], start, NOW)
    for uid, points in tracks.items():
        truth_points = sandbox.data.track(uid, to_ms(start), to_ms(NOW))
        assert len(points) == len(truth_points) > 0
        for p, t in zip(points, truth_points, strict=True):
            assert haversine_m(p.lat, p.lon, t.lat, t.lon) < 5

    # without conversion the same answer is hundreds of metres off
    raw = await make_client(sandbox)
    off = (await raw.latest_fixes([10001]))[0]
    truth = sandbox.data.users[10001].fix
    assert truth is not None
    assert haversine_m(off.lat, off.lon, truth.lat, truth.lon) > 100


async def test_wgs84_on_both_sides_is_unchanged(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    assert sandbox.quirks.coordinates == "wgs84"
    client = await make_client(sandbox, platform_settings(sandbox, coordinates="wgs84"))
    for f in await client.latest_fixes([10001, 10002, 10003]):
        truth = sandbox.data.users[f.uid].fix
        assert truth is not None
        assert (f.lat, f.lon) == (round(truth.lat, 8), round(truth.lon, 8))


# ---- status codes ------------------------------------------------------------------------

FAMILY: dict[type[PlatformError], set[int]] = {
    PlatformAuthError: {501, 504, 505},
    PlatformRequestError: {502, 503, 506, 510, 523, 524, 535, 538},
    PlatformForbiddenError: {507, 511, 536, 541, 545},
    PlatformConflictError: {508, 512, 513, 519, 521, 534, 537, 539, 542, 543},
    PlatformNotFoundError: {509, 514, 515, 516, 517, 518, 525, 546},
}
EXPECTED_CLASS = {code: klass for klass, codes in FAMILY.items() for code in codes}


def test_the_table_of_codes_is_covered() -> None:
    assert sorted(EXPECTED_CLASS) == known_codes()
    assert len(known_codes()) == 34  # section 四 of the original, 200 aside


@pytest.mark.parametrize("code", sorted(EXPECTED_CLASS))
async def test_every_status_code_is_a_typed_error(
    sandbox: SandboxPlatform, make_client: MakeClient, fake_sleep: FakeSleep, code: int
) -> None:
    client = await make_client(sandbox)
    sandbox.fail_next("/orgUser/tree", "status", status=code, message=f"服务器说 {code}")
    with pytest.raises(PlatformError) as caught:
        await client.org_user_tree()
    err = caught.value
    assert type(err) is EXPECTED_CLASS[code]
    assert err.code == code and err.message == f"服务器说 {code}"
    assert err.endpoint == "/orgUser/tree"
    zh, en = err.explain("zh"), err.explain("en")
    assert zh and en and zh != en
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)
    assert str(code) in str(err) and f"服务器说 {code}" in str(err) and en in str(err)
    assert len(sandbox.requests_to("/orgUser/tree")) == 1  # an answer, not a failure: no retry
    assert fake_sleep.delays == []


async def test_unknown_status_code(sandbox: SandboxPlatform, make_client: MakeClient) -> None:
    client = await make_client(sandbox)
    sandbox.fail_next("/user/info", "status", status=599, message="奇怪的错误")
    with pytest.raises(PlatformUnknownError) as caught:
        await client.user_info(10001)
    err = caught.value
    assert err.code == 599 and err.message == "奇怪的错误"
    assert "599" in err.explain("en") and "599" in err.explain("zh")
    assert "599" in str(err) and "奇怪的错误" in str(err)


# ---- bad answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("html", "HTML page"),
        ("http502", "HTTP 502"),
        ("http500", "HTTP 500"),
        ("notjson", "non-JSON"),
        ("truncated", "truncated"),
    ],
)
@pytest.mark.parametrize("read_attempts", [1, 3])
async def test_bad_answers_are_clear_errors(
    sandbox: SandboxPlatform,
    make_client: MakeClient,
    kind: str,
    words: str,
    read_attempts: int,
) -> None:
    client = await make_client(sandbox, read_attempts=read_attempts)
    sandbox.fail_next("/orgUser/tree", kind, times=3)
    with pytest.raises(PlatformBadResponseError) as caught:
        await client.org_user_tree()
    err = caught.value
    assert words in str(err) and err.endpoint == "/orgUser/tree"
    assert err.explain("zh") and err.explain("en")
    retried = kind in ("http500", "http502")
    assert len(sandbox.requests_to("/orgUser/tree")) == (read_attempts if retried else 1)


async def test_wrong_prefix_names_the_base_url(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    # A URL with a path is the prefix: /nope/orgUser/tree is a Spring-style JSON 404.
    client = await make_client(sandbox, platform_settings(sandbox, base_url=sandbox.url + "/nope"))
    with pytest.raises(PlatformBadResponseError) as caught:
        await client.org_user_tree()
    assert "HTTP 404" in str(caught.value) and "PLATFORM_BASE_URL" in str(caught.value)
    assert sandbox.requests[0].path == "/nope/orgUser/tree"


async def test_unreachable_platform(
    sandbox_factory: Factory,
    make_client: MakeClient,
    platform_settings: MakeSettings,
    fake_sleep: FakeSleep,
) -> None:
    gone = await sandbox_factory()
    settings = platform_settings(gone)
    await gone.stop()  # nothing listens on that port any more
    client = await make_client(gone, settings, read_attempts=3, backoff_s=0.5)
    with pytest.raises(PlatformUnreachableError) as caught:
        await client.org_user_tree()
    assert caught.value.explain("en") == "could not be reached"
    assert fake_sleep.delays == [0.5, 1.0]


# ---- timeouts and retries ---------------------------------------------------------------


async def test_timeout_then_bounded_retries(
    sandbox: SandboxPlatform,
    make_client: MakeClient,
    platform_settings: MakeSettings,
    fake_sleep: FakeSleep,
) -> None:
    settings = platform_settings(sandbox, timeout_s=0.2)
    client = await make_client(sandbox, settings, read_attempts=2, backoff_s=0.1)
    sandbox.fail_next("/user/info", "delay", delay=30, times=2)
    with pytest.raises(PlatformTimeoutError) as caught:
        await client.user_info(10001)
    assert caught.value.seconds == 0.2
    assert "0.2" in caught.value.explain("en") and "0.2" in caught.value.explain("zh")
    assert len(sandbox.requests_to("/user/info")) == 2
    assert fake_sleep.delays == [0.1]


async def test_a_slow_answer_is_retried(
    sandbox: SandboxPlatform,
    make_client: MakeClient,
    platform_settings: MakeSettings,
    fake_sleep: FakeSleep,
) -> None:
    settings = platform_settings(sandbox, timeout_s=0.2)
    client = await make_client(sandbox, settings, read_attempts=3, backoff_s=0.1)
    sandbox.fail_next("/user/info", "delay", delay=30)
    info = await client.user_info(10001)
    assert info is not None and info.id == 10001
    assert len(sandbox.requests_to("/user/info")) == 2 and fake_sleep.delays == [0.1]


@pytest.mark.parametrize("kind", ["http500", "http502", "disconnect"])
async def test_reads_retry_5xx_and_disconnects_then_succeed(
    sandbox: SandboxPlatform, make_client: MakeClient, fake_sleep: FakeSleep, kind: str
) -> None:
    client = await make_client(sandbox, read_attempts=3, backoff_s=0.1)
    sandbox.fail_next("/punchCard/record", kind, times=2)  # a POST that only reads
    page = await client.punch_records(NOW - timedelta(days=1), NOW)
    assert page.records
    assert len(sandbox.requests_to("/punchCard/record")) == 3
    assert fake_sleep.delays == [0.1, 0.2]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("http500", PlatformBadResponseError),
        ("http502", PlatformBadResponseError),
        ("disconnect", PlatformUnreachableError),
    ],
)
async def test_read_retries_are_bounded(
    sandbox: SandboxPlatform,
    make_client: MakeClient,
    fake_sleep: FakeSleep,
    kind: str,
    error: type[PlatformError],
) -> None:
    client = await make_client(sandbox, read_attempts=6, backoff_s=1.5)
    sandbox.fail_next("/ptt/audioRecord", kind, times=10)
    with pytest.raises(error):
        await client.audio_records(user_id=10001)
    assert len(sandbox.requests_to("/ptt/audioRecord")) == 6
    assert fake_sleep.delays == [1.5, 3.0, 5.0, 5.0, 5.0]  # doubling, capped at 5 s


WRITES: dict[str, Callable[[PlatformClient], Awaitable[Any]]] = {
    "/user/register": lambda c: c.register_users(["w01"], ["写"], "abc123"),
    "/user/delete": lambda c: c.delete_users([10040]),
    "/group/create": lambda c: c.create_group("写组", 266),
    "/group/bind": lambda c: c.bind_group(1001, [GroupBinding(10003)]),
    "/device/bind": lambda c: c.bind_device("860001", DeviceState.IDLE),
    "/accept/event": lambda c: c.send_notice(
        Notice.model_validate(
            {"from": {"id": 1, "name": "x"}, "to": {"orgIds": [266]}, "title": "t", "content": "c"}
        )
    ),
}


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("http500", PlatformBadResponseError),
        ("http502", PlatformBadResponseError),
        ("disconnect", PlatformUnreachableError),
    ],
)
@pytest.mark.parametrize("path", list(WRITES))
async def test_writes_are_never_retried(
    sandbox: SandboxPlatform,
    make_client: MakeClient,
    fake_sleep: FakeSleep,
    path: str,
    kind: str,
    error: type[PlatformError],
) -> None:
    client = await make_client(sandbox, read_attempts=5)
    sandbox.fail_next(path, kind, times=5)
    with pytest.raises(error):
        await WRITES[path](client)
    assert len(sandbox.requests_to(path)) == 1
    assert fake_sleep.delays == []


async def test_a_write_that_times_out_is_not_repeated(
    sandbox: SandboxPlatform,
    make_client: MakeClient,
    platform_settings: MakeSettings,
    fake_sleep: FakeSleep,
) -> None:
    client = await make_client(sandbox, platform_settings(sandbox, timeout_s=0.2), read_attempts=5)
    sandbox.fail_next("/group/create", "delay", delay=30)
    with pytest.raises(PlatformTimeoutError):
        await client.create_group("慢组", 266)
    assert len(sandbox.requests_to("/group/create")) == 1 and fake_sleep.delays == []


async def test_observer_sees_every_attempt(
    sandbox: SandboxPlatform, make_client: MakeClient
) -> None:
    seen: list[tuple[str, str]] = []
    client = await make_client(
        sandbox, read_attempts=3, observer=lambda ep, s, outcome: seen.append((ep, outcome))
    )
    sandbox.fail_next("/user/info", "http500")
    await client.user_info(10001)
    sandbox.fail_next("/user/info", "status", status=517)
    with pytest.raises(PlatformNotFoundError):
        await client.user_info(10001)
    assert seen == [
        ("/user/info", "http500"),
        ("/user/info", "ok"),
        ("/user/info", "status517"),
    ]


# ---- auth ------------------------------------------------------------------------------


def login_settings(
    platform_settings: MakeSettings, sandbox: SandboxPlatform, **kw: Any
) -> PlatformSettings:
    values: dict[str, Any] = {
        "token": None,
        "account": sandbox.account,
        "password": sandbox.password,
    }
    values.update(kw)
    return platform_settings(sandbox, **values)


async def test_fixed_token_in_the_token_header(
    sandbox: SandboxPlatform, make_client: MakeClient
) -> None:
    client = await make_client(sandbox)
    await client.user_info(10001)
    await client.online_uids(1001, [10001])
    assert all(r.headers["token"] == sandbox.token for r in sandbox.requests)
    assert sandbox.login_count == 0 and client.login_count == 0


async def test_a_rejected_fixed_token_is_an_auth_error(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, platform_settings(sandbox, token="wrong-token"))
    with pytest.raises(PlatformAuthError) as caught:
        await client.user_info(10001)
    assert caught.value.code == 501 and caught.value.message == "未登录"
    assert len(sandbox.requests) == 1 and sandbox.login_count == 0  # nothing to log in with


async def test_login_at_first_use(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, login_settings(platform_settings, sandbox))
    assert sandbox.requests == []  # nothing happens before the first call
    await client.user_info(10001)
    await client.user_info(10002)
    login, first, second = sandbox.requests
    assert login.method == "POST" and login.path == "/wapi/auth/open/login"
    assert login.json == {"loginName": "dispatcher", "password": "sandbox-pass"}
    assert "token" not in login.headers
    issued = first.headers["token"]
    assert issued and issued != sandbox.token and second.headers["token"] == issued
    assert sandbox.login_count == client.login_count == 1


async def test_relogin_after_501_repeats_the_call_once(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, login_settings(platform_settings, sandbox))
    await client.org_users(266)
    sandbox.expire_tokens()
    org = await client.org_users(266)
    assert org is not None and org.id == 266
    assert sandbox.login_count == client.login_count == 2
    calls = sandbox.requests_to("/org/user")
    assert len(calls) == 3 and calls[1].headers["token"] != calls[2].headers["token"]


async def test_a_write_is_repeated_after_501_because_it_did_not_happen(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, login_settings(platform_settings, sandbox))
    await client.user_info(10001)
    sandbox.expire_tokens()
    group = await client.create_group("重登组", 266)
    assert group.name == "重登组"
    assert len(sandbox.requests_to("/group/create")) == 2
    assert sum(g.name == "重登组" for g in sandbox.data.groups.values()) == 1


async def test_fixed_token_with_login_fallback(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    settings = platform_settings(sandbox, account=sandbox.account, password=sandbox.password)
    client = await make_client(sandbox, settings)
    await client.user_info(10001)
    assert sandbox.login_count == 0  # the fixed token works: no login
    sandbox.expire_tokens()
    await client.user_info(10001)
    assert sandbox.login_count == 1


async def test_501_twice_gives_up_after_one_relogin(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, login_settings(platform_settings, sandbox))
    sandbox.fail_next("/user/info", "status", status=501, times=5)
    with pytest.raises(PlatformAuthError) as caught:
        await client.user_info(10001)
    assert caught.value.code == 501
    assert len(sandbox.requests_to("/user/info")) == 2
    assert sandbox.login_count == 2  # at first use, then once for the 501


async def test_twenty_concurrent_501s_cause_one_login(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, login_settings(platform_settings, sandbox))
    await client.user_info(10001)
    old_token = sandbox.requests[-1].headers["token"]
    sandbox.expire_tokens()
    sandbox.requests.clear()
    uids = list(range(10001, 10021))
    infos = await asyncio.gather(*(client.user_info(uid) for uid in uids))
    assert [i.id for i in infos if i is not None] == uids
    assert sandbox.login_count == client.login_count == 2
    calls = sandbox.requests_to("/user/info")
    assert len(calls) == 40
    assert sum(r.headers["token"] == old_token for r in calls) == 20  # all 20 hit 501
    assert len(sandbox.requests_to("/auth/open/login")) == 1


async def test_twenty_concurrent_first_calls_cause_one_login(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, login_settings(platform_settings, sandbox))
    await asyncio.gather(*(client.user_info(10001) for _ in range(20)))
    assert sandbox.login_count == client.login_count == 1


async def test_concurrent_501s_with_a_failing_login_try_it_once(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, login_settings(platform_settings, sandbox))
    await client.user_info(10001)
    sandbox.expire_tokens()
    sandbox.password = "changed-by-the-operator"
    results = await asyncio.gather(
        *(client.user_info(10001) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, PlatformAuthError) and r.code == 505 for r in results)
    assert len(sandbox.requests_to("/auth/open/login")) == 2  # first use + one for all 20
    sandbox.password = "sandbox-pass"  # fixed: the next call logs in again
    assert await client.user_info(10001) is not None
    assert sandbox.login_count == 2


@pytest.mark.parametrize(
    ("account", "password", "code"),
    [("dispatcher", "wrong-password", 505), ("nobody", "sandbox-pass", 504)],
)
async def test_failed_login(
    sandbox: SandboxPlatform,
    make_client: MakeClient,
    platform_settings: MakeSettings,
    account: str,
    password: str,
    code: int,
) -> None:
    settings = login_settings(platform_settings, sandbox, account=account, password=password)
    client = await make_client(sandbox, settings)
    with pytest.raises(PlatformAuthError) as caught:
        await client.user_info(10001)
    assert caught.value.code == code
    assert caught.value.explain("zh") and caught.value.explain("en")
    assert password not in str(caught.value)
    assert sandbox.requests_to("/user/info") == []  # never called without a token


async def test_login_without_a_token_in_the_answer(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    client = await make_client(sandbox, login_settings(platform_settings, sandbox))
    sandbox.fail_next("/auth/open/login", "status", status=200)  # data: null
    with pytest.raises(PlatformBadResponseError) as caught:
        await client.user_info(10001)
    assert "data.token" in str(caught.value)


async def test_custom_token_header(
    sandbox_factory: Factory, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    sb = await sandbox_factory(token_header="pc-access-token")
    client = await make_client(sb, platform_settings(sb, token_header="pc-access-token"))
    assert (await client.user_info(10001)) is not None
    req = only(sb, "/user/info")
    assert req.headers["pc-access-token"] == sb.token and "token" not in req.headers

    default = await make_client(sb)  # the default header name is refused by this server
    with pytest.raises(PlatformAuthError):
        await default.user_info(10001)


async def test_base_url_with_a_path_is_the_prefix(
    sandbox_factory: Factory, make_client: MakeClient, platform_settings: MakeSettings
) -> None:
    sb = await sandbox_factory(prefix="/gis/api", token_header="pc-access-token")
    settings = platform_settings(
        sb,
        base_url=sb.url + "/gis/api",
        token=None,
        account=sb.account,
        password=sb.password,
        login_path="/gis/api/auth/open/login",  # relative to the host, not the prefix
        token_header="pc-access-token",
    )
    client = await make_client(sb, settings)
    assert (await client.org_users(266)) is not None
    login, call = sb.requests
    assert login.path == "/gis/api/auth/open/login"
    assert call.path == "/gis/api/org/user" and call.headers["pc-access-token"]


@pytest.mark.parametrize("suffix", ["", "/"])
async def test_base_url_without_a_path_means_wapi(
    sandbox: SandboxPlatform, make_client: MakeClient, platform_settings: MakeSettings, suffix: str
) -> None:
    client = await make_client(sandbox, platform_settings(sandbox, base_url=sandbox.url + suffix))
    await client.user_info(10001)
    assert sandbox.requests[0].path == "/wapi/user/info"


async def test_client_requires_a_base_url() -> None:
    settings = AllSettings.load(None).platform
    with pytest.raises(ValueError, match="PLATFORM_BASE_URL"):
        PlatformClient(settings, TZ)


@pytest.mark.parametrize(("zone", "hours"), [("Asia/Shanghai", 8), ("UTC", 0)])
async def test_time_zone_is_sent_as_whole_hours(
    sandbox: SandboxPlatform, platform_settings: MakeSettings, zone: str, hours: int
) -> None:
    client = PlatformClient(platform_settings(sandbox), ZoneInfo(zone))
    try:
        await client.signin_records(TODAY, TODAY)
        await client.punch_records(NOW - timedelta(hours=1), NOW)
    finally:
        await client.aclose()
    for req in sandbox.requests:
        assert req.json["timeZone"] == hours and type(req.json["timeZone"]) is int


async def test_a_half_hour_zone_keeps_its_fraction(platform_settings: MakeSettings) -> None:
    settings = AllSettings.load(None, platform={"base_url": "http://127.0.0.1:9"}).platform
    client = PlatformClient(settings, ZoneInfo("Asia/Kolkata"))
    try:
        assert client._tz_hours() == 5.5
    finally:
        await client.aclose()


# ---- answers the sandbox does not produce (an in-memory transport) -----------------------


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> PlatformClient:
    values: dict[str, Any] = {"base_url": "http://platform.test", "token": "t"}
    values.update(kw)
    settings = AllSettings.load(None, platform=values).platform
    return PlatformClient(settings, TZ, transport=httpx.MockTransport(handler))


async def test_a_body_that_does_not_match_its_encoding() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip")

    client = mock_client(handler)
    try:
        with pytest.raises(PlatformBadResponseError, match="DecodingError"):
            await client.user_info(1)
    finally:
        await client.aclose()


@pytest.mark.parametrize("token", ["令牌", "a b", "line\nbreak", "", 42])
async def test_a_login_token_unfit_for_a_header_is_refused(token: Any) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json={"status": 200, "message": "ok", "data": {"token": token}})

    client = mock_client(handler, token=None, account="a", password="p")
    try:
        with pytest.raises(PlatformBadResponseError, match=r"data\.token"):
            await client.user_info(1)
    finally:
        await client.aclose()
    assert calls == ["/wapi/auth/open/login"]


async def test_one_fix_without_coordinates_does_not_hide_the_others(
    sandbox: SandboxPlatform, make_client: Any
) -> None:
    client = await make_client(sandbox)
    sandbox.fail_next(
        "/getLatestCoords",
        "body",
        body={
            "status": 200,
            "message": "ok",
            "data": [
                {"id": 1, "x": None, "y": None, "isOnLine": "2"},
                {"id": 2, "x": 30.1, "y": 120.2, "isOnLine": None},
            ],
        },
    )
    fixes = await client.latest_fixes([1, 2])
    assert [(f.uid, f.lat, f.lon) for f in fixes] == [(2, 30.1, 120.2)]


def test_shapes_no_quirk_sends_are_read_or_refused_by_name() -> None:
    """What the platform may send and no sandbox quirk does: a sign-in without images
    (the key missing or null), an org whose children are neither a list nor an object, a
    notice addressed to nobody."""
    assert SignInRecord.model_validate({"id": 1}).images == []
    assert SignInRecord.model_validate({"id": 1, "image": None}).images == []
    with pytest.raises(ValidationError, match="children is neither a list nor an object"):
        Org.model_validate({"id": 1, "name": "x", "children": "x"})
    nobody = {"from": {"id": 1, "name": "a"}, "to": {}, "title": "t", "content": "c"}
    with pytest.raises(ValidationError, match="name at least one of orgIds or userIds"):
        Notice.model_validate(nobody)


async def test_2_4_one_unusable_fix_hides_no_other(
    sandbox: SandboxPlatform, make_client: MakeClient
) -> None:
    client = await make_client(sandbox)
    fix = sandbox.data.users[10003].fix
    assert fix is not None
    sandbox.data.users[10003].fix = dataclasses.replace(fix, lat=float("nan"))
    fixes = await client.latest_fixes([10001, 10003])
    assert [f.uid for f in fixes] == [10001]  # 10003's fix refused, 10001's kept
