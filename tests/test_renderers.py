"""Renderers as plain functions: plain data in, HTML text and inline keyboards out.

No Telegram, no platform, no storage: the four renderer homes (`bot/render/replies.py`,
`bot/render/geo.py`, `bot/render/jobs.py`, `bot/render/relay.py`) called directly. What
every one of them owes: platform strings escaped, lists capped, buttons that say what they
do and carry the callback data their handler filters on.
"""

from __future__ import annotations

import ast
import html
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.directory import DirGroup, DirOrg, DirUser, Kind, Match
from bot.i18n import Translate, Translator
from bot.platform.models import Fix, Notice, Recording, SignInRecord, UserInfo
from bot.relay.events import IncidentReport
from bot.render.audit import AUDIT_ACTIONS, AUDIT_KEYS, audit_text
from bot.render.geo import fix_details, group_fixes, recording_caption, recordings_page
from bot.render.jobs import (
    PRESENCE_NAMES_LIMIT,
    PresenceBlock,
    PresenceItem,
    presence_text,
    report_current_text,
    report_set_text,
    signins_text,
    watch_text,
)
from bot.render.relay import (
    MAX_FILES,
    MAX_NOTICE_LINKS,
    attachment_kind,
    diff_lines,
    incident_messages,
    link,
    mute_summary,
    notice_text,
)
from bot.render.replies import (
    GROUPS_PER_PAGE,
    ORG_USERS_SHOWN,
    bind_done_text,
    choices,
    deluser_confirm_text,
    find_results,
    groups_page,
    online_view,
    org_details,
    org_ids_text,
    register_done_text,
    roles_text,
    user_details,
)
from bot.render.text import MESSAGE_LIMIT, RAW_LIMIT, visible_len, visible_text
from bot.telegram.callbacks import (
    GroupsCb,
    OnlineCb,
    PickAction,
    PickCb,
    RecPageCb,
    RecPlayCb,
    WhereCb,
)
from storage.audit import AuditEntry
from storage.reports import Report
from storage.roles import Grant, Role

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 15, 0, tzinfo=TZ)
EVIL = "<b>&x</b>"  # a platform string that must come out as text, never markup
EVIL_HTML = "&lt;b&gt;&amp;x&lt;/b&gt;"


@pytest.fixture(scope="module")
def t() -> Translate:
    return Translator.load("en").get("en")


@pytest.fixture(scope="module")
def t_zh() -> Translate:
    return Translator.load("zh").get("zh")


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def buttons(kb: InlineKeyboardMarkup | None) -> list[InlineKeyboardButton]:
    assert kb is not None
    return [b for row in kb.inline_keyboard for b in row]


def user(uid: int, name: str = "", account: str = "", org: int | None = 1) -> DirUser:
    return DirUser(uid, account or f"a{uid}", name or f"User {uid}", org, "", "")


def group(gid: int, name: str = "", members: tuple[int, ...] = ()) -> DirGroup:
    return DirGroup(gid, name or f"Group {gid}", 1, members, "", "")


def org(oid: int, name: str = "", parent: int | None = None, **kw: Any) -> DirOrg:
    return DirOrg(oid, name or f"Org {oid}", parent, "", "", **kw)


# ------------------------------------------------------------------------ bot/render/replies.py


def test_choices_offer_at_most_eight_buttons_naming_the_kind(t: Translate) -> None:
    matches = [Match(Kind.USER, i, f"User {i}", 0) for i in range(12)]
    reply = choices(t, matches, PickAction.WHERE, EVIL)
    assert EVIL_HTML in reply.text and EVIL not in reply.text
    bs = buttons(reply.keyboard)
    assert [b.text for b in bs] == [f"👤 User {i}" for i in range(8)]
    assert bs[0].callback_data == PickCb(action=PickAction.WHERE, kind=Kind.USER, id=0).pack()


def test_find_results_list_every_match_and_button_the_first_eight(t: Translate) -> None:
    matches = [
        Match(Kind.USER, 1, EVIL, 0),
        Match(Kind.GROUP, 2, "G", 0),
        Match(Kind.ORG, 3, "O", 0),
        *(Match(Kind.USER, 10 + i, f"U{i}", 0) for i in range(7)),
    ]
    reply = find_results(t, "q", matches)
    assert reply.text.count("<code>") == len(matches)
    assert EVIL_HTML in reply.text and EVIL not in reply.text
    bs = buttons(reply.keyboard)
    assert len(bs) == 8
    # A user opens the user, a group its presence, an org the org.
    assert [PickCb.unpack(b.callback_data or "").action for b in bs[:3]] == [
        PickAction.USER,
        PickAction.ONLINE,
        PickAction.ORG,
    ]


def test_find_results_without_match_say_so_without_keyboard(t: Translate) -> None:
    reply = find_results(t, EVIL, [])
    assert reply == find_results(t, EVIL, ())
    assert reply.keyboard is None and EVIL_HTML in reply.text


def test_groups_page_pages_and_clamps(t: Translate) -> None:
    gs = [group(100 + i) for i in range(GROUPS_PER_PAGE * 2 + 3)]
    first, middle, last = groups_page(t, gs, 0), groups_page(t, gs, 1), groups_page(t, gs, 99)
    nav = [b.text for b in buttons(middle.keyboard) if b.text in ("◀", "▶")]
    assert nav == ["◀", "▶"]
    assert [b.text for b in buttons(first.keyboard)][-1] == "▶"
    assert buttons(first.keyboard)[-1].callback_data == GroupsCb(page=1).pack()
    # A page past the end shows the last one: its three groups and only a way back.
    assert last == groups_page(t, gs, 2)
    assert [b.text for b in buttons(last.keyboard)] == [
        f"👥 Group {100 + i}" for i in (20, 21, 22)
    ] + ["◀"]
    assert buttons(last.keyboard)[0].callback_data == OnlineCb(gid=120).pack()


def test_groups_page_without_groups(t: Translate) -> None:
    assert groups_page(t, [], 0).keyboard is None


def test_online_view_lists_three_kinds_and_a_refresh_button(t: Translate) -> None:
    g = group(7, EVIL)
    reply = online_view(t, g, [user(1, EVIL)], [], [user(2), user(3)], "12:34:56")
    text = plain(reply.text)
    assert reply.text.count(EVIL_HTML) == 2 and EVIL not in reply.text
    assert plain(t("online-counts", here=1, elsewhere=0, offline=2)) in text
    assert "12:34:56" in text
    elsewhere = text.index(plain(t("online-elsewhere")))
    assert text[elsewhere:].splitlines()[1].strip() == "—"  # nobody elsewhere
    (refresh,) = buttons(reply.keyboard)
    assert refresh.callback_data == OnlineCb(gid=7, refresh=True).pack()


def test_user_details_shows_the_full_pinyin_the_path_and_up_to_six_group_buttons(
    t: Translate,
) -> None:
    info = UserInfo(id=5, account=EVIL, name="张三", pinyin="zs|zhangsan", online=True)
    path = [org(1, "HQ"), org(2, EVIL, 1)]
    groups = [(100 + i, f"G{i}") for i in range(8)]
    reply = user_details(t, info, path, groups)
    text = plain(reply.text)
    assert "zhangsan" in text and "zs|" not in text
    assert f"HQ › {EVIL}" in text
    assert reply.text.count(EVIL_HTML) == 2
    assert plain(t("state-online")) in text
    assert [b.callback_data for b in buttons(reply.keyboard)] == [
        OnlineCb(gid=100 + i).pack() for i in range(6)
    ]
    assert all(f"G{i}" in text for i in range(8))  # every group listed, six buttoned


def test_user_details_without_groups_has_no_keyboard(t: Translate) -> None:
    reply = user_details(t, UserInfo(id=5, name="x"), [], [])
    assert reply.keyboard is None
    assert plain(t("state-offline")) in plain(reply.text)


def test_org_details_puts_online_users_first_and_caps_the_list(t: Translate) -> None:
    users = [(f"off{i}", f"o{i}", False) for i in range(ORG_USERS_SHOWN)] + [("on", "n", True)]
    o = org(2, EVIL, 1, address=EVIL, remark="r")
    reply = org_details(t, o, [org(1), o], [org(3)], [group(9)], users)
    text = plain(reply.text)
    names = [line.split()[1] for line in text.splitlines() if line.startswith(("  🟢", "  ⚪"))]
    assert names[0] == "on" and len(names) == ORG_USERS_SHOWN
    assert plain(t("and-more", count=1)) in text
    assert plain(t("org-counts", users=len(users), online=1, groups=1)) in text
    assert EVIL not in reply.text
    assert [b.callback_data for b in buttons(reply.keyboard)] == [
        PickCb(action=PickAction.ORG, kind=Kind.ORG, id=3).pack(),
        OnlineCb(gid=9).pack(),
    ]


def test_org_details_of_a_leaf_has_no_keyboard(t: Translate) -> None:
    reply = org_details(t, org(1), [org(1)], [], [], [])
    assert reply.keyboard is None
    assert plain(t("label-path")) not in plain(reply.text)  # a root has no path line


# -------------------------------------------------------------------- bot/render/geo.py


def fix(**kw: Any) -> Fix:
    values: dict[str, Any] = {"uid": 1, "lat": 31.2, "lon": 121.5, "time": NOW}
    values.update(kw)
    return Fix.model_construct(**values)  # plain data: the platform's shapes are parsed elsewhere


def test_fix_details_today_fresh_and_another_day_stale(t: Translate) -> None:
    fresh = fix_details(t, "en", user(1, EVIL), fix(speed=42.4, online=True), NOW, TZ)
    old = fix_details(t, "en", user(1), fix(time=NOW - timedelta(days=2)), NOW, TZ)
    assert EVIL_HTML in fresh and EVIL not in fresh
    assert "15:00:00" in fresh and "2026-11-28" not in fresh
    assert plain(t("where-stale")) not in plain(fresh)
    assert "2026-11-26 15:00:00" in old and plain(t("where-stale")) in plain(old)
    assert plain(t("where-speed", speed="42")) in plain(fresh)
    assert fresh.endswith("<code>31.200000, 121.500000</code>")


def test_fix_details_without_time_and_with_sources(t: Translate) -> None:
    cell = fix_details(t, "en", user(1), fix(time=None, position_type=1), NOW, TZ)
    gps = fix_details(t, "en", user(1), fix(position_type=0, bearing=90.0), NOW, TZ)
    assert plain(t("where-no-time")) in plain(cell)
    assert plain(t("where-source-cell")) in plain(cell)
    assert plain(t("where-source-gps")) in plain(gps)
    assert "90" in plain(gps) and plain(t("where-heading", word="E", degrees="90")) in plain(gps)


def test_group_fixes_newest_first_and_members_without_a_fix_apart(t: Translate) -> None:
    members = [user(1, "old"), user(2, "new"), user(3, EVIL)]
    fixes = {1: fix(uid=1, time=NOW - timedelta(hours=3)), 2: fix(uid=2, time=NOW)}
    reply = group_fixes(t, "en", group(7, "G"), members, fixes, NOW, TZ)
    text = plain(reply.text)
    assert text.index("new") < text.index("old") < text.index(EVIL)
    assert "⚠️" in text.splitlines()[2] and "⚠️" not in text.splitlines()[1]
    assert plain(t("where-group-no-fix", count=1)) in text
    assert [b.callback_data for b in buttons(reply.keyboard)] == [
        WhereCb(uid=2).pack(),
        WhereCb(uid=1).pack(),
    ]
    assert group_fixes(t, "en", group(7), members, {}, NOW, TZ).keyboard is None


def test_group_fixes_speed_in_the_readers_units(t: Translate, t_zh: Translate) -> None:
    fixes = {1: fix(uid=1, time=NOW, speed=36.4)}
    zh = plain(group_fixes(t_zh, "zh", group(7, "G"), [user(1, "甲")], fixes, NOW, TZ).text)
    assert "36 公里/小时" in zh and "km" not in zh
    en = plain(group_fixes(t, "en", group(7, "G"), [user(1, "A")], fixes, NOW, TZ).text)
    assert "36 km/h" in en


def test_recordings_page_buttons_and_paging(t: Translate) -> None:
    records = [
        Recording.model_construct(begin=NOW, duration_ms=75_000, group_name=EVIL),
        Recording.model_construct(begin=NOW - timedelta(minutes=5), duration_ms=None),
    ]
    day = date(2026, 11, 28)
    reply = recordings_page(t, user(9), day, records, 2, True, TZ)
    lines = plain(reply.text).splitlines()
    assert lines[1] == f"1. 15:00:00 · 1:15 · {EVIL}"
    assert lines[2] == "2. 14:55:00 · ? · —"
    assert EVIL not in reply.text
    assert [b.callback_data for b in buttons(reply.keyboard)] == [
        RecPlayCb(uid=9, day=20261128, page=2, idx=0).pack(),
        RecPlayCb(uid=9, day=20261128, page=2, idx=1).pack(),
        RecPageCb(uid=9, day=20261128, page=1).pack(),
        RecPageCb(uid=9, day=20261128, page=3).pack(),
    ]
    first = recordings_page(t, user(9), day, records, 1, False, TZ)
    assert [b.text for b in buttons(first.keyboard)] == ["▶ 1", "▶ 2"]  # no paging


def test_recording_caption(t: Translate) -> None:
    caption = recording_caption(
        t, user(9, "Li"), Recording.model_construct(begin=NOW, duration_ms=4_400), TZ
    )
    assert "2026-11-28 15:00:00" in caption and "Li" in caption and "4" in caption


# -------------------------------------------------------------------- bot/render/relay.py


def test_attachment_kind_by_extension_and_only_for_web_urls() -> None:
    assert attachment_kind("https://x/a/b.JPG?x=1") == "photo"
    assert attachment_kind("http://x/v.amr") == "audio"
    assert attachment_kind("https://x/doc.pdf") == "link"
    assert attachment_kind("file:///etc/a.png") == "link"
    assert attachment_kind("javascript:alert(1)//.png") == "link"


def test_link_is_a_link_only_for_http(t: Translate) -> None:
    assert link(t, "https://x/y/file.pdf") == '<a href="https://x/y/file.pdf">file.pdf</a>'
    assert "<a" not in link(t, "javascript:alert('<x>')")
    assert link(t, "tg://x", EVIL) == f"{EVIL_HTML} (tg://x)"


def report(**kw: Any) -> IncidentReport:
    values: dict[str, Any] = {
        "id": 1,
        "code": "INC-1",
        "type": EVIL,
        "level": "high",
        "from": {"name": "张三", "account": "zs"},
        "to": {"name": "East"},
        "topic": "Fire",
    }
    values.update(kw)
    return IncidentReport.model_validate(values)


def test_a_short_incident_is_one_message_saying_what_where_who_and_when(t: Translate) -> None:
    (text,) = incident_messages(t, report(content="smoke"), TZ, NOW)
    assert EVIL_HTML in text and EVIL not in text
    assert "INC-1" in text and "张三 (zs)" in text and "East" in text and "smoke" in text
    assert "11-28 15:00" in text
    acked = incident_messages(t, report(content="smoke"), TZ, NOW, ("Bob", NOW))
    assert plain(t("inc-acked", name="Bob", time="15:00")) in plain(acked[0])


def test_a_long_incident_is_split_under_the_limits_with_the_header_first(t: Translate) -> None:
    parts = incident_messages(t, report(content="烟" * 12_000), TZ, NOW)
    assert len(parts) > 1
    assert "INC-1" in parts[0] and "张三" in parts[0]
    for part in parts:
        assert visible_len(part) <= MESSAGE_LIMIT and len(part) <= RAW_LIMIT
    # An acknowledgement edits the header only: the cuts stay where they were.
    acked = incident_messages(t, report(content="烟" * 12_000), TZ, NOW, ("Bob", NOW))
    assert acked[1:] == parts[1:]


def test_an_incident_counts_the_files_sent_and_links_the_ones_beyond(t: Translate) -> None:
    urls = [f"https://x/{i}.jpg" for i in range(MAX_FILES + 2)] + ["https://x/d.pdf"]
    whole = "\n".join(incident_messages(t, report(urls=urls), TZ, NOW))
    assert plain(t("inc-media", count=MAX_FILES)) in plain(whole)
    assert plain(t("inc-more-attachments", count=2)) in plain(whole)
    # Linked: the two photos past MAX_FILES and the document; the first ten are sent.
    assert f"{MAX_FILES + 1}.jpg</a>" in whole and "d.pdf</a>" in whole
    assert "/0.jpg" not in whole


def test_notice_text_caps_its_links(t: Translate) -> None:
    notice = Notice.model_validate(
        {
            "from": {"id": 1, "name": EVIL},
            "to": {"orgIds": [1]},
            "title": EVIL,
            "content": "c",
            "accessory": [
                {"name": f"f{i}", "url": f"https://x/{i}"} for i in range(MAX_NOTICE_LINKS + 3)
            ],
        }
    )
    text = notice_text(t, notice)
    assert text.count("📎") == MAX_NOTICE_LINKS
    assert plain(t("and-more", count=3)) in plain(text)
    assert EVIL not in text and text.count(EVIL_HTML) == 2


def test_diff_lines_fields_groups_and_presence(t: Translate) -> None:
    before = {"name": "张三", "groups": ["a", "b"], "online": False, "role": None}
    after = {"name": EVIL, "groups": ["b", "c"], "online": True, "role": "r"}
    lines = diff_lines(t, before, after)
    assert len(lines) == 4
    assert EVIL_HTML in lines[0] and "张三" in lines[0]
    assert "—" in lines[1]  # the role had none
    assert lines[2].endswith(": + c − a")
    assert lines[3] == t("chg-online-now")
    assert diff_lines(t, before, before) == []


def test_mute_summary_counts_by_kind(t: Translate) -> None:
    text = mute_summary(t, ["report", "org-updated", "report"], ["x"])
    assert f"• {t.plain('kind-org-updated')}: 1" in text
    assert f"• {t.plain('kind-report')}: 2" in text
    assert text.endswith("\n\nx")


# ---------------------------------------------------------------------- bot/render/jobs.py


def test_presence_text_sorts_changes_and_caps_names(t: Translate) -> None:
    items = [PresenceItem(f"n{i}", f"a{i}", online=True, here=True) for i in range(45)]
    items.append(PresenceItem(EVIL, "x", online=False, here=False))
    text = presence_text(t, [PresenceBlock(EVIL, 7, items)], "09:00")
    assert EVIL not in text and text.count(EVIL_HTML) == 2
    assert plain(t("and-more", count=45 - PRESENCE_NAMES_LIMIT)) in plain(text)
    assert "09:00" in plain(text)


def test_signins_text_counts_people_and_caps_the_list(t: Translate) -> None:
    records = [
        SignInRecord.model_construct(
            user_id=i % 3, user_name=EVIL, sign_time=NOW, address=None, lat=1.0, lon=2.0
        )
        for i in range(5)
    ]
    text = signins_text(t, "2026-11-28", records, "HQ", TZ, limit=2)
    assert plain(t("signin-counts", count=5, people=3)) in plain(text)
    assert plain(t("and-more", count=3)) in plain(text)
    assert "1.00000, 2.00000" in text and EVIL not in text
    none = signins_text(t, "2026-11-28", [], None, TZ)
    assert plain(t("signin-none", day="2026-11-28")) in plain(none)


def test_watch_text_new_and_already(t: Translate) -> None:
    assert watch_text(t, True, "G", 2, 5, 30) == t(
        "watch-done", group="G", online=2, count=5, seconds="30"
    )
    assert watch_text(t, False, "G", 2, 5, 30) == t(
        "watch-already", group="G", online=2, count=5, seconds="30"
    )


class _Directory:
    """The one lookup the report texts make."""

    def org(self, oid: int) -> DirOrg | None:
        return org(oid, "HQ") if oid == 1 else None


def test_report_current_text_names_the_org_or_its_id(t: Translate) -> None:
    d: Any = _Directory()

    def at(org_id: int | None) -> Report:
        return Report(1, 0, "08:30", org_id, None, datetime(2026, 1, 1, tzinfo=UTC), None)

    assert report_current_text(t, None, d, "CST") == t("report-current-none")
    assert report_current_text(t, at(None), d, "CST") == t(
        "report-current", time="08:30", zone="CST"
    )
    assert "HQ" in report_current_text(t, at(1), d, "CST")
    assert "42" in report_current_text(t, at(42), d, "CST")  # an org no longer there


def test_report_set_says_when_the_first_digest_comes(t: Translate, t_zh: Translate) -> None:
    """#14 point 6: /report daily 08:30 set at 15:21 — today's 08:30 has passed, none is
    sent today (the start-up catch-up skips a digest set after its time): say so."""
    d: Any = _Directory()
    set_at = datetime(2026, 12, 3, 15, 21, tzinfo=TZ)
    late = Report(1, 0, "08:30", None, None, set_at, None)
    zh = report_set_text(t_zh, late, d, "Asia/Shanghai", None, TZ)
    assert "第一次：明天 08:30（今天的 08:30 已经过了，今天的汇总不再补发" in visible_text(zh)
    en = report_set_text(t, late, d, "Asia/Shanghai", None, TZ, now=set_at)
    assert "First one: tomorrow at 08:30 (today's 08:30 has passed, so none is sent today" in (
        visible_text(en)
    )
    early = Report(1, 0, "16:00", 1, None, set_at, None)
    assert "First one: today at 16:00." in visible_text(
        report_set_text(t, early, d, "Asia/Shanghai", None, TZ)
    )
    # Set again unchanged days later (the report keeps when it was first set): the
    # scheduler's next run, with its date, unless the caller says what now is.
    later = datetime(2026, 12, 9, 7, 0, tzinfo=TZ)
    kept = report_set_text(t, late, d, "Asia/Shanghai", later.replace(hour=8, minute=30), TZ)
    assert "First one: 2026-12-09 at 08:30." in visible_text(kept)
    assert "First one: today at 08:30." in visible_text(
        report_set_text(t, late, d, "Asia/Shanghai", None, TZ, now=later)
    )


def test_a_renderer_speaks_the_translators_language(t: Translate, t_zh: Translate) -> None:
    en = find_results(t, "q", []).text
    zh = find_results(t_zh, "q", []).text
    assert en != zh and en == t("find-none", query="q") and zh == t_zh("find-none", query="q")


# -- admin and roles (#13 point 8: HTML out of the handlers) --------------------------------


def test_deluser_confirm_text_lists_escaped_labels_with_ids(t: Translate) -> None:
    text = deluser_confirm_text(t, {10001: EVIL, 10002: "李四"})
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[1] == f"• {EVIL_HTML} <code>10001</code>"
    assert lines[2] == "• 李四 <code>10002</code>"
    assert EVIL not in text


def test_audit_text_one_line_per_entry_in_the_zone(t: Translate) -> None:
    at = datetime(2026, 11, 28, 7, 5, tzinfo=UTC)  # 15:05 in Asia/Shanghai
    row = {"id": 1, "priority": 3, "callPermission": "Y", "canSpeak": "N"}
    full = AuditEntry(1, at, 1001, "bind", "501", {"users": [row], "note": "", "x": None}, EVIL)
    bare = AuditEntry(2, at, None, "sweep", None, {}, "ok")
    text = audit_text(t, [(full, EVIL), (bare, "bridge")], TZ)
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[1] == (
        f"11-28 15:05 <b>{EVIL_HTML}</b> bound to talk group 501 "
        f"(users: 1: priority 3, may call: yes, may speak: no) → {EVIL_HTML}"
    )
    assert lines[2] == "11-28 15:05 <b>bridge</b> sweep → ok"


def test_audit_text_caps_the_arguments_shown(t: Translate) -> None:
    entry = AuditEntry(1, NOW, 1, "mkgroup", "7", {"name": "x" * 500}, "ok")
    line = audit_text(t, [(entry, "Ada")], TZ).splitlines()[1]
    assert f"(name: {'x' * 153}…)" in line


def test_audit_details_are_words_not_python(t: Translate, t_zh: Translate) -> None:
    """#14 point 6: `kinds=['incidents']` was shown as it is; now 类型：事件上报."""
    args = {
        "kinds": ["incidents", "recordings"],
        "orgs": [266, 267],
        "users": [],
        "levels": [1, 2],
        "at": None,
        "thread": 0,
    }
    entry = AuditEntry(1, NOW, 1001, "subscribe", "-100777", args, "ok")
    zh = audit_text(t_zh, [(entry, "管理员")], TZ).splitlines()[1]
    assert zh == (
        "11-28 15:00 <b>管理员</b> 订阅 -100777"
        "（类型：事件上报、录音；组织：266、267；等级：1、2）→ 成功"
    )
    en = audit_text(t, [(entry, "Ada")], TZ).splitlines()[1]
    assert en == (
        "11-28 15:00 <b>Ada</b> subscribed -100777"
        " (kinds: incidents, recordings; orgs: 266, 267; levels: 1, 2) → ok"
    )
    seen = AuditEntry(
        2,
        NOW,
        1001,
        "track",
        "10001",
        {"name": "张三", "from": "2026-11-27T23:00:00+00:00", "to": NOW.isoformat()},
        "12 points",
    )
    device = AuditEntry(3, NOW, 1001, "device", "860005", {"state": "repair"}, "ok")
    role = AuditEntry(4, NOW, 1001, "role", "42", {"role": "viewer", "org": 266}, "ok")
    text = audit_text(t_zh, [(seen, "甲"), (device, "甲"), (role, "甲")], TZ)
    assert "查询轨迹 10001（名称：张三；从：11-28 07:00；到：11-28 15:00）→ 12 points" in text
    assert "设置终端 860005（状态：维修中）→ 成功" in text
    assert "设置角色 42（角色：查看者；组织：266）→ 成功" in text
    for bad in ("[", "]", "'", "=", "{"):
        assert bad not in visible_text(text)


def _written_audit_details() -> tuple[set[str], set[str]]:
    """The actions and detail keys the handlers write: every `….add(actor, action, target,
    {…})` and `audited(ctx, action, target, {…})`, a dict named there read from its
    assignment in the same function, and `entry.args = {…}` inside an `audited` block."""
    actions: set[str] = set()
    keys: set[str] = set()
    for path in (Path(__file__).parent.parent / "handlers").glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or fn.name == "audited":
                continue  # `audited` itself writes what its callers gave it
            dicts: dict[str, ast.Dict] = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            dicts[target.id] = node.value
                        elif isinstance(target, ast.Attribute) and target.attr == "args":
                            written = node.value.keys
                            keys |= {k.value for k in written if isinstance(k, ast.Constant)}
            for node in ast.walk(fn):
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                is_add = (
                    isinstance(f, ast.Attribute)
                    and f.attr == "add"
                    and "audit" in ast.unparse(f.value)
                )
                is_audited = isinstance(f, ast.Name) and f.id == "audited"
                if not (is_add or is_audited) or len(node.args) < 4:
                    continue
                action, details = node.args[1], node.args[3]
                if isinstance(action, ast.Constant):
                    actions.add(action.value)
                if isinstance(details, ast.Name):
                    details = dicts.get(details.id, details)
                assert isinstance(details, ast.Dict), (path.name, ast.unparse(node))
                keys |= {k.value for k in details.keys if isinstance(k, ast.Constant)}
    return actions, keys


def test_every_audit_detail_written_has_words(t: Translate, t_zh: Translate) -> None:
    actions, keys = _written_audit_details()
    assert {"subscribe", "mkgroup", "device", "track"} <= actions  # the scan finds them
    assert {"kinds", "orgs", "state", "from"} <= keys
    # "attendance"/"signins" are written as a variable (one handler for both)
    assert actions <= AUDIT_ACTIONS and {"attendance", "signins"} <= AUDIT_ACTIONS
    assert keys <= AUDIT_KEYS
    for lang_t in (t, t_zh):
        for action in AUDIT_ACTIONS:
            assert lang_t(f"audit-action-{action}") != f"audit-action-{action}"
        for key in AUDIT_KEYS:
            msg_id = "audit-key-" + key.replace("_", "-")
            assert lang_t(msg_id) != msg_id


def test_roles_text_settings_admins_then_grants_with_their_org(t: Translate) -> None:
    def grant(uid: int, role: Role, org: str | None) -> Grant:
        return Grant(uid, role, org, None, NOW)

    text = roles_text(
        t,
        [(1001, EVIL), (1009, None)],
        [
            (grant(1002, Role.SUPERVISOR, None), "Sun", None),
            (grant(1003, Role.VIEWER, "266"), None, EVIL),
            (grant(1004, Role.VIEWER, "999"), "Li", None),  # an org the directory lost
        ],
    )
    lines = text.splitlines()
    assert lines[1] == f"<code>1001</code> {EVIL_HTML}: administrator (from the settings)"
    assert lines[2] == "<code>1009</code> —: administrator (from the settings)"
    assert lines[3] == "<code>1002</code> Sun: supervisor"
    assert lines[4] == f"<code>1003</code> —: viewer · {EVIL_HTML}"
    assert lines[5] == "<code>1004</code> Li: viewer · org 999"
    assert lines[6] == ""
    assert EVIL not in text


def test_org_ids_text_names_each_org_or_says_none(t: Translate) -> None:
    found = [
        Match(Kind.ORG, 266, EVIL, False),
        Match(Kind.ORG, 267, "East", False),
    ]
    assert org_ids_text(t, "ea", found).splitlines() == [
        f"🏢 {EVIL_HTML} <code>266</code>",
        "🏢 East <code>267</code>",
    ]
    assert org_ids_text(t, EVIL, []) == t("not-found", kind="org", query=EVIL)


def test_register_done_text_escapes_rows_and_caps_them(t: Translate) -> None:
    rows = [(f"acc{i}", EVIL, f"508: {EVIL}") for i in range(30)]
    lines = register_done_text(t, "Done.", rows).splitlines()
    assert lines[0] == "Done."
    assert lines[1] == f"• acc0 {EVIL_HTML}: 508: {EVIL_HTML}"
    assert len(lines) == 1 + 21 + 1  # 21 rows shown, then "and … more"
    assert lines[-1] == t("and-more", count=10)
    few = register_done_text(t, "Done.", rows[:2]).splitlines()
    assert few == [
        "Done.",
        f"• acc0 {EVIL_HTML}: 508: {EVIL_HTML}",
        f"• acc1 {EVIL_HTML}: 508: {EVIL_HTML}",
    ]


def test_bind_done_text_one_escaped_line_per_binding(t: Translate) -> None:
    lines = bind_done_text(t, EVIL, [EVIL, "Sun: 1"]).splitlines()
    assert lines[0] == t("bind-done", group=EVIL)
    assert lines[1:] == [f"• {EVIL_HTML}", "• Sun: 1"]


# ---------------------------------------------------- /subscribe's answers (bot/render/replies.py)


def test_usage_at_names_the_word_it_stopped_at_escaped_then_the_usage(t: Translate) -> None:
    from bot.render.replies import usage_at

    out = usage_at(t, "usage-subscribe", "<b>x")
    first, *rest = out.text.split("\n")
    assert "&lt;b&gt;x" in first and "<b>x" not in out.text
    assert "\n".join(rest) == t("usage-subscribe")
    assert usage_at(t, "usage-subscribe").text == t("usage-subscribe")


def test_not_one_says_nobody_matches(t: Translate) -> None:
    from bot.render.replies import not_one

    assert plain(not_one(t, "org", 999).text) == "No org matches “999”."
    assert plain(not_one(t, "user", "<zh>").text) == "No user matches “<zh>”."
    assert "&lt;zh&gt;" in not_one(t, "user", "<zh>").text


def test_scope_refused_and_now_receives_are_one_line_each(t: Translate) -> None:
    from bot.render.replies import now_receives, scope_refused

    refused = scope_refused(t, ["notices", "presence"]).text.split("\n")
    assert len(refused) == 2 and "notices" in refused[0] and "presence" in refused[1]
    done = now_receives(t, ["a", "b"]).text
    assert done == "\n".join([t("sub-done"), "• a", "• b"])
    assert now_receives(t, []).keyboard is None
