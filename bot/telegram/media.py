"""Downloading the platform's files (recordings, incident attachments) to send them on.

A file going to Telegram is streamed: `MediaFetcher.open` reads the answer's headers,
and the upload reads the body chunk by chunk as Telegram takes it, so a 50 MB
attachment never sits in memory whole. `fetch` reads a file whole, for the few places
that need its bytes (bounded by the same limit).
"""

from __future__ import annotations

import contextlib
import enum
import mimetypes
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from aiogram.types import InputFile

from bot.render.text import is_web_url

if TYPE_CHECKING:
    from aiogram import Bot

TELEGRAM_UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload
TELEGRAM_PHOTO_LIMIT = 10 * 1024 * 1024  # a larger picture goes as a document
CHUNK = 64 * 1024  # what a stream holds at a time

VOICE_MIMES = frozenset({"audio/ogg", "audio/opus", "audio/mpeg", "audio/mp4", "audio/x-m4a"})


class MediaProblem(enum.StrEnum):
    DEAD = "dead"  # 4xx: the file is gone
    TOO_BIG = "too_big"  # over Telegram's upload limit: send a link instead
    UNREACHABLE = "unreachable"  # connection failed, timeout, 5xx


class MediaError(Exception):
    def __init__(self, problem: MediaProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class Media:
    data: bytes
    filename: str
    mime: str

    @property
    def is_voice(self) -> bool:
        """Telegram plays OGG/Opus, MP3 and M4A as voice messages."""
        return self.mime in VOICE_MIMES


def _filename(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1] or "file"


def _mime(declared: str, filename: str) -> str:
    mime = declared.split(";")[0].strip().lower()
    if not mime or mime in ("application/octet-stream", "binary/octet-stream"):
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return mime


class MediaStream:
    """An open download: its name, type and declared size are known; its body is read by
    `input_file()`'s upload (or `chunks()`). A body that breaks off or grows past the
    limit stops the upload; `error` then says why."""

    def __init__(self, fetcher: MediaFetcher, url: str, resp: httpx.Response, limit: int) -> None:
        self._fetcher = fetcher
        self._resp = resp
        self.url = url
        self.limit = limit
        self.filename = _filename(url)
        self.mime = _mime(resp.headers.get("content-type", ""), self.filename)
        declared = resp.headers.get("content-length", "")
        self.size = int(declared) if declared.isascii() and declared.isdigit() else None
        self.error: MediaError | None = None
        self._read = False

    @property
    def is_voice(self) -> bool:
        return self.mime in VOICE_MIMES

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk. Read again (an upload retried after a network
        error), it is downloaded again — unless it was too big: that stays so."""
        if not self._read:
            self._read = True
            async for chunk in self._body(self._resp):
                yield chunk
            return
        if self.error is not None and self.error.problem is MediaProblem.TOO_BIG:
            raise self.error
        self.error = None
        try:
            async with self._fetcher.open(self.url, limit=self.limit) as again:
                async for chunk in again.chunks():
                    yield chunk
        except MediaError as exc:
            self.error = exc
            raise

    async def _body(self, resp: httpx.Response) -> AsyncIterator[bytes]:
        size = 0
        try:
            async for chunk in resp.aiter_bytes(CHUNK):
                size += len(chunk)
                if size > self.limit:
                    raise MediaError(MediaProblem.TOO_BIG, f"over {self.limit} bytes")
                self._fetcher.most_held = max(self._fetcher.most_held, len(chunk))
                yield chunk
        except httpx.HTTPError as exc:
            self.error = MediaError(MediaProblem.UNREACHABLE, type(exc).__name__)
            raise self.error from None
        except MediaError as exc:
            self.error = exc
            raise

    def input_file(self, filename: str | None = None) -> InputFile:
        """The body as an aiogram upload, streamed as Telegram reads it."""
        return _StreamedFile(self, filename or self.filename)


class _StreamedFile(InputFile):
    def __init__(self, stream: MediaStream, filename: str) -> None:
        super().__init__(filename=filename, chunk_size=CHUNK)
        self._stream = stream

    async def read(self, bot: Bot) -> AsyncGenerator[bytes, None]:
        async for chunk in self._stream.chunks():
            yield chunk


class MediaFetcher:
    """One httpx client for downloads; built by the composition root, closed at shutdown.

    `most_held` is the most bytes of one file held in memory at once (a chunk, when
    streamed): what bounds the bridge's memory however large the files are."""

    def __init__(self, timeout_s: float, *, limit: int = TELEGRAM_UPLOAD_LIMIT) -> None:
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, read=timeout_s * 3))
        self.limit = limit
        self.most_held = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    @contextlib.asynccontextmanager
    async def open(self, url: str, *, limit: int | None = None) -> AsyncIterator[MediaStream]:
        """Request `url` and check its answer (status, declared size); the body is left to
        be streamed. Raises `MediaError` when it cannot be sent. `limit`: a tighter bound
        than the fetcher's own for this file (declared or as it streams)."""
        limit = self.limit if limit is None else min(limit, self.limit)
        if not is_web_url(url):
            raise MediaError(MediaProblem.DEAD, "not an http(s) URL")
        try:
            resp = await self._http.send(self._http.build_request("GET", url), stream=True)
        except httpx.HTTPError as exc:
            raise MediaError(MediaProblem.UNREACHABLE, type(exc).__name__) from None
        try:
            if resp.status_code >= 500:
                raise MediaError(MediaProblem.UNREACHABLE, f"HTTP {resp.status_code}")
            if resp.status_code >= 400:
                raise MediaError(MediaProblem.DEAD, f"HTTP {resp.status_code}")
            stream = MediaStream(self, url, resp, limit)
            if stream.size is not None and stream.size > limit:
                raise MediaError(MediaProblem.TOO_BIG, f"{stream.size} bytes")
            yield stream
        finally:
            await resp.aclose()

    async def fetch(self, url: str) -> Media:
        """Download `url` whole, refusing anything over the upload limit."""
        async with self.open(url) as stream:
            data = b"".join([chunk async for chunk in stream.chunks()])
        self.most_held = max(self.most_held, len(data))
        return Media(data, stream.filename, stream.mime)
