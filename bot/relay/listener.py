"""The HTTP routes the platform calls (DESIGN §5), answering with the platform's envelope.

Order of checks: the `token` header (401 / status 501, nothing read further), the
size (413 / 510), JSON and validation (400 / 502 naming the field), then storage:
the answer 200 / 200 comes only after the event is committed; storage trouble
answers 503 so the platform retries.
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.metrics import Metrics
from bot.platform.models import Notice
from bot.relay.events import EVENT_ROUTES, BodyError, IdsEvent, IncidentReport, parse_body
from bot.relay.service import Relay
from storage.db import StorageError

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MiB
# The acknowledgement, the same for a first delivery and a duplicate: built once.
OK_BODY = json.dumps({"status": 200, "message": "成功", "data": None}, ensure_ascii=False).encode()


def envelope(http: int, status: int, message: str, data: Any = None) -> web.Response:
    return web.json_response(
        {"status": status, "message": message, "data": data},
        status=http,
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


async def read_body(request: web.Request) -> bytes | None:
    """The whole body, or None past `MAX_BODY`. (`content.read(n)` returns what has
    arrived so far, which for a large body is only its first segments.)"""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def add_routes(app: web.Application, relay: Relay, callback_token: str, metrics: Metrics) -> None:
    """Mount `/platform/events/*` and `/platform/notices` on the bridge's listener."""
    expected = callback_token.encode()

    def route(
        name: str, ingest: Callable[[Any], Awaitable[bool]], model: type[Any]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        received = metrics.events_received.labels(name)
        stored = metrics.events_stored.labels(name)
        duplicate = metrics.events_duplicate.labels(name)

        async def handler(request: web.Request) -> web.Response:
            received.inc()
            given = request.headers.get("token", "").encode()
            if not hmac.compare_digest(given, expected):
                metrics.events_rejected.labels(name, "token").inc()
                return envelope(401, 501, "未登录: missing or wrong token header")
            if request.content_length is not None and request.content_length > MAX_BODY:
                metrics.events_rejected.labels(name, "size").inc()
                return envelope(413, 510, "单次提交数据过多: body over 1 MiB")
            raw = await read_body(request)
            if raw is None:
                metrics.events_rejected.labels(name, "size").inc()
                return envelope(413, 510, "单次提交数据过多: body over 1 MiB")
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                metrics.events_rejected.labels(name, "json").inc()
                return envelope(400, 502, f"参数错误: body: malformed JSON ({exc})"[:300])
            try:
                body = parse_body(model, data)
            except BodyError as exc:
                metrics.events_rejected.labels(name, "invalid").inc()
                return envelope(400, 502, f"参数错误: {exc.field}: {exc.message}"[:300])
            try:
                new = await ingest(body)
            except (StorageError, sqlite3.Error) as exc:
                log.error("could not store a %s event: %s", name, exc)
                metrics.events_rejected.labels(name, "storage").inc()
                return envelope(503, 500, "storage unavailable, retry later")
            (stored if new else duplicate).inc()
            return web.Response(body=OK_BODY, content_type="application/json")

        return handler

    async def report(body: IncidentReport) -> bool:
        return await relay.ingest_report(body)

    for suffix, (kind, model) in EVENT_ROUTES.items():
        if model is IncidentReport:
            app.router.add_post(f"/platform/events/{suffix}", route(suffix, report, model))
        else:

            async def ids_event(body: IdsEvent, kind: str = kind) -> bool:
                return await relay.ingest_ids(kind, list(body.id))

            app.router.add_post(f"/platform/events/{suffix}", route(suffix, ids_event, model))

    async def notice(body: Notice) -> bool:
        await relay.ingest_notice(body)
        return True

    app.router.add_post("/platform/notices", route("notices", notice, Notice))
