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
import wave
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

__all__ = ["DEFAULT_MODEL", "AsrClient", "AsrError", "shown_url", "silence_wav"]

DEFAULT_MODEL: Final = "whisper-1"
"""Sent as `model` when BRIDGE_ASR_MODEL is unset: OpenAI's own name, which compatible servers
accept or ignore."""

_DETAIL_MAX = 200  # characters of a server's error answer kept in an error


class AsrError(Exception):
    """A transcription that did not work; `retryable`: it may work later."""

    def __init__(
        self, detail: str, *, retryable: bool, status: int | None = None, kind: str = ""
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status = status
        # A few words for /status: `HTTP 503`, `timeout`, `network`, `not JSON`, `no text`.
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
        self._http = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def transcribe(self, data: bytes, filename: str, mime: str) -> str:
        """The text the server hears in `data` (an audio file named `filename`, of type
        `mime`); raises `AsrError`."""
        form = {"model": self.model, "response_format": "json"}
        if self.language:
            form["language"] = self.language
        try:
            resp = await self._http.post(
                self.url, data=form, files={"file": (filename, data, mime)}
            )
        except httpx.TimeoutException:
            raise AsrError("timed out", retryable=True, kind="timeout") from None
        except httpx.HTTPError as exc:
            raise AsrError(
                f"not reachable: {type(exc).__name__}", retryable=True, kind="network"
            ) from None
        if resp.status_code != 200:
            raise AsrError(
                f"HTTP {resp.status_code}{self._detail(resp)}",
                retryable=resp.status_code >= 500 or resp.status_code == 429,
                status=resp.status_code,
            )
        try:
            body = json.loads(resp.content)
        except ValueError:
            raise AsrError(
                "the answer is not JSON", retryable=True, status=200, kind="not JSON"
            ) from None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise AsrError('the answer has no "text"', retryable=True, status=200, kind="no text")
        return text.strip()

    def _detail(self, resp: httpx.Response) -> str:
        """A short, printable excerpt of an error answer, without the token."""
        text = resp.text[:_DETAIL_MAX]
        if self._token is not None:
            secret = self._token.get_secret_value()
            if secret:
                text = text.replace(secret, "***")
        text = " ".join(text.split())
        return f": {text}" if text else ""


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
