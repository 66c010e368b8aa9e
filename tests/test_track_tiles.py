"""/track pictures over map tiles (issue 16 point 5) and the sandbox's tile server (point 6).

Real HTTP throughout: the sandbox platform serves the tiles on 127.0.0.1, a closed port
stands for a tile server that cannot be reached, and the requests each server received
are counted.
"""

from __future__ import annotations

import io
import logging
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import SANDBOX_NOW, Clock
from matplotlib.text import Text
from PIL import Image

from bot.demo.stack import Stack
from bot.geo.tiles import (
    BACKOFF_S,
    HALF_WORLD_M,
    MAX_ZOOM,
    TILE_PX,
    Basemap,
    TileCache,
    TileSource,
    View,
    tile_range,
    zoom_for,
)
from bot.geo.trackfiles import MAP_SIZE, track_figure, track_png, track_view
from bot.platform.coords import wgs84_to_gcj02
from bot.platform.models import TrackPoint
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.platform.routes.tiles import BACKGROUND, GRID, tile_png

# ---- the sandbox's tiles ----------------------------------------------------------------------


async def test_sandbox_tiles_are_plain_labelled_pngs(sandbox: SandboxPlatform) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        resp = await http.get("/tiles/3/5/2.png")  # no token: tiles are public
        other = await http.get("/tiles/19/524287/0.png")
    assert resp.status_code == 200 and other.status_code == 200
    assert resp.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(resp.content)).convert("RGB")
    assert image.size == (TILE_PX, TILE_PX)
    assert image.getpixel((128, 20)) == BACKGROUND
    assert image.getpixel((128, 0)) == GRID and image.getpixel((0, 128)) == GRID
    # The label z/x/y is drawn in the middle: the two tiles differ there and only there.
    labelled = Image.open(io.BytesIO(other.content)).convert("RGB")
    middle = (78, 108, 178, 148)
    assert image.crop(middle).tobytes() != labelled.crop(middle).tobytes()
    assert image.crop((0, 0, 256, 90)).tobytes() == labelled.crop((0, 0, 256, 90)).tobytes()
    assert len(image.crop(middle).getcolors(4096) or []) > 2  # text, not a blank


async def test_sandbox_tiles_outside_the_world_are_400(sandbox: SandboxPlatform) -> None:
    bad = ["20/0/0", "0/1/0", "0/0/1", "3/8/0", "3/0/8", "a/0/0", "3/-1/0", "3/1.5/0", "3/٣/0"]
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        for zxy in bad:
            resp = await http.get(f"/tiles/{zxy}.png")
            assert resp.status_code == 400, zxy
            assert "no such tile" in resp.text
        assert (await http.get("/tiles/0/0/0.png")).status_code == 200
        assert (await http.get("/tiles/99999999999999999999/0/0.png")).status_code == 400


# ---- the tile source --------------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=SHANGHAI)
R = 6_378_137.0  # the test's own Web Mercator


def mercator(lat: float, lon: float) -> tuple[float, float]:
    return R * math.radians(lon), R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def pt(lat: float, lon: float, i: int, speed: float | None = 20.0) -> TrackPoint:
    return TrackPoint.model_construct(
        lat=lat, lon=lon, speed=speed, altitude=None, bearing=None,
        time=T0 + timedelta(seconds=30 * i), uid=1, position_type=0,
    )  # fmt: skip


def patrol(lat: float = 31.2304, lon: float = 121.4737, n: int = 120) -> list[TrackPoint]:
    """A walk of ~2 km north-east with a wiggle."""
    return [pt(lat + 0.00015 * i, lon + 0.0001 * i + 0.0004 * math.sin(i / 8), i) for i in range(n)]


def inside_tile(z: int, x: int, y: int) -> View:
    """A view well inside tile z/x/y: drawn 200 px wide, it needs that tile alone."""
    size = 2 * HALF_WORLD_M / 2**z
    west, north = x * size - HALF_WORLD_M, HALF_WORLD_M - y * size
    return View(west + 0.1 * size, west + 0.9 * size, north - 0.74 * size, north - 0.1 * size)


def template(server: SandboxPlatform, query: str = "") -> str:
    return f"{server.url}/tiles/{{z}}/{{x}}/{{y}}.png{query}"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def listing(folder: Path) -> dict[str, int]:
    """The files in `folder` and their sizes."""
    return {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}


def tile_requests(server: SandboxPlatform) -> list[Any]:
    return [r for r in server.requests if r.path.startswith("/tiles/")]


def share_of(png: bytes, colour: tuple[int, int, int], box: tuple[int, int, int, int]) -> float:
    """The share of the pixels in `box` of the picture that are exactly `colour`."""
    with Image.open(io.BytesIO(png)) as img:
        region = img.convert("RGB").crop(box)
    counts = dict((c, n) for n, c in region.getcolors(region.width * region.height) or [])
    return counts.get(colour, 0) / (region.width * region.height)


MAP_BOX = (30, 80, 870, 770)  # inside the map's place in the picture


async def test_the_picture_is_drawn_over_the_tiles_when_they_can_be_had(
    sandbox: SandboxPlatform, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = TileSource(
        template(sandbox), http=http, cache=TileCache(tmp_path / "tiles"), attribution="© test"
    )
    points = patrol()
    view = track_view(points, source.crs)
    assert view is not None
    basemap = await source.basemap(view, MAP_SIZE)
    assert basemap is not None and basemap.image.size == MAP_SIZE
    fetched = tile_requests(sandbox)
    columns, rows = tile_range(view, zoom_for(view, MAP_SIZE[0]))
    assert len(fetched) == len(columns) * len(rows) >= 4
    assert {r.path for r in fetched} == {
        f"/tiles/{zoom_for(view, MAP_SIZE[0])}/{x}/{y}.png" for x in columns for y in rows
    }
    assert all(r.headers["user-agent"].startswith("pttbridge/") for r in fetched)
    assert all("token" not in r.headers for r in fetched)  # nothing of the platform's

    over_map = track_png(points, title="Zhang San", lang="en", tz=SHANGHAI, basemap=basemap)
    plain = track_png(points, title="Zhang San", lang="en", tz=SHANGHAI)
    assert over_map.startswith(b"\x89PNG") and Image.open(io.BytesIO(over_map)).size == (1000, 800)
    # Most of the map's place is the tiles' own colour; the plain picture has none of it.
    assert share_of(over_map, BACKGROUND, MAP_BOX) > 0.6
    assert share_of(plain, BACKGROUND, MAP_BOX) == 0.0

    # Warm: the same picture again asks the server for nothing, and draws the same map.
    again = await source.basemap(view, MAP_SIZE)
    assert again is not None
    assert len(tile_requests(sandbox)) == len(fetched)
    assert again.image.tobytes() == basemap.image.tobytes()


async def test_a_warm_cache_survives_a_restart(
    sandbox: SandboxPlatform, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    view = track_view(patrol(), "wgs84")
    assert view is not None
    first = TileSource(template(sandbox), http=http, cache=TileCache(tmp_path))
    assert await first.basemap(view, MAP_SIZE) is not None
    asked = len(tile_requests(sandbox))
    files = sorted(listing(tmp_path))
    assert len(files) == asked and all(f.endswith(".tile") for f in files)
    assert not any(sandbox.url.split("//")[1] in f for f in files)  # names are hashes
    second = TileSource(template(sandbox), http=http, cache=TileCache(tmp_path))
    assert second.cache.size == sum(listing(tmp_path).values())
    assert await second.basemap(view, MAP_SIZE) is not None
    assert len(tile_requests(sandbox)) == asked


async def test_the_cache_keeps_to_its_bound_dropping_the_least_recently_read(
    sandbox: SandboxPlatform, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    tile = len(tile_png(15, 27440, 13394))
    cache = TileCache(tmp_path, bound=6 * tile)
    source = TileSource(template(sandbox), http=http, cache=cache)
    view = track_view(patrol(), "wgs84")
    assert view is not None
    # More tiles than the bound holds: the picture still gets all of them.
    assert await source.basemap(view, MAP_SIZE) is not None
    assert len(tile_requests(sandbox)) > 6
    assert 0 < cache.size <= cache.bound
    assert cache.size == sum(listing(tmp_path).values())
    assert all(name.endswith(".tile") for name in listing(tmp_path))

    # Least recently read first.
    small = TileCache(tmp_path / "small", bound=2500)
    data = {k: bytes([n]) * 1000 for n, k in enumerate("abcd")}
    for k in "abc":
        small.put(k, data[k])
    assert small.get("c", 0) is not None  # c over the bound evicted the oldest, a
    assert small.get("a", 0) is None
    start = time.time()
    for age, k in ((30, "b"), (20, "c")):
        os.utime(small.path(k), (start - age, start - age))
    assert small.get("b", start) == (data["b"], True)  # read now: b is the newest
    small.put("d", data["d"])
    assert [k for k in "abcd" if small.get(k, start) is not None] == ["b", "d"]
    assert small.size == 2000


async def test_unreachable_tiles_give_the_plain_picture_and_are_not_asked_again_for_a_while(
    sandbox: SandboxPlatform, http: httpx.AsyncClient, tmp_path: Path, caplog: Any
) -> None:
    clock = Clock()
    source = TileSource(
        template(sandbox, "?tk=SECRET-KEY-1234"),
        http=http,
        cache=TileCache(tmp_path),
        monotonic=clock,
    )
    view = inside_tile(12, 3413, 1686)  # one tile: one request per try
    sandbox.fail_next(".png", "http502", times=1000)
    with caplog.at_level(logging.WARNING, logger="bot.geo.tiles"):
        assert await source.basemap(view, (200, 160)) is None
    assert [r.path for r in tile_requests(sandbox)] == ["/tiles/12/3413/1686.png"]
    assert not source.reachable
    assert "127.0.0.1" in caplog.text and "HTTP 502" in caplog.text
    assert "SECRET-KEY" not in caplog.text and "tk=" not in caplog.text
    assert all(r.query == {"tk": "SECRET-KEY-1234"} for r in tile_requests(sandbox))

    # Within the back-off: no request at all, even with the server back.
    sandbox.clear_faults()
    clock.advance(BACKOFF_S - 1)
    assert await source.basemap(view, (200, 160)) is None
    assert len(tile_requests(sandbox)) == 1
    # After it: asked again, and drawn.
    clock.advance(2)
    assert await source.basemap(view, (200, 160)) is not None
    assert len(tile_requests(sandbox)) == 2 and source.reachable


@pytest.mark.parametrize("fault", ["html", "truncated", "status404"])
async def test_what_is_no_tile_is_not_drawn_nor_kept(
    sandbox: SandboxPlatform, http: httpx.AsyncClient, tmp_path: Path, fault: str
) -> None:
    source = TileSource(template(sandbox), http=http, cache=TileCache(tmp_path))
    view = track_view(patrol(), "wgs84")
    assert view is not None
    if fault == "status404":
        source.template = f"{sandbox.url}/tiles/{{z}}/{{x}}/{{y}}.jpg"  # 404: no such route
    else:
        sandbox.fail_next(".png", fault, times=1000)
    assert await source.basemap(view, MAP_SIZE) is None
    assert tile_requests(sandbox)
    assert not source.reachable
    assert source.cache.size == 0 and not listing(tmp_path)


async def test_a_closed_port_or_a_slow_server_gives_the_plain_picture(
    sandbox: SandboxPlatform, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    view = track_view(patrol(), "wgs84")
    assert view is not None
    closed = TileSource(
        f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png", http=http, cache=TileCache(tmp_path)
    )
    assert await closed.basemap(view, MAP_SIZE) is None
    assert not closed.reachable

    sandbox.fail_next(".png", "delay", delay=60, times=1000)  # cut short at teardown
    slow = TileSource(template(sandbox), http=http, cache=TileCache(tmp_path), timeout_s=0.2)
    assert await slow.basemap(view, MAP_SIZE) is None
    assert not slow.reachable


def test_gcj02_tiles_get_shifted_points() -> None:
    shanghai, paris = patrol(), patrol(48.8566, 2.3522)
    for points, shifted in ((shanghai, True), (paris, False)):
        wgs, gcj = track_view(points, "wgs84"), track_view(points, "gcj02")
        assert wgs is not None and gcj is not None
        lat, lon = points[0].lat, points[0].lon
        glat, glon = wgs84_to_gcj02(lat, lon)
        dx = mercator(glat, glon)[0] - mercator(lat, lon)[0]
        dy = mercator(glat, glon)[1] - mercator(lat, lon)[1]
        if shifted:
            assert math.hypot(dx, dy) > 300  # Shanghai: GCJ-02 is some 500 m off
        else:
            assert (dx, dy) == (0, 0)
        assert gcj.x0 - wgs.x0 == pytest.approx(dx, abs=5)
        assert gcj.y0 - wgs.y0 == pytest.approx(dy, abs=5)
        # The path is drawn where the tiles have the place: at the shifted point.
        image = Image.new("RGB", MAP_SIZE, BACKGROUND)
        fig = track_figure(points, title="t", lang="en", basemap=Basemap(image, gcj, "", "gcj02"))
        lines = [c for c in fig.axes[0].collections if c.get_array() is not None]
        first = lines[0].get_segments()[0][0]
        assert first == pytest.approx(mercator(glat, glon), abs=0.5)


def test_the_attribution_is_printed_at_the_bottom_right() -> None:
    points = patrol()
    view = track_view(points, "wgs84")
    assert view is not None
    image = Image.new("RGB", MAP_SIZE, BACKGROUND)
    credited = Basemap(image, view, "© OpenStreetMap contributors", "wgs84")
    fig = track_figure(points, title="t", lang="en", basemap=credited)
    texts = {t.get_text(): t for t in fig.findobj(Text)}
    assert "© OpenStreetMap contributors" in texts
    x, y = texts["© OpenStreetMap contributors"].get_position()
    assert (x, y) > (0.9, 0) and y < 0.05
    corner = (720, 762, 880, 778)  # where it is drawn, in the picture's pixels
    bare = track_png(points, title="t", lang="en", basemap=Basemap(image, view, "", "wgs84"))
    with_it = track_png(points, title="t", lang="en", basemap=credited)
    assert share_of(bare, BACKGROUND, corner) > 0.95
    assert share_of(with_it, BACKGROUND, corner) < 0.5


def test_tile_urls_zooms_and_ranges(http: httpx.AsyncClient) -> None:
    cache = TileCache(Path("unused"))
    osm = TileSource("https://{s}.tile.example.org/{z}/{x}/{y}.png", http=http, cache=cache)
    assert [osm.url(3, x, 1) for x in range(3)] == [
        "https://b.tile.example.org/3/0/1.png",
        "https://c.tile.example.org/3/1/1.png",
        "https://a.tile.example.org/3/2/1.png",
    ]
    amap = TileSource(
        "https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}",
        http=http,
        cache=cache,
    )
    assert {amap.url(5, x, 0).split(".")[0] for x in range(8)} == {
        f"https://webrd0{n}" for n in "1234"
    }
    # The zoom shows the view near the tiles' own scale; the range covers the view.
    for width_m in (150.0, 2_000.0, 40_000.0, 3_000_000.0):
        x0, y0 = mercator(31.23, 121.47)
        view = View(x0, x0 + width_m, y0, y0 + width_m * 0.8)
        z = zoom_for(view, 860)
        scale = 860 / (width_m / (2 * HALF_WORLD_M / TILE_PX / 2**z))
        assert z == MAX_ZOOM or 2**-0.5 <= scale <= 2**0.5, width_m
        columns, rows = tile_range(view, z)
        size = 2 * HALF_WORLD_M / 2**z
        assert columns.start * size - HALF_WORLD_M <= view.x0
        assert columns.stop * size - HALF_WORLD_M >= view.x1
        assert HALF_WORLD_M - rows.start * size >= view.y1
        assert HALF_WORLD_M - rows.stop * size <= view.y0


# ---- /track end to end ------------------------------------------------------------------------


async def test_track_sends_the_picture_over_tiles_and_the_gpx(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    sandbox = SandboxPlatform(now=lambda: SANDBOX_NOW)
    stack = await make_bot_stack(
        sandbox=sandbox,
        clock=lambda: SANDBOX_NOW,
        bridge_overrides={"map_attribution": "© Sandbox tiles"},
    )
    assert stack.bridge is not None
    assert stack.bridge.settings.bridge.map_tiles == template(sandbox)
    day = sandbox.data.today() - timedelta(days=1)

    msgs = await stack.say("supervisor", f"/track zhangsan01 {day} 06:00 {day} 18:00")
    assert [m.kind for m in msgs] == ["photo", "document"]
    photo, doc = msgs
    assert photo.file is not None and photo.file.data is not None
    assert share_of(photo.file.data, BACKGROUND, MAP_BOX) > 0.5
    assert doc.file is not None and doc.file.data is not None
    assert doc.file.data.startswith(b"<?xml") and b"<gpx" in doc.file.data
    asked = tile_requests(sandbox)
    assert asked and all("token" not in r.headers for r in asked)
    cache = Path(stack.bridge.settings.bridge.db_path).parent / "tiles"
    assert len(listing(cache)) == len({r.path for r in asked})

    # The same track again: the tiles come from the disk cache.
    again = await stack.say("supervisor", f"/track zhangsan01 {day} 06:00 {day} 18:00")
    assert [m.kind for m in again] == ["photo", "document"]
    assert len(tile_requests(sandbox)) == len(asked)
    assert again[0].file is not None and again[0].file.data == photo.file.data


async def test_track_without_reachable_tiles_sends_the_plain_picture(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sandbox = SandboxPlatform(now=lambda: SANDBOX_NOW)
    stack = await make_bot_stack(
        sandbox=sandbox,
        clock=lambda: SANDBOX_NOW,
        bridge_overrides={"map_tiles": f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"},
    )
    day = sandbox.data.today() - timedelta(days=1)
    for _ in range(2):
        msgs = await stack.say("supervisor", f"/track zhangsan01 {day} 06:00 {day} 18:00")
        assert [m.kind for m in msgs] == ["photo", "document"]
        photo = msgs[0]
        assert photo.file is not None and photo.file.data is not None
        assert share_of(photo.file.data, BACKGROUND, MAP_BOX) == 0.0
        assert share_of(photo.file.data, (255, 255, 255), MAP_BOX) > 0.5  # plain axes


async def test_stale_tiles_are_fetched_again_and_kept_when_that_fails(
    sandbox: SandboxPlatform, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    view = inside_tile(12, 3413, 1686)
    wall = Clock(time.time())
    source = TileSource(template(sandbox), http=http, cache=TileCache(tmp_path), wall=wall)
    assert await source.basemap(view, (200, 160)) is not None
    wall.advance(40 * 86_400)  # older than a month: asked again
    sandbox.fail_next(".png", "http502")
    stale = await source.basemap(view, (200, 160))
    assert len(tile_requests(sandbox)) == 2
    assert stale is not None and not source.reachable  # the old tile drawn meanwhile


async def test_pictures_too_large_for_tiles_are_not_decoded(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    big = io.BytesIO()
    Image.new("RGB", (5000, 5000), BACKGROUND).save(big, format="PNG")

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=big.getvalue(), content_type="image/png")

    app = web.Application()
    app.router.add_get("/{z}/{x}/{y}.png", huge)
    async with TestServer(app, host="127.0.0.1") as server:
        source = TileSource(
            f"http://127.0.0.1:{server.port}/{{z}}/{{x}}/{{y}}.png",
            http=http,
            cache=TileCache(tmp_path),
        )
        assert await source.basemap(inside_tile(12, 3413, 1686), (200, 160)) is None
        assert not source.reachable and source.cache.size == 0  # not kept either
