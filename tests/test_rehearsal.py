"""The rehearsal the operator's guide shows, offline, in exactly three processes:
`pttbridge sandbox`, `pttbridge emulator`, and `pttbridge run` with an env file pointing
TELEGRAM_API_BASE and PLATFORM_BASE_URL at them. A user types into the emulator's stdin
and reads the bot's answers on its stdout. Nothing waits a set time: each step reads lines
until the one it expects, under a generous deadline."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEADLINE = 120.0  # seconds for any one step: a loaded machine is slow, not broken


class Child:
    """A `pttbridge` process and the lines it has written on one stream."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, stream: asyncio.StreamReader):
        self.name = name
        self.proc = proc
        self.stream = stream
        self.seen: list[str] = []

    async def until(self, text: str) -> str:
        """Read lines until one containing `text`; return it."""

        async def read() -> str:
            while raw := await self.stream.readline():
                line = raw.decode()
                self.seen.append(line)
                if text in line:
                    return line
            raise AssertionError(f"{self.name} ended before {text!r}:\n{self.tail()}")

        try:
            return await asyncio.wait_for(read(), DEADLINE)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no {text!r} in {DEADLINE} s:\n{self.tail()}"
            ) from None

    async def message(self) -> list[str]:
        """The next bot message: from its `🤖` line to the blank line after it."""
        lines = [(await self.until("🤖")).rstrip("\n")]
        while line := (await self.until("")).rstrip("\n"):
            lines.append(line)
        return lines

    def tail(self) -> str:
        return "".join(self.seen[-40:])

    async def end(self, sig: signal.Signals | None) -> str:
        """Send `sig` (None: it is leaving by itself); return what it wrote until it exited."""
        if sig is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)
        rest, _ = await asyncio.wait_for(self.proc.communicate(), DEADLINE)
        return "".join(self.seen) + (rest or b"").decode()


async def pttbridge(
    name: str, *argv: str, cwd: Path, stdin: bool = False, log_stream: str = "stdout"
) -> Child:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PLATFORM_", "TELEGRAM_", "BRIDGE_", "PYTHON"))
    }
    env["PYTHONPATH"] = str(REPO)
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *argv,
        cwd=cwd,
        env=env,
        stdin=pipe if stdin else asyncio.subprocess.DEVNULL,
        stdout=pipe,
        stderr=pipe if log_stream == "stderr" else asyncio.subprocess.STDOUT,
    )
    stream = proc.stderr if log_stream == "stderr" else proc.stdout
    assert stream is not None
    return Child(name, proc, stream)


async def test_sandbox_emulator_and_run_in_three_processes(tmp_path: Path) -> None:
    started = time.perf_counter()
    children: list[Child] = []
    try:
        sandbox = await pttbridge("sandbox", "sandbox", "--port", "0", cwd=tmp_path)
        children.append(sandbox)
        emulator = await pttbridge(
            "emulator", "emulator", "--port", "0", "--lang", "en", cwd=tmp_path, stdin=True
        )
        children.append(emulator)

        m = re.search(r"sandbox platform: (\S+)\s+token: (\S+)", await sandbox.until("token:"))
        assert m, sandbox.tail()
        platform_url, platform_token = m.groups()
        bot_token = (await emulator.until("TELEGRAM_BOT_TOKEN=")).strip().partition("=")[2]
        api_base = (await emulator.until("TELEGRAM_API_BASE=")).strip().partition("=")[2]
        admins = (await emulator.until("BRIDGE_ADMIN_IDS=")).strip().partition("=")[2]

        env_file = tmp_path / "bridge.env"
        env_file.write_text(
            f"TELEGRAM_BOT_TOKEN={bot_token}\n"
            f"TELEGRAM_API_BASE={api_base}\n"
            f"PLATFORM_BASE_URL={platform_url}\n"
            f"PLATFORM_TOKEN={platform_token}\n"
            "PLATFORM_CALLBACK_TOKEN=rehearsal-callback-token\n"
            "BRIDGE_HTTP_PORT=0\n"
            f"BRIDGE_DB_PATH={tmp_path / 'data' / 'pttbridge.db'}\n"
            f"BRIDGE_ADMIN_IDS={admins}\n"
            "BRIDGE_LANGUAGE=en\n"
        )
        run_started = time.perf_counter()
        run = await pttbridge(
            "run", "run", "--env-file", str(env_file), cwd=tmp_path, log_stream="stderr"
        )
        children.append(run)
        await run.until("pttbridge is running")
        ready = time.perf_counter()

        assert emulator.proc.stdin is not None
        emulator.proc.stdin.write(b"/start\n")
        await emulator.until("👤 admin: /start")
        start = await emulator.message()
        answered = time.perf_counter()
        # The admin named in BRIDGE_ADMIN_IDS is told what an admin may do.
        assert any("/broadcast" in line for line in start), start

        emulator.proc.stdin.write(b"/online 1002\n")
        await emulator.until("👤 admin: /online 1002")
        online = await emulator.message()
        assert "1002" in online[0], online  # the group's name and id: the sandbox answered
        assert any("online" in line.lower() or "here" in line for line in online), online

        print(
            f"\nthree-process rehearsal: ready {ready - started:.1f} s after the first start"
            f" (run alone {ready - run_started:.1f} s), /start answered after"
            f" {answered - started:.1f} s"
        )

        # Stopped as an operator stops them: run by SIGTERM, the emulator by /quit, the
        # sandbox by Ctrl-C; each leaves cleanly.
        run_log = await run.end(signal.SIGTERM)
        assert run.proc.returncode == 0, run_log[-3000:]
        assert "Traceback" not in run_log
        emulator.proc.stdin.write(b"/quit\n")
        await emulator.end(None)
        assert emulator.proc.returncode == 0, emulator.tail()
        await sandbox.end(signal.SIGINT)
        assert sandbox.proc.returncode == 0, sandbox.tail()
    finally:
        for child in children:
            if child.proc.returncode is None:
                child.proc.kill()
                await child.proc.wait()
