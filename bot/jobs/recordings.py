"""New recordings: chats subscribed to `recordings` get each new one as a voice message.

Each minute the bridge asks 2.6 for today's recordings of the users concerned: the
union over the subscriptions of the users each wants — those it names, the members
of the talk groups it names, the users of its orgs' subtrees (all users for a
subscription with no filter), within its subscriber's scope. Up to `PER_USER_MAX`
users it asks per user; above that, one platform-wide query paged back over the
last `WIDE_WINDOW` costs far fewer calls. 2.6 records name a talk group only by
`groupName`, not by id: a group filter matches by membership (as the directory
has it at the poll), not by the group a recording was made in. A recording is
relayed once: its key is stored in the transaction that queues it, so a restart
never sends it again. A user followed for the first time starts from that moment
(minus `LATE_MARGIN`, for recordings the platform lists a little late): the day's
earlier recordings are not dumped into the chat.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError

from bot.directory import DirUser
from bot.jobs.common import Job
from bot.platform import PlatformError
from bot.platform.models import Recording
from bot.relay.captions import TranscriptCaptions
from bot.relay.context import Context
from bot.relay.messages import VoiceMessage
from bot.relay.subscribers import SubscriberIndex
from bot.render.geo import recording_caption
from bot.render.text import truncate_caption
from storage.db import from_db_time, to_db_time
from storage.jobstate import JobStateRepo
from storage.outbox import OutboxRepo
from storage.recordings_seen import SeenRecordingRepo
from storage.subscriptions import Subscription

log = logging.getLogger(__name__)

PER_USER_MAX = 25
PAGE_SIZE = 100
MAX_PAGES = 20
WIDE_WINDOW = timedelta(minutes=15)
LATE_MARGIN = timedelta(minutes=2)
YESTERDAY_TOO = timedelta(minutes=15)  # just after midnight, yesterday's late arrivals
KEEP_SEEN = timedelta(days=3)
CONCURRENT_USERS = 8
WIDE_KEY = "recordings-wide-polled-at"
HELD_KEY = "recordings-held-for-words"


def heard(words: Sequence[str], text: str) -> bool:
    """Whether a transcript contains one of `words` (any case or width: NFKC, casefolded)."""
    said = unicodedata.normalize("NFKC", text).casefold()
    return any(unicodedata.normalize("NFKC", w).casefold() in said for w in words if w)


class Ahead(Protocol):
    """Transcribing ahead (`bot.jobs.transcribe_ahead`), run with each poll."""

    async def poll(self, now: datetime, covered: frozenset[int]) -> int: ...


def recording_key(r: Recording) -> str:
    """Who, when (ms) and which file: the identity of a recording across polls."""
    who = r.user_id if r.user_id is not None else f"@{r.account}"
    name = urlsplit(r.file_url).path.rsplit("/", 1)[-1]
    return f"{who}:{int(r.begin.timestamp() * 1000)}:{name}"


class RecordingFeed(Job):
    def __init__(
        self,
        ctx: Context,
        outbox: OutboxRepo,
        subscribers: SubscriberIndex,
        seen: SeenRecordingRepo,
        job_state: JobStateRepo,
        captions: TranscriptCaptions | None = None,
    ) -> None:
        super().__init__(ctx, outbox)
        self.seen = seen
        self.subscribers = subscribers
        self.state = job_state
        self.captions = captions  # transcripts in the captions (None or disabled: none)
        self.ahead: Ahead | None = None
        self.lock = asyncio.Lock()  # the held recordings: a poll and a listener

    def audience(self, sub: Subscription) -> frozenset[int] | None:
        """The users whose recordings `sub` wants (None: every user)."""
        users = self.directory.snapshot.users
        scope = self.directory.subtree(sub.scope_org) if sub.scope_org is not None else None
        if not sub.filtered:
            if scope is None:
                return None
            return frozenset(uid for uid, u in users.items() if u.org_id in scope)
        wanted = {uid for uid in sub.users if uid in users}
        for gid in sub.groups:
            group = self.directory.group(gid)
            if group is not None:
                wanted.update(uid for uid in group.member_ids if uid in users)
        if sub.orgs:
            orgs: set[int] = set()
            for o in sub.orgs:
                orgs |= self.directory.subtree(o)
            wanted.update(uid for uid, u in users.items() if u.org_id in orgs)
        if scope is not None:
            wanted = {uid for uid in wanted if users[uid].org_id in scope}
        return frozenset(wanted)

    def concerned(self, subs: Sequence[Subscription]) -> dict[int, DirUser]:
        """The users whose recordings some subscription wants."""
        return self._union([self.audience(sub) for sub in subs])

    def _union(self, audiences: Sequence[frozenset[int] | None]) -> dict[int, DirUser]:
        users = self.directory.snapshot.users
        if any(a is None for a in audiences):
            return dict(users)
        wanted: set[int] = set()
        for a in audiences:
            wanted |= a or frozenset()
        return {uid: users[uid] for uid in sorted(wanted)}

    def _days(self, now: datetime) -> list[date]:
        local = now.astimezone(self.tz)
        today = local.date()
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if local - midnight < YESTERDAY_TOO:
            return [today - timedelta(days=1), today]
        return [today]

    async def _user_day(self, user: DirUser, day: date) -> list[Recording]:
        out: list[Recording] = []
        for n in range(1, MAX_PAGES + 1):
            page = await self.platform.audio_records(
                user_id=user.id, day=day, page=n, size=PAGE_SIZE
            )
            out.extend(page.records)
            if len(page.records) < PAGE_SIZE:
                break
        return out

    async def _per_user(
        self, users: Sequence[DirUser], days: Sequence[date]
    ) -> tuple[list[Recording], set[int], list[PlatformError]]:
        sem = asyncio.Semaphore(CONCURRENT_USERS)

        async def one(u: DirUser) -> list[Recording]:
            async with sem:
                recs: list[Recording] = []
                for d in days:
                    recs += await self._user_day(u, d)
                return recs

        results = await asyncio.gather(*(one(u) for u in users), return_exceptions=True)
        records: list[Recording] = []
        ok: set[int] = set()
        errors: list[PlatformError] = []
        for u, res in zip(users, results, strict=True):
            if isinstance(res, PlatformError):
                errors.append(res)
            elif isinstance(res, BaseException):
                raise res
            else:
                ok.add(u.id)
                records += res
        return records, ok, errors

    async def fetch(
        self, users: dict[int, DirUser], now: datetime, wide_key: str = WIDE_KEY
    ) -> tuple[list[Recording], set[int], list[PlatformError]]:
        """The recordings of `users` today (and yesterday just after midnight): per user up
        to `PER_USER_MAX`, else one platform-wide query back to the last poll (`wide_key`
        keeps when that was); the users asked, and the platform's errors."""
        days = self._days(now)
        if len(users) > PER_USER_MAX:
            records = [r for r in await self._wide(days, now, wide_key) if r.user_id in users]
            return records, set(users), []
        return await self._per_user(list(users.values()), days)

    async def _wide(self, days: Sequence[date], now: datetime, key: str) -> list[Recording]:
        """Everyone's recordings, newest first, back to the last poll (even before a restart)
        minus the window."""
        last = await self.state.get(key)
        last_at = from_db_time(last) if isinstance(last, str) else now
        since = min(last_at, now) - WIDE_WINDOW
        out: list[Recording] = []
        for day in days:
            for n in range(1, MAX_PAGES + 1):
                page = await self.platform.audio_records(day=day, page=n, size=PAGE_SIZE)
                out.extend(page.records)
                if len(page.records) < PAGE_SIZE or min(r.begin for r in page.records) < since:
                    break
        await self.state.put(key, to_db_time(now), now)
        return out

    async def poll(self, now: datetime) -> int:
        """One tick; returns how many messages were queued."""
        subs = await self.subscribers.of_kind("recordings")
        followed = await self.seen.followed()
        audiences = [(sub, self.audience(sub)) for sub in subs]
        users = self._union([a for _, a in audiences])
        dropped = [u for u in followed if u not in users]
        if dropped:
            await self.seen.unfollow(dropped)
        queued = await self._release(subs, now)
        if self.captions is not None and self.captions.enabled:
            await self.captions.sweep(now)  # captions whose transcript came unheard
        if self.ahead is not None:
            await self.ahead.poll(now, frozenset(users))
        if not users:
            return queued
        records, polled, errors = await self.fetch(users, now)
        by_key = {recording_key(r): r for r in records if r.user_id in users}
        fresh = await self.seen.unseen(by_key)
        new_users = polled - followed.keys()
        async with self.lock, self.db.transaction():
            await self.seen.follow(new_users, now)
            to_send = []
            for key in fresh:
                r = by_key[key]
                assert r.user_id is not None
                since = followed.get(r.user_id, now) - LATE_MARGIN
                if r.begin >= since:
                    to_send.append(r)
            to_send.sort(key=lambda r: r.begin)
            held = await self._held()
            holding = len(held)
            for r in to_send:
                assert r.user_id is not None
                to = [s for s, aud in audiences if aud is None or r.user_id in aud]
                queued += await self._enqueue(
                    r, users[r.user_id], [s for s in to if not s.words], now
                )
                worded = [s for s in to if s.words]
                if worded:
                    held.append(await self._hold(r, worded))
            if len(held) != holding:
                await self.state.put(HELD_KEY, held, now)
            await self.seen.mark(((k, by_key[k].user_id, by_key[k].begin) for k in fresh), now)
            await self.seen.prune(now - KEEP_SEEN)
        if queued:
            self.wake()
        if errors:
            raise errors[0]
        return queued

    # -- subscriptions with words: a recording waits for its transcript ---------------------

    async def _held(self) -> list[dict[str, Any]]:
        held = await self.state.get(HELD_KEY)
        return held if isinstance(held, list) else []

    async def _hold(self, r: Recording, subs: Sequence[Subscription]) -> dict[str, Any]:
        """A recording that subscriptions with words want if its transcript has one: kept
        (in the job's state) until the transcript is done or failed."""
        key = recording_key(r)
        if self.captions is not None:
            await self.captions.want(r, key)
        return {
            "key": key,
            "recording": r.model_dump(mode="json", by_alias=True),
            "to": [[s.chat_id, s.thread_id] for s in subs],
        }

    async def _release(self, subs: Sequence[Subscription], now: datetime) -> int:
        """Held recordings whose transcript is known, in the order they were made up to the
        first still waiting: sent to the subscriptions whose words it contains; those whose
        transcript failed (or transcripts are off) are dropped, and counted in the log.
        Returns how many messages were queued."""
        async with self.lock:
            held = await self._held()
            if not held:
                return 0
            current = {(s.chat_id, s.thread_id): s for s in subs}
            keep: list[dict[str, Any]] = []
            queued = dropped = 0
            async with self.db.transaction():
                for item in held:
                    state, text = "pending", None
                    if not keep:  # in the order they were made: none overtakes a waiting one
                        state, text = await self._transcript(item["key"])
                    if state == "pending":
                        keep.append(item)
                        continue
                    try:
                        r = Recording.model_validate(item["recording"])
                    except ValidationError:  # written by a version that stored it otherwise
                        r = None
                    user = self.directory.snapshot.users.get(r.user_id or 0) if r else None
                    if state != "done" or r is None or user is None:
                        dropped += 1
                        continue
                    to = [current[(c, th)] for c, th in item["to"] if (c, th) in current]
                    to = [s for s in to if heard(s.words, text or "")]
                    to = [s for s in to if (a := self.audience(s)) is None or user.id in a]
                    queued += await self._enqueue(r, user, to, now)
                if len(keep) != len(held):
                    await self.state.put(HELD_KEY, keep, now)
        if dropped:
            log.info("%d recordings held for words dropped: no transcript", dropped)
        if queued:
            self.wake()
        return queued

    async def _transcript(self, key: str) -> tuple[str, str | None]:
        """The state of `key`'s transcript (`pending`, `done`, `failed`; `failed` too when
        transcripts are off or it is unknown) and its text."""
        if self.captions is None or not self.captions.enabled:
            return "failed", None
        known = await self.captions.transcript(key)
        if known is None:
            return "failed", None
        return known.state, known.text

    async def on_transcript(self, key: str, text: str) -> None:
        """The transcriber's listener: a recording held for words is sent at once, not at
        the next poll."""
        if any(item.get("key") == key for item in await self._held()):
            await self._release(await self.subscribers.of_kind("recordings"), self.clock())

    async def _enqueue(
        self, r: Recording, user: DirUser, to: Sequence[Subscription], now: datetime
    ) -> int:
        """Queue one recording for the subscriptions `to` (those that want its user); its
        transcript is wanted, to complete the captions (`TranscriptCaptions`)."""
        if not to:
            return 0
        caption = truncate_caption(recording_caption(self.t, user, r, self.tz))
        duration = round(r.duration_ms / 1000) if r.duration_ms else None
        key = None
        if self.captions is not None and self.captions.enabled:
            key = recording_key(r)
            await self.captions.want(r, key)
        payload = VoiceMessage(
            text=caption,
            voice_url=r.file_url,
            duration=duration,
            recording_key=key,
            language=self.t.lang if key else None,
        ).to_payload()
        for sub in to:
            await self.outbox.enqueue(sub.chat_id, sub.thread_id, "recordings", payload, now)
        return len(to)
