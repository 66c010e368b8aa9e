"""Telegram file ids of files already sent: one download and upload per file, not per chat."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator

from aiogram.types import Message

# How long a chat waits for another that is fetching and sending the same file first.
FIRST_WAIT_S = 10.0


class SentFiles:
    """Telegram file ids of files already sent, by the URL they were fetched from: a
    recording or an incident's photo that goes to ten chats is downloaded and uploaded
    once, then sent by its id (Telegram keeps a bot's file ids valid)."""

    def __init__(self, size: int = 2000) -> None:
        self._ids: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._size = size
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # lock, its users

    @contextlib.asynccontextmanager
    async def first(self, urls: list[str]) -> AsyncIterator[None]:
        """Hold the URLs not sent yet while one chat fetches and sends them: the other
        chats (drained in parallel) wait and then find their file ids, instead of
        downloading them too. Taken in sorted order, so two holders never wait for each
        other; waited for at most `FIRST_WAIT_S` — a first chat held up by its limits or
        retries must not hold up every other one."""
        wanted = sorted({url for url in urls if url not in self._ids})
        entries = [self._locks.setdefault(url, (asyncio.Lock(), [0])) for url in wanted]
        for _lock, users in entries:
            users[0] += 1
        try:
            async with contextlib.AsyncExitStack() as stack:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FIRST_WAIT_S):
                        for lock, _users in entries:
                            await stack.enter_async_context(lock)
                yield
        finally:
            for url, (_lock, users) in zip(wanted, entries, strict=True):
                users[0] -= 1
                if not users[0]:
                    del self._locks[url]

    def get(self, url: str) -> tuple[str, str] | None:
        """(kind, file id): kind is voice, audio, photo or document."""
        return self._ids.get(url)

    def remember(self, url: str, message: Message) -> None:
        if message.voice is not None:
            found = ("voice", message.voice.file_id)
        elif message.audio is not None:
            found = ("audio", message.audio.file_id)
        elif message.photo:
            found = ("photo", message.photo[-1].file_id)
        elif message.document is not None:
            found = ("document", message.document.file_id)
        else:
            return
        self._ids[url] = found
        self._ids.move_to_end(url)
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def forget(self, url: str) -> None:
        self._ids.pop(url, None)
