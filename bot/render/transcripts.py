"""A recording's transcript under its voice message's caption (issue #17).

The caption keeps what it said and gains a line 「📝 …」. Telegram counts a caption's
1024 characters after entity parsing, in UTF-16 units: when the caption and the whole
transcript do not fit, the caption gets an excerpt that says where the rest is, and the
whole text goes as a reply to the voice message.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.i18n import Translate
from bot.render.text import CAPTION_LIMIT, Html, esc, shorten, truncate_caption, visible_len

__all__ = ["Captioned", "captioned", "transcript_text"]

# An excerpt shorter than this says too little: the caption then only points to the reply.
_MIN_EXCERPT = 12


class Captioned(NamedTuple):
    """The caption with the transcript, and the whole text to send as a reply when the
    caption has only an excerpt (else None)."""

    caption: Html
    reply: Html | None


def transcript_text(text: str | None) -> str | None:
    """The transcript to show, or None when there is nothing to show (none, or blank:
    the server heard nothing)."""
    if text is None:
        return None
    text = text.strip()
    return text or None


def captioned(t: Translate, caption: str, text: str) -> Captioned:
    """`caption` (HTML, as sent) with the transcript `text` (plain) under it, in `t`'s
    words; within Telegram's caption limit. A transcript longer than Fluent takes in an
    argument is fine: `Translate` puts long arguments in after formatting."""
    text = text.strip()
    whole = Html(f"{caption}\n{t('transcript-line', text=esc(text))}")
    if visible_len(whole) <= CAPTION_LIMIT:
        return Captioned(whole, None)
    reply = t("transcript-reply", text=esc(text))
    cut = t("transcript-cut")
    head = Html(f"{caption}\n{t('transcript-line', text=Html())}")
    budget = CAPTION_LIMIT - visible_len(head) - visible_len(cut)
    if budget < _MIN_EXCERPT:
        line = t("transcript-line", text=cut)
    else:
        line = t("transcript-line", text=shorten(text, budget, lambda _n: cut))
    return Captioned(Html(truncate_caption(f"{caption}\n{line}")), reply)
