"""Telegram HTML helpers: escaping, length as Telegram counts it, splitting, captions.

Telegram limits a message to 4096 and a caption to 1024 characters *after* entity
parsing, counted in UTF-16 code units. The functions here count the same way and
cut HTML without ever leaving a tag unbalanced.

Splitting contract (what `split_html` promises for well-formed input):

* every part has ``visible_len(part) <= limit`` and ``len(part) <= raw_limit``
  (unless one character with its reopened tags alone exceeds ``raw_limit``);
* every part is balanced: tags open at a cut are closed at the end of the part and
  reopened, with the same attributes, at the start of the next one, so every
  character keeps its formatting;
* every part contains a visible character that is not whitespace;
* the visible texts of the parts, in order, are the visible text of the input with
  some runs of :data:`CUT_WHITESPACE` removed: the whole whitespace run at each cut
  (Telegram trims the ends of a message anyway), and whitespace before the first
  part when the input had to be split.

Cuts prefer, in this order: a blank line, a line break, a space, just after CJK
punctuation, a grapheme boundary, any code point. A cut of a better kind is taken
only if it leaves the part at least half full (of visible text, or of ``raw_limit``);
otherwise the cut that keeps the most text wins. A cut never falls inside a tag or an
entity, and since Python strings hold code points, never inside a surrogate pair.
"""

from __future__ import annotations

import html as _html
import re
import sys
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from typing import Final, NamedTuple
from urllib.parse import urlsplit

__all__ = [
    "CAPTION_LIMIT",
    "CUT_WHITESPACE",
    "MAX_LINK_URL",
    "MESSAGE_LIMIT",
    "RAW_LIMIT",
    "Html",
    "esc",
    "esc_attr",
    "is_web_url",
    "shorten",
    "split_html",
    "truncate_caption",
    "utf16_len",
    "visible_len",
    "visible_text",
]

MESSAGE_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
#: What `split_html` allows a message as sent, tags and entities included, by default.
RAW_LIMIT: Final = 8 * MESSAGE_LIMIT
#: Longer URLs are shown as text, not made links (no real file link is this long).
MAX_LINK_URL: Final = 8192

#: Characters a cut may remove. Not NBSP: a non-breaking space means "do not break".
CUT_WHITESPACE: Final = frozenset(" \t\n\r\f\v\u3000")
_CUT_WHITESPACE_CHARS: Final = "".join(sorted(CUT_WHITESPACE))


class Html(str):
    """A string that already is Telegram HTML.

    The translator inserts an ``Html`` argument as it is, and escapes any other
    string; whatever it returns is ``Html``, so a formatted message can be passed
    into another without being escaped twice.
    """

    __slots__ = ()


def utf16_len(s: str) -> int:
    """Length of ``s`` in UTF-16 code units, as Telegram counts it."""
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def esc(value: object) -> Html:
    """Escape a platform-provided value for HTML text; ``None`` becomes ``""``.

    The result is :class:`Html`, so passing it on to the translator does not
    escape it a second time.
    """
    if value is None:
        return Html()
    return Html(_html.escape(str(value), quote=False))


def esc_attr(value: object) -> Html:
    """Escape a value for a double-quoted HTML attribute (``<a href="...">``)."""
    if value is None:
        return Html()
    return Html(_html.escape(str(value), quote=True))


def is_web_url(url: str) -> bool:
    """Whether a platform-provided ``url`` may become a link (``<a href>``): ``http`` or
    ``https`` with a host, no whitespace or invisible characters, at most
    :data:`MAX_LINK_URL` long. Anything else (``javascript:``, ``data:``, ``tg:``, ``file:``)
    is shown as text."""
    if not url or len(url) > MAX_LINK_URL:
        return False
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False


# ---------------------------------------------------------------------------
# Tokenising

_TEXT: Final = 0
_OPEN: Final = 1
_CLOSE: Final = 2

_ATTR = r"""\s+[A-Za-z_:][-A-Za-z0-9_:.]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
_MARKUP_RE: Final = re.compile(
    r"(?P<close></(?P<cname>[A-Za-z][A-Za-z0-9-]*)\s*>)"
    rf"|(?P<open><(?P<oname>[A-Za-z][A-Za-z0-9-]*)(?:{_ATTR})*\s*(?P<void>/?)>)"
    r"|(?P<entity>&(?:(?P<named>lt|gt|amp|quot)|#(?P<dec>[0-9]{1,8})"
    r"|#[xX](?P<hex>[0-9A-Fa-f]{1,8}));)"
)
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_numeric(cp: int) -> str:
    if 0 < cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF:
        return chr(cp)
    return "\ufffd"


def _width(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


class _Atom(NamedTuple):
    kind: int  # _TEXT, _OPEN or _CLOSE
    raw: str  # as it appears in the input
    text: str  # the decoded visible character ("" for a tag)
    name: str  # lower-case tag name ("" for text)


def _atoms(html: str) -> list[_Atom]:
    """One atom per tag, per entity and per code point of plain text."""
    out: list[_Atom] = []
    pos = 0
    for m in _MARKUP_RE.finditer(html):
        out.extend(_Atom(_TEXT, ch, ch, "") for ch in html[pos : m.start()])
        pos = m.end()
        raw = m.group(0)
        if m.group("close"):
            out.append(_Atom(_CLOSE, raw, "", m.group("cname").lower()))
        elif m.group("open"):
            if m.group("void"):  # not Telegram HTML; keep it, it opens nothing
                out.append(_Atom(_TEXT, raw, "", ""))
            else:
                out.append(_Atom(_OPEN, raw, "", m.group("oname").lower()))
        else:
            named = m.group("named")
            if named:
                ch = _NAMED_ENTITIES[named]
            elif m.group("dec") is not None:
                ch = _decode_numeric(int(m.group("dec")))
            else:
                ch = _decode_numeric(int(m.group("hex"), 16))
            out.append(_Atom(_TEXT, raw, ch, ""))
    out.extend(_Atom(_TEXT, ch, ch, "") for ch in html[pos:])
    return out


def visible_text(html: str) -> str:
    """The text Telegram shows for ``html``: tags removed, entities decoded.

    The same text as joining `_atoms`' texts, in one regex pass (every reply asks)."""
    return _MARKUP_RE.sub(_shown, html)


def _shown(m: re.Match[str]) -> str:
    if m.group("close") or m.group("open"):
        return ""
    named = m.group("named")
    if named:
        return _NAMED_ENTITIES[named]
    if m.group("dec") is not None:
        return _decode_numeric(int(m.group("dec")))
    return _decode_numeric(int(m.group("hex"), 16))


def visible_len(html: str) -> int:
    """Length of ``html`` as Telegram counts it: tags removed, an entity is one
    character, in UTF-16 code units."""
    return utf16_len(visible_text(html))


# ---------------------------------------------------------------------------
# Where a cut may fall

_BLANK, _NEWLINE, _SPACE, _PUNCT, _GRAPHEME, _CODEPOINT = range(6)
_CLASSES: Final = range(6)

# A line may end after these (Chinese text has no spaces to break at).
_BREAK_AFTER: Final = frozenset("。！？；，、：…）」』】》〉”’")
_ZWJ: Final = "\u200d"


def _is_extender(ch: str) -> bool:
    """True if ``ch`` belongs to the character before it (a cut before it would
    split what the reader sees as one character)."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or cp == 0x200D
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences
        or 0xE0100 <= cp <= 0xE01EF
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


class _Gap(NamedTuple):
    s: int  # a part cut here ends before atom s ...
    e: int  # ... and the next part starts at atom e (atoms s..e-1 are dropped)
    cls: int


class _Doc:
    """An HTML string as atoms, with prefix sums and the cut candidates."""

    def __init__(self, html: str) -> None:
        atoms = _atoms(html)
        n = len(atoms)
        self.atoms = atoms
        self.n = n
        cum_width = [0] * (n + 1)
        cum_raw = [0] * (n + 1)
        cum_solid = [0] * (n + 1)  # visible characters that are not whitespace
        stacks: list[tuple[int, ...]] = [()] * (n + 1)  # open-tag atom indices before atom k
        open_len = [0] * (n + 1)
        close_len = [0] * (n + 1)
        in_emoji = [False] * (n + 1)
        stack: tuple[int, ...] = ()
        o_len = c_len = 0
        emoji = False
        w = r = solid = 0
        for k, a in enumerate(atoms):
            stacks[k], open_len[k], close_len[k], in_emoji[k] = stack, o_len, c_len, emoji
            cum_width[k], cum_raw[k], cum_solid[k] = w, r, solid
            r += len(a.raw)
            if a.kind == _TEXT:
                for ch in a.text:
                    w += _width(ch)
                if a.text and a.text not in CUT_WHITESPACE:
                    solid += 1
            elif a.kind == _OPEN:
                stack = (*stack, k)
            elif a.name in (atoms[j].name for j in stack):
                # pop up to the innermost tag of that name (inner ones were left open)
                while stack:
                    top, stack = stack[-1], stack[:-1]
                    if atoms[top].name == a.name:
                        break
            if a.kind != _TEXT:
                o_len = sum(len(atoms[j].raw) for j in stack)
                c_len = sum(len(atoms[j].name) + 3 for j in stack)
                emoji = any(atoms[j].name == "tg-emoji" for j in stack)
        stacks[n], open_len[n], close_len[n], in_emoji[n] = stack, o_len, c_len, emoji
        cum_width[n], cum_raw[n], cum_solid[n] = w, r, solid
        self.cum_width, self.cum_raw, self.cum_solid = cum_width, cum_raw, cum_solid
        self.stacks, self.open_len, self.close_len = stacks, open_len, close_len

        # Visible atoms, runs of whitespace and the gaps between them.
        vis = [k for k, a in enumerate(atoms) if a.kind == _TEXT and a.text]
        self.next_vis = [n] * (n + 1)
        nxt = n
        for k in range(n - 1, -1, -1):
            if atoms[k].kind == _TEXT and atoms[k].text:
                nxt = k
            self.next_vis[k] = nxt
        self.run_end: dict[int, int] = {}  # first atom of a whitespace run -> its end
        gaps: list[_Gap] = []
        ri_run = 0  # regional indicators in a row so far
        p = 0
        while p < len(vis):
            k = vis[p]
            if atoms[k].text in CUT_WHITESPACE:
                q = p
                newlines = 0
                while q < len(vis) and atoms[vis[q]].text in CUT_WHITESPACE:
                    newlines += atoms[vis[q]].text == "\n"
                    q += 1
                end = vis[q - 1] + 1
                for j in range(p, q):
                    self.run_end[vis[j]] = end
                cls = _BLANK if newlines >= 2 else _NEWLINE if newlines else _SPACE
                gaps.append(_Gap(k, end, cls))
                ri_run = 0
                p = q
                continue
            before = atoms[k].text[-1]
            ri_run = ri_run + 1 if _is_regional(before) else 0
            if p + 1 < len(vis) and atoms[vis[p + 1]].text not in CUT_WHITESPACE:
                m = vis[p + 1]
                after = atoms[m].text[0]
                s = k + 1
                while s < m and atoms[s].kind == _CLOSE:
                    s += 1  # tags closing after the character stay with it
                if in_emoji[s] or _is_extender(after) or before == _ZWJ:
                    cls = _CODEPOINT
                elif _is_regional(after) and ri_run % 2 == 1:
                    cls = _CODEPOINT  # inside a flag
                elif before in _BREAK_AFTER:
                    cls = _PUNCT
                else:
                    cls = _GRAPHEME
                gaps.append(_Gap(s, s, cls))
            p += 1
        self.gaps = gaps
        self.gap_starts = [g.s for g in gaps]

    def skip_space(self, k: int) -> int:
        """The first atom from ``k`` on, past a whitespace run that starts at ``k``'s
        next visible character."""
        v = self.next_vis[k]
        return self.run_end.get(v, k) if v < self.n else k

    def has_solid(self, i: int, s: int) -> bool:
        return self.cum_solid[s] > self.cum_solid[i]

    def raw_len(self, i: int, s: int) -> int:
        return self.open_len[i] + self.cum_raw[s] - self.cum_raw[i] + self.close_len[s]

    def cut(self, i: int, limit: int, raw_limit: int, min_fill: int) -> _Gap | None:
        """Where the part that starts at atom ``i`` ends; None if the rest fits."""
        cw = self.cum_width
        if cw[self.n] - cw[i] <= limit and self.raw_len(i, self.n) <= raw_limit:
            return None
        best: list[_Gap | None] = [None] * len(_CLASSES)
        base_raw = self.open_len[i] - self.cum_raw[i]
        for g in self.gaps[bisect_right(self.gap_starts, i) :]:
            if cw[g.s] - cw[i] > limit or base_raw + self.cum_raw[g.s] > raw_limit:
                break
            if self.close_len[g.s] + base_raw + self.cum_raw[g.s] <= raw_limit and self.has_solid(
                i, g.s
            ):
                best[g.cls] = g
        found = [g for g in best if g is not None]  # in order of preference
        for g in found:
            # Half full by what Telegram counts, or by size as sent (many long links).
            if cw[g.s] - cw[i] >= min_fill or 2 * self.raw_len(i, g.s) >= raw_limit:
                return g
        if found:  # none leaves the part half full: keep the most text
            return max(found, key=lambda g: (g.s, -g.cls))
        # Nothing fits (only with a tiny raw_limit): take one character anyway.
        s = self.next_vis[i]
        while not self.has_solid(i, s + 1):
            s = self.next_vis[s + 1]
        s += 1
        while s < self.n and self.atoms[s].kind == _CLOSE:
            s += 1
        return _Gap(s, s, _CODEPOINT)

    def emit(self, i: int, s: int) -> str:
        """Atoms ``i..s-1`` with the tags open at ``i`` reopened and those open at
        ``s`` closed; elements left empty by the cut are dropped."""
        out: list[_Atom] = [self.atoms[j] for j in self.stacks[i]]
        for a in self.atoms[i:s]:
            if a.kind == _CLOSE and out and out[-1].kind == _OPEN and out[-1].name == a.name:
                out.pop()
            else:
                out.append(a)
        for j in reversed(self.stacks[s]):
            name = self.atoms[j].name
            if out and out[-1].kind == _OPEN and out[-1].name == name:
                out.pop()
            else:
                out.append(_Atom(_CLOSE, f"</{name}>", "", name))
        return "".join(a.raw for a in out)


def split_html(
    html: str,
    limit: int = MESSAGE_LIMIT,
    raw_limit: int | None = None,
    *,
    first: int | None = None,
    first_raw: int | None = None,
) -> list[str]:
    """Split a Telegram HTML reply into messages; see the module docstring.

    ``raw_limit`` bounds each part's length as sent (tags and entities included),
    by default ``8 * limit``. ``first`` and ``first_raw``, when given, are the limits
    of the first part instead (the room left in a message that already holds
    something). Input without any visible non-whitespace text gives ``[]``; input
    that fits is returned unchanged as the only part.
    """
    first = limit if first is None else first
    if min(limit, first) < 2:
        raise ValueError("limit must be at least 2 (one astral character)")
    raw_limit = 8 * limit if raw_limit is None else raw_limit
    first_raw = raw_limit if first_raw is None else first_raw
    shown = visible_text(html)
    if len(html) <= first_raw and utf16_len(shown) <= first:
        return [html] if shown.strip(_CUT_WHITESPACE_CHARS) else []
    doc = _Doc(html)
    parts: list[str] = []
    i = doc.skip_space(0)
    while doc.has_solid(i, doc.n):
        room, raw_room = (first, first_raw) if not parts else (limit, raw_limit)
        gap = doc.cut(i, room, raw_room, min_fill=room // 2)
        if gap is None:
            parts.append(doc.emit(i, doc.n))
            break
        parts.append(doc.emit(i, gap.s))
        i = doc.skip_space(gap.e)
    return parts


def truncate_caption(html: str, limit: int = CAPTION_LIMIT, ellipsis: str = "…") -> str:
    """Fit ``html`` into a caption of ``limit`` UTF-16 units: cut (at a word if one
    is near the end), close the open tags and end with ``ellipsis``."""
    if visible_len(html) <= limit:
        return html
    budget = limit - utf16_len(ellipsis)
    if budget < 2:
        raise ValueError("limit too small for a caption")
    doc = _Doc(html)
    i = doc.skip_space(0)
    gap = doc.cut(i, budget, raw_limit=sys.maxsize, min_fill=budget * 3 // 4)
    if gap is None:  # only the leading whitespace was too much
        return doc.emit(i, doc.n)
    return doc.emit(i, gap.s) + ellipsis


def shorten(value: str, limit: int, more: Callable[[int], str]) -> Html:
    """``value`` escaped for HTML; if it is longer than ``limit`` UTF-16 units, cut (at
    a word if one is near the end, never inside a character) and followed by
    ``more(n)``, which tells the reader that ``n`` more characters were left out."""
    if len(value) * 2 <= limit or utf16_len(value) <= limit:
        return esc(value)
    if not value.strip(_CUT_WHITESPACE_CHARS):
        return Html()
    # Only the head matters (every character is at least one unit): a 900 KB field is
    # not tokenised whole.
    doc = _Doc(esc(value[: limit + 1]))
    i = doc.skip_space(0)
    gap = doc.cut(i, limit, raw_limit=sys.maxsize, min_fill=limit * 3 // 4)
    kept = doc.emit(i, doc.n if gap is None else gap.s)
    start = len(value) - len(value.lstrip(_CUT_WHITESPACE_CHARS))
    return Html(kept + more(len(value) - start - len(visible_text(kept))))
