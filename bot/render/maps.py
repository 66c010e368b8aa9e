"""The 🗺 button that opens the map (issue 16), added under a reply's other buttons."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.render.replies import Reply, T
from bot.webapp.links import MapOpen


def map_button(t: T, link: MapOpen) -> InlineKeyboardButton:
    """A `web_app` button in private chats, a t.me link elsewhere (Telegram refuses
    `web_app` buttons in groups)."""
    text = t.plain("map-button")
    if link.web_app:
        return InlineKeyboardButton(text=text, web_app=WebAppInfo(url=link.url))
    return InlineKeyboardButton(text=text, url=link.url)


def with_map(t: T, reply: Reply, link: MapOpen | None) -> Reply:
    """`reply` with the 🗺 button in a row of its own below its buttons (none: as it was)."""
    if link is None:
        return reply
    rows = list(reply.keyboard.inline_keyboard) if reply.keyboard is not None else []
    rows.append([map_button(t, link)])
    return Reply(reply.text, InlineKeyboardMarkup(inline_keyboard=rows))
