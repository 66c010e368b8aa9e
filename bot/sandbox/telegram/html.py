"""Telegram's HTML parse mode as the emulator checks it: the parser, entities, lengths in UTF-16."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from bot.sandbox.telegram.constants import JSON

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


COMMAND_RE: Final = re.compile(
    r"(?<![\w/<>])/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{3,32}))?(?![\w/<>@])"
)
_MENTION_RE: Final = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{2,32})(?![\w@])")
_URL_RE: Final = re.compile(r"(?<![\w/])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'\"]")


def detect_entities(text: str) -> list[JSON]:
    """Entities Telegram finds in a user's text: bot commands, mentions, URLs."""
    found: list[tuple[int, int, str]] = []
    for regex, kind in ((COMMAND_RE, "bot_command"), (_MENTION_RE, "mention"), (_URL_RE, "url")):
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


def trim_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
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
