"""The HTTP listener (DESIGN §5): the routes the platform calls, answering with the
platform's envelope, and the limits every connection to the listener is held to.

Order of checks: the `token` header (401 / status 501, nothing read further), the
size (413 / 510), JSON and validation (400 / 502 naming the field), then storage:
the answer 200 / 200 comes only after the event is committed; storage trouble
answers 503 so the platform retries. No input answers 500: the platform would retry
it forever.

Connections: one that has not sent its request headers within `header_timeout_s`,
or sits idle between requests for `idle_timeout_s`, is closed; a body must arrive
within `body_timeout_s`; past `max_connections` open ones, a new connection is
answered 503 and closed at once, before any parsing (it costs one accept and one
write), so idle sockets can never use up the process's file descriptors.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import resource
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from bot.metrics import Metrics
from bot.platform.models import Notice
from bot.relay.events import EVENT_ROUTES, BodyError, IdsEvent, IncidentReport, parse_body
from bot.relay.service import Relay
from storage.db import StorageError

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

MAX_BODY = 1024 * 1024  # 1 MiB
# The acknowledgement, the same for a first delivery and a duplicate: built once.
OK_BODY = json.dumps({"status": 200, "message": "成功", "data": None}, ensure_ascii=False).encode()


@dataclass(frozen=True)
class HttpLimits:
    """How long a connection may take and how many may be open (tests shorten them)."""

    header_timeout_s: float = 5.0
    """From connecting to the end of the first request's headers."""
    idle_timeout_s: float = 5.0
    """Keep-alive: from one answer to the next request's headers."""
    body_timeout_s: float = 10.0
    """From the headers to the end of the body."""
    max_connections: int = 4096
    """At most this many open at once, and always `FD_RESERVE` below the descriptor limit."""


FD_RESERVE = 384
"""Descriptors kept for everything but the listener's connections: the database, the
connection pools to the platform, to Telegram and for media, the event loop's own."""


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard one; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open files limit from %s to %s: %s", soft, target, exc)
    now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return now if now != resource.RLIM_INFINITY else 1 << 20


def header_bytes(value: str) -> bytes:
    """A header value as the bytes that came in. aiohttp decodes headers as UTF-8 with
    `surrogateescape`: bytes that are not UTF-8 (a Latin-1 "é") must be encoded back the
    same way (a strict `.encode()` raised, and the request answered 500)."""
    return value.encode("utf-8", "surrogateescape")


def secret_matches(given: str | None, expected: str) -> bool:
    """A header against a secret, in constant time, whatever bytes the header holds."""
    return hmac.compare_digest(header_bytes(given or ""), expected.encode())


def bearer_matches(authorization: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>` (the scheme in any case), compared in constant time."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and secret_matches(credentials.strip(), token)


def compressed(request: web.Request) -> bool:
    """A body sent with a Content-Encoding: the listener reads bodies as they come
    (no decompression, so no decompression bomb); such a body is refused with 400."""
    return request.headers.get("Content-Encoding", "identity").strip().lower() not in (
        "",
        "identity",
    )


def envelope(http: int, status: int, message: str, data: Any = None) -> web.Response:
    return web.json_response(
        {"status": status, "message": message, "data": data},
        status=http,
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


@web.middleware
async def last_line(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """No route answers 500 (the platform retries a 500 forever, and it says nothing): an
    error no handler expected is logged and answered 503, in the envelope on platform
    routes. HTTP errors a handler raised on purpose (404, 413) pass as they are."""
    try:
        return await handler(request)
    except (web.HTTPException, ConnectionError):  # on purpose; the client left (aiohttp's)
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        if request.path.startswith("/platform/"):
            return envelope(503, 500, "internal error, retry later")
        return web.Response(status=503, text="unavailable, retry later")


async def no_versions(request: web.Request, response: web.StreamResponse) -> None:
    """The listener faces the platform's network: it does not say which Python and
    aiohttp it runs (aiohttp's default `Server` header does)."""
    response.headers["Server"] = "pttbridge"


async def read_body(request: web.Request) -> bytes | None:
    """The whole body, or None past `MAX_BODY`. (`content.read(n)` returns what has
    arrived so far, which for a large body is only its first segments.) Raises
    `web.RequestPayloadError` for a body that breaks its framing (a bad chunk)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def buffered_body(request: web.Request) -> bytes | None:
    """The whole body when it has all arrived (`content.is_eof()`), or None past
    `MAX_BODY`. Raises `web.RequestPayloadError` as `read_body` does."""
    raw = request.content.read_nowait()
    return raw if len(raw) <= MAX_BODY else None


def valid_event(model: type[M], raw: bytes) -> M | None:
    """The body validated straight from its bytes in one step — the usual case, a valid
    event, at about half the cost of `json.loads` then validation; None for anything
    else (not UTF-8, not JSON, not an object, not valid), which the caller takes apart."""
    try:
        return model.model_validate_json(raw)
    except (ValueError, TypeError, OverflowError, RecursionError):  # ValidationError too
        return None


def add_routes(
    app: web.Application,
    relay: Relay,
    callback_token: str,
    metrics: Metrics,
    *,
    body_timeout_s: float = HttpLimits.body_timeout_s,
) -> None:
    """Mount `/platform/events/*` and `/platform/notices` on the bridge's listener."""

    def route(
        name: str, ingest: Callable[[Any], Awaitable[bool]], model: type[Any]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        received = metrics.events_received.labels(name)
        stored = metrics.events_stored.labels(name)
        duplicate = metrics.events_duplicate.labels(name)

        async def handler(request: web.Request) -> web.Response:
            received.inc()
            if not secret_matches(request.headers.get("token"), callback_token):
                metrics.events_rejected.labels(name, "token").inc()
                return envelope(401, 501, "未登录: missing or wrong token header")
            if request.content_length is not None and request.content_length > MAX_BODY:
                metrics.events_rejected.labels(name, "size").inc()
                return envelope(413, 510, "单次提交数据过多: body over 1 MiB")
            if compressed(request):
                metrics.events_rejected.labels(name, "json").inc()
                return envelope(400, 502, "参数错误: Content-Encoding: send the body uncompressed")
            try:
                if request.content.is_eof():  # it came with the headers: no wait, no timer
                    raw = buffered_body(request)
                else:
                    async with asyncio.timeout(body_timeout_s):
                        raw = await read_body(request)
            except TimeoutError:
                metrics.events_rejected.labels(name, "json").inc()
                late = envelope(408, 502, f"参数错误: body: not received in {body_timeout_s:g} s")
                late.force_close()
                return late
            except web.RequestPayloadError:
                metrics.events_rejected.labels(name, "json").inc()
                return envelope(400, 502, "参数错误: body: broken framing (Transfer-Encoding)")
            if raw is None:
                metrics.events_rejected.labels(name, "size").inc()
                return envelope(413, 510, "单次提交数据过多: body over 1 MiB")
            body = valid_event(model, raw)
            if body is None:  # not a valid event: find out why, step by step, and say so
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

    async def post_only(request: web.Request) -> web.Response:
        return envelope(405, 502, f"参数错误: method: POST only, not {request.method}"[:300])

    def add(path: str, handler: Callable[[web.Request], Awaitable[web.Response]]) -> None:
        app.router.add_post(path, handler)
        app.router.add_route("*", path, post_only)  # the platform's envelope for any method

    for suffix, (kind, model) in EVENT_ROUTES.items():
        if model is IncidentReport:
            add(f"/platform/events/{suffix}", route(suffix, report, model))
        else:

            async def ids_event(body: IdsEvent, kind: str = kind) -> bool:
                return await relay.ingest_ids(kind, list(body.id))

            add(f"/platform/events/{suffix}", route(suffix, ids_event, model))

    async def notice(body: Notice) -> bool:
        await relay.ingest_notice(body)
        return True

    add("/platform/notices", route("notices", notice, Notice))


# ------------------------------------------------------------------------------ connections

REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
    b"Retry-After: 1\r\n\r\n"
)


class _Refused(asyncio.Protocol):
    """A connection past the limit: answered 503 and closed before anything is read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(REFUSED)
        transport.close()


class _Tracked(asyncio.Protocol):
    """One of aiohttp's connections, counted while open, closed if its first request's
    headers do not arrive in time. (aiohttp's keep-alive timer covers the time between
    requests, and in recent versions a connection that sends nothing; this covers a
    slow trickle of header bytes in any version.)"""

    __slots__ = ("_deadline", "_gate", "_inner", "_tail", "_transport")

    def __init__(self, inner: asyncio.Protocol, gate: ConnectionGate) -> None:
        self._inner = inner
        self._gate = gate
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._gate.limits.header_timeout_s, self._too_slow)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._deadline is not None:
            seen = self._tail + data
            if b"\r\n\r\n" in seen or b"\n\n" in seen:  # the end of the headers
                self._deadline.cancel()
                self._deadline = None
                self._tail = b""
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._gate.open -= 1
        self._inner.connection_lost(exc)

    def _too_slow(self) -> None:
        self._deadline = None
        self._gate.slow.inc()
        if self._transport is not None:
            self._transport.close()


class ConnectionGate:
    """The protocol factory of the listening socket: counts open connections, refuses
    those past the limit, and holds each to its header deadline."""

    def __init__(
        self, server: web.Server, limits: HttpLimits, max_open: int, metrics: Metrics
    ) -> None:
        self.server = server
        self.limits = limits
        self.max_open = max_open
        self.open = 0
        self._refused = metrics.http_closed.labels("limit")
        self.slow = metrics.http_closed.labels("slow_headers")
        metrics.http_open.set_function(lambda: self.open)

    def __call__(self) -> asyncio.BaseProtocol:
        if self.open >= self.max_open:
            self._refused.inc()
            log.warning("refused a connection: %d open, the limit", self.open)
            return _Refused()
        self.open += 1
        return _Tracked(self.server(), self)


class GatedSite(web.TCPSite):
    """aiohttp's TCP site with a `ConnectionGate` between the socket and aiohttp."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, gate: ConnectionGate) -> None:
        super().__init__(runner, host, port)
        self._gate = gate

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._gate, self._host, self._port, backlog=self._backlog
        )

    @property
    def port(self) -> int:
        """The port bound (the one asked for, unless it was 0)."""
        sockets = getattr(self._server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else int(self._port or 0)
