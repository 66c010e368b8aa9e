"""The HTTP listener under attack and fault (issue 12, points 1, 9, 10, 11, 15, 17).

Everything talks to the real listener over real sockets on 127.0.0.1; requests whose
bytes matter (non-UTF-8 headers, half-sent headers, idle sockets) go through a raw
socket. Times that matter are injected: the listener's timeouts (`HttpLimits`), the
clock of /readyz's cache, the clock of the log's repeat counter.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import resource
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bot.demo.stack as stack_module
from bot.app.bridge import Bridge
from bot.demo.stack import BOT_TOKEN, CALLBACK_TOKEN, Stack
from bot.logs import RepeatFilter, setup_logging
from bot.relay.listener import FD_RESERVE, HttpLimits
from bot.sandbox.telegram import EmuMessage
from bot.telegram.webhook import WebhookHandler
from bot.webapp.auth import sign_init_data
from storage.files import FILES_KEPT
from storage.roles import Role

ADMIN, STRANGER = 1001, 1005
SECRET = "hook_SECRET-0123"
METRICS_TOKEN = "metrics-SECRET-0123"
OK = {"status": 200, "message": "成功", "data": None}
EVENTS = ("report", "org-updated", "org-deleted", "user-updated", "user-deleted")


# ------------------------------------------------------------------------------ helpers


def request(
    method: str, path: str, headers: Sequence[tuple[bytes, bytes]] = (), body: bytes = b""
) -> bytes:
    """One HTTP/1.1 request, byte for byte, closing the connection after the answer."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    lines += [b"Content-Length: %d" % len(body), b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


async def raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `data` as it is; (status, headers, body) of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=20)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    return int(status_line.split()[1]), headers, body


def update(
    update_id: int, text: str, user_id: int = ADMIN, chat_id: int | None = None
) -> dict[str, Any]:
    """A message (private unless `chat_id`) as Telegram would POST it to the webhook."""
    command = text.split()[0]
    chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": "Ada"}
    if chat_id is not None:
        chat = {"id": chat_id, "type": "supergroup", "title": "Everything"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 5000 + update_id,
            "date": 1_800_000_000,
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": "Ada"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:  # noqa: ASYNC109
    """Poll a condition that nothing can be awaited for (a count inside the server)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def inbox_rows(stack: Stack) -> int:
    assert stack.bridge is not None
    return await stack.bridge.repos.inbox.count()


def assert_no_build_info(headers: dict[str, str], body: bytes) -> None:
    """Nothing says which Python, aiohttp or pttbridge version answers."""
    assert headers["server"] == "pttbridge"
    for word in (b"python", b"aiohttp", b"version", b"3.11", b"0.1.0"):
        assert word not in body.lower(), word


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bridge_kwargs(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`bridge_kwargs(**kw)`: the next stacks build their Bridge with these constructor
    arguments (timeouts, a clock) — the Stack itself only passes settings."""

    def use(**kw: Any) -> None:
        monkeypatch.setattr(stack_module, "Bridge", partial(Bridge, **kw))

    return use


@pytest.fixture
def captured_log() -> Iterator[tuple[io.StringIO, RepeatFilter]]:
    """The process's logging as `pttbridge run` sets it up, written to a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buf = io.StringIO()
    repeats = setup_logging("text", [CALLBACK_TOKEN, METRICS_TOKEN], stream=buf)
    try:
        yield buf, repeats
    finally:
        for h in root.handlers[:]:
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


# ------------------------------------------------------------------------------ 1. webhook


async def webhook_stack(make_bot_stack: Callable[..., Awaitable[Stack]], **bridge: Any) -> Stack:
    # Telegram needs an https URL; the emulator never reaches it (nothing is pending), and
    # the tests POST to the listener themselves.
    return await make_bot_stack(
        telegram_overrides={
            "mode": "webhook",
            "webhook_url": "https://bridge.example.org",
            "webhook_secret": SECRET,
        },
        bridge_overrides=bridge,
    )


def record_updates(stack: Stack) -> list[int]:
    """Ids of every update the dispatcher is fed from now on."""
    seen: list[int] = []

    async def record(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        seen.append(event.update_id)
        return await handler(event, data)

    assert stack.bridge is not None
    stack.bridge.dp.update.outer_middleware.register(record)
    return seen


async def test_a_forged_admin_update_without_the_secret_is_refused_and_never_handled(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await webhook_stack(make_bot_stack)
    assert stack.bridge is not None
    port = stack.bridge.http_port
    assert port is not None
    fed = record_updates(stack)
    header = b"X-Telegram-Bot-Api-Secret-Token"
    forged = json.dumps(update(1, f"/role {STRANGER} admin")).encode()
    for headers in (
        [],
        [(header, b"")],
        [(header, b"wrong")],
        [(header, SECRET[:-1].encode())],
        [(header, SECRET.encode() + b"x")],
        [(header, "令牌".encode())],  # non-ASCII: aiogram's compare raised (500)
        [(header, b"\xe9t\xe9")],  # not UTF-8 at all
    ):
        status, _, _ = await raw(port, request("POST", "/telegram/webhook", headers, forged))
        assert status == 401, headers
    assert await stack.bridge.roles.get(STRANGER) is None

    # With the secret the same route and body are taken: the refusals were the header's.
    right = [(header, SECRET.encode())]
    for body in (b"{not json", b"[]", b'{"update_id": "x"}', b"\xff"):
        status, _, _ = await raw(port, request("POST", "/telegram/webhook", right, body))
        assert status == 400, body  # not an update: never fed (was 500, or 200 and a task error)
    # An update sent compressed: refused, never decompressed (no decompression bomb).
    squeezed = json.dumps(update(3, "/help")).encode()
    for encoding in (b"gzip", b"br"):
        headers = [*right, (b"Content-Encoding", encoding)]
        status, _, _ = await raw(port, request("POST", "/telegram/webhook", headers, squeezed))
        assert status == 400, encoding
    granted = json.dumps(update(2, f"/role {STRANGER} viewer")).encode()
    status, _, _ = await raw(port, request("POST", "/telegram/webhook", right, granted))
    assert status == 200
    await stack.wait_handled(2)
    grant = await stack.bridge.roles.get(STRANGER)
    assert grant is not None and grant.role is Role.VIEWER
    assert fed == [2]


async def test_without_a_secret_the_webhook_takes_nothing() -> None:
    """Settings refuse webhook mode without a secret; the listener refuses too, whatever
    it was given (aiogram's own handler takes everything when its secret is None)."""
    dp = Dispatcher()
    handled: list[int] = []
    got = asyncio.Event()

    @dp.update.outer_middleware()
    async def record(handler: Any, event: Update, data: dict[str, Any]) -> Any:
        handled.append(event.update_id)
        got.set()

    bot = Bot("123456:not-used")
    runner: web.AppRunner | None = None
    try:
        results = {}
        for secret in (None, "", SECRET):
            app = web.Application()
            WebhookHandler(dp, bot, secret, body_timeout_s=5).register(app, path="/hook")
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            body = json.dumps(update(7, "/help")).encode()
            headers = [(b"X-Telegram-Bot-Api-Secret-Token", SECRET.encode())]
            results[secret] = [
                (await raw(port, request("POST", "/hook", h, body)))[0] for h in ([], headers)
            ]
            if secret:
                await asyncio.wait_for(got.wait(), timeout=10)
            await runner.cleanup()
            runner = None
        assert results == {None: [401, 401], "": [401, 401], SECRET: [401, 200]}
        assert handled == [7]
    finally:
        if runner is not None:
            await runner.cleanup()
        await bot.session.close()


# ------------------------------------------------------------------------------ 9. served files

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
ZIP = b"PK\x03\x04" + b"\x00" * 40


SERVED = [  # name, bytes, the type they are served as
    ("photo.jpg", JPEG, "image/jpeg"),
    ("no-extension", JPEG, "image/jpeg"),  # the bytes say what it is
    ("plan.pdf", PDF, "application/pdf"),
    ("notes.txt", "集合时间 08:00".encode(), "text/plain; charset=utf-8"),
    ("roster.xlsx", ZIP, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("archive.zip", ZIP, "application/zip"),
    ("voice.mp3", b"ID3\x04\x00" + b"\x00" * 20, "audio/mpeg"),
    ("voice.amr", b"#!AMR\n" + b"\x00" * 20, "audio/amr"),
    ("page.html", b"<html><script>alert(1)</script></html>", "application/octet-stream"),
    ("picture.jpg", b"<html><script>alert(1)</script></html>", "application/octet-stream"),
    ("drawing.svg", b'<svg onload="alert(1)"/>', "application/octet-stream"),
    ("notes.txt", b"\xff\xfe\x00binary", "application/octet-stream"),
    ("run.exe", b"MZ\x90\x00", "application/octet-stream"),
]


async def test_a_served_file_is_a_download_of_a_safe_type(bot_stack: Stack) -> None:
    assert bot_stack.bridge is not None
    files = bot_stack.bridge.files
    async with aiohttp.ClientSession() as http:
        for name, data, content_type in SERVED:
            # The type stored at upload (from the uploader's name) is not trusted.
            token = await files.add(name, "text/html", data, datetime.now(UTC))
            async with http.get(f"{bot_stack.bridge_url}/files/{token}/{name}") as resp:
                assert resp.status == 200
                assert await resp.read() == data
                assert resp.headers["Content-Type"] == content_type, name
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["Content-Disposition"].startswith("attachment; filename=")


async def test_a_served_files_name_cannot_break_out_of_its_header(bot_stack: Stack) -> None:
    assert bot_stack.bridge is not None
    name = '../"x"; filename=evil.html\r\nSet-Cookie: a=b 计划.pdf'
    token = await bot_stack.bridge.files.add(name, "application/pdf", PDF, datetime.now(UTC))
    status, headers, body = await raw(
        bot_stack.bridge.http_port or 0, request("GET", f"/files/{token}/x.pdf")
    )
    assert status == 200 and body == PDF
    assert "set-cookie" not in headers
    disposition = headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    quoted = disposition.split('"')[1]
    assert all(c not in quoted for c in '"\\/;\r\n') and quoted.isascii()
    assert "filename*=UTF-8''" in disposition and "%E8%AE%A1%E5%88%92.pdf" in disposition


async def to_attachments(stack: Stack) -> EmuMessage:
    """/broadcast to org 266 with a title and a text: the "send files" prompt."""
    [targets] = await stack.say("admin", "/broadcast")
    [chosen] = await stack.press("admin", targets, "bc1:o:266")
    await stack.press("admin", chosen, "Next ▶")
    await stack.say("admin", "Drill")
    [prompt] = await stack.say("admin", "Drill at 15:00.")
    return prompt


async def served_tokens(stack: Stack) -> dict[str, str | None]:
    assert stack.bridge is not None
    rows = await stack.bridge.db.fetchall("SELECT token, sent_at FROM served_files")  # type: ignore[union-attr]
    return {r["token"]: r["sent_at"] for r in rows}


async def test_a_cancelled_drafts_files_are_deleted_at_once(bot_stack: Stack) -> None:
    stack = bot_stack
    await to_attachments(stack)
    [added] = await stack.send_file("admin", "plan.pdf", PDF, "application/pdf")
    assert "plan.pdf" in added.plain_text()
    [token] = await served_tokens(stack)
    url = f"{stack.bridge_url}/files/{token}/plan.pdf"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200
        await stack.press("admin", added, "bc1:x:0")  # Cancel
        async with http.get(url) as resp:
            assert resp.status == 404
    assert await served_tokens(stack) == {}


async def test_a_draft_dropped_by_cancel_command_has_its_files_deleted(bot_stack: Stack) -> None:
    stack = bot_stack
    await to_attachments(stack)
    await stack.send_file("admin", "plan.pdf", PDF, "application/pdf")
    [token] = await served_tokens(stack)
    await stack.say("admin", "/cancel")
    assert await served_tokens(stack) == {}
    url = f"{stack.bridge_url}/files/{token}/plan.pdf"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 404


async def test_a_replaced_attachment_is_deleted_and_a_sent_one_expires_after_7_days(
    bot_stack: Stack,
) -> None:
    stack = bot_stack
    assert stack.bridge is not None
    files = stack.bridge.files
    await to_attachments(stack)
    await stack.send_file("admin", "old.pdf", PDF, "application/pdf")
    [old] = await served_tokens(stack)
    # Edit → Attachments from the preview replaces the files: the old one goes at once.
    [added] = await stack.send_file("admin", "plan.pdf", PDF, "application/pdf")
    preview = (await stack.press("admin", added, "Done ▶"))[-1]
    menu = (await stack.press("admin", preview, "✏️ Edit"))[0]
    prompt = (await stack.press("admin", menu, "Attachments"))[-1]
    assert await served_tokens(stack) == {}
    [added] = await stack.send_file("admin", "plan.pdf", PDF, "application/pdf")
    [kept] = await served_tokens(stack)
    assert kept != old and prompt is not None
    preview = (await stack.press("admin", added, "Done ▶"))[-1]
    before = datetime.now(UTC)
    await stack.press("admin", preview, "✅ Confirm")
    sent_at = (await served_tokens(stack))[kept]
    assert sent_at is not None and datetime.fromisoformat(sent_at) >= before

    # A draft never sent: its file goes FILES_KEPT after its upload.
    abandoned = await files.add("draft.pdf", "application/pdf", PDF, before - timedelta(days=8))
    sent = datetime.fromisoformat(sent_at)
    assert timedelta(days=7) == FILES_KEPT
    assert await files.expire(sent + timedelta(days=6) - FILES_KEPT) == 1  # the abandoned one
    assert set(await served_tokens(stack)) == {kept}
    assert await files.expire(sent + timedelta(days=7, seconds=1) - FILES_KEPT) == 1
    assert await served_tokens(stack) == {}
    assert abandoned not in await served_tokens(stack)


async def test_files_past_their_time_are_deleted_when_the_bridge_starts(bot_stack: Stack) -> None:
    """The housekeeping job (hourly) also runs at start: a file left by a draft 8 days ago
    is gone once the restarted bridge has caught up, a fresh one stays."""
    stack = bot_stack
    assert stack.bridge is not None
    now = datetime.now(UTC)
    old = await stack.bridge.files.add("a.pdf", "application/pdf", PDF, now - timedelta(days=8))
    fresh = await stack.bridge.files.add("b.pdf", "application/pdf", PDF, now)
    await stack.restart_bridge()
    assert stack.bridge is not None
    await stack.bridge.jobs.caught_up.wait()
    tokens = await served_tokens(stack)
    assert old not in tokens and fresh in tokens


# ---------------------------------------------------------------------- 10, 17. /metrics, /readyz


async def test_metrics_needs_the_bearer_token_when_one_is_set(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await make_bot_stack(bridge_overrides={"metrics_token": METRICS_TOKEN})
    port = stack.bridge.http_port if stack.bridge else None
    assert port is not None
    for value in (
        None,
        b"",
        b"Bearer",
        b"Bearer wrong",
        b"Basic " + METRICS_TOKEN.encode(),
        b"Bearer " + METRICS_TOKEN[:-1].encode(),
        b"Bearer " + METRICS_TOKEN.encode() + b"x",
        b"Bearer \xe9\xff",  # not UTF-8: must not raise
        "Bearer 令牌".encode(),
    ):
        headers = [] if value is None else [(b"Authorization", value)]
        status, answer, body = await raw(port, request("GET", "/metrics", headers))
        assert status == 401, value
        assert answer["www-authenticate"] == "Bearer"
        assert b"pttbridge_" not in body
    for value in (b"Bearer " + METRICS_TOKEN.encode(), b"bearer  " + METRICS_TOKEN.encode()):
        status, answer, body = await raw(
            port, request("GET", "/metrics", [(b"Authorization", value)])
        )
        assert status == 200 and b"pttbridge_events_received" in body
        assert METRICS_TOKEN.encode() not in body
        # Who is authorised sees which build answers (#14); nobody else does.
        assert answer["server"] == "pttbridge"
        assert b"pttbridge_build_info{" in body


async def test_metrics_without_a_token_set_is_open(bot_stack: Stack) -> None:
    status, _, body = await raw(bot_stack.bridge.http_port or 0, request("GET", "/metrics"))  # type: ignore[union-attr]
    assert status == 200 and b"pttbridge_http_connections " in body


async def test_readyz_says_words_only_and_asks_the_platform_once_per_10_s(
    make_bot_stack: Callable[..., Awaitable[Stack]], bridge_kwargs: Callable[..., None]
) -> None:
    clock = FakeMonotonic()
    bridge_kwargs(monotonic=clock)
    stack = await make_bot_stack()
    platform = stack.platform
    asked = lambda: len(platform.requests_to("/user/info"))  # noqa: E731
    base = len(platform.requests_to("/user/info"))

    async def readyz(http: aiohttp.ClientSession) -> tuple[int, Any]:
        async with http.get(stack.bridge_url + "/readyz") as resp:
            return resp.status, await resp.json()

    ready = {"db": "ok", "platform": "ok", "directory": "loaded"}
    _, headers, body = await raw(stack.bridge.http_port or 0, request("GET", "/readyz"))  # type: ignore[union-attr]
    assert_no_build_info(headers, body)
    base += 1
    clock.now += 10
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(readyz(http) for _ in range(40)))
        assert answers == [(200, {"status": "ok", "checks": ready})] * 40
        assert asked() == base + 1  # 40 at once: one call

        platform.expire_tokens()  # the platform now answers 501
        clock.now += 9.9
        assert (await readyz(http))[0] == 200  # still the answer of 9.9 s ago
        assert asked() == base + 1
        clock.now += 0.1
        status, body = await readyz(http)
        assert (status, body) == (
            503,
            {"status": "unavailable", "checks": {**ready, "platform": "refused"}},
        )
        assert asked() == base + 2

        await platform.stop()
        clock.now += 10
        status, body = await readyz(http)
        assert (status, body["checks"]["platform"]) == (503, "unreachable")
        assert body == {"status": "unavailable", "checks": {**ready, "platform": "unreachable"}}
        async with http.get(stack.bridge_url + "/healthz") as resp:
            assert resp.status == 200  # alive, just not ready


async def test_readyz_says_read_only_when_the_database_takes_no_write(
    bot_stack: Stack,
) -> None:
    """Made read-only with `PRAGMA query_only` on the bridge's own connection: it blocks
    writes even for root (chmod does not), and reads still work, as on a read-only mount."""
    stack = bot_stack
    assert stack.bridge is not None and stack.bridge.db is not None
    db = stack.bridge.db
    async with aiohttp.ClientSession() as http:

        async def readyz() -> tuple[int, Any]:
            async with http.get(stack.bridge_url + "/readyz") as resp:
                return resp.status, await resp.json()

        assert (await readyz())[1]["checks"]["db"] == "ok"
        await db.execute("PRAGMA query_only = ON")
        try:
            await db.ping()  # a read still answers: the old check said "ok" here
            status, body = await readyz()
        finally:
            await db.execute("PRAGMA query_only = OFF")
        assert status == 503
        assert body == {
            "status": "unavailable",
            "checks": {"db": "read-only", "platform": "ok", "directory": "loaded"},
        }
        assert await readyz() == (200, {"status": "ok", "checks": {**body["checks"], "db": "ok"}})


# ------------------------------------------------------------------------------ 11. idle sockets


async def test_idle_and_slow_sockets_are_closed_while_everything_answers(
    make_bot_stack: Callable[..., Awaitable[Stack]],
    bridge_kwargs: Callable[..., None],
    captured_log: tuple[io.StringIO, RepeatFilter],
) -> None:
    bridge_kwargs(http_limits=HttpLimits(header_timeout_s=3, idle_timeout_s=3, body_timeout_s=3))
    stack = await make_bot_stack()
    assert stack.bridge is not None and stack.bridge.gate is not None
    port = stack.bridge.http_port
    group = stack.add_group(-100555, "Night shift")
    await stack.say("admin", "/subscribe incidents", chat=group)
    log, repeats = captured_log
    mark = len(log.getvalue())  # what start-up wrote is not counted

    async def idle() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    async def slow_headers() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await idle()
        writer.write(b"POST /platform/events/report HTTP/1.1\r\nHost: x\r\ntoken: ")
        await writer.drain()
        return reader, writer

    async def kept_alive() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await idle()
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" not in head
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        assert await reader.readexactly(length) == b'{"status": "ok"}'
        return reader, writer

    held = await asyncio.gather(
        *(idle() for _ in range(120)),
        *(slow_headers() for _ in range(120)),
        *(kept_alive() for _ in range(60)),
    )
    gate = stack.bridge.gate
    assert gate.open >= 300

    # While they are held: callbacks are stored and relayed, health answers, chat works.
    codes = []
    for _ in range(5):
        body = stack.platform.make_report(urls=[])
        codes.append(body["code"])
        assert await stack.platform_event("report", body) == (200, OK)
    async with (
        aiohttp.ClientSession() as http,
        http.get(stack.bridge_url + "/healthz") as resp,
    ):
        assert resp.status == 200
    [reply] = await stack.say("viewer", "/help")
    assert reply.plain_text()
    relayed = await stack.emu.wait_for_messages(group, 5, timeout=20)
    assert all(any(code in m.plain_text() for m in relayed) for code in codes)

    # The server closes every one of them (EOF; the keep-alive ones after their answer).
    async def closed(reader: asyncio.StreamReader) -> bytes:
        return await asyncio.wait_for(reader.read(), timeout=20)

    rest = await asyncio.gather(*(closed(r) for r, _ in held))
    assert rest == [b""] * len(held)
    for _, writer in held:
        writer.close()
    assert gate.open < 20
    repeats.flush()
    written = log.getvalue()[mark:]
    assert len(written.splitlines()) < 40, written[:5000]
    assert "Traceback" not in written


async def test_headers_that_trickle_in_are_cut_off_at_the_header_timeout(
    make_bot_stack: Callable[..., Awaitable[Stack]], bridge_kwargs: Callable[..., None]
) -> None:
    """The header deadline is the listener's own: it holds whatever aiohttp's keep-alive
    timer does (here an hour), for a connection that keeps sending a byte at a time."""
    bridge_kwargs(http_limits=HttpLimits(header_timeout_s=1, idle_timeout_s=3600))
    stack = await make_bot_stack()
    assert stack.bridge is not None
    port = stack.bridge.http_port
    slow = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /platform/notices HTTP/1.1\r\nHost: x\r\n")
        slow.append((reader, writer))

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        # One more header byte whenever the last one was taken, until the server hangs up.
        while not reader.at_eof():
            try:
                writer.write(b"X")
                await writer.drain()
            except ConnectionError:
                break
            try:
                if await asyncio.wait_for(reader.read(1), timeout=0.2) == b"":
                    break
            except TimeoutError:
                continue
        return await reader.read()

    try:
        rest = await asyncio.wait_for(asyncio.gather(*(trickle(r, w) for r, w in slow)), 20)
    finally:
        for _, writer in slow:
            writer.close()
    assert rest == [b""] * 20
    status, _, body = await raw(port or 0, request("GET", "/metrics"))
    assert status == 200
    assert b'pttbridge_http_connections_closed_total{reason="slow_headers"} 20.0' in body


async def test_connections_past_the_limit_are_refused_at_once_and_logged_with_counts(
    make_bot_stack: Callable[..., Awaitable[Stack]],
    bridge_kwargs: Callable[..., None],
    captured_log: tuple[io.StringIO, RepeatFilter],
) -> None:
    bridge_kwargs(
        http_limits=HttpLimits(header_timeout_s=60, idle_timeout_s=60, max_connections=20)
    )
    stack = await make_bot_stack()
    assert stack.bridge is not None and stack.bridge.gate is not None
    gate, port = stack.bridge.gate, stack.bridge.http_port
    assert gate.max_open == 20
    log, repeats = captured_log
    mark = len(log.getvalue())  # what start-up wrote is not counted
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    await until(lambda: gate.open == 20)

    async def refused() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(reader.read(), timeout=10)  # answered and closed
        finally:
            writer.close()

    answers = await asyncio.gather(*(refused() for _ in range(100)))
    assert all(a.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") for a in answers)
    assert gate.open == 20
    repeats.flush()
    lines = log.getvalue()[mark:].splitlines()
    assert len(lines) == 6, lines  # five, then one with the count
    assert lines[-1].endswith(
        "refused a connection: 20 open, the limit — repeated 95 more times in the last 10 s"
    )

    for _, writer in held:
        writer.close()
    await until(lambda: gate.open == 0)
    status, _, body = await raw(port or 0, request("GET", "/metrics"))
    assert status == 200
    assert b'pttbridge_http_connections_closed_total{reason="limit"} 100.0' in body


async def test_start_raises_the_open_files_limit_and_bounds_connections_below_it(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit of open files here")
    lowered = len(os.listdir("/proc/self/fd")) + 512
    if lowered >= hard:
        pytest.skip("the hard limit leaves no room to lower the soft one")
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        stack = await make_bot_stack()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
        assert stack.bridge is not None and stack.bridge.gate is not None
        assert stack.bridge.gate.max_open == min(HttpLimits.max_connections, hard - FD_RESERVE)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, lowered), hard))


def test_an_error_repeated_at_high_rate_is_written_with_its_count() -> None:
    now = [0.0]
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    repeats = RepeatFilter(window_s=10, burst=3, clock=lambda: now[0])
    repeats.target = handler
    handler.addFilter(repeats)
    log = logging.getLogger("test.repeats")
    log.propagate, log.level = False, logging.INFO
    log.addHandler(handler)
    try:
        for i in range(1000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                log.exception("could not accept connection %d", i)
            now[0] += 0.001
        log.warning("another place")  # other kinds are not held back
        log.info("info is never held back")
        assert buf.getvalue().count("could not accept connection") == 3
        assert buf.getvalue().count("Traceback") == 3
        now[0] = 10.5
        log.error("a later error, after the window")
        lines = [
            ln for ln in buf.getvalue().splitlines() if ln.startswith(("ERROR", "WARN", "INFO"))
        ]
        assert lines[-4:] == [
            "WARNING another place",
            "INFO info is never held back",
            "ERROR could not accept connection 999 — repeated 997 more times in the last 10 s",
            "ERROR a later error, after the window",
        ]
    finally:
        log.removeHandler(handler)


def test_a_repeat_count_masks_secrets_like_any_line() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buf = io.StringIO()
    repeats = setup_logging("text", [CALLBACK_TOKEN], stream=buf)
    try:
        for _ in range(50):
            logging.getLogger("test.secret").warning("token %s refused", CALLBACK_TOKEN)
        repeats.flush()
    finally:
        for h in root.handlers[:]:
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)
    text = buf.getvalue()
    assert CALLBACK_TOKEN not in text
    assert "token *** refused — repeated 45 more times in the last 10 s" in text


# ------------------------------------------------------------------------------ 15. no 500


async def test_inputs_that_answered_500_get_an_answer(stack_for_fuzz: Stack) -> None:
    stack = stack_for_fuzz
    port = stack.bridge.http_port if stack.bridge else None
    assert port is not None
    token = [(b"token", CALLBACK_TOKEN.encode())]
    notice = {"from": {"id": 1, "name": "x"}, "title": "t", "content": "c"}

    async def post(path: str, headers: list[tuple[bytes, bytes]], body: Any) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, _, answer = await raw(port, request("POST", path, headers, data))
        return status, json.loads(answer)

    before = await inbox_rows(stack)
    for bad in (b"\xe9", "令牌".encode(), b"\xff" + CALLBACK_TOKEN.encode()):
        status, answer = await post("/platform/notices", [(b"token", bad)], {})
        assert (status, answer["status"]) == (401, 501)
    for to in ({"orgIds": ["²"]}, {"orgIds": ["9" * 5000]}, {"userIds": ["²"]}):
        status, answer = await post("/platform/notices", token, {**notice, "to": to})
        assert (status, answer["status"]) == (400, 502), to
        assert ": to." in answer["message"]
    for garbage in ({"Content-Encoding": b"gzip"}, {"Content-Encoding": b"br"}):
        [(name, value)] = garbage.items()
        headers = [*token, (name.encode(), value)]
        status, answer = await post("/platform/notices", headers, b"\x1f\x8b garbage")
        assert (status, answer["status"]) == (400, 502)
    status, _, raw_answer = await raw(port, request("GET", "/platform/events/report"))
    assert (status, json.loads(raw_answer)["status"]) == (405, 502)
    assert await inbox_rows(stack) == before
    # An incident addressed to an org id that is no number is stored like one to no org.
    for odd in ("²", "9" * 5000, "-"):
        body = stack.platform.make_report(urls=[])
        body["to"] = {"id": odd, "name": "?"}
        assert await post("/platform/events/report", token, body) == (200, OK)
    assert await inbox_rows(stack) == before + 3


async def test_an_error_no_handler_expected_answers_503_not_500(
    bot_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line: a bug or a fault nobody foresaw still gets an answer the platform
    understands (503, its envelope on its routes), and the log says what it was."""
    stack = bot_stack
    assert stack.bridge is not None
    port = stack.bridge.http_port or 0

    async def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("a fault nobody foresaw")

    monkeypatch.setattr(stack.bridge.relay, "ingest_ids", broken)
    monkeypatch.setattr(stack.bridge.repos.outbox, "counts", broken)
    monkeypatch.setattr(stack.bridge.files, "get", broken)
    token = [(b"token", CALLBACK_TOKEN.encode())]
    body = json.dumps({"id": [10001]}).encode()
    status, _, answer = await raw(
        port, request("POST", "/platform/events/user-updated", token, body)
    )
    assert (status, json.loads(answer)["status"]) == (503, 500)
    for path in ("/metrics", "/files/abc/x.pdf"):
        assert (await raw(port, request("GET", path)))[0] == 503, path
    assert (await raw(port, request("GET", "/healthz")))[0] == 200


@pytest.fixture
async def stack_for_fuzz(make_bot_stack: Callable[..., Awaitable[Stack]]) -> Stack:
    """Webhook mode (so every route is mounted), a metrics token, a chat subscribed to all."""
    stack = await webhook_stack(
        make_bot_stack, metrics_token=METRICS_TOKEN, public_url="https://bridge.example.org"
    )
    group = stack.add_group(-100666, "Everything")
    assert stack.bridge is not None and stack.bridge.http_port is not None
    subscribe = json.dumps(update(3, "/subscribe all", chat_id=group)).encode()
    secret = [(b"X-Telegram-Bot-Api-Secret-Token", SECRET.encode())]
    status, _, _ = await raw(
        stack.bridge.http_port, request("POST", "/telegram/webhook", secret, subscribe)
    )
    assert status == 200
    await stack.wait_handled(3)
    [answer] = await stack.emu.wait_for_messages(group, 1)
    assert "This chat now receives" in answer.plain_text()
    await stack.bridge.db.execute(  # type: ignore[union-attr]
        "INSERT INTO served_files (token, name, mime, data, created_at) VALUES (?, ?, ?, ?, ?)",
        (KNOWN_FILE, "a.pdf", "application/pdf", PDF, "2026-11-28T00:00:00.000000+00:00"),
    )
    # Updates the test sends to the webhook, those refused, those the dispatcher was fed.
    stack.sent, stack.refused = [], []  # type: ignore[attr-defined]
    stack.fed = record_updates(stack)  # type: ignore[attr-defined]
    return stack


# Per route: the statuses any input may get. Platform routes: 200 stored, 400 not valid,
# 401 token, 413 too big, 503 storage unavailable, 405 another method — each with the
# platform's envelope. The webhook: 200, 400 not an update, 401 secret, 413, 405.
# /healthz 200 | 405; /readyz 200 | 503 | 405; /metrics 200 | 401 | 405; /files 200 | 404 | 405.
PLATFORM = (*(f"/platform/events/{e}" for e in EVENTS), "/platform/notices")
APP = tuple(
    f"/app/api/{e}" for e in ("positions", "track", "recordings", "audio", "fences", "fences/")
)
APP_PARAMS = st.sampled_from(
    [[("group", "1001")], [("org", "266")], [("user", "10001")]]
) | st.lists(  # pairs, so that a parameter may come twice (?group=1&group=2)
    st.tuples(
        st.sampled_from(["group", "org", "user", "hours", "from", "to", "date"]),
        st.sampled_from(["1001", "266", "10001", "4", "2026-11-28", "2026-11-28T08:00:00+08:00"])
        # what an attacker tries: NaN, overflow, negative, unicode digits, huge
        | st.sampled_from(["NaN", "1e309", "-1", "١٢", "１００１", "２０２６-11-28", "9" * 3000])
        | st.text(max_size=12),
    ),
    max_size=4,
)
ALLOWED = {
    **{p: {200, 400, 401, 405, 413, 503} for p in PLATFORM},
    "/telegram/webhook": {200, 400, 401, 405, 413},
    "/healthz": {200, 405},
    "/readyz": {200, 503, 405},
    "/metrics": {200, 401, 405},
    "/files": {200, 404, 405},
    # The map's API (initData in Authorization): 201 added, 400 a bad parameter, 401, 403,
    # 404 not found or out of scope, 405, 409 a fence name taken, 413 a fence body too big.
    **{p: {200, 201, 400, 401, 403, 404, 405, 409, 413} for p in APP},
}
ENVELOPE_STATUS = {200: 200, 400: 502, 401: 501, 405: 502, 413: 510, 503: 500}

HEADER_VALUE = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if c in (9, 32) or 33 <= c <= 126 or c >= 128).strip()
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ODD_IDS = (
    st.sampled_from(["²", "١٢", "9" * 5000, "9" * 30, "-", "", " 7 ", "0x1f", "1e3"])
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.sampled_from([266, "266", 10001, "10001"])
)
UPDATE = b"<a fresh update>"  # the test puts an update with an id never used before here
REPORTS = st.builds(  # its id and code from a small range, so duplicates happen
    lambda n, to_id, extra: {"id": n, "code": f"F{n}", "to": {"id": to_id}, **extra},
    st.integers(min_value=1, max_value=20),
    ODD_IDS,
    st.dictionaries(
        st.sampled_from(["from", "urls", "topic", "level", "content"]),
        st.text(max_size=20) | JSON_VALUES,
        max_size=2,
    ),
)
NOTICES = st.builds(
    lambda ids, key, sender: {
        "from": {"id": sender, "name": "x"},
        "to": {key: ids},
        "title": "t",
        "content": "c",
    },
    st.lists(ODD_IDS, min_size=1, max_size=3),
    st.sampled_from(["orgIds", "userIds"]),
    ODD_IDS,
)
IDS = st.builds(lambda ids: {"id": ids}, st.lists(ODD_IDS, min_size=1, max_size=3))
BODIES = (
    st.one_of(JSON_VALUES, REPORTS, NOTICES, IDS).map(json.dumps).map(str.encode)
    | st.text(max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass"))
    | st.binary(max_size=80)
    | st.just(UPDATE)
)
ADMIN_INIT_DATA = sign_init_data(
    BOT_TOKEN, {"id": 1001, "first_name": "Ada"}, auth_date=datetime.now(UTC)
)
FENCES = st.fixed_dictionaries(
    {"name": st.text(max_size=8) | JSON_VALUES},
    optional={
        "circle": st.dictionaries(
            st.sampled_from(["lat", "lon", "radius_m"]), JSON_VALUES | st.floats(), max_size=3
        ),
        "polygon": st.lists(st.lists(st.floats(-200, 200), max_size=3), max_size=6),
    },
)
SHAPED = {  # bodies shaped for their route, so that validation and storage are reached
    "/app/api/fences": FENCES,
    "/platform/events/report": REPORTS,
    "/platform/notices": NOTICES,
    **{f"/platform/events/{e}": IDS for e in EVENTS[1:]},
}
RIGHT = {  # the header each route is authenticated by, and its right value
    **{p: (b"token", CALLBACK_TOKEN.encode()) for p in PLATFORM},
    "/telegram/webhook": (b"X-Telegram-Bot-Api-Secret-Token", SECRET.encode()),
    "/metrics": (b"Authorization", b"Bearer " + METRICS_TOKEN.encode()),
    **{p: (b"Authorization", b"tma " + ADMIN_INIT_DATA.encode()) for p in APP},
}
# The map's initData as an attacker bends it: the scheme's case, a field twice, padding.
APP_AUTH = st.sampled_from(
    [
        b"TMA " + ADMIN_INIT_DATA.encode(),
        b"tma " + ADMIN_INIT_DATA.encode() + b"&auth_date=1",
        b"tma " + ADMIN_INIT_DATA.encode() + b"&pad=" + b"x" * 6000,
        b"tma " + ADMIN_INIT_DATA.replace("Ada", "Eve").encode(),
    ]
)
KNOWN_FILE = "known-file-token-for-the-fuzz-test"
OTHER_HEADERS = {  # name: its values
    b"token": HEADER_VALUE,
    b"Authorization": HEADER_VALUE,
    b"X-Telegram-Bot-Api-Secret-Token": HEADER_VALUE,
    b"Content-Type": st.sampled_from([b"application/json", b"text/plain"]) | HEADER_VALUE,
    b"Content-Encoding": st.sampled_from([b"gzip", b"deflate", b"br", b"identity"]) | HEADER_VALUE,
    b"Accept": HEADER_VALUE,
    b"X-Forwarded-For": HEADER_VALUE,
    b"Cookie": HEADER_VALUE,
}


Case = tuple[str, str, str, list[tuple[bytes, bytes]], bytes]


@st.composite
def inputs(draw: st.DrawFn) -> Case:
    route = draw(st.sampled_from(sorted(ALLOWED)))
    wanted = "POST" if route in PLATFORM or route == "/telegram/webhook" else "GET"
    if route.startswith("/app/api/fences"):
        wanted = "DELETE" if route.endswith("/") else "POST"
    method = draw(st.sampled_from([wanted] * 6 + ["GET", "POST", "PUT", "DELETE"]))
    path = route
    segment = st.text(max_size=12).map(lambda s: "".join(f"%{b:02X}" for b in s.encode()))
    if route == "/files":
        token = draw(st.just(KNOWN_FILE) | segment) or "x"
        path = f"/files/{token}/{draw(segment) or 'y'}"
    elif route in ("/app/api/audio", "/app/api/fences/"):
        path = f"{route.rstrip('/')}/{draw(st.sampled_from(['1', '99']) | segment) or 'z'}"
    elif route in APP and route != "/app/api/fences":
        path = f"{route}?{urlencode(draw(APP_PARAMS))}"
    headers: list[tuple[bytes, bytes]] = []
    if route in RIGHT:  # mostly the right one, else anything
        name, right = RIGHT[route]
        wrong = APP_AUTH | HEADER_VALUE if route in APP else HEADER_VALUE
        headers.append((name, right if draw(st.integers(0, 3)) else draw(wrong)))
    taken = {name.lower() for name, _ in headers}
    for name in draw(st.lists(st.sampled_from(sorted(OTHER_HEADERS)), max_size=3, unique=True)):
        if name.lower() not in taken:
            headers.append((name, draw(OTHER_HEADERS[name])))
    body = b""
    if method in ("POST", "PUT"):
        if route == "/telegram/webhook" and draw(st.booleans()):
            body = UPDATE
        elif route in SHAPED and draw(st.integers(0, 2)):
            body = json.dumps(draw(SHAPED[route])).encode()
        else:
            body = draw(BODIES)
    return route, method, path, draw(st.permutations(headers)), body


@settings(
    max_examples=250,  # as many in every profile: they reach every platform model's checks
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=inputs())
async def test_no_route_answers_500_nor_stores_half_an_event(
    stack_for_fuzz: Stack, case: Case
) -> None:
    route, method, path, headers, body = case
    stack = stack_for_fuzz
    assert stack.bridge is not None and stack.bridge.http_port is not None
    fed: list[int] = stack.fed  # type: ignore[attr-defined]
    update_id = None
    if body == UPDATE:
        update_id = 10**6 + len(stack.sent)  # type: ignore[attr-defined]
        stack.sent.append(update_id)  # type: ignore[attr-defined]
        body = json.dumps(update(update_id, "/lang en")).encode()
    before = await inbox_rows(stack)
    status, _, answer = await raw(stack.bridge.http_port, request(method, path, headers, body))
    event(f"{route} {status}")
    assert status in ALLOWED[route], (route, method, headers, body[:100], answer[:200])
    if route in PLATFORM:
        envelope = json.loads(answer)
        assert set(envelope) == {"status", "message", "data"}
        assert envelope["status"] == ENVELOPE_STATUS[status]
    stored = await inbox_rows(stack) - before
    assert stored == 0 or (status == 200 and route in PLATFORM and stored == 1)
    if update_id is not None and route == "/telegram/webhook" and status == 200:
        await stack.wait_handled(update_id)
        assert update_id in fed
    elif update_id is not None:
        stack.refused.append(update_id)  # type: ignore[attr-defined]
    assert not set(fed) & set(stack.refused)  # type: ignore[attr-defined]


async def test_a_malformed_request_is_one_warning_without_its_bytes(
    bot_stack: Stack, captured_log: tuple[io.StringIO, RepeatFilter]
) -> None:
    buf, _repeats = captured_log
    port = int(bot_stack.bridge_url.rsplit(":", 1)[1])
    huge = b"tma user%3Dsecret-initdata-" + b"A" * 20_000
    status, _headers, _body = await raw(
        port, request("GET", "/app/api/me", [(b"Authorization", huge)])
    )
    assert status == 400
    await until(lambda: "malformed HTTP request" in buf.getvalue())
    log = buf.getvalue()
    assert "WARNING aiohttp.server: malformed HTTP request from 127.0.0.1 refused" in log
    assert "LineTooLong, HTTP 400" in log
    assert "secret-initdata" not in log and "Traceback" not in log
