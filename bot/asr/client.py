"""A client of an OpenAI-compatible speech-recognition server (`POST …/audio/transcriptions`).

FunASR/Paraformer, faster-whisper and whisper.cpp servers all answer OpenAI's request: a
multipart form with `file` (a filename and its content type), `model`, `language` and
`response_format=json`, a bearer token when the server wants one, and `{"text": …}` back.

Errors say whether trying again may help (`AsrError.retryable`): 5xx, 429, timeouts and
network errors may; any other 4xx (a file the server refuses, a wrong token or model) will
not. No error text ever holds the token, and none holds a transcript.
"""

from __future__ import annotations

import io
import json
import re
import wave
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

__all__ = [
    "ANSWER_MAX",
    "DEFAULT_MODEL",
    "TEXT_MAX",
    "AsrClient",
    "AsrError",
    "clean_text",
    "retry_after",
    "shown_url",
    "silence_wav",
]

DEFAULT_MODEL: Final = "whisper-1"
"""Sent as `model` when BRIDGE_ASR_MODEL is unset: OpenAI's own name, which compatible servers
accept or ignore."""

_DETAIL_MAX = 200  # characters of a server's error answer kept in an error
ANSWER_MAX = 2 * 1024 * 1024
"""Bytes of an answer read at most: a radio call's transcript is a few hundred."""
TEXT_MAX = 8000
"""Characters of a transcript kept (two Telegram messages); a longer one is cut, marked."""
RETRY_AFTER_MAX = 3600.0
"""A server's Retry-After is obeyed up to this many seconds."""

# Characters never kept in a transcript: C0/C1 controls but the line break and tab,
# bidirectional overrides and isolates (they reorder what follows them on screen: a name
# shown after a transcript could read backwards), lone surrogates (SQLite and Telegram
# refuse them), and non-characters.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)


class AsrError(Exception):
    """A transcription that did not work; `retryable`: it may work later."""

    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        status: int | None = None,
        kind: str = "",
        retry_after: float | None = None,
        server_down: bool = False,
    ) -> None:
        super().__init__(detail)
        self.server_down = server_down  # no connection could be made: not the file's fault
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after  # seconds the server asked to wait (429, 503)
        # A few words for /status: `HTTP 503`, `timeout`, `unreachable`, `network` (broken
        # off), `not JSON`, `no text`, `answer too big`.
        self.kind = kind or (f"HTTP {status}" if status is not None else "error")


class AsrClient:
    """One httpx client for the speech-recognition server; closed by whoever built it."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None,
        token: SecretStr | None,
        language: str | None,
        timeout_s: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/audio/transcriptions"
        self.model = model or DEFAULT_MODEL
        self.language = language
        self._token = token
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        # Never redirected: a 3xx to another host would take the bearer token there.
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def transcribe(self, data: bytes, filename: str, mime: str) -> str:
        """The text the server hears in `data` (an audio file named `filename`, of type
        `mime`), made safe to show (`clean_text`); raises `AsrError`."""
        form = {"model": self.model, "response_format": "json"}
        if self.language:
            form["language"] = self.language
        try:
            # Streamed, so an answer that never ends, or ends at 1 GB, is cut at ANSWER_MAX.
            async with self._http.stream(
                "POST", self.url, data=form, files={"file": (filename, data, mime)}
            ) as resp:
                if resp.status_code != 200:
                    detail = await _read_upto(resp, _DETAIL_MAX * 4)
                    raise AsrError(
                        f"HTTP {resp.status_code}{self._detail(detail)}",
                        retryable=resp.status_code >= 500 or resp.status_code == 429,
                        status=resp.status_code,
                        retry_after=retry_after(resp.headers.get("retry-after")),
                    )
                content = await _read_upto(resp, ANSWER_MAX)
                if len(content) > ANSWER_MAX:
                    raise AsrError(
                        f"the answer is over {ANSWER_MAX} bytes",
                        retryable=False,
                        status=200,
                        kind="answer too big",
                    )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # No connection at all: the server is down, whatever the file.
            raise AsrError(
                f"not reachable: {type(exc).__name__}",
                retryable=True,
                kind="unreachable",
                server_down=True,
            ) from None
        except httpx.TimeoutException:
            raise AsrError("timed out", retryable=True, kind="timeout") from None
        except httpx.HTTPError as exc:
            raise AsrError(
                f"not reachable: {type(exc).__name__}", retryable=True, kind="network"
            ) from None
        try:
            body = json.loads(content)
        except ValueError:
            raise AsrError(
                "the answer is not JSON", retryable=True, status=200, kind="not JSON"
            ) from None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise AsrError('the answer has no "text"', retryable=True, status=200, kind="no text")
        return clean_text(text)

    def _detail(self, body: bytes) -> str:
        """A short, printable excerpt of an error answer, without the token."""
        text = clean_text(body.decode("utf-8", "replace"))[:_DETAIL_MAX]
        if self._token is not None:
            secret = self._token.get_secret_value()
            if secret:
                text = text.replace(secret, "***")
        text = " ".join(text.split())
        return f": {text}" if text else ""


async def _read_upto(resp: httpx.Response, limit: int) -> bytes:
    """The body, or its first `limit` + 1 bytes when it is longer (so the caller sees it
    was)."""
    out = bytearray()
    async for chunk in resp.aiter_bytes():
        out += chunk
        if len(out) > limit:
            return bytes(out[: limit + 1])
    return bytes(out)


def clean_text(text: str) -> str:
    """A transcript safe to store and show: no control characters but line breaks and
    tabs, no bidirectional overrides, no lone surrogates; trimmed; at most `TEXT_MAX`
    characters (a longer one is cut at a space when one is near, and ends with "…")."""
    text = _UNSAFE.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(text) <= TEXT_MAX:
        return text
    cut = text[: TEXT_MAX - 1]
    space = cut.rfind(" ", TEXT_MAX - 200)
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) in seconds from `now`, at most
    `RETRY_AFTER_MAX`; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            at = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        seconds = (at - (now or datetime.now(UTC))).total_seconds()
    return min(RETRY_AFTER_MAX, max(0.0, seconds))


def shown_url(url: str) -> str:
    """`url` without the user and password it may carry, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def silence_wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    """A short silent WAV file (16-bit mono): what `pttbridge check` sends the server."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()
