"""Fetching recordings from the platform's `fileUrl`s, to send the audio itself."""

from __future__ import annotations

import enum
import mimetypes
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

TELEGRAM_UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload


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
        return self.mime in ("audio/ogg", "audio/opus", "audio/mpeg", "audio/mp4", "audio/x-m4a")


class MediaFetcher:
    """One httpx client for downloads; built by the composition root, closed at shutdown."""

    def __init__(self, timeout_s: float, *, limit: int = TELEGRAM_UPLOAD_LIMIT) -> None:
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, read=timeout_s * 3))
        self.limit = limit

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, url: str) -> Media:
        """Download `url` whole, refusing anything over the upload limit."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise MediaError(MediaProblem.DEAD, "not an http(s) URL")
        try:
            async with self._http.stream("GET", url) as resp:
                if resp.status_code >= 500:
                    raise MediaError(MediaProblem.UNREACHABLE, f"HTTP {resp.status_code}")
                if resp.status_code >= 400:
                    raise MediaError(MediaProblem.DEAD, f"HTTP {resp.status_code}")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.limit:
                    raise MediaError(MediaProblem.TOO_BIG, f"{declared} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > self.limit:
                        raise MediaError(MediaProblem.TOO_BIG, f"over {self.limit} bytes")
                    chunks.append(chunk)
                mime = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        except httpx.HTTPError as exc:
            raise MediaError(MediaProblem.UNREACHABLE, type(exc).__name__) from None
        filename = urlsplit(url).path.rsplit("/", 1)[-1] or "recording"
        guessed = mimetypes.guess_type(filename)[0]
        if not mime or mime in ("application/octet-stream", "binary/octet-stream"):
            mime = guessed or "application/octet-stream"
        return Media(b"".join(chunks), filename, mime)
