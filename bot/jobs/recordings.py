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
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from bot.directory import DirUser
from bot.jobs.common import Job
from bot.platform import PlatformError
from bot.platform.models import Recording
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
    ) -> None:
        super().__init__(ctx, outbox)
        self.seen = seen
        self.subscribers = subscribers
        self.state = job_state

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

    async def _wide(self, days: Sequence[date], now: datetime) -> list[Recording]:
        """Everyone's recordings, newest first, back to the last poll (even before a restart)
        minus the window."""
        last = await self.state.get(WIDE_KEY)
        last_at = from_db_time(last) if isinstance(last, str) else now
        since = min(last_at, now) - WIDE_WINDOW
        out: list[Recording] = []
        for day in days:
            for n in range(1, MAX_PAGES + 1):
                page = await self.platform.audio_records(day=day, page=n, size=PAGE_SIZE)
                out.extend(page.records)
                if len(page.records) < PAGE_SIZE or min(r.begin for r in page.records) < since:
                    break
        await self.state.put(WIDE_KEY, to_db_time(now), now)
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
        if not users:
            return 0
        days = self._days(now)
        errors: list[PlatformError] = []
        if len(users) > PER_USER_MAX:
            records = [r for r in await self._wide(days, now) if r.user_id in users]
            polled = set(users)
        else:
            records, polled, errors = await self._per_user(list(users.values()), days)
        by_key = {recording_key(r): r for r in records if r.user_id in users}
        fresh = await self.seen.unseen(by_key)
        new_users = polled - followed.keys()
        queued = 0
        async with self.db.transaction():
            await self.seen.follow(new_users, now)
            to_send = []
            for key in fresh:
                r = by_key[key]
                assert r.user_id is not None
                since = followed.get(r.user_id, now) - LATE_MARGIN
                if r.begin >= since:
                    to_send.append(r)
            to_send.sort(key=lambda r: r.begin)
            for r in to_send:
                assert r.user_id is not None
                to = [s for s, aud in audiences if aud is None or r.user_id in aud]
                queued += await self._enqueue(r, users[r.user_id], to, now)
            await self.seen.mark(((k, by_key[k].user_id, by_key[k].begin) for k in fresh), now)
            await self.seen.prune(now - KEEP_SEEN)
        if queued:
            self.wake()
        if errors:
            raise errors[0]
        return queued

    async def _enqueue(
        self, r: Recording, user: DirUser, to: Sequence[Subscription], now: datetime
    ) -> int:
        """Queue one recording for the subscriptions `to` (those that want its user)."""
        caption = truncate_caption(recording_caption(self.t, user, r, self.tz))
        duration = round(r.duration_ms / 1000) if r.duration_ms else None
        payload = VoiceMessage(text=caption, voice_url=r.file_url, duration=duration).to_payload()
        for sub in to:
            await self.outbox.enqueue(sub.chat_id, sub.thread_id, "recordings", payload, now)
        return len(to)
