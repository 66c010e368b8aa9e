"""/status (admin): the bridge's health at a glance."""

from __future__ import annotations

from datetime import datetime

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.app.services import Clock
from bot.asr.service import Transcriber
from bot.directory import Directory
from bot.platform import PlatformClient, PlatformError
from bot.render.replies import Reply, T
from handlers.filters import MinRole
from handlers.reply import answer
from storage.inbox import InboxRepo
from storage.notices import NoticeJobRepo
from storage.outbox import OutboxRepo
from storage.roles import Role


def _ago(t: T, lang: str, when: datetime | None, now: datetime) -> str:
    from bot.geo.measure import age_text

    return age_text(now - when, lang) if when is not None else t.plain("status-never")


async def status(
    message: Message,
    t: T,
    lang: str,
    platform: PlatformClient,
    directory: Directory,
    outbox: OutboxRepo,
    notices: NoticeJobRepo,
    inbox: InboxRepo,
    clock: Clock,
    transcriber: Transcriber,
) -> None:
    now = clock()
    lines: list[str] = [t("status-title")]
    try:
        await platform.user_info(0)
        lines.append(t("status-platform-ok"))
    except PlatformError as exc:
        if exc.code == 501:
            lines.append(t("status-platform-token", detail=exc.explain(lang)))
        else:
            lines.append(t("status-platform-down", detail=exc.explain(lang)))
    snap = directory.snapshot
    lines.append(
        t(
            "status-directory",
            users=len(snap.users),
            groups=len(snap.groups),
            orgs=len(snap.orgs),
            age=_ago(t, lang, snap.loaded_at, now),
        )
    )
    if directory.last_error:
        lines.append(t("status-directory-error", detail=directory.last_error[:200]))
    counts = await outbox.counts()
    lines.append(
        t(
            "status-outbox",
            pending=counts["pending"] + counts["sending"],
            sent=counts["sent"],
            dead=counts["dead"],
        )
    )
    notice_counts = await notices.counts()
    if notice_counts.get("dead"):
        lines.append(t("status-notices-dead", count=notice_counts["dead"]))
    last = await inbox.last_received_at()
    lines.append(t("status-last-event", age=_ago(t, lang, last, now)))
    if transcriber.enabled:
        q = await transcriber.health()
        lines.append(
            t(
                "status-transcripts",
                pending=q.pending,
                failed=q.failed_24h,
                age=_ago(t, lang, q.oldest_pending, now),
            )
        )
        if q.last_error is not None:
            age = _ago(t, lang, q.last_error_at, now)
            lines.append(t("status-transcripts-error", detail=q.last_error, age=age))
    lines.append(t("status-uptime", age=_ago(t, lang, clock.started_at, now)))
    await answer(message, Reply("\n".join(lines)))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.filter(MinRole(Role.ADMIN))
    r.message.register(status, Command("status"))
    return r
