"""The whole bridge in one process: sandbox platform + Telegram emulator + `Bridge`.

Used by `pttbridge demo`, `pttbridge console` and the end-to-end tests, with the
people of `bot.demo.people`.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.app.bridge import Bridge
from bot.config import Settings
from bot.demo.people import BOT_TOKEN, CALLBACK_TOKEN, PEOPLE, Person, add_people, people_line
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage, EmuUser, TelegramEmulator
from bot.webapp.links import map_launch_url
from storage.roles import Role

# The people, the bot token and the callback token are bot.demo.people's; named here too,
# for the tests that build on a Stack.
__all__ = [
    "BOT_TOKEN",
    "CALLBACK_TOKEN",
    "PEOPLE",
    "Person",
    "Stack",
    "add_people",
    "people_line",
]


MAP_PUBLIC_URL = "https://pttbridge.invalid"
"""BRIDGE_PUBLIC_URL of the console and the demo: Telegram would open the buttons' links
there; a developer opens `Stack.map_url` instead, on the bridge's own listener."""


class _Done(BaseMiddleware):
    """Records which updates the dispatcher has finished, so drivers can await a reply."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        finally:
            if isinstance(event, Update):
                await self._stack._finished(event.update_id)


class Stack:
    """Start with `await stack.start()`; drive with `say` and `press`; `await stack.stop()`."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        language: str = "en",
        flood_limits: bool = False,
        rates: tuple[float, float, float] = (1000.0, 1000.0, 1000.0),
        sandbox: SandboxPlatform | None = None,
        bridge_overrides: dict[str, Any] | None = None,
        platform_overrides: dict[str, Any] | None = None,
        telegram_overrides: dict[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
        moving: bool = False,
        map_on: bool = False,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pttbridge-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.language = language
        # `moving`: some sandbox users move along paths (the demo and the console); tests
        # keep the default, where everyone stands still (ignored when `sandbox` is given).
        self.platform = sandbox or SandboxPlatform(moving=moving)
        self.emu = TelegramEmulator(BOT_TOKEN, flood_limits=flood_limits)
        self.rates = rates
        self._bridge_overrides = bridge_overrides or {}
        self._platform_overrides = platform_overrides or {}
        self._telegram_overrides = telegram_overrides or {}
        self._clock = clock  # the bridge's; None: the real time
        # `map_on`: the map's buttons and menu (the console and the demo); tests keep it off
        # unless they ask (`map_on`, or BRIDGE_PUBLIC_URL among `bridge_overrides`).
        self.map_on = map_on
        self.bridge: Bridge | None = None
        self.people: dict[str, EmuUser] = {}
        self._done: set[int] = set()
        self._cond = asyncio.Condition()

    def settings(self) -> Settings:
        admin = next(p for p in PEOPLE if p.role is Role.ADMIN)
        return Settings.load(
            None,
            telegram={
                "bot_token": BOT_TOKEN,
                "api_base": self.emu.url,
                **self._telegram_overrides,
            },
            platform={
                "base_url": self.platform.url,
                "token": self.platform.token,
                "callback_token": CALLBACK_TOKEN,
                "timeout_s": 5,
                **self._platform_overrides,
            },
            bridge={
                "http_host": "127.0.0.1",
                "http_port": 0,
                "db_path": str(self.workdir / "pttbridge.db"),
                "admin_ids": str(admin.id),
                "language": self.language,
                "rate_global": self.rates[0],
                "rate_per_chat": self.rates[1],
                "rate_per_group_min": self.rates[2],
                # Never OpenStreetMap: the sandbox draws plain labelled tiles.
                "map_tiles": f"{self.platform.url}/tiles/{{z}}/{{x}}/{{y}}.png",
                "map_attribution": "Sandbox tiles",
                **({"public_url": MAP_PUBLIC_URL} if self.map_on else {}),
                **self._bridge_overrides,
            },
        )

    async def start(self, *, grant_roles: bool = True) -> None:
        if not self.platform.url:
            await self.platform.start()
        await self.emu.start()
        self.people.update(add_people(self.emu, self.language))
        await self.start_bridge()
        if grant_roles:
            assert self.bridge is not None
            for p in PEOPLE:
                if p.role is not Role.NONE and p.role is not Role.ADMIN:
                    await self.bridge.roles.set(
                        p.id, p.role, str(p.org_id) if p.org_id else None, None
                    )
                    await self.bridge.set_user_menu(p.id, p.role)

    async def start_bridge(self) -> None:
        self.bridge = Bridge(self.settings(), clock=self._clock)
        await self.bridge.start()
        # Outermost, around aiogram's ErrorsMiddleware: an update counts as done only
        # after an error handler has told the user (a platform error's answer, the
        # admins' alert), not when the exception first leaves the handler.
        outer = self.bridge.dp.update.outer_middleware
        existing = list(outer)
        for mw in existing:
            outer.unregister(mw)
        outer.register(_Done(self))
        for mw in existing:
            outer.register(mw)

    async def stop_bridge(self) -> None:
        if self.bridge is not None:
            await self.bridge.stop()
            self.bridge = None

    async def restart_bridge(self) -> None:
        await self.stop_bridge()
        await self.start_bridge()

    async def stop(self) -> None:
        await self.stop_bridge()
        await self.emu.stop()
        await self.platform.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def bridge_url(self) -> str:
        assert self.bridge is not None
        return f"http://127.0.0.1:{self.bridge.http_port}"

    def map_url(
        self, who: str | EmuUser, query: str = "", *, start_param: str | None = None
    ) -> str:
        """The map page on this bridge's own listener, as Telegram would open it for `who`:
        `http://127.0.0.1:<port>/app/?<query>#tgWebAppData=<signed initData>&…`, to open
        in a browser (initData is valid for a day by the bridge's clock)."""
        assert self.bridge is not None
        user = self._user(who)
        return map_launch_url(
            f"{self.bridge_url}/app/",
            BOT_TOKEN,
            user.to_api(),
            auth_date=self.bridge.clock(),
            query=query,
            start_param=start_param,
        )

    async def platform_event(
        self, event: str, body: dict[str, Any] | None = None, *, token: str = CALLBACK_TOKEN
    ) -> tuple[int, dict[str, Any] | str]:
        """The sandbox platform POSTs a callback (3.1–3.5) to the bridge's listener."""
        return await self.platform.post_callback(self.bridge_url, event, body, token=token)

    def add_group(
        self, chat_id: int, title: str, *, admins: tuple[str, ...] = ("admin",), forum: bool = False
    ) -> int:
        """A group chat with the bot and the tour's people; `admins` administer it."""
        self.emu.add_group(
            chat_id,
            title,
            forum=forum,
            admins=[self.people[a] for a in admins],
            members=list(self.people.values()),
        )
        return chat_id

    async def _finished(self, update_id: int) -> None:
        async with self._cond:
            self._done.add(update_id)
            self._cond.notify_all()

    async def wait_handled(self, update_id: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        async def wait() -> None:
            async with self._cond:
                await self._cond.wait_for(lambda: update_id in self._done)

        await asyncio.wait_for(wait(), timeout)

    def _user(self, who: str | EmuUser) -> EmuUser:
        return self.people[who] if isinstance(who, str) else who

    async def _exchange(
        self, chat_id: int, sending: Awaitable[dict[str, Any]]
    ) -> tuple[dict[str, Any], list[EmuMessage]]:
        """The update `sending` makes in `chat_id`, once the bridge has handled it (one it
        never receives, id 0 as under a group's privacy mode, is not waited for), and the
        bot messages it produced there."""
        self.emu.mark(chat_id)
        update = await sending
        if update["update_id"]:
            await self.wait_handled(int(update["update_id"]))
        out = self.emu.pending_messages(chat_id)
        self.emu.mark(chat_id)
        return update, out

    async def say(
        self,
        who: str | EmuUser,
        text: str,
        chat: int | None = None,
        thread_id: int | None = None,
        *,
        reply_to: int | None = None,
    ) -> list[EmuMessage]:
        """`who` sends `text` (as a reply to message `reply_to`, if given); returns every bot
        message the update produced in that chat."""
        user = self._user(who)
        chat_id = chat if chat is not None else user.id
        sending = self.emu.send_message(
            user, text, chat=chat, thread_id=thread_id, reply_to=reply_to
        )
        _, out = await self._exchange(chat_id, sending)
        return out

    async def share_location(
        self, who: str | EmuUser, lat: float, lon: float, chat: int | None = None
    ) -> tuple[int, list[EmuMessage]]:
        """`who` shares a location (Telegram's attachment → Location): its message id, to
        reply to, and the bot messages the update produced in that chat."""
        user = self._user(who)
        chat_id = chat if chat is not None else user.id
        sending = self.emu.send_location(user, lat, lon, chat=chat)
        update, out = await self._exchange(chat_id, sending)
        return int(update["message"]["message_id"]), out

    async def send_file(
        self, who: str | EmuUser, filename: str, data: bytes, mime: str, caption: str | None = None
    ) -> list[EmuMessage]:
        user = self._user(who)
        sending = self.emu.send_document(user, filename, data, mime, caption=caption)
        _, out = await self._exchange(user.id, sending)
        return out

    async def press(
        self, who: str | EmuUser, message: EmuMessage, button: str | int
    ) -> list[EmuMessage]:
        """Press a button by its index, its text, or its callback data.

        Returns new bot messages in the chat plus the pressed message if it was edited.
        """
        user = self._user(who)
        if isinstance(button, int):
            data = message.buttons()[button][1]
        else:
            data = next(
                (d for text, d in message.buttons() if text == button or d == button), button
            )
        assert isinstance(data, str)
        before = len(message.edits)
        sending = self.emu.press_button(user, message, data, chat=message.chat_id)
        _, out = await self._exchange(message.chat_id, sending)
        current = self.emu.message(message.chat_id, message.message_id)
        if len(current.edits) > before:
            out.insert(0, current)
        return out

    async def press_data(self, who: str | EmuUser, message: EmuMessage, data: str) -> list[str]:
        """`who` presses any callback `data` on `message` (one of its buttons or not, as a
        forged press would): the bot's new messages in that chat and the press's answer, as
        text."""
        before = len(self.emu.callback_answers)
        sending = self.emu.press_button(self._user(who), message, data, strict=False)
        _, out = await self._exchange(message.chat_id, sending)
        texts = [m.plain_text() for m in out]
        return texts + [a.text or "" for a in self.emu.callback_answers[before:]]
