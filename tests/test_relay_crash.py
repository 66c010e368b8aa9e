"""The crash test: the bridge as a real process, killed with SIGKILL in the middle of a
burst of incidents and started again on the same database (DESIGN §6).

Every incident the platform was told was stored (HTTP 200) must reach the chats; the
ones whose POST failed are POSTed again after the restart, as the platform retries.
A message may be sent twice only if its send was in flight at the kill: the outbox
rows left in 'sending' bound the duplicates. The test prints the counts on a line the
lead greps for: `CRASH-TEST: lost=0 duplicates=K`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import bot
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import TelegramEmulator

BOT_TOKEN = "123456:CRASH-test-token"
CALLBACK_TOKEN = "crash-callback-token"
ADMIN = 1001
GROUPS = (-100551, -100552, -100553)
BURST = 300
SENDERS = 8  # the platform's concurrent callback senders
ROOT = Path(bot.__file__).resolve().parents[1]  # the tree under test, for the subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BridgeProcess:
    """`python -m bot run` with the settings of this test; its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.url = f"http://127.0.0.1:{env['BRIDGE_HTTP_PORT']}"

    async def start(self, emu: TelegramEmulator) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=self.log.parent,  # no .env there
                env=self.env,
                stdout=out,
                stderr=out,
            )
        # Ready when it polls Telegram: it listens for HTTP first, then drops any webhook
        # (a call a killed process can no longer make), then polls. Await that, or the
        # process ending, whichever comes first.
        proc = self.proc
        webhooks = len(emu.calls_to("deleteWebhook"))

        async def polls() -> None:
            await emu.wait_for(lambda: len(emu.calls_to("deleteWebhook")) > webhooks, 30)
            await emu.wait_for(lambda: emu.polling, 30)

        ready, exited = asyncio.ensure_future(polls()), asyncio.ensure_future(proc.wait())
        try:
            await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            ready.cancel()
        assert proc.returncode is None, self.output()
        assert ready.done() and not ready.cancelled(), self.output()
        ready.result()  # a TimeoutError if it never polled
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + "/healthz") as resp,
        ):
            assert resp.status == 200, self.output()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def wait(self, timeout: float) -> int:  # noqa: ASYNC109
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
async def world() -> AsyncIterator[tuple[SandboxPlatform, TelegramEmulator]]:
    platform = SandboxPlatform()
    await platform.start()
    emu = TelegramEmulator(BOT_TOKEN, flood_limits=False)
    await emu.start()
    yield platform, emu
    await emu.stop()
    await platform.stop()


async def test_a_bridge_killed_mid_burst_loses_nothing_and_repeats_only_sends_in_flight(
    world: tuple[SandboxPlatform, TelegramEmulator],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    platform, emu = world
    admin = emu.add_user(ADMIN, "Admin Ada", language_code="en", username="admin")
    for chat in GROUPS:
        emu.add_group(chat, f"Team {chat}", admins=[admin], members=[admin])
    db = tmp_path / "bridge.db"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "PLATFORM_", "BRIDGE_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_BASE=emu.url,
        PLATFORM_BASE_URL=platform.url,
        PLATFORM_TOKEN=platform.token,
        PLATFORM_CALLBACK_TOKEN=CALLBACK_TOKEN,
        PLATFORM_TIMEOUT_S="5",
        BRIDGE_DB_PATH=str(db),
        BRIDGE_HTTP_HOST="127.0.0.1",
        BRIDGE_HTTP_PORT=str(free_port()),
        BRIDGE_ADMIN_IDS=str(ADMIN),
        BRIDGE_LANGUAGE="en",
        BRIDGE_RATE_GLOBAL="1000",
        BRIDGE_RATE_PER_CHAT="1000",
        BRIDGE_RATE_PER_GROUP_MIN="1000",
    )
    bridge = BridgeProcess(env, tmp_path / "bridge.log")
    await bridge.start(emu)
    try:
        for chat in GROUPS:
            await emu.send_message(admin, "/subscribe incidents", chat=chat)
            [ok] = await emu.wait_for_messages(chat, 1, timeout=20)
            assert "This chat now receives" in ok.plain_text()

        bodies = [platform.make_report(urls=[]) for _ in range(BURST)]
        acked: set[str] = set()
        failed: list[dict[str, Any]] = []
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)

        half_acked = asyncio.Event()

        async def sender(session: aiohttp.ClientSession) -> None:
            while not queue.empty():
                body = queue.get_nowait()
                try:
                    async with session.post(
                        bridge.url + "/platform/events/report",
                        json=body,
                        headers={"token": CALLBACK_TOKEN},
                    ) as resp:
                        answer = await resp.json(content_type=None)
                        if resp.status == 200 and answer.get("status") == 200:
                            acked.add(body["code"])
                            if len(acked) >= BURST // 2:
                                half_acked.set()
                            continue
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    pass
                failed.append(body)

        async def killer() -> None:
            # Mid-burst: half acknowledged, and incidents going out in every chat (the
            # first message of each is the reply to /subscribe).
            await asyncio.wait_for(half_acked.wait(), 60)
            await emu.wait_for(lambda: all(len(emu.messages(c)) >= 3 for c in GROUPS), 60)
            assert not queue.empty(), (
                f"the burst ended before the kill: {len(acked)} acknowledged, "
                f"{[len(emu.messages(c)) for c in GROUPS]} messages"
            )
            os.kill(bridge.pid, signal.SIGKILL)

        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(killer(), *(sender(session) for _ in range(SENDERS)))
        assert await bridge.wait(10) == -signal.SIGKILL

        # What the kill left: rows whose send was under way bound the duplicates.
        with sqlite3.connect(db) as conn:
            in_flight = conn.execute("SELECT count(*) FROM outbox WHERE state = 'sending'")
            sending_at_kill = int(in_flight.fetchone()[0])
            stored = {row[0] for row in conn.execute("SELECT dedupe_key FROM incidents").fetchall()}
        conn.close()
        # Acknowledged means stored.
        assert {f"report:{b['id']}:{b['code']}" for b in bodies if b["code"] in acked} <= stored
        assert 0 < len(acked) < BURST

        await bridge.start(emu)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for body in failed:  # the platform retries what was not acknowledged
                async with session.post(
                    bridge.url + "/platform/events/report",
                    json=body,
                    headers={"token": CALLBACK_TOKEN},
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    acked.add(body["code"])
        assert acked == {b["code"] for b in bodies}

        def codes(chat: int) -> list[str]:
            return [
                c
                for m in emu.messages(chat)
                for c in re.findall(r"Incident (SJ\d+)", m.plain_text())
            ]

        everything = {b["code"] for b in bodies}
        await emu.wait_for(lambda: all(set(codes(c)) >= everything for c in GROUPS), timeout=60)
        lost = sum(len(everything - set(codes(c))) for c in GROUPS)
        duplicates = sum(len(codes(c)) - len(set(codes(c))) for c in GROUPS)
        line = (
            f"CRASH-TEST: lost={lost} duplicates={duplicates} "
            f"(sending at the kill: {sending_at_kill}; acknowledged before it: "
            f"{BURST - len(failed)}, POSTed again after it: {len(failed)}; "
            f"{BURST} incidents x {len(GROUPS)} chats)"
        )
        print(line)
        with capsys.disabled():
            print("\n" + line)
        assert lost == 0
        assert duplicates <= sending_at_kill
        # In order per chat (the order they were stored in), the repeats apart.
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT body FROM incidents ORDER BY id").fetchall()
        conn.close()
        order = [json.loads(body)["code"] for (body,) in rows]
        for chat in GROUPS:
            assert list(dict.fromkeys(codes(chat))) == order

        assert bridge.proc is not None
        bridge.proc.send_signal(signal.SIGTERM)
        assert await bridge.wait(30) == 0, bridge.output()
    finally:
        if bridge.proc is not None and bridge.proc.returncode is None:
            bridge.proc.kill()
            await bridge.proc.wait()
