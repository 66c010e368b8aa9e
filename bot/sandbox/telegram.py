"""A Telegram Bot API emulator for end-to-end tests, the demo and the console.

It serves the Bot API over HTTP (``/bot{token}/{method}`` and
``/file/bot{token}/{path}``) in the shapes and with the errors Telegram uses,
so the real aiogram ``Bot`` with ``AiohttpSession`` talks to it unchanged.
A driver API on :class:`TelegramEmulator` plays the Telegram users: it adds
users and chats, sends their messages and button presses as updates, and
awaits what the bot sends back.

Where it differs from Telegram on purpose:

* HTML is checked like Telegram's parser, and by default (``strict_html``)
  more strictly: a bare ``&`` that is not a complete character reference
  (``&amp;``, ``&lt;``, ``&#38;`` ...) is refused, where Telegram would show it
  as is. It catches strings that were not escaped.
* ``setWebhook`` accepts ``http://`` URLs (Telegram requires HTTPS).
* Nothing is fetched from URLs given as files; the URL is stored.
* Markdown parse modes are accepted without validation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import mimetypes
import random
import re
import secrets
import string
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from aiohttp import (
    ClientError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    MultipartReader,
    web,
)

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
CALLBACK_DATA_LIMIT: Final = 64
CALLBACK_ANSWER_LIMIT: Final = 200
MAX_BUTTONS: Final = 100
MAX_POLL_TIMEOUT: Final = 50

CONFLICT_POLLING: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)

# Without allowed_updates Telegram sends every update type except these.
_OPT_IN_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_COMMAND_SCOPES: Final = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)

_BUTTON_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

# Parameters whose form-data string is converted for ApiCall.params (the
# handlers convert strictly themselves).
_INT_FIELDS: Final = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "duration",
        "live_period",
        "heading",
        "proximity_alert_radius",
        "cache_time",
        "user_id",
        "max_connections",
        "width",
        "height",
    }
)
_FLOAT_FIELDS: Final = frozenset({"latitude", "longitude", "horizontal_accuracy"})
_BOOL_FIELDS: Final = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "drop_pending_updates",
        "show_alert",
        "has_spoiler",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "show_caption_above_media",
    }
)
_JSON_FIELDS: Final = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "media",
        "link_preview_options",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
        "message_ids",
        "menu_button",
        "rights",
    }
)

_NOT_FLOOD_LIMITED: Final = frozenset(
    {
        "getMe",
        "getUpdates",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "answerCallbackQuery",
        "sendChatAction",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "getChat",
        "getChatMember",
        "getChatAdministrators",
        "getChatMemberCount",
        "getFile",
        "deleteMessage",
        "deleteMessages",
    }
)

_FILE_ID_PREFIX: Final = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
}
_FILE_DIR: Final = {
    "photo": "photos",
    "document": "documents",
    "audio": "music",
    "voice": "voice",
    "video": "videos",
    "animation": "animations",
}


# --------------------------------------------------------------------------- text


def utf16_len(text: str) -> int:
    """Length of ``text`` as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class HtmlParseError(ValueError):
    """HTML that Telegram's parser refuses; the message is Telegram's wording."""


_HTML_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_NAMED_ENTITIES: Final = {"lt": 0x3C, "gt": 0x3E, "amp": 0x26, "quot": 0x22}
_SPACES: Final = frozenset(" \t\r\n\v\f")
_SIMPLE_TAG_ENTITY: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8", "surrogatepass"))


def _decode_char_ref(text: str, pos: int) -> tuple[int, int, bool] | None:
    """Decode ``&...`` at ``pos`` like Telegram: (code point, end, had ';')."""
    n = len(text)
    end = pos + 1
    code = 0
    if end < n and text[end] == "#":
        end += 1
        if end < n and text[end] == "x":
            end += 1
            while end < n and text[end] in string.hexdigits:
                code = code * 16 + int(text[end], 16)
                end += 1
        else:
            while end < n and text[end] in string.digits:
                code = code * 10 + int(text[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
    else:
        while end < n and text[end] in string.ascii_letters:
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        code = named
    semicolon = end < n and text[end] == ";"
    if semicolon:
        end += 1
    return code, end, semicolon


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the visible text
    out_index: int  # index into the list of visible characters
    expandable: bool


def parse_html(text: str, *, strict: bool = True) -> tuple[str, list[JSON]]:
    """Parse Telegram HTML into (visible text, Bot API entities).

    Follows Telegram's parser (tdlib ``parse_html``): its tags, attributes,
    character references and error messages. With ``strict`` a bare ``&``
    that is not a complete character reference is an error as well.
    """
    out: list[str] = []
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    u16 = 0
    i = 0
    n = len(text)

    def error(message: str) -> HtmlParseError:
        return HtmlParseError(message)

    def decode_ref(pos: int) -> tuple[str, int] | None:
        decoded = _decode_char_ref(text, pos)
        if decoded is None or (strict and not decoded[2]):
            if strict:
                raise error(
                    f"Character reference expected at byte offset {_byte_offset(text, pos)}: "
                    'a bare "&" must be written as &amp;'
                )
            return None
        code, end, _ = decoded
        if 0xD800 <= code <= 0xDFFF:
            raise error(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        return chr(code), end

    while i < n:
        c = text[i]
        if c == "&":
            ref = decode_ref(i)
            if ref is not None:
                out.append(ref[0])
                u16 += utf16_len(ref[0])
                i = ref[1]
                continue
        if c != "<":
            out.append(c)
            u16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue

        begin = i
        i += 1
        if i >= n or text[i] != "/":
            # a start tag
            while i < n and text[i] not in _SPACES and text[i] != ">":
                i += 1
            if i >= n:
                raise error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise error(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            argument = ""
            expandable = False
            while text[i] != ">":
                while i < n and text[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                if text[i] == ">":
                    break
                name_begin = i
                while i < n and text[i] not in _SPACES and text[i] not in "=>":
                    i += 1
                attribute = text[name_begin:i]
                if not attribute:
                    raise error(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(text, begin)}"
                    )
                while i < n and text[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                if text[i] != "=":
                    if tag == "blockquote" and attribute.lower() == "expandable":
                        expandable = True
                        continue
                    raise error(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                i += 1
                while i < n and text[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise error(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                if text[i] not in "'\"":
                    token_begin = i
                    while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if i >= n or (text[i] not in _SPACES and text[i] != ">"):
                        raise error(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(text, token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            ref = decode_ref(i)
                            if ref is not None:
                                chars.append(ref[0])
                                i = ref[1]
                                continue
                        chars.append(text[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise error(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, begin)}"
                )
            stack.append(_OpenTag(tag, argument, u16, len(out), expandable))
            i += 1
            continue

        # an end tag
        if not stack:
            raise error(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
        while i < n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        end_tag = text[begin + 2 : i].lower()
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n or text[i] != ">":
            raise error(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
        top = stack[-1]
        if end_tag and end_tag != top.name:
            raise error(
                f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                f'expected "</{top.name}>", found "</{end_tag}>"'
            )
        if u16 > top.offset:
            _close_entity(top, u16 - top.offset, "".join(out[top.out_index :]), entities)
        stack.pop()
        i += 1

    if stack:
        raise error(f"Can't find end tag corresponding to start tag {stack[-1].name}")
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(tag: _OpenTag, length: int, inner: str, entities: list[JSON]) -> None:
    offset = tag.offset
    simple = _SIMPLE_TAG_ENTITY.get(tag.name)
    if simple is not None:
        entities.append({"type": simple, "offset": offset, "length": length})
    elif tag.name == "tg-emoji":
        if not tag.argument.isdigit() or int(tag.argument) == 0:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": tag.argument,
            }
        )
    elif tag.name == "a":
        url = tag.argument or inner
        mention = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if mention is not None:
            user = {"id": int(mention.group(1)), "is_bot": False, "first_name": inner}
            entities.append(
                {"type": "text_mention", "offset": offset, "length": length, "user": user}
            )
        else:
            checked = _checked_link(url)
            if checked:
                entities.append(
                    {"type": "text_link", "offset": offset, "length": length, "url": checked}
                )
    elif tag.name == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == offset
            and last["length"] == length
            and last.get("language")
        ):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag.name == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and last["offset"] == offset
            and last["length"] == length
            and tag.argument
        ):
            last["language"] = tag.argument
        else:
            entity: JSON = {"type": "code", "offset": offset, "length": length}
            if tag.argument:
                entity["language"] = tag.argument
            entities.append(entity)
    elif tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.expandable else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


def _checked_link(url: str) -> str | None:
    """The link as Telegram stores it, or None where Telegram drops the entity."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("tg", "ton"):
        return url
    if scheme not in ("http", "https") or not parts.netloc:
        return None
    if not parts.path and not parts.query and not parts.fragment:
        url += "/"
    return url


def strip_html(text: str) -> str:
    """The visible text of Telegram HTML; tolerant of malformed input."""
    try:
        return parse_html(text, strict=False)[0]
    except HtmlParseError:
        without_tags = re.sub(r"<[^>]*(>|$)", "", text)
        return re.sub(
            r"&(lt|gt|amp|quot);",
            lambda m: chr(_NAMED_ENTITIES[m.group(1)]),
            without_tags,
        )


_COMMAND_RE: Final = re.compile(
    r"(?<![\w/<>])/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{3,32}))?(?![\w/<>@])"
)
_MENTION_RE: Final = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{2,32})(?![\w@])")
_URL_RE: Final = re.compile(r"(?<![\w/])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'\"]")


def detect_entities(text: str) -> list[JSON]:
    """Entities Telegram finds in a user's text: bot commands, mentions, URLs."""
    found: list[tuple[int, int, str]] = []
    for regex, kind in ((_COMMAND_RE, "bot_command"), (_MENTION_RE, "mention"), (_URL_RE, "url")):
        for match in regex.finditer(text):
            found.append((match.start(), match.end(), kind))
    found.sort()
    entities: list[JSON] = []
    last_end = -1
    for start, end, kind in found:
        if start < last_end:
            continue
        entities.append(
            {
                "type": kind,
                "offset": utf16_len(text[:start]),
                "length": utf16_len(text[start:end]),
            }
        )
        last_end = end
    return entities


def _trim_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip surrounding whitespace as Telegram does, keeping entities aligned."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    if not stripped:
        return "", []
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(total, entity["offset"] + entity["length"] - shift)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


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
        """(text, callback_data or url) for every inline button, row by row."""
        return [
            (str(b.get("text", "")), b.get("callback_data", b.get("url")))
            for b in self.inline_buttons()
        ]

    def render(self) -> str:
        """A one-screen rendering for transcripts and the console."""
        parts: list[str] = []
        if self.deleted:
            parts.append("[deleted]")
        if self.kind == "location" and self.location is not None:
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
class _PendingQuery:
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    answered: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _Poll:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False


@dataclass
class _Window:
    """At most ``limit`` messages in any ``period`` seconds: a message counts from the
    moment it arrives until ``period`` later (the strictest reading of a rate)."""

    limit: int
    period: float
    times: deque[float] = field(default_factory=deque)  # arrivals, oldest first

    @classmethod
    def of_rate(cls, per_period: float, period: float) -> _Window:
        """``per_period`` messages per ``period``; under one, one per longer period."""
        if per_period >= 1:
            return cls(math.floor(per_period), period)
        return cls(1, period / per_period)

    def wait_time(self, now: float, units: int) -> float:
        """Seconds until ``units`` more fit (0: they fit now)."""
        horizon = now - self.period
        while self.times and self.times[0] <= horizon:
            self.times.popleft()
        over = len(self.times) + min(units, self.limit) - self.limit
        if over <= 0:
            return 0.0
        return self.times[over - 1] + self.period - now

    def take(self, now: float, units: int) -> None:
        self.times.extend([now] * min(units, self.limit))


@dataclass
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Fault:
    method: str  # lower-case
    times: int
    error_code: int
    description: str
    parameters: JSON | None
    disconnect: bool
    after: bool
    chat_id: int | None


@dataclass
class _Described:
    """A successful result that carries a description, as setWebhook's does."""

    value: Any
    description: str


class _ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        data: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        return data


def _bad(description: str, parameters: JSON | None = None) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}", parameters)


class _Params:
    """Request parameters with Telegram-like conversion errors."""

    def __init__(self, values: Mapping[str, Any], uploads: Mapping[str, _Upload]) -> None:
        self.values = dict(values)
        self.uploads = dict(uploads)

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def str_(self, name: str, *, required: bool = False, missing: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise _bad(missing or f"{name} is empty")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _bad(f'field "{name}" must be of type String')
        return str(value)

    def int_(self, name: str, *, required: bool = False, missing: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _bad(missing or f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise _bad(f'field "{name}" must be of type Integer')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,19}\s*", value):
            return int(value)
        raise _bad(f'field "{name}" must be of type Integer')

    def float_(
        self, name: str, *, required: bool = False, missing: str | None = None
    ) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _bad(missing or f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise _bad(f'field "{name}" must be of type Number')
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise _bad(f'field "{name}" must be of type Number') from None
        else:
            raise _bad(f'field "{name}" must be of type Number')
        if not math.isfinite(number):
            raise _bad(f'field "{name}" must be of type Number')
        return number

    def bool_(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
            return value.strip().lower() in ("true", "1")
        raise _bad(f'field "{name}" must be of type Boolean')

    def json_(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {what or name} JSON object") from None
        return value

    def chat_ref(self, name: str = "chat_id") -> int | str:
        value = self.values.get(name)
        if value is None or value == "":
            raise _bad(f"{name} is empty")
        if isinstance(value, bool):
            raise _bad("chat not found")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            stripped = value.strip()
            if re.fullmatch(r"[+-]?\d{1,19}", stripped):
                return int(stripped)
            return stripped
        raise _bad(f'field "{name}" must be of type Integer or String')

    def decoded(self) -> JSON:
        """The parameters as a test wants to read them (best effort, never raises)."""
        out: JSON = {}
        for key, value in self.values.items():
            out[key] = _decode_value(key, value, self.uploads)
        for key, upload in self.uploads.items():
            if not any(isinstance(v, str) and v == f"attach://{key}" for v in self.values.values()):
                out.setdefault(key, _describe_upload(upload))
        return out


def _describe_upload(upload: _Upload) -> JSON:
    return {"upload": upload.filename, "size": len(upload.data), "mime": upload.content_type}


def _decode_value(key: str, value: Any, uploads: Mapping[str, _Upload]) -> Any:
    if not isinstance(value, str):
        return value
    if value.startswith("attach://") and value[9:] in uploads:
        return _describe_upload(uploads[value[9:]])
    try:
        if key in _JSON_FIELDS:
            decoded = json.loads(value)
            return _replace_attachments(decoded, uploads)
        if key in _INT_FIELDS and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        if key in _FLOAT_FIELDS:
            return float(value)
        if key in _BOOL_FIELDS and value.lower() in ("true", "false"):
            return value.lower() == "true"
    except ValueError:
        return value
    return value


def _replace_attachments(value: Any, uploads: Mapping[str, _Upload]) -> Any:
    if isinstance(value, str) and value.startswith("attach://") and value[9:] in uploads:
        return _describe_upload(uploads[value[9:]])
    if isinstance(value, list):
        return [_replace_attachments(v, uploads) for v in value]
    if isinstance(value, dict):
        return {k: _replace_attachments(v, uploads) for k, v in value.items()}
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_response(status: int, payload: JSON) -> web.Response:
    return web.Response(
        text=_dumps(payload), status=status, content_type="application/json", charset="utf-8"
    )


def _error_response(code: int, description: str) -> web.Response:
    return _json_response(code, {"ok": False, "error_code": code, "description": description})


# --------------------------------------------------------------------------- media sniffing


def _sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM"):
        return "image/bmp"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if data[4:8] == b"ftyp":
        return "video/mp4" if b"M4A" not in data[8:12] else "audio/mp4"
    if data.startswith(b"%PDF"):
        return "application/pdf"
    return None


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG image, from its header."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                pos += 1 if marker == 0xFF else 2
                continue
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD):
                height = int.from_bytes(data[pos + 5 : pos + 7], "big")
                width = int.from_bytes(data[pos + 7 : pos + 9], "big")
                return width, height
            pos += 2 + length
    return None


def _ogg_duration(data: bytes) -> int | None:
    """Seconds of an Ogg Opus or Vorbis stream, from the last page's granule position."""
    last = data.rfind(b"OggS")
    if last < 0 or last + 14 > len(data):
        return None
    granule = int.from_bytes(data[last + 6 : last + 14], "little")
    head = data.find(b"OpusHead")
    if head >= 0 and head + 12 <= len(data):
        pre_skip = int.from_bytes(data[head + 10 : head + 12], "little")
        return max(0, round((granule - pre_skip) / 48000))
    vorbis = data.find(b"\x01vorbis")
    if vorbis >= 0 and vorbis + 16 <= len(data):
        rate = int.from_bytes(data[vorbis + 12 : vorbis + 16], "little")
        if rate:
            return max(0, round(granule / rate))
    return None


# --------------------------------------------------------------------------- emulator


class FastClock:
    """A monotonic clock that runs ``speed`` times faster than real time, and its sleep.

    Give it to the emulator (``clock=``) and to whatever else counts time against it
    (the bridge's flood control) and minutes of rate limits pass in seconds, every
    latency stretched by the same factor.
    """

    def __init__(self, speed: float, start: float = 1000.0) -> None:
        self.speed = speed
        self._start = start
        self._origin = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._origin) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


Listener = Callable[[str, EmuMessage], None]
Handler = Callable[[_Params], Any]


class TelegramEmulator:
    """An in-process Telegram Bot API server plus a driver that plays the users.

    Typical use::

        emu = TelegramEmulator(token="123456:TEST-token")
        url = await emu.start()
        alice = emu.add_user(1001, "Alice", username="alice")
        await emu.send_message(alice, "/start")
        [reply] = await emu.wait_for_messages(alice.id)
        await emu.stop()

    Behaviours of Telegram it keeps, which a bot must cope with:

    * A new getUpdates while another is pending ends the older one with 409
      (``terminated by other getUpdates request``); the newer one is served.
    * ``editMessageText``/``editMessageCaption`` without ``reply_markup``
      remove the inline keyboard.
    * Privacy mode (``privacy_mode=True``, Telegram's default): in groups
      where the bot is not an admin it gets only commands (not addressed to
      another bot), replies to its messages, mentions of it and service
      messages; the rest is kept in ``filtered_updates``.
    * Flood limits apply to sending, copying, forwarding and editing, held in
      sliding windows (the strictest reading: Telegram publishes no algorithm):
      at most ``global_per_s`` messages in any second, ``group_per_min`` to a
      group in any minute (an album counts one per item in both), and
      ``private_burst`` to a private chat in any ``private_burst /
      private_per_s`` seconds. A message over a limit is refused with 429 and
      ``retry_after``, the whole seconds until its window has room. Not to
      getMe, getUpdates, webhooks, commands, answerCallbackQuery,
      sendChatAction, getChat*, getFile or deletions.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        bot_username: str = "pttbridge_bot",
        bot_id: int | None = None,
        bot_name: str = "PTT Bridge",
        flood_limits: bool = True,
        global_per_s: float = 30.0,
        group_per_min: float = 20.0,
        private_per_s: float = 1.0,
        private_burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        strict_html: bool = True,
        privacy_mode: bool = True,
        webhook_retry_initial: float = 0.05,
        webhook_retry_max: float = 2.0,
        webhook_timeout: float = 10.0,
        max_upload_bytes: int = 50 * 1024 * 1024,
        max_download_bytes: int = 20 * 1024 * 1024,
        first_update_id: int = 100_000_001,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        if bot_id is None:
            bot_id = int(prefix) if prefix.isdigit() else 123456
        self.bot_user = EmuUser(bot_id, bot_name, username=bot_username, is_bot=True)
        self.bot_username = bot_username
        self.flood_limits = flood_limits
        self.global_per_s = global_per_s
        self.group_per_min = group_per_min
        self.private_per_s = private_per_s
        self.private_burst = private_burst
        self.strict_html = strict_html
        self.privacy_mode = privacy_mode
        self.webhook_retry_initial = webhook_retry_initial
        self.webhook_retry_max = webhook_retry_max
        self.webhook_timeout = webhook_timeout
        self.max_upload_bytes = max_upload_bytes
        self.max_download_bytes = max_download_bytes
        self._clock = clock
        self._wallclock = wallclock

        self.url = ""
        self.calls: list[ApiCall] = []
        self.callback_answers: list[CallbackAnswer] = []
        # (scope as canonical JSON, language_code) -> commands
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.bot_settings: dict[str, JSON] = {}  # setMyDescription & co: the last params
        self.filtered_updates: list[JSON] = []  # not delivered: privacy mode / allowed_updates

        self._users: dict[int, EmuUser] = {}
        self._chats: dict[int, EmuChat] = {}
        self._history: dict[int, dict[int, EmuMessage]] = {}
        self._files: dict[str, EmuFile] = {}
        self._files_by_path: dict[str, EmuFile] = {}
        self._file_counter = 0
        self._queries: dict[str, _PendingQuery] = {}
        self._consumed: set[tuple[int, int]] = set()
        self._listeners: list[Listener] = []
        self._faults: list[_Fault] = []

        self._updates: list[JSON] = []
        self._next_update_id = first_update_id
        self._allowed_updates: frozenset[str] | None = None
        self._active_poll: _Poll | None = None
        self._webhook: _Webhook | None = None
        self._webhook_wake: asyncio.Event | None = None
        self._webhook_task: asyncio.Task[None] | None = None

        self._global_window: _Window | None = None
        self._chat_windows: dict[int, _Window] = {}

        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

        self._handlers: dict[str, Handler] = {
            "getMe": self._m_get_me,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "sendMessage": self._m_send_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "editMessageLiveLocation": self._m_edit_message_live_location,
            "stopMessageLiveLocation": self._m_stop_message_live_location,
            "deleteMessage": self._m_delete_message,
            "deleteMessages": self._m_delete_messages,
            "answerCallbackQuery": self._m_answer_callback_query,
            "sendChatAction": self._m_send_chat_action,
            "sendLocation": self._m_send_location,
            "sendVenue": self._m_send_venue,
            "sendPhoto": self._m_send_photo,
            "sendDocument": self._m_send_document,
            "sendAudio": self._m_send_audio,
            "sendVoice": self._m_send_voice,
            "sendVideo": self._m_send_video,
            "sendAnimation": self._m_send_animation,
            "sendMediaGroup": self._m_send_media_group,
            "copyMessage": self._m_copy_message,
            "forwardMessage": self._m_forward_message,
            "getChat": self._m_get_chat,
            "getChatMember": self._m_get_chat_member,
            "getChatAdministrators": self._m_get_chat_administrators,
            "getChatMemberCount": self._m_get_chat_member_count,
            "getFile": self._m_get_file,
        }
        for name in (
            "setMyDescription",
            "setMyShortDescription",
            "setMyName",
            "setChatMenuButton",
            "setMyDefaultAdministratorRights",
            "pinChatMessage",
            "unpinChatMessage",
            "unpinAllChatMessages",
            "leaveChat",
        ):
            self._handlers[name] = self._make_accepting_handler(name)
        self._method_names = {name.lower(): name for name in self._handlers}

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the Bot API; returns the base URL (also in ``self.url``)."""
        if self._runner is not None:
            return self.url
        self._closing = False
        app = web.Application(client_max_size=self.max_upload_bytes + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = port
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                bound_port = int(address[1])
                break
        self.url = f"http://{host}:{bound_port}"
        self._http = ClientSession()
        self._webhook_wake = asyncio.Event()
        self._webhook_task = asyncio.create_task(self._webhook_loop())
        logger.info("telegram emulator listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop serving: pending getUpdates return, webhook delivery stops."""
        self._closing = True
        if self._active_poll is not None:
            self._active_poll.wake.set()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ driver: world

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        started: bool = True,
    ) -> EmuUser:
        """A Telegram user, and their private chat with the bot."""
        user = EmuUser(
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            started=started,
        )
        self._users[user_id] = user
        chat = self._chats.get(user_id)
        if chat is None or chat.type != "private":
            self._chats[user_id] = EmuChat(user_id, "private", username=username, user=user)
        else:
            chat.user = user
            chat.username = username
        self._notify()
        return user

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        supergroup: bool = True,
        forum: bool = False,
        admins: Iterable[int | EmuUser] = (),
        members: Iterable[int | EmuUser] = (),
        username: str | None = None,
        bot_is_admin: bool = False,
        owner: int | EmuUser | None = None,
    ) -> EmuChat:
        """A group or supergroup the bot is a member of.

        The owner (``creator``) is ``owner`` or else the first admin.
        """
        admin_ids = [self._user_id(a) for a in admins]
        owner_id = self._user_id(owner) if owner is not None else None
        if owner_id is None and admin_ids:
            owner_id = admin_ids[0]
        member_ids = {self._user_id(m) for m in members} | set(admin_ids)
        if owner_id is not None:
            member_ids.add(owner_id)
        chat = EmuChat(
            chat_id,
            "supergroup" if supergroup or forum else "group",
            next_message_id=2,  # 1 is the "group created" service message; 1 is General in forums
            title=title,
            username=username,
            is_forum=forum,
            owner_id=owner_id,
            admins=set(admin_ids),
            members=member_ids,
            bot_is_admin=bot_is_admin,
        )
        self._chats[chat_id] = chat
        self._notify()
        return chat

    def add_topic(self, chat: int | EmuChat, name: str) -> int:
        """A forum topic; returns its message_thread_id. Emits forum_topic_created."""
        target = self.chat(chat)
        if not target.is_forum:
            raise ValueError(f"chat {target.id} is not a forum")
        creator = self._users.get(target.owner_id) if target.owner_id is not None else None
        msg = self._new_message(
            target,
            from_bot=False,
            sender=creator or self.bot_user,
            kind="service",
            service={"forum_topic_created": {"name": name, "icon_color": 7322096}},
        )
        msg.thread_id = msg.message_id
        target.topics[msg.message_id] = name
        self._enqueue_message(msg)
        return msg.message_id

    def block(self, chat: int | EmuChat | EmuUser) -> None:
        """The user blocks the bot (private) or the bot is removed (group): sends get 403."""
        self.chat(chat).blocked = True
        self._notify()

    def unblock(self, chat: int | EmuChat | EmuUser) -> None:
        self.chat(chat).blocked = False
        self._notify()

    def migrate_group(self, old_id: int, new_id: int) -> EmuChat:
        """Upgrade a basic group to a supergroup, as Telegram does.

        Sends to ``old_id`` then fail with ``migrate_to_chat_id``; the service
        messages (migrate_to_chat_id / migrate_from_chat_id) arrive as updates.
        """
        old = self.chat(old_id)
        if old.type != "group":
            raise ValueError(f"chat {old_id} is not a basic group")
        new = EmuChat(
            new_id,
            "supergroup",
            title=old.title,
            owner_id=old.owner_id,
            admins=set(old.admins),
            members=set(old.members),
            bot_is_admin=old.bot_is_admin,
            migrated_from=old_id,
        )
        self._chats[new_id] = new
        actor = self._users.get(old.owner_id) if old.owner_id is not None else None
        sender = actor or EmuUser(1087968824, "Group", username="GroupAnonymousBot", is_bot=True)
        to_msg = self._new_message(
            old,
            from_bot=False,
            sender=sender,
            kind="service",
            service={"migrate_to_chat_id": new_id},
        )
        from_msg = self._new_message(
            new,
            from_bot=False,
            sender=sender,
            kind="service",
            service={"migrate_from_chat_id": old_id},
        )
        old.migrated_to = new_id
        self._enqueue_message(to_msg)
        self._enqueue_message(from_msg)
        return new

    def chat(self, chat: int | EmuChat | EmuUser) -> EmuChat:
        """The chat with this id (a user's id is their private chat)."""
        chat_id = self._chat_id(chat)
        found = self._chats.get(chat_id)
        if found is None:
            raise KeyError(f"no chat {chat_id} in the emulator")
        return found

    def user(self, user_id: int) -> EmuUser:
        return self._users[user_id]

    # ------------------------------------------------------------------ driver: acting

    async def send_message(
        self,
        user: EmuUser | int,
        text: str,
        chat: int | EmuChat | None = None,
        thread_id: int | None = None,
        document: tuple[str, bytes, str] | None = None,
        reply_to: EmuMessage | int | None = None,
    ) -> JSON:
        """The user sends ``text``; returns the Update it makes.

        Bot commands, mentions and URLs get their entities, as Telegram sets
        them. An update the bot would not receive (privacy mode in a group,
        allowed_updates) is kept in ``filtered_updates`` with update_id 0.
        ``document`` = (filename, data, mime) sends a file with ``text`` as caption.
        """
        if document is not None:
            filename, data, mime = document
            return await self.send_document(
                user, filename, data, mime, caption=text or None, chat=chat, thread_id=thread_id
            )
        sender = self._driver_user(user)
        target = self._driver_chat(sender, chat)
        msg = self._new_message(
            target,
            from_bot=False,
            sender=sender,
            kind="text",
            text=text,
            visible_text=text,
            entities=detect_entities(text),
            thread_id=self._driver_thread(target, thread_id),
            reply_to=self._driver_reply(target, reply_to),
        )
        return self._enqueue_message(msg)

    async def send_document(
        self,
        user: EmuUser | int,
        filename: str,
        data: bytes,
        mime: str | None = None,
        caption: str | None = None,
        chat: int | EmuChat | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        """The user sends a file (the bot can getFile and download it)."""
        sender = self._driver_user(user)
        target = self._driver_chat(sender, chat)
        stored = self._store_file(
            "document",
            data,
            filename,
            mime or mimetypes.guess_type(filename)[0] or "application/octet-stream",
        )
        msg = self._new_message(
            target,
            from_bot=False,
            sender=sender,
            kind="document",
            caption=caption,
            visible_caption=caption,
            caption_entities=detect_entities(caption) if caption else [],
            file=stored,
            media={"document": self._document_api(stored)},
            thread_id=self._driver_thread(target, thread_id),
        )
        return self._enqueue_message(msg)

    async def send_location(
        self,
        user: EmuUser | int,
        latitude: float,
        longitude: float,
        chat: int | EmuChat | None = None,
        live_period: int | None = None,
    ) -> JSON:
        """The user shares a location."""
        sender = self._driver_user(user)
        target = self._driver_chat(sender, chat)
        msg = self._new_message(
            target,
            from_bot=False,
            sender=sender,
            kind="location",
            location=EmuLocation(latitude, longitude, live_period=live_period),
        )
        return self._enqueue_message(msg)

    async def press_button(
        self,
        user: EmuUser | int,
        message_or_id: EmuMessage | int,
        callback_data: str,
        chat: int | EmuChat | None = None,
        *,
        strict: bool = True,
    ) -> JSON:
        """The user presses an inline button of a bot message; returns the callback_query Update.

        ``callback_data`` names the button by its callback_data or, failing
        that, by its text. With ``strict=False`` any data is sent, as a forged
        client could.
        """
        sender = self._driver_user(user)
        if isinstance(message_or_id, EmuMessage):
            target = self.chat(message_or_id.chat_id)
            message_id = message_or_id.message_id
        else:
            target = self._driver_chat(sender, chat)
            message_id = message_or_id
        msg = self._history.get(target.id, {}).get(message_id)
        if msg is None or msg.deleted:
            raise ValueError(f"no message {message_id} in chat {target.id}")
        data: str | None = callback_data
        if strict:
            buttons = msg.inline_buttons()
            by_data = [b for b in buttons if b.get("callback_data") == callback_data]
            by_text = [
                b for b in buttons if b.get("text") == callback_data and "callback_data" in b
            ]
            if by_data:
                data = by_data[0]["callback_data"]
            elif by_text:
                data = by_text[0]["callback_data"]
            else:
                raise ValueError(
                    f"message {message_id} in chat {target.id} has no button {callback_data!r}; "
                    f"its buttons: {msg.buttons()}"
                )
        query_id = str(random.getrandbits(62) + 10**17)
        self._queries[query_id] = _PendingQuery(sender.id, target.id, msg.message_id, data)
        query: JSON = {
            "id": query_id,
            "from": sender.to_api(),
            "message": self.message_api(msg),
            "chat_instance": target.instance,
        }
        if data is not None:
            query["data"] = data
        return self._enqueue({"callback_query": query})

    # ------------------------------------------------------------------ driver: observing

    def messages(
        self, chat: int | EmuChat | EmuUser, thread_id: int | None = None
    ) -> list[EmuMessage]:
        """Every message the bot sent to the chat, in order, in its current state."""
        chat_id = self._chat_id(chat)
        return [
            m
            for m in self._history.get(chat_id, {}).values()
            if m.from_bot and (thread_id is None or m.thread_id == thread_id)
        ]

    def history(self, chat: int | EmuChat | EmuUser) -> list[EmuMessage]:
        """Every message in the chat, the users' included."""
        return list(self._history.get(self._chat_id(chat), {}).values())

    def message(self, chat: int | EmuChat | EmuUser, message_id: int) -> EmuMessage:
        return self._history[self._chat_id(chat)][message_id]

    def pending_messages(
        self, chat: int | EmuChat | EmuUser, thread_id: int | None = None
    ) -> list[EmuMessage]:
        """Bot messages not yet returned by wait_for_messages (nor marked)."""
        chat_id = self._chat_id(chat)
        return [
            m
            for m in self.messages(chat_id, thread_id)
            if (chat_id, m.message_id) not in self._consumed
        ]

    def mark(self, chat: int | EmuChat | EmuUser | None = None) -> None:
        """Consider every bot message so far seen (in one chat, or all)."""
        chat_ids = [self._chat_id(chat)] if chat is not None else list(self._history)
        for chat_id in chat_ids:
            for msg in self.messages(chat_id):
                self._consumed.add((chat_id, msg.message_id))

    async def wait_for_messages(
        self,
        chat: int | EmuChat | EmuUser,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - the driver API takes a timeout like Telegram's
        thread_id: int | None = None,
    ) -> list[EmuMessage]:
        """Await ``count`` bot messages in the chat that no earlier wait returned.

        Returns exactly ``count`` (the oldest unseen first); later ones stay
        for the next call. Raises TimeoutError describing what did arrive.
        """
        chat_id = self._chat_id(chat)
        try:
            await self.wait_for(
                lambda: len(self.pending_messages(chat_id, thread_id)) >= count, timeout=timeout
            )
        except TimeoutError:
            got = self.pending_messages(chat_id, thread_id)
            failures = [
                f"{c.method}: {c.error}"
                for c in self.calls
                if not c.ok and c.method != "getUpdates"
            ][-5:]
            raise TimeoutError(
                f"expected {count} new bot message(s) in chat {chat_id}"
                f"{'' if thread_id is None else f' thread {thread_id}'} within {timeout}s, "
                f"got {len(got)}: {[m.render() for m in got]}; recent API errors: {failures}"
            ) from None
        found = self.pending_messages(chat_id, thread_id)[:count]
        for msg in found:
            self._consumed.add((chat_id, msg.message_id))
        return found

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for the whole wait, not one await
    ) -> Any:
        """Await ``predicate()`` becoming truthy; re-checked on every emulator change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one method (case-insensitive)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by getUpdates (or delivered to the webhook)."""
        return list(self._updates)

    @property
    def polling(self) -> bool:
        """Whether a getUpdates request is being served (waiting, in a long poll)."""
        return self._active_poll is not None

    def reset_flood_limits(self) -> None:
        """Forget past sends: every limit starts full, at the current rates."""
        self._global_window = None
        self._chat_windows.clear()

    def inject_fault(
        self,
        method: str,
        *,
        error_code: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        disconnect: bool = False,
        after: bool = False,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` HTTP calls of ``method`` fail.

        The call answers ``error_code``/``description`` (with ``retry_after``
        or ``migrate_to_chat_id`` parameters if given), or with
        ``disconnect`` the connection drops without an answer. With ``after``
        the method runs first and keeps its effect (the message is sent), and
        only the answer is lost: the ambiguous case a sender must not repeat
        blindly. ``chat_id`` limits the fault to calls for that chat.
        """
        parameters: JSON = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        self._faults.append(
            _Fault(
                method.lower(),
                times,
                error_code,
                description,
                parameters or None,
                disconnect,
                after,
                chat_id,
            )
        )

    def _take_fault(self, method: str, params: _Params) -> _Fault | None:
        for fault in self._faults:
            if fault.method != method.lower():
                continue
            if fault.chat_id is not None:
                try:
                    if params.chat_ref() != fault.chat_id:
                        continue
                except _ApiError:
                    continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault
        return None

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook is not None else None

    def get_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The commands setMyCommands stored for this scope and language."""
        return self.commands.get((_scope_key(scope or {"type": "default"}), language_code), [])

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event, message)`` on each bot message: sent / edited / deleted."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    # ------------------------------------------------------------------ internals: state

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _emit(self, event: str, msg: EmuMessage) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, msg)
            except Exception:
                logger.exception("telegram emulator listener failed")
        self._notify()

    @staticmethod
    def _user_id(user: int | EmuUser) -> int:
        return user.id if isinstance(user, EmuUser) else int(user)

    @staticmethod
    def _chat_id(chat: int | EmuChat | EmuUser) -> int:
        if isinstance(chat, EmuChat | EmuUser):
            return chat.id
        return int(chat)

    def _driver_user(self, user: EmuUser | int) -> EmuUser:
        user_id = self._user_id(user)
        found = self._users.get(user_id)
        if found is None:
            raise KeyError(f"no user {user_id}; add_user() first")
        return found

    def _driver_chat(self, user: EmuUser, chat: int | EmuChat | None) -> EmuChat:
        if chat is None:
            target = self.chat(user.id)
            # Writing to a bot you blocked unblocks it; writing at all starts it.
            target.blocked = False
            user.started = True
            return target
        target = self.chat(chat)
        if target.migrated_to is not None:
            raise ValueError(f"group {target.id} was migrated to {target.migrated_to}")
        if target.is_group:
            target.members.add(user.id)
        return target

    def _driver_thread(self, chat: EmuChat, thread_id: int | None) -> int | None:
        if thread_id is None:
            return None
        if chat.is_forum and thread_id not in chat.topics:
            chat.topics[thread_id] = f"Topic {thread_id}"
        return thread_id

    def _driver_reply(self, chat: EmuChat, reply_to: EmuMessage | int | None) -> int | None:
        if reply_to is None:
            return None
        message_id = reply_to.message_id if isinstance(reply_to, EmuMessage) else reply_to
        if message_id not in self._history.get(chat.id, {}):
            raise ValueError(f"no message {message_id} in chat {chat.id}")
        return message_id

    def _new_message(
        self,
        chat: EmuChat,
        *,
        from_bot: bool,
        sender: EmuUser,
        kind: str,
        thread_id: int | None = None,
        reply_to: int | None = None,
        **fields: Any,
    ) -> EmuMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        msg = EmuMessage(
            message_id=message_id,
            chat_id=chat.id,
            kind=kind,
            from_bot=from_bot,
            sender=sender,
            date=int(self._wallclock()),
            thread_id=thread_id,
            reply_to_message_id=reply_to,
            **fields,
        )
        self._history.setdefault(chat.id, {})[message_id] = msg
        return msg

    def message_api(self, msg: EmuMessage, *, nested: bool = False) -> JSON:
        """The Bot API Message object for a message, in its current state."""
        chat = self._chats[msg.chat_id]
        data: JSON = {"message_id": msg.message_id, "from": msg.sender.to_api()}
        if msg.thread_id is not None:
            data["message_thread_id"] = msg.thread_id
        data["chat"] = chat.to_api()
        data["date"] = msg.date
        if msg.thread_id is not None and chat.is_forum:
            data["is_topic_message"] = True
        if msg.forward_origin is not None:
            data["forward_origin"] = msg.forward_origin
        if msg.reply_to_message_id is not None and not nested:
            target = self._history.get(chat.id, {}).get(msg.reply_to_message_id)
            if target is not None and not target.deleted:
                data["reply_to_message"] = self.message_api(target, nested=True)
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if msg.media_group_id is not None:
            data["media_group_id"] = msg.media_group_id
        if msg.kind == "text":
            data["text"] = msg.visible_text or ""
            if msg.entities:
                data["entities"] = msg.entities
        data.update(msg.media)
        if msg.visible_caption:
            data["caption"] = msg.visible_caption
            if msg.caption_entities:
                data["caption_entities"] = msg.caption_entities
        if msg.venue is not None:
            data["venue"] = msg.venue
        if msg.location is not None:
            data["location"] = msg.location.to_api()
        data.update(msg.service)
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            data["reply_markup"] = msg.reply_markup
        return data

    def _enqueue_message(self, msg: EmuMessage) -> JSON:
        update: JSON = {"message": self.message_api(msg)}
        chat = self._chats[msg.chat_id]
        if not self._bot_sees(chat, msg):
            update = {"update_id": 0, **update}
            self.filtered_updates.append(update)
            self._notify()
            return update
        return self._enqueue(update)

    def _bot_sees(self, chat: EmuChat, msg: EmuMessage) -> bool:
        """Privacy mode: in groups a bot that is not an admin sees only what is meant for it."""
        if not chat.is_group or not self.privacy_mode or chat.bot_is_admin or msg.service:
            return True
        if msg.reply_to_message_id is not None:
            target = self._history.get(chat.id, {}).get(msg.reply_to_message_id)
            if target is not None and target.from_bot:
                return True
        text = msg.visible_text or msg.visible_caption or ""
        if f"@{self.bot_username}".lower() in text.lower():
            return True
        for match in _COMMAND_RE.finditer(text):
            addressee = match.group(2)
            if addressee is None or addressee.lower() == self.bot_username.lower():
                return True
        return False

    def _enqueue(self, payload: JSON) -> JSON:
        kind = next(iter(payload))
        allowed = self._allowed_updates
        if (allowed is None and kind in _OPT_IN_UPDATES) or (
            allowed is not None and kind not in allowed
        ):
            update: JSON = {"update_id": 0, **payload}  # never delivered: no id
            self.filtered_updates.append(update)
            self._notify()
            return update
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        if self._active_poll is not None:
            self._active_poll.wake.set()
        if self._webhook_wake is not None:
            self._webhook_wake.set()
        self._notify()
        return update

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        else:
            self._updates = self._updates[offset:]
        self._notify()

    def _set_allowed_updates(self, p: _Params) -> None:
        if not p.has("allowed_updates"):
            return
        value = p.json_("allowed_updates", "allowed updates")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad("can't parse allowed updates JSON object")
        self._allowed_updates = frozenset(value) if value else None

    def _store_file(
        self,
        kind: str,
        data: bytes | None,
        filename: str | None,
        mime: str | None,
        url: str | None = None,
    ) -> EmuFile:
        self._file_counter += 1
        file_id = _FILE_ID_PREFIX.get(kind, "BQACAgIAAxkBAAI") + secrets.token_urlsafe(24)
        unique = "AgAD" + secrets.token_urlsafe(9)
        ext = ""
        if filename and "." in filename:
            ext = "." + filename.rsplit(".", 1)[1][:8]
        elif mime:
            ext = mimetypes.guess_extension(mime) or ""
        stored = EmuFile(
            file_id=file_id,
            file_unique_id=unique,
            kind=kind,
            data=data,
            filename=filename,
            mime=mime,
            size=len(data) if data is not None else None,
            url=url,
            file_path=f"{_FILE_DIR.get(kind, 'documents')}/file_{self._file_counter}{ext}",
        )
        if data is not None and kind == "photo":
            dims = _image_size(data)
            stored.width, stored.height = dims if dims else (800, 600)
        if data is not None and mime in ("audio/ogg", "audio/opus"):
            stored.duration = _ogg_duration(data)
        self._files[file_id] = stored
        if stored.file_path is not None:
            self._files_by_path[stored.file_path] = stored
        return stored

    # ------------------------------------------------------------------ internals: HTTP

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return _error_response(404, "Not Found")

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error_response(401, "Unauthorized")
        stored = self._files_by_path.get(unquote(request.match_info["path"]))
        if stored is None or stored.data is None:
            return _error_response(404, "Not Found")
        return web.Response(
            body=stored.data, content_type=stored.mime or "application/octet-stream"
        )

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error_response(401, "Unauthorized")
        method = request.match_info["method"]
        try:
            params = await self._read_request(request)
        except _ApiError as exc:
            return _json_response(exc.code, exc.payload())
        except web.HTTPRequestEntityTooLarge:
            return _error_response(413, "Request Entity Too Large")
        except Exception as exc:  # a malformed body must never take the server down
            logger.info("telegram emulator: unreadable request body: %r", exc)
            return _error_response(400, "Bad Request: can't parse request body")
        fault = self._take_fault(method, params)
        if fault is not None:
            if fault.after:
                await self._execute(method, params, via="http")
            else:
                self.calls.append(
                    ApiCall(
                        method=self._method_names.get(method.lower(), method),
                        params=params.decoded(),
                        status=0 if fault.disconnect else fault.error_code,
                        error="connection dropped (injected)"
                        if fault.disconnect
                        else fault.description,
                        error_code=None if fault.disconnect else fault.error_code,
                        parameters=fault.parameters,
                        time=self._clock(),
                    )
                )
                self._notify()
            if fault.disconnect:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # nothing is written to the dropped connection
            error = _ApiError(fault.error_code, fault.description, fault.parameters)
            return _json_response(fault.error_code, error.payload())
        status, payload = await self._execute(method, params, via="http")
        try:
            return _json_response(status, payload)
        except (TypeError, ValueError):
            logger.exception("telegram emulator: result of %s is not JSON", method)
            return _error_response(500, "Internal Server Error")

    async def _read_request(self, request: web.Request) -> _Params:
        values: dict[str, Any] = {}
        for key, value in request.query.items():
            values[key] = value
        uploads: dict[str, _Upload] = {}
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                raw = await request.read()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise _bad("can't parse JSON object") from None
                    if not isinstance(body, dict):
                        raise _bad("can't parse JSON object")
                    values.update(body)
            else:
                form = await request.post()
                for key, item in form.items():
                    if isinstance(item, web.FileField):
                        uploads[key] = _Upload(item.filename, item.content_type, item.file.read())
                    elif isinstance(item, bytes | bytearray):
                        values[key] = bytes(item).decode("utf-8", "replace")
                    else:
                        values[key] = item
        return _Params(values, uploads)

    async def _execute(self, method: str, params: _Params, *, via: str) -> tuple[int, JSON]:
        name = self._method_names.get(method.lower())
        call = ApiCall(
            method=name or method, params=params.decoded(), status=0, time=self._clock(), via=via
        )
        status: int
        payload: JSON
        if name is None:
            status, payload = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            try:
                outcome = await self._handlers[name](params)
            except _ApiError as exc:
                status, payload = exc.code, exc.payload()
            except Exception as exc:
                logger.exception("telegram emulator: %s failed", name)
                status = 500
                payload = {
                    "ok": False,
                    "error_code": 500,
                    "description": f"Internal Server Error: {type(exc).__name__}",
                }
            else:
                status, payload = 200, {"ok": True}
                if isinstance(outcome, _Described):
                    payload["result"] = outcome.value
                    payload["description"] = outcome.description
                else:
                    payload["result"] = outcome
        call.status = status
        if status == 200:
            call.result = payload["result"]
        else:
            call.error = payload.get("description")
            call.error_code = payload.get("error_code")
            call.parameters = payload.get("parameters")
        self.calls.append(call)
        self._notify()
        return status, payload

    # ------------------------------------------------------------------ internals: checks

    def _lookup_chat(self, p: _Params, name: str = "chat_id") -> EmuChat:
        ref = p.chat_ref(name)
        if isinstance(ref, str):
            wanted = ref.lstrip("@").lower()
            for candidate in self._chats.values():
                username = candidate.username
                if ref.startswith("@") and username and username.lower() == wanted:
                    return candidate
            raise _bad("chat not found")
        found = self._chats.get(ref)
        if found is None:
            raise _bad("chat not found")
        return found

    def _writable_chat(self, p: _Params, name: str = "chat_id") -> EmuChat:
        chat = self._lookup_chat(p, name)
        if chat.migrated_to is not None:
            raise _bad(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.blocked:
            if chat.type == "private":
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            kind = "group chat" if chat.type == "group" else f"{chat.type} chat"
            raise _ApiError(403, f"Forbidden: bot was kicked from the {kind}")
        if chat.type == "private" and chat.user is not None and not chat.user.started:
            raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _thread(self, chat: EmuChat, p: _Params) -> int | None:
        thread_id = p.int_("message_thread_id")
        if thread_id is None or not chat.is_forum:
            return None
        if thread_id == 1:  # the General topic
            return None
        if thread_id not in chat.topics:
            raise _bad("message thread not found")
        return thread_id

    def _reply_to(self, chat: EmuChat, p: _Params) -> int | None:
        reply_id = p.int_("reply_to_message_id")
        allow = p.bool_("allow_sending_without_reply")
        parameters = p.json_("reply_parameters", "reply parameters")
        if parameters is not None:
            if not isinstance(parameters, dict) or "message_id" not in parameters:
                raise _bad("can't parse reply parameters JSON object")
            nested = _Params(parameters, {})
            reply_id = nested.int_("message_id")
            allow = nested.bool_("allow_sending_without_reply", allow)
            other = parameters.get("chat_id")
            if other is not None and str(other) != str(chat.id):
                return None  # a reply to another chat is shown as a quote; not modelled
        if reply_id is None:
            return None
        target = self._history.get(chat.id, {}).get(reply_id)
        if target is None or target.deleted:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return reply_id

    def _format(
        self,
        raw: str,
        parse_mode: str | None,
        entities: Any,
        *,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> tuple[str, list[JSON]]:
        """Visible text and entities of a text or caption, validated like Telegram."""
        if entities:
            if not isinstance(entities, list) or not all(
                isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in entities
            ):
                raise _bad("can't parse entities JSON object")
            visible, found = raw, [dict(e) for e in entities]
        elif parse_mode:
            mode = parse_mode.lower()
            if mode == "html":
                try:
                    visible, found = parse_html(raw, strict=self.strict_html)
                except HtmlParseError as exc:
                    raise _bad(f"can't parse entities: {exc}") from None
            elif mode in ("markdown", "markdownv2"):
                visible, found = re.sub(r"\\([\\_*\[\]()~`>#+\-=|{}.!])", r"\1", raw), []
            else:
                raise _bad("unsupported parse_mode")
        else:
            visible, found = raw, []
        visible, found = _trim_text(visible, found)
        if not visible and empty is not None:
            raise _bad(empty)
        if utf16_len(visible) > limit:
            raise _bad(too_long)
        return visible, found

    def _text(self, p: _Params) -> tuple[str, str, list[JSON], str | None]:
        raw = p.str_("text", required=True, missing="message text is empty") or ""
        parse_mode = p.str_("parse_mode")
        visible, entities = self._format(
            raw,
            parse_mode,
            p.json_("entities"),
            limit=TEXT_LIMIT,
            too_long="message is too long",
            empty="message text is empty",
        )
        return raw, visible, entities, parse_mode

    def _caption(self, values: _Params) -> tuple[str | None, str | None, list[JSON], str | None]:
        raw = values.str_("caption")
        parse_mode = values.str_("parse_mode")
        if raw is None:
            return None, None, [], parse_mode
        visible, entities = self._format(
            raw,
            parse_mode,
            values.json_("caption_entities"),
            limit=CAPTION_LIMIT,
            too_long="message caption is too long",
            empty=None,
        )
        return raw, visible or None, entities, parse_mode

    def _markup(self, p: _Params, *, inline_only: bool = False) -> JSON | None:
        markup = p.json_("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad(
                    'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
                )
            count = 0
            for row in rows:
                for button in row:
                    count += 1
                    _check_button(button)
            if count > MAX_BUTTONS:
                raise _bad("reply markup is too long")
            if count == 0:
                return None
            return markup
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    def _flood(self, chat: EmuChat, units: int = 1) -> None:
        """Count one message (an album: ``units``, one per item) or answer 429."""
        if not self.flood_limits:
            return
        now = self._clock()
        if self._global_window is None:
            self._global_window = _Window.of_rate(self.global_per_s, 1.0)
        window = self._chat_windows.get(chat.id)
        if window is None:
            if chat.is_group:
                window = _Window.of_rate(self.group_per_min, 60.0)
            else:  # a burst of private_burst, then private_per_s: in any window of that
                burst = max(1, self.private_burst)
                window = _Window(burst, burst / self.private_per_s)
            self._chat_windows[chat.id] = window
        # In a private chat an album is sent at once: one message of its rate.
        counted = ((self._global_window, units), (window, units if chat.is_group else 1))
        wait = max(w.wait_time(now, n) for w, n in counted)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        for w, n in counted:
            w.take(now, n)

    def _input_file(
        self, value: Any, uploads: Mapping[str, _Upload], field_name: str, kind: str
    ) -> EmuFile:
        upload: _Upload | None = None
        if value is None or value == "":
            upload = uploads.get(field_name)
            if upload is None:
                raise _bad(f"there is no {field_name} in the request")
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise _bad(f"there is no {field_name} in the request")
        elif isinstance(value, str) and re.match(r"https?://", value):
            path = urlsplit(value).path
            name = unquote(path.rsplit("/", 1)[-1]) or None
            return self._store_file(kind, None, name, mimetypes.guess_type(path)[0], url=value)
        elif isinstance(value, str):
            known = self._files.get(value.strip())
            if known is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            return known
        else:
            raise _bad(f'field "{field_name}" must be of type String')
        data = upload.data
        if len(data) > self.max_upload_bytes:
            raise _ApiError(413, "Request Entity Too Large")
        if not data:
            raise _bad("file must be non-empty")
        sniffed = _sniff_mime(data)
        declared = upload.content_type
        if declared in (None, "", "application/octet-stream"):
            declared = None
        mime = declared or mimetypes.guess_type(upload.filename or "")[0] or sniffed
        if kind == "photo":
            if sniffed is None or not sniffed.startswith("image/"):
                raise _bad("IMAGE_PROCESS_FAILED")
            mime = sniffed
        elif kind == "voice" and sniffed in ("audio/ogg", "audio/mpeg", "audio/mp4"):
            mime = sniffed
        return self._store_file(kind, data, upload.filename, mime or "application/octet-stream")

    # ------------------------------------------------------------------ methods: bot & updates

    async def _m_get_me(self, p: _Params) -> JSON:
        return {
            **self.bot_user.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_get_updates(self, p: _Params) -> list[JSON]:
        if self._webhook is not None:
            raise _ApiError(409, CONFLICT_WEBHOOK)
        offset = p.int_("offset")
        limit = min(100, max(1, p.int_("limit") or 100))
        timeout = min(MAX_POLL_TIMEOUT, max(0, p.int_("timeout") or 0))
        self._set_allowed_updates(p)
        self._confirm(offset)
        poll = _Poll()
        previous = self._active_poll
        if previous is not None:
            # Telegram answers the older request with 409 and serves the newer one.
            previous.terminated = True
            previous.wake.set()
        self._active_poll = poll
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if poll.terminated:
                    raise _ApiError(409, CONFLICT_POLLING)
                if self._webhook is not None:
                    raise _ApiError(409, CONFLICT_WEBHOOK)
                if self._updates or self._closing:
                    return self._updates[:limit]
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                poll.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.wake.wait(), remaining)
        finally:
            if self._active_poll is poll:
                self._active_poll = None
                self._notify()

    async def _m_set_webhook(self, p: _Params) -> _Described:
        url = (p.str_("url") or "").strip()
        if not url:
            return await self._m_delete_webhook(p)
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.str_("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = p.int_("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed_updates(p)
        if p.bool_("drop_pending_updates"):
            self._updates.clear()
        previous = self._webhook
        same = previous is not None and previous.url == url and previous.secret_token == secret
        self._webhook = _Webhook(url, secret, max_connections, p.str_("ip_address"))
        if self._active_poll is not None:
            self._active_poll.wake.set()
        if self._webhook_wake is not None:
            self._webhook_wake.set()
        self._notify()
        return _Described(True, "Webhook is already set" if same else "Webhook was set")

    async def _m_delete_webhook(self, p: _Params) -> _Described:
        if p.bool_("drop_pending_updates"):
            self._updates.clear()
        existed = self._webhook is not None
        self._webhook = None
        self._notify()
        return _Described(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    async def _m_get_webhook_info(self, p: _Params) -> JSON:
        hook = self._webhook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    # ------------------------------------------------------------------ methods: commands

    def _scope(self, p: _Params) -> tuple[str, str]:
        scope = p.json_("scope", "bot command scope")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _COMMAND_SCOPES:
            raise _bad("can't parse BotCommandScope JSON object")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            nested = _Params(scope, {})
            chat = self._lookup_chat(nested)
            if scope["type"] == "chat_member":
                nested.int_("user_id", required=True)
            if scope["type"] == "chat_administrators" and chat.type == "private":
                raise _bad("there are no administrators in the private chat")
        language = p.str_("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return _scope_key(scope), language

    async def _m_set_my_commands(self, p: _Params) -> bool:
        commands = p.json_("commands", "commands")
        if commands is None:
            raise _bad('parameter "commands" is required')
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        cleaned: list[JSON] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand JSON object")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str) or not re.fullmatch(r"/?[a-z0-9_]{1,32}", command):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad(
                    "command description is empty"
                    if not description
                    else "BOT_COMMAND_DESCRIPTION_INVALID"
                )
            cleaned.append({"command": command.lstrip("/"), "description": description})
        key = self._scope(p)
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, p: _Params) -> list[JSON]:
        return list(self.commands.get(self._scope(p), []))

    async def _m_delete_my_commands(self, p: _Params) -> bool:
        self.commands.pop(self._scope(p), None)
        return True

    def _make_accepting_handler(self, name: str) -> Handler:
        async def accept(p: _Params) -> bool:
            if name in ("pinChatMessage", "unpinChatMessage", "unpinAllChatMessages", "leaveChat"):
                self._writable_chat(p)
            self.bot_settings[name] = p.decoded()
            return True

        return accept

    # ------------------------------------------------------------------ methods: sending

    def _bot_message(self, chat: EmuChat, kind: str, **fields: Any) -> EmuMessage:
        msg = self._new_message(
            chat,
            from_bot=True,
            sender=self.bot_user,
            kind=kind,
            thread_id=fields.pop("thread_id", None),
            reply_to=fields.pop("reply_to", None),
            **fields,
        )
        self._emit("sent", msg)
        return msg

    async def _m_send_message(self, p: _Params) -> JSON:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        raw, visible, entities, parse_mode = self._text(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood(chat)
        msg = self._bot_message(
            chat,
            "text",
            text=raw,
            visible_text=visible,
            entities=entities,
            parse_mode=parse_mode,
            reply_markup=markup,
            thread_id=thread_id,
            reply_to=reply_to,
        )
        return self.message_api(msg)

    def _location(self, p: _Params) -> EmuLocation:
        lat = p.float_("latitude", required=True) or 0.0
        lon = p.float_("longitude", required=True) or 0.0
        if not -90 <= lat <= 90 or not -180 <= lon <= 180:
            raise _bad("wrong location specified")
        accuracy = p.float_("horizontal_accuracy")
        if accuracy is not None and not 0 <= accuracy <= 1500:
            raise _bad("wrong horizontal accuracy specified")
        heading = p.int_("heading")
        if heading is not None and not 1 <= heading <= 360:
            raise _bad("wrong heading specified")
        live_period = p.int_("live_period")
        if live_period is not None and not (
            60 <= live_period <= 86400 or live_period == 0x7FFFFFFF
        ):
            raise _bad("wrong live period specified")
        radius = p.int_("proximity_alert_radius")
        return EmuLocation(lat, lon, accuracy, heading, live_period, radius)

    async def _m_send_location(self, p: _Params) -> JSON:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        location = self._location(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood(chat)
        msg = self._bot_message(
            chat,
            "location",
            location=location,
            reply_markup=markup,
            thread_id=thread_id,
            reply_to=reply_to,
        )
        return self.message_api(msg)

    async def _m_send_venue(self, p: _Params) -> JSON:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        location = self._location(p)
        title = p.str_("title", required=True, missing="venue title is empty") or ""
        address = p.str_("address", required=True, missing="venue address is empty") or ""
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood(chat)
        venue: JSON = {"location": location.to_api(), "title": title, "address": address}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            value = p.str_(key)
            if value:
                venue[key] = value
        msg = self._bot_message(
            chat,
            "venue",
            location=location,
            venue=venue,
            reply_markup=markup,
            thread_id=thread_id,
            reply_to=reply_to,
        )
        return self.message_api(msg)

    def _media_api(self, kind: str, stored: EmuFile, p: _Params) -> JSON:
        if kind == "photo":
            sizes = _photo_sizes(stored)
            for size in sizes:  # every size is a file the bot may send again
                self._files.setdefault(size["file_id"], stored)
            return {"photo": sizes}
        if kind == "document":
            return {"document": self._document_api(stored)}
        duration = p.int_("duration")
        if duration is None:
            duration = stored.duration or 0
        base: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
        }
        if kind == "voice":
            if stored.mime:
                base["mime_type"] = stored.mime
        else:
            if kind in ("video", "animation"):
                base["width"] = p.int_("width") or stored.width or 640
                base["height"] = p.int_("height") or stored.height or 360
            if kind == "audio":
                for key in ("performer", "title"):
                    value = p.str_(key)
                    if value:
                        base[key] = value
            if stored.filename:
                base["file_name"] = stored.filename
            if stored.mime:
                base["mime_type"] = stored.mime
        if stored.size is not None:
            base["file_size"] = stored.size
        return {kind: base}

    def _document_api(self, stored: EmuFile) -> JSON:
        doc: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.filename:
            doc["file_name"] = stored.filename
        if stored.mime:
            doc["mime_type"] = stored.mime
        if stored.size is not None:
            doc["file_size"] = stored.size
        return doc

    async def _send_media(self, p: _Params, kind: str) -> JSON:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        raw, visible, entities, parse_mode = self._caption(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        stored = self._input_file(p.values.get(kind), p.uploads, kind, kind)
        self._flood(chat)
        msg = self._bot_message(
            chat,
            kind,
            caption=raw,
            visible_caption=visible,
            caption_entities=entities,
            parse_mode=parse_mode,
            reply_markup=markup,
            file=stored,
            media=self._media_api(kind, stored, p),
            thread_id=thread_id,
            reply_to=reply_to,
        )
        return self.message_api(msg)

    async def _m_send_photo(self, p: _Params) -> JSON:
        return await self._send_media(p, "photo")

    async def _m_send_document(self, p: _Params) -> JSON:
        return await self._send_media(p, "document")

    async def _m_send_audio(self, p: _Params) -> JSON:
        return await self._send_media(p, "audio")

    async def _m_send_voice(self, p: _Params) -> JSON:
        return await self._send_media(p, "voice")

    async def _m_send_video(self, p: _Params) -> JSON:
        return await self._send_media(p, "video")

    async def _m_send_animation(self, p: _Params) -> JSON:
        return await self._send_media(p, "animation")

    async def _m_send_media_group(self, p: _Params) -> list[JSON]:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        media = p.json_("media", "media")
        if not isinstance(media, list):
            raise _bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise _bad("wrong number of media in the media group: it must contain 2-10 items")
        reply_to = self._reply_to(chat, p)
        prepared: list[
            tuple[str, EmuFile, _Params, tuple[str | None, str | None, list[JSON], str | None]]
        ] = []
        kinds: set[str] = set()
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in (
                "photo",
                "video",
                "audio",
                "document",
            ):
                raise _bad("can't parse InputMedia JSON object")
            kind = str(item["type"])
            kinds.add(kind)
            item_params = _Params(item, {})
            caption = self._caption(item_params)
            stored = self._input_file(item.get("media"), p.uploads, "media", kind)
            prepared.append((kind, stored, item_params, caption))
        if ("audio" in kinds or "document" in kinds) and len(kinds) > 1:
            mixed = "audio" if "audio" in kinds else "document"
            raise _bad(f"{mixed} can't be mixed with other media types")
        self._flood(chat, len(prepared))
        group_id = str(random.getrandbits(60) + 10**17)
        results: list[JSON] = []
        for kind, stored, item_params, (raw, visible, entities, parse_mode) in prepared:
            msg = self._bot_message(
                chat,
                kind,
                caption=raw,
                visible_caption=visible,
                caption_entities=entities,
                parse_mode=parse_mode,
                file=stored,
                media=self._media_api(kind, stored, item_params),
                media_group_id=group_id,
                thread_id=thread_id,
                reply_to=reply_to,
            )
            results.append(self.message_api(msg))
        return results

    def _source_message(self, p: _Params, what: str) -> EmuMessage:
        source_chat = self._lookup_chat(p, "from_chat_id")
        message_id = p.int_("message_id", required=True, missing="message_id is empty")
        msg = self._history.get(source_chat.id, {}).get(message_id or 0)
        if msg is None or msg.deleted or msg.service:
            raise _bad(f"message to {what} not found")
        return msg

    def _clone(self, source: EmuMessage, chat: EmuChat, p: _Params, **overrides: Any) -> EmuMessage:
        return self._bot_message(
            chat,
            source.kind,
            text=source.text,
            visible_text=source.visible_text,
            entities=list(source.entities),
            caption=source.caption,
            visible_caption=source.visible_caption,
            caption_entities=list(source.caption_entities),
            parse_mode=source.parse_mode,
            file=source.file,
            location=source.location,
            venue=source.venue,
            media=dict(source.media),
            thread_id=self._thread(chat, p),
            **overrides,
        )

    async def _m_copy_message(self, p: _Params) -> JSON:
        chat = self._writable_chat(p)
        source = self._source_message(p, "copy")
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood(chat)
        msg = self._clone(source, chat, p, reply_markup=markup, reply_to=reply_to)
        if p.values.get("caption") is not None:
            raw, visible, entities, parse_mode = self._caption(p)
            msg.caption, msg.visible_caption, msg.caption_entities = raw, visible, entities
            msg.parse_mode = parse_mode
        return {"message_id": msg.message_id}

    async def _m_forward_message(self, p: _Params) -> JSON:
        chat = self._writable_chat(p)
        source = self._source_message(p, "forward")
        self._flood(chat)
        origin: JSON = {"type": "user", "sender_user": source.sender.to_api(), "date": source.date}
        source_chat = self._chats[source.chat_id]
        if source_chat.type == "channel":
            origin = {
                "type": "channel",
                "chat": source_chat.to_api(),
                "message_id": source.message_id,
                "date": source.date,
            }
        msg = self._clone(source, chat, p, forward_origin=origin)
        return self.message_api(msg)

    # ------------------------------------------------------------------ methods: editing

    def _edit_target(self, p: _Params) -> EmuMessage:
        if p.has("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        if not p.has("chat_id"):
            raise _bad("chat_id is empty")
        chat = self._writable_chat(p)
        message_id = p.int_(
            "message_id", required=True, missing="message identifier is not specified"
        )
        msg = self._history.get(chat.id, {}).get(message_id or 0)
        if msg is None or msg.deleted:
            raise _bad("message to edit not found")
        if not msg.from_bot:
            raise _bad("message can't be edited")
        return msg

    def _apply_edit(self, msg: EmuMessage, method: str) -> JSON:
        msg.edit_date = int(self._wallclock())
        msg.edits.append(
            EmuEdit(
                method=method,
                time=self._clock(),
                text=msg.text,
                caption=msg.caption,
                reply_markup=msg.reply_markup,
                location=msg.location,
            )
        )
        self._emit("edited", msg)
        return self.message_api(msg)

    async def _m_edit_message_text(self, p: _Params) -> JSON:
        msg = self._edit_target(p)
        raw, visible, entities, parse_mode = self._text(p)
        markup = self._markup(p, inline_only=True)
        if msg.kind != "text":
            raise _bad("there is no text in the message to edit")
        if visible == msg.visible_text and entities == msg.entities and markup == msg.reply_markup:
            raise _bad(NOT_MODIFIED)
        self._flood(self._chats[msg.chat_id])
        msg.text, msg.visible_text, msg.entities, msg.parse_mode = (
            raw,
            visible,
            entities,
            parse_mode,
        )
        msg.reply_markup = markup
        return self._apply_edit(msg, "editMessageText")

    async def _m_edit_message_caption(self, p: _Params) -> JSON:
        msg = self._edit_target(p)
        raw, visible, entities, parse_mode = self._caption(p)
        markup = self._markup(p, inline_only=True)
        if msg.kind in ("text", "location", "venue", "service"):
            raise _bad("there is no caption in the message to edit")
        if (
            visible == msg.visible_caption
            and entities == msg.caption_entities
            and markup == msg.reply_markup
        ):
            raise _bad(NOT_MODIFIED)
        self._flood(self._chats[msg.chat_id])
        msg.caption, msg.visible_caption, msg.caption_entities = raw, visible, entities
        msg.parse_mode = parse_mode
        msg.reply_markup = markup
        return self._apply_edit(msg, "editMessageCaption")

    async def _m_edit_message_reply_markup(self, p: _Params) -> JSON:
        msg = self._edit_target(p)
        markup = self._markup(p, inline_only=True)
        if markup == msg.reply_markup:
            raise _bad(NOT_MODIFIED)
        self._flood(self._chats[msg.chat_id])
        msg.reply_markup = markup
        return self._apply_edit(msg, "editMessageReplyMarkup")

    async def _m_edit_message_live_location(self, p: _Params) -> JSON:
        msg = self._edit_target(p)
        if msg.location is None or not msg.location.live_period:
            raise _bad("message can't be edited")
        location = self._location(p)
        location.live_period = msg.location.live_period
        markup = self._markup(p, inline_only=True)
        if location == msg.location and markup == msg.reply_markup:
            raise _bad(NOT_MODIFIED)
        self._flood(self._chats[msg.chat_id])
        msg.location = location
        msg.reply_markup = markup
        return self._apply_edit(msg, "editMessageLiveLocation")

    async def _m_stop_message_live_location(self, p: _Params) -> JSON:
        msg = self._edit_target(p)
        if msg.location is None or not msg.location.live_period:
            raise _bad("message can't be edited")
        markup = self._markup(p, inline_only=True)
        msg.location = EmuLocation(
            msg.location.lat, msg.location.lon, msg.location.horizontal_accuracy
        )
        msg.reply_markup = markup
        return self._apply_edit(msg, "stopMessageLiveLocation")

    def _delete(self, chat: EmuChat, message_id: int) -> None:
        msg = self._history.get(chat.id, {}).get(message_id)
        if msg is None or msg.deleted:
            raise _bad("message to delete not found")
        if not msg.from_bot and chat.is_group and not chat.bot_is_admin:
            raise _bad("message can't be deleted")
        msg.deleted = True
        self._emit("deleted", msg)

    async def _m_delete_message(self, p: _Params) -> bool:
        chat = self._writable_chat(p)
        message_id = p.int_(
            "message_id", required=True, missing="message identifier is not specified"
        )
        self._delete(chat, message_id or 0)
        return True

    async def _m_delete_messages(self, p: _Params) -> bool:
        chat = self._writable_chat(p)
        ids = p.json_("message_ids", "message identifiers")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= 100
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise _bad("can't parse message identifiers JSON object")
        for message_id in ids:
            with contextlib.suppress(_ApiError):
                self._delete(chat, message_id)
        return True

    # ------------------------------------------------------------------ methods: misc

    async def _m_answer_callback_query(self, p: _Params) -> bool:
        query_id = p.str_("callback_query_id", required=True, missing="query_id is empty") or ""
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = p.str_("text")
        if text is not None and utf16_len(text) > CALLBACK_ANSWER_LIMIT:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered = True
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                data=query.data,
                user_id=query.user_id,
                text=text,
                show_alert=p.bool_("show_alert"),
                url=p.str_("url"),
                cache_time=p.int_("cache_time"),
                time=self._clock(),
            )
        )
        return True

    async def _m_send_chat_action(self, p: _Params) -> bool:
        chat = self._writable_chat(p)
        self._thread(chat, p)
        action = p.str_("action", required=True, missing='parameter "action" is required')
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _m_get_chat(self, p: _Params) -> JSON:
        chat = self._lookup_chat(p)
        info: JSON = {
            **chat.to_api(),
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }
        if chat.type == "private" and chat.user is not None:
            info.setdefault("first_name", chat.user.first_name)
        if chat.is_group:
            info["permissions"] = {
                "can_send_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_invite_users": True,
            }
        return info

    def _member(self, chat: EmuChat, user_id: int) -> JSON:
        if user_id == self.bot_user.id:
            user = self.bot_user
            if chat.is_group and chat.bot_is_admin:
                return _administrator(user, can_be_edited=False)
            return {"status": "member", "user": user.to_api()}
        user_or_none = self._users.get(user_id)
        if user_or_none is None:
            raise _bad("PARTICIPANT_ID_INVALID")
        user = user_or_none
        if chat.type == "private":
            if user_id != chat.id:
                raise _bad("user not found")
            return {"status": "member", "user": user.to_api()}
        if user_id == chat.owner_id:
            return {"status": "creator", "user": user.to_api(), "is_anonymous": False}
        if user_id in chat.admins:
            return _administrator(user, can_be_edited=chat.bot_is_admin)
        if user_id in chat.members:
            return {"status": "member", "user": user.to_api()}
        return {"status": "left", "user": user.to_api()}

    async def _m_get_chat_member(self, p: _Params) -> JSON:
        chat = self._lookup_chat(p)
        user_id = p.int_("user_id", required=True, missing="user_id is empty") or 0
        return self._member(chat, user_id)

    async def _m_get_chat_administrators(self, p: _Params) -> list[JSON]:
        chat = self._lookup_chat(p)
        if chat.type == "private":
            raise _bad("there are no administrators in the private chat")
        ids: list[int] = []
        if chat.owner_id is not None:
            ids.append(chat.owner_id)
        ids.extend(sorted(a for a in chat.admins if a != chat.owner_id))
        result = [self._member(chat, i) for i in ids if i in self._users]
        if chat.bot_is_admin:
            result.append(self._member(chat, self.bot_user.id))
        return result

    async def _m_get_chat_member_count(self, p: _Params) -> int:
        chat = self._lookup_chat(p)
        if chat.type == "private":
            return 2
        return len(chat.members | chat.admins) + 1

    async def _m_get_file(self, p: _Params) -> JSON:
        file_id = (p.str_("file_id", required=True, missing="file_id is empty") or "").strip()
        stored = self._files.get(file_id)
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size is not None and stored.size > self.max_download_bytes:
            raise _bad("file is too big")
        info: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.size is not None:
            info["file_size"] = stored.size
        if stored.file_path is not None:
            info["file_path"] = stored.file_path
        return info

    # ------------------------------------------------------------------ webhook delivery

    async def _webhook_loop(self) -> None:
        delay = self.webhook_retry_initial
        wake = self._webhook_wake
        assert wake is not None
        while not self._closing:
            hook = self._webhook
            if hook is None or not self._updates:
                wake.clear()
                await wake.wait()
                continue
            update = self._updates[0]
            error = await self._deliver(hook, update)
            if self._webhook is not hook:
                continue
            if error is None:
                self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
                delay = self.webhook_retry_initial
                self._notify()
                continue
            hook.last_error_date = int(self._wallclock())
            hook.last_error_message = error
            self._notify()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.webhook_retry_max)

    async def _deliver(self, hook: _Webhook, update: JSON) -> str | None:
        """POST one update; None when the webhook took it, else Telegram's error text."""
        http = self._http
        if http is None:
            return "Webhook delivery is stopped"
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with http.post(
                hook.url,
                data=_dumps(update).encode(),
                headers=headers,
                timeout=ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                if not 200 <= resp.status < 300:
                    return f"Wrong response from the webhook: {resp.status} {resp.reason}"
                reply = await self._read_webhook_reply(resp)
        except TimeoutError:
            return "Read timeout expired"
        except ClientError as exc:
            return f"Connection failed: {exc}"
        except Exception as exc:  # a broken receiver must not stop delivery
            logger.info("telegram emulator: webhook reply unreadable: %r", exc)
            return None
        if reply is not None:
            method, params = reply
            await self._execute(method, params, via="webhook-reply")
        return None

    async def _read_webhook_reply(self, resp: ClientResponse) -> tuple[str, _Params] | None:
        """A method call in the webhook's response body, which Telegram executes."""
        content_type = resp.content_type
        values: dict[str, Any] = {}
        uploads: dict[str, _Upload] = {}
        if content_type == "multipart/form-data":
            reader = MultipartReader.from_response(resp)
            while True:
                part = await reader.next()
                if part is None:
                    break
                if isinstance(part, MultipartReader):
                    continue
                data = await part.read(decode=True)
                if part.name is None:
                    continue
                if part.filename:
                    uploads[part.name] = _Upload(
                        part.filename, part.headers.get("Content-Type"), bytes(data)
                    )
                else:
                    values[part.name] = bytes(data).decode("utf-8", "replace")
        elif content_type == "application/json":
            body = await resp.read()
            if not body.strip():
                return None
            parsed = json.loads(body)
            if not isinstance(parsed, dict):
                return None
            values = parsed
        else:
            return None
        method = values.pop("method", None)
        if not isinstance(method, str) or not method:
            return None
        return method, _Params(values, uploads)


def _scope_key(scope: JSON) -> str:
    return json.dumps(scope, sort_keys=True, separators=(",", ":"))


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    actions = [key for key in _BUTTON_ACTIONS if key in button]
    if not actions:
        raise _bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise _bad("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
            raise _bad("BUTTON_URL_INVALID")


def _photo_sizes(stored: EmuFile) -> list[JSON]:
    width = stored.width or 800
    height = stored.height or 600
    sizes: list[JSON] = []
    longest = max(width, height)
    if longest > 320:
        scale = 320 / longest
        sizes.append(
            {
                "file_id": stored.file_id + "-s",
                "file_unique_id": stored.file_unique_id + "s",
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
                "file_size": max(1, (stored.size or 0) // 8),
            }
        )
    if longest > 1280:
        scale = 1280 / longest
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    full: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
    }
    if stored.size is not None:
        full["file_size"] = stored.size
    sizes.append(full)
    return sizes


def _administrator(user: EmuUser, *, can_be_edited: bool) -> JSON:
    return {
        "status": "administrator",
        "user": user.to_api(),
        "can_be_edited": can_be_edited,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": False,
        "can_edit_stories": False,
        "can_delete_stories": False,
        "can_send_welcome_messages": False,
        "can_pin_messages": True,
        "can_manage_topics": False,
    }
