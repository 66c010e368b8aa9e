"""/track pictures over map tiles (issue 16 point 5) and the sandbox's tile server (point 6).

Real HTTP throughout: the sandbox platform serves the tiles on 127.0.0.1, a closed port
stands for a tile server that cannot be reached, and the requests each server received
are counted.
"""

from __future__ import annotations

import io

import httpx
from PIL import Image

from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.platform.routes.tiles import BACKGROUND, GRID, TILE_PX

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
