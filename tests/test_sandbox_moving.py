"""The sandbox platform's moving users (issue #15 point 6): paths as a function of the
clock, the demo fence crossed at the stated minutes, a stale fix, a jittering fix, and
2.4 / 2.5 agreeing over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Clock, examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sandbox.data import (
    CROSSING_USER_ID,
    DEMO_FENCE,
    DEMO_FENCE_INSIDE_MINUTES,
    JITTER_M,
    JITTER_USER_ID,
    STALE_MINUTES,
    STALE_USER_ID,
    TZ,
    WALKER_USER_ID,
    SandboxData,
)
from bot.sandbox.data.paths import bearing_deg, haversine_m
from bot.sandbox.gcj02 import wgs84_to_gcj02
from bot.sandbox.platform import Quirks, SandboxPlatform

HOUR = datetime(2026, 11, 28, 15, 0, tzinfo=TZ)  # minute 0 of a local hour
LANDMARK = DEMO_FENCE[:2]
RADIUS = DEMO_FENCE[2]


def at(minutes: float) -> datetime:
    return HOUR + timedelta(minutes=minutes)


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def moving_data(clock: Callable[[], datetime]) -> SandboxData:
    return SandboxData(moving=True, now=clock)


def distance_at(data: SandboxData, uid: int) -> float:
    fix = data.fix_now(data.users[uid])
    assert fix is not None
    return haversine_m((fix.lat, fix.lon), LANDMARK)


@pytest.fixture
async def moving(
    sandbox_factory: Callable[..., Awaitable[SandboxPlatform]],
) -> AsyncIterator[tuple[SandboxPlatform, Clock, httpx.AsyncClient]]:
    clock = Clock(at(0))
    sb = await sandbox_factory(now=clock, moving=True, quirks=Quirks.none())
    async with httpx.AsyncClient(
        base_url=sb.url + "/wapi", headers={"token": sb.token}, timeout=10
    ) as client:
        yield sb, clock, client


async def call(client: httpx.AsyncClient, path: str, body: Any) -> Any:
    resp = await client.post(path, json=body)
    assert resp.status_code == 200
    envelope = resp.json()
    assert envelope["status"] == 200, envelope
    return envelope["data"]


# ---- which users move ---------------------------------------------------------------------


def test_movers_five_in_org_266_subtree_and_others_elsewhere() -> None:
    data = moving_data(lambda: HOUR)
    subtree = data.org_subtree(266)
    inside = [uid for uid in data.paths if data.users[uid].org_id in subtree]
    outside = [uid for uid in data.paths if data.users[uid].org_id not in subtree]
    assert CROSSING_USER_ID in inside and STALE_USER_ID in inside
    assert len(inside) == 5
    assert WALKER_USER_ID in outside and JITTER_USER_ID in outside and len(outside) >= 3


def test_nothing_moves_unless_asked() -> None:
    clock = Clock(at(0))
    data = SandboxData(now=clock)
    before = data.fix_now(data.users[CROSSING_USER_ID])
    clock.advance(timedelta(minutes=7))
    assert data.fix_now(data.users[CROSSING_USER_ID]) == before
    assert data.online_now(data.users[STALE_USER_ID])
    data.moving = True  # a switch at run time
    assert data.fix_now(data.users[CROSSING_USER_ID]) != before


def test_a_user_whose_fix_was_taken_away_does_not_move() -> None:
    data = moving_data(lambda: HOUR)
    still = SandboxData(now=lambda: HOUR)
    data.users[CROSSING_USER_ID].fix = None
    assert data.fix_now(data.users[CROSSING_USER_ID]) is None
    # its track is the static sandbox's patrol again, not the path
    window = (ms(at(-60)), ms(at(0)))
    assert data.track(CROSSING_USER_ID, *window) == still.track(CROSSING_USER_ID, *window)
    assert data.track(CROSSING_USER_ID, *window) != data.paths[CROSSING_USER_ID].track(
        *window, ms(at(0))
    )


# ---- positions as a function of the clock --------------------------------------------------


def test_positions_are_a_function_of_the_clock() -> None:
    clock = Clock(at(0))
    one, two = moving_data(clock), moving_data(clock)
    for minutes in (0, 1.5, 7.25, 33.3):
        clock.now = at(minutes)
        for uid in one.paths:
            assert one.fix_now(one.users[uid]) == two.fix_now(two.users[uid])
    # at minute 0 zhangsan01 is at the loop's start, 1.2 km north of the landmark, heading south
    clock.now = at(0)
    fix = one.fix_now(one.users[CROSSING_USER_ID])
    assert fix is not None and fix.time_ms == ms(at(0))
    assert haversine_m((fix.lat, fix.lon), LANDMARK) == pytest.approx(1200, abs=2)
    assert fix.bearing == pytest.approx(180, abs=0.5) and fix.speed == pytest.approx(17.4)


def test_fix_time_is_the_clock_rounded_down_to_the_fix_interval() -> None:
    clock = Clock(at(0) + timedelta(seconds=7.9))
    data = moving_data(clock)
    crossing = data.fix_now(data.users[CROSSING_USER_ID])
    walker = data.fix_now(data.users[WALKER_USER_ID])
    assert crossing is not None and crossing.time_ms == ms(at(0)) + 5_000
    assert walker is not None and walker.time_ms == ms(at(0))
    clock.advance(timedelta(seconds=2))  # 9.9 s: same fixes
    assert data.fix_now(data.users[CROSSING_USER_ID]) == crossing
    clock.advance(timedelta(seconds=0.1))  # 10.0 s: a new fix each
    assert data.fix_now(data.users[CROSSING_USER_ID]) != crossing
    assert data.fix_now(data.users[WALKER_USER_ID]) != walker


@settings(max_examples=examples(60), deadline=None)
@given(seconds=st.integers(0, 7 * 86_400))
def test_speed_and_heading_agree_with_successive_fixes(seconds: int) -> None:
    clock = Clock(at(0) - timedelta(days=3) + timedelta(seconds=seconds))
    data = moving_data(clock)
    for uid, path in data.paths.items():
        if path.jitter_m or path.offline_at(ms(clock.now)):
            continue
        a = path.at(ms(clock.now))
        b = path.at(ms(clock.now) + 1_000)
        kmh = 3.6 * haversine_m((a.lat, a.lon), (b.lat, b.lon))
        assert 4.9 <= a.speed <= 50.0, uid
        assert kmh <= a.speed * 1.01 + 0.05, uid  # never faster than it says
        if a.bearing == b.bearing:  # on one leg: the step goes where the heading points
            assert kmh == pytest.approx(a.speed, rel=0.02, abs=0.05), uid
            step = bearing_deg((a.lat, a.lon), (b.lat, b.lon))
            assert a.bearing is not None
            assert abs((step - a.bearing + 180) % 360 - 180) < 1.0, uid
    walker = data.paths[WALKER_USER_ID]
    assert walker.speed_kmh == pytest.approx(5.0, abs=0.1)


# ---- the demo fence -------------------------------------------------------------------------


@pytest.mark.parametrize("hour", [0, 1, 13])
def test_zhangsan01_is_inside_the_demo_fence_at_the_stated_minutes(hour: int) -> None:
    clock = Clock(HOUR)
    data = moving_data(clock)
    offset = timedelta(hours=hour)
    assert len(DEMO_FENCE_INSIDE_MINUTES) == 3
    for first, last in DEMO_FENCE_INSIDE_MINUTES:
        assert last - first < 20  # entered and left within 20 minutes
        clock.now = at(first - 0.5) + offset
        assert distance_at(data, CROSSING_USER_ID) > RADIUS
        clock.now = at(first) + offset
        assert distance_at(data, CROSSING_USER_ID) > RADIUS  # entered a little after
        for inside in (first + 0.2, (first + last) / 2, last - 0.1):
            clock.now = at(inside) + offset
            assert distance_at(data, CROSSING_USER_ID) < RADIUS, inside
        # deep inside, well past the hysteresis margin max(20 m, 10 % of r)
        clock.now = at((first + last) / 2) + offset
        assert distance_at(data, CROSSING_USER_ID) < 50
        clock.now = at(last) + offset
        assert distance_at(data, CROSSING_USER_ID) > RADIUS
        clock.now = at(last + 1) + offset
        assert distance_at(data, CROSSING_USER_ID) > RADIUS + 0.1 * RADIUS


def test_outside_the_stated_minutes_zhangsan01_is_outside() -> None:
    clock = Clock(HOUR)
    data = moving_data(clock)
    for tenth in range(0, 600):
        minute = tenth / 10
        clock.now = at(minute)
        inside = distance_at(data, CROSSING_USER_ID) < RADIUS
        stated = any(a < minute < b for a, b in DEMO_FENCE_INSIDE_MINUTES)
        assert inside == stated, minute


def test_the_jittering_user_stays_within_15_m_of_the_boundary_on_both_sides() -> None:
    clock = Clock(HOUR)
    data = moving_data(clock)
    distances = []
    for k in range(200):
        clock.now = at(0) + timedelta(seconds=10 * k)
        distances.append(distance_at(data, JITTER_USER_ID))
    assert all(RADIUS - JITTER_M - 0.5 <= d <= RADIUS + JITTER_M + 0.5 for d in distances)
    assert min(distances) < RADIUS - 10 and max(distances) > RADIUS + 10
    assert len({round(d, 3) for d in distances}) > 150  # a new scatter on every fix


# ---- over HTTP: 2.4, 2.5, the stale user, gcj02, batching ---------------------------------


async def test_latest_coords_follow_the_clock_over_http(
    moving: tuple[SandboxPlatform, Clock, httpx.AsyncClient],
) -> None:
    sb, clock, client = moving
    uids = sorted(sb.data.paths)
    seen: dict[int, list[tuple[float, float]]] = {uid: [] for uid in uids}
    for minutes in (0, 1, 2):
        clock.now = at(minutes)
        for entry in await call(client, "/location/getLatestCoords", {"uids": uids}):
            uid = int(entry["id"])
            path = sb.data.paths[uid]
            truth = path.at(path.last_fix_ms(ms(clock.now)))
            assert (entry["x"], entry["y"]) == (truth.lat, truth.lon)
            assert entry["location"] == [truth.lon, truth.lat]
            assert entry["time"] == truth.time_ms
            seen[uid].append((entry["x"], entry["y"]))
    for uid in uids:
        if uid != JITTER_USER_ID:
            assert len(set(seen[uid])) == 3, uid  # it moved between the three calls
    assert sb.call_counts()["/location/getLatestCoords"] == 3


async def test_the_stale_user_goes_offline_and_keeps_its_last_fix(
    moving: tuple[SandboxPlatform, Clock, httpx.AsyncClient],
) -> None:
    _sb, clock, client = moving
    first, last = STALE_MINUTES
    answers = []
    for minutes in (first - 1, first + 0.5, (first + last) / 2, last - 0.1, last + 0.5):
        clock.now = at(minutes)
        (entry,) = await call(client, "/location/getLatestCoords", {"uids": [STALE_USER_ID]})
        online = await call(client, "/pttUser/isOnline", {"gid": 1002, "uids": [STALE_USER_ID]})
        answers.append((entry["isOnLine"], entry["time"], online))
    before, *during, after = answers
    assert before[0] == 1 and before[2] == [STALE_USER_ID]
    assert before[1] == ms(at(first - 1))
    stale_time = ms(at(first)) - 5_000  # the last fix before the terminal went quiet
    assert all(a == (0, stale_time, []) for a in during), during
    assert after[0] == 1 and after[1] == ms(at(last + 0.5)) and after[2] == [STALE_USER_ID]

    track = await call(
        client,
        "/location/trackPlayback",
        {"uids": [STALE_USER_ID], "startTimestamp": ms(at(0)), "endTimestamp": ms(at(59))},
    )
    times = [p["time"] for p in track[str(STALE_USER_ID)]]
    assert times and not [t for t in times if ms(at(first)) <= t < ms(at(last))]
    assert any(t < ms(at(first)) for t in times) and any(t >= ms(at(last)) for t in times)


async def test_track_and_latest_fix_agree(
    moving: tuple[SandboxPlatform, Clock, httpx.AsyncClient],
) -> None:
    sb, clock, client = moving
    clock.now = at(47) + timedelta(seconds=13)
    uids = sorted(sb.data.paths)
    latest = {
        int(e["id"]): e for e in await call(client, "/location/getLatestCoords", {"uids": uids})
    }
    tracks = await call(
        client,
        "/location/trackPlayback",
        {"uids": uids, "startTimestamp": ms(at(-180)), "endTimestamp": ms(clock.now)},
    )
    assert set(tracks) == {str(uid) for uid in uids}
    for uid in uids:
        points = tracks[str(uid)]
        assert len(points) > 300  # three hours, a point every 30 s
        last = points[-1]
        assert (last["time"], last["x"], last["y"]) == (
            latest[uid]["time"],
            latest[uid]["x"],
            latest[uid]["y"],
        )
        path = sb.data.paths[uid]
        for p in points[:: max(1, len(points) // 40)]:
            truth = path.at(p["time"])
            assert (p["x"], p["y"], p["speed"]) == (truth.lat, truth.lon, truth.speed)
        assert [p["time"] for p in points] == sorted({p["time"] for p in points})


async def test_gcj02_quirk_offsets_moving_fixes(
    sandbox_factory: Callable[..., Awaitable[SandboxPlatform]],
) -> None:
    clock = Clock(at(4))
    sb = await sandbox_factory(now=clock, moving=True, quirks=Quirks(coordinates="gcj02"))
    async with httpx.AsyncClient(
        base_url=sb.url + "/wapi", headers={"token": sb.token}, timeout=10
    ) as client:
        (entry,) = await call(client, "/location/getLatestCoords", {"uids": [CROSSING_USER_ID]})
    fix = sb.data.users[CROSSING_USER_ID].fix
    assert fix is not None
    glat, glon = wgs84_to_gcj02(fix.lat, fix.lon)
    assert (entry["x"], entry["y"]) == (round(glat, 8), round(glon, 8))
    assert haversine_m((entry["x"], entry["y"]), (fix.lat, fix.lon)) > 100


async def test_a_coords_limit_answers_510_above_it_and_calls_are_counted(
    moving: tuple[SandboxPlatform, Clock, httpx.AsyncClient],
) -> None:
    sb, _clock, client = moving
    assert sb.quirks.coords_max_uids is None  # the reference documents no limit
    everyone = sorted(sb.data.users)
    assert len(await call(client, "/location/getLatestCoords", {"uids": everyone})) > 30
    sb.quirks.coords_max_uids = 3
    resp = await client.post("/location/getLatestCoords", json={"uids": everyone[:4]})
    assert resp.json()["status"] == 510
    assert len(await call(client, "/location/getLatestCoords", {"uids": everyone[:3]})) == 3
    counts = sb.call_counts()
    assert counts["/location/getLatestCoords"] == 3
    assert counts["/location/trackPlayback"] == 0
