"""What relayed events look like in a chat: incidents, changes, notices, mute summaries.

Renderers take plain data and a translator and return an outbox message
(`bot.relay.messages`) or text; the delivery worker turns messages into Bot API calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from urllib.parse import urlsplit

from bot.i18n import Translate
from bot.platform.models import Notice
from bot.relay.events import IncidentReport
from bot.relay.messages import Attachment, IncidentMessage
from bot.render.text import (
    MESSAGE_LIMIT,
    RAW_LIMIT,
    Html,
    esc_attr,
    is_web_url,
    shorten,
    split_html,
    truncate_caption,
    visible_len,
)

PHOTO_EXT = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}
AUDIO_EXT = {".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".amr", ".wav"}

# How much of each platform field is shown (UTF-16 units, as Telegram counts); a longer
# field is cut and says how many characters were left out. A field passed to the
# translator stays under Fluent's 2,500 characters per argument even escaped (× 5 for
# "&amp;"): past that, Fluent prints "{???}" instead of it.
SHORT_LIMIT: Final = 100  # type, level, a name, an account
TOPIC_LIMIT: Final = 300
PLACE_LIMIT: Final = 200  # an org or group named as a target
ADDRESS_LIMIT: Final = 400
LINK_NAME_LIMIT: Final = 200
URL_TEXT_LIMIT: Final = 300  # a URL shown as text (not http(s), or too long to link)
CONTENT_LIMIT: Final = 12_000  # about three messages
CHANGE_LIMIT: Final = 300  # a value in a change line
#: Attachments sent as files (one album); those beyond are listed as links.
MAX_FILES: Final = 10
#: Notice attachments listed; beyond, a count.
MAX_NOTICE_LINKS: Final = 100


def attachment_kind(url: str) -> str:
    """photo, audio or link, by the file extension of the URL's path; only an http(s)
    URL is ever fetched."""
    if not is_web_url(url):
        return "link"
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    ext = path[dot:] if dot >= 0 else ""
    if ext in PHOTO_EXT:
        return "photo"
    if ext in AUDIO_EXT:
        return "audio"
    return "link"


def _name(url: str) -> str:
    try:
        return urlsplit(url).path.rsplit("/", 1)[-1] or url
    except ValueError:
        return url


def clip(t: Translate, value: object, limit: int = SHORT_LIMIT) -> Html:
    """A platform string escaped and, past `limit`, cut with "… (N more characters)"."""
    return shorten("" if value is None else str(value), limit, lambda n: t("text-more", count=n))


def link(t: Translate, url: str, name: str | None = None) -> Html:
    """A platform URL as HTML, the one way every renderer shows one: an http(s) URL is a
    link (named `name`, else its file name); anything else (`javascript:`, `data:`,
    `tg:`, ...) is plain text, never a link."""
    if is_web_url(url):
        return Html(f'<a href="{esc_attr(url)}">{clip(t, name or _name(url), LINK_NAME_LIMIT)}</a>')
    shown = clip(t, url, URL_TEXT_LIMIT)
    return Html(f"{clip(t, name, LINK_NAME_LIMIT)} ({shown})") if name else shown


def _ack_line(t: Translate, ack: tuple[str, datetime], tz: tzinfo) -> str:
    name, at = ack
    return t("inc-acked", name=clip(t, name, 64), time=at.astimezone(tz).strftime("%H:%M"))


# The longest acknowledgement line: its name shortened, a five-digit count of the rest.
_LONGEST_ACK = ("&" * 10_000, datetime(2000, 1, 1, 23, 59, tzinfo=UTC))


def _ack_room(t: Translate, tz: tzinfo) -> int:
    """Room the acknowledgement line may take (a line break and the longest name)."""
    return 1 + visible_len(_ack_line(t, _LONGEST_ACK, tz))


def incident_messages(
    t: Translate,
    report: IncidentReport,
    tz: tzinfo,
    received: datetime,
    ack: tuple[str, datetime] | None = None,
) -> list[str]:
    """An incident as messages, each under Telegram's limit: the first (the header, which
    carries the Acknowledge button) always says what, where, who and when; the content
    and the links follow when they do not fit in it. The cuts do not depend on `ack`:
    an acknowledgement edits the header only and leaves room for its line."""
    head = t("inc-title", code=report.code)
    meta: list[str] = []
    if report.type:
        meta.append(clip(t, report.type))
    if report.level:
        meta.append(t("inc-level", level=clip(t, report.level)))
    title = f"🚨 <b>{head}</b>" + "".join(" · " + m for m in meta)
    topic = f"<b>{clip(t, report.topic, TOPIC_LIMIT)}</b>" if report.topic else None
    content = clip(t, report.content, CONTENT_LIMIT) if report.content else None
    who: list[str] = []
    name = report.sender.name or report.sender.account
    if name:
        shown = clip(t, name)
        if report.sender.account and report.sender.name:
            shown = Html(f"{shown} ({clip(t, report.sender.account)})")
        who.append(t("inc-from", name=shown))
    if report.to.name:
        who.append(t("inc-to", name=clip(t, report.to.name, PLACE_LIMIT)))
    if report.address:
        who.append(t("inc-address", address=clip(t, report.address, ADDRESS_LIMIT)))
    kinds = [attachment_kind(u) for u in report.urls]
    files = [u for u, kind in zip(report.urls, kinds, strict=True) if kind != "link"]
    files, over = files[:MAX_FILES], files[MAX_FILES:]
    links = [
        f"📎 {link(t, u)}" for u, kind in zip(report.urls, kinds, strict=True) if kind == "link"
    ]
    if over:
        links.append(t("inc-more-attachments", count=len(over)))
        links += [f"📎 {link(t, u)}" for u in over]
    media = [t("inc-media", count=len(files))] if files else []
    when = t("inc-received", time=received.astimezone(tz).strftime("%m-%d %H:%M"))
    acked = [_ack_line(t, ack, tz)] if ack is not None else []
    room = _ack_room(t, tz)

    room_raw = 1 + len(_ack_line(t, _LONGEST_ACK, tz))

    whole = "\n".join([title, *filter(None, [topic, content]), *who, *links, *media, when])
    if visible_len(whole) + room <= MESSAGE_LIMIT and len(whole) + room_raw <= RAW_LIMIT:
        return ["\n".join([whole, *acked])]
    header = "\n".join([title, *filter(None, [topic]), *who, *media, when])
    body = "\n".join([*filter(None, [content]), *links])
    parts = split_html(
        body,
        first=MESSAGE_LIMIT - room - visible_len(header) - 1,
        first_raw=RAW_LIMIT - room_raw - len(header) - 1,
    )
    return ["\n".join([header, *acked, *parts[:1]]), *parts[1:]]


def incident_text(
    t: Translate,
    report: IncidentReport,
    tz: tzinfo,
    received: datetime,
    ack: tuple[str, datetime] | None = None,
) -> str:
    """The incident's header message (what an acknowledgement edits)."""
    return incident_messages(t, report, tz, received, ack)[0]


def incident_message(
    t: Translate, report: IncidentReport, tz: tzinfo, received: datetime
) -> IncidentMessage:
    """An incident's outbox message: the header `text` (the row's incident gets the
    Acknowledge button), the messages that follow it (`more`), and up to `MAX_FILES`
    attachments to send as files."""
    text, *more = incident_messages(t, report, tz, received)
    files = [u for u in report.urls if attachment_kind(u) != "link"][:MAX_FILES]
    return IncidentMessage(
        text=text,
        more=more,
        ack_label=t.plain("btn-ack"),
        attachments=[Attachment(url=u, kind=attachment_kind(u), name=_name(u)) for u in files],
        caption=truncate_caption(t("inc-attachment-caption", code=report.code), 200),
    )


def notice_text(t: Translate, notice: Notice) -> str:
    """A notice for chats; the delivery splits it under Telegram's limit."""
    lines = [
        f"📢 <b>{clip(t, notice.title, TOPIC_LIMIT)}</b>",
        clip(t, notice.content, CONTENT_LIMIT),
    ]
    for a in notice.accessory[:MAX_NOTICE_LINKS]:
        lines.append(f"📎 {link(t, a.url, a.name)}")
    if len(notice.accessory) > MAX_NOTICE_LINKS:
        lines.append(t("and-more", count=len(notice.accessory) - MAX_NOTICE_LINKS))
    lines.append(t("notice-from", name=clip(t, notice.sender.name)))
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
                    old=clip(t, old if old is not None else "—", CHANGE_LIMIT),
                    new=clip(t, new if new is not None else "—", CHANGE_LIMIT),
                )
            )
    old_groups, new_groups = set(before.get("groups") or []), set(after.get("groups") or [])
    if old_groups != new_groups:
        parts = [f"+ {clip(t, g)}" for g in sorted(new_groups - old_groups)]
        parts += [f"− {clip(t, g)}" for g in sorted(old_groups - new_groups)]
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
