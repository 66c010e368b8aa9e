"""`pttbridge emulator`: the Telegram Bot API emulator alone, played from the keyboard.

With `pttbridge sandbox` and `pttbridge run` pointed at both, an operator rehearses the
real three-process shape on one machine with no Internet: the bridge polls this
emulator as it would poll Telegram, and whoever types here is a Telegram user.
"""

from __future__ import annotations

import asyncio
import logging

from bot.demo.console import KEYS_HELP, Console, stdin_lines
from bot.demo.people import BOT_TOKEN, PEOPLE, add_people
from bot.sandbox.telegram import TelegramEmulator
from storage.roles import Role


async def run_emulator(host: str, port: int, language: str) -> int:
    """Serve the Bot API on host:port until `/quit` or Ctrl-C; raises OSError when the
    address cannot be listened on."""
    logging.basicConfig(level=logging.WARNING)
    emu = TelegramEmulator(BOT_TOKEN)
    url = await emu.start(host, port)
    people = add_people(emu, language)
    console = Console(emu, people, who="admin")
    admins = ",".join(str(p.id) for p in PEOPLE if p.role is Role.ADMIN)
    console.write(
        [
            f"telegram emulator: {url}  (the Telegram Bot API, for `pttbridge run`)",
            "set for `pttbridge run`:",
            f"  TELEGRAM_BOT_TOKEN={BOT_TOKEN}",
            f"  TELEGRAM_API_BASE={url}",
            f"  BRIDGE_ADMIN_IDS={admins}",
            "people (Telegram user ids): "
            + ", ".join(f"{p.key} {p.id}" for p in PEOPLE)
            + f"; their Telegram is in {language}.",
            "Only the admin has a role until the admin grants one (/role 1002 supervisor).",
            *KEYS_HELP,
            "",
            f"(typing as {console.who})",
        ]
    )
    try:
        lines = stdin_lines()
        await console.run(lines)
        if not console.quit:
            # The end of input (stdin is /dev/null, or a script ended): keep serving.
            console.write(["(end of input: still serving the Bot API; Ctrl-C stops)"])
            await asyncio.Event().wait()
    finally:
        console.close()
        await emu.stop()
    return 0
