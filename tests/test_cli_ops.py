"""The command line an operator meets beyond `run` and `check`: `--version`, every
subcommand's `--help`, `backup` / `restore`, `console --lang`, and the console's keyboard
(a number presses the newest keyboard still shown; later edits are printed as they come)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

import bot
from bot.cli import COMMANDS, main
from bot.demo.console import Console

REPO = Path(__file__).resolve().parents[1]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`pttbridge argv...` in this process: (exit status, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    assert out == f"pttbridge {bot.__version__}\n"
    assert re.fullmatch(r"pttbridge \d+\.\d+\.\d+\S*\n", out)


def option_entries(help_text: str) -> dict[str, str]:
    """`--option`: its help text (continuation lines joined), from a help screen's options."""
    entries: dict[str, str] = {}
    current = None
    for line in help_text.split("options:", 1)[1].splitlines():
        m = re.match(r"  (-\S+(?:,? -\S+)*)(?: [A-Z_{},a-z]+)?\s*(.*)", line)
        if m and line.startswith("  -"):
            current = m.group(1).split(",")[-1].strip()
            entries[current] = m.group(2)
        elif current and line.strip():
            entries[current] += " " + line.strip()
    return entries


@pytest.mark.parametrize("command", [name for name, _ in COMMANDS])
def test_every_subcommand_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    usage, description = out.split("\n\n")[:2]
    assert usage.startswith(f"usage: pttbridge {command}")
    # One line, a sentence.
    assert "\n" not in description and description.endswith("."), description
    entries = option_entries(out)
    assert entries, out
    for option, text in entries.items():
        if option == "--help":
            continue
        assert text.strip(), f"{command} {option} has no help"
        assert "default:" in text, f"{command} {option} does not show its default: {text}"


def test_the_defaults_shown_are_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "emulator", "--help")
    entries = option_entries(out)
    assert "(default: 8081)" in entries["--port"]
    assert "(default: 127.0.0.1)" in entries["--host"]
    _, out, _ = run_cli(capsys, "sandbox", "--help")
    assert "(default: 8090)" in option_entries(out)["--port"]


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_want_a_file(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, command)
    assert code == 2
    assert out == ""
    assert err.startswith(f"usage: pttbridge {command}")
    assert "the following arguments are required: file" in err


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_name_a_missing_env_file(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.env"
    code, out, err = run_cli(capsys, command, "--env-file", str(missing), str(tmp_path / "x.db"))
    assert (code, out) == (2, "")
    assert err == f"pttbridge: --env-file: no such file: {str(missing)!r}\n"


def test_language_must_be_one_we_speak(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "demo", "--lang", "fr")
    assert code == 2
    assert "argument --lang: invalid choice: 'fr'" in err


def test_a_bad_bridge_language_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIDGE_LANGUAGE", "fr")
    code, out, err = run_cli(capsys, "console")
    assert (code, out) == (2, "")
    assert err.startswith("pttbridge: BRIDGE_LANGUAGE: ")


def test_emulator_on_a_busy_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run_cli(capsys, "emulator", "--port", str(port))
    assert (code, out) == (2, "")
    assert err.startswith(f"pttbridge: --host/--port: cannot listen on 127.0.0.1:{port}: ")
    assert len(err.splitlines()) == 1


# -- the console from the keyboard, as a subprocess: its language ---------------------------


async def console_transcript(typed: str, *argv: str, **env_kw: str) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PLATFORM_", "TELEGRAM_", "BRIDGE_"))
    }
    env.update(PYTHONPATH=str(REPO), **env_kw)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "console",
        *argv,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(typed.encode()), timeout=120)
    text = out.decode()
    assert proc.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    return text


LANGUAGE_CASES = [
    ((), {}, True),  # zh when nothing says otherwise
    (("--lang", "en"), {}, False),
    ((), {"BRIDGE_LANGUAGE": "en"}, False),
    (("--lang", "zh"), {"BRIDGE_LANGUAGE": "en"}, True),
]


async def test_console_speaks_the_language_asked_for() -> None:
    # The viewer never chose a language: they get the one every persona starts in. The four
    # consoles run at once (each spends seconds importing the app).
    texts = await asyncio.gather(
        *(
            console_transcript("/as viewer\n/help\n/quit\n", *argv, **env)
            for argv, env, _ in LANGUAGE_CASES
        )
    )
    for (argv, env, chinese), text in zip(LANGUAGE_CASES, texts, strict=True):
        title = text.split("👤 viewer: /help\n", 1)[1].splitlines()[0]  # "🤖 可用命令 — 查看者"
        assert title.startswith("🤖 "), (argv, env)
        assert bool(re.search("[\u4e00-\u9fff]", title)) is chinese, (argv, env, title)


# -- the console's keyboard, in this process against a stack --------------------------------


class Screen(io.StringIO):
    def take(self) -> str:
        """What was printed since the last take."""
        text = self.getvalue()
        self.seek(0)
        self.truncate()
        return text


@pytest.fixture
async def console(bot_stack: Any) -> Any:
    screen = Screen()
    c = Console(
        bot_stack.emu,
        bot_stack.people,
        who="viewer",
        out=screen,
        handled=bot_stack.wait_handled,
        echo=True,
    )
    yield c, screen, bot_stack
    c.close()


async def test_a_number_presses_the_newest_keyboard_still_shown(console: Any) -> None:
    c, screen, stack = console
    await c.handle("/user zs")  # ambiguous: a button per match
    assert "buttons: 1) 👤 张三 (zhangsan01)" in screen.take()
    await c.handle("/online 1002")
    assert "buttons: 1) 🔄" in screen.take()
    online = c.keyboard()
    assert online is not None and "1002" in online.plain_text()

    # Later, outside any command, the bot takes the Refresh button away: the edit is
    # printed when it happens, and the keyboard shown before it is stale.
    await stack.bridge.bot.edit_message_reply_markup(
        chat_id=online.chat_id, message_id=online.message_id, reply_markup=None
    )
    shown = screen.take()
    assert shown.startswith("🤖 (edited) 👥"), shown
    assert "buttons:" not in shown

    await c.handle("1")  # the newest keyboard still there: /user zs's choice
    shown = screen.take()
    assert "👆 viewer presses [👤 张三 (zhangsan01)]" in shown, shown
    assert "zhangsan01" in shown.split("presses", 1)[1]


async def test_buttons_replaced_by_an_edit_are_the_new_ones(console: Any) -> None:
    c, screen, stack = console
    await c.handle("/online 1002")
    online = c.keyboard()
    assert online is not None
    await stack.bridge.bot.edit_message_reply_markup(
        chat_id=online.chat_id,
        message_id=online.message_id,
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="elsewhere", url="https://example.org/")]]
        ),
    )
    assert "buttons: 1) elsewhere" in screen.take()
    await c.handle("1")  # not the Refresh shown before: the button the edit brought
    assert screen.take() == "👤 viewer: 1\n(that button opens https://example.org/ in Telegram)\n\n"
    await c.handle("2")
    assert "(no button 2: this message has 1)" in screen.take()


async def test_a_number_without_buttons_is_a_message(console: Any) -> None:
    c, screen, stack = console
    await c.handle("/help")
    screen.take()
    await c.handle("1")  # no keyboard: typed as it is
    assert screen.take().startswith("👤 viewer: 1\n(no buttons here to press: sent as a message)\n")
    typed = [m for m in stack.emu.history(stack.people["viewer"]) if not m.from_bot]
    assert typed[-1].text == "1"
    await c.handle("/as nobody")
    assert "(who? one of: admin, supervisor, viewer, scoped, stranger)" in screen.take()
    await c.handle("/as supervisor")
    assert c.who == "supervisor"
    assert not await c.handle("/quit")


# -- backup and restore: only the storage settings matter ----------------------------------


async def test_backup_and_restore_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from storage import AuditRepo, Database

    db_path = tmp_path / "data" / "pttbridge.db"
    env = tmp_path / "bridge.env"
    # A bridge that could not start (no bot token, a bad mode): backups work all the same.
    env.write_text(f"BRIDGE_DB_PATH={db_path}\nTELEGRAM_MODE=carrier-pigeon\n")
    copy = tmp_path / "copy.db"

    def cli(*argv: str) -> tuple[int, str, str]:
        return run_cli(capsys, argv[0], "--env-file", str(env), *argv[1:])

    db = await Database.open(db_path)
    try:
        await AuditRepo(db).add(1, "kept", "x", {}, "ok", datetime.now(UTC))
        # While the bridge's database is open and in use.
        assert await asyncio.to_thread(cli, "backup", str(copy)) == (
            0,
            f"backed up {db_path} to {copy}\n",
            "",
        )
        code, out, err = await asyncio.to_thread(cli, "backup", str(copy))
        assert (code, out) == (2, "")
        assert (
            err
            == f"pttbridge: {copy} already exists: name another file, or overwrite it (--force)\n"
        )
        code, out, _ = await asyncio.to_thread(cli, "backup", "--force", str(copy))
        assert (code, out) == (0, f"backed up {db_path} to {copy}\n")

        await AuditRepo(db).add(1, "after the backup", "x", {}, "ok", datetime.now(UTC))
        code, out, err = await asyncio.to_thread(cli, "restore", str(copy))
        assert (code, out) == (2, "")
        assert err.startswith("pttbridge: ") and len(err.splitlines()) == 1, err
    finally:
        await db.close()

    code, out, err = cli("restore", str(copy))
    kept = f"{db_path}.before-restore"
    assert (code, err) == (0, "")
    assert out == f"restored {db_path} from {copy}; the database it replaced is kept as {kept}\n"
    db = await Database.open(db_path)
    try:
        actions = [row.action for row in await AuditRepo(db).latest(10)]
    finally:
        await db.close()
    assert "kept" in actions and "after the backup" not in actions

    code, out, err = cli("restore", str(tmp_path / "none.db"))
    assert (code, out) == (2, "")
    assert err == f"pttbridge: no backup at {tmp_path / 'none.db'}\n"


async def test_with_the_bridge_elsewhere_replies_and_toasts_show_as_they_come(
    bot_stack: Any,
) -> None:
    """`pttbridge emulator`'s case: nothing says when the bridge has finished an update."""
    screen = Screen()
    c = Console(bot_stack.emu, bot_stack.people, who="viewer", out=screen, echo=False)
    try:
        await c.handle("/online 1002")  # returns once typed, before any answer
        await bot_stack.emu.wait_for(lambda: "buttons: 1) 🔄" in screen.getvalue(), timeout=30)
        assert screen.take().startswith("🤖 👥")
        await c.handle("1")
        await bot_stack.emu.wait_for(lambda: "(toast: " in screen.getvalue(), timeout=30)
        shown = screen.take()
        assert shown.startswith("👆 viewer presses [🔄 Refresh]"), shown
        # (An edit follows only if the counts changed: Telegram refuses an edit to the same.)
        assert "(toast: Refreshing…)" in shown
    finally:
        c.close()


@pytest.mark.parametrize("command", ["sandbox", "emulator"])
async def test_a_server_stops_cleanly_on_sigterm(command: str, unused_tcp_port: int) -> None:
    # Started from a script in the background (SIGINT ignored), SIGTERM must still end it
    # with exit 0, not kill it outright (-15).
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", command, "--port", str(unused_tcp_port),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert f"127.0.0.1:{unused_tcp_port}".encode() in first
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 30) == 0
