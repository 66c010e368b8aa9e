"""Transcripts in voice messages' captions (issue #17): at once when known, else by one edit.

A recording the bridge sends (the recordings watch through the outbox, ▶ in /recordings
directly) goes out at once, never waiting for the speech-recognition server. If its
transcript is known by then, the caption carries it. If not, the message is remembered
(`transcript_captions`), and when the transcript is stored its caption is edited once:
the edit is an outbox row (at least once, never twice once it succeeded, rate limited)
queued in the transaction that forgets the message, so whichever path completes it first
(the transcriber's listener, the sender's second look, the sweep after a restart) is the
only one. A transcript that failed edits nothing; a message whose transcript never came
is forgotten after `KEEP`. With no speech-recognition server nothing here does anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.i18n import Translator
from bot.platform.models import Recording
from bot.relay.messages import CaptionEdit
from bot.render.text import Html
from bot.render.transcripts import Captioned, captioned, transcript_text
from storage.db import Database
from storage.outbox import OutboxRepo
from storage.transcript_captions import TranscriptCaptionRepo, WaitingCaption
from storage.transcripts import Transcript, TranscriptRepo

__all__ = ["KEEP", "KIND", "TranscriptCaptions", "TranscriptSource"]

log = logging.getLogger(__name__)

KIND = "transcripts"
"""The outbox kind of a caption edit."""
KEEP = timedelta(days=2)
"""How long a sent message waits for its transcript (the transcriber gives up long before)."""


class TranscriptSource(Protocol):
    """What this needs of `bot.asr.Transcriber`."""

    @property
    def enabled(self) -> bool: ...

    async def want(self, recording: Recording, key: str) -> None: ...


class TranscriptCaptions:
    """Captions with transcripts: `caption` before sending, `sent` after, `on_transcript` when a
    transcript is stored (the transcriber's listener), `sweep` at start and now and then."""

    def __init__(
        self,
        db: Database,
        *,
        waiting: TranscriptCaptionRepo,
        transcripts: TranscriptRepo,
        outbox: OutboxRepo,
        source: TranscriptSource,
        translator: Translator,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
    ) -> None:
        self._db = db
        self._waiting = waiting
        self._transcripts = transcripts
        self._outbox = outbox
        self._source = source
        self._translator = translator
        self._clock = clock
        self._wake = wake

    @property
    def enabled(self) -> bool:
        return self._source.enabled

    async def want(self, recording: Recording, key: str) -> None:
        """Have `recording` transcribed (once, durably), unless transcripts are off."""
        if self.enabled:
            await self._source.want(recording, key)

    async def transcript(self, key: str) -> Transcript | None:
        """The transcript of `key` in whatever state it is (None: never wanted)."""
        return await self._transcripts.get(key)

    async def caption(self, key: str, caption: str, language: str) -> Captioned:
        """The caption to send now: with the transcript when it is known already."""
        if self.enabled:
            known = await self._transcripts.get(key)
            text = transcript_text(known.text) if known and known.state == "done" else None
            if text is not None:
                return captioned(self._translator.get(language), caption, text)
        return Captioned(Html(caption), None)

    async def sent(
        self,
        key: str,
        chat_id: int,
        thread_id: int,
        message_id: int,
        caption: str,
        language: str,
    ) -> None:
        """A voice message went out without its transcript (its `caption` as sent, in
        `language`): its caption is completed when the transcript comes."""
        if not self.enabled:
            return
        at = self._clock()
        await self._waiting.add(
            WaitingCaption(key, chat_id, thread_id, message_id, caption, language, at)
        )
        # The transcript may have been stored since the caption was made, its listener
        # finding nobody waiting yet: look once more.
        known = await self._transcripts.get(key)
        if known is not None and known.state != "pending":
            await self.complete(key, known.text if known.state == "done" else None)

    async def on_transcript(self, key: str, text: str) -> None:
        """The transcriber's listener: the transcript of `key` was stored."""
        await self.complete(key, text)

    async def complete(self, key: str, text: str | None) -> int:
        """The transcript of `key` is stored (`text`; None: it failed): queue one caption
        edit for every message waiting for it, and forget them. Returns how many edits."""
        shown = transcript_text(text)
        now = self._clock()
        async with self._db.transaction():
            waiting = await self._waiting.claim(key)
            if shown is None:
                return 0
            for w in waiting:
                done = captioned(self._translator.get(w.language), w.caption, shown)
                edit = CaptionEdit(message_id=w.message_id, caption=done.caption, reply=done.reply)
                await self._outbox.enqueue(w.chat_id, w.thread_id, KIND, edit.to_payload(), now)
        if waiting:
            self._wake()
        return len(waiting)

    async def sweep(self, now: datetime) -> int:
        """Complete the messages whose transcript was stored while nobody listened (a stop
        in between), forget those whose transcript failed, is gone, or never came within
        `KEEP`. Returns how many edits were queued."""
        edits = 0
        for key in await self._waiting.keys():
            known = await self._transcripts.get(key)
            if known is None or known.state == "failed":
                await self.complete(key, None)
            elif known.state == "done":
                edits += await self.complete(key, known.text)
        gone = await self._waiting.prune(now - KEEP)
        if gone:
            log.info("%d voice messages waited over %s for a transcript: forgotten", gone, KEEP)
        return edits
