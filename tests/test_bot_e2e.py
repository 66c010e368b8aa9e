"""The bot's commands end to end: the Telegram emulator (real HTTP, aiogram's real
AiohttpSession) and the sandbox platform on 127.0.0.1, with the whole bridge between.

People (`bot.demo.stack.PEOPLE`): admin 1001 (BRIDGE_ADMIN_IDS), supervisor 1002,
viewer 1003, scoped 1004 (supervisor of org 266), stranger 1005 (no role).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.types import Chat, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.demo.stack import BOT_TOKEN, Stack
from bot.directory import Kind
from bot.render.replies import Reply
from bot.render.text import esc, visible_text
from bot.sandbox.data import SandboxData
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage, TelegramEmulator, utf16_len
from bot.telegram.callbacks import GroupsCb, OnlineCb, PickAction, PickCb
from bot.telegram.commands import COMMANDS, allowed
from handlers.reply import answer as reply_answer
from storage.db import utcnow
from storage.roles import Role

STRANGER_TEXT = (
    "Hello! I bring the dispatch platform into Telegram.\n"
    "Your Telegram id is 1005. Give it to an administrator to get access."
)
NEEDS_ADMIN = "This needs the administrator role."
# The bot-core commands; later features add theirs (supervisor: /where, /track ...).
VIEWER_COMMANDS = {"help", "lang", "find", "groups", "online", "user", "org"}
ADMIN_ONLY = {"role", "invite"}


def menu_of(role: Role) -> set[str]:
    """What /help and the command menu list for a role, by the commands table."""
    return {c.name for c in allowed(role) if c.in_menu}


SCOPE_266 = frozenset({266, 268})
ROLE_WORD = {Role.VIEWER: "viewer", Role.SUPERVISOR: "supervisor", Role.ADMIN: "administrator"}


# ------------------------------------------------------------------------------ helpers


def text_of(msgs: Iterable[EmuMessage]) -> str:
    return "\n".join(m.plain_text() for m in msgs)


def one(msgs: list[EmuMessage]) -> EmuMessage:
    assert len(msgs) == 1, [m.render() for m in msgs]
    return msgs[0]


def failed_calls(emu: TelegramEmulator) -> list[str]:
    """Bot API calls the emulator refused (a 400 "can't parse entities" among them)."""
    return [f"{c.method} {c.status}: {c.error}" for c in emu.calls if not c.ok]


def listed_commands(help_text: str) -> set[str]:
    return set(re.findall(r"^/(\w+) — ", help_text, flags=re.MULTILINE))


def online_sections(text: str) -> tuple[tuple[int, int, int], dict[str, list[str]]]:
    """The counts line and the accounts listed under each section of an online view."""
    m = re.search(r"(\d+) here · (\d+) elsewhere · (\d+) offline", text)
    assert m, text
    counts = (int(m[1]), int(m[2]), int(m[3]))
    sections: dict[str, list[str]] = {"here": [], "elsewhere": [], "offline": []}
    current: str | None = None
    headers = {"🟢": "here", "🟡": "elsewhere", "⚪": "offline"}
    for line in text.splitlines():
        if line[:1] in headers:
            current = headers[line[:1]]
            n = int(re.search(r"\((\d+)\)\s*$", line)[1])  # type: ignore[index]
            assert n == counts[list(headers.values()).index(current)], line
        elif not line.strip() or line.startswith("Updated at"):
            current = None
        elif current and line.strip() != "—":
            # A member line; a part of a split reply starts without the indent
            # (the whitespace at a cut is dropped, as Telegram would trim it).
            sections[current].append(line.split()[-1])
    return counts, sections


def expected_online(
    data: SandboxData, gid: int, scope: frozenset[int] | None = None
) -> dict[str, set[str]]:
    """What 2.2 (online in this group) and 2.3 (online) say about the group's members."""
    members = [
        u for u in data.users.values() if gid in u.groups and (scope is None or u.org_id in scope)
    ]
    return {
        "here": {u.account for u in members if u.online and u.current_group == gid},
        "elsewhere": {u.account for u in members if u.online and u.current_group != gid},
        "offline": {u.account for u in members if not u.online},
    }


def check_online(
    text: str, data: SandboxData, gid: int, scope: frozenset[int] | None = None
) -> None:
    counts, sections = online_sections(text)
    want = expected_online(data, gid, scope)
    got = {k: set(v) for k, v in sections.items()}
    assert got == want
    assert counts == (len(want["here"]), len(want["elsewhere"]), len(want["offline"]))
    # Each member once: the three sections do not overlap.
    assert sum(len(v) for v in sections.values()) == sum(len(v) for v in want.values())


async def forge_press(stack: Stack, who: str, msg: EmuMessage, data: str) -> list[EmuMessage]:
    """Press a button the message does not have, as a forged client could."""
    stack.emu.mark(msg.chat_id)
    before = len(msg.edits)
    update = await stack.emu.press_button(stack.people[who], msg, data, strict=False)
    await stack.wait_handled(int(update["update_id"]))
    out = stack.emu.pending_messages(msg.chat_id)
    current = stack.emu.message(msg.chat_id, msg.message_id)
    if len(current.edits) > before:
        out.insert(0, current)
    return out


# ------------------------------------------------------------------------------ /start, /help


async def test_start_and_help_list_only_what_the_role_may_do(bot_stack: Stack) -> None:
    people = [
        ("viewer", Role.VIEWER),
        ("supervisor", Role.SUPERVISOR),
        ("scoped", Role.SUPERVISOR),
        ("admin", Role.ADMIN),
    ]
    for who, role in people:
        for command in ("/start", "/help"):
            msg = one(await bot_stack.say(who, command))
            text = msg.plain_text()
            assert text.startswith(f"What you can do — {ROLE_WORD[role]}\n"), (who, text)
            listed = listed_commands(text)
            assert listed == menu_of(role), (who, text)
            assert listed >= VIEWER_COMMANDS
            assert (listed >= ADMIN_ONLY) == (role is Role.ADMIN), (who, text)
            assert "Your Telegram id" not in text
            assert msg.buttons() == []
    # Nothing above the role: a viewer sees no supervisor's or admin's command.
    viewer_help = listed_commands(one(await bot_stack.say("viewer", "/help")).plain_text())
    above = {c.name for c in COMMANDS if c.role > Role.VIEWER}
    assert above >= ADMIN_ONLY and not viewer_help & above


async def test_stranger_start_shows_only_their_telegram_id(bot_stack: Stack) -> None:
    for command in ("/start", "/help"):
        msg = one(await bot_stack.say("stranger", command))
        assert msg.plain_text() == STRANGER_TEXT
        assert msg.buttons() == []


# ------------------------------------------------------------------------------ /lang


async def test_lang_switches_the_reply_language_and_back(bot_stack: Stack) -> None:
    assert one(await bot_stack.say("viewer", "/lang zh")).plain_text() == "已切换为中文。"
    help_zh = one(await bot_stack.say("viewer", "/help")).plain_text()
    assert help_zh.startswith("可用命令")
    assert listed_commands(help_zh) == menu_of(Role.VIEWER)
    assert "用法" in one(await bot_stack.say("viewer", "/online")).plain_text()
    # Another user is not affected by the viewer's choice.
    assert one(await bot_stack.say("supervisor", "/help")).plain_text().startswith("What you can")
    assert one(await bot_stack.say("viewer", "/lang en")).plain_text() == "Language set to English."
    assert one(await bot_stack.say("viewer", "/help")).plain_text().startswith("What you can do")
    usage = one(await bot_stack.say("viewer", "/lang klingon")).plain_text()
    assert usage == "Usage: /lang zh or /lang en"


GREETING = {"zh": "你好！", "en": "Hello!"}


@pytest.mark.parametrize(
    ("bridge_language", "cases"),
    [
        # (Telegram's language_code, the language expected): the client's language
        # when the user chose none and it is zh or en, else BRIDGE_LANGUAGE.
        ("en", [("zh-hans", "zh"), ("zh", "zh"), ("en-GB", "en"), ("de", "en"), (None, "en")]),
        ("zh", [("en-US", "en"), ("zh-hant", "zh"), ("de", "zh"), (None, "zh")]),
    ],
)
async def test_language_code_then_bridge_default(
    make_bot_stack: Any, bridge_language: str, cases: list[tuple[str | None, str]]
) -> None:
    stack: Stack = await make_bot_stack(language=bridge_language)
    for n, (language_code, expected) in enumerate(cases):
        uid = 2001 + n
        user = stack.emu.add_user(uid, f"Newcomer {n}", language_code=language_code)
        text = one(await stack.say(user, "/start")).plain_text()
        assert text.startswith(GREETING[expected]) and str(uid) in text, (language_code, text)
        # An explicit /lang wins over language_code and the default.
        other = "en" if expected == "zh" else "zh"
        await stack.say(user, f"/lang {other}")
        again = one(await stack.say(user, "/start")).plain_text()
        assert again.startswith(GREETING[other]), (language_code, again)


# ------------------------------------------------------------------------------ /find


async def test_find_lists_matches_with_buttons_that_open_them(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/find zhang"))
    text = msg.plain_text()
    assert text.startswith("“zhang”: 3 matches")
    for line in ("张三 (zhangsan01) 10001", "张珊 (zhangshan01) 10002", "张山 (zhangshan02) 10003"):
        assert line in text
    labels = [label for label, _ in msg.buttons()]
    assert labels == ["👤 张三 (zhangsan01)", "👤 张珊 (zhangshan01)", "👤 张山 (zhangshan02)"]
    opened = one(await bot_stack.press("viewer", msg, "👤 张山 (zhangshan02)"))
    assert opened.message_id == msg.message_id  # the list is replaced by the details
    assert opened.plain_text().startswith("👤 张山 10003")
    assert "Account: zhangshan02" in opened.plain_text()


async def test_find_groups_and_orgs_too(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/find 消防"))
    text = msg.plain_text()
    for expected in (
        "消防一大队 266",
        "消防二大队 267",
        "消防一大队主频 1002",
        "消防二大队主频 1003",
    ):
        assert expected in text
    group_button = next(d for label, d in msg.buttons() if label == "👥 消防一大队主频")
    opened = one(await bot_stack.press("viewer", msg, group_button))
    check_online(opened.plain_text(), bot_stack.platform.data, 1002)
    nothing = one(await bot_stack.say("viewer", "/find qqqqqq"))
    assert nothing.plain_text() == "Nothing matches “qqqqqq”."


async def test_find_alone_asks_and_the_next_text_answers(bot_stack: Stack) -> None:
    ask = one(await bot_stack.say("viewer", "/find"))
    assert ask.plain_text().startswith("What should I look for?")
    answer = one(await bot_stack.say("viewer", "zhangsan01"))
    assert answer.plain_text().startswith("“zhangsan01”: one match")
    assert "张三 (zhangsan01) 10001" in answer.plain_text()
    # The dialog is over: plain text is no longer a query.
    after = one(await bot_stack.say("viewer", "zhangsan01"))
    assert after.plain_text() == "Send /help to see what I can do."


async def test_find_dialog_can_be_cancelled(bot_stack: Stack) -> None:
    one(await bot_stack.say("viewer", "/find"))
    assert one(await bot_stack.say("viewer", "/cancel")).plain_text() == "Cancelled."
    assert (
        one(await bot_stack.say("viewer", "zs")).plain_text() == "Send /help to see what I can do."
    )


# ------------------------------------------------------------------------------ /groups


async def test_groups_pages_with_arrows_and_buttons_open_online(make_bot_stack: Any) -> None:
    stack: Stack = await make_bot_stack(sandbox=SandboxPlatform(users=200, groups=25))
    all_groups = set(stack.platform.data.groups)
    assert len(all_groups) == 25
    first = one(await stack.say("viewer", "/groups"))
    assert first.plain_text().startswith("Talk groups (25) — page 1/3")
    labels = [label for label, _ in first.buttons()]
    assert "▶" in labels and "◀" not in labels
    assert len([lb for lb in labels if lb.startswith("👥 ")]) == 10

    seen: set[int] = set()
    msg = first
    for page in (1, 2, 3):
        text = msg.plain_text()
        assert f"page {page}/3" in text
        ids = {int(i) for i in re.findall(r" (\d{4}) · \d+ members?", text)}
        assert len(ids) == (10 if page < 3 else 5)
        assert not ids & seen
        seen |= ids
        labels = [label for label, _ in msg.buttons()]
        assert ("◀" in labels) == (page > 1)
        assert ("▶" in labels) == (page < 3)
        if page < 3:
            edited = one(await stack.press("viewer", msg, "▶"))
            assert edited.message_id == first.message_id  # paging edits the same message
            msg = edited
    assert seen == all_groups

    back = one(await stack.press("viewer", msg, "◀"))
    assert "page 2/3" in back.plain_text()
    # A group's button opens its online view, as a new message.
    label, data = back.buttons()[0]
    gid = OnlineCb.unpack(data).gid  # type: ignore[arg-type]
    opened = one(await stack.press("viewer", back, label))
    assert opened.message_id != back.message_id
    check_online(opened.plain_text(), stack.platform.data, gid)


# ------------------------------------------------------------------------------ /online


async def test_online_sections_match_the_platform(bot_stack: Stack) -> None:
    data = bot_stack.platform.data
    for gid in sorted(data.groups):  # 1006 has a single member (a 2.1 quirk)
        msg = one(await bot_stack.say("viewer", f"/online {gid}"))
        text = msg.plain_text()
        assert text.startswith(f"👥 {data.groups[gid].name} {gid}")
        check_online(text, data, gid)
        assert [label for label, _ in msg.buttons()] == ["🔄 Refresh"]


async def test_online_by_name_and_usage(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/online 指挥调度组"))
    check_online(msg.plain_text(), bot_stack.platform.data, 1001)
    usage = one(await bot_stack.say("viewer", "/online")).plain_text()
    assert usage == "Usage: /online <group>\nExample: /online patrol1"
    missing = one(await bot_stack.say("viewer", "/online 9999")).plain_text()
    assert missing == "No group matches “9999”."


async def test_online_refresh_edits_the_same_message(bot_stack: Stack) -> None:
    data = bot_stack.platform.data
    msg = one(await bot_stack.say("viewer", "/online 1002"))
    before, _ = online_sections(msg.plain_text())
    # Someone offline comes online in this group.
    offline = next(u for u in data.members(1002) if not u.online)
    offline.online, offline.current_group = True, 1002

    out = await bot_stack.press("viewer", msg, "🔄 Refresh")
    edited = one(out)
    assert edited.message_id == msg.message_id
    assert edited.edits and edited.edits[-1].method == "editMessageText"
    check_online(edited.plain_text(), data, 1002)
    after, sections = online_sections(edited.plain_text())
    assert after != before
    assert after == (before[0] + 1, before[1], before[2] - 1)
    assert offline.account in sections["here"]
    assert [label for label, _ in edited.buttons()] == ["🔄 Refresh"]
    assert any(a.text == "Refreshing…" for a in bot_stack.emu.callback_answers)


# ------------------------------------------------------------------------------ /user, /org


async def test_user_details(bot_stack: Stack) -> None:
    for query in ("10001", "zhangsan01", "张三", "zhangsan"):
        msg = one(await bot_stack.say("viewer", f"/user {query}"))
        text = msg.plain_text()
        assert text.startswith("👤 张三 10001"), (query, text)
        assert "Account: zhangsan01" in text
        assert "Org: 市应急指挥中心 › 消防一大队" in text
        assert "Groups (2):" in text and "消防一大队主频 1002" in text and "指挥调度组 1001" in text
        assert {label for label, _ in msg.buttons()} == {"👥 消防一大队主频", "👥 指挥调度组"}
    usage = one(await bot_stack.say("viewer", "/user")).plain_text()
    assert usage.startswith("Usage: /user <user>")
    assert one(await bot_stack.say("viewer", "/user nobody99")).plain_text() == (
        "No user matches “nobody99”."
    )


async def test_user_offline_and_group_button(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/user zhangshan02"))
    assert "Status: ⚪ offline" in msg.plain_text()
    opened = one(await bot_stack.press("viewer", msg, "👥 消防二大队主频"))
    check_online(opened.plain_text(), bot_stack.platform.data, 1003)


async def test_org_without_argument_is_the_root(bot_stack: Stack) -> None:
    data = bot_stack.platform.data
    msg = one(await bot_stack.say("viewer", "/org"))
    text = msg.plain_text()
    assert text.startswith("🏢 市应急指挥中心 103")
    for child in ("消防一大队 266", "消防二大队 267", "医疗救护队 270"):
        assert child in text
    root_users = [u for u in data.users.values() if u.org_id == 103]
    assert f"Users ({len(root_users)}):" in text
    for u in root_users:
        assert u.account in text


async def test_org_with_argument_and_its_buttons(bot_stack: Stack) -> None:
    data = bot_stack.platform.data
    msg = one(await bot_stack.say("viewer", "/org 266"))
    text = msg.plain_text()
    assert text.startswith("🏢 消防一大队 266")
    assert "Path: 市应急指挥中心 › 消防一大队" in text
    assert "特勤中队 268" in text and "消防一大队主频 1002" in text
    users = [u for u in data.users.values() if u.org_id == 266]
    online = [u for u in users if u.online]
    assert f"{len(users)} users, {len(online)} online" in text
    sub = one(await bot_stack.press("viewer", msg, "🏢 特勤中队"))
    assert sub.plain_text().startswith("🏢 特勤中队 268")
    assert "Path: 市应急指挥中心 › 消防一大队 › 特勤中队" in sub.plain_text()
    by_name = one(await bot_stack.say("viewer", "/org 消防二大队"))
    assert by_name.plain_text().startswith("🏢 消防二大队 267")
    assert one(await bot_stack.say("viewer", "/org 999")).plain_text() == "No org matches “999”."


# ------------------------------------------------------------------------------ ambiguity


async def test_ambiguous_name_offers_buttons_and_the_choice_is_shown(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/user zs"))
    assert msg.plain_text().startswith("“zs”: 3 matches — pick one")
    labels = [label for label, _ in msg.buttons()]
    assert labels == ["👤 张三 (zhangsan01)", "👤 张珊 (zhangshan01)", "👤 张山 (zhangshan02)"]
    chosen = one(await bot_stack.press("viewer", msg, "👤 张珊 (zhangshan01)"))
    assert chosen.message_id == msg.message_id
    assert chosen.plain_text().startswith("👤 张珊 10002")
    assert "Account: zhangshan01" in chosen.plain_text()


async def test_ambiguous_name_offers_at_most_eight_buttons(bot_stack: Stack) -> None:
    data = bot_stack.platform.data
    assert sum(1 for u in data.users.values() if "z" in u.account) > 8
    msg = one(await bot_stack.say("viewer", "/user z"))
    assert "pick one, or type more" in msg.plain_text()
    assert len(msg.buttons()) == 8
    label, data_ = msg.buttons()[-1]
    uid = PickCb.unpack(data_).id  # type: ignore[arg-type]
    chosen = one(await bot_stack.press("viewer", msg, label))
    assert chosen.plain_text().startswith(f"👤 {data.users[uid].name} {uid}")


async def test_ambiguous_group_then_online(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/online 消防"))
    labels = [label for label, _ in msg.buttons()]
    assert labels == ["👥 消防一大队主频", "👥 消防二大队主频"]
    chosen = one(await bot_stack.press("viewer", msg, "👥 消防二大队主频"))
    check_online(chosen.plain_text(), bot_stack.platform.data, 1003)


# ------------------------------------------------------------------------------ /role


async def test_role_list(bot_stack: Stack) -> None:
    await bot_stack.say("supervisor", "/help")  # seen: their name is known
    text = one(await bot_stack.say("admin", "/role")).plain_text()
    assert text.startswith("Who may use this bot")
    assert "1001 Admin Ada: administrator (from the settings)" in text
    assert "1002 Supervisor Sun: supervisor" in text
    assert "1003 —: viewer" in text  # never wrote to the bot: no name yet
    assert "1004 —: supervisor · 消防一大队" in text
    assert "1005" not in text
    assert "Usage: /role <telegram-id>" in text


async def test_role_set_scoped_and_remove(bot_stack: Stack) -> None:
    emu = bot_stack.emu
    assert one(await bot_stack.say("stranger", "/groups")).plain_text() == STRANGER_TEXT

    set_ = one(await bot_stack.say("admin", "/role 1005 viewer")).plain_text()
    assert set_ == "1005 now has the viewer role (all orgs)."
    groups = one(await bot_stack.say("stranger", "/groups")).plain_text()
    assert groups.startswith("Talk groups (6)")
    menu = {c["command"] for c in emu.get_commands({"type": "chat", "chat_id": 1005})}
    assert menu == menu_of(Role.VIEWER)
    assert one(await bot_stack.say("stranger", "/role")).plain_text() == NEEDS_ADMIN

    scoped = one(await bot_stack.say("admin", "/role 1005 supervisor org 267")).plain_text()
    assert scoped == "1005 now has the supervisor role (消防二大队)."
    groups = one(await bot_stack.say("stranger", "/groups")).plain_text()
    assert set(re.findall(r" (\d{4}) · ", groups)) == {"1003", "1005"}
    assert one(await bot_stack.say("stranger", "/user 10001")).plain_text() == (
        "No user matches “10001”."
    )

    admin = one(await bot_stack.say("admin", "/role 1005 admin")).plain_text()
    assert admin == "1005 now has the administrator role (all orgs)."
    assert one(await bot_stack.say("stranger", "/role")).plain_text().startswith("Who may use")
    menu = {c["command"] for c in emu.get_commands({"type": "chat", "chat_id": 1005})}
    assert menu == menu_of(Role.ADMIN) and menu >= ADMIN_ONLY

    removed = one(await bot_stack.say("admin", "/role 1005 none")).plain_text()
    assert removed == "1005 no longer has access."
    assert one(await bot_stack.say("stranger", "/groups")).plain_text() == STRANGER_TEXT
    assert bot_stack.bridge is not None
    assert await bot_stack.bridge.roles.get(1005) is None
    actions = [(e.action, e.target) for e in await bot_stack.bridge.audit.latest(10)]
    assert actions.count(("role", "1005")) == 4  # every change is in the audit trail


async def test_role_by_username_once_seen(bot_stack: Stack) -> None:
    unknown = one(await bot_stack.say("admin", "/role @stranger viewer")).plain_text()
    assert unknown.startswith("I have not seen @stranger yet.")
    await bot_stack.say("stranger", "/start")
    assert one(await bot_stack.say("admin", "/role @stranger viewer")).plain_text() == (
        "1005 now has the viewer role (all orgs)."
    )


ROLE_USAGE = "Usage: /role <telegram-id> admin|supervisor|viewer|none [org <id>]"
ORG_ARG = "After org give one org id, e.g. org 266."


async def test_role_wrong_arguments_get_a_usage_line(bot_stack: Stack) -> None:
    cases = [
        ("abc viewer", ROLE_USAGE),
        ("1005", ROLE_USAGE),
        ("1005 boss", ROLE_USAGE),
        ("1005 viewer org", ORG_ARG),
        ("1005 viewer org x", ORG_ARG),
        ("1005 viewer place 266", ORG_ARG),
        ("1005 viewer org 999", "No org matches “999”."),
        ("1001 viewer", "1001 is an administrator in the settings (BRIDGE_ADMIN_IDS)"),
    ]
    assert bot_stack.bridge is not None
    for args, expected in cases:
        text = one(await bot_stack.say("admin", f"/role {args}")).plain_text()
        assert text.startswith(expected), (args, text)
        if expected == ROLE_USAGE:
            assert text.endswith("Example: /role 123456789 supervisor org 266")
    assert await bot_stack.bridge.roles.get(1005) is None  # nothing was granted
    assert await bot_stack.bridge.roles.get(1001) is None


# ------------------------------------------------------------------------------ /invite

LINK = re.compile(r"https://t\.me/pttbridge_bot\?start=([A-Za-z0-9_-]+)")


async def _invite(stack: Stack, args: str) -> str:
    text = one(await stack.say("admin", f"/invite {args}")).plain_text()
    m = LINK.search(text)
    assert m, text
    return m[1]


async def test_invite_link_works_once(bot_stack: Stack) -> None:
    emu = bot_stack.emu
    code = await _invite(bot_stack, "viewer org 267")
    newcomer = emu.add_user(3001, "Newcomer Ning", language_code="en")
    welcome = one(await bot_stack.say(newcomer, f"/start {code}")).plain_text()
    assert welcome.startswith("Welcome! You now have the viewer role.")
    assert listed_commands(welcome) == menu_of(Role.VIEWER)
    groups = one(await bot_stack.say(newcomer, "/groups")).plain_text()
    assert set(re.findall(r" (\d{4}) · ", groups)) == {"1003", "1005"}  # scoped to 267
    menu = {c["command"] for c in emu.get_commands({"type": "chat", "chat_id": 3001})}
    assert menu == menu_of(Role.VIEWER)

    second = emu.add_user(3002, "Latecomer Lu", language_code="en")
    refused = one(await bot_stack.say(second, f"/start {code}")).plain_text()
    assert refused.startswith("This invitation link has already been used.")
    assert "Your Telegram id is 3002" in refused
    assert one(await bot_stack.say(second, "/groups")).plain_text().startswith("Hello!")
    assert bot_stack.bridge is not None
    assert await bot_stack.bridge.roles.get(3002) is None
    # Opening it again does not hurt the one who redeemed it.
    again = one(await bot_stack.say(newcomer, f"/start {code}")).plain_text()
    assert again.startswith("This invitation link has already been used.")
    grant = await bot_stack.bridge.roles.get(3001)
    assert grant is not None and grant.role is Role.VIEWER and grant.org_id == "267"


async def test_invite_expired_or_unknown_is_refused(bot_stack: Stack) -> None:
    assert bot_stack.bridge is not None
    code = await bot_stack.bridge.invites.create(
        Role.SUPERVISOR, None, 1001, utcnow() - timedelta(days=8)
    )
    late = bot_stack.emu.add_user(3003, "Late Liu", language_code="en")
    text = one(await bot_stack.say(late, f"/start {code}")).plain_text()
    assert text.startswith("This invitation link has expired.")
    assert await bot_stack.bridge.roles.get(3003) is None
    bogus = one(await bot_stack.say(late, "/start AAAAAAAAAAAAAAAAAAAAAA")).plain_text()
    assert bogus.startswith("This invitation link is not valid.")


async def test_invite_never_lowers_a_role(bot_stack: Stack) -> None:
    code = await _invite(bot_stack, "viewer")
    text = one(await bot_stack.say("supervisor", f"/start {code}")).plain_text()
    assert text.startswith("Welcome! You now have the supervisor role.")
    assert bot_stack.bridge is not None
    grant = await bot_stack.bridge.roles.get(1002)
    assert grant is not None and grant.role is Role.SUPERVISOR


async def test_invite_wrong_arguments(bot_stack: Stack) -> None:
    usage = "Usage: /invite <role> [org <id>]\nExample: /invite viewer org 266"
    cases = [
        ("", usage),
        (" none", usage),
        (" boss", usage),
        (" viewer org", ORG_ARG),
        (" viewer org 999", "No org matches “999”."),
    ]
    for args, expected in cases:
        text = one(await bot_stack.say("admin", f"/invite{args}")).plain_text()
        assert text == expected, (args, text)
    assert bot_stack.bridge is not None
    assert await bot_stack.bridge.invites.list_active(utcnow()) == []


# ------------------------------------------------------------------------------ role × command


ALLOWED_MARK = {
    "/start": "What you can do",
    "/help": "What you can do",
    "/lang en": "Language set to English.",
    "/cancel": "Nothing to cancel.",
    "/find zhang": "“zhang”:",
    "/groups": "Talk groups (",
    "/online 1002": "👥 消防一大队主频 1002",
    "/user 10001": "👤 张三 10001",
    "/org 266": "🏢 消防一大队 266",
    "/role": "Who may use this bot",
    "/invite viewer": "One-time link for the viewer role",
}
MIN_ROLE = {
    "/start": Role.NONE,
    "/help": Role.NONE,
    "/lang en": Role.NONE,
    "/cancel": Role.NONE,
    "/find zhang": Role.VIEWER,
    "/groups": Role.VIEWER,
    "/online 1002": Role.VIEWER,
    "/user 10001": Role.VIEWER,
    "/org 266": Role.VIEWER,
    "/role": Role.ADMIN,
    "/invite viewer": Role.ADMIN,
}
ROLES = {
    "stranger": Role.NONE,
    "viewer": Role.VIEWER,
    "supervisor": Role.SUPERVISOR,
    "scoped": Role.SUPERVISOR,
    "admin": Role.ADMIN,
}


async def test_every_role_by_every_command(bot_stack: Stack) -> None:
    """Every command of the bot core as each role: allowed, or refused as it should be."""
    from handlers.throttle import Limit

    assert bot_stack.bridge is not None  # ~25 commands from the stranger: lift their limit
    bot_stack.bridge.throttle.stranger = Limit(10**6, 60.0)
    wrong: list[str] = []
    for who, command in itertools.product(ROLES, ALLOWED_MARK):
        mark = ALLOWED_MARK[command]
        msg = one(await bot_stack.say(who, command))
        text = msg.plain_text()
        allowed_ = ROLES[who] >= MIN_ROLE[command]
        if who == "stranger" and command in ("/start", "/help"):
            ok = text == STRANGER_TEXT
        elif allowed_:
            ok = mark in text and "needs the" not in text
        elif who == "stranger":
            # Their Telegram id to give an admin, and nothing else.
            ok = text == STRANGER_TEXT and msg.buttons() == []
        else:
            ok = text == NEEDS_ADMIN and msg.buttons() == []
        if not ok:
            wrong.append(f"{who} {command} ({'allowed' if allowed_ else 'denied'}): {text!r}")
    assert wrong == []
    assert failed_calls(bot_stack.emu) == []


async def test_unknown_command_and_plain_text(bot_stack: Stack) -> None:
    for who in ("stranger", "viewer"):
        unknown = one(await bot_stack.say(who, "/nonsense")).plain_text()
        plain = one(await bot_stack.say(who, "hello there")).plain_text()
        if who == "stranger":
            assert unknown == plain == STRANGER_TEXT
        else:
            assert unknown == "I don't know nonsense. Send /help for the list."
            assert plain == "Send /help to see what I can do."


async def test_stranger_buttons_are_refused(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/user zs"))
    data = PickCb(action=PickAction.USER, kind=Kind.USER, id=10001).pack()
    # The stranger forges the viewer's button (as from a shared group chat).
    out = await forge_press(bot_stack, "stranger", msg, data)
    assert out == []
    answer = bot_stack.emu.callback_answers[-1]
    assert answer.user_id == 1005 and answer.show_alert
    assert answer.text == "This button needs a role you do not have."


async def test_in_a_group_each_member_acts_with_their_own_role(bot_stack: Stack) -> None:
    emu = bot_stack.emu
    group = emu.add_group(-100777, "Duty room", members=[1003, 1005], admins=[1001])
    viewer_reply = one(await bot_stack.say("viewer", "/groups", chat=group.id)).plain_text()
    assert viewer_reply.startswith("Talk groups (6)")
    stranger_reply = one(await bot_stack.say("stranger", "/groups", chat=group.id)).plain_text()
    assert stranger_reply == STRANGER_TEXT
    denied = one(await bot_stack.say("viewer", "/role", chat=group.id)).plain_text()
    assert denied == NEEDS_ADMIN
    assert one(await bot_stack.say("admin", "/role", chat=group.id)).plain_text().startswith("Who")


# ------------------------------------------------------------------------------ scope


def _forbidden_tokens(data: SandboxData, scope: frozenset[int]) -> set[str]:
    """Words that would reveal something outside `scope`: accounts, ids, names."""
    out: set[str] = set()
    for u in data.users.values():
        if u.org_id not in scope:
            out |= {u.account, str(u.id)}
    for g in data.groups.values():
        if g.org_id not in scope:
            out |= {g.name, str(g.id)}
    for o in data.orgs.values():
        if o.id not in scope:
            out |= {o.name, str(o.id)}
    return out


def _tokens(text: str) -> set[str]:
    return set(re.split(r"[\s()“”,:·›]+", text)) - {""}


async def test_scoped_supervisor_sees_nothing_outside_their_org(bot_stack: Stack) -> None:
    data = bot_stack.platform.data
    forbidden = _forbidden_tokens(data, SCOPE_266)
    assert {"zhangshan02", "10003", "1003", "267", "消防二大队"} <= forbidden
    seen: list[str] = []

    async def say(command: str) -> str:
        text = text_of(await bot_stack.say("scoped", command))
        seen.append(text)
        return text

    assert await say("/find zhangshan02") == "Nothing matches “zhangshan02”."
    assert await say("/find 消防二大队") == "Nothing matches “消防二大队”."
    found = await say("/find 张山")
    assert "10003" not in found and "zhangshan02" not in found
    found = await say("/find zhang")
    assert "10001" in found and "10002" in found
    assert "10003" not in found and "zhangshan02" not in found
    assert await say("/user 10003") == "No user matches “10003”."
    assert await say("/user zhangshan02") == "No user matches “zhangshan02”."
    assert await say("/user tricky") == "No user matches “tricky”."
    assert await say("/online 1003") == "No group matches “1003”."
    assert await say("/online 巡逻组") == "No group matches “巡逻组”."
    assert await say("/org 267") == "No org matches “267”."
    assert await say("/org 103") == "No org matches “103”."

    groups = await say("/groups")
    assert set(re.findall(r" (\d{4}) · ", groups)) == {"1002", "1004"}

    online = await say("/online 1002")
    check_online(online, data, 1002, SCOPE_266)
    outsiders = {u.account for u in data.members(1002) if u.org_id not in SCOPE_266}
    assert outsiders, "the sandbox should have members of 1002 from other orgs"

    user = await say("/user 10001")  # in scope; one of their groups (1001) is not
    assert "消防一大队主频 1002" in user and "指挥调度组" not in user
    org = await say("/org")  # the top of *their* tree
    assert org.startswith("🏢 消防一大队 266") and "市应急指挥中心" not in org

    # Forged buttons for things outside the scope reveal nothing either.
    msg = one(await bot_stack.say("scoped", "/user zs"))
    assert len(msg.buttons()) == 2  # 张山 (267) is not a candidate
    forged = [
        (PickCb(action=PickAction.USER, kind=Kind.USER, id=10003), "No user matches “10003”."),
        (PickCb(action=PickAction.USER, kind=Kind.USER, id=10004), "No user matches “10004”."),
        (PickCb(action=PickAction.ORG, kind=Kind.ORG, id=267), "No org matches “267”."),
        (PickCb(action=PickAction.ORG, kind=Kind.ORG, id=103), "No org matches “103”."),
        (PickCb(action=PickAction.ONLINE, kind=Kind.GROUP, id=1003), "No group matches “1003”."),
        (OnlineCb(gid=1003), "No group matches “1003”."),
        (OnlineCb(gid=1001, refresh=True), "No group matches “1001”."),
        (GroupsCb(page=1), "Talk groups (2) — page 1/1"),
    ]
    for cb, expected in forged:
        out = await forge_press(bot_stack, "scoped", msg, cb.pack())
        texts = [m.plain_text() for m in out]
        assert any(t.startswith(expected) for t in texts), (cb, texts)
        seen.extend(texts)
        seen.append(bot_stack.emu.callback_answers[-1].text or "")
        msg = one(await bot_stack.say("scoped", "/user zs"))
    not_found = re.compile(r"(Nothing|No (user|group|org)) matches “[^”]*”\.")
    for text in seen:
        # "Not found" only echoes what the scoped user typed (or forged) themselves.
        leaked = _tokens(not_found.sub("", text)) & forbidden
        assert not leaked, (text, leaked)
    assert failed_calls(bot_stack.emu) == []


# ------------------------------------------------------------------------------ long replies


async def test_long_reply_arrives_whole_in_parts(make_bot_stack: Any) -> None:
    stack: Stack = await make_bot_stack(sandbox=SandboxPlatform(users=2000))
    data = stack.platform.data
    gid = max(data.groups, key=lambda g: len(data.members(g)))
    assert len(data.members(gid)) > 300
    parts = await stack.say("viewer", f"/online {gid}")
    assert parts[0].plain_text().startswith(f"👥 {data.groups[gid].name} {gid}")
    assert len(parts) >= 2
    for part in parts:
        assert utf16_len(part.plain_text()) <= 4096
        assert part.parse_mode == "HTML"
    # Only the last part carries the Refresh button.
    assert [m.buttons() != [] for m in parts] == [False] * (len(parts) - 1) + [True]
    check_online("\n".join(m.plain_text() for m in parts), data, gid)
    assert failed_calls(stack.emu) == []


async def test_long_formatted_reply_is_split_without_breaking_tags(bot_stack: Stack) -> None:
    """A long Reply straight through `handlers.reply.answer`: bold and code spans cross
    the cuts, `<`, `>` and `&` are escaped; Telegram's (the emulator's) parser accepts
    every part and each character keeps its formatting."""
    assert bot_stack.bridge is not None
    lines = [f"{n:03d} <b>{esc('李<b>&四')}</b> <code>a&lt;b&gt;{n}</code>" for n in range(600)]
    text = "<i>" + "\n".join(lines) + "</i>"
    visible = visible_text(text)
    assert utf16_len(visible) > 2 * 4096
    keyboard = InlineKeyboardBuilder()
    keyboard.button(text="ok", callback_data="x")
    chat = Chat(id=1003, type="private")
    message = Message(message_id=1, date=datetime.now(UTC), chat=chat).as_(bot_stack.bridge.bot)
    bot_stack.emu.mark(1003)

    await reply_answer(message, Reply(text, keyboard.as_markup()))

    parts = bot_stack.emu.pending_messages(1003)
    assert len(parts) >= 3
    assert failed_calls(bot_stack.emu) == []
    for part in parts:
        shown = part.plain_text()
        assert utf16_len(shown) <= 4096
        # The <i> around everything is closed and reopened at each cut.
        italic = [e for e in part.entities if e["type"] == "italic"]
        assert italic == [{"type": "italic", "offset": 0, "length": utf16_len(shown)}]
    joined = "\n".join(p.plain_text() for p in parts)
    for n in range(600):
        assert f"{n:03d} 李<b>&四 a<b>{n}" in joined
    assert [p.buttons() != [] for p in parts] == [False] * (len(parts) - 1) + [True]


# ------------------------------------------------------------------------------ HTML in names


async def test_names_with_html_characters_show_literally(bot_stack: Stack) -> None:
    name = "李<b>&四"
    assert bot_stack.platform.data.users[10004].name == name
    user = one(await bot_stack.say("viewer", "/user tricky"))
    assert user.plain_text().startswith(f"👤 {name} 10004")
    assert not any(e["type"] == "bold" and e["offset"] == 2 for e in user.entities)
    found = one(await bot_stack.say("viewer", "/find tricky"))
    assert f"{name} (tricky) 10004" in found.plain_text()
    assert found.buttons()[0][0] == f"👤 {name} (tricky)"
    online = one(await bot_stack.say("viewer", "/online 1003"))
    assert f"{name} tricky" in online.plain_text()
    org = one(await bot_stack.say("viewer", "/org 267"))
    assert f"{name} tricky" in org.plain_text()
    opened = one(await bot_stack.press("viewer", found, 0))
    assert opened.plain_text().startswith(f"👤 {name} 10004")
    assert failed_calls(bot_stack.emu) == []


# ------------------------------------------------------------------------------ 429s


async def test_429s_are_obeyed_and_no_reply_is_lost(make_bot_stack: Any) -> None:
    # The bridge's own limiter allows 1000/s; the emulator limits a private chat to a
    # burst of 6, then 1/s, so it answers 429 with retry_after. Its clock stands still
    # except that each 429 moves it 10 s on: the burst is certain to overflow however
    # slowly this machine runs, and after the bridge's pause (retry_after = 1 s, real)
    # the bucket is full again.

    def clock() -> float:
        return 10.0 * sum(1 for c in emu.calls if c.status == 429)

    emu = TelegramEmulator(BOT_TOKEN, flood_limits=True, private_burst=6, clock=clock)
    stack: Stack = await make_bot_stack(
        flood_limits=True, rates=(1000.0, 1000.0, 1000.0), emulator=emu
    )
    viewer = stack.people["viewer"]
    emu.mark(viewer.id)
    commands = [f"/find {q}" for q in ("zhang", "tricky", "wangwu01", "zs")] * 3
    for text in commands:
        await emu.send_message(viewer, text)
    replies = await emu.wait_for_messages(viewer.id, count=len(commands), timeout=30)
    assert len(replies) == len(commands)
    got = sorted(r.plain_text().split(":")[0] for r in replies)
    assert got == sorted(f"“{t.split()[1]}”" for t in commands)

    sends = [c for c in emu.calls_to("sendMessage") if c.params.get("chat_id") == viewer.id]
    statuses = [c.status for c in sends]
    assert 429 in statuses
    first_429 = statuses.index(429)
    assert 200 in statuses[first_429 + 1 :]
    assert all(c.parameters and c.parameters.get("retry_after") for c in sends if c.status == 429)
    assert statuses.count(200) == len(commands)  # each reply once: no loss, no duplicate
    assert not [c for c in emu.calls if not c.ok and c.status != 429]


async def test_injected_429_on_an_edit_is_retried(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/user zs"))
    bot_stack.emu.inject_fault(
        "editMessageText",
        error_code=429,
        description="Too Many Requests: retry after 1",
        retry_after=1,
    )
    chosen = one(await bot_stack.press("viewer", msg, 0))
    assert chosen.plain_text().startswith("👤 张三 10001")
    statuses = [c.status for c in bot_stack.emu.calls_to("editMessageText")]
    assert statuses == [429, 200]


# ------------------------------------------------------------------------------ platform errors


async def test_no_such_group_is_explained(bot_stack: Stack) -> None:
    bot_stack.platform.fail_next("/inThisGroupUids", "status", status=514)
    text = one(await bot_stack.say("viewer", "/online 1002")).plain_text()
    assert "the talk group does not exist" in text
    assert "514" in text
    # The next call works again.
    check_online(
        one(await bot_stack.say("viewer", "/online 1002")).plain_text(),
        bot_stack.platform.data,
        1002,
    )


async def test_rejected_platform_login_is_explained_and_admins_told(bot_stack: Stack) -> None:
    emu = bot_stack.emu
    emu.mark(1001)
    bot_stack.platform.expire_tokens()
    text = one(await bot_stack.say("viewer", "/user 10001")).plain_text()
    assert text == "The platform rejected the bridge's login. Administrators have been told."
    [alert] = emu.pending_messages(1001)
    assert alert.plain_text().startswith("⚠️ The platform rejected the bridge's login")
    assert "PLATFORM_TOKEN" in alert.plain_text()
    assert bot_stack.platform.token not in alert.plain_text()
    emu.mark(1001)
    # Told once, not on every failing command.
    text = one(await bot_stack.say("supervisor", "/online 1002")).plain_text()
    assert text.startswith("The platform rejected the bridge's login.")
    assert emu.pending_messages(1001) == []


async def test_rejected_login_on_a_button_is_explained(bot_stack: Stack) -> None:
    msg = one(await bot_stack.say("viewer", "/user zs"))
    bot_stack.platform.expire_tokens()
    out = await bot_stack.press("viewer", msg, 0)
    answer = bot_stack.emu.callback_answers[-1]
    told = [answer.text or ""] + [m.plain_text() for m in out]
    assert any(t.startswith("The platform rejected the bridge's login.") for t in told), told


async def test_platform_timeout_names_the_seconds(make_bot_stack: Any) -> None:
    stack: Stack = await make_bot_stack(platform_overrides={"timeout_s": 0.5})
    stack.platform.fail_next("/inThisGroupUids", "delay", delay=5, times=5)
    text = one(await stack.say("viewer", "/online 1002")).plain_text()
    assert text == "The platform did not answer within 0.5 s. Please try again."
    stack.platform.clear_faults()


# ------------------------------------------------------------------------------ restart


async def test_restart_keeps_roles_and_an_open_dialog(bot_stack: Stack) -> None:
    granted = one(await bot_stack.say("admin", "/role 1005 viewer org 266")).plain_text()
    assert granted == "1005 now has the viewer role (消防一大队)."
    ask = one(await bot_stack.say("stranger", "/find"))
    assert ask.plain_text().startswith("What should I look for?")

    await bot_stack.restart_bridge()

    answer = one(await bot_stack.say("stranger", "zhang")).plain_text()
    assert answer.startswith("“zhang”: 2 matches")  # the dialog, and the 266 scope
    assert "10001" in answer and "10002" in answer and "10003" not in answer
    groups = one(await bot_stack.say("stranger", "/groups")).plain_text()
    assert set(re.findall(r" (\d{4}) · ", groups)) == {"1002", "1004"}
    # The language chosen before the restart is kept too.
    await bot_stack.say("viewer", "/lang zh")
    await bot_stack.restart_bridge()
    assert one(await bot_stack.say("viewer", "/help")).plain_text().startswith("可用命令")


async def test_a_username_changed_and_changed_back_is_stored_as_it_is_now(
    bot_stack: Stack,
) -> None:
    stack = bot_stack
    assert stack.bridge is not None
    user = stack.people["viewer"]
    original = user.username
    for name in ("renamed_once", original):
        user.username = name
        await stack.say("viewer", "/help")
    stored = await stack.bridge.users.get(user.id)
    assert stored is not None and stored.username == original
    assert await stack.bridge.users.find_by_username("renamed_once") is None
