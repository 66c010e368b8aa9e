"""Handlers through `Dispatcher.feed_update`, with a session that records what the bot
asks of Telegram and answers from a script: no sockets, no emulator, no platform.

The middle layer between the renderers' unit tests and the end-to-end stack: the real
routers, filters and the context middleware over a real (temporary) SQLite database, a
directory loaded from a small fixed tree, and a platform that only knows who is online.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message, Update, User

from bot.config import Settings
from bot.directory import Directory
from bot.i18n import Translator
from bot.platform.models import Org, TreeNode
from bot.telegram.commands import allowed
from handlers import get_routers
from handlers.middlewares import ContextMiddleware
from storage.audit import AuditRepo
from storage.chats import ChatRepo
from storage.db import Database
from storage.files import FileRepo
from storage.fsm import SQLiteStorage
from storage.invites import InviteRepo
from storage.roles import Role, RoleRepo
from storage.users import UserRepo

TOKEN = "42:fast-handler-tests"
ADMIN = 1001  # named in settings
VIEWER = 1002  # granted in storage, scoped to org 2
STRANGER = 1003  # no role

# A small directory: org 1 (HQ) holds org 2 (East); two talk groups, three users.
ORGS = [
    {
        "id": 1,
        "name": "总部",
        "users": [{"id": 10001, "account": "zs", "name": "张三"}],
        "orgs": [
            {
                "id": 2,
                "name": "East",
                "users": [
                    {"id": 10002, "account": "ls", "name": "李四 <i>"},
                    {"id": 10003, "account": "ww", "name": "王五"},
                ],
            }
        ],
    }
]
TREE = {
    "id": 1,
    "name": "总部",
    "type": 0,
    "children": [
        {"id": 501, "name": "Dispatch & Co", "type": 1, "users": [{"uid": 10001}, {"uid": 10002}]},
        {
            "id": 2,
            "name": "East",
            "type": 0,
            "children": [
                {
                    "id": 502,
                    "name": "East patrol",
                    "type": 1,
                    "users": [{"uid": 10002}, {"uid": 10003}],
                }
            ],
        },
    ],
}


class RecordedSession(BaseSession):
    """Records every request; answers sendMessage with the message it would have sent and
    any other method with True (sendChatAction, answerCallbackQuery, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self._ids = itertools.count(1)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        self.requests.append(method)
        if isinstance(method, SendMessage):
            sent = Message(
                message_id=next(self._ids),
                date=datetime.now(UTC),
                chat=Chat(id=int(method.chat_id), type="private"),
                text=method.text,
                reply_markup=method.reply_markup,
            )
            return sent.as_(bot)  # type: ignore[return-value]
        return True  # type: ignore[return-value]

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        raise AssertionError("no download expected")
        yield b""  # pragma: no cover

    async def close(self) -> None:
        pass

    def sent(self) -> list[SendMessage]:
        return [r for r in self.requests if isinstance(r, SendMessage)]

    def methods(self) -> list[str]:
        return [type(r).__name__ for r in self.requests]


@dataclass
class FakePlatform:
    """The platform's directory and presence endpoints, from fixed data."""

    online: set[int] = field(default_factory=set)
    in_group: set[int] = field(default_factory=set)
    asked: list[tuple[str, int, tuple[int, ...]]] = field(default_factory=list)

    async def org_user_tree(self) -> list[Org]:
        return [Org.model_validate(o) for o in ORGS]

    async def org_tree(self) -> TreeNode:
        return TreeNode.model_validate(TREE)

    async def in_group_uids(self, gid: int, uids: Sequence[int]) -> list[int]:
        self.asked.append(("in_group", gid, tuple(uids)))
        return [u for u in uids if u in self.in_group]

    async def online_uids(self, gid: int, uids: Sequence[int]) -> list[int]:
        self.asked.append(("online", gid, tuple(uids)))
        return [u for u in uids if u in self.online]


@dataclass
class FakeMenus:
    """Per-user command menus (`bot.app.services.Menus`), recorded instead of sent."""

    translator: Translator
    menus: list[tuple[int, Role]] = field(default_factory=list)

    async def set_user_menu(self, user_id: int, role: Role) -> None:
        self.menus.append((user_id, role))


@dataclass(frozen=True)
class FixedClock:
    """The injected clock: a fixed now, and when the bridge started by it."""

    now: datetime = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    started_at: datetime = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    dp: Dispatcher
    bot: Bot
    session: RecordedSession
    platform: FakePlatform
    menus: FakeMenus
    users: UserRepo
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, user_id: int, text: str, *, language_code: str = "en") -> list[str]:
        """Feed a private message from `user_id`; the plain texts the bot sent in answer."""
        before = len(self.session.sent())
        user = User(id=user_id, is_bot=False, first_name=f"U{user_id}", language_code=language_code)
        message = Message(
            message_id=next(self._update_ids),
            date=datetime.now(UTC),
            chat=Chat(id=user_id, type="private"),
            from_user=user,
            text=text,
        )
        update = Update(update_id=next(self._update_ids), message=message)
        await self.dp.feed_update(self.bot, update)
        return [plain(m.text) for m in self.session.sent()[before:]]

    def last(self) -> SendMessage:
        return self.session.sent()[-1]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings.load(
        None,
        telegram={"bot_token": TOKEN},
        platform={"base_url": "http://127.0.0.1:9", "token": "unused"},
        bridge={"db_path": str(tmp_path / "fast.db"), "admin_ids": str(ADMIN), "language": "en"},
    )
    db = await Database.open(settings.bridge.db_path)
    roles, users, chats = RoleRepo(db), UserRepo(db), ChatRepo(db)
    await roles.set(VIEWER, Role.VIEWER, 2, ADMIN)
    platform = FakePlatform()
    directory = Directory(platform, clock=lambda: datetime.now(UTC))  # type: ignore[arg-type]
    assert await directory.refresh()
    translator = Translator.load("en")
    menus = FakeMenus(translator)
    session = RecordedSession()
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    dp = Dispatcher(
        storage=SQLiteStorage(db),
        settings=settings,
        platform=platform,
        directory=directory,
        roles=roles,
        users=users,
        chats=chats,
        invites=InviteRepo(db),
        audit=AuditRepo(db),
        files=FileRepo(db),
        translator=translator,
        menus=menus,
        clock=FixedClock(),
        db=db,
    )
    dp.update.outer_middleware(
        ContextMiddleware(
            admin_ids=frozenset(settings.bridge.admin_ids),
            default_lang="en",
            roles=roles,
            users=users,
            chats=chats,
            directory=directory,
            translator=translator,
        )
    )
    dp.include_routers(*get_routers())
    try:
        yield Harness(dp, bot, session, platform, menus, users)
    finally:
        await dp.storage.close()
        await db.close()


def plain(text: str) -> str:
    """What a reader sees of an HTML message: tags dropped, entities unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def t_en(key: str, **kw: Any) -> str:
    return plain(Translator.load("en").get("en")(key, **kw))


# ------------------------------------------------------------------------------ /start, /help


async def test_start_and_help_tell_a_stranger_their_id_and_nothing_else(harness: Harness) -> None:
    for command in ("/start", "/help"):
        (text,) = await harness.send(STRANGER, command)
        assert text == t_en("help-unknown", id=STRANGER)
    assert harness.session.methods() == ["SendMessage", "SendMessage"]


async def test_help_lists_the_commands_of_the_callers_role(harness: Harness) -> None:
    (viewer,) = await harness.send(VIEWER, "/help")
    (admin,) = await harness.send(ADMIN, "/help")
    assert viewer.startswith(t_en("help-title", role=t_en("role-viewer")))
    assert admin.startswith(t_en("help-title", role=t_en("role-admin")))

    def listed(text: str) -> set[str]:
        return {line.split(" — ")[0] for line in text.splitlines() if line.startswith("/")}

    def menu(role: Role) -> set[str]:
        return {f"/{c.name}" for c in allowed(role) if c.in_menu}

    assert listed(viewer) == menu(Role.VIEWER) and "/find" in listed(viewer)
    assert listed(admin) == menu(Role.ADMIN) and listed(admin) > listed(viewer)


# ------------------------------------------------------------------------------ /lang


async def test_lang_sets_the_language_and_the_menu_and_answers_in_it(harness: Harness) -> None:
    (zh,) = await harness.send(VIEWER, "/lang zh")
    assert zh == plain(harness.menus.translator.get("zh")("lang-set"))
    assert await harness.users.get_language(VIEWER) == "zh"
    assert harness.menus.menus == [(VIEWER, Role.VIEWER)]
    # The next answer is in Chinese without any language code from Telegram.
    (help_zh,) = await harness.send(VIEWER, "/help", language_code="en")
    zh_t = harness.menus.translator.get("zh")
    assert help_zh.startswith(plain(zh_t("help-title", role=zh_t("role-viewer"))))


async def test_lang_with_a_bad_argument_answers_the_usage_and_changes_nothing(
    harness: Harness,
) -> None:
    for arg in ("", "fr", "zh en"):
        (text,) = await harness.send(STRANGER, f"/lang {arg}".strip())
        assert text == t_en("usage-lang")
    assert await harness.users.get_language(STRANGER) is None
    assert harness.menus.menus == []


async def test_lang_for_a_stranger_sets_no_menu(harness: Harness) -> None:
    (text,) = await harness.send(STRANGER, "/lang en")
    assert text == t_en("lang-set")
    assert harness.menus.menus == []


# ------------------------------------------------------------------------------ /find


async def test_find_lists_matches_with_buttons_escaped(harness: Harness) -> None:
    (text,) = await harness.send(ADMIN, "/find 李四")
    assert "李四 <i>" in text and "10002" in text
    html = harness.last().text
    assert "李四 &lt;i&gt;" in html  # a platform name is escaped
    markup = harness.last().reply_markup
    assert markup is not None
    buttons = [b for row in markup.inline_keyboard for b in row]  # type: ignore[union-attr]
    assert [b.text for b in buttons] == ["👤 李四 <i> (ls)"]


async def test_find_stays_inside_the_callers_scope(harness: Harness) -> None:
    (admin,) = await harness.send(ADMIN, "/find 张三")
    (viewer,) = await harness.send(VIEWER, "/find 张三")  # 张三 is in org 1, outside org 2
    assert "10001" in admin
    assert viewer == t_en("find-none", query="张三")


async def test_find_alone_asks_and_the_next_message_is_the_query(harness: Harness) -> None:
    (ask,) = await harness.send(ADMIN, "/find")
    assert ask == t_en("find-ask")
    (text,) = await harness.send(ADMIN, "East patrol")
    assert "East patrol" in text and "502" in text


async def test_find_is_refused_to_a_stranger(harness: Harness) -> None:
    texts = await harness.send(STRANGER, "/find 张三")
    assert len(texts) == 1 and "10001" not in texts[0]


# ------------------------------------------------------------------------------ /online


async def test_online_sorts_members_by_presence(harness: Harness) -> None:
    harness.platform.in_group = {10002}
    harness.platform.online = {10003}
    (text,) = await harness.send(ADMIN, "/online East patrol")
    assert text.startswith("👥 East patrol 502")
    assert t_en("online-counts", here=1, elsewhere=1, offline=0) in text
    here, elsewhere = text.index(t_en("online-here")), text.index(t_en("online-elsewhere"))
    assert here < text.index("李四 <i>") < elsewhere < text.index("王五")
    assert sorted(harness.platform.asked) == [
        ("in_group", 502, (10002, 10003)),
        ("online", 502, (10002, 10003)),
    ]


async def test_online_shows_only_members_inside_the_callers_scope(harness: Harness) -> None:
    harness.platform.online = {10001, 10002}
    (text,) = await harness.send(VIEWER, "/online 501")
    # Group 501 belongs to org 1, outside the viewer's org 2: not found.
    assert text == t_en("not-found", kind="group", query="501")
    assert harness.platform.asked == []


async def test_online_without_argument_answers_the_usage(harness: Harness) -> None:
    (text,) = await harness.send(ADMIN, "/online")
    assert text == t_en("usage-online")
    assert harness.platform.asked == []


# ------------------------------------------------------------------------------ a name's opening
# Every command that takes a name opens through `NameArg.read` (handlers/resolve.py): the
# usage line without one, "not found" outside the scope, buttons when several fit.


def buttons(harness: Harness) -> list[tuple[str, str]]:
    markup = harness.last().reply_markup
    assert markup is not None
    rows = markup.inline_keyboard  # type: ignore[union-attr]
    return [(b.text, b.callback_data or "") for row in rows for b in row]


async def test_a_name_command_without_its_name_answers_its_usage(harness: Harness) -> None:
    for command, usage in (("/user", "usage-user"), ("/online   ", "usage-online")):
        (text,) = await harness.send(ADMIN, command)
        assert text == t_en(usage)
    assert harness.session.methods() == ["SendMessage", "SendMessage"]  # no typing, no call


async def test_a_name_several_fit_gets_pick_buttons_for_that_command(harness: Harness) -> None:
    (text,) = await harness.send(ADMIN, "/online a")  # "Dispatch & Co" and "East patrol"
    assert text == t_en("ambiguous", count=2, query="a")
    picks = buttons(harness)
    assert sorted(name for name, _ in picks) == ["👥 Dispatch & Co", "👥 East patrol"]
    assert all(data.startswith("pk1:on:group:") for _, data in picks)  # PickAction.ONLINE
    assert harness.platform.asked == []


async def test_a_name_outside_the_scope_is_not_found_and_asks_nothing(harness: Harness) -> None:
    (text,) = await harness.send(VIEWER, "/user 张三")  # org 1: outside the viewer's org 2
    assert text == t_en("not-found", kind="user", query="张三")
    assert harness.session.methods() == ["SendMessage"]


async def test_a_name_with_spaces_is_one_name_and_is_shown(harness: Harness) -> None:
    harness.platform.in_group = {10002, 10003}
    (text,) = await harness.send(VIEWER, "/online east patrol")
    assert text.startswith("👥 East patrol 502")
    assert t_en("online-counts", here=2, elsewhere=0, offline=0) in text
    assert {gid for _, gid, _ in harness.platform.asked} == {502}


# ------------------------------------------------------------------------------ admin chores
# /deluser, /mkgroup, /bind, /device (handlers/accounts.py, talkgroups.py, devices.py) check
# their words before anything is asked of the platform: FakePlatform has no write to call.


async def test_admin_commands_with_wrong_words_answer_their_usage(harness: Harness) -> None:
    cases = {
        "/deluser": "usage-deluser",
        "/mkgroup onlyname": "usage-mkgroup",
        f"/mkgroup {'n' * 33} 1": "usage-mkgroup",
        "/bind 502": "usage-bind",
        "/device ²² idle": "usage-device",
        "/device 7 idle now": "usage-device",
    }
    for command, usage in cases.items():
        (text,) = await harness.send(ADMIN, command)
        assert text == t_en(usage), command


async def test_admin_commands_act_only_on_exactly_one_name(harness: Harness) -> None:
    (ambiguous,) = await harness.send(ADMIN, "/bind a ls")
    assert ambiguous == t_en(
        "admin-ambiguous", kind="group", query="a", names="Dispatch & Co, East patrol"
    )
    (missing,) = await harness.send(ADMIN, "/deluser nobody")
    assert missing == t_en("not-found", kind="user", query="nobody")
    (spec,) = await harness.send(ADMIN, "/bind 502 ls:11")
    assert spec == t_en("bind-bad-spec", spec="ls:11") + "\n" + t_en("usage-bind")
    assert harness.last().reply_markup is None  # no buttons to pick from, no confirmation


async def test_admin_commands_are_refused_below_admin(harness: Harness) -> None:
    for command in ("/deluser ls", "/mkgroup g 2", "/bind 502 ls", "/device 7 idle", "/audit"):
        (text,) = await harness.send(VIEWER, command)
        assert text == t_en("denied", role=t_en("role-admin")), command
