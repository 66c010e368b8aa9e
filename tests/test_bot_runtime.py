"""The bridge as a service: start and stop, polling and webhook, 409 Conflict, health
endpoints, command menus, `python -m bot run` as a process, and secrets kept out of logs."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramConflictError

from bot.config import Settings
from bot.demo.stack import BOT_TOKEN, Stack
from bot.logs import JsonFormatter, SecretFilter, secrets_of
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage, TelegramEmulator
from bot.telegram.commands import allowed
from storage.roles import Role


def one(msgs: list[EmuMessage]) -> EmuMessage:
    assert len(msgs) == 1, [m.render() for m in msgs]
    return msgs[0]


def menu_of(role: Role) -> list[str]:
    return [c.name for c in allowed(role) if c.in_menu]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ restarts


async def test_updates_sent_while_down_are_answered_after_start(bot_stack: Stack) -> None:
    emu = bot_stack.emu
    viewer = bot_stack.people["viewer"]
    await bot_stack.stop_bridge()
    emu.mark(viewer.id)
    await emu.send_message(viewer, "/help")
    await emu.send_message(viewer, "/user tricky")
    assert len(emu.pending_updates) == 2
    assert emu.pending_messages(viewer.id) == []

    await bot_stack.start_bridge()
    first, second = await emu.wait_for_messages(viewer.id, count=2, timeout=15)
    texts = sorted([first.plain_text(), second.plain_text()])
    assert texts[0].startswith("What you can do")
    assert texts[1].startswith("👤 李<b>&四 10004")
    await emu.wait_for(lambda: not emu.pending_updates)

    # Confirmed: another restart does not answer them a second time.
    await bot_stack.restart_bridge()
    again = await bot_stack.say("viewer", "/lang en")
    assert [m.plain_text() for m in again] == ["Language set to English."]


# ------------------------------------------------------------------------------ webhook


async def test_webhook_mode_answers_and_checks_the_secret(make_bot_stack: Any) -> None:
    # The webhook URL is given (a public URL in production), so the listener's
    # port must be known before start: pick a free one.
    port = free_port()
    stack: Stack = await make_bot_stack(
        telegram_overrides={
            "mode": "webhook",
            "webhook_url": f"http://127.0.0.1:{port}",
            "webhook_secret": "s3cret",
        },
        bridge_overrides={"http_port": port},
    )
    emu = stack.emu
    assert stack.bridge is not None and stack.bridge.http_port == port
    hook = f"http://127.0.0.1:{port}/telegram/webhook"
    assert emu.webhook_url == hook
    [set_call] = emu.calls_to("setWebhook")
    assert set_call.params["secret_token"] == "s3cret"

    reply = one(await stack.say("viewer", "/online 1002"))
    assert reply.plain_text().startswith("👥 消防一大队主频 1002")
    choice = one(await stack.say("viewer", "/user zs"))
    chosen = one(await stack.press("viewer", choice, "👤 张珊 (zhangshan01)"))  # a callback
    assert chosen.plain_text().startswith("👤 张珊 10002")
    assert emu.calls_to("getUpdates") == []
    assert emu.pending_updates == []

    def update(update_id: int) -> dict[str, Any]:
        return {
            "update_id": update_id,
            "message": {
                "message_id": 9000 + update_id,
                "date": 1_800_000_000,
                "chat": {"id": 1003, "type": "private", "first_name": "Viewer"},
                "from": {"id": 1003, "is_bot": False, "first_name": "Viewer"},
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }

    emu.mark(1003)
    async with aiohttp.ClientSession() as http:
        for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
            async with http.post(hook, json=update(1), headers=headers) as resp:
                assert resp.status in (401, 403)
        # The same update with the right secret is taken: the route and body are fine.
        right = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        async with http.post(hook, json=update(2), headers=right) as resp:
            assert resp.status == 200
    [answer] = await emu.wait_for_messages(1003, timeout=10)
    assert answer.plain_text().startswith("What you can do")
    # Only the update with the right secret was answered.
    reply = one(await stack.say("viewer", "/lang en"))
    assert reply.plain_text() == "Language set to English."


# ------------------------------------------------------------------------------ 409 Conflict


async def test_a_second_poller_stops_the_bridge_with_status_1(bot_stack: Stack) -> None:
    emu = bot_stack.emu
    bridge = bot_stack.bridge
    assert bridge is not None and not bridge.stopped.is_set()
    await emu.wait_for(lambda: emu.polling, timeout=10)

    other = Bot(BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.url)))
    try:
        poll = asyncio.create_task(other.get_updates(timeout=2))
        await asyncio.wait_for(bridge.stopped.wait(), timeout=15)
        with contextlib.suppress(TelegramConflictError):
            await poll
    finally:
        await other.session.close()
    assert bridge.exit_code == 1
    assert "another instance" in bridge.exit_reason
    assert "409" in bridge.exit_reason
    conflicts = [c for c in emu.calls_to("getUpdates") if c.status == 409]
    assert conflicts


# ------------------------------------------------------------------------------ health


async def test_healthz_and_readyz(bot_stack: Stack) -> None:
    assert bot_stack.bridge is not None and bot_stack.bridge.http_port
    base = f"http://127.0.0.1:{bot_stack.bridge.http_port}"
    async with aiohttp.ClientSession() as http:

        async def get(path: str) -> tuple[int, dict[str, Any]]:
            async with http.get(base + path) as resp:
                return resp.status, await resp.json()

        assert await get("/healthz") == (200, {"status": "ok"})
        status, body = await get("/readyz")
        assert status == 200, body
        assert body["status"] == "ok"
        assert body["checks"] == {"db": "ok", "platform": "ok", "directory": "loaded"}
        # The platform failing, a read-only database, the 10 s cache of the platform's
        # answer: tests/test_http_hardening.py.


# ------------------------------------------------------------------------------ menus


def _menu(emu: TelegramEmulator, scope: dict[str, Any], lang: str = "") -> list[str]:
    return [c["command"] for c in emu.get_commands(scope, lang)]


async def test_command_menus_per_language_and_per_role(bot_stack: Stack) -> None:
    emu = bot_stack.emu
    default = {"type": "default"}
    anyone = menu_of(Role.NONE)
    assert anyone == ["help", "lang"]
    assert _menu(emu, default, "en") == _menu(emu, default, "zh") == _menu(emu, default) == anyone
    descriptions = {
        lang: {c["command"]: c["description"] for c in emu.get_commands(default, lang)}
        for lang in ("en", "zh")
    }
    assert descriptions["en"]["help"] == "What I can do for you"
    assert descriptions["zh"]["help"] != descriptions["en"]["help"]
    assert all(ord(ch) > 0x2E80 for ch in descriptions["zh"]["help"] if ch.isalpha())

    def chat(uid: int) -> dict[str, Any]:
        return {"type": "chat", "chat_id": uid}

    viewer, supervisor, scoped = (
        _menu(emu, chat(1003)),
        _menu(emu, chat(1002)),
        _menu(emu, chat(1004)),
    )
    admin = _menu(emu, chat(1001))
    assert viewer == menu_of(Role.VIEWER) and "role" not in viewer and "invite" not in viewer
    assert supervisor == scoped == menu_of(Role.SUPERVISOR) and "role" not in supervisor
    assert admin == menu_of(Role.ADMIN) and {"role", "invite"} <= set(admin)
    assert _menu(emu, chat(1005)) == []  # a stranger has the default menu

    # A user's menu follows their /lang.
    await bot_stack.say("viewer", "/lang zh")
    zh = {c["command"]: c["description"] for c in emu.get_commands(chat(1003))}
    assert list(zh) == menu_of(Role.VIEWER)
    assert zh["help"] == descriptions["zh"]["help"]

    # At start the bridge sets every stored role's menu again.
    emu.commands.clear()
    await bot_stack.restart_bridge()
    assert _menu(emu, chat(1003)) == menu_of(Role.VIEWER)
    assert _menu(emu, chat(1004)) == menu_of(Role.SUPERVISOR)
    assert _menu(emu, chat(1001)) == menu_of(Role.ADMIN)
    assert _menu(emu, default, "zh") == anyone


# ------------------------------------------------------------------------------ the process

REPO = Path(__file__).resolve().parent.parent
SECRET_BOT_TOKEN = "987654:SECRET-bot-token-xyz"
SECRET_PLATFORM_TOKEN = "plat-SECRET-token-123"
SECRET_CALLBACK_TOKEN = "cb-SECRET-token-456"


def _child_env(**values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PLATFORM_", "TELEGRAM_", "BRIDGE_"))
    }
    env.update(values)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO)  # the child runs the code under test, wherever it is
    return env


async def test_run_with_a_bad_port_exits_2_naming_the_setting(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=_child_env(
            BRIDGE_HTTP_PORT="abc",
            TELEGRAM_BOT_TOKEN="123:abc",
            PLATFORM_BASE_URL="http://127.0.0.1:9",
            PLATFORM_TOKEN="t",
            PLATFORM_CALLBACK_TOKEN="c",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    lines = [ln for ln in (out + err).decode().splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "BRIDGE_HTTP_PORT" in lines[0] and "abc" in lines[0]
    assert "Traceback" not in lines[0]


class OutsideWorld:
    """An emulator and a sandbox in this process, for a bridge run as a child process."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir()
        self.sandbox = SandboxPlatform(token=SECRET_PLATFORM_TOKEN)
        self.emu = TelegramEmulator(SECRET_BOT_TOKEN, flood_limits=False)
        self.proc: asyncio.subprocess.Process | None = None

    async def start_child(self) -> asyncio.subprocess.Process:
        await self.sandbox.start()
        await self.emu.start()
        env = _child_env(
            TELEGRAM_BOT_TOKEN=SECRET_BOT_TOKEN,
            TELEGRAM_API_BASE=self.emu.url,
            PLATFORM_BASE_URL=self.sandbox.url,
            PLATFORM_TOKEN=SECRET_PLATFORM_TOKEN,
            PLATFORM_CALLBACK_TOKEN=SECRET_CALLBACK_TOKEN,
            BRIDGE_HTTP_HOST="127.0.0.1",
            BRIDGE_HTTP_PORT="0",
            BRIDGE_DB_PATH=str(self.workdir / "bridge.db"),
            BRIDGE_ADMIN_IDS="1001",
            BRIDGE_LANGUAGE="en",
        )
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.workdir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return self.proc

    async def running(self) -> None:
        """Until the child long-polls the emulator (it is up); fails if it exits first."""
        proc = self.proc
        assert proc is not None
        up = asyncio.create_task(self.emu.wait_for(lambda: self.emu.polling, timeout=60))
        exited = asyncio.create_task(proc.wait())
        await asyncio.wait({up, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            up.cancel()
            out, err = await proc.communicate()
            pytest.fail(f"the bridge exited with {proc.returncode}: {(out + err).decode()}")
        exited.cancel()
        await up  # raises TimeoutError if it never polled

    async def finished(self, *, sigterm: bool) -> tuple[int, str]:
        proc = self.proc
        assert proc is not None
        if sigterm and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode is not None
        return proc.returncode, (out + err).decode()

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        await self.emu.stop()
        await self.sandbox.stop()


def _assert_no_secrets(output: str) -> None:
    for secret in (SECRET_BOT_TOKEN, SECRET_PLATFORM_TOKEN, SECRET_CALLBACK_TOKEN):
        assert secret not in output
    assert "SECRET-bot-token" not in output  # not even the token's secret half


async def test_run_answers_then_stops_on_sigterm_or_on_409(tmp_path: Path) -> None:
    """Two `python -m bot run` processes, started together (each takes seconds to
    import aiogram): one answers /start and exits 0 on SIGTERM; the other meets a
    second poller of its token and exits 1 saying so. No secret in either's output."""
    calm, clash = OutsideWorld(tmp_path / "calm"), OutsideWorld(tmp_path / "clash")
    try:
        await asyncio.gather(calm.start_child(), clash.start_child())
        await asyncio.gather(calm.running(), clash.running())

        admin = calm.emu.add_user(1001, "Admin Ada", language_code="en")
        await calm.emu.send_message(admin, "/start")
        [reply] = await calm.emu.wait_for_messages(admin.id, timeout=20)
        assert reply.plain_text().startswith("What you can do — administrator")
        assert calm.emu.get_commands({"type": "default"}, "en")  # its menus were set

        # A second instance polls the clash child's token.
        url = f"{clash.emu.url}/bot{SECRET_BOT_TOKEN}/getUpdates"
        async with aiohttp.ClientSession() as http, http.post(url, json={"timeout": 1}) as resp:
            assert resp.status in (200, 409)

        (calm_code, calm_out), (clash_code, clash_out) = await asyncio.gather(
            calm.finished(sigterm=True), clash.finished(sigterm=False)
        )
    finally:
        await asyncio.gather(calm.close(), clash.close())
    assert calm_code == 0, calm_out
    assert "Traceback" not in calm_out
    assert clash_code == 1, clash_out
    assert "another instance is polling this bot token" in clash_out
    _assert_no_secrets(calm_out)
    _assert_no_secrets(clash_out)


# ------------------------------------------------------------------------------ log secrets


def test_secret_filter_masks_messages_and_tracebacks() -> None:
    secrets = ["123456:bot-SECRET", "plat-SECRET", "ab"]  # "ab": too short to mask safely
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(SecretFilter(secrets))
    log = logging.getLogger("tests.secret-filter")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("calling %s/bot%s/getMe", "http://api", "123456:bot-SECRET")
        log.warning("token=plat-SECRET in a literal message, ab stays")
        try:
            raise RuntimeError("platform refused token plat-SECRET")
        except RuntimeError:
            log.exception("request with %r failed", {"token": "plat-SECRET"})
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert "SECRET" not in out
    assert "calling http://api/bot***/getMe" in out
    assert "token=*** in a literal message, ab stays" in out
    assert "Traceback (most recent call last)" in out
    assert "RuntimeError: platform refused token ***" in out
    assert "{'token': '***'} failed" in out


def test_secret_filter_with_json_lines_and_the_settings_secrets() -> None:
    settings = Settings.load(
        None,
        telegram={"bot_token": "777:tg-SECRET-x", "webhook_secret": "hook-SECRET"},
        platform={
            "base_url": "http://127.0.0.1:1",
            "token": "tok-SECRET",
            "account": "dispatcher",
            "password": "pw-SECRET",
            "callback_token": "cb-SECRET",
        },
    )
    found = set(secrets_of(settings))
    assert {"777:tg-SECRET-x", "hook-SECRET", "tok-SECRET", "pw-SECRET", "cb-SECRET"} <= found
    assert "dispatcher" not in found  # an account name is not a secret

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(SecretFilter(found))
    log = logging.getLogger("tests.secret-filter-json")
    log.propagate = False
    log.addHandler(handler)
    try:
        try:
            raise ValueError("login pw-SECRET as dispatcher with tok-SECRET")
        except ValueError:
            log.error("callback %s rejected", "cb-SECRET", exc_info=True)
    finally:
        log.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["msg"] == "callback *** rejected"
    assert "ValueError: login *** as dispatcher with ***" in record["exc"]
    assert "SECRET" not in line
