"""Map tiles for `/track` pictures: an XYZ tile source with a bounded disk cache.

`TileSource.basemap(view, size)` answers a picture of the map behind a view (Web
Mercator metres), stitched from the operator's tiles (`BRIDGE_MAP_TILES`), or None when
they cannot be had: the picture is then drawn without a map, as before. Tiles are
fetched with the process's one httpx client, a few at a time, with a short timeout;
after a failure the source counts as unreachable for `BACKOFF_S`, so that every
`/track` does not wait for a dead server again. Fetched tiles are kept on disk (one file
per tile, named by a hash, written atomically) up to `CACHE_BYTES`, the least recently
used removed first.

The tile URL's query can hold a key (天地图's `tk=`): it is never logged, and neither is
an httpx error's text (which quotes the URL). Only the host is named.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import httpx

from bot import __version__

if TYPE_CHECKING:
    from PIL.Image import Image

    from bot.config import BridgeSettings

log = logging.getLogger(__name__)

__all__ = [
    "BACKOFF_S",
    "CACHE_BYTES",
    "HALF_WORLD_M",
    "MAX_ZOOM",
    "TILE_PX",
    "Basemap",
    "TileCache",
    "TileSource",
    "View",
    "tile_range",
    "zoom_for",
]

TILE_PX: Final = 256
MAX_ZOOM: Final = 19
HALF_WORLD_M: Final = math.pi * 6_378_137.0  # Web Mercator: x and y in ±this many metres
CACHE_BYTES: Final = 256 * 1024 * 1024
"""The disk cache's bound: ~15,000 street-map tiles."""
MAX_AGE_S: Final = 30 * 86_400.0
"""A cached tile older than this is fetched again (kept if that fails): maps change."""
BACKOFF_S: Final = 300.0
"""After a failed fetch, pictures are drawn without tiles for this long."""
FETCH_TIMEOUT_S: Final = 4.0  # one tile
BATCH_TIMEOUT_S: Final = 8.0  # all tiles of one picture
PARALLEL: Final = 4  # tiles fetched at once (OpenStreetMap's policy asks for few)
MAX_TILE_BYTES: Final = 2 * 1024 * 1024
USER_AGENT: Final = f"pttbridge/{__version__} (Telegram dispatch bridge; /track pictures)"
_DEFAULT_SUBDOMAINS: Final = ("a", "b", "c")
# Providers whose `{s}` is a digit, as their own examples write it.
_SUBDOMAINS_BY_HOST: Final = {
    "autonavi.com": ("1", "2", "3", "4"),
    "tianditu.gov.cn": ("0", "1", "2", "3", "4", "5", "6", "7"),
}
# PNG, JPEG, GIF, WebP: what a tile server sends; anything else is an error page.
_IMAGE_MAGIC: Final = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"RIFF")


@dataclass(frozen=True)
class View:
    """A rectangle of the Web Mercator plane, in metres (x east, y north)."""

    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class Basemap:
    """The map behind `view`, as an RGB image exactly covering it; what to credit."""

    image: Image
    view: View
    attribution: str
    crs: str  # "wgs84" or "gcj02": the coordinates the tiles are drawn in


def zoom_for(view: View, width_px: int) -> int:
    """The zoom whose tiles show `view` `width_px` pixels wide nearest to their own scale."""
    metres_per_px = view.width / max(1, width_px)
    at_zero = 2 * HALF_WORLD_M / TILE_PX  # metres per pixel at zoom 0
    z = round(math.log2(at_zero / max(metres_per_px, 1e-9)))
    return max(0, min(MAX_ZOOM, z))


def _tile_coord(metres: float, z: int) -> float:
    """Metres from the west edge (x) or the north edge (y) as a tile number at zoom z."""
    return metres / (2 * HALF_WORLD_M) * (1 << z)


def tile_range(view: View, z: int) -> tuple[range, range]:
    """The tile columns and rows covering `view` at zoom z. Columns may run past the
    antimeridian (fetch them modulo 2^z); rows are cut to the world."""
    n = 1 << z
    tx0 = math.floor(_tile_coord(view.x0 + HALF_WORLD_M, z))
    tx1 = math.ceil(_tile_coord(view.x1 + HALF_WORLD_M, z))
    ty0 = max(0, math.floor(_tile_coord(HALF_WORLD_M - view.y1, z)))
    ty1 = min(n, math.ceil(_tile_coord(HALF_WORLD_M - view.y0, z)))
    return range(tx0, max(tx0 + 1, tx1)), range(ty0, max(ty0, ty1))


def _is_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC)


class TileCache:
    """Tiles on disk, one file per tile named by a hash of its key, at most `bound` bytes
    in all: beyond it the least recently read go first (their access time is set on each
    read, whatever the file system's `noatime`). Thread-safe; every method does disk I/O,
    so it is called from a worker thread. Disk errors are logged, never raised: a picture
    is not worth failing for a cache."""

    def __init__(self, folder: Path, bound: int = CACHE_BYTES) -> None:
        self.folder = folder
        self.bound = bound
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes in the folder, counted at first use

    def path(self, key: str) -> Path:
        return self.folder / (hashlib.sha256(key.encode()).hexdigest() + ".tile")

    def get(self, key: str, now: float) -> tuple[bytes, bool] | None:
        """The cached bytes and whether they are fresh (younger than `MAX_AGE_S`)."""
        path = self.path(key)
        try:
            data = path.read_bytes()
            fetched = path.stat().st_mtime
            os.utime(path, (now, fetched))  # the access time orders eviction
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("tile cache: cannot read a tile: %s", exc.strerror)
            return None
        return data, now - fetched < MAX_AGE_S

    def put(self, key: str, data: bytes) -> None:
        """Store a tile (atomically: a reader sees the old file or the new one, whole)."""
        path = self.path(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._lock:
                total = self._count()
                old = path.stat().st_size if path.exists() else 0
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            with self._lock:
                self._total = total + len(data) - old
                if self._total > self.bound:
                    self._evict()
        except OSError as exc:
            log.warning("tile cache: cannot store a tile: %s", exc.strerror)

    def drop(self, keys: Iterable[str]) -> None:
        """Forget tiles (ones that would not decode)."""
        for key in keys:
            path = self.path(key)
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("tile cache: cannot remove a tile: %s", exc.strerror)
                continue
            with self._lock:
                if self._total is not None:
                    self._total -= size

    @property
    def size(self) -> int:
        """Bytes the cache holds now."""
        with self._lock:
            return self._count()

    def _count(self) -> int:
        if self._total is None:
            total = 0
            for _, size, _ in self._entries():
                total += size
            self._total = total
        return self._total

    def _entries(self) -> list[tuple[float, int, str]]:
        """(access time, size, path) of each tile file; leftovers of interrupted writes
        are removed on the way."""
        out = []
        try:
            scan = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for entry in scan:
            try:
                if entry.name.endswith(".tmp"):
                    # Another thread's write in progress is minutes younger than this.
                    if time.time() - entry.stat().st_mtime > 3600:
                        os.unlink(entry.path)
                    continue
                if entry.name.endswith(".tile"):
                    st = entry.stat()
                    out.append((st.st_atime, st.st_size, entry.path))
            except FileNotFoundError:
                continue
        return out

    def _evict(self) -> None:
        """Remove the least recently read tiles down to 90 % of the bound (not just under
        it: each eviction scans the folder, so it should not come with every tile)."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        target = self.bound * 0.9
        for _, size, path in entries:
            if total <= target:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            total -= size
        self._total = total


class TileUnavailable(Exception):
    """A tile could not be had; the message is safe to log (no URL)."""


class TileSource:
    """The operator's XYZ tiles, fetched with the process's httpx client and cached on
    disk. Build once (`from_settings`); `basemap` is safe to call concurrently."""

    def __init__(
        self,
        template: str,
        *,
        http: httpx.AsyncClient,
        cache: TileCache,
        crs: str = "wgs84",
        attribution: str = "",
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        backoff_s: float = BACKOFF_S,
        timeout_s: float = FETCH_TIMEOUT_S,
    ) -> None:
        self.template = template
        self.crs = crs
        self.attribution = attribution
        self.cache = cache
        self._http = http
        self._monotonic = monotonic
        self._wall = wall
        self._backoff_s = backoff_s
        self._timeout = httpx.Timeout(timeout_s)
        self._down_until: float | None = None
        self._parallel = asyncio.Semaphore(PARALLEL)
        host = urlsplit(template.replace("{s}", "a")).hostname or ""
        self.host = host  # the only part of the URL ever logged
        self._subdomains = next(
            (subs for h, subs in _SUBDOMAINS_BY_HOST.items() if host == h or host.endswith(h)),
            _DEFAULT_SUBDOMAINS,
        )
        self.fetches = 0  # tile requests sent, for tests and the bench

    @classmethod
    def from_settings(cls, bridge: BridgeSettings, http: httpx.AsyncClient) -> TileSource:
        """The source `BRIDGE_MAP_TILES*` describe, cached beside the database."""
        return cls(
            bridge.map_tiles,
            http=http,
            cache=TileCache(Path(bridge.db_path).parent / "tiles"),
            crs=bridge.map_tiles_crs,
            attribution=bridge.map_attribution,
        )

    @property
    def reachable(self) -> bool:
        """False for `BACKOFF_S` after a failed fetch."""
        return self._down_until is None or self._monotonic() >= self._down_until

    def url(self, z: int, x: int, y: int) -> str:
        sub = self._subdomains[(x + y) % len(self._subdomains)]
        return (
            self.template.replace("{s}", sub)
            .replace("{z}", str(z))
            .replace("{x}", str(x))
            .replace("{y}", str(y))
            .replace("{r}", "")
        )

    def _key(self, z: int, x: int, y: int) -> str:
        # The template, not the URL: the subdomain chosen does not make another tile.
        return f"{self.template}\n{z}/{x}/{y}"

    async def basemap(self, view: View, size: tuple[int, int]) -> Basemap | None:
        """The map behind `view` as a `size` (width, height) image, or None when its
        tiles cannot all be had (from the cache, or from the server while reachable)."""
        if view.y1 > HALF_WORLD_M or view.y0 < -HALF_WORLD_M or view.width <= 0:
            return None  # beyond the map's edge (Web Mercator stops at ±85°)
        z = zoom_for(view, size[0])
        columns, rows = tile_range(view, z)
        n = 1 << z
        wanted = [(x, y) for y in rows for x in columns]
        now = self._wall()
        cached = await asyncio.to_thread(
            lambda: {xy: self.cache.get(self._key(z, xy[0] % n, xy[1]), now) for xy in wanted}
        )
        tiles = {xy: hit[0] for xy, hit in cached.items() if hit is not None}
        missing = [xy for xy, hit in cached.items() if hit is None or not hit[1]]
        if missing:
            fetched = await self._fetch_all(z, n, missing)
            if fetched is None and len(tiles) < len(wanted):
                return None
            tiles.update(fetched or {})
        try:
            image = await asyncio.to_thread(_stitch, tiles, z, columns, rows, view, size)
        # Whatever is wrong with a file that looked like an image (Pillow's errors are
        # OSError, ValueError, DecompressionBombError...), the picture goes without a map.
        except Exception as exc:
            self._down(f"a tile is not an image: {type(exc).__name__}")
            keys = [self._key(z, x % n, y) for x, y in wanted]
            await asyncio.to_thread(self.cache.drop, keys)
            return None
        return Basemap(image, view, self.attribution, self.crs)

    async def _fetch_all(
        self, z: int, n: int, wanted: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes] | None:
        """Each tile from the server (and into the cache), or None if any fails."""
        if not self.reachable:
            return None
        pairs = list(wanted)
        try:
            # A task group: the first failure cancels the tiles still on their way.
            async with asyncio.timeout(BATCH_TIMEOUT_S), asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._fetch(z, x % n, y)) for x, y in pairs]
        except TimeoutError:
            self._down("timed out")
            return None
        except ExceptionGroup as failed:
            reasons = [e for e in failed.exceptions if isinstance(e, TileUnavailable)]
            if len(reasons) < len(failed.exceptions):
                raise
            self._down(str(reasons[0]))
            return None
        datas = [task.result() for task in tasks]
        got = dict(zip(pairs, datas, strict=True))

        def store() -> None:
            for (x, y), data in got.items():
                self.cache.put(self._key(z, x % n, y), data)

        await asyncio.to_thread(store)
        self._down_until = None
        return got

    async def _fetch(self, z: int, x: int, y: int) -> bytes:
        async with self._parallel:
            if not self.reachable:  # another tile of this picture failed meanwhile
                raise TileUnavailable("unreachable")
            self.fetches += 1
            try:
                async with self._http.stream(
                    "GET",
                    self.url(z, x, y),
                    headers={"User-Agent": USER_AGENT, "Accept": "image/png,image/*;q=0.8"},
                    timeout=self._timeout,
                    follow_redirects=True,
                ) as resp:
                    if resp.status_code != 200:
                        raise TileUnavailable(f"HTTP {resp.status_code}")
                    data = bytearray()
                    async for chunk in resp.aiter_bytes():
                        data += chunk
                        if len(data) > MAX_TILE_BYTES:
                            raise TileUnavailable("a tile over 2 MB")
            except httpx.HTTPError as exc:  # its text quotes the URL: only its kind is told
                raise TileUnavailable(type(exc).__name__) from None
            if not _is_image(bytes(data[:12])):
                raise TileUnavailable("not an image")
            return bytes(data)

    def _down(self, reason: str) -> None:
        if self.reachable:
            log.warning(
                "map tiles from %s cannot be had (%s): /track pictures are drawn without "
                "a map for %d s",
                self.host,
                reason,
                self._backoff_s,
            )
        self._down_until = self._monotonic() + self._backoff_s


def _stitch(
    tiles: dict[tuple[int, int], bytes],
    z: int,
    columns: range,
    rows: range,
    view: View,
    size: tuple[int, int],
) -> Image:
    """The tiles pasted side by side, cut to `view` and scaled to `size`."""
    from PIL import Image as PILImage

    canvas = PILImage.new("RGB", (len(columns) * TILE_PX, len(rows) * TILE_PX), "white")
    for (x, y), data in tiles.items():
        with PILImage.open(io.BytesIO(data)) as tile:
            if max(tile.size) > 4 * TILE_PX:  # read from the header, before decoding
                raise ValueError(f"a tile of {tile.size[0]}x{tile.size[1]} pixels")
            tile.load()
            rgb = tile.convert("RGB")
        if rgb.size != (TILE_PX, TILE_PX):  # a retina (512 px) tile
            rgb = rgb.resize((TILE_PX, TILE_PX), PILImage.Resampling.LANCZOS)
        canvas.paste(rgb, ((x - columns.start) * TILE_PX, (y - rows.start) * TILE_PX))
    scale = TILE_PX
    left = (_tile_coord(view.x0 + HALF_WORLD_M, z) - columns.start) * scale
    right = (_tile_coord(view.x1 + HALF_WORLD_M, z) - columns.start) * scale
    top = (_tile_coord(HALF_WORLD_M - view.y1, z) - rows.start) * scale
    bottom = (_tile_coord(HALF_WORLD_M - view.y0, z) - rows.start) * scale
    return canvas.resize(
        size, PILImage.Resampling.LANCZOS, box=(left, top, right, bottom), reducing_gap=2.0
    )
