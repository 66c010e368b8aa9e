"""The narrow services handlers receive, and the `Services` bundle the composition root builds.

Handlers never see the root (`bot.app.bridge`): each names the piece it uses (`menus`,
`user_locks`, `alerts`, `background`, `clock`, `timings`, `relay`, `jobs`, a repository)
as a handler argument, and the dispatcher is given them all by `Services.handler_data()`.
Every repository is built once, by `Repositories.over`, and shared by whoever uses it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.asr.service import Transcriber
from bot.config import Settings
from bot.directory import Directory
from bot.geo.tiles import TileSource
from bot.i18n import Translator, pick_language
from bot.jobs import Jobs
from bot.metrics import Metrics
from bot.platform import PlatformClient
from bot.relay.captions import TranscriptCaptions
from bot.relay.service import Relay
from bot.telegram.commands import allowed
from bot.telegram.media import MediaFetcher
from bot.webapp.links import MapMenu
from storage.audit import AuditRepo
from storage.chats import ChatRepo
from storage.db import Database
from storage.fences import FenceRepo
from storage.files import FileRepo
from storage.follows import FollowRepo
from storage.inbox import InboxRepo
from storage.incidents import IncidentRepo
from storage.invites import InviteRepo
from storage.jobstate import JobStateRepo
from storage.known import KnownRepo
from storage.mutes import MuteRepo
from storage.notices import NoticeJobRepo
from storage.outbox import OutboxRepo
from storage.recordings_seen import SeenRecordingRepo
from storage.reports import ReportRepo
from storage.roles import Role, RoleRepo
from storage.subscriptions import SubscriptionRepo
from storage.transcript_captions import TranscriptCaptionRepo
from storage.transcript_search import TranscriptSearch
from storage.transcripts import TranscriptRepo
from storage.users import UserRepo
from storage.watches import PresenceRepo, WatchRepo

log = logging.getLogger(__name__)

ALERT_EVERY = timedelta(minutes=10)


@dataclass
class Timings:
    """Delays the bridge waits on its own; tests shorten them instead of sleeping."""

    recording_retry_s: float = 10.0


@dataclass(frozen=True)
class Clock:
    """The process's one clock, and when this bridge started by it."""

    now: Callable[[], datetime]
    started_at: datetime

    def __call__(self) -> datetime:
        return self.now()


class UserLocks:
    """One lock per Telegram user: a double-tapped Confirm runs its action once."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}

    def of(self, user_id: int) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return lock


class Background:
    """Work that outlives its update (e.g. a delayed retry): logged if it fails, cancelled
    at stop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        async def guarded() -> Any:
            try:
                return await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed")

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        """Cancel what still runs and wait for it to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def menu(role: Role, t: Callable[..., str]) -> list[BotCommand]:
    """The commands `role` sees in its menu, described in `t`'s language."""
    return [
        BotCommand(command=c.name, description=t(f"cmd-{c.name}"))
        for c in allowed(role)
        if c.in_menu
    ]


class Menus:
    """Command menus: per language for everyone, and per private chat where roles differ."""

    def __init__(
        self,
        bot: Bot,
        translator: Translator,
        users: UserRepo,
        roles: RoleRepo,
        settings: Settings,
        map_menu: MapMenu | None = None,
    ) -> None:
        self._bot, self._translator = bot, translator
        self._users, self._roles, self._settings = users, roles, settings
        self._map_menu = map_menu

    async def set_all(self) -> None:
        for lang in ("zh", "en"):
            t = self._translator.get(lang)
            await self._bot.set_my_commands(
                menu(Role.NONE, t), scope=BotCommandScopeDefault(), language_code=lang
            )
        await self._bot.set_my_commands(
            menu(Role.NONE, self._translator.get(self._settings.bridge.language)),
            scope=BotCommandScopeDefault(),
        )
        holders = {g.user_id: g.role for g in await self._roles.list()}
        for uid in self._settings.bridge.admin_ids:
            holders[uid] = Role.ADMIN
        for uid, role in holders.items():
            await self.set_user_menu(uid, role)

    async def set_user_menu(self, user_id: int, role: Role) -> None:
        """The menu in a user's private chat, in their language: the commands their role
        may use and, with the map on, the map as the menu button for supervisors and admins
        (so a role given or taken by /role shows at once, not at their next /help)."""
        chosen = await self._users.get_language(user_id)
        seen = await self._users.get(user_id)
        lang = pick_language(
            chosen, seen.language_code if seen else None, self._settings.bridge.language
        )
        try:
            await self._bot.set_my_commands(
                menu(role, self._translator.get(lang)), scope=BotCommandScopeChat(chat_id=user_id)
            )
        except TelegramAPIError as exc:
            # A user who never opened the bot has no chat yet: their menu comes later.
            log.debug("menu for %s not set: %s", user_id, exc)
            return
        if self._map_menu is not None:
            t = self._translator.get(lang)
            await self._map_menu.update(user_id, role, t.plain("map-menu"))


class AdminAlerts:
    """Tells the bridge's admins about its health, once per `ALERT_EVERY` for one matter."""

    def __init__(
        self,
        bot: Bot,
        translator: Translator,
        users: UserRepo,
        roles: RoleRepo,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self._bot, self._translator = bot, translator
        self._users, self._roles, self._settings = users, roles, settings
        self._clock = clock
        self._alerted: dict[str, datetime] = {}

    async def admin_ids(self) -> list[int]:
        """Config admins and unscoped admin grants."""
        ids = list(self._settings.bridge.admin_ids)
        ids += [
            g.user_id for g in await self._roles.list() if g.role is Role.ADMIN and g.org_id is None
        ]
        return list(dict.fromkeys(ids))

    async def alert(self, key: str, make_text: Callable[[Callable[..., str]], str]) -> None:
        """Tell admins something once per `ALERT_EVERY` for the same `key`, in their language."""
        now = self._clock()
        last = self._alerted.get(key)
        if last is not None and now - last < ALERT_EVERY:
            return
        self._alerted[key] = now
        for uid in await self.admin_ids():
            seen = await self._users.get(uid)
            lang = pick_language(
                await self._users.get_language(uid),
                seen.language_code if seen else None,
                self._settings.bridge.language,
            )
            try:
                await self._bot.send_message(uid, make_text(self._translator.get(lang)))
            except TelegramAPIError as exc:
                log.warning("could not alert admin %s: %s", uid, exc)


@dataclass(frozen=True)
class Repositories:
    """Every storage repository, each built once over the one database and shared by
    whoever uses it (field names are the handler-data keys: `users: UserRepo`)."""

    roles: RoleRepo
    users: UserRepo
    chats: ChatRepo
    invites: InviteRepo
    audit: AuditRepo
    mutes: MuteRepo
    files: FileRepo
    inbox: InboxRepo
    outbox: OutboxRepo
    incidents: IncidentRepo
    subscriptions: SubscriptionRepo
    notices: NoticeJobRepo
    known: KnownRepo
    job_state: JobStateRepo
    watches: WatchRepo
    presence: PresenceRepo
    seen_recordings: SeenRecordingRepo
    reports: ReportRepo
    follows: FollowRepo
    fences: FenceRepo
    transcripts: TranscriptRepo
    transcript_search: TranscriptSearch
    transcript_captions: TranscriptCaptionRepo

    @classmethod
    def over(cls, db: Database) -> Repositories:
        return cls(
            roles=RoleRepo(db),
            users=UserRepo(db),
            chats=ChatRepo(db),
            invites=InviteRepo(db),
            audit=AuditRepo(db),
            mutes=MuteRepo(db),
            files=FileRepo(db),
            inbox=InboxRepo(db),
            outbox=OutboxRepo(db),
            incidents=IncidentRepo(db),
            subscriptions=SubscriptionRepo(db),
            notices=NoticeJobRepo(db),
            known=KnownRepo(db),
            job_state=JobStateRepo(db),
            watches=WatchRepo(db),
            presence=PresenceRepo(db),
            seen_recordings=SeenRecordingRepo(db),
            reports=ReportRepo(db),
            follows=FollowRepo(db),
            fences=FenceRepo(db),
            transcripts=TranscriptRepo(db),
            transcript_search=TranscriptSearch(db),
            transcript_captions=TranscriptCaptionRepo(db),
        )


@dataclass(frozen=True)
class Services:
    """Every long-lived object handlers may use, each built once by the composition root.

    Field names (and the repositories' field names) are the handler-data keys: a handler
    asks for `users: UserRepo`, `relay: Relay`.
    """

    settings: Settings
    db: Database
    platform: PlatformClient
    directory: Directory
    translator: Translator
    media: MediaFetcher
    metrics: Metrics
    repos: Repositories
    relay: Relay
    jobs: Jobs
    transcriber: Transcriber
    captions: TranscriptCaptions
    menus: Menus
    map_menu: MapMenu  # the map as the private chat's menu button (issue 16)
    user_locks: UserLocks
    alerts: AdminAlerts
    background: Background
    clock: Clock
    timings: Timings
    tiles: TileSource  # /track pictures over the map's tiles (issue 16)

    def handler_data(self) -> dict[str, Any]:
        """For `Dispatcher(**services.handler_data())`: each field under its own name, and
        each repository under its own."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "repos"}
        data.update((f.name, getattr(self.repos, f.name)) for f in fields(self.repos))
        return data
