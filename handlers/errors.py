"""The last line: errors of any handler, explained to the user in their language."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, Update

from bot.app.services import AdminAlerts
from bot.platform import (
    PlatformError,
    PlatformTimeoutError,
    PlatformTransportError,
)
from bot.render.replies import T
from bot.render.text import esc

log = logging.getLogger(__name__)


async def _tell(update: Update, text: str) -> None:
    if update.message is not None:
        await update.message.answer(text)
    elif update.callback_query is not None:
        cb = update.callback_query
        try:
            await cb.answer(text[:200], show_alert=True)
        except Exception as exc:  # the query may be too old to answer; say it in the chat instead
            log.info("update %s: the press could not be answered (%s)", update.update_id, exc)
            if cb.message is not None:
                await cb.bot.send_message(cb.message.chat.id, text)  # type: ignore[union-attr]


async def platform_error(event: ErrorEvent, t: T, lang: str, alerts: AdminAlerts, **_: Any) -> None:
    exc = event.exception
    assert isinstance(exc, PlatformError)
    log.warning("update %s: %s", event.update.update_id, exc)
    if exc.code == 501:
        await alerts.alert(
            "platform-login", lambda tt: tt("alert-platform-login", detail=esc(exc.explain("en")))
        )
        text = t("err-platform-login")
    elif isinstance(exc, PlatformTimeoutError):
        text = t("err-platform-timeout", seconds=f"{exc.seconds:g}")
    elif isinstance(exc, PlatformTransportError):
        text = t("err-platform-unreachable", detail=esc(exc.explain(lang)))
    else:
        text = t(
            "err-platform-generic",
            code=exc.code,
            explanation=esc(exc.explain(lang)),
            message=esc(exc.message or "—"),
        )
    await _tell(event.update, text)


async def any_error(event: ErrorEvent, t: T | None = None, **_: Any) -> None:
    ref = f"u{event.update.update_id}"
    log.error("update %s failed", event.update.update_id, exc_info=event.exception)
    if t is not None:
        await _tell(event.update, t("err-internal", ref=ref))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.error.register(platform_error, ExceptionTypeFilter(PlatformError))
    r.error.register(any_error)
    return r
