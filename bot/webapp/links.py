"""Where the map opens from chat: the 🗺 buttons' links and the private chat's menu button.

A private chat gets a `web_app` button on `{BRIDGE_PUBLIC_URL}/app/?group=<id>`; Telegram
refuses `web_app` buttons in groups, so a group gets a t.me link that opens the Mini App
(`https://t.me/<bot>/<BRIDGE_MAP_APP>?startapp=g<id>`, or the bot's main Mini App,
`https://t.me/<bot>?startapp=g<id>`, without a short name). Without `BRIDGE_PUBLIC_URL`
the map is off: no links, no menu button.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args
from urllib.parse import urlencode

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import MenuButtonDefault, MenuButtonWebApp, WebAppInfo

from bot.config import BridgeSettings
from bot.webapp.auth import sign_init_data
from storage.roles import Role

log = logging.getLogger(__name__)

TargetKind = Literal["group", "user", "org"]
_START_KINDS: Final[Mapping[str, TargetKind]] = {k[0]: k for k in get_args(TargetKind)}
MENU_REMEMBERED = 10_000
"""Private chats whose menu button this process remembers setting (the oldest forgotten)."""
MENU_ROLE = Role.SUPERVISOR
"""Who gets the map as their private chat's menu button: supervisors and admins."""


@dataclass(frozen=True)
class MapTarget:
    """What the map opens on: a talk group, a user, or an org's subtree."""

    kind: TargetKind
    id: int

    @property
    def query(self) -> str:
        """The page's query string: `group=<id>`, as the map contract names it."""
        return f"{self.kind}={self.id}"

    @property
    def start_param(self) -> str:
        """Telegram's `startapp` value (A-Za-z0-9_-, at most 64): `g123`, `u456`, `o7`."""
        return f"{self.kind[0]}{self.id}"

    @classmethod
    def of_start_param(cls, param: str | None) -> MapTarget | None:
        """`start_param` read back (`g123`: talk group 123); None for anything else."""
        if not param or len(param) > 16 or param[0] not in _START_KINDS:
            return None
        digits = param[1:]
        if not digits.isascii() or not digits.isdigit():
            return None
        return cls(_START_KINDS[param[0]], int(digits))


@dataclass(frozen=True)
class MapOpen:
    """A 🗺 button's link: `web_app` (private chats) or a plain URL button (groups)."""

    url: str
    web_app: bool


@dataclass(frozen=True)
class MapLinks:
    """The map's links, from the settings and the bot's username."""

    public_url: str | None
    app: str | None = None  # BRIDGE_MAP_APP: the Mini App's short name
    bot_username: str | None = None

    @classmethod
    def of(cls, bridge: BridgeSettings, bot_username: str | None = None) -> MapLinks:
        return cls(bridge.public_url, bridge.map_app, bot_username)

    @property
    def on(self) -> bool:
        return self.public_url is not None

    @property
    def page(self) -> str | None:
        """The page itself (the menu button opens it on the group list)."""
        return None if self.public_url is None else f"{self.public_url.rstrip('/')}/app/"

    def for_private(self, target: MapTarget) -> str | None:
        page = self.page
        return None if page is None else f"{page}?{target.query}"

    def for_group(self, target: MapTarget) -> str | None:
        if not self.on or not self.bot_username:
            return None
        app = f"/{self.app}" if self.app else ""
        return f"https://t.me/{self.bot_username}{app}?startapp={target.start_param}"

    def open_in(self, chat_type: str, target: MapTarget) -> MapOpen | None:
        """The 🗺 button's link for a chat of `chat_type` ("private", "group", ...)."""
        if chat_type == "private":
            url = self.for_private(target)
            return None if url is None else MapOpen(url, web_app=True)
        url = self.for_group(target)
        return None if url is None else MapOpen(url, web_app=False)


async def map_open(
    bridge: BridgeSettings, bot: Bot, chat_type: str, target: MapTarget
) -> MapOpen | None:
    """The 🗺 button for `target` in a chat of `chat_type`; None when the map is off."""
    if bridge.public_url is None:
        return None
    username = None
    if chat_type != "private":
        username = (await bot.me()).username  # asked once: aiogram keeps the answer
    return MapLinks.of(bridge, username).open_in(chat_type, target)


LIGHT_THEME = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
}
"""Telegram's light theme, as it hands it to a Mini App (`tgWebAppThemeParams`)."""


def map_launch_url(
    page: str,
    bot_token: str,
    user: Mapping[str, Any],
    *,
    auth_date: datetime,
    query: str = "",
    start_param: str | None = None,
) -> str:
    """The map `page` as Telegram opens it for `user`: `?query`, then the fragment Telegram
    appends (`#tgWebAppData=<signed initData>&tgWebAppVersion=…&tgWebAppThemeParams=…`).
    For the console, the demo and tests, who stand where Telegram would."""
    person = {k: v for k, v in user.items() if k != "is_bot"}  # initData's WebAppUser has none
    data = sign_init_data(bot_token, person, auth_date=auth_date, start_param=start_param)
    fragment = {
        "tgWebAppData": data,
        "tgWebAppVersion": "8.0",
        "tgWebAppPlatform": "tdesktop",
        "tgWebAppThemeParams": json.dumps(LIGHT_THEME, separators=(",", ":")),
    }
    if start_param is not None:
        fragment["tgWebAppStartParam"] = start_param
    return f"{page}{'?' + query if query else ''}#{urlencode(fragment)}"


MenuState = tuple[str, str] | None  # (url, text) of a web_app menu button; None: the default


class MapMenu:
    """The menu button of private chats: the map for supervisors and admins, Telegram's
    default for everyone else (so a role taken away takes the button away too).

    Set when someone sends /start or /help, at most once per process for a person unless
    what they should see changed (role, language, the map turned on or off); what was set is
    remembered for the `MENU_REMEMBERED` people seen last.
    """

    def __init__(self, bot: Bot, links: MapLinks, *, remembered: int = MENU_REMEMBERED) -> None:
        self._bot = bot
        self._links = links
        self._remembered = remembered
        self._set: OrderedDict[int, MenuState] = OrderedDict()

    async def update(self, user_id: int, role: Role, text: str) -> bool:
        """Set `user_id`'s menu button for `role` (`text`: the button's words, in their
        language) unless it is already so; whether a call was made. With the map off, only
        those who could have had the map's button (supervisors and admins) are reset."""
        page = self._links.page
        if page is None and role < MENU_ROLE:
            return False
        state: MenuState = None if page is None or role < MENU_ROLE else (page, text)
        if user_id in self._set and self._set[user_id] == state:
            self._set.move_to_end(user_id)
            return False
        button: MenuButtonWebApp | MenuButtonDefault
        if state is None:
            button = MenuButtonDefault()
        else:
            url, words = state
            button = MenuButtonWebApp(text=words, web_app=WebAppInfo(url=url))
        try:
            await self._bot.set_chat_menu_button(chat_id=user_id, menu_button=button)
        except TelegramAPIError as exc:
            log.warning("menu button of %s not set: %s", user_id, exc)
            return False
        self._set[user_id] = state
        self._set.move_to_end(user_id)
        while len(self._set) > self._remembered:
            self._set.popitem(last=False)
        return True
