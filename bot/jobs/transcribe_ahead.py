"""Transcribing ahead: recordings of users some chat follows (/follow) or watches (/watch)
are transcribed as soon as the bridge sees them, before anyone asks, so that /recordings
lists show an excerpt per row and a ▶ gets its caption with the transcript at once.

It runs with each recordings poll (`RecordingFeed.ahead`), over the users that poll does
not already cover (a recordings subscription wants its recordings' transcripts itself),
with the same platform queries. Only recordings that began after the follow or watch did
(minus `LATE_MARGIN`) are wanted: following someone does not transcribe their whole day.
With no speech-recognition server it does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.directory import DirUser
from bot.jobs.recordings import LATE_MARGIN, RecordingFeed, recording_key
from bot.platform import PlatformError
from bot.relay.captions import TranscriptCaptions
from storage.follows import FollowRepo
from storage.watches import WatchRepo

__all__ = ["WIDE_KEY", "TranscribeAhead"]

log = logging.getLogger(__name__)

WIDE_KEY = "transcribe-ahead-wide-polled-at"
REMEMBER = 20_000
"""Keys wanted by this process that are not asked for again (a watch of a large group sees
the same day's recordings each minute); forgotten all at once beyond this many."""


class TranscribeAhead:
    """`poll(now, covered)`: want the new recordings of the followed and watched users not
    in `covered`. Returns how many were wanted."""

    def __init__(
        self,
        feed: RecordingFeed,
        follows: FollowRepo,
        watches: WatchRepo,
        captions: TranscriptCaptions,
    ) -> None:
        self.feed = feed
        self.follows = follows
        self.watches = watches
        self.captions = captions
        self._wanted: set[str] = set()

    async def since(self, now: datetime) -> dict[int, datetime]:
        """The users followed or watched, each since when (the earliest)."""
        directory = self.feed.directory
        users = directory.snapshot.users
        out: dict[int, datetime] = {}

        def add(uid: int, at: datetime) -> None:
            if uid in users and (uid not in out or at < out[uid]):
                out[uid] = at

        for f in await self.follows.active(now):
            if f.target_kind == "user":
                add(f.target_id, f.started_at)
            else:
                group = directory.group(f.target_id)
                for uid in group.member_ids if group is not None else ():
                    add(uid, f.started_at)
        for w in await self.watches.active():
            group = directory.group(w.group_id)
            for uid in group.member_ids if group is not None else ():
                add(uid, w.created_at)
        return out

    async def poll(self, now: datetime, covered: frozenset[int]) -> int:
        if not self.captions.enabled:
            return 0
        since = {u: at for u, at in (await self.since(now)).items() if u not in covered}
        if not since:
            return 0
        users: dict[int, DirUser] = {u: self.feed.directory.snapshot.users[u] for u in since}
        try:
            records, _polled, errors = await self.feed.fetch(users, now, WIDE_KEY)
        except PlatformError as exc:
            log.warning("transcribing ahead: the platform failed (%s); next poll", exc)
            return 0
        if errors:
            log.warning("transcribing ahead: %d users not polled (%s)", len(errors), errors[0])
        if len(self._wanted) > REMEMBER:
            self._wanted.clear()
        wanted = 0
        for r in sorted(records, key=lambda r: r.begin):
            key = recording_key(r)
            if key in self._wanted or r.user_id not in since:
                continue
            if r.begin >= since[r.user_id] - LATE_MARGIN:
                await self.captions.want(r, key)  # durable, once per key: a restart is safe
                self._wanted.add(key)
                wanted += 1
        return wanted
