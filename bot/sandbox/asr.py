"""A fake OpenAI-compatible speech-recognition server for tests, the demo and integrators
(``pttbridge sandbox --asr``). It imports nothing of the bridge.

``POST /v1/audio/transcriptions`` takes OpenAI's multipart form (``file`` with a filename
and a content type, ``model``, optional ``language``, ``response_format`` ``json`` or
``text``) and answers ``{"text": …}``: the known transcript of the sandbox recordings
(recognised by the SHA-256 of the bytes uploaded), ``(unrecognised)`` for any other file.
With a token configured, a request without ``Authorization: Bearer <token>`` gets 401.
`AsrOptions` adds a delay before each answer and 503 for the first N requests; `down`
stops listening (the bridge then meets a refused connection) until `up`.
Every request it got is in `requests`, for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

__all__ = [
    "KNOWN_TEXTS",
    "UNRECOGNISED",
    "AsrOptions",
    "AsrRequest",
    "FakeAsr",
    "parse_options",
    "serve_forever",
]

MEDIA_DIR = Path(__file__).parent / "media"

ZH_TEXT = "消防一组，收到请回答。现场火势已经控制。"
EN_TEXT = "Team one, copy that. The fire is under control."
UNRECOGNISED = "(unrecognised)"

MAX_UPLOAD = 25 * 1024 * 1024  # OpenAI's limit on one file


def _known_texts() -> dict[str, str]:
    """sha256 of each sandbox recording -> what it says."""
    texts: dict[str, str] = {}
    for path in sorted(MEDIA_DIR.glob("recording-*.*")):
        text = ZH_TEXT if path.name.startswith("recording-zh.") else EN_TEXT
        texts[hashlib.sha256(path.read_bytes()).hexdigest()] = text
    return texts


KNOWN_TEXTS = _known_texts()


@dataclass(frozen=True)
class AsrOptions:
    """How the fake server misbehaves: `delay_s` before each answer, 503 for the first
    `fail_first` requests, 401 without `Authorization: Bearer <token>` when `token` is set."""

    delay_s: float = 0.0
    fail_first: int = 0
    token: str | None = None


def parse_options(spec: str) -> AsrOptions:
    """`delay=2,fail=3,token=abc` (any of them, any order; empty: none) -> `AsrOptions`.
    Raises ValueError naming what is wrong."""
    values: dict[str, Any] = {}
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not sep:
            raise ValueError(f"{item!r}: expected name=value (delay=2, fail=3, token=abc)")
        if name == "delay":
            try:
                delay = float(value)
            except ValueError:
                raise ValueError(f"delay: not a number of seconds: {value!r}") from None
            if not 0 <= delay <= 600:
                raise ValueError(f"delay: must be 0-600 seconds: {value!r}")
            values["delay_s"] = delay
        elif name == "fail":
            if not value.strip().isdigit():
                raise ValueError(f"fail: not a number of requests: {value!r}")
            values["fail_first"] = int(value)
        elif name == "token":
            if not value:
                raise ValueError("token: empty")
            values["token"] = value
        else:
            raise ValueError(f"{name!r}: unknown option (delay, fail, token)")
    return AsrOptions(**values)


@dataclass(frozen=True)
class AsrRequest:
    """A request the fake server got, as it got it."""

    status: int  # what it answered
    authorization: str | None
    content_type: str  # of the request
    fields: dict[str, str] = field(default_factory=dict)  # the form's text fields
    filename: str | None = None  # of the `file` part
    file_type: str | None = None  # the `file` part's Content-Type
    sha256: str | None = None
    size: int = 0


class FakeAsr:
    """Start with `await start()` (its base URL, ending in /v1); `stop()` at the end."""

    def __init__(self, options: AsrOptions | None = None) -> None:
        self.options = options or AsrOptions()
        self.requests: list[AsrRequest] = []
        self._failures_left = self.options.fail_first
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._closing = asyncio.Event()
        self.url = ""
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_get("/v1/models", self._models)
        self.app = app

    def fail_next(self, n: int) -> None:
        """Answer 503 to the next `n` requests."""
        self._failures_left = n

    @property
    def transcriptions(self) -> list[AsrRequest]:
        """The requests it answered with a transcript."""
        return [r for r in self.requests if r.status == 200]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._host = host
        self._closing = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, host, port or self._port).start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self.url = f"http://{shown}:{self._port}/v1"
        return self.url

    async def stop(self) -> None:
        """Stop listening; delayed answers end at once."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def down(self) -> None:
        """Stop listening, keeping the port: connections are refused until `up`."""
        await self.stop()

    async def up(self) -> None:
        """Listen again on the same port."""
        await self.start(self._host, self._port)

    # -- routes -----------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        return web.json_response({"object": "list", "data": [{"id": "sandbox", "object": "model"}]})

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization")
        seen: dict[str, Any] = {
            "authorization": auth,
            "content_type": request.headers.get("Content-Type", ""),
        }
        answer = await self._answer(request, seen)
        self.requests.append(AsrRequest(status=answer.status, **seen))
        return answer

    async def _answer(self, request: web.Request, seen: dict[str, Any]) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        if self._failures_left > 0:
            self._failures_left -= 1
            return _error(503, "The server is overloaded", "server_error")
        if not request.content_type.startswith("multipart/form-data"):
            return _error(400, "expected multipart/form-data", "invalid_request_error")
        fields: dict[str, str] = {}
        data: bytes | None = None
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    return _error(400, "a nested or unnamed part", "invalid_request_error")
                if part.name == "file":
                    seen["filename"] = part.filename
                    seen["file_type"] = part.headers.get("Content-Type")
                    data = await part.read(decode=False)
                    if len(data) > MAX_UPLOAD:
                        return _error(413, "file too large", "invalid_request_error")
                else:
                    fields[part.name] = await part.text()
        except (ValueError, AssertionError):
            return _error(400, "malformed multipart body", "invalid_request_error")
        except ConnectionError:  # the client went away mid-upload (e.g. a bridge stopping)
            return _error(400, "the upload was broken off", "invalid_request_error")
        seen["fields"] = fields
        if data is None or not seen.get("filename"):
            return _error(400, "'file' is required, with a filename", "invalid_request_error")
        seen["sha256"] = digest = hashlib.sha256(data).hexdigest()
        seen["size"] = len(data)
        if not fields.get("model"):
            return _error(400, "'model' is required", "invalid_request_error")
        fmt = fields.get("response_format", "json")
        if fmt not in ("json", "text", "verbose_json"):
            return _error(400, f"response_format {fmt!r} is not supported", "invalid_request_error")
        if not data:
            return _error(400, "the file is empty", "invalid_request_error")
        if self.options.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.options.delay_s)
        text = KNOWN_TEXTS.get(digest, UNRECOGNISED)
        if fmt == "text":
            return web.Response(text=text)
        return web.json_response({"text": text}, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    def _authorized(self, request: web.Request) -> bool:
        token = self.options.token
        if token is None:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _error(status: int, message: str, kind: str) -> web.Response:
    """OpenAI's error shape."""
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": None}}, status=status
    )


async def serve_forever(
    host: str = "127.0.0.1", port: int = 8091, options: AsrOptions | None = None
) -> None:
    """Run a fake ASR server until cancelled (``pttbridge sandbox --asr``)."""
    asr = FakeAsr(options)
    url = await asr.start(host, port)
    extra = [f"delay {asr.options.delay_s:g} s"] if asr.options.delay_s else []
    if asr.options.fail_first:
        extra.append(f"first {asr.options.fail_first} requests answer 503")
    if asr.options.token:
        extra.append("bearer token required")
    print(
        f"sandbox ASR: {url}  (BRIDGE_ASR_URL){'  ' + ', '.join(extra) if extra else ''}",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await asr.stop()
