"""Parsers of the platform's answers: times, GCJ-02, models, and arbitrary JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from bot.platform import PlatformBadResponseError, PlatformClient, PlatformError
from bot.platform.client import (
    _FIXES,
    _GROUP,
    _ORG,
    _ORGS,
    _PUNCH,
    _REC_PAGE,
    _REGISTERED,
    _SIGNIN,
    _TREE,
    _USER,
)
from bot.platform.coords import gcj02_to_wgs84, outside_china, wgs84_to_gcj02
from bot.platform.errors import (
    PlatformAuthError,
    PlatformTimeoutError,
    PlatformUnknownError,
    PlatformUnreachableError,
    error_for,
    known_codes,
)
from bot.platform.models import (
    Fix,
    Notice,
    Org,
    Page,
    SignInRecord,
    TrackPoint,
    TreeNode,
    parse,
    parse_ids,
    tracks_from_data,
)
from bot.platform.times import from_epoch, local_string, parse_platform_time, to_ms

SH = ZoneInfo("Asia/Shanghai")
T = TypeVar("T")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


# ---- times --------------------------------------------------------------------------------

INSTANT = datetime(2023, 9, 7, 9, 0, 24, tzinfo=UTC)  # 17:00:24 in Shanghai


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-09-07T09:00:24.000+00:00", INSTANT),  # ISO, UTC
        ("2023-09-07T17:00:24+08:00", INSTANT),  # ISO with another offset
        ("2023-09-07T09:00:24Z", INSTANT),
        ("2023-09-07 17:00:24", INSTANT),  # local wall time
        ("2023-9-7 17:0:24", INSTANT),  # unpadded
        ("2023/09/07 17:00:24", INSTANT),
        ("2023-09-07T17:00:24", INSTANT),  # ISO without offset: local
        (1694077224, INSTANT),  # epoch seconds
        (1694077224000, INSTANT),  # epoch milliseconds
        ("1694077224", INSTANT),  # as strings too
        ("1694077224000", INSTANT),
        (1694077224.0, INSTANT),
        ("2023-09-07", datetime(2023, 9, 7, tzinfo=SH)),  # a bare date: local midnight
        (" 2023-09-07 17:00:24 ", INSTANT),
    ],
)
def test_every_time_format(raw: Any, expected: datetime) -> None:
    parsed = parse_platform_time(raw, SH)
    assert parsed == expected and parsed is not None and parsed.tzinfo is not None


def test_unpadded_ctime_of_the_document() -> None:
    assert parse_platform_time("2022-2-15 15:20:12", SH) == datetime(
        2022, 2, 15, 15, 20, 12, tzinfo=SH
    )
    assert parse_platform_time("2022-2-5 8:03:09.5", SH) == datetime(
        2022, 2, 5, 8, 3, 9, 500000, tzinfo=SH
    )


def test_milliseconds_and_seconds_are_told_apart() -> None:
    assert from_epoch(1_700_000_000) == from_epoch(1_700_000_000_000)
    assert from_epoch(0) == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("raw", [None, ""])
def test_empty_time_is_none(raw: Any) -> None:
    assert parse_platform_time(raw, SH) is None


@pytest.mark.parametrize(
    "raw",
    [
        True,
        "yesterday",
        "2023-13-01 00:00:00",
        "2023-02-30",
        [1],
        {"t": 1},
        math.inf,
        math.nan,
        10**400,
        "9" * 400,
        -(10**30),
    ],
)
def test_not_a_time_is_a_value_error(raw: Any) -> None:
    with pytest.raises(ValueError):
        parse_platform_time(raw, SH)


def test_ms_and_local_string_round_trip() -> None:
    assert to_ms(INSTANT) == 1694077224000
    assert local_string(INSTANT, SH) == "2023-09-07 17:00:24"


# ---- GCJ-02 -------------------------------------------------------------------------------

# Points inside China: cities, borders of the region where GCJ-02 applies.
CHINA = [
    (30.27, 120.15),  # Hangzhou
    (39.9087, 116.3975),  # Beijing
    (31.2304, 121.4737),  # Shanghai
    (22.5431, 114.0579),  # Shenzhen
    (43.8256, 87.6168),  # Urumqi
    (29.6525, 91.1721),  # Lhasa
    (45.7567, 126.6424),  # Harbin
    (18.2528, 109.5119),  # Sanya
]


def test_published_pair() -> None:
    # wandergis/coordtransform README: wgs84togcj02(116.404, 39.915)
    # -> [116.41024449916938, 39.91640428150164] (lon, lat).
    lat, lon = wgs84_to_gcj02(39.915, 116.404)
    assert (lat, lon) == (
        pytest.approx(39.91640428150164, abs=1e-9),
        pytest.approx(116.41024449916938, abs=1e-9),
    )
    back = gcj02_to_wgs84(39.91640428150164, 116.41024449916938)
    assert haversine_m(*back, 39.915, 116.404) < 0.05


@pytest.mark.parametrize(("lat", "lon"), CHINA)
def test_gcj02_round_trip_inside_china(lat: float, lon: float) -> None:
    glat, glon = wgs84_to_gcj02(lat, lon)
    assert 100 < haversine_m(glat, glon, lat, lon) < 1500  # GCJ-02 moves points visibly
    wlat, wlon = gcj02_to_wgs84(glat, glon)
    assert haversine_m(wlat, wlon, lat, lon) < 5
    assert haversine_m(wlat, wlon, lat, lon) < 0.01  # in fact far better


@given(
    st.floats(min_value=18.5, max_value=53.0),
    st.floats(min_value=74.0, max_value=134.5),
)
@settings(max_examples=200)
def test_gcj02_inverse_anywhere_in_the_region(lat: float, lon: float) -> None:
    glat, glon = wgs84_to_gcj02(lat, lon)
    wlat, wlon = gcj02_to_wgs84(glat, glon)
    assert haversine_m(wlat, wlon, lat, lon) < 5


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (51.5074, -0.1278),  # London
        (40.7128, -74.0060),  # New York
        (35.6762, 139.6503),  # Tokyo
        (-33.8688, 151.2093),  # Sydney
        (1.3521, 103.8198),  # Singapore
        (0.0, 0.0),
    ],
)
def test_outside_china_is_unchanged(lat: float, lon: float) -> None:
    assert outside_china(lat, lon)
    assert wgs84_to_gcj02(lat, lon) == (lat, lon)
    assert gcj02_to_wgs84(lat, lon) == (lat, lon)


# ---- models on hand-written answers (the document's own examples) -------------------------


def test_tree_node_object_or_list_nested() -> None:
    doc: dict[str, Any] = {
        "id": "103",
        "name": "根",
        "type": 0,
        "children": {
            "gid": 266,
            "name": "子",
            "type": "0",
            "children": [
                {
                    "gid": "1006",
                    "name": "组",
                    "type": 1,
                    "users": {"gid": 1006, "uid": "10006", "account": 13800000000, "name": "赵六"},
                },
                {"gid": 1007, "name": "空组", "type": 1, "users": None},
            ],
        },
    }
    tree = parse(TypeAdapter(TreeNode), doc, SH, "t")
    (sub,) = tree.children
    group, empty = sub.children
    assert (tree.id, sub.id, group.id, empty.id) == (103, 266, 1006, 1007)
    assert group.is_group and not sub.is_group
    assert [(u.uid, u.account) for u in group.users] == [(10006, "13800000000")]
    assert empty.users == []


def test_fix_reads_x_as_latitude_and_location_as_lon_lat() -> None:
    fixes = parse(
        TypeAdapter(list[Fix]),
        [
            {"id": "1", "x": 30.1, "y": 120.2, "isOnLine": "2", "time": "2023-09-07 17:00:24"},
            {"id": 2, "location": [120.3, 30.4], "isOnLine": None},
            {"id": 3, "location": "120.5,30.6", "isOnLine": 1, "speed": "12.5"},
            {"id": 4, "x": "30.7", "y": "120.8", "location": [0, 0], "isOnLine": 0},
        ],
        SH,
        "fixes",
    )
    assert [(f.uid, f.lat, f.lon, f.online) for f in fixes] == [
        (1, 30.1, 120.2, True),
        (2, 30.4, 120.3, False),
        (3, 30.6, 120.5, True),
        (4, 30.7, 120.8, False),
    ]
    assert fixes[0].time == INSTANT and fixes[1].time is None and fixes[2].speed == 12.5


def test_fix_without_coordinates_is_a_bad_response() -> None:
    with pytest.raises(PlatformBadResponseError, match="fixes"):
        parse(TypeAdapter(list[Fix]), [{"id": 1, "isOnLine": "2"}], SH, "fixes")
    with pytest.raises(PlatformBadResponseError):
        parse(TypeAdapter(list[Fix]), [{"id": 1, "x": 130, "y": 120}], SH, "fixes")


POINT: dict[str, Any] = {"positionType": 0, "x": 30.1, "y": 120.2, "location": [120.2, 30.1]}


def point(time: Any, **kw: Any) -> dict[str, Any]:
    return {**POINT, "time": time, **kw}


@pytest.mark.parametrize(
    "data",
    [
        {"256": [point(1694077224000)], "257": [point(1694077225000)]},
        [{"256": [point(1694077224)]}, {"257": [point(1694077225)]}],
        [
            point("2023-09-07 17:00:25", uid="257"),
            point("2023-09-07T09:00:24.000+00:00", uid=256),
        ],
        {"256": point(1694077224000), "257": [point(1694077225000)]},
    ],
    ids=["map", "list_of_maps", "flat", "single_object"],
)
def test_track_shapes(data: Any) -> None:
    tracks = tracks_from_data(data, SH)
    assert sorted(tracks) == [256, 257]
    assert [p.time for p in tracks[256]] == [INSTANT]
    assert [p.time for p in tracks[257]] == [INSTANT + timedelta(seconds=1)]
    assert all(p.uid == uid for uid, pts in tracks.items() for p in pts)


def test_track_points_are_sorted_by_time() -> None:
    pts = [point(t) for t in (3000, 1000, None, 2000)]
    tracks = tracks_from_data({"1": pts}, SH)
    times = [p.time for p in tracks[1]]
    assert times[0] is None and times[1:] == sorted(times[1:])  # type: ignore[type-var]


@pytest.mark.parametrize("data", [None, [], {}])
def test_no_track(data: Any) -> None:
    assert tracks_from_data(data, SH) == {}


@pytest.mark.parametrize("data", ["oops", 5, [1, 2], {"abc": []}, {"1": "x"}, [[POINT]]])
def test_bad_track_shapes_are_bad_responses(data: Any) -> None:
    with pytest.raises(PlatformBadResponseError) as caught:
        tracks_from_data(data, SH, "trackPlayback")
    assert caught.value.endpoint == "trackPlayback"


def test_org_splits_children_into_orgs_and_users() -> None:
    doc: dict[str, Any] = {
        "type": 0,
        "id": "103",
        "parentId": "0",
        "name": "根",
        "children": [
            {"type": 0, "id": "266", "parentId": "103", "name": "子", "children": None},
            {"type": 1, "id": 10001, "account": "a", "name": "甲", "online": 1},
            {"type": "1", "id": "10002", "account": "b", "name": "乙", "online": 0},
        ],
    }
    org = parse(TypeAdapter(Org), doc, SH, "org")
    assert org.parent_id == 0 and [o.id for o in org.orgs] == [266]
    assert [(u.id, u.online) for u in org.users] == [(10001, True), (10002, False)]
    assert [o.id for o in org.walk()] == [103, 266]
    lone = parse(TypeAdapter(Org), {**doc, "children": doc["children"][1]}, SH, "org")
    assert [u.id for u in lone.users] == [10001]


def test_signin_page_inside_a_list_and_null_fields() -> None:
    record = {
        "id": 1,
        "userId": "10001",
        "userName": None,
        "userPhone": None,
        "image": "http://a/1.png, http://a/2.png,",
        "location": "120.1,30.2",
        "address": None,
        "signTime": "2023-09-07T09:00:24.000+00:00",
        "remark": None,
        "timeZone": -3,
        "myOrg": "266",
        "myOrgName": None,
    }
    adapter = TypeAdapter(Page[SignInRecord])
    wrapped = parse(adapter, [{"records": [record], "total": 1, "pages": 1}], SH, "signIn")
    plain = parse(adapter, {"records": [record], "total": "1", "pages": "1"}, SH, "signIn")
    assert wrapped == plain
    r = wrapped.records[0]
    assert r.images == ["http://a/1.png", "http://a/2.png"]
    assert (r.lon, r.lat, r.time_zone, r.org_id) == (120.1, 30.2, -3.0, 266)
    assert r.user_name is None and r.sign_time == INSTANT
    assert parse(adapter, None, SH, "signIn").records == []
    assert parse(adapter, [], SH, "signIn").records == []


def test_punch_record_with_every_documented_field_null() -> None:
    fields = [
        "userId",
        "userName",
        "account",
        "scheduleId",
        "shiftsId",
        "shiftsName",
        "type",
        "address",
        "coordinate",
        "signInTime",
        "shouldTime",
        "failure",
        "state",
        "scope",
        "timeZone",
        "oid",
        "myOrgName",
    ]
    page = parse(_PUNCH, {"total": 1, "pages": 1, "records": [dict.fromkeys(fields)]}, SH, "p")
    rec = page.records[0]
    assert all(v is None for v in rec.model_dump().values())


def test_user_info_null_and_groups() -> None:
    info = parse(
        _USER,
        {"id": "10002", "account": "a", "online": "1", "groups": {"id": "1002", "name": "g"}},
        SH,
        "user/info",
    )
    assert info.online and [g.id for g in info.groups] == [1002]


@pytest.mark.parametrize(
    ("data", "expected"),
    [(None, []), ([], []), ([1, "2", 3.0], [1, 2, 3])],
)
def test_parse_ids(data: Any, expected: list[int]) -> None:
    assert parse_ids(data, "ids") == expected


@pytest.mark.parametrize("data", [[True], ["x"], [1.5], "1,2", {"1": 2}, [[1]]])
def test_parse_ids_rejects(data: Any) -> None:
    with pytest.raises(PlatformBadResponseError):
        parse_ids(data, "ids")


def test_notice_body_round_trip() -> None:
    body = {
        "from": {"id": 1, "name": "指挥中心"},
        "to": {"orgIds": [266], "userIds": [10001]},
        "title": "t",
        "content": "c",
        "accessory": [{"name": "a.png", "url": "http://x/a.png"}],
    }
    assert Notice.model_validate(body).to_body() == body


# ---- errors -----------------------------------------------------------------------------


def test_error_for_every_code_explains_itself() -> None:
    for code in known_codes():
        err = error_for(code, "msg", endpoint="/x")
        assert err.code == code and err.message == "msg" and err.endpoint == "/x"
        assert err.explain("zh") and err.explain("en") and err.explain("zh") != err.explain("en")
    unknown = error_for(599, "怪")
    assert isinstance(unknown, PlatformUnknownError) and "599" in unknown.explain("zh")
    assert isinstance(error_for(501), PlatformAuthError)


def test_transport_errors_explain_themselves() -> None:
    t = PlatformTimeoutError(2.5, endpoint="/a")
    assert t.code == 0 and "2.5" in t.explain("en") and "2.5" in t.explain("zh")
    u = PlatformUnreachableError("ConnectError", endpoint="/a")
    assert u.explain("en") == "could not be reached" and u.explain("zh")
    b = PlatformBadResponseError("HTTP 502", endpoint="/a", detail="<html>")
    assert b.detail == "<html>" and "HTTP 502" in str(b) and b.explain("zh")


# ---- the envelope -----------------------------------------------------------------------


def response(status: int, body: bytes | str, ctype: str = "application/json") -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers={"content-type": ctype})


@pytest.mark.parametrize(
    ("resp", "words"),
    [
        (response(200, "<html><body>login</body></html>", "text/html"), "HTML page"),
        (response(200, "   <!DOCTYPE html>", "application/json"), "HTML page"),
        (response(200, '{"status":200,"data":[1,2'), "truncated"),
        (response(200, ""), "empty body"),
        (response(200, "系统维护中", "text/plain"), "non-JSON"),
        (response(200, "[1, 2]"), "without the status envelope"),
        (response(200, '{"code": 0, "data": 1}'), "without the status envelope"),
        (response(200, '{"status": "ok"}'), "not a number"),
        (response(200, '{"status": Infinity}'), "not a number"),
        (response(200, '{"status": true}'), "not a number"),
        (response(200, "[" * 100_000), "non-JSON"),
        (response(404, '{"timestamp":"x","status":404,"error":"Not Found","path":"/a"}'), "404"),
        (response(500, '{"status":500,"error":"Internal Server Error","message":"NPE"}'), "NPE"),
        (response(302, ""), "HTTP 302"),
        (response(404, '{"status":200,"data":1}'), "HTTP 404"),
    ],
)
def test_envelope_problems_are_bad_responses(resp: httpx.Response, words: str) -> None:
    with pytest.raises(PlatformBadResponseError) as caught:
        PlatformClient._envelope(resp, "/a")
    assert words in str(caught.value)


def test_envelope_success_and_errors() -> None:
    ok = response(200, '{"status": 200, "message": "成功", "data": {"a": 1}}')
    assert PlatformClient._envelope(ok, "/a") == {"a": 1}
    assert PlatformClient._envelope(response(200, '{"status": "200"}'), "/a") is None
    with pytest.raises(PlatformAuthError) as caught:
        # some servers put the 501 envelope in an HTTP 401: still the envelope that counts
        PlatformClient._envelope(response(401, '{"status": 501, "message": "未登录"}'), "/a")
    assert caught.value.message == "未登录"
    with pytest.raises(PlatformError) as caught2:
        PlatformClient._envelope(
            response(200, '{"status": 517, "message": null, "errorMessage": "no user"}'), "/a"
        )
    assert caught2.value.code == 517 and caught2.value.message == "no user"
    with pytest.raises(PlatformUnknownError) as caught3:
        PlatformClient._envelope(response(200, '{"status": 599, "message": ["odd"]}'), "/a")
    assert caught3.value.message == ""


# ---- arbitrary JSON never escapes as anything but a PlatformError -----------------------

KEYS = [
    "id", "gid", "uid", "uids", "name", "type", "users", "children", "account", "x", "y",
    "location", "isOnLine", "online", "time", "speed", "altitude", "bearing", "positionType",
    "username", "records", "total", "pages", "size", "beginTime", "durationMs", "fileUrl",
    "userId", "parentId", "pinyin", "groups", "innerPriority", "signTime", "signInTime",
    "shouldTime", "image", "timeZone", "myOrg", "ctime", "status", "message", "data", "token",
    "256", "10001", "0", "-1", "",
]  # fmt: skip

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["2", "1", "0", "103", " 7 ", "2023-9-7 17:0:24", "2023-09-07T09:00:24.000+00:00",
         "1694077224000", "120.1,30.2", "a,b", "1e999", "-0", "١٢", "²"]
    )
)  # fmt: skip


def json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)
            | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=30,
    )


ADAPTERS: list[tuple[str, TypeAdapter[Any]]] = [
    ("getOrganizationTree2", _TREE),
    ("getLatestCoords", _FIXES),
    ("audioRecord", _REC_PAGE),
    ("register", _REGISTERED),
    ("group/create", _GROUP),
    ("orgUser/tree", _ORGS),
    ("org/user", _ORG),
    ("user/info", _USER),
    ("punchCard/record", _PUNCH),
    ("signIn/record", _SIGNIN),
]

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=json_values())
def test_arbitrary_json_gives_a_model_or_a_platform_error(data: Any) -> None:
    for endpoint, adapter in ADAPTERS:
        try:
            parse(adapter, data, SH, endpoint)
        except PlatformError as exc:
            assert exc.endpoint == endpoint and str(exc)
    tracks = _or_refused(lambda: tracks_from_data(data, SH), "trackPlayback")
    if tracks is not None:
        _assert_tracks(tracks)
    ids = _or_refused(lambda: parse_ids(data, "ids"), "ids")
    if ids is not None:
        assert isinstance(ids, list) and all(type(i) is int for i in ids)


def _or_refused(fn: Callable[[], T], endpoint: str) -> T | None:
    """What `fn` parsed, or None when it refused the data as a bad answer of `endpoint`
    (and nothing else: no other error, no other kind of PlatformError)."""
    try:
        return fn()
    except PlatformError as exc:
        assert isinstance(exc, PlatformBadResponseError), exc
        assert exc.endpoint == endpoint and str(exc)
        return None


def _assert_tracks(tracks: dict[int, list[TrackPoint]]) -> None:
    """Points per int uid, each in range, sorted by time (points without a time first)."""
    epoch = datetime.min.replace(tzinfo=UTC)
    for uid, points in tracks.items():
        assert type(uid) is int
        assert all(isinstance(p, TrackPoint) for p in points)
        assert all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 for p in points)
        times = [p.time or epoch for p in points]
        assert times == sorted(times)


@FUZZ
@given(
    point=st.fixed_dictionaries(
        {},
        optional={
            k: json_values()
            for k in ("id", "uid", "x", "y", "location", "isOnLine", "time", "speed")
        },
    )
)
def test_arbitrary_points_in_every_track_shape(point: dict[str, Any]) -> None:
    for data in ([point], {"1": [point]}, [{"1": point}], {"1": point}):
        fixes = _or_refused(lambda d=data: parse(_FIXES, d, SH, "fixes"), "fixes")
        if fixes is not None:
            assert all(isinstance(f, Fix) and type(f.uid) is int for f in fixes)
            assert all(-90 <= f.lat <= 90 and -180 <= f.lon <= 180 for f in fixes)
        tracks = _or_refused(lambda d=data: tracks_from_data(d, SH), "trackPlayback")
        if tracks is not None:
            _assert_tracks(tracks)


@FUZZ
@given(
    status=st.sampled_from([200, 201, 204, 302, 400, 401, 404, 500, 502, 503, 599]),
    ctype=st.sampled_from(
        [
            "application/json",
            "application/json; charset=gbk",
            "text/html",
            "text/plain",
            "",
            "application/json; charset=no-such-codec",
        ]
    ),
    body=st.one_of(
        st.binary(max_size=64),
        json_values().map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
        st.fixed_dictionaries(
            {"status": json_values()}, optional={"message": json_values(), "data": json_values()}
        ).map(lambda v: json.dumps(v).encode()),
        st.builds(
            lambda s, m, d: json.dumps({"status": s, "message": m, "data": d}).encode()[:-3],
            st.sampled_from([200, 501, 517]),
            st.text(max_size=5),
            json_values(),
        ),
    ),
)
def test_arbitrary_bodies_give_data_or_a_platform_error(
    status: int, ctype: str, body: bytes
) -> None:
    resp = httpx.Response(status, content=body, headers={"content-type": ctype} if ctype else {})
    try:
        PlatformClient._envelope(resp, "/fuzz")
    except PlatformError as exc:
        assert exc.endpoint == "/fuzz"


# ---- time zone of parsed wall times -------------------------------------------------------


def test_wall_times_use_the_platform_zone() -> None:
    other = timezone(timedelta(hours=-3))
    a = parse_platform_time("2023-09-07 17:00:24", SH)
    b = parse_platform_time("2023-09-07 17:00:24", other)
    assert a is not None and b is not None and b - a == timedelta(hours=11)
