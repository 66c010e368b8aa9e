"""`pttbridge run` / `check` / `sandbox` as an operator meets them: every bad setting at
once, a missing `--env-file`, a busy port, and SIGTERM while Telegram does not answer."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.sandbox.platform import SandboxPlatform

BOT_TOKEN = "123456:SECRET-run-bot-token"


def child_env(**kw: str) -> dict[str, str]:
    """This process's environment without any setting (or PYTHON* switch), plus `kw`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PLATFORM_", "TELEGRAM_", "BRIDGE_", "PYTHON"))
    }
    env.update(kw)
    return env


@pytest.fixture
def sandbox_env(sandbox: SandboxPlatform) -> dict[str, str]:
    """The sandbox platform (reachable, token accepted) as settings."""
    return {"PLATFORM_BASE_URL": sandbox.url, "PLATFORM_TOKEN": sandbox.token}


def names(stderr: str) -> list[str]:
    """The setting each `pttbridge: NAME: what is wrong` line names."""
    out = []
    for line in stderr.splitlines():
        assert line.startswith("pttbridge: "), line
        out.append(line.removeprefix("pttbridge: ").partition(":")[0])
    return out


# -- 20: run and check validate alike, listing every problem at once ----------------------


async def test_check_refuses_what_run_refuses(
    sandbox_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The platform is reachable and its token good, but run cannot start: no bot token,
    no callback token. `check` used to pass this (exit 0)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for k, v in sandbox_env.items():
        monkeypatch.setenv(k, v)
    # In a thread: the CLI runs its own event loop; the sandbox answers on this one.
    code_check = await asyncio.to_thread(main, ["check"])
    check = capsys.readouterr()
    code_run = await asyncio.to_thread(main, ["run"])
    run = capsys.readouterr()
    assert (code_check, code_run) == (2, 2)
    assert check.out == "" and run.out == ""
    assert check.err == run.err
    assert names(run.err) == ["TELEGRAM_BOT_TOKEN", "PLATFORM_CALLBACK_TOKEN"]


BAD_ENV_FILE = (
    "TELEGRAM_MODE=webhook\n"
    "TELEGRAM_WEBHOOK_URL=http://bot.example.org\n"  # not https
    "PLATFORM_BASE_URL=http://10.1.2.3:8080\n"
    "PLATFORM_ACCOUNT=dispatcher\n"  # without its password
    "PLATFORM_TIMEOUT_S=soon\n"
    "BRIDGE_HTTP_PORT=80800\n"
)
BAD_ENV = {"BRIDGE_TIMEZONE": "Mars/Olympus", "TELEGRAM_BOT_TOKEN": "hunter2-no-colon"}
EXPECTED = [
    "TELEGRAM_BOT_TOKEN",  # malformed (and not echoed)
    "TELEGRAM_WEBHOOK_URL",  # http:// in webhook mode
    "TELEGRAM_WEBHOOK_SECRET",  # required in webhook mode
    "PLATFORM_TIMEOUT_S",
    "PLATFORM_PASSWORD",
    "PLATFORM_CALLBACK_TOKEN",
    "BRIDGE_HTTP_PORT",
    "BRIDGE_TIMEZONE",
]


@pytest.mark.parametrize("command", ["run", "check"])
def test_every_bad_setting_is_a_line_at_once(tmp_path: Path, command: str) -> None:
    env_file = tmp_path / "bridge.env"
    env_file.write_text(BAD_ENV_FILE, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "bot", command, "--env-file", str(env_file)],
        cwd=tmp_path,
        env=child_env(**BAD_ENV),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    assert names(out.stderr) == EXPECTED
    assert "hunter2" not in out.stderr and "Traceback" not in out.stderr
    assert "TELEGRAM_WEBHOOK_URL: must be an https:// URL" in out.stderr


# -- 21: a named --env-file must exist -----------------------------------------------------


@pytest.mark.parametrize("command", ["run", "check"])
def test_a_missing_env_file_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    missing = tmp_path / "prod.env"
    # Even with nothing else missing (it used to start on the environment alone).
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("PLATFORM_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATFORM_TOKEN", "t")
    monkeypatch.setenv("PLATFORM_CALLBACK_TOKEN", "cb")
    assert main([command, "--env-file", str(missing)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.splitlines() == [f"pttbridge: --env-file: no such file: {str(missing)!r}"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "--env-file: a directory, not a settings file"),
        (b"PLATFORM_TOKEN=\xff\xfe\n", "--env-file: not UTF-8 text (byte 15)"),
    ],
)
def test_an_unreadable_env_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, expected: str
) -> None:
    path = tmp_path / "bridge.env"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    assert main(["run", "--env-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"pttbridge: {expected}: {str(path)!r}"]


def test_without_env_file_a_missing_dotenv_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here: the environment alone
    assert main(["run"]) == 2
    assert "--env-file" not in capsys.readouterr().err  # only the settings it lacks


# -- 22: a busy port is one line and exit 2 ---------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 something else is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_sandbox_on_a_busy_port(tmp_path: Path, busy_port: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(busy_port)],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith(f"pttbridge: --host/--port: cannot listen on 127.0.0.1:{busy_port}: ")
    assert "address already in use" in line


# -- 23: SIGTERM while Telegram is still being reached ---------------------------------------


class SilentTelegram:
    """A "Bot API server" that accepts each connection and never answers it (`hang`), or
    closes it at once (`reset`: aiogram sees a network error and retries)."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.changed = asyncio.Event()
        self._held: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.changed.set()
        if self.behaviour == "reset":
            await reader.read(1)  # the request has begun
            writer.close()
        else:
            self._held.append(writer)

    async def wait_connections(self, n: int) -> None:
        while self.connections < n:
            self.changed.clear()
            await self.changed.wait()

    async def stop(self) -> None:
        for w in self._held:
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def run_bot(env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--env-file",
        os.devnull,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def sigterm_while_silent(
    sandbox_env: dict[str, str], telegram: SilentTelegram, cwd: Path
) -> tuple[int, str, str]:
    """`run` against `telegram`, sent SIGTERM once it is reaching Telegram (for "reset":
    already retrying): its exit code, stderr and stdout."""
    env = child_env(
        **sandbox_env,
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_BASE=telegram.url,
        PLATFORM_CALLBACK_TOKEN="cb",
        BRIDGE_HTTP_PORT="0",
        BRIDGE_DB_PATH=str(cwd / f"{telegram.behaviour}.db"),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--env-file",
        os.devnull,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None

        async def starting() -> None:
            while line := (await proc.stderr.readline()).decode():  # type: ignore[union-attr]
                seen.append(line)
                if "pttbridge is starting" in line:
                    return
            raise AssertionError("exited before starting:\n" + "".join(seen))

        await asyncio.wait_for(starting(), timeout=60)
        wanted = 2 if telegram.behaviour == "reset" else 1
        await asyncio.wait_for(telegram.wait_connections(wanted), timeout=60)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, "".join(seen) + err.decode(), out.decode()


async def test_run_on_a_busy_port_and_sigterm_while_telegram_does_not_answer(
    sandbox_env: dict[str, str], tmp_path: Path, busy_port: int
) -> None:
    """Three `run` processes, started together (each takes seconds to import aiogram):
    on a busy port it is one line and exit 2 (22); SIGTERM while Telegram accepts the
    connection and never answers, or closes it at once (aiogram retrying), is exit 0
    (23)."""
    busy_env = child_env(
        **sandbox_env,
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_BASE="http://127.0.0.1:9",  # never reached: listening comes first
        PLATFORM_CALLBACK_TOKEN="cb",
        BRIDGE_HTTP_PORT=str(busy_port),
        BRIDGE_DB_PATH=str(tmp_path / "bridge.db"),
    )
    hang, reset = SilentTelegram("hang"), SilentTelegram("reset")
    await hang.start()
    await reset.start()
    try:
        async with asyncio.TaskGroup() as tg:
            busy = tg.create_task(run_bot(busy_env, tmp_path))
            hung = tg.create_task(sigterm_while_silent(sandbox_env, hang, tmp_path))
            reset_ = tg.create_task(sigterm_while_silent(sandbox_env, reset, tmp_path))
    finally:
        await hang.stop()
        await reset.stop()

    code, _out, err = busy.result()
    assert code == 2
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("pttbridge: ")]
    assert line.startswith(
        f"pttbridge: BRIDGE_HTTP_HOST/BRIDGE_HTTP_PORT: cannot listen on 127.0.0.1:{busy_port}: "
    )
    for task in (hung, reset_):
        code, stderr, stdout = task.result()
        assert code == 0, stderr
        assert "Traceback" not in stderr
        assert stdout == ""
