"""What relayed events look like in a chat: incidents, changes, notices, mute summaries.

Renderers take plain data and a translator and return the outbox payload (a
JSON-able dict) or text; the delivery worker turns payloads into Bot API calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

from bot.i18n import Translate
from bot.platform.models import Notice
from bot.relay.events import IncidentReport
from bot.text import esc, esc_attr, truncate_caption

PHOTO_EXT = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}
AUDIO_EXT = {".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".amr", ".wav"}


def attachment_kind(url: str) -> str:
    """photo, audio or link, by the file extension of the URL's path."""
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    ext = path[dot:] if dot >= 0 else ""
    if ext in PHOTO_EXT:
        return "photo"
    if ext in AUDIO_EXT:
        return "audio"
    return "link"


def _name(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1] or url


def incident_text(
    t: Translate,
    report: IncidentReport,
    tz: tzinfo,
    received: datetime,
    ack: tuple[str, datetime] | None = None,
) -> str:
    head = t("inc-title", code=report.code)
    meta: list[str] = []
    if report.type:
        meta.append(esc(report.type))
    if report.level:
        meta.append(t("inc-level", level=report.level))
    lines = [f"🚨 <b>{head}</b>" + "".join(" · " + m for m in meta)]
    if report.topic:
        lines.append(f"<b>{esc(report.topic)}</b>")
    if report.content:
        lines.append(esc(report.content))
    who = report.sender.name or report.sender.account
    if who:
        account = (
            f" ({report.sender.account})" if report.sender.account and report.sender.name else ""
        )
        lines.append(t("inc-from", name=who + account))
    if report.to.name:
        lines.append(t("inc-to", name=report.to.name))
    if report.address:
        lines.append(t("inc-address", address=report.address))
    links = [u for u in report.urls if attachment_kind(u) == "link"]
    for u in links:
        lines.append(f'📎 <a href="{esc_attr(u)}">{esc(_name(u))}</a>')
    media = len(report.urls) - len(links)
    if media:
        lines.append(t("inc-media", count=media))
    lines.append(t("inc-received", time=received.astimezone(tz).strftime("%m-%d %H:%M")))
    if ack is not None:
        name, at = ack
        lines.append(t("inc-acked", name=name, time=at.astimezone(tz).strftime("%H:%M")))
    return "\n".join(lines)


def incident_payload(
    t: Translate, report: IncidentReport, tz: tzinfo, received: datetime, incident_id: int
) -> dict[str, Any]:
    return {
        "text": incident_text(t, report, tz, received),
        "ack": incident_id,
        "ack_label": t.plain("btn-ack"),
        "attachments": [
            {"url": u, "kind": attachment_kind(u), "name": _name(u)}
            for u in report.urls
            if attachment_kind(u) != "link"
        ],
        "caption": truncate_caption(t("inc-attachment-caption", code=report.code), 200),
    }


def notice_text(t: Translate, notice: Notice) -> str:
    lines = [f"📢 <b>{esc(notice.title)}</b>", esc(notice.content)]
    for a in notice.accessory:
        lines.append(f'📎 <a href="{esc_attr(a.url)}">{esc(a.name)}</a>')
    lines.append(t("notice-from", name=notice.sender.name))
    return "\n".join(lines)


def change_text(t: Translate, kind: str, title: str, lines: Sequence[str]) -> str:
    icon = "🏢" if kind.startswith("org") else "👤"
    return "\n".join([f"{icon} <b>{title}</b>", *lines])


def diff_lines(t: Translate, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Field-by-field changes: name 张三 → 张叁; groups + 消防一组 − 巡逻组; online; role."""
    out: list[str] = []
    for field in ("name", "account", "org", "role", "priority", "users", "address"):
        old, new = before.get(field), after.get(field)
        if old != new and (old is not None or new is not None):
            out.append(
                t(
                    "chg-field",
                    field=t.plain(f"chg-{field}"),
                    old=str(old if old is not None else "—"),
                    new=str(new if new is not None else "—"),
                )
            )
    old_groups, new_groups = set(before.get("groups") or []), set(after.get("groups") or [])
    if old_groups != new_groups:
        parts = [f"+ {esc(g)}" for g in sorted(new_groups - old_groups)]
        parts += [f"− {esc(g)}" for g in sorted(old_groups - new_groups)]
        out.append(t.plain("chg-groups") + ": " + " ".join(parts))
    if "online" in after and before.get("online") != after.get("online"):
        out.append(t("chg-online-now") if after.get("online") else t("chg-offline-now"))
    return out


def mute_summary(t: Translate, kinds: Sequence[str], lines: Sequence[str]) -> str:
    counts = Counter(kinds)
    head: list[str] = [t("mute-summary-title", count=len(kinds))]
    for kind, n in sorted(counts.items()):
        head.append(f"• {t.plain('kind-' + kind)}: {n}")
    if lines:
        head.append("")
        head.extend(lines)
    return "\n".join(head)
