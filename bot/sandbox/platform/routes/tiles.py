"""Map tiles: `GET /tiles/{z}/{x}/{y}.png`, plain labelled 256×256 tiles.

Not part of the platform's API: the map page and `/track` pictures need a tile server,
and the sandbox is how they work with no Internet. Each tile is a light background, a
grid line along its top and left edges and its `z/x/y` in the middle; rendered tiles are
kept in memory (a bounded LRU). No token: tile servers are public.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Final

from aiohttp import web
from PIL import Image, ImageDraw, ImageFont

from bot.sandbox.platform.state import PlatformState

TILE_PX: Final = 256
MAX_ZOOM: Final = 19
BACKGROUND: Final = (242, 239, 233)
"""The tiles' colour: tests look for it in pictures drawn over them."""
GRID: Final = (190, 184, 172)
LABEL: Final = (110, 104, 96)
CACHED_TILES: Final = 1024  # ~1.5 kB each


def tile_numbers(z: str, x: str, y: str) -> tuple[int, int, int] | None:
    """The tile's numbers when they name a tile of the world, else None."""
    if not (z.isascii() and x.isascii() and y.isascii()):
        return None
    if not (z.isdigit() and x.isdigit() and y.isdigit()) or max(map(len, (z, x, y))) > 7:
        return None
    zi, xi, yi = int(z), int(x), int(y)
    if zi > MAX_ZOOM or xi >= 1 << zi or yi >= 1 << zi:
        return None
    return zi, xi, yi


@lru_cache(maxsize=CACHED_TILES)
def tile_png(z: int, x: int, y: int) -> bytes:
    """The PNG of tile z/x/y."""
    image = Image.new("RGB", (TILE_PX, TILE_PX), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.line([(0, 0), (TILE_PX - 1, 0)], fill=GRID, width=1)
    draw.line([(0, 0), (0, TILE_PX - 1)], fill=GRID, width=1)
    font = ImageFont.load_default(size=18)
    draw.text((TILE_PX / 2, TILE_PX / 2), f"{z}/{x}/{y}", fill=LABEL, font=font, anchor="mm")
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


class TileRoutes(PlatformState):
    """`GET /tiles/{z}/{x}/{y}.png`."""

    async def _tile(self, request: web.Request) -> web.Response:
        m = request.match_info
        numbers = tile_numbers(m["z"], m["x"], m["y"])
        if numbers is None:
            return web.Response(
                status=400,
                text=f"no such tile: z in 0..{MAX_ZOOM}, x and y in 0..2^z-1\n",
            )
        return web.Response(
            body=tile_png(*numbers),
            content_type="image/png",
            headers={"Cache-Control": "public, max-age=86400"},
        )
