"""Telegram's webhook route (`POST /telegram/webhook`): the secret header checked in
constant time before anything reaches the dispatcher."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.relay.listener import compressed, secret_matches

log = logging.getLogger(__name__)


class WebhookHandler(SimpleRequestHandler):
    """Telegram's webhook: only a request with the secret header reaches the dispatcher.

    aiogram's handler lets everything in when its secret is None and compares with
    `secrets.compare_digest` on text, which raises (HTTP 500) for a non-ASCII header.
    Here: no secret refuses every request; the header is compared as bytes in constant
    time; a body that is not an update is answered 400, never fed.
    """

    def __init__(self, dp: Dispatcher, bot: Bot, secret: str | None, body_timeout_s: float):
        super().__init__(dp, bot, secret_token=secret)
        self._body_timeout_s = body_timeout_s
        self._feeding: set[asyncio.Task[None]] = set()

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        return bool(self.secret_token) and secret_matches(
            telegram_secret_token, self.secret_token or ""
        )

    async def handle(self, request: web.Request) -> web.Response:
        header = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.verify_secret(header, self.bot):
            return web.Response(text="Unauthorized", status=401)
        if compressed(request):
            return web.Response(text="send the body uncompressed", status=400)
        try:
            async with asyncio.timeout(self._body_timeout_s):
                raw = await request.read()  # at most the app's client_max_size (1 MiB)
            update = json.loads(raw)
            Update.model_validate(update, context={"bot": self.bot})
        except web.HTTPRequestEntityTooLarge:
            return web.Response(text="body over 1 MiB", status=413)
        except TimeoutError:
            late = web.Response(text="body not received in time", status=408)
            late.force_close()
            return late
        except (ValueError, TypeError, RecursionError, web.RequestPayloadError):
            return web.Response(text="not a Telegram update", status=400)
        # Answered at once, handled in the background (as aiogram's handler does), with the
        # task kept until it ends and its failure logged.
        task = asyncio.create_task(self._feed(update))
        self._feeding.add(task)
        task.add_done_callback(self._feeding.discard)
        return web.json_response({})

    async def _feed(self, update: dict[str, Any]) -> None:
        # As polling does: an update that fails is logged, not left in an unread task.
        try:
            result = await self.dispatcher.feed_raw_update(self.bot, update, **self.data)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(self.bot, result)
        except Exception:
            log.exception("webhook update %s failed", update.get("update_id"))
