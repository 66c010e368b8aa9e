"""The map page (issue 16): served by the bridge with strict headers, and used in Debian's
Chromium through Playwright as a supervisor, a viewer and a Chinese-speaking user would.

The browser tests need /usr/bin/chromium and the playwright package (`make test` and .ci/run
install both); without them they are skipped with the reason. Screenshots go to
test-artifacts/ at the repository's root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from conftest import SANDBOX_NOW, Clock

from bot.demo.stack import Stack
from bot.webapp import page

PUBLIC_URL = "https://bridge.example.com"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock() -> Clock:
    return Clock(SANDBOX_NOW)


@pytest.fixture
def map_stack(
    make_bot_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> Callable[..., Awaitable[Stack]]:
    async def make(tiles: str | None = None) -> Stack:
        overrides = {"public_url": PUBLIC_URL}
        if tiles is not None:
            overrides["map_tiles"] = tiles
        return await make_bot_stack(bridge_overrides=overrides, clock=clock)

    return make


# -- the files, over HTTP --------------------------------------------------------------------


def test_the_csp_admits_the_tile_host_and_nothing_else() -> None:
    osm = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert page.tile_source(osm) == "https://*.tile.openstreetmap.org"
    assert page.tile_source("http://127.0.0.1:5123/tiles/{z}/{x}/{y}.png") == (
        "http://127.0.0.1:5123"
    )
    amap = "https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8"
    assert page.tile_source(amap) == "https://*.is.autonavi.com"
    assert page.tile_source(None) == "https:"
    csp = page.content_security_policy(osm)
    assert "script-src 'self'" in csp
    assert "img-src 'self' data: https://*.tile.openstreetmap.org" in csp
    assert "media-src blob:" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


async def test_the_page_and_its_files_are_served_with_strict_headers(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        index = await client.get("/app/")
        assert index.status_code == 200
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        assert index.headers["cache-control"] == "no-cache"
        assert index.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in index.headers["content-security-policy"]
        assert "static/map.js" in index.text
        for name, kind in [
            ("map.js", "text/javascript; charset=utf-8"),
            ("map.css", "text/css; charset=utf-8"),
            ("vendor/leaflet/leaflet.js", "text/javascript; charset=utf-8"),
            ("vendor/leaflet/leaflet.css", "text/css; charset=utf-8"),
            ("vendor/leaflet/images/layers.png", "image/png"),
        ]:
            got = await client.get(f"/app/static/{name}")
            assert got.status_code == 200, name
            assert got.headers["content-type"] == kind, name
            assert got.headers["x-content-type-options"] == "nosniff"
        assert (
            "max-age"
            in (await client.get("/app/static/vendor/leaflet/leaflet.js")).headers["cache-control"]
        )


@pytest.mark.parametrize(
    "path",
    [
        "/app/static/../page.py",
        "/app/static/%2e%2e/page.py",
        "/app/static/..%2fpage.py",
        "/app/static/vendor/../../api.py",
        "/app/static/vendor/build-stamp",
        "/app/static/vendor/leaflet/LICENSE",
        "/app/static/.hidden.js",
        "/app/static/nothing.js",
        "/app/static/vendor%5cleaflet%5cleaflet.js",
        "/app/static//etc/passwd",
    ],
)
async def test_no_way_out_of_the_static_folder(
    map_stack: Callable[..., Awaitable[Stack]], path: str
) -> None:
    stack = await map_stack()
    # A raw request line: httpx would normalise the dot-segments away.
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", stack.bridge.http_port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"404", (path, status_line)
    assert b"def " not in answer and b"root:" not in answer
