"""The emulator's world: users, chats, files, messages, and what it records of API calls."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from bot.sandbox.telegram.constants import JSON

# --------------------------------------------------------------------------- model


@dataclass
class EmuUser:
    """A Telegram user played by the driver (or the bot itself)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    started: bool = True  # has opened the bot; otherwise the bot can't write first

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass
class EmuChat:
    """A chat: a user's private chat with the bot, a group or a supergroup."""

    id: int
    type: str  # "private" | "group" | "supergroup" | "channel"
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    user: EmuUser | None = None
    owner_id: int | None = None
    admins: set[int] = field(default_factory=set)
    members: set[int] = field(default_factory=set)
    bot_is_admin: bool = False
    blocked: bool = False  # the user blocked the bot / the bot was removed from the group
    migrated_to: int | None = None
    migrated_from: int | None = None
    topics: dict[int, str] = field(default_factory=dict)
    instance: str = field(default_factory=lambda: str(random.getrandbits(63) - 2**62))
    next_message_id: int = 1

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup", "channel")

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
            if self.is_forum:
                data["is_forum"] = True
        return data


@dataclass
class EmuFile:
    """A file known to the emulator: uploaded (with bytes), by URL, or sent by a user."""

    file_id: str
    file_unique_id: str
    kind: str  # photo | document | audio | voice | video | animation
    data: bytes | None
    filename: str | None
    mime: str | None
    size: int | None
    url: str | None = None
    file_path: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None


@dataclass
class EmuLocation:
    lat: float
    lon: float
    horizontal_accuracy: float | None = None
    heading: int | None = None
    live_period: int | None = None
    proximity_alert_radius: int | None = None

    @property
    def latitude(self) -> float:
        return self.lat

    @property
    def longitude(self) -> float:
        return self.lon

    def label(self) -> str:
        """The place as a person reads it: "30.27, 120.15" (no trailing zeros)."""
        return f"{_degrees(self.lat)}, {_degrees(self.lon)}"

    def to_api(self) -> JSON:
        data: JSON = {"latitude": self.lat, "longitude": self.lon}
        if self.horizontal_accuracy is not None:
            data["horizontal_accuracy"] = self.horizontal_accuracy
        if self.live_period is not None:
            data["live_period"] = self.live_period
        if self.heading is not None:
            data["heading"] = self.heading
        if self.proximity_alert_radius is not None:
            data["proximity_alert_radius"] = self.proximity_alert_radius
        return data


LIVE_FOREVER: Final = 0x7FFFFFFF  # live_period of a live location that never ends


def _degrees(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def period_label(seconds: int) -> str:
    """A live period as the console shows it: "30 min", "8 h", "1 h 30 min", "indefinitely"."""
    if seconds == LIVE_FOREVER:
        return "indefinitely"
    hours, minutes = divmod(seconds // 60, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@dataclass
class EmuEdit:
    """One edit of a message: the method and the content it set."""

    method: str
    time: float
    text: str | None
    caption: str | None
    reply_markup: JSON | None
    location: EmuLocation | None = None


@dataclass
class EmuMessage:
    """A message in a chat, sent by the bot (``from_bot``) or by a driven user."""

    message_id: int
    chat_id: int
    kind: str  # text | location | venue | photo | document | audio | voice | video | service
    from_bot: bool
    sender: EmuUser
    date: int
    thread_id: int | None = None
    text: str | None = None  # as sent: HTML source when parse_mode is HTML
    visible_text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    caption: str | None = None
    visible_caption: str | None = None
    caption_entities: list[JSON] = field(default_factory=list)
    parse_mode: str | None = None
    reply_markup: JSON | None = None
    file: EmuFile | None = None
    location: EmuLocation | None = None
    venue: JSON | None = None
    media: JSON = field(default_factory=dict)  # the Bot API media fields (photo, voice, ...)
    service: JSON = field(default_factory=dict)  # e.g. migrate_to_chat_id
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    forward_origin: JSON | None = None
    edits: list[EmuEdit] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False
    # A live location: when it was sent by the emulator's clock (its period counts from
    # then), whether it was stopped, and every position it showed, the first included.
    live_since: float | None = None
    live_stopped: bool = False
    positions: list[EmuLocation] = field(default_factory=list)

    @property
    def is_live(self) -> bool:
        """A live location (sent with live_period), whether or not it still moves."""
        return self.live_since is not None and self.location is not None

    def live_state(self, now: float) -> str:
        """At ``now`` (the emulator's clock): "live" (it may move), "ended" (its period
        is over), "stopped", or "static" (not a live location)."""
        if self.live_since is None or self.location is None:
            return "static"
        if self.live_stopped:
            return "stopped"
        period = self.location.live_period or 0
        if period != LIVE_FOREVER and now >= self.live_since + period:
            return "ended"
        return "live"

    def plain_text(self) -> str:
        """What a reader sees: text (or caption) with tags removed and entities decoded."""
        if self.visible_text is not None:
            return self.visible_text
        if self.visible_caption is not None:
            return self.visible_caption
        return ""

    def inline_buttons(self) -> list[JSON]:
        """The inline keyboard's buttons, row by row, as Bot API objects."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [button for row in rows for button in row if isinstance(button, dict)]

    def buttons(self) -> list[tuple[str, str | None]]:
        """(text, callback_data or url) for every inline button, row by row (a `web_app`
        button's url is the Mini App's)."""
        return [(str(b.get("text", "")), button_target(b)) for b in self.inline_buttons()]

    def render(self) -> str:
        """A one-screen rendering for transcripts and the console."""
        parts: list[str] = []
        if self.deleted:
            parts.append("[deleted]")
        if self.is_live and self.location is not None:
            period = self.location.live_period or 0
            shown = "" if self.live_stopped else f" · {period_label(period)}"
            parts.append(f"[live location {self.location.label()}{shown}]")
        elif self.kind == "location" and self.location is not None:
            parts.append(f"[location {self.location.lat:.6f}, {self.location.lon:.6f}]")
        elif self.kind == "venue" and self.venue is not None:
            parts.append(f"[venue {self.venue.get('title')}: {self.venue.get('address')}]")
        elif self.file is not None:
            name = self.file.filename or self.file.url or self.file.file_id
            size = f" {self.file.size} bytes" if self.file.size is not None else ""
            parts.append(f"[{self.kind} {name}{size}]")
        elif self.service:
            parts.append(f"[service {json.dumps(self.service, ensure_ascii=False)}]")
        text = self.plain_text()
        if text:
            parts.append(text)
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        for row in rows:
            parts.append("  ".join(f"[{b.get('text', '')}]" for b in row if isinstance(b, dict)))
        return "\n".join(parts)


@dataclass
class ApiCall:
    """One Bot API request the emulator answered."""

    method: str
    params: JSON
    status: int
    result: Any = None
    error: str | None = None
    error_code: int | None = None
    parameters: JSON | None = None
    time: float = 0.0
    via: str = "http"  # "http" or "webhook-reply"

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class CallbackAnswer:
    """An answerCallbackQuery the bot made."""

    callback_query_id: str
    data: str | None
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    time: float


@dataclass
class PendingQuery:
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    answered: bool = False


@dataclass
class WebhookTarget:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class Poll:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False


@dataclass
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Fault:
    method: str  # lower-case
    times: int
    error_code: int
    description: str
    parameters: JSON | None
    disconnect: bool
    after: bool
    chat_id: int | None


@dataclass
class Described:
    """A successful result that carries a description, as setWebhook's does."""

    value: Any
    description: str


Listener = Callable[[str, EmuMessage], None]


def button_target(button: JSON) -> str | None:
    """What an inline button does: its callback data, or the URL it opens (a link, or a
    Mini App for a `web_app` button)."""
    if "callback_data" in button:
        return str(button["callback_data"])
    web_app = button.get("web_app")
    if isinstance(web_app, dict) and isinstance(web_app.get("url"), str):
        return str(web_app["url"])
    url = button.get("url")
    return url if isinstance(url, str) else None
