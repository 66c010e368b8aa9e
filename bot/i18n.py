"""Translations of every user-facing text, with Fluent (``bot/locales/<lang>.ftl``).

Messages are Telegram HTML. :class:`Translate` escapes string arguments, so a
platform-provided name can be passed as it is; an :class:`~bot.render.text.Html` argument
(anything a ``Translate`` returned, or HTML built with :func:`~bot.render.text.esc`) is
inserted unchanged. Numbers are formatted without digit grouping, so Telegram ids
and error codes print as typed, and select plural forms (``{ $count -> ...}``).
``Translate.plain`` gives text for places that are not HTML: button labels,
callback answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from importlib import resources
from typing import Final

from fluent.runtime import FluentBundle, FluentResource
from fluent.runtime.types import fluent_number
from fluent.syntax import ast as ftl

from bot.render.text import Html, esc, visible_text

__all__ = ["SUPPORTED_LANGUAGES", "Translate", "Translator", "pick_language"]

log = logging.getLogger(__name__)

SUPPORTED_LANGUAGES: Final = ("zh", "en")
_FLUENT_PART_MAX: Final = 2000


def pick_language(user_choice: str | None, telegram_code: str | None, default: str) -> str:
    """The language to answer in: the user's ``/lang`` choice, else their Telegram
    client's language if supported (``zh-hans``, ``en-US``...), else ``default``."""
    if user_choice in SUPPORTED_LANGUAGES:
        return user_choice
    if telegram_code:
        primary = telegram_code.strip().lower().replace("_", "-").split("-", 1)[0]
        if primary in SUPPORTED_LANGUAGES:
            return primary
    return default


class Translate:
    """The texts of one language: ``t("msg-id", name=value)`` returns HTML."""

    __slots__ = ("_translator", "lang")

    def __init__(self, translator: Translator, lang: str) -> None:
        self._translator = translator
        self.lang = lang

    def __call__(self, msg_id: str, /, **args: object) -> Html:
        return Html(self._translator.format(self.lang, msg_id, args))

    def plain(self, msg_id: str, /, **args: object) -> str:
        """The message as plain text (button labels, alerts): what Telegram would
        show for the HTML one, tags dropped and entities decoded."""
        return visible_text(self._translator.format(self.lang, msg_id, args))

    def __repr__(self) -> str:
        return f"Translate({self.lang!r})"


class Translator:
    """Every language's bundle, loaded once at start."""

    def __init__(self, sources: Mapping[str, str], default_lang: str = "zh") -> None:
        """``sources`` maps a language to its FTL text. A syntax error in any of
        them raises ``ValueError`` (fail at start, not on the first reply)."""
        if default_lang not in sources:
            raise ValueError(f"no translations for the default language {default_lang!r}")
        self.default_lang = default_lang
        self.languages = tuple(sources)
        self._bundles: dict[str, FluentBundle] = {}
        self._ids: dict[str, frozenset[str]] = {}
        for lang, source in sources.items():
            resource = FluentResource(source)
            junk = [e for e in resource.body if isinstance(e, ftl.Junk)]
            if junk:
                snippet = (junk[0].content or "").strip()[:80]
                raise ValueError(f"{lang}.ftl: cannot parse {snippet!r}")
            bundle = FluentBundle([lang], use_isolating=False)
            bundle.add_resource(resource)
            self._bundles[lang] = bundle
            self._ids[lang] = frozenset(
                e.id.name for e in resource.body if isinstance(e, ftl.Message)
            )

    @classmethod
    def load(
        cls, default_lang: str = "zh", languages: Iterable[str] = SUPPORTED_LANGUAGES
    ) -> Translator:
        """Read ``bot/locales/<lang>.ftl`` of the installed package, then each
        ``<lang>-<feature>.ftl`` beside it in name order (a feature's texts in a file of
        its own); a message id defined twice is an error of the files, caught by tests."""
        locales = resources.files("bot") / "locales"
        sources = {}
        for lang in languages:
            extra = sorted(
                f.name
                for f in locales.iterdir()
                if f.name.startswith(f"{lang}-") and f.name.endswith(".ftl")
            )
            sources[lang] = "\n".join(
                (locales / name).read_text(encoding="utf-8") for name in [f"{lang}.ftl", *extra]
            )
        return cls(sources, default_lang)

    def get(self, lang: str | None) -> Translate:
        """The texts of ``lang``; an unknown language gets the default one."""
        return Translate(self, lang if lang in self._bundles else self.default_lang)

    def message_ids(self, lang: str) -> frozenset[str]:
        return self._ids[lang]

    def _chain(self, lang: str) -> list[str]:
        rest = [x for x in self.languages if x not in (lang, self.default_lang)]
        return [lang, self.default_lang, *rest] if lang != self.default_lang else [lang, *rest]

    def format_with_errors(
        self, lang: str, msg_id: str, args: Mapping[str, object] | None = None
    ) -> tuple[str, list[Exception]]:
        """The message in ``lang`` (else another language, else ``msg_id`` itself)
        and the errors Fluent reported while formatting it."""
        for candidate in self._chain(lang):
            bundle = self._bundles.get(candidate)
            if bundle is None or not bundle.has_message(msg_id):
                continue
            pattern = bundle.get_message(msg_id).value
            if pattern is None:
                continue
            fluent_args = {k: _to_fluent(v) for k, v in (args or {}).items()}
            # Fluent refuses a placeable longer than 2,500 characters (the whole message
            # becomes "{???}"): long values go in as markers and are put back after.
            held: dict[str, str] = {}
            for k, v in fluent_args.items():
                if isinstance(v, str) and len(v) > _FLUENT_PART_MAX:
                    marker = f"\ue000{len(held)}\ue001"
                    held[marker], fluent_args[k] = v, marker
            value, errors = bundle.format_pattern(pattern, fluent_args)
            value = str(value)
            for marker, v in held.items():
                value = value.replace(marker, v)
            if candidate != lang:
                errors = [
                    *errors,
                    LookupError(f"{msg_id!r} missing in {lang!r}, used {candidate!r}"),
                ]
            return str(value), errors
        return msg_id, [LookupError(f"no message {msg_id!r}")]

    def format(self, lang: str, msg_id: str, args: Mapping[str, object] | None = None) -> str:
        """Like :meth:`format_with_errors`; errors are logged, never raised: a
        slightly wrong reply beats none."""
        value, errors = self.format_with_errors(lang, msg_id, args)
        if errors:
            log.warning("i18n %s/%s: %s", lang, msg_id, "; ".join(map(str, errors)))
        return value


def _to_fluent(value: object) -> object:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        if not -(10**18) < value < 10**18:  # NaN, inf, past int64: babel cannot format it
            return esc(str(value))
        return fluent_number(value, useGrouping=False)
    if value is None:
        return ""
    if isinstance(value, Html):
        return str(value)
    return esc(value)
