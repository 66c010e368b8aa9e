"""The shape of the house (issue 13): routers per dispatcher, services instead of a locator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from handlers import get_routers


def test_each_call_builds_fresh_routers() -> None:
    first, second = get_routers(), get_routers()

    assert [r.name for r in first] == [r.name for r in second]
    assert not {id(r) for r in first} & {id(r) for r in second}
    assert all(r.parent_router is None for r in first + second)


async def test_two_bridges_answer_help_at_the_same_time(
    make_bot_stack: Callable[..., Awaitable[Any]],
) -> None:
    one, two = await asyncio.gather(make_bot_stack(), make_bot_stack(language="zh"))
    assert one.bridge.http_port != two.bridge.http_port
    assert one.bridge.settings.bridge.db_path != two.bridge.settings.bridge.db_path

    en, zh = await asyncio.gather(one.say("viewer", "/help"), two.say("viewer", "/help"))

    assert len(en) == 1 and en[0].plain_text().startswith("What you can do — viewer\n/help")
    assert len(zh) == 1 and zh[0].plain_text().startswith("可用命令 — 查看者\n/help")
