"""The map page itself: `GET /app/` and its static files under `/app/static/`.

The files hold no data (everything comes from the authenticated API), so they are served
without initData. The page's own files are committed in `static/`; Leaflet is copied into
`static/vendor/` by `web/build.py` (make and the wheel build run it).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
NOT_BUILT = "the map page is not built: run `make` (web/build.py needs npm)"

# Only these kinds of file are served; anything else under static/ is 404.
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
# A name made of plain segments: no dot-segments, no hidden files, no backslashes, no '%'.
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")


def tile_source(tiles: str) -> str:
    """The CSP source that admits the tile template's host: `{s}.tile.osm.org` -> `*.tile.osm.org`.

    A template whose host CSP cannot name (a placeholder inside a label other than the first)
    admits its scheme: scripts, styles and connections stay 'self' whatever the tiles are.
    """
    parts = urlsplit(tiles.replace("{", "%7B").replace("}", "%7D"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "https:"
    labels = parts.hostname.lower().split(".")
    if "%7b" in labels[0]:
        labels[0] = "*"
    if any("%7b" in label for label in labels):
        return f"{parts.scheme}:"
    host = ".".join(labels)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def content_security_policy(tiles: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: {tile_source(tiles)}",
            "connect-src 'self'",
            "media-src blob:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def register(app: web.Application, tiles: str) -> None:
    """Add the page's routes; called by `WebAppApi.register` before its catch-all.

    `tiles` is BRIDGE_MAP_TILES: the page's Content-Security-Policy admits images from its host.
    """
    csp = content_security_policy(tiles)

    async def index(request: web.Request) -> web.StreamResponse:
        if not (STATIC / "vendor" / "leaflet" / "leaflet.js").is_file():
            return web.json_response(
                {"error": NOT_BUILT}, status=503, headers={"Cache-Control": "no-store"}
            )
        return _file(
            STATIC / "index.html",
            {
                "Content-Security-Policy": csp,
                "Cache-Control": "no-cache",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        if (
            not _NAME.fullmatch(name)
            or path.suffix not in TYPES
            or path.suffix == ".html"  # the page only at /app/, under its CSP
            or not path.resolve().is_relative_to(STATIC)
            or not path.is_file()
        ):
            return web.json_response(
                {"error": f"no such file: {name}"},
                status=404,
                headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
            )
        # The page's own files change with the bridge: revalidate (cheap with ETag /
        # Last-Modified); the vendor files only with the lockfile: an hour.
        cache = "public, max-age=3600" if name.startswith("vendor/") else "no-cache"
        return _file(path, {"Cache-Control": cache})

    app.router.add_get("/app/", index)
    app.router.add_get("/app/static/{name:.+}", static)


def _file(path: Path, headers: dict[str, str]) -> web.FileResponse:
    kind = TYPES[path.suffix]
    response = web.FileResponse(
        path, headers={**headers, "Content-Type": kind, "X-Content-Type-Options": "nosniff"}
    )
    if not kind.startswith("image/png"):
        # Text compresses to a third (Leaflet's 147 KB to 43 KB): phones on slow links.
        response.enable_compression()
    return response
