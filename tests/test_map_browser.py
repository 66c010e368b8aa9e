"""The map page (issue 16): served by the bridge with strict headers, and used in Debian's
Chromium through Playwright as a supervisor, a viewer and a Chinese-speaking user would.

The browser tests need /usr/bin/chromium and the playwright package (`make test` and .ci/run
install both); without them they fail naming what is missing, unless PTTBRIDGE_SKIP_BROWSER=1
says to skip them. Screenshots go to
test-artifacts/ at the repository's root."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
from conftest import SANDBOX_NOW, Clock

from bot.demo.stack import BOT_TOKEN, PEOPLE, Stack
from bot.sandbox.platform import SandboxPlatform
from bot.webapp import page
from bot.webapp.auth import sign_init_data
from bot.webapp.links import LIGHT_THEME

PUBLIC_URL = "https://bridge.example.com"
ROOT = Path(__file__).resolve().parent.parent
NOW = SANDBOX_NOW.astimezone(UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(SANDBOX_NOW)


@pytest.fixture
def map_stack(
    make_bot_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> Callable[..., Awaitable[Stack]]:
    async def make(language: str = "en", platform: dict[str, Any] | None = None) -> Stack:
        # The stack's tiles are the sandbox's own (GET /tiles/{z}/{x}/{y}.png on 127.0.0.1).
        return await make_bot_stack(
            bridge_overrides={"public_url": PUBLIC_URL},
            platform_overrides=platform or {},
            clock=clock,
            language=language,
        )

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
    assert page.tile_source("https://t{s}.example.{s}/{z}/{x}/{y}") == "https:"
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
        csp = index.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        # Images: the page's own and the sandbox's tiles, no other host.
        assert f"img-src 'self' data: {stack.platform.url};" in csp
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
        leaflet = await client.get(
            "/app/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"}
        )
        assert "max-age" in leaflet.headers["cache-control"]
        assert leaflet.headers["content-encoding"] == "gzip"
        assert "Leaflet" in leaflet.text  # httpx took the gzip off


HOSTILE_PATHS = [
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
    "/app/static/index.html",
]


async def test_no_way_out_of_the_static_folder(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    assert stack.bridge is not None
    for path in HOSTILE_PATHS:
        # A raw request line: httpx would normalise the dot-segments away.
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.bridge.http_port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        status_line = answer.split(b"\r\n", 1)[0]
        assert status_line.split()[1] == b"404", (path, status_line)
        assert b"def " not in answer and b"root:" not in answer


async def test_an_unbuilt_page_says_how_to_build_it(
    map_stack: Callable[..., Awaitable[Stack]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    stack = await map_stack()
    (tmp_path / "index.html").write_text("<!doctype html>", encoding="utf-8")
    monkeypatch.setattr(page, "STATIC", tmp_path)  # the committed files, no vendor/
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        answer = await client.get("/app/")
    assert answer.status_code == 503
    assert answer.json() == {"error": page.NOT_BUILT}
    assert "web/build.py" in page.NOT_BUILT


# -- in Chromium -----------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
GROUP = 1002
DARK = {
    **LIGHT_THEME,
    "bg_color": "#17212b",
    "text_color": "#f5f5f5",
    "secondary_bg_color": "#232e3c",
}


def _browser_missing() -> str | None:
    if not CHROMIUM.is_file():
        return f"no {CHROMIUM}: apt-get install chromium (make test does, as root)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "no playwright: pip install -e '.[dev]'"
    if not (page.STATIC / "vendor" / "leaflet" / "leaflet.js").is_file():
        return "the map page is not built: python web/build.py"
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never a browser Playwright fetched)."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("PTTBRIDGE_SKIP_BROWSER") == "1":
            pytest.skip(missing)
        # `make test` installs both: a silent skip would hide the page's tests.
        pytest.fail(f"{missing} (or set PTTBRIDGE_SKIP_BROWSER=1 to skip the browser tests)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        yield chromium
        await chromium.close()


def person(key: str) -> int:
    return next(p.id for p in PEOPLE if p.key == key)


def init_data(user_id: int, *, at: datetime) -> str:
    user = {"id": user_id, "first_name": "Map", "language_code": "en"}
    return sign_init_data(BOT_TOKEN, user, auth_date=at)


def map_url(
    stack: Stack,
    who: str,
    *,
    query: str = f"group={GROUP}",
    theme: dict[str, str] | None = None,
    init: str | None = None,
) -> str:
    """The page as Telegram opens it for `who` (the stack's launch URL: their language,
    Telegram's light theme), with another `theme` or `init` data if given."""
    url = stack.map_url(who, query)
    if theme is None and init is None:
        return url
    page_url, _, fragment = url.partition("#")
    fields = dict(parse_qsl(fragment))
    if theme is not None:
        fields["tgWebAppThemeParams"] = json.dumps(theme, separators=(",", ":"))
    if init is not None:
        fields["tgWebAppData"] = init
    return f"{page_url}#{urlencode(fields, quote_via=quote)}"


async def open_page(browser: Any, url: str) -> Any:
    """A phone-sized tab on `url`; the page's console errors fail the test at the end."""
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2)
    tab = await context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
    await tab.goto(url)
    return tab


async def screenshot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await tab.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def markers_shown(tab: Any) -> list[dict[str, Any]]:
    await tab.wait_for_function("() => window.pttmap && window.pttmap.markers().length > 0")
    # Tiles drawn before a screenshot (they come from the sandbox on 127.0.0.1).
    await tab.wait_for_function(
        "() => [...document.querySelectorAll('.leaflet-tile')]"
        ".some(t => t.complete && t.naturalWidth)"
    )
    return list(await tab.evaluate("window.pttmap.markers()"))


async def supervisor_on_the_map(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> tuple[Stack, Any, list[dict[str, Any]]]:
    """A supervisor's phone showing talk group GROUP: the stack, the tab, the markers."""
    stack = await map_stack()
    tab = await open_page(browser, map_url(stack, "supervisor"))
    return stack, tab, await markers_shown(tab)


async def tap_member(tab: Any, uid: int) -> None:
    await tab.locator(f'.pm[data-id="{uid}"]').click()
    await tab.locator("#sheet").wait_for(state="visible")


async def api_get(stack: Stack, who: str, path: str) -> dict[str, Any]:
    auth = f"tma {init_data(person(who), at=NOW)}"
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        response = await client.get(path, headers={"Authorization": auth})
    assert response.status_code == 200, response.text
    return dict(response.json())


def with_fix(stack: Stack, gid: int) -> dict[int, tuple[float, float]]:
    """The sandbox's own fixes of a group's members (WGS-84: the tiles' CRS here)."""
    return with_fix_of(stack.platform, gid)


def with_fix_of(sandbox: SandboxPlatform, gid: int) -> dict[int, tuple[float, float]]:
    data = sandbox.data
    fixes = {u.id: data.fix_now(u) for u in data.members(gid)}
    return {uid: (f.lat, f.lon) for uid, f in fixes.items() if f is not None}


async def test_a_group_on_the_map(browser: Any, map_stack: Callable[..., Awaitable[Stack]]) -> None:
    stack, tab, markers = await supervisor_on_the_map(browser, map_stack)
    expected = with_fix(stack, GROUP)
    assert expected and {m["id"] for m in markers} == set(expected)
    for m in markers:
        lat, lon = expected[m["id"]]
        assert (m["lat"], m["lng"]) == pytest.approx((lat, lon), abs=1e-6), m
    # Each marker is drawn with its name under it, and its state in the legend's words.
    answer = await api_get(stack, "supervisor", f"/app/api/positions?group={GROUP}")
    names = {mm["name"] for mm in answer["members"] if mm["fix"]}
    assert set(await tab.locator(".pm .label").all_text_contents()) == names
    # Online, online with an old fix, offline: the API's words, the marker's colour.
    for mm in answer["members"]:
        if mm["fix"]:
            status = "offline" if not mm["online"] else "stale" if mm["fix"]["stale"] else "online"
            assert next(m for m in markers if m["id"] == mm["id"])["status"] == status
            assert await tab.locator(f'.pm.{status}[data-id="{mm["id"]}"]').count() == 1
    assert {m["status"] for m in markers} >= {"online", "offline"}
    assert await tab.locator("#legend").inner_text() == "online\nonline, old fix\noffline"
    me = await api_get(stack, "supervisor", "/app/api/me")
    attribution = me["map"]["attribution"]
    assert attribution and await tab.locator("#attribution").inner_text() == (
        f"Leaflet | {attribution}"
    )
    assert await tab.locator("#picker").input_value() == f"group:{GROUP}"
    assert await tab.locator("#fence-add").is_visible()
    await screenshot(tab, "group-on-the-map")
    assert tab.errors == []


async def test_the_picker_and_the_start_parameter_open_a_target(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    stack = await map_stack()
    # Opened with no target: the list of talk groups and orgs, nothing on the map yet.
    tab = await open_page(browser, map_url(stack, "supervisor", query=""))
    picker = tab.locator("#picker")
    await picker.locator("optgroup").first.wait_for(state="attached")
    assert await picker.locator("option:checked").inner_text() == "Choose a talk group…"
    assert await tab.evaluate("window.pttmap.markers()") == []
    groups = await api_get(stack, "supervisor", "/app/api/groups")
    assert await picker.locator("optgroup[label='Talk groups'] option").count() == len(
        groups["groups"]
    )
    assert await picker.locator("optgroup[label='Orgs'] option").count() == len(groups["orgs"])
    await picker.select_option(f"group:{GROUP}")
    assert {m["id"] for m in await markers_shown(tab)} == set(with_fix(stack, GROUP))
    assert "group=1002" in tab.url
    # An org: the users of its subtree.
    org = groups["orgs"][0]["id"]
    await picker.select_option(f"org:{org}")
    expected = await api_get(stack, "supervisor", f"/app/api/positions?org={org}")
    ids = {m["id"] for m in expected["members"] if m["fix"]}
    await tab.wait_for_function(
        "(ids) => { const got = window.pttmap.markers().map(m => m.id).sort();"
        " return JSON.stringify(got) === JSON.stringify(ids); }",
        arg=sorted(ids),
    )
    # One member (?user=): their marker alone, their name in the picker.
    uid = sorted(with_fix(stack, GROUP))[0]
    tab = await open_page(browser, map_url(stack, "supervisor", query=f"user={uid}"))
    assert [m["id"] for m in await markers_shown(tab)] == [uid]
    name = stack.platform.data.users[uid].name
    assert await tab.locator("#picker option:checked").inner_text() == name
    # Opened from a group chat's link: t.me/<bot>?startapp=g1002 gives start_param g1002.
    url = stack.map_url("supervisor", "", start_param=f"g{GROUP}")
    tab = await open_page(browser, url)
    assert {m["id"] for m in await markers_shown(tab)} == set(with_fix(stack, GROUP))
    assert await tab.locator("#picker").input_value() == f"group:{GROUP}"
    assert tab.errors == []


async def test_names_from_the_platform_are_text_not_html(
    browser: Any, make_bot_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> None:
    hostile = '<img src=x onerror="window.pwned=1">Zhang'
    sandbox = SandboxPlatform(now=lambda: SANDBOX_NOW)
    uid = sorted(with_fix_of(sandbox, GROUP))[0]
    sandbox.data.users[uid].name = hostile
    sandbox.data.groups[GROUP].name = "<b>Alpha</b>"
    stack = await make_bot_stack(
        sandbox=sandbox, bridge_overrides={"public_url": PUBLIC_URL}, clock=clock
    )
    tab = await open_page(browser, map_url(stack, "supervisor"))
    await markers_shown(tab)
    label = tab.locator(f'.pm[data-id="{uid}"] .label')
    assert await label.inner_text() == hostile
    assert await tab.locator(".pm img").count() == 0
    await tap_member(tab, uid)
    assert await tab.locator("#sheet-name").inner_text() == hostile
    assert await tab.locator("#sheet img, #picker b").count() == 0
    assert (await tab.locator("#picker option:checked").inner_text()).startswith("<b>Alpha</b>")
    assert await tab.evaluate("window.pwned === undefined")


async def test_a_members_track_and_its_slider(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    stack, tab, markers = await supervisor_on_the_map(browser, map_stack)
    uid = markers[0]["id"]
    await tap_member(tab, uid)
    sheet = tab.locator("#sheet")
    await sheet.wait_for(state="visible")
    assert "Account" in await sheet.inner_text()
    answer = await api_get(stack, "supervisor", f"/app/api/positions?user={uid}")
    [member] = answer["members"]
    heading = round(member["fix"]["heading"])
    compass = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"][round(heading % 360 / 45) % 8]
    assert f"{compass} ({heading}°)" in await sheet.inner_text()
    await tab.get_by_role("button", name="Track").click()
    await tab.wait_for_function("() => window.pttmap.trackPoints() > 0")
    track = await api_get(stack, "supervisor", f"/app/api/track?user={uid}&hours=4")
    points = track["points"]
    assert await tab.evaluate("window.pttmap.trackPoints()") == len(points)
    # A line coloured by speed: more than one colour, each one of the legend's.
    colours = set(
        await tab.eval_on_selector_all(
            "path.leaflet-interactive", "ps => ps.map(p => p.getAttribute('stroke'))"
        )
    )
    assert len(colours) > 1 and colours <= {"#1e88e5", "#43a047", "#fb8c00", "#e53935"}
    assert "Speed" in await tab.locator("#legend").inner_text()
    # The slider moves a marker along the track and says when and how fast.
    slider = tab.locator("#track-slider")
    for index in (0, len(points) // 2):
        await slider.fill(str(index))
        dot = await tab.evaluate("window.pttmap.trackDot()")
        assert (dot["lat"], dot["lng"]) == pytest.approx(tuple(points[index][:2]), abs=1e-9)
        at = await tab.locator("#track-at").inner_text()
        assert f"{round(points[index][3])} km/h" in at
        # The time as chat shows it: in BRIDGE_TIMEZONE, whatever the phone's zone.
        shown = datetime.fromtimestamp(points[index][2], stack.bridge.settings.bridge.tz)
        assert at.startswith(shown.strftime("%H:%M:%S")), at
    assert "points" in await tab.locator("#track-summary").inner_text()
    await screenshot(tab, "track-with-slider")
    # Fewer hours back: the track asked again, shorter.
    shorter = await api_get(stack, "supervisor", f"/app/api/track?user={uid}&hours=1")
    assert len(shorter["points"]) < len(points)
    await tab.locator("#track-hours").select_option("1")
    await tab.wait_for_function(
        "(n) => window.pttmap.trackPoints() === n", arg=len(shorter["points"])
    )
    assert (await tab.locator("#track-summary").inner_text()).startswith("Last 1 h:")
    assert tab.errors == []


async def test_a_recording_plays_in_the_page(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    stack, tab, markers = await supervisor_on_the_map(browser, map_stack)
    uid = markers[0]["id"]
    await tap_member(tab, uid)
    await tab.get_by_role("button", name="Recordings").click()
    first = tab.locator("#rec-list li button").first
    await first.wait_for(state="visible")
    listed = await api_get(stack, "supervisor", f"/app/api/recordings?user={uid}")
    assert listed["recordings"]
    assert await tab.locator("#rec-list li button").count() == len(listed["recordings"])
    await tab.evaluate(
        """() => { window.canplay = false;
        document.getElementById('rec-audio').addEventListener('canplay',
            () => { window.canplay = true; }, { once: true }); }"""
    )
    await first.click()
    await tab.wait_for_function("() => window.canplay === true")
    src = await tab.locator("#rec-audio").get_attribute("src")
    assert src is not None and src.startswith("blob:")
    duration = await tab.evaluate("document.getElementById('rec-audio').duration")
    assert duration > 0
    assert tab.errors == []


async def test_a_supervisor_draws_fences_and_they_are_saved(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    stack, tab, _ = await supervisor_on_the_map(browser, map_stack)
    spots = await free_spots(tab)
    # A circle: tap the centre, widen it, name it, save.
    await tab.get_by_role("button", name="+ Fence").click()
    await tab.get_by_role("button", name="Circle").click()
    centre = spots[0]
    await tab.mouse.click(*centre)
    await tab.locator("#draw-radius").fill("500")
    assert "500 m" in await tab.locator("#draw-radius-label").inner_text()
    await tab.locator("#draw-name").fill("Depot")
    await tab.get_by_role("button", name="Save").click()
    await tab.wait_for_function("() => window.pttmap.fences().length === 1")
    # A polygon: three taps, Done, a name, save.
    await tab.get_by_role("button", name="+ Fence").click()
    await tab.get_by_role("button", name="Polygon").click()
    corner = next(p for p in spots[3:] if p[1] != spots[1][1])  # not in a line
    for spot in (spots[1], spots[2], corner):
        await tab.mouse.click(*spot)
    await tab.get_by_role("button", name="Done").click()
    await tab.locator("#draw-name").fill("Yard")
    await tab.get_by_role("button", name="Save").click()
    await tab.wait_for_function("() => window.pttmap.fences().length === 2")
    saved = await api_get(stack, "supervisor", "/app/api/fences")
    by_name = {f["name"]: f for f in saved["fences"]}
    assert by_name["Depot"]["kind"] == "circle"
    assert by_name["Depot"]["radius_m"] == pytest.approx(500, abs=1)
    assert by_name["Yard"]["kind"] == "polygon" and len(by_name["Yard"]["points"]) == 3
    # Where it was tapped: the map's own reading of that pixel.
    tapped = await tab.evaluate(
        "([x, y]) => window.pttmap.pointToLatLng(x, y)", [centre[0], centre[1]]
    )
    depot = by_name["Depot"]
    # (to a fraction of a pixel: the API answers six decimals)
    assert (depot["lat"], depot["lon"]) == pytest.approx((tapped["lat"], tapped["lng"]), abs=1e-4)
    # Both are drawn with their names; a taken name is said in words.
    assert {"Depot", "Yard"} <= set(await tab.locator(".fence-label").all_text_contents())
    # ... below the members: a fence's name never hides a marker (markerPane is at 600).
    pane_z = (
        "() => +getComputedStyle(document.querySelector('.fence-tooltip').parentElement).zIndex"
    )
    assert await tab.evaluate(pane_z) < 600
    await tab.get_by_role("button", name="+ Fence").click()
    await tab.get_by_role("button", name="Circle").click()
    await tab.mouse.click(*spots[-1])
    await tab.locator("#draw-name").fill("Depot")
    await tab.get_by_role("button", name="Save").click()
    await tab.locator("#draw-error").get_by_text("That name is taken.").wait_for()
    await screenshot(tab, "fences")
    # Deleted from its popup: a tap on the fence (where its name is), then Delete.
    await tab.get_by_role("button", name="Cancel").click()
    label = await tab.locator(".fence-label", has_text="Yard").bounding_box()
    assert label is not None
    await tab.mouse.click(label["x"] + label["width"] / 2, label["y"] + label["height"] / 2)
    await tab.locator(".leaflet-popup .fence-delete").click()
    await tab.wait_for_function("() => window.pttmap.fences().length === 1")
    left = await api_get(stack, "supervisor", "/app/api/fences")
    assert [f["name"] for f in left["fences"]] == ["Depot"]
    # Chromium logs the 409 answer itself as a failed resource; nothing else went wrong.
    assert all("409" in e for e in tab.errors), tab.errors


async def free_spots(tab: Any) -> list[tuple[float, float]]:
    """Points in the map's upper half (above any sheet), clear of the markers and the zoom
    buttons, far enough apart that a fence drawn on one does not cover the next."""
    box = await tab.locator("#map").bounding_box()
    assert box is not None
    taken = [
        await tab.evaluate("([a, b]) => window.pttmap.latLngToPoint(a, b)", [m["lat"], m["lng"]])
        for m in await tab.evaluate("window.pttmap.markers()")
    ]
    spots: list[tuple[float, float]] = []
    for y in range(int(box["y"]) + 30, int(box["y"] + box["height"] * 0.45), 20):
        for x in range(int(box["x"]) + 70, int(box["x"] + box["width"]) - 20, 20):
            near = [*taken, *({"x": sx, "y": sy} for sx, sy in spots)]
            if all(abs(p["x"] - x) > 40 or abs(p["y"] - y) > 40 for p in near):
                spots.append((x, y))
    assert len(spots) >= 5 and len({y for _, y in spots}) > 1, spots
    return spots


async def test_the_language_and_theme_follow_the_user(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    stack = await map_stack(language="zh")
    tab = await open_page(browser, map_url(stack, "supervisor", theme=DARK))
    await markers_shown(tab)
    assert await tab.evaluate("document.documentElement.lang") == "zh-CN"
    assert await tab.locator("#legend").inner_text() == "在线\n在线，位置较旧\n离线"
    assert await tab.locator("#fence-add").inner_text() == "+ 围栏"
    uid = (await tab.evaluate("window.pttmap.markers()"))[0]["id"]
    await tap_member(tab, uid)
    sheet = await tab.locator("#sheet").inner_text()
    assert "账号" in sheet and "轨迹" in sheet and "录音" in sheet and "跟随" in sheet
    assert "东（90°）" in sheet  # the sandbox's heading, in words as the chat says it
    assert not any(word in sheet for word in ("Account", "Track", "Recordings", "Follow"))
    assert await tab.locator(".leaflet-control-zoom-in").get_attribute("title") == "放大"
    background = await tab.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(23, 33, 43)"  # the theme's bg_color
    await screenshot(tab, "zh-dark-member")
    assert tab.errors == []


async def test_follow_keeps_the_member_centred(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    _, tab, markers = await supervisor_on_the_map(browser, map_stack)
    target = markers[-1]
    await tap_member(tab, target["id"])
    await tab.get_by_role("button", name="Follow").click()
    assert await tab.evaluate("window.pttmap.following()") == target["id"]
    await tab.get_by_role("button", name="Stop following").wait_for()
    # Within two pixels of the map's middle.
    centred = """([lat, lng]) => { const p = window.pttmap.latLngToPoint(lat, lng);
        const r = document.getElementById('map').getBoundingClientRect();
        return Math.abs(p.x - r.left - r.width / 2) < 2
            && Math.abs(p.y - r.top - r.height / 2) < 2; }"""
    await tab.wait_for_function(centred, arg=[target["lat"], target["lng"]])
    # Moved away by hand, the map comes back to them at the next refresh.
    await drag_the_map(tab)
    assert not await tab.evaluate(centred, [target["lat"], target["lng"]])
    await refresh_now(tab)
    await tab.wait_for_function(centred, arg=[target["lat"], target["lng"]])
    # Stopped: the next refresh leaves the map where the user put it.
    await tab.get_by_role("button", name="Stop following").click()
    assert await tab.evaluate("window.pttmap.following()") is None
    await drag_the_map(tab)
    await refresh_now(tab)
    assert not await tab.evaluate(centred, [target["lat"], target["lng"]])
    assert tab.errors == []


async def test_polling_pauses_while_the_page_is_hidden(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    _, tab, _ = await supervisor_on_the_map(browser, map_stack)
    await tab.wait_for_function("() => window.pttmap.polling()")
    # Telegram hides the Mini App (another chat, the phone locked): no more requests.
    await tab.evaluate(
        """() => { Object.defineProperty(document, 'hidden', { value: true, configurable: true });
        document.dispatchEvent(new Event('visibilitychange')); }"""
    )
    assert await tab.evaluate("window.pttmap.polling()") is False
    # Shown again: asked at once, then every refresh_s again.
    await tab.evaluate("() => { delete document.hidden; }")
    await refresh_now(tab)
    await tab.wait_for_function("() => window.pttmap.polling()")
    assert tab.errors == []


async def drag_the_map(tab: Any) -> None:
    await tab.mouse.move(200, 300)
    await tab.mouse.down()
    await tab.mouse.move(60, 200, steps=5)
    await tab.mouse.up()


async def refresh_now(tab: Any) -> None:
    """The positions asked again at once, as when the user comes back to the app (the page
    refreshes on `visibilitychange` to visible), instead of waiting for the next period."""
    loads = await tab.evaluate("window.pttmap.loads()")
    await tab.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await tab.wait_for_function(f"() => window.pttmap.loads() > {loads}")


async def test_a_viewer_sees_who_is_online_but_no_markers(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    stack = await map_stack()
    tab = await open_page(browser, map_url(stack, "viewer"))
    await tab.locator("#presence-list li").first.wait_for()
    members = stack.platform.data.members(GROUP)
    assert await tab.locator("#presence-list li").count() == len(members)
    assert "Positions need a supervisor" in await tab.locator("#presence-note").inner_text()
    assert await tab.evaluate("window.pttmap.markers()") == []
    assert await tab.locator(".pm").count() == 0
    assert not await tab.locator("#fence-add").is_visible()
    await screenshot(tab, "viewer-presence")
    assert tab.errors == []


async def test_api_errors_are_said_in_words(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    stack = await map_stack()
    expired = init_data(person("supervisor"), at=NOW - timedelta(days=2))
    tab = await open_page(browser, map_url(stack, "supervisor", init=expired))
    banner = tab.locator("#banner")
    await banner.wait_for(state="visible")
    assert "Open the map again from Telegram" in await banner.inner_text()
    tab = await open_page(browser, map_url(stack, "stranger"))
    await banner_text(tab, "You have no role for the map")
    tab = await open_page(browser, f"{stack.bridge_url}/app/")
    await banner_text(tab, "Open the map from Telegram")
    tab = await open_page(browser, map_url(stack, "scoped", query="group=99999999"))
    await banner_text(tab, "Not found, or outside your scope")


async def banner_text(tab: Any, words: str) -> None:
    await tab.locator("#banner").get_by_text(words).wait_for()


async def test_platform_trouble_is_said_in_words_and_the_page_keeps_asking(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> None:
    stack = await map_stack(platform={"timeout_s": 2})
    # 2.4 failing: the bridge answers 502.
    stack.platform.fail_next("/location/getLatestCoords", "status", status=503, times=1)
    tab = await open_page(browser, map_url(stack, "supervisor"))
    await banner_text(tab, "The dispatch platform did not answer as expected")
    # The page asks again by itself (the next refresh is brought forward here): markers come.
    await refresh_now(tab)
    await markers_shown(tab)
    assert not await tab.locator("#banner").is_visible()
    # 2.4 stalled: 504 at the platform's timeout, said so (2 s on: the last answer, shared
    # with identical requests for 2 s, is not served again).
    clock.advance(timedelta(seconds=2))
    stack.platform.fail_next("/location/getLatestCoords", "delay", delay=3600, times=1)
    await tab.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await banner_text(tab, "The dispatch platform is not answering")
    await screenshot(tab, "platform-not-answering")


def zh_init_data(user_id: int, *, at: datetime) -> str:
    user = {"id": user_id, "first_name": "地图", "language_code": "zh-hans"}
    return sign_init_data(BOT_TOKEN, user, auth_date=at)


async def test_refusals_and_trouble_are_said_in_chinese(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    stack = await map_stack(language="zh")
    expired = zh_init_data(person("supervisor"), at=NOW - timedelta(days=2))
    tab = await open_page(browser, map_url(stack, "supervisor", init=expired))
    await banner_text(tab, "请从 Telegram 重新打开地图：登录信息已过期或无效。")
    stranger = zh_init_data(person("stranger"), at=NOW)
    tab = await open_page(browser, map_url(stack, "stranger", init=stranger))
    await banner_text(tab, "您没有使用地图的角色，请联系管理员。")
    tab = await open_page(browser, map_url(stack, "scoped", query="group=99999999"))
    await banner_text(tab, "未找到，或不在您的权限范围内。")
    stack.platform.fail_next("/location/getLatestCoords", "status", status=503, times=1)
    tab = await open_page(browser, map_url(stack, "supervisor"))
    await banner_text(tab, "调度平台没有正常应答，请稍后再试。")
    # No initData at all (the page opened outside Telegram): the phone's language.
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    bare = await context.new_page()
    await bare.goto(f"{stack.bridge_url}/app/")
    await banner_text(bare, "请从 Telegram 打开地图：本页面需要 Telegram 的登录信息。")
    await screenshot(bare, "no-init-data-zh")


async def test_the_csp_stops_an_injected_inline_script(
    browser: Any, map_stack: Callable[..., Awaitable[Stack]]
) -> None:
    _, tab, _ = await supervisor_on_the_map(browser, map_stack)
    # What an HTML injection would add: an inline script, an inline handler. CSP refuses both
    # (tab.evaluate itself runs through the DevTools protocol, outside the page's CSP).
    refused = await tab.evaluate(
        """() => new Promise((resolve) => {
            const seen = [];
            document.addEventListener("securitypolicyviolation", (e) => {
                seen.push(e.effectiveDirective);
                if (seen.length === 2) resolve(seen.sort());
            });
            const script = document.createElement("script");
            script.textContent = "window.injected = 'script'";
            document.body.append(script);
            const div = document.createElement("div");
            div.innerHTML = '<img src="data:," onload="window.injected = \\'handler\\'">';
            document.body.append(div);
        })"""
    )
    assert refused == ["script-src-attr", "script-src-elem"]
    assert await tab.evaluate("typeof window.injected") == "undefined"
    # The refusals are the only errors the page logged.
    assert tab.errors and all("Content Security Policy" in e for e in tab.errors), tab.errors
