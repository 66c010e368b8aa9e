"""How the bot reaches Telegram: the aiogram session built from settings."""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.config import Settings


def make_session(settings: Settings) -> AiohttpSession:
    """An `AiohttpSession` for `TELEGRAM_API_BASE`, through `TELEGRAM_PROXY` if set."""
    t = settings.telegram
    return AiohttpSession(
        api=TelegramAPIServer.from_base(t.api_base),
        proxy=t.proxy,  # http:// or socks5://, via aiohttp-socks
    )
