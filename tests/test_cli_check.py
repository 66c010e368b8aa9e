"""`pttbridge check` against the sandbox platform: one line per check, exit 0/1/2."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.cli import check, main
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import TelegramEmulator

Factory = Callable[..., Awaitable[SandboxPlatform]]

BOT_TOKEN = "123456:SECRET-check-bot-token"
CALLBACK_TOKEN = "SECRET-check-callback"


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    """The Telegram Bot API emulator, for `check`'s bot-token line."""
    emu = TelegramEmulator(BOT_TOKEN)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
def telegram_env(emulator: TelegramEmulator) -> dict[str, str]:
    """What `check` requires beside the platform (as `run` does): a bot token the
    emulator accepts, and the callback token."""
    return {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_BASE": emulator.url,
        "PLATFORM_CALLBACK_TOKEN": CALLBACK_TOKEN,
    }


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch, telegram_env: dict[str, str]) -> Callable[..., None]:
    """`set_env(PLATFORM_...=...)`: those settings plus `telegram_env`."""

    def set_them(**values: str) -> None:
        for name, value in {**telegram_env, **values}.items():
            monkeypatch.setenv(name, value)

    return set_them


SetEnv = Callable[..., None]


async def run_check(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = await check(None)
    out = capsys.readouterr()
    assert out.err == ""
    return code, out.out.splitlines()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_all_checks_pass(
    sandbox: SandboxPlatform,
    emulator: TelegramEmulator,
    monkeypatch: pytest.MonkeyPatch,
    set_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(PLATFORM_BASE_URL=sandbox.url, PLATFORM_TOKEN=sandbox.token)
    code, lines = await run_check(capsys)
    assert code == 0
    assert lines[0] == "ok   settings"
    assert lines[1].startswith(f"ok   platform reachable at {sandbox.url}/wapi")
    assert lines[2] == "ok   platform token accepted"
    assert lines[3] == f"ok   telegram bot @pttbridge_bot at {emulator.url}"
    assert len(lines) == 4
    assert not any(line.startswith("FAIL") for line in lines)
    assert not {sandbox.token, BOT_TOKEN, CALLBACK_TOKEN} & set("\n".join(lines).split())
    assert sandbox.requests_to("/user/info")  # it did reach the platform


async def test_login_mode_passes(
    sandbox: SandboxPlatform,
    monkeypatch: pytest.MonkeyPatch,
    set_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(
        PLATFORM_BASE_URL=sandbox.url,
        PLATFORM_ACCOUNT=sandbox.account,
        PLATFORM_PASSWORD=sandbox.password,
    )
    code, lines = await run_check(capsys)
    assert code == 0
    assert f"ok   platform login as {sandbox.account}" in lines
    assert "ok   platform token accepted" in lines
    assert sandbox.login_count == 1
    assert sandbox.password not in "\n".join(lines)


async def test_wrong_token_names_platform_token(
    sandbox: SandboxPlatform,
    monkeypatch: pytest.MonkeyPatch,
    set_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "SECRET-wrong-token-0451"
    set_env(PLATFORM_BASE_URL=sandbox.url, PLATFORM_TOKEN=wrong)
    code, lines = await run_check(capsys)
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 1 and "PLATFORM_TOKEN" in fails[0]
    assert any(line.startswith("ok   platform reachable") for line in lines)
    text = "\n".join(lines)
    assert wrong not in text and sandbox.token not in text


async def test_custom_header_named_in_the_failure(
    sandbox_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    set_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sb = await sandbox_factory(token_header="pc-access-token")
    set_env(PLATFORM_BASE_URL=sb.url, PLATFORM_TOKEN=sb.token)
    code, lines = await run_check(capsys)
    assert code == 1
    fail = next(line for line in lines if line.startswith("FAIL"))
    assert "PLATFORM_TOKEN_HEADER=token" in fail
    monkeypatch.setenv("PLATFORM_TOKEN_HEADER", "pc-access-token")
    code, lines = await run_check(capsys)
    assert code == 0, lines


async def test_unreachable_platform_names_the_base_url(
    monkeypatch: pytest.MonkeyPatch, set_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    set_env(
        PLATFORM_BASE_URL=f"http://127.0.0.1:{free_port()}",
        PLATFORM_TOKEN="SECRET-token-7",
        PLATFORM_TIMEOUT_S="2",
    )
    code, lines = await run_check(capsys)
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 1 and "PLATFORM_BASE_URL" in fails[0]
    assert "SECRET-token-7" not in "\n".join(lines)


async def test_wrong_prefix_names_the_base_url(
    sandbox: SandboxPlatform,
    monkeypatch: pytest.MonkeyPatch,
    set_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(PLATFORM_BASE_URL=sandbox.url + "/api", PLATFORM_TOKEN=sandbox.token)
    code, lines = await run_check(capsys)
    assert code == 1
    fail = next(line for line in lines if line.startswith("FAIL"))
    assert "PLATFORM_BASE_URL" in fail and "404" in fail


async def test_wrong_password_names_platform_password(
    sandbox: SandboxPlatform,
    monkeypatch: pytest.MonkeyPatch,
    set_env: SetEnv,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_env(
        PLATFORM_BASE_URL=sandbox.url,
        PLATFORM_ACCOUNT=sandbox.account,
        PLATFORM_PASSWORD="SECRET-wrong-password",
    )
    code, lines = await run_check(capsys)
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 1 and "PLATFORM_PASSWORD" in fails[0]
    assert "SECRET-wrong-password" not in "\n".join(lines)
    assert sandbox.login_count == 0


async def test_missing_settings_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Validated as `run` validates: every missing setting, a line each on stderr.
    code = await check(None)
    out = capsys.readouterr()
    assert (code, out.out) == (2, "")
    assert [line.partition(": ")[2].partition(":")[0] for line in out.err.splitlines()] == [
        "TELEGRAM_BOT_TOKEN",
        "PLATFORM_BASE_URL",
        "PLATFORM_TOKEN",
        "PLATFORM_CALLBACK_TOKEN",
    ]
    monkeypatch.setenv("PLATFORM_BASE_URL", "http://10.1.2.3:8080")
    monkeypatch.setenv("PLATFORM_TIMEOUT_S", "soon")
    code = await check(None)
    out = capsys.readouterr()
    assert code == 2 and out.out == ""
    assert "pttbridge: PLATFORM_TIMEOUT_S: not a number of seconds: 'soon'" in out.err.splitlines()


async def test_a_bad_bot_token_fails_the_telegram_check(
    sandbox: SandboxPlatform, set_env: SetEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    set_env(
        PLATFORM_BASE_URL=sandbox.url,
        PLATFORM_TOKEN=sandbox.token,
        TELEGRAM_BOT_TOKEN="654321:SECRET-unknown-bot",
    )
    code, lines = await run_check(capsys)
    assert code == 1
    assert [line for line in lines if line.startswith("FAIL")] == [
        "FAIL telegram: the bot token was rejected (TELEGRAM_BOT_TOKEN)"
    ]
    assert "SECRET-unknown-bot" not in "\n".join(lines)


async def python_m_bot_check(env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    # Asynchronous: the sandbox answering it runs on this very event loop.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        "--env-file",
        os.devnull,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def child_env(**kw: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PLATFORM_", "TELEGRAM_", "BRIDGE_", "PYTHON"))
    }
    env.update(kw)
    return env


async def test_the_command_itself(
    sandbox: SandboxPlatform,
    telegram_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`python -m bot check` as a process (seconds of importing aiogram, so one): a
    rejected token is exit 1 with the lines on stdout and nothing on stderr. The passing
    case through `main`, as the process calls it: exit 0."""
    settings = {**telegram_env, "PLATFORM_BASE_URL": sandbox.url}
    code, out, err = await python_m_bot_check(
        child_env(**settings, PLATFORM_TOKEN="SECRET-bad-42"), tmp_path
    )
    assert (code, err) == (1, "")
    assert out.splitlines()[:2] == ["ok   settings", out.splitlines()[1]]
    assert out.splitlines()[1].startswith("ok   platform reachable at")
    assert "FAIL platform token rejected" in out and "PLATFORM_TOKEN" in out
    assert "SECRET-bad-42" not in out and sandbox.token not in out

    monkeypatch.chdir(tmp_path)
    for name, value in {**settings, "PLATFORM_TOKEN": sandbox.token}.items():
        monkeypatch.setenv(name, value)
    # In a thread: main runs its own event loop; the sandbox answers on this one.
    assert await asyncio.to_thread(main, ["check", "--env-file", os.devnull]) == 0
    passed = capsys.readouterr()
    assert passed.err == ""
    assert passed.out.splitlines()[:3] == [
        "ok   settings",
        passed.out.splitlines()[1],
        "ok   platform token accepted",
    ]
    assert passed.out.splitlines()[1].startswith("ok   platform reachable at")
