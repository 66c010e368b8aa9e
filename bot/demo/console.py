"""The keyboard interface of `pttbridge console` and `pttbridge emulator`.

Type as a Telegram user would; `/as <who>` switches who is typing; a number presses
that button of the newest keyboard shown in this user's chat that is still there (an
edit that removed or replaced a message's buttons makes the buttons shown before it
stale; the edited message, shown again, brings its new ones). What the bot sends or
edits is printed when it happens, also long after the command that caused it (the
recordings' re-check edits its message some seconds later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

from bot.sandbox.telegram import CallbackAnswer, EmuMessage, EmuUser, TelegramEmulator

Buttons = tuple[tuple[str, str | None], ...]

KEYS_HELP = (
    "Type commands as in Telegram (/help). `/as viewer` switches who types;",
    "a number presses that button of the newest message with buttons; `/quit` leaves.",
    "`/share 30.27,120.15` shares a location; `/reply <text>` answers the newest one.",
)
MAP_HELP = "`/mapurl` prints the map's address for whoever types (open it in a browser)."
MapUrl = Callable[[str, str], str]
"""(who, the page's query such as "group=1002") -> the map's local URL with their initData."""
SHARE_USAGE = "(usage: /share <lat>,<lon>, e.g. /share 30.27,120.15)"
# How an edit of a live location is told, by the method that made it.
LIVE_EDIT_NOTES = {"editMessageLiveLocation": " (moved)", "stopMessageLiveLocation": " (stopped)"}


def parse_place(text: str) -> tuple[float, float] | None:
    """ "30.27,120.15" (a space after the comma allowed) as (latitude, longitude), or None."""
    lat_text, comma, lon_text = text.partition(",")
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        return None
    if not comma or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def message_lines(m: EmuMessage, note: str = "") -> list[str]:
    """A bot message as the transcript shows it: its text, then its buttons numbered."""
    lines = m.render().splitlines() or [""]
    out = [f"🤖{note} {lines[0]}", *("   " + line for line in lines[1:])]
    buttons = m.inline_buttons()
    if buttons:
        out.append(
            "   buttons: " + "  ".join(f"{i + 1}) {button_label(b)}" for i, b in enumerate(buttons))
        )
    return out


def button_label(button: dict[str, Any]) -> str:
    """A button's text; ↗ when it opens a page (a link, the map) instead of asking the bot."""
    text = str(button.get("text", ""))
    return text if "callback_data" in button else f"{text} ↗"


@dataclass(frozen=True)
class _Shown:
    """A keyboard as it was printed: a number refers to these buttons, nothing later."""

    chat_id: int
    message_id: int
    buttons: Buttons


class Console:
    """Plays `people` on `emu` from typed lines and prints what the bot does.

    `handled(update_id)`, when given, is awaited after each typed line (the bridge runs
    in this process and says when it has finished an update): then "(no reply)" can be
    told. Without it (the bridge is another process) replies are printed as they come.
    """

    def __init__(
        self,
        emu: TelegramEmulator,
        people: dict[str, EmuUser],
        *,
        who: str,
        out: TextIO | None = None,
        handled: Callable[[int], Awaitable[None]] | None = None,
        echo: bool | None = None,
        map_url: MapUrl | None = None,
    ) -> None:
        self.emu = emu
        self.people = people
        self.who = who
        self.out = out if out is not None else sys.stdout
        self._handled = handled
        self._map_url = map_url  # None: no bridge here to open a map on
        self.quit = False  # `/quit` was typed (not merely the end of input)
        # Typed lines are shown in the transcript when nobody sees them typed (a pipe).
        self._echo = not sys.stdin.isatty() if echo is None else echo
        self._shown: list[_Shown] = []
        self._printed = 0  # bot messages printed so far: "(no reply)" when a line adds none
        self._toasts: set[asyncio.Task[None]] = set()
        emu.add_listener(self._on_bot_message)

    def close(self) -> None:
        self.emu.remove_listener(self._on_bot_message)
        for task in self._toasts:
            task.cancel()

    def write(self, lines: Sequence[str]) -> None:
        print("\n".join(lines), file=self.out, flush=True)

    @property
    def user(self) -> EmuUser:
        return self.people[self.who]

    def _chat_label(self, chat_id: int) -> str:
        if chat_id == self.user.id:
            return ""
        key = next((k for k, u in self.people.items() if u.id == chat_id), None)
        return f" → {key}:" if key is not None else f" → chat {chat_id}:"

    def _on_bot_message(self, event: str, msg: EmuMessage) -> None:
        if not msg.from_bot:
            return  # the bot deleting what a user typed (a password) needs no line
        label = self._chat_label(msg.chat_id)
        if event == "deleted":
            first = (msg.plain_text().splitlines() or [""])[0]
            self.write([f"🤖{label} (deleted) {first}", ""])
            return
        self._printed += 1
        note = ""
        if event == "edited":
            note = LIVE_EDIT_NOTES.get(msg.edits[-1].method, " (edited)") if msg.edits else ""
        self.write([*message_lines(msg, label + note), ""])
        buttons = tuple(msg.buttons())
        # The newest showing of a message is the one its numbers refer to.
        self._shown = [
            s for s in self._shown if (s.chat_id, s.message_id) != (msg.chat_id, msg.message_id)
        ]
        if buttons:
            self._shown.append(_Shown(msg.chat_id, msg.message_id, buttons))

    def keyboard(self) -> EmuMessage | None:
        """The newest message shown with buttons in this user's chat whose buttons are
        still the ones shown (not removed, not replaced, the message not deleted)."""
        for shown in reversed(self._shown):
            if shown.chat_id != self.user.id:
                continue
            msg = self.emu.message(shown.chat_id, shown.message_id)
            if not msg.deleted and tuple(msg.buttons()) == shown.buttons:
                return msg
        return None

    async def run(self, lines: asyncio.Queue[str | None]) -> None:
        """Handle typed lines until `/quit` or the end of input (None)."""
        while True:
            self.prompt()
            line = await lines.get()
            if line is None or not await self.handle(line):
                return

    def prompt(self) -> None:
        if self._handled is not None and sys.stdin.isatty():
            print(f"{self.who}> ", end="", file=self.out, flush=True)

    async def handle(self, line: str) -> bool:
        """One typed line; False when it asks to leave."""
        line = line.strip()
        if not line:
            return True
        if self._echo:
            self.write([f"👤 {self.who}: {line}"])
        if line in ("/quit", "/exit"):
            self.quit = True
            return False
        command, _, name = line.partition(" ")
        if command == "/as":
            if name.strip() in self.people:
                self.who = name.strip()
                self.write([f"(now typing as {self.who})", *self.map_lines(), ""])
            else:
                self.write([f"(who? one of: {', '.join(self.people)})", ""])
            return True
        if command == "/mapurl" and self._map_url is not None:
            self.write([*self.map_lines(name.strip()), ""])
            return True
        printed = self._printed
        query_id: str | None = None
        keyboard = self.keyboard() if line.isdigit() else None
        if keyboard is not None:
            update = await self._press(keyboard, int(line))
            if update is None:
                return True
            query_id = str(update["callback_query"]["id"])
        elif command in ("/share", "/reply"):
            shared = await (self._share(name) if command == "/share" else self._reply(name))
            if shared is None:
                return True
            update = shared
        else:
            if line.isdigit():
                self.write(["(no buttons here to press: sent as a message)"])
            update = await self.emu.send_message(self.user, line)
        if self._handled is None:
            if query_id is not None:  # the answer comes when the bridge gets to it
                task = asyncio.create_task(self._toast_when_answered(query_id))
                self._toasts.add(task)
                task.add_done_callback(self._toasts.discard)
            return True
        await self._handled(int(update["update_id"]))
        toast = self._toast(query_id) if query_id is not None else False
        if self._printed == printed and not toast:
            self.write(["   (no reply)", ""])
        return True

    async def _share(self, text: str) -> dict[str, Any] | None:
        """`/share <lat>,<lon>`: this person shares a location in their chat."""
        place = parse_place(text.strip())
        if place is None:
            self.write([SHARE_USAGE, ""])
            return None
        return await self.emu.send_location(self.user, *place)

    async def _reply(self, text: str) -> dict[str, Any] | None:
        """`/reply <text>`: this person answers the newest location in their chat."""
        shared = [m for m in self.emu.history(self.user) if m.location is not None]
        if not text.strip() or not shared:
            self.write(["(usage: /reply <text>, after a location was shared here)", ""])
            return None
        return await self.emu.send_message(self.user, text.strip(), reply_to=shared[-1])

    async def _press(self, msg: EmuMessage, number: int) -> dict[str, Any] | None:
        buttons = msg.inline_buttons()
        if not 1 <= number <= len(buttons):
            self.write([f"(no button {number}: this message has {len(buttons)})", ""])
            return None
        button = buttons[number - 1]
        if "callback_data" not in button:
            target = button.get("url") or button.get("web_app", {}).get("url", "")
            self.write([f"(that button opens {target} in Telegram)"])
            if "web_app" in button:  # the map: here, on the bridge's own listener
                self.write(self.map_lines(urlsplit(str(target)).query))
            self.write([""])
            return None
        self.write([f"👆 {self.who} presses [{button.get('text', '')}]"])
        return await self.emu.press_button(self.user, msg, str(button["callback_data"]))

    def map_lines(self, query: str = "") -> list[str]:
        """Where to open the map in a browser as whoever types now (none: no bridge)."""
        if self._map_url is None:
            return []
        return [f"🗺 the map for {self.who}: {self._map_url(self.who, query)}"]

    def _answer(self, query_id: str) -> CallbackAnswer | None:
        return next((a for a in self.emu.callback_answers if a.callback_query_id == query_id), None)

    def _toast(self, query_id: str) -> bool:
        """Print the text the bot answered a press with (a toast), if any."""
        answer = self._answer(query_id)
        if answer is None or not answer.text:
            return False
        self.write([f"   (toast: {answer.text})", ""])
        return True

    async def _toast_when_answered(self, query_id: str) -> None:
        with contextlib.suppress(TimeoutError):
            await self.emu.wait_for(lambda: self._answer(query_id) is not None, timeout=60)
            self._toast(query_id)


def stdin_lines() -> asyncio.Queue[str | None]:
    """Lines typed on stdin, then None at its end.

    Read by a daemon thread: a thread blocked in a read must not hold up leaving the
    program (Ctrl-C), which a worker of the loop's executor would.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(line: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the program is leaving
            loop.call_soon_threadsafe(queue.put_nowait, line)

    def pump() -> None:
        for line in sys.stdin:
            put(line)
        put(None)

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return queue


async def run_console(language: str = "zh") -> int:
    """`pttbridge console`: the whole bridge in this process, played from the keyboard."""
    from bot.demo.people import people_line
    from bot.demo.stack import Stack
    from bot.sandbox.asr import FakeAsr

    logging.basicConfig(level=logging.WARNING)
    asr = FakeAsr()  # the sandbox's speech recognition: captions get transcripts, /heard finds them
    await asr.start()
    stack = Stack(
        language=language, moving=True, map_on=True, bridge_overrides={"asr_url": asr.url}
    )
    try:
        await stack.start()
    except BaseException:
        await asr.stop()
        raise
    console = Console(
        stack.emu, stack.people, who="admin", handled=stack.wait_handled, map_url=stack.map_url
    )
    console.write(
        [
            "pttbridge console — the bridge against the sandbox platform and a Telegram emulator.",
            f"People: {people_line()}.",
            *KEYS_HELP,
            MAP_HELP,
            *console.map_lines(),
            "",
        ]
    )
    try:
        await console.run(stdin_lines())
    finally:
        console.close()
        await stack.stop()
        await asr.stop()
    return 0
