"""Transcribe once, use everywhere: the durable queue of recordings to transcribe, and its
worker.

`Transcriber.want` stores a recording in ``transcripts`` (pending) unless it is known; the
worker hands due rows to the speech-recognition server, at most `concurrency` at a time,
each fetched from the platform's file URL (audio only, at most `MAX_AUDIO_BYTES`, refused
before any upload otherwise), within a per-file timeout. A failure that may pass (5xx,
429, a timeout, a broken connection) is tried again after an exponential backoff with
jitter, up to `RetryPolicy.attempts` attempts; one that will not (another 4xx, a file that
is gone, too big or not audio) fails for good at once. A server that cannot be reached at
all is not the file's fault: the whole queue waits (backing off up to
`RetryPolicy.max_delay_s`), one file at a time probes it, and no file is charged an
attempt, so an outage of any length loses no transcript; a Retry-After (429, 503) holds
the whole queue too. Pending work is in the database, so a restart takes it up again, and
a recording's key is unique there, so it is transcribed once across restarts
and chats. Listeners (`add_listener`) hear of each transcript once it is stored.

Transcripts are platform data: they are never logged, at any level.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.asr.client import AsrClient, AsrError
from bot.metrics import Metrics
from bot.platform.models import Recording
from bot.telegram.media import MediaError, MediaFetcher, MediaProblem
from storage.transcripts import Transcript, TranscriptRepo

__all__ = ["Listener", "QueueHealth", "RetryPolicy", "Transcriber"]

log = logging.getLogger(__name__)

Listener = Callable[[str, str], Awaitable[None]]
"""Called with (recording key, text) once a transcript is stored."""

MAX_AUDIO_BYTES = 25 * 1024 * 1024
"""The largest recording sent to the server: OpenAI's limit, which compatible servers share."""
_AUDIO_TYPES = ("audio/", "video/")
_AUDIO_TOO = frozenset({"application/ogg", "application/octet-stream"})

MAX_WAIT_S = 60.0
"""The worker looks at the queue at least this often, whatever it expects (a clock that
jumped, rows added by another process)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a recording is tried."""

    attempts: int = 6  # in all, the first included
    first_delay_s: float = 15.0  # before the second attempt; doubled each time after
    max_delay_s: float = 1800.0
    jitter: float = 0.2  # each delay is shifted by up to ±20 %, so retries do not bunch up
    file_timeout_s: float = 180.0  # fetching the audio and transcribing it, together

    def delay(self, attempts_made: int, rand: float) -> timedelta:
        """The wait after `attempts_made` failed attempts; `rand` in [0, 1)."""
        base = min(self.max_delay_s, self.first_delay_s * 2 ** max(0, attempts_made - 1))
        return timedelta(seconds=base * (1 + self.jitter * (2 * rand - 1)))


@dataclass(frozen=True)
class QueueHealth:
    """What /status shows of the queue: rows pending, rows given up in the last 24 h, the
    oldest pending row's queueing time, and the kind of the last failed attempt since start
    (`HTTP 503`, `timeout`, `network`, `audio HTTP 404`, …: never a text or a token)."""

    pending: int
    failed_24h: int
    oldest_pending: datetime | None
    last_error: str | None
    last_error_at: datetime | None


class Transcriber:
    """The queue (`want`), the texts (`text_of`), the worker (`start`/`stop`).

    Disabled (`enabled` False) when no speech-recognition server is configured: `want`
    then does nothing and `text_of` finds only what an earlier configuration stored.
    """

    REQUEST_TIMEOUT_S = 150.0
    """What the client should allow one request (within `RetryPolicy.file_timeout_s`)."""

    def __init__(
        self,
        repo: TranscriptRepo,
        client: AsrClient | None,
        media: MediaFetcher,
        *,
        clock: Callable[[], datetime],
        concurrency: int = 2,
        policy: RetryPolicy | None = None,
        rand: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
        max_bytes: int = MAX_AUDIO_BYTES,
    ) -> None:
        self._repo = repo
        self._client = client
        self._media = media
        self._clock = clock
        self.concurrency = max(1, concurrency)
        self.policy = policy or RetryPolicy()
        self._rand = rand
        self._metrics = metrics
        self._last_error: tuple[str, datetime] | None = None
        self._paused_until: datetime | None = None  # Retry-After, or the server down
        self._down_streak = 0  # attempts in a row that found the server down
        self.max_bytes = max_bytes
        self._listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._worker: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._client is not None

    # -- the interface others use ---------------------------------------------------------

    async def want(self, recording: Recording, key: str) -> None:
        """Queue `recording` (its key: `bot.jobs.recordings.recording_key`) for transcription,
        durably, unless it is queued or transcribed already; the worker is woken."""
        if not self.enabled or not recording.file_url:
            return
        new = await self._repo.want(
            key,
            user_id=recording.user_id,
            account=recording.account or None,
            group_name=recording.group_name,
            begin=recording.begin,
            seconds=None if recording.duration_ms is None else recording.duration_ms / 1000,
            file_url=recording.file_url,
            now=self._clock(),
        )
        if new:
            self.wake()

    async def text_of(self, key: str) -> str | None:
        """The transcript of the recording `key`, when it is done."""
        row = await self._repo.get(key)
        return row.text if row is not None and row.state == "done" else None

    async def health(self) -> QueueHealth:
        """The queue at a glance, for /status."""
        now = self._clock()
        stats = await self._repo.stats(now - timedelta(hours=24))
        kind, at = self._last_error or (None, None)
        return QueueHealth(stats.pending, stats.failed, stats.oldest_pending, kind, at)

    def add_listener(self, cb: Listener) -> None:
        """`cb(key, text)` is awaited after each transcript is stored; what it raises is
        logged and never stops the worker."""
        self._listeners.append(cb)

    # -- the worker -----------------------------------------------------------------------

    def wake(self) -> None:
        """Look at the queue now (new work, or a clock moved on by a test)."""
        self._idle.clear()
        self._wake.set()

    async def idle(self) -> None:
        """Wait until nothing is in flight and nothing is due by the clock (for tests and
        the demo: what was wanted has been tried). At once when the worker is not running
        (disabled, or stopped): nothing would be tried."""
        if self._worker is not None:
            await self._idle.wait()

    async def start(self) -> None:
        """Start the worker; it takes up what is pending at once (work left by a stop)."""
        if not self.enabled or self._worker is not None:
            return
        self.wake()
        self._worker = asyncio.create_task(self._run(), name="transcriber")

    async def stop(self) -> None:
        """Stop the worker and cancel attempts in flight: they stay pending for next time."""
        tasks = [t for t in (self._worker, *self._inflight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._worker = None
        self._inflight.clear()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                timeout = await self._dispatch()
            except Exception:  # the database: try again shortly, never end the worker
                log.exception("transcription queue: reading it failed")
                timeout = MAX_WAIT_S
            # Idle: nothing in flight, nothing due, and no wake-up came meanwhile.
            if not self._inflight and timeout != 0 and not self._wake.is_set():
                self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _dispatch(self) -> float | None:
        """Start due rows in the free slots; returns how long to wait before looking again
        (None: until an attempt ends or new work comes)."""
        # While the server is believed down, one file at a time finds out whether it is back.
        most = 1 if self._down_streak else self.concurrency
        free = most - len(self._inflight)
        if free <= 0:
            return None
        now = self._clock()
        if self._metrics is not None:
            self._metrics.transcripts_pending.set(await self._repo.pending_count())
        if self._paused_until is not None:
            if now < self._paused_until:
                return min(MAX_WAIT_S, (self._paused_until - now).total_seconds())
            self._paused_until = None
        rows = await self._repo.due(now, free + len(self._inflight))
        fresh = [r for r in rows if r.recording_key not in self._inflight][:free]
        for row in fresh:
            self._idle.clear()
            task = asyncio.create_task(self._attempt(row), name=f"transcribe {row.id}")
            self._inflight[row.recording_key] = task
            task.add_done_callback(functools.partial(self._ended, row.recording_key))
        if len(self._inflight) >= most:
            return None
        at = await self._repo.next_due_at(exclude=self._inflight.keys())
        if at is None:
            return None if self._inflight else MAX_WAIT_S
        return min(MAX_WAIT_S, max(0.0, (at - self._clock()).total_seconds()))

    def _ended(self, key: str, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(key, None)
        self._wake.set()

    async def _attempt(self, row: Transcript) -> None:
        """One try at `row`; its outcome stored. Never raises (but for cancellation)."""
        assert self._client is not None
        key = row.recording_key
        try:
            async with asyncio.timeout(self.policy.file_timeout_s):
                data, filename, mime = await self._audio(row.file_url)
                text = await self._client.transcribe(data, filename, mime)
        except MediaError as exc:
            retry = exc.problem is MediaProblem.UNREACHABLE
            await self._failed(row, f"audio {exc}", retry, kind=_audio_kind(exc))
            return
        except AsrError as exc:
            error = f"speech recognition: {exc.detail}"
            if exc.server_down or exc.status == 429:
                await self._server_down(row, error, exc.kind, exc.retry_after)
            else:
                # It answered (but a timeout: it may hang for everyone, one file at a time
                # finds out until one succeeds).
                self._down_streak = max(1, self._down_streak) if exc.kind == "timeout" else 0
                await self._failed(row, error, exc.retryable, exc.kind, exc.retry_after)
            return
        except TimeoutError:
            self._down_streak = max(1, self._down_streak)  # as above
            timeout = self.policy.file_timeout_s
            await self._failed(row, f"timed out after {timeout:g} s", True, kind="timeout")
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("transcribing %s failed unexpectedly", key)
            kind = type(exc).__name__
            await self._failed(row, f"unexpected {kind}", True, kind=kind)
            return
        try:
            stored = await self._repo.done(key, text, self._clock())
        except Exception as exc:
            log.exception("storing the transcript of %s failed; it is tried again", key)
            # Backed off as any failure: never tried again at once, in a loop.
            await self._failed(row, f"storing it: {type(exc).__name__}", True, kind="storage")
            return
        self._down_streak = 0
        if not stored:  # deleted meanwhile (retention): nobody is told of it
            log.info("transcribed %s, but its row is gone: not kept", key)
            return
        if self._metrics is not None:
            self._metrics.transcripts.labels("done").inc()
        log.info("transcribed %s (%d characters)", key, len(text))
        for cb in list(self._listeners):
            try:
                await cb(key, text)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a transcript listener failed on %s", key)

    async def _audio(self, url: str) -> tuple[bytes, str, str]:
        """The recording's bytes, name and type, refused before any upload when it is not
        audio or is over `max_bytes` (declared or as it streams)."""
        async with self._media.open(url, limit=self.max_bytes) as stream:
            if not _is_audio(stream.mime):
                raise MediaError(MediaProblem.DEAD, f"not audio: {stream.mime[:60]}")
            data = b"".join([chunk async for chunk in stream.chunks()])
        return data, stream.filename, stream.mime

    async def _server_down(
        self, row: Transcript, error: str, kind: str, wait_s: float | None = None
    ) -> None:
        """No connection to the server, or it says it is too busy (429): the whole queue
        waits — backing off as one row would (up to `RetryPolicy.max_delay_s`), at least
        the `wait_s` it asked for — and the row is not charged an attempt: an outage or
        a rate limit of any length loses no transcript. One file probes when the wait
        ends."""
        now = self._clock()
        self._last_error = (kind, now)
        if self._metrics is not None:
            self._metrics.transcripts.labels("retried").inc()
        if self._paused_until is None or self._paused_until <= now:
            self._down_streak += 1
            delay = self.policy.delay(self._down_streak, self._rand())
            if wait_s is not None:
                delay = max(delay, timedelta(seconds=wait_s))
            self._paused_until = now + delay
            log.warning(
                "speech recognition unavailable (%s); the queue waits until %s",
                error,
                self._paused_until,
            )
        elif wait_s is not None:
            self._paused_until = max(self._paused_until, now + timedelta(seconds=wait_s))
        try:
            await self._repo.postpone(row.recording_key, error, self._paused_until)
        except Exception:
            log.exception("postponing the transcription of %s failed", row.recording_key)

    async def _failed(
        self,
        row: Transcript,
        error: str,
        retryable: bool,
        kind: str,
        retry_after: float | None = None,
    ) -> None:
        made = row.attempts + 1
        now = self._clock()
        self._last_error = (kind, now)
        again = retryable and made < self.policy.attempts
        if self._metrics is not None:
            self._metrics.transcripts.labels("retried" if again else "failed").inc()
        if retry_after is not None and retryable:
            # The server asked for a pause (429, 503 with Retry-After): no file goes to
            # it before then, not only this one.
            until = now + timedelta(seconds=retry_after)
            if self._paused_until is None or until > self._paused_until:
                self._paused_until = until
        if again:
            delay = self.policy.delay(made, self._rand())
            if retry_after is not None:
                delay = max(delay, timedelta(seconds=retry_after))
            at: datetime | None = now + delay
            log.warning(
                "transcribing %s failed (attempt %d of %d): %s; tried again at %s",
                row.recording_key,
                made,
                self.policy.attempts,
                error,
                at,
            )
        else:
            at = None
            log.warning(
                "transcribing %s failed for good after %d attempt(s): %s",
                row.recording_key,
                made,
                error,
            )
        try:
            await self._repo.failed(row.recording_key, error, at, now)
        except Exception:
            log.exception("storing a failed transcription of %s failed", row.recording_key)


def _is_audio(mime: str) -> bool:
    """Whether a download's type may be audio (an untyped one may: the server judges)."""
    return mime.startswith(_AUDIO_TYPES) or mime in _AUDIO_TOO


def _audio_kind(exc: MediaError) -> str:
    """A MediaError in a few words for /status: `audio HTTP 404`, `audio too big`, …"""
    if exc.detail.startswith(("HTTP ", "not audio")):
        return "audio " + exc.detail.split(":")[0]
    return "audio " + exc.problem.value.replace("_", " ")
