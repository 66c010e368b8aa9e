"""How the client reads an answer's bytes: UTF-8 JSON straight from the bytes, anything
else (another charset, nesting deeper than that parser goes) as text, as it always was;
and the directory's members are slotted records (the 50,000-user memory budget)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from bot.config import Settings
from bot.platform import PlatformClient
from bot.platform.models import Org, TreeNode

TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Answer:
    """What the server below answers to every request: these bytes, this content type."""

    body: bytes = b""
    content_type: str = "application/json"
    url: str = ""


@pytest.fixture
async def answer() -> AsyncIterator[Answer]:
    """A platform on 127.0.0.1 that answers `answer.body` to whatever it is asked."""
    given = Answer()

    async def reply(request: web.Request) -> web.Response:
        return web.Response(body=given.body, headers={"Content-Type": given.content_type})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", reply)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    given.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield given
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(answer: Answer) -> AsyncIterator[PlatformClient]:
    settings = Settings.load(None, platform={"base_url": answer.url, "token": "t"})
    c = PlatformClient(settings.platform, TZ)
    try:
        yield c
    finally:
        await c.aclose()


def envelope(data: object) -> dict[str, object]:
    return {"status": 200, "message": "成功", "data": data}


USER = {"id": "10001", "account": "zhangsan", "name": "张三", "online": 1, "roleName": "队长"}


async def test_an_answer_in_gbk_is_read_by_its_charset(
    answer: Answer, client: PlatformClient
) -> None:
    # GBK bytes are not UTF-8: parsing them as such would fail or garble 张三.
    answer.body = json.dumps(envelope(USER), ensure_ascii=False).encode("gbk")
    answer.content_type = "application/json; charset=GBK"
    info = await client.user_info(10001)
    assert info is not None
    assert (info.id, info.name, info.role_name, info.online) == (10001, "张三", "队长", True)


async def test_utf8_and_escaped_answers_read_alike(answer: Answer, client: PlatformClient) -> None:
    answer.body = json.dumps(envelope(USER), ensure_ascii=False).encode()
    raw = await client.user_info(10001)
    answer.body = json.dumps(envelope(USER), ensure_ascii=True).encode()  # \\u5f20\\u4e09
    escaped = await client.user_info(10001)
    assert raw == escaped and raw is not None and raw.name == "张三"


async def test_an_answer_nested_deeper_than_the_fast_parser_goes_is_still_read(
    answer: Answer, client: PlatformClient
) -> None:
    # 300 levels: past the byte parser's limit (200), within json's; ignored by the model.
    deep: object = "bottom"
    for _ in range(300):
        deep = [deep]
    answer.body = json.dumps(envelope({**USER, "extra": deep}), ensure_ascii=False).encode()
    info = await client.user_info(10001)
    assert info is not None and info.name == "张三"


async def test_a_truncated_utf8_answer_is_still_named_as_such(
    answer: Answer, client: PlatformClient
) -> None:
    whole = json.dumps(envelope(USER), ensure_ascii=False).encode()
    answer.body = whole[: len(whole) // 2]
    with pytest.raises(Exception, match="truncated"):
        await client.user_info(10001)


async def test_directory_members_are_slotted_records(
    answer: Answer, client: PlatformClient
) -> None:
    """A model per member cost 8 times the memory (a `__dict__` and a fields-set each):
    50,000 users took the directory's load past its 350 MB budget."""
    answer.body = json.dumps(
        envelope([{"id": 1, "name": "总部", "children": [{**USER, "type": 1}]}]),
        ensure_ascii=False,
    ).encode()
    orgs = await client.org_user_tree()
    assert isinstance(orgs[0], Org)
    user = orgs[0].users[0]
    assert (user.id, user.account, user.online) == (10001, "zhangsan", True)
    assert not hasattr(user, "__dict__")
    group = {"gid": "1001", "name": "一组", "type": 1, "users": {"uid": "10001", "name": "张三"}}
    answer.body = json.dumps(
        envelope({"id": 1, "name": "总部", "children": [group]}), ensure_ascii=False
    ).encode()
    tree = await client.org_tree()
    assert isinstance(tree, TreeNode)
    member = tree.children[0].users[0]
    assert (tree.children[0].id, member.uid) == (1001, 10001)
    assert not hasattr(member, "__dict__")
