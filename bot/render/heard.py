"""What /heard shows (recordings whose transcript contains some words), and the one-line
excerpts of transcripts in /recordings lists."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.render.replies import Reply, T
from bot.render.text import Html, esc
from bot.telegram.callbacks import HeardPageCb, RecPlayCb
from storage.transcript_search import Heard

HEARD_PER_PAGE = 10
EXCERPT_CHARS = 40  # a /recordings row's excerpt
HIGHLIGHT_CHARS = 80  # a /heard row's excerpt, around the first match


@dataclass(frozen=True)
class HeardRow:
    """A recording /heard found: who spoke (as shown), and its ▶ (None: the platform no
    longer lists it where /recordings' ▶ would find it)."""

    hit: Heard
    speaker: str
    play: RecPlayCb | None


def quoted(terms: Sequence[str]) -> str:
    """The terms as the title shows them: “火情” “under control”."""
    return " ".join(f"“{term}”" for term in terms)


def _one_line(text: str) -> str:
    # Same length: the spans found in the text stay where they are.
    return re.sub(r"\s", " ", text)


def match_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Where `terms` occur in `text` (any case), overlapping ones merged, in order."""
    spans = sorted(
        (m.start(), m.end())
        for term in terms
        if term
        for m in re.finditer(re.escape(term), text, re.IGNORECASE)
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: Sequence[str], width: int = HIGHLIGHT_CHARS) -> Html:
    """About `width` characters of `text` on one line around the first match, every match in
    it bold, cut ends marked with an ellipsis; escaped."""
    line = _one_line(text)
    spans = match_spans(line, terms)
    if not spans:
        return excerpt(text, width)
    first_start, first_end = spans[0]
    before = max(0, (width - (first_end - first_start)) // 3)
    start = max(0, first_start - before)
    end = max(first_end, min(len(line), start + width))
    start = max(0, min(start, end - width))
    end = min(end, start + width)  # a match longer than the width is cut too
    out: list[str] = ["…"] if start > 0 else []
    at = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out += [esc(line[at:s]), f"<b>{esc(line[s:e])}</b>"]
        at = e
    out.append(esc(line[at:end]))
    if end < len(line):
        out.append("…")
    return Html("".join(out))


def excerpt(text: str, width: int = EXCERPT_CHARS) -> Html:
    """The start of `text` on one line, at most `width` characters (an ellipsis when cut)."""
    line = " ".join(text.split())
    if len(line) > width:
        line = line[: width - 1].rstrip() + "…"
    return esc(line)


def heard_page(
    t: T,
    terms: Sequence[str],
    rows: Sequence[HeardRow],
    *,
    page: int,
    total: int,
    filters: Sequence[str],
    tz: tzinfo,
    more: bool = False,
) -> Reply:
    """One page of /heard: the words, how many recordings (`more`: at least `total`), the
    filters (`filters`: lines already in words), then per recording its number, time,
    speaker and talk group and the highlighted excerpt; ▶ per recording the platform still
    lists, ◀ ▶▶ between pages."""
    pages = max(1, -(-total // HEARD_PER_PAGE))
    if more:
        title = t("heard-title-many", words=quoted(terms), count=total, page=page)
    else:
        title = t("heard-title", words=quoted(terms), count=total, page=page, pages=pages)
    lines: list[str] = [title]
    lines += filters
    kb = InlineKeyboardBuilder()
    for i, row in enumerate(rows):
        hit = row.hit
        n = (page - 1) * HEARD_PER_PAGE + i + 1
        when = hit.begin.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        group = esc(hit.group_name) if hit.group_name else "—"
        lines.append(f"{n}. {when} · {esc(row.speaker)} · {group}")
        lines.append(f"    📝 {highlight(hit.text, terms)}")
        if row.play is not None:
            kb.button(text=f"▶ {n}", callback_data=row.play)
    kb.adjust(5)
    nav = InlineKeyboardBuilder()
    if page > 1:
        nav.button(text="◀", callback_data=HeardPageCb(page=page - 1))
    if more or page < pages:
        nav.button(text="▶▶", callback_data=HeardPageCb(page=page + 1))
    kb.attach(nav)
    return Reply("\n".join(lines), kb.as_markup())


def with_excerpts(reply: Reply, excerpts: Sequence[Html | None]) -> Reply:
    """A /recordings page (`bot.render.geo.recordings_page`: a title line, then one line per
    recording) with each recording's transcript excerpt (None: none known) on the line
    after its own."""
    lines = reply.text.split("\n")
    if len(lines) != 1 + len(excerpts) or not any(excerpts):
        return reply  # not the shape expected (a name with a line break): left as it is
    out = lines[:1]
    for line, text in zip(lines[1:], excerpts, strict=True):
        out.append(line)
        if text is not None:
            out.append(f"    📝 {text}")
    return Reply("\n".join(out), reply.keyboard)
