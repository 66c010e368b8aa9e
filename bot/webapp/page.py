"""The map page itself: `GET /app/` and its static files under `/app/static/`.

The files hold no data (everything comes from the authenticated API), so they are served
without initData.
"""

from __future__ import annotations

from aiohttp import web


def register(app: web.Application) -> None:
    """Add the page's routes; called by `WebAppApi.register` before its catch-all."""
