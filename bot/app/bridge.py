"""The composition root: builds every long-lived object once and owns start and stop.

Start order: storage -> platform client -> bot, dispatcher, relay, jobs -> HTTP listener
-> the first directory load -> relay, delivery, scheduler -> polling or webhook. Stop is
the reverse. The listener opens before the directory loads (~3 s for 50,000 users):
/healthz answers at once, /readyz says the directory is "loading"; every route that needs
the directory (platform callbacks, the webhook, the map's API) waits for that first load
(or its failure) before it is handled, so nothing is fanned out, answered or scoped
against an empty directory, and nothing is acknowledged before it is stored.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiohttp import web
from aiohttp.typedefs import Middleware
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.access import Callers
from bot.app.services import (
    AdminAlerts,
    Background,
    Clock,
    Menus,
    Repositories,
    Services,
    Timings,
    UserLocks,
)
from bot.asr import AsrClient, Transcriber
from bot.attendance.reports import AttendanceReports
from bot.config import Settings
from bot.directory import Directory
from bot.geo.tiles import TileSource
from bot.i18n import Translator
from bot.jobs import Jobs
from bot.jobs.directory_diff import DirectoryDiff
from bot.jobs.fences import FenceWatcher
from bot.jobs.follows import FollowUpdater
from bot.jobs.health import PlatformHealth
from bot.jobs.positions import PositionPoll
from bot.jobs.presence import PresenceWatch
from bot.jobs.recordings import RecordingFeed
from bot.jobs.transcribe_ahead import TranscribeAhead
from bot.metrics import Metrics
from bot.platform import PlatformClient, PlatformError
from bot.platform.errors import PlatformAuthError, PlatformTransportError
from bot.relay.acks import Acknowledgements
from bot.relay.captions import TranscriptCaptions
from bot.relay.context import Context
from bot.relay.delivery import Delivery
from bot.relay.feed import ChangeFeed
from bot.relay.ingest import IncidentIngest
from bot.relay.listener import (
    FD_RESERVE,
    ConnectionGate,
    GatedSite,
    HttpLimits,
    add_routes,
    bearer_matches,
    envelope,
    last_line,
    no_versions,
    raise_open_files_limit,
)
from bot.relay.notices import NoticeSender
from bot.relay.service import Relay
from bot.relay.subscribers import SubscriberIndex
from bot.telegram.conflict import ConflictGuard
from bot.telegram.flood import FloodControl
from bot.telegram.media import MediaFetcher
from bot.telegram.session import make_session
from bot.telegram.webhook import WebhookHandler
from bot.webapp.api import WebAppApi
from bot.webapp.links import MapLinks, MapMenu
from handlers import get_routers
from handlers.middlewares import ContextMiddleware
from handlers.throttle import CommandThrottle
from storage.db import Database, StorageReadOnlyError
from storage.files import attachment_headers
from storage.fsm import SQLiteStorage
from storage.retention import KEEP, Retention
from storage.roles import Role

if TYPE_CHECKING:
    from aiogram.client.session.aiohttp import AiohttpSession

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
READY_EVERY_S = 10.0
"""/readyz asks the platform at most this often, however often it is asked."""
ANSWERED_WHILE_LOADING = ("/healthz", "/readyz", "/metrics", "/files/")
"""Routes that need nothing of the directory: answered while its first load runs."""


def settle_heap() -> None:
    """Move what start-up built (aiogram's and pydantic's types, the directory) out of the
    garbage collector's sight: it lives as long as the process, and a full collection
    walking it stalls the loop for ~200 ms — every callback waits that long for its
    acknowledgement. Reference counting still frees any of it that is dropped."""
    gc.collect()
    gc.freeze()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def held_until(settled: asyncio.Event, abandoned: Callable[[], bool]) -> Middleware:
    """A middleware holding a request that needs the directory until `settled` (its first
    load finished or failed); the routes of `ANSWERED_WHILE_LOADING` pass at once. When
    the start was abandoned instead (a stop while loading), a held request, and any after
    it, is answered 503, nothing stored, so the platform (or Telegram) sends it again."""

    @web.middleware
    async def hold(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ANSWERED_WHILE_LOADING):
            return await handler(request)
        if not settled.is_set():
            await settled.wait()
        if abandoned():
            if request.path.startswith("/platform/"):
                return envelope(503, 500, "stopping, retry later")
            return web.Response(status=503, text="stopping, retry later")
        return await handler(request)

    return hold


class Bridge:
    """Every long-lived object of the process, built once, started and stopped in order."""

    def __init__(
        self,
        settings: Settings,
        *,
        session: AiohttpSession | None = None,
        clock: Callable[[], datetime] | None = None,
        http_limits: HttpLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.http_limits = http_limits or HttpLimits()
        self._monotonic = monotonic  # for /readyz's cache
        self._ready_platform: tuple[float, str] | None = None
        self._ready_lock = asyncio.Lock()
        self.gate: ConnectionGate | None = None
        self.clock = clock or (lambda: datetime.now(UTC))
        self._session = session
        self.stopped = asyncio.Event()
        self.exit_code = 0
        self.exit_reason = ""
        self._polling: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.db: Database | None = None
        self.client: PlatformClient | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.http_port: int | None = None
        self.timings = Timings()
        self.background = Background()
        self.media: MediaFetcher | None = None
        self.asr: AsrClient | None = None
        self.transcriber: Transcriber | None = None
        self.directory_settled = asyncio.Event()
        """Set when the first directory load has finished or failed."""
        self._start_abandoned = False

    # -- build -------------------------------------------------------------------------

    async def start(self, *, serve_updates: bool = True) -> None:
        s = self.settings
        self.db = db = await Database.open(s.bridge.db_path)
        self.repos = repos = Repositories.over(db)
        # Shortcuts to the repositories the root itself uses (and tests look at).
        self.roles, self.users, self.chats = repos.roles, repos.users, repos.chats
        self.invites, self.audit = repos.invites, repos.audit
        self.mutes, self.files = repos.mutes, repos.files
        self.metrics = Metrics()
        self.client = client = PlatformClient(
            s.platform, s.bridge.tz, observer=self.metrics.observe_platform
        )
        # Empty until its first load, which runs once the listener is open (see the module).
        self.directory = directory = Directory(client, clock=self.clock)
        self.translator = Translator.load(s.bridge.language)
        self.media = MediaFetcher(s.platform.timeout_s)
        self.transcriber = self._make_transcriber()
        self.bot = self._make_bot()
        map_menu = MapMenu(self.bot, MapLinks.of(s.bridge))
        self.menus = Menus(self.bot, self.translator, self.users, self.roles, s, map_menu)
        self.alerts = AdminAlerts(self.bot, self.translator, self.users, self.roles, s, self.clock)
        t = self.translator.get(s.bridge.language)  # what the bridge posts on its own
        self.delivery = Delivery(
            self.bot,
            self.media,
            self.metrics,
            t,
            self.clock,
            outbox=repos.outbox,
            incidents=repos.incidents,
            mutes=repos.mutes,
            chats=repos.chats,
            on_chat_gone=self._chat_gone,
        )
        ctx = Context(db, client, directory, t, s.bridge.tz, self.clock, self.delivery.wake)
        self.captions = self._make_captions()
        self.relay, subscribers = self._make_relay(ctx)
        self.jobs = self._make_jobs(ctx, subscribers)
        self.services = Services(
            settings=s,
            db=db,
            platform=client,
            directory=directory,
            translator=self.translator,
            media=self.media,
            metrics=self.metrics,
            repos=repos,
            relay=self.relay,
            jobs=self.jobs,
            transcriber=self.transcriber,
            captions=self.captions,
            menus=self.menus,
            map_menu=map_menu,
            user_locks=UserLocks(),
            alerts=self.alerts,
            background=self.background,
            clock=Clock(self.clock, started_at=self.clock()),
            timings=self.timings,
            # The platform client's httpx client: one for the process.
            tiles=TileSource.from_settings(s.bridge, client.http),
        )
        self.started_at = self.services.clock.started_at
        # Handlers receive the narrow services by name, never the bridge itself.
        self.dp = dp = Dispatcher(storage=SQLiteStorage(db), **self.services.handler_data())
        dp.update.outer_middleware(
            ContextMiddleware(
                admin_ids=frozenset(s.bridge.admin_ids),
                default_lang=s.bridge.language,
                roles=self.roles,
                users=self.users,
                chats=self.chats,
                directory=directory,
                translator=self.translator,
            )
        )
        self.throttle = CommandThrottle().install(dp)  # after ContextMiddleware: reads `caller`
        dp.include_routers(*get_routers())
        await self._start_http()
        try:
            if not await directory.refresh():
                log.warning("starting without a directory; the next refresh will try again")
        except BaseException:  # cancelled (a stop while loading): held requests get 503
            self._start_abandoned = True
            raise
        finally:
            self.directory_settled.set()
        settle_heap()
        await self.relay.start(self.spawn)  # before the delivery worker: see Relay.start
        self.spawn(self.delivery.run())
        self.scheduler = AsyncIOScheduler(timezone=s.bridge.tz)
        self.scheduler.start()
        # Every scheduled job (directory refresh included), rebuilt from storage.
        await self.jobs.start(self.scheduler)
        self.spawn(self.jobs.catch_up())
        await self.transcriber.start()  # takes up what a stop left pending
        if serve_updates:
            await self.menus.set_all()
            await self._start_updates()

    def _make_bot(self) -> Bot:
        """The one `Bot`, its session behind the conflict guard and the flood limiter."""
        s = self.settings
        assert s.telegram.bot_token is not None
        self.flood = FloodControl(
            s.bridge.rate_global,
            s.bridge.rate_per_chat,
            s.bridge.rate_per_group_min,
            on_event=self._flood_event,
        )
        session = self._session or make_session(s)
        session.middleware(ConflictGuard(self._conflict))
        session.middleware(self.flood)
        return Bot(
            s.telegram.bot_token.get_secret_value(),
            session=session,
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )

    def _make_transcriber(self) -> Transcriber:
        """The transcription queue; with no BRIDGE_ASR_URL, disabled (no client)."""
        b = self.settings.bridge
        if b.asr_url is not None:
            self.asr = AsrClient(
                b.asr_url,
                model=b.asr_model,
                token=b.asr_token,
                language=b.asr_language,
                timeout_s=Transcriber.REQUEST_TIMEOUT_S,
            )
        assert self.media is not None
        return Transcriber(
            self.repos.transcripts,
            self.asr,
            self.media,
            clock=self.clock,
            concurrency=b.asr_concurrency,
            metrics=self.metrics,
        )

    def _make_captions(self) -> TranscriptCaptions:
        """Transcripts in recordings' captions: the sender asks it before a voice message
        goes out, the transcriber tells it when a transcript is stored."""
        assert self.db is not None and self.transcriber is not None
        captions = TranscriptCaptions(
            self.db,
            waiting=self.repos.transcript_captions,
            transcripts=self.repos.transcripts,
            outbox=self.repos.outbox,
            source=self.transcriber,
            translator=self.translator,
            clock=self.clock,
            wake=self.delivery.wake,
        )
        self.transcriber.add_listener(captions.on_transcript)
        self.delivery.sender.captions = captions
        return captions

    def _make_recording_feed(self, ctx: Context, subscribers: SubscriberIndex) -> RecordingFeed:
        """The recordings watch, which transcribes ahead as it polls, and sends a recording
        held for a subscription's words when its transcript comes."""
        repos = self.repos
        feed = RecordingFeed(
            ctx, repos.outbox, subscribers, repos.seen_recordings, repos.job_state, self.captions
        )
        feed.ahead = TranscribeAhead(feed, repos.follows, repos.watches, self.captions)
        assert self.transcriber is not None
        self.transcriber.add_listener(feed.on_transcript)
        return feed

    def _make_relay(self, ctx: Context) -> tuple[Relay, SubscriberIndex]:
        """The relay's parts, each given the shared repositories it uses; and who is
        subscribed to what, which the jobs ask too."""
        repos = self.repos
        subscribers = SubscriberIndex(repos.subscriptions, ctx.directory)
        notices = NoticeSender(ctx, repos.inbox, repos.notices, repos.outbox, subscribers)
        changes = ChangeFeed(
            ctx, repos.inbox, repos.outbox, repos.known, repos.job_state, subscribers, notices
        )
        relay = Relay(
            ingest=IncidentIngest(ctx, subscribers),
            changes=changes,
            notices=notices,
            acks=Acknowledgements(ctx, repos.incidents, repos.outbox),
        )
        return relay, subscribers

    def _make_jobs(self, ctx: Context, subscribers: SubscriberIndex) -> Jobs:
        """The scheduled jobs, each given the shared repositories it uses."""
        repos = self.repos
        outbox, job_state = repos.outbox, repos.job_state
        return Jobs(
            ctx,
            self.settings,
            self.metrics,
            presence=PresenceWatch(ctx, outbox, repos.watches, repos.presence),
            recordings=self._make_recording_feed(ctx, subscribers),
            health=PlatformHealth(ctx.platform, job_state, self.alerts.alert),
            directory_diff=DirectoryDiff(ctx, outbox, repos.known, job_state, subscribers),
            reports=AttendanceReports(ctx, outbox, repos.reports),
            retention=Retention(
                ctx.db,
                repos.files,
                replace(KEEP, recordings=timedelta(days=self.settings.bridge.recordings_keep_days)),
            ),
            positions=PositionPoll(
                ctx,
                FollowUpdater(ctx, self.bot, repos.follows),
                FenceWatcher(ctx, repos.outbox, repos.fences),
            ),
        )

    async def _start_http(self) -> None:
        s, limits = self.settings, self.http_limits
        app = web.Application(
            client_max_size=1024 * 1024,
            middlewares=[
                last_line,
                held_until(self.directory_settled, lambda: self._start_abandoned),
            ],
        )
        app.on_response_prepare.append(no_versions)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/files/{token}/{name}", self._file)
        assert s.platform.callback_token is not None
        add_routes(
            app,
            self.relay,
            s.platform.callback_token.get_secret_value(),
            self.metrics,
            body_timeout_s=limits.body_timeout_s,
        )
        assert self.media is not None and self.client is not None
        WebAppApi(
            settings=s.bridge,
            bot_token=self.bot.token,
            callers=Callers(
                self.roles,
                self.users,
                frozenset(s.bridge.admin_ids),
                self.directory.subtree,
                s.bridge.language,
            ),
            directory=self.directory,
            platform=self.client,
            media=self.media,
            audit=self.audit,
            fences=self.repos.fences,
            clock=self.clock,
        ).register(app)
        if s.telegram.mode == "webhook":
            secret = s.telegram.webhook_secret
            if secret is None:
                log.error("webhook mode without TELEGRAM_WEBHOOK_SECRET: every update is refused")
            WebhookHandler(
                self.dp,
                self.bot,
                secret.get_secret_value() if secret else None,
                limits.body_timeout_s,
            ).register(app, path=WEBHOOK_PATH)
        self.web_app = app
        # Idle keep-alive connections close after `idle_timeout_s` (aiohttp's default is an
        # hour); bodies are read as sent, not decompressed.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=limits.idle_timeout_s,
            lingering_time=min(limits.idle_timeout_s, 10.0),
            auto_decompress=False,
        )
        await self._runner.setup()
        assert self._runner.server is not None
        descriptors = raise_open_files_limit()
        most = max(1, min(limits.max_connections, descriptors - FD_RESERVE))
        self.gate = ConnectionGate(self._runner.server, limits, most, self.metrics)
        site = GatedSite(self._runner, s.bridge.http_host, s.bridge.http_port, self.gate)
        await site.start()
        self.http_port = site.port
        self.dp["http_port"] = site.port  # where /broadcast's uploads are served
        log.info(
            "listening on http://%s:%s (at most %d connections; open files limit %d)",
            s.bridge.http_host,
            self.http_port,
            most,
            descriptors,
        )

    async def _start_updates(self) -> None:
        s = self.settings
        used = self.dp.resolve_used_update_types()
        if s.telegram.mode == "webhook":
            assert s.telegram.webhook_url is not None
            secret = s.telegram.webhook_secret
            url = s.telegram.webhook_url.rstrip("/")
            if not url.endswith(WEBHOOK_PATH):
                url += WEBHOOK_PATH
            await self.bot.set_webhook(
                url,
                secret_token=secret.get_secret_value() if secret else None,
                allowed_updates=used,
                drop_pending_updates=False,
            )
            log.info("webhook set")
            return
        # A webhook left from an earlier run would make getUpdates answer 409.
        # Pending updates are kept: a command sent during a restart is still answered.
        await self.bot.delete_webhook(drop_pending_updates=False)
        self._polling = asyncio.create_task(
            self.dp.start_polling(
                self.bot, handle_signals=False, close_bot_session=False, allowed_updates=used
            )
        )
        self._polling.add_done_callback(self._polling_done)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run work that outlives its update (the delivery worker, ...); cancelled at stop."""
        return self.background.spawn(coro)

    def _polling_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.fail(1, f"polling stopped: {task.exception()}")

    def _flood_event(self, kind: str) -> None:
        if kind != "sent":  # sends are counted by the delivery worker
            self.metrics.message(kind)

    async def _chat_gone(self, chat_id: int, reason: str) -> None:
        """A chat blocked the bot or vanished: pause its subscriptions, tell admins."""
        if await self.chats.get(chat_id) is None:
            await self.chats.upsert(chat_id, "unknown", None)  # so it can be marked paused
        await self.chats.set_paused(chat_id, True, reason)
        chat = await self.chats.get(chat_id)
        title = (chat.title if chat else None) or str(chat_id)
        await self.alerts.alert(
            f"chat-gone:{chat_id}",
            lambda t: t("alert-chat-gone", chat=title, id=chat_id, reason=reason),
        )

    async def _file(self, request: web.Request) -> web.Response:
        """A broadcast attachment, for the platform's terminals (unguessable token): always
        a download (`attachment`, `nosniff`), typed from a short safe list by its content."""
        found = await self.files.get(request.match_info["token"])
        if found is None:
            raise web.HTTPNotFound()
        name, _mime, data = found
        return web.Response(body=data, headers=attachment_headers(name, data))

    async def _metrics(self, request: web.Request) -> web.Response:
        token = self.settings.bridge.metrics_token
        if token is not None and not bearer_matches(
            request.headers.get("Authorization"), token.get_secret_value()
        ):
            return web.Response(
                text="Unauthorized", status=401, headers={"WWW-Authenticate": "Bearer"}
            )
        counts = await self.repos.outbox.counts()
        for state, n in counts.items():
            self.metrics.outbox_depth.labels(state).set(n)
        self.metrics.dead_letters.set(counts.get("dead", 0))
        return web.Response(body=self.metrics.render(), content_type="text/plain")

    def _conflict(self, message: str) -> None:
        self.fail(
            1,
            "another instance is polling this bot token (409 Conflict from Telegram); "
            "stopping instead of fighting it. Stop the other one, or use TELEGRAM_MODE=webhook.",
        )

    def fail(self, code: int, reason: str) -> None:
        if not self.stopped.is_set():
            self.exit_code, self.exit_reason = code, reason
            log.error("%s", reason)
            self.stopped.set()

    async def set_user_menu(self, user_id: int, role: Role) -> None:
        """The menu in a user's private chat, in their language."""
        await self.menus.set_user_menu(user_id, role)

    # -- HTTP ----------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        """Status words only (no error text): `db` ok | read-only | failed (a real write,
        committed); `platform` ok | unreachable | refused | failed, asked at most every
        `READY_EVERY_S`; `directory` loading (its first load runs: not ready) | loaded |
        not loaded (the first load failed: ready as before, the next refresh tries again)."""
        assert self.db is not None
        try:
            await self.db.check_writable()
            db = "ok"
        except StorageReadOnlyError:
            db = "read-only"
        except Exception as exc:  # a word, whatever it was; the log has the rest
            log.warning("readiness: the database failed its write: %s", exc)
            db = "failed"
        platform = await self._platform_ready()
        if not self.directory_settled.is_set():
            directory = "loading"
        else:
            directory = "loaded" if self.directory.loaded else "not loaded"
        ok = db == "ok" and platform == "ok" and directory != "loading"
        checks = {"db": db, "platform": platform, "directory": directory}
        return web.json_response(
            {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
        )

    async def _platform_ready(self) -> str:
        """The platform's state word, from one call per `READY_EVERY_S` at most (callers
        that arrive while it runs wait for its answer)."""
        async with self._ready_lock:
            cached = self._ready_platform
            if cached is not None and self._monotonic() - cached[0] < READY_EVERY_S:
                return cached[1]
            assert self.client is not None
            try:
                await self.client.user_info(0)
                word = "ok"
            except PlatformTransportError:
                word = "unreachable"
            except PlatformAuthError:
                word = "refused"
            except PlatformError:
                word = "failed"
            except Exception as exc:  # still a word; the log has the rest
                log.warning("readiness: the platform check failed: %r", exc)
                word = "failed"
            self._ready_platform = (self._monotonic(), word)
            return word

    # -- stop ----------------------------------------------------------------------------

    async def stop(self) -> None:
        if self._polling is not None:
            try:
                await self.dp.stop_polling()
            except RuntimeError as exc:  # it had stopped already (a conflict, an error)
                log.debug("polling was not running at stop: %s", exc)
            try:
                await asyncio.wait_for(self._polling, timeout=10)
            except asyncio.CancelledError:
                log.debug("polling was cancelled")
            except TimeoutError:
                log.warning("polling did not stop within 10 s; stopping the rest anyway")
            except Exception as exc:  # already told by _polling_done; the stop goes on
                log.warning("polling ended with %r", exc)
        if getattr(self, "jobs", None) is not None:
            await self.jobs.stop()
        if getattr(self, "delivery", None) is not None:
            await self.delivery.stop()
        if self.transcriber is not None:
            await self.transcriber.stop()
        await self.background.stop()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._runner is not None:
            await self._runner.cleanup()
        if getattr(self, "bot", None) is not None:
            await self.bot.session.close()
        if self.client is not None:
            await self.client.aclose()
        if self.media is not None:
            await self.media.aclose()
        if self.asr is not None:
            await self.asr.aclose()
        if getattr(self, "dp", None) is not None:
            await self.dp.storage.close()
        if self.db is not None:
            await self.db.close()
