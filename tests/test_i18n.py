"""bot.i18n and the two .ftl files."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fluent.syntax import FluentParser
from fluent.syntax import ast as ftl
from fluent.syntax.visitor import Visitor

from bot.access import Caller
from bot.i18n import SUPPORTED_LANGUAGES, Translator, pick_language
from bot.parsing.timeexpr import TimeExprError, parse_date, parse_range
from bot.render.text import Html, esc, visible_text
from bot.telegram.commands import Section, allowed
from handlers.start import help_text
from storage.roles import Role

TELEGRAM_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}

# Asked for by the brief, or already used by handlers and renderers.
REQUIRED = {
    *(f"role-{r}" for r in ("admin", "supervisor", "viewer", "none")),
    *(
        f"usage-{c}"
        for c in [
            "lang",
            "find",
            "online",
            "user",
            "org",
            "org-arg",
            "where",
            "track",
            "recordings",
            "attendance",
            "signins",
            "subscribe",
            "unsubscribe",
            "watch",
            "unwatch",
            "report",
            "register",
            "deluser",
            "mkgroup",
            "bind",
            "device",
            "role",
            "invite",
            "audit",
            "mute",
        ]
    ),
    *(
        f"cmd-{c}"
        for c in [
            "start",
            "help",
            "lang",
            "cancel",
            "find",
            "groups",
            "online",
            "user",
            "org",
            "where",
            "track",
            "recordings",
            "attendance",
            "signins",
            "broadcast",
            "subscribe",
            "unsubscribe",
            "subscriptions",
            "watch",
            "unwatch",
            "report",
            "register",
            "deluser",
            "mkgroup",
            "bind",
            "device",
            "role",
            "invite",
            "audit",
            "status",
            "mute",
        ]
    ),
    *(
        f"label-{x}"
        for x in [
            "account",
            "name",
            "pinyin",
            "online",
            "status",
            "priority",
            "role",
            "org",
            "path",
            "address",
            "remark",
            "sub-orgs",
            "groups",
            "members",
            "users",
        ]
    ),
    "role-from-settings",
    "everywhere",
    "help-unknown",
    "help-title",
    "help-names",
    "unknown-command",
    "unknown-text",
    "denied",
    "denied-button",
    "button-expired",
    "cancelled",
    "nothing-to-cancel",
    "lang-set",
    "not-found",
    "ambiguous",
    "find-title",
    "find-none",
    "and-more",
    "directory-empty",
    "groups-title",
    "groups-none",
    "members",
    "online-counts",
    "online-here",
    "online-elsewhere",
    "online-offline",
    "updated-at",
    "refreshing",
    "btn-refresh",
    "state-online",
    "state-offline",
    "org-counts",
    "roles-title",
    "role-set",
    "role-removed",
    "role-config-admin",
    "role-unknown-username",
    "invite-created",
    "invite-redeemed",
    "invite-invalid",
    "invite-expired",
    "invite-used",
    "err-platform-login",
    "err-platform-timeout",
    "err-platform-unreachable",
    "err-platform-generic",
    "err-internal",
    "alert-platform-login",
    "err-time-unparseable",
    "err-time-order",
    "err-time-span",
    "err-date-unparseable",
}

# Plausible values for every argument name the .ftl files use.
NUMBERS = {
    "count",
    "here",
    "elsewhere",
    "offline",
    "days",
    "id",
    "code",
    "page",
    "pages",
    "users",
    "online",
    "groups",
    "points",
    "segments",
    "located",
    "gps",
    "pending",
    "sent",
    "dead",
    "max",
    "line",
    "done",
    "total",
    "created",
    "exists",
    "failed",
    "members",
    "priority",
    "chats",
    "length",
    "thread",
    # bot.jobs
    "people",
    "clockedin",
    "clockedout",
    "late",
    "missing",
    "minutes",
    # bot.parsing.places
    "min_m",
    "max_km",
    "hours",
    # polygon fences
    "point",
    "other",
}
STRINGS = {
    "name": "@zhang_san",
    "role": "主管",
    "org": "一分局 & 二分局",
    "query": "zs <b>",
    "kind": "user",
    "command": "/frobnicate",
    "time": "10:30",
    "seconds": "10",
    "message": 'token "abc" expired',
    "explanation": "no such user",
    "detail": "connection refused",
    "ref": "u123",
    "link": "https://t.me/pttbridge_bot?start=Xy3_k&x=1",
    "expires": "2026-11-29 10:30",
    "text": "2026-02-30",
    "account": "zhangsan01",
    "age": "4 min ago",
    "speed": "42",
    "word": "NE",
    "degrees": "45",
    "metres": "12",
    "radius": "1.5 km",
    "across": "570 m",
    "group": "消防一组 <b>",
    "start": "2026-11-27 08:00",
    "end": "2026-11-28 08:00",
    "km": "12.34",
    "moving": "1 h 5 min",
    "max": "80",
    "avg": "35",
    "first": "2026-11-27 08:01",
    "distance": "350 m",  # /near
    "last": "2026-11-28 07:59",
    "day": "2026-11-28",
    "url": "http://10.1.2.3/a.ogg?x=1&y=2",
    "level": "2",
    "address": "延安路 <10> 号",
    "chat": "Fire & rescue",
    "reason": "Forbidden: bot was blocked by the user",
    "field": "name",
    "old": "张三",
    "new": "张叁",
    "until": "12-01 10:30",
    "levels": "1, 2",
    "orgs": "消防一大队、特勤中队",
    "names": "张三、李<四>",
    "spec": "zs:11",
    "call": "yes",
    "speak": "no",
    "targets": "orgs 消防一大队",
    # bot.jobs
    "zone": "Asia/Shanghai",
    "due": "08:30",
    "place": "延安路 <10> 号",
    "duration": "1 h 5 min",
    "example": "/online 1002",
    # /audit
    "who": "Admin <Ada>",
    "what": "mkgroup 501",
    "result": "created 2, exists 0, failed 0",
    "details": "kinds: incidents",
    "key": "kinds",
    "value": "incidents, notices",
    # /heard
    "words": "“火情” “under <control>”",
}


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator.load()


@functools.cache
def _resource(lang: str) -> ftl.Resource:
    return FluentParser().parse(_ftl_text(lang))


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_VariableReference(self, node: ftl.VariableReference) -> None:
        self.names.add(node.id.name)
        self.generic_visit(node)


@functools.cache
def variables(lang: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for entry in _resource(lang).body:
        if isinstance(entry, ftl.Message):
            v = _Variables()
            v.visit(entry)
            out[entry.id.name] = v.names
    return out


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.errors.append(f"<{tag}> is not Telegram HTML")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"stray </{tag}>")


def assert_telegram_html(html: str) -> None:
    p = _Balance()
    p.feed(html)
    p.close()
    assert not p.errors and not p.stack, (html, p.errors, p.stack)


def plausible_args(names: set[str], count: int = 2) -> dict[str, object]:
    args: dict[str, object] = {}
    for name in names:
        if name in NUMBERS:
            args[name] = count if name in {"count", "days"} else 123456789
        else:
            args[name] = STRINGS[name]
    return args


# -- the .ftl files --------------------------------------------------------------


def test_both_files_parse_without_junk() -> None:
    for lang in SUPPORTED_LANGUAGES:
        junk = [e for e in _resource(lang).body if isinstance(e, ftl.Junk)]
        assert not junk, [j.content for j in junk]


def test_both_languages_have_exactly_the_same_messages(translator: Translator) -> None:
    zh, en = translator.message_ids("zh"), translator.message_ids("en")
    assert zh - en == set(), "only in zh.ftl"
    assert en - zh == set(), "only in en.ftl"


def test_both_languages_take_the_same_arguments() -> None:
    zh, en = variables("zh"), variables("en")
    differ = {k: (zh[k], en[k]) for k in zh if zh[k] != en.get(k)}
    assert differ == {}


def test_required_messages_exist(translator: Translator) -> None:
    assert REQUIRED - translator.message_ids("zh") == set()


def test_ids_are_kebab_case(translator: Translator) -> None:
    for msg_id in translator.message_ids("zh"):
        assert re.fullmatch(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", msg_id), msg_id


def test_no_duplicate_ids() -> None:
    for lang in SUPPORTED_LANGUAGES:
        ids = [e.id.name for e in _resource(lang).body if isinstance(e, ftl.Message)]
        assert len(ids) == len(set(ids)), lang


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("count", [0, 1, 2, 21])
def test_every_message_formats_cleanly(translator: Translator, lang: str, count: int) -> None:
    for msg_id, names in variables(lang).items():
        assert set(names) <= NUMBERS | set(STRINGS), (msg_id, names)
        text, errors = translator.format_with_errors(lang, msg_id, plausible_args(names, count))
        assert errors == [], (lang, msg_id, errors)
        assert text.strip(), msg_id
        assert "{" not in text and "}" not in text, (msg_id, text)
        assert "\u2068" not in text and "\u2069" not in text  # no bidi isolation marks
        assert_telegram_html(text)
        assert "<" not in re.sub(r"</?[a-z-]+(?: [^<>]*)?>", "", text), (msg_id, text)


def test_chinese_text_is_chinese_and_english_is_not(translator: Translator) -> None:
    zh, en = translator.get("zh"), translator.get("en")
    assert re.search(r"[\u4e00-\u9fff]", zh("denied", role=zh("role-admin")))
    for msg_id in translator.message_ids("en") - {"cmd-lang", "help-names"}:
        names = variables("en")[msg_id]
        args = {k: ("x" if isinstance(v, str) else v) for k, v in plausible_args(names).items()}
        assert not re.search(r"[\u4e00-\u9fff]", en(msg_id, **args)), msg_id


# -- Translate ---------------------------------------------------------------------


def test_unknown_user_sees_their_id(translator: Translator) -> None:
    en = translator.get("en")
    assert "Your Telegram id is <code>123456789</code>." in en("help-unknown", id=123456789)
    assert "<code>123456789</code>" in translator.get("zh")("help-unknown", id=123456789)


def test_numbers_are_not_grouped(translator: Translator) -> None:
    t = translator.get("en")
    assert "code 50123" in t("err-platform-generic", code=50123, message="x", explanation="y")
    assert "1234 matches" in t("ambiguous", count=1234, query="x")
    assert "<code>5012345678</code>" in t("role-removed", id=5012345678)


def test_english_plurals(translator: Translator) -> None:
    t = translator.get("en")
    assert t("ambiguous", count=1, query="zs").startswith("“zs”: one match —")
    assert t("ambiguous", count=2, query="zs").startswith("“zs”: 2 matches —")
    assert t("members", count=1) == "1 member"
    assert t("members", count=0) == "0 members"
    assert "one day" in t("err-time-span", days=1)
    assert "7 days" in t("err-time-span", days=7)
    assert translator.get("zh")("members", count=1) == "1 名成员"


def test_arguments_are_escaped_once(translator: Translator) -> None:
    t = translator.get("en")
    assert t("find-none", query="<b>&") == "Nothing matches “&lt;b&gt;&amp;”."
    assert t("find-none", query=esc("<b>&")) == "Nothing matches “&lt;b&gt;&amp;”."
    assert t("find-none", query=Html("<i>x</i>")) == "Nothing matches “<i>x</i>”."
    assert t("find-none", query=None) == "Nothing matches “”."
    role = t("role-supervisor")
    everywhere = t("everywhere")
    assert isinstance(everywhere, Html)
    assert t("role-set", id=42, role=role, org=everywhere) == (
        "<code>42</code> now has the supervisor role (all orgs)."
    )
    assert t("role-set", id=42, role=role, org="A&B") == (
        "<code>42</code> now has the supervisor role (A&amp;B)."
    )
    # a formatted message passed into another one is not escaped again
    inner = translator.get("zh")("not-found", kind="org", query="A&B")
    assert "A&amp;B" in inner
    assert t("find-none", query=inner).count("&amp;") == 1


def test_not_found_names_the_kind(translator: Translator) -> None:
    t = translator.get("en")
    assert t("not-found", kind="user", query="zs") == "No user matches “zs”."
    assert t("not-found", kind="group", query="zs") == "No group matches “zs”."
    assert t("not-found", kind="org", query="9") == "No org matches “9”."
    assert t("not-found", kind="thing", query="zs") == "Nothing matches “zs”."
    zh = translator.get("zh")
    assert zh("not-found", kind="group", query="一组") == "没有与“一组”匹配的对讲组。"


def test_command_descriptions_are_plain_and_short(translator: Translator) -> None:
    for lang in SUPPORTED_LANGUAGES:
        t = translator.get(lang)
        for msg_id in translator.message_ids(lang):
            if msg_id.startswith("cmd-"):
                text = t(msg_id)
                assert 1 <= len(text) <= 256, msg_id  # Telegram's BotCommand limits
                assert "<" not in text and "&" not in text, msg_id


def test_plain_text_for_buttons(translator: Translator) -> None:
    t = translator.get("en")
    assert t.plain("find-none", query="<b>&") == "Nothing matches “<b>&”."
    assert t.plain("err-internal", ref="x1") == "Something went wrong (ref x1)."
    assert t.plain("btn-refresh") == "🔄 Refresh"


def test_unknown_language_gets_the_default(translator: Translator) -> None:
    assert translator.get("de").lang == "zh"
    assert translator.get(None).lang == "zh"
    assert Translator.load(default_lang="en").get("fr").lang == "en"
    assert translator.get("en")("lang-set") == "Language set to English."
    assert translator.get("zh")("lang-set") == "已切换为中文。"


def test_missing_message_falls_back_then_to_the_key(caplog: pytest.LogCaptureFixture) -> None:
    tr = Translator(
        {"zh": "a = 甲\nonly-zh = 只有中文\n", "en": "a = A\nonly-en = English only\n"},
        default_lang="zh",
    )
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert tr.get("en")("a") == "A"
        assert caplog.records == []
        assert tr.get("en")("only-zh") == "只有中文"
        assert tr.get("zh")("only-en") == "English only"
        assert tr.get("zh")("nowhere") == "nowhere"
    assert len(caplog.records) == 3
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_a_missing_argument_is_logged_not_raised(
    translator: Translator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        out = translator.get("en")("denied")
    assert out.startswith("This needs the")
    assert "denied" in caplog.text


def test_a_syntax_error_fails_at_load() -> None:
    with pytest.raises(ValueError, match="cannot parse"):
        Translator({"zh": "ok = 好\nbroken = { $x\n", "en": "ok = ok\n"})
    with pytest.raises(ValueError, match="default language"):
        Translator({"en": "ok = ok\n"}, default_lang="zh")


def test_time_expression_errors_have_messages(translator: Translator) -> None:
    now = datetime(2026, 11, 28, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    tz = ZoneInfo("Asia/Shanghai")
    errors: list[TimeExprError] = []
    for args in (["x"], ["09:00", "08:00"], ["-9d"]):
        with pytest.raises(TimeExprError) as info:
            parse_range(args, now, tz, max_span=timedelta(days=7))
        errors.append(info.value)
    with pytest.raises(TimeExprError) as info:
        parse_date("x<y", now, tz)
    errors.append(info.value)
    for e in errors:
        for lang in SUPPORTED_LANGUAGES:
            _, problems = translator.format_with_errors(lang, e.msg_id, e.msg_args)
            assert problems == [], (e.msg_id, problems)
    assert "&lt;" in translator.get("en")(errors[-1].msg_id, **errors[-1].msg_args)
    assert "7 days" in translator.get("en")(errors[2].msg_id, **errors[2].msg_args)


# -- pick_language -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "code", "default", "want"),
    [
        ("en", "zh-hans", "zh", "en"),
        ("zh", "en-US", "en", "zh"),
        (None, "zh-hans", "en", "zh"),
        (None, "zh-CN", "en", "zh"),
        (None, "zh-TW", "en", "zh"),
        (None, "ZH", "en", "zh"),
        (None, "en", "zh", "en"),
        (None, "en-US", "zh", "en"),
        (None, "en_GB", "zh", "en"),
        (None, "de", "zh", "zh"),
        (None, "eng", "zh", "zh"),
        (None, "", "en", "en"),
        (None, None, "en", "en"),
        ("fr", "en", "zh", "en"),  # an unsupported stored choice is ignored
        ("", None, "zh", "zh"),
    ],
)
def test_pick_language(choice: str | None, code: str | None, default: str, want: str) -> None:
    assert pick_language(choice, code, default) == want


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_an_argument_longer_than_fluents_placeable_limit_is_kept_whole(
    translator: Translator, lang: str
) -> None:
    # Fluent turns a whole message into "{???}" when one argument passes 2,500 characters
    # (a platform name, a long rendered list): the argument must come out whole, escaped.
    long_name = "<张三>" * 1500
    html_list = Html("<b>x</b>\n" * 400)
    value, errors = translator.format_with_errors(lang, "unknown-command", {"command": long_name})
    assert errors == []
    assert "{???}" not in value
    assert esc(long_name) in value
    value, errors = translator.format_with_errors(lang, "unknown-command", {"command": html_list})
    assert errors == [] and str(html_list) in value


# -- issue 14 point 6: words, units and plural forms ------------------------------------------


def _ftl_text(lang: str) -> str:
    """`<lang>.ftl` and every `<lang>-<feature>.ftl`, as the translator reads them."""
    folder = Path(__file__).parent.parent / "bot" / "locales"
    extra = sorted(folder.glob(f"{lang}-*.ftl"))
    return "\n".join(f.read_text("utf-8") for f in [folder / f"{lang}.ftl", *extra])


def test_chinese_says_talk_group_one_way_and_units_in_chinese() -> None:
    messages = [  # what a reader sees: no comments, no { $variables }
        re.sub(r"\{[^{}]*\}", "", line)
        for line in _ftl_text("zh").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for word in ("群组", "通话组", "km/h", "km"):
        assert [m for m in messages if word in m] == [], word


def test_english_never_says_s_in_brackets() -> None:
    # "http(s)" is how a link's scheme is written, not a plural
    assert set(re.findall(r"(\w+)\((?:s|es)\)", _ftl_text("en"))) <= {"http"}


def test_english_counts_of_one_are_singular(translator: Translator) -> None:
    """Every number of en.ftl set to 1, one at a time: never "1 chats", "1 users"."""
    wrong: list[str] = []
    for msg_id, names in variables("en").items():
        for name in names & NUMBERS - {"id"}:  # "<id> was deleted" is no count
            args = {**plausible_args(names), name: 1}
            text = translator.format("en", msg_id, args)
            found = re.findall(r"(?<![\d.])1 (?!s\b)[a-z]+[^s\W]s\b", visible_text(text))
            wrong += [f"{msg_id} (${name}=1): {f}" for f in found]
    assert wrong == []


async def test_a_digest_set_after_its_time_says_it_starts_tomorrow(bot_stack: Any) -> None:
    """/report daily at an hour already past today: the reply says the first digest comes
    tomorrow and why (the bridge's clock and its scheduler both run on real time here)."""
    stack = bot_stack
    tz = ZoneInfo("Asia/Shanghai")
    chat = stack.add_group(-100_7101, "Duty")
    now = datetime.now(tz)
    past = max(now - timedelta(hours=1), now.replace(hour=0, minute=0))
    [reply] = await stack.say("admin", f"/report daily {past:%H:%M}", chat=chat)
    assert "First one: " in reply.plain_text()
    if past.date() == now.date() and past.time() < now.time():
        assert f"First one: tomorrow at {past:%H:%M} (today's {past:%H:%M} has passed" in (
            reply.plain_text()
        )
    ahead = now + timedelta(minutes=5)
    [reply] = await stack.say("admin", f"/report daily {ahead:%H:%M}", chat=chat)
    assert "First one: " in reply.plain_text()
    if ahead.date() == now.date():
        assert f"First one: today at {ahead:%H:%M}." in reply.plain_text()


def _phone_lines(line: str, columns: int = 36) -> int:
    """Rows a line takes on a phone about `columns` Latin letters wide (CJK twice as wide)."""
    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
    return max(1, -(-width // columns))


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_help_is_grouped_and_each_group_fits_a_phone_screen(
    translator: Translator, lang: str
) -> None:
    t = translator.get(lang)
    heads = {s: visible_text(t(f"help-section-{s.value}")) for s in Section}
    seen: dict[Role, list[Section]] = {}
    for role in (Role.VIEWER, Role.SUPERVISOR, Role.ADMIN):
        text = visible_text(help_text(t, Caller(1, role, None, None, lang)))
        parts = text.split("\n\n")
        for part in parts:
            assert sum(_phone_lines(line) for line in part.splitlines()) <= 25, (role, part)
        seen[role] = [s for s, head in heads.items() if f"\n\n{head}\n" in text]
        for c in allowed(role):
            if not c.in_menu:
                continue
            [line] = [x for x in text.splitlines() if x.startswith(f"/{c.name} — ")]
            usage = f"usage-{c.name}"
            if usage in translator.message_ids(lang) and c.name != "register":
                example = t.plain(f"help-example-{c.name}")
                assert line.endswith(example) and example.startswith(f"/{c.name} "), line
    assert seen[Role.ADMIN] == list(Section)
    assert seen[Role.SUPERVISOR] == [Section.LOOKUP, Section.LOCATION, Section.ALERTS]
    assert seen[Role.VIEWER] == [Section.LOOKUP, Section.ALERTS]  # /mute alone
    if lang == "zh":
        assert [heads[s] for s in Section] == ["🔎 查询", "📍 位置", "🔔 推送", "🛠 管理"]
