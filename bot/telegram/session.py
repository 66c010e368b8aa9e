"""How the bot reaches Telegram: the aiogram session built from settings."""

from __future__ import annotations

import functools
import logging
from typing import Any

from aiogram import methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.config import Settings

log = logging.getLogger(__name__)


@functools.cache
def pinned_response_types() -> tuple[Any, ...]:
    """Keep every `Response[T]` model aiogram parses answers with alive.

    aiogram builds `Response[method.__returning__]` for each call; pydantic caches
    generic models only weakly, so without a reference each call rebuilt the model
    (about 25 ms of schema work per Bot API call, measured in bench/bench_bot.py).
    """
    from aiogram.methods.base import Response

    out = []
    for name in methods.__all__:
        klass = getattr(methods, name, None)
        returning = getattr(klass, "__returning__", None)
        if returning is None or isinstance(returning, property):
            continue
        try:
            out.append(Response[returning])  # type: ignore[valid-type]
        except Exception as exc:  # a type pydantic cannot build: aiogram never uses it either
            log.debug("no pinned response model for %s: %r", name, exc)
            continue
    return tuple(out)


def make_session(settings: Settings) -> AiohttpSession:
    """An `AiohttpSession` for `TELEGRAM_API_BASE`, through `TELEGRAM_PROXY` if set."""
    pinned_response_types()
    t = settings.telegram
    return AiohttpSession(
        api=TelegramAPIServer.from_base(t.api_base),
        proxy=t.proxy,  # http:// or socks5://, via aiohttp-socks
    )
