"""`pttbridge run`: the service process, from settings to an exit status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

from bot.app.bridge import Bridge
from bot.config import Settings
from bot.logs import secrets_of, setup_logging
from storage.db import StorageError

log = logging.getLogger(__name__)


async def run_service(settings: Settings) -> int:
    """`pttbridge run`: until SIGTERM/SIGINT, a 409 Conflict, or a fatal error.

    A signal while starting (Telegram or the platform not answering yet) cancels the
    start and stops what was started: exit 0, as a signal after start does.
    """
    setup_logging(settings.bridge.log_format, secrets_of(settings))
    bridge = Bridge(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, bridge.stopped.set)
    log.info("pttbridge is starting (%s mode)", settings.telegram.mode)
    starting = asyncio.create_task(bridge.start())
    stop_asked = asyncio.create_task(bridge.stopped.wait())
    await asyncio.wait({starting, stop_asked}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        log.info("stopping before start-up finished")
        starting.cancel()
        # A start that ignores its cancellation must not hold the process.
        await asyncio.wait({starting}, timeout=5)
        if starting.done() and not starting.cancelled() and starting.exception() is not None:
            log.info("start-up ended with %r while stopping", starting.exception())
        await bridge.stop()
        return _finished(bridge)
    stop_asked.cancel()
    code = _started(bridge, starting, settings)
    if code is not None:
        await bridge.stop()
        return code
    log.info("pttbridge is running (%s mode)", settings.telegram.mode)
    await bridge.stopped.wait()
    log.info("stopping")
    await bridge.stop()
    return _finished(bridge)


def _finished(bridge: Bridge) -> int:
    if bridge.exit_reason:
        print(f"pttbridge: {bridge.exit_reason}", file=sys.stderr)
    return bridge.exit_code


def _started(bridge: Bridge, starting: asyncio.Task[None], settings: Settings) -> int | None:
    """None when the bridge started; else the exit status after one line saying why."""
    exc = starting.exception()
    if exc is None:
        return None
    s = settings.bridge
    if isinstance(exc, StorageError):
        line, code = f"BRIDGE_DB_PATH: {exc}", 2
    elif isinstance(exc, OSError) and bridge.http_port is None:
        # Nothing before the listener opens a socket itself: this is binding it.
        where = f"{s.http_host}:{s.http_port}"
        line, code = f"BRIDGE_HTTP_HOST/BRIDGE_HTTP_PORT: cannot listen on {where}: {exc}", 2
    elif isinstance(exc, TelegramUnauthorizedError):
        line, code = "TELEGRAM_BOT_TOKEN: rejected by Telegram (check it with @BotFather)", 2
    elif isinstance(exc, TelegramNetworkError):
        line = (
            f"TELEGRAM_API_BASE: cannot reach {settings.telegram.api_base}: {exc}"
            " (TELEGRAM_PROXY may be needed)"
        )
        code = 1
    else:
        log.error("start-up failed", exc_info=exc)
        line, code = f"start-up failed: {type(exc).__name__}: {exc}", 1
    print(f"pttbridge: {line}", file=sys.stderr)
    return code
