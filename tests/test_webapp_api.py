"""The map's JSON API (issue 16): Telegram's initData, checked with the bot token, gives
the user the role and org scope they have in chat; everything else is 401, 403 or 404."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from conftest import SANDBOX_NOW, Clock

from bot.demo.stack import BOT_TOKEN, PEOPLE, Stack

PUBLIC_URL = "https://bridge.example.com"
NOW = SANDBOX_NOW.astimezone(UTC)


def sign(fields: dict[str, str], token: str = BOT_TOKEN) -> str:
    """initData as Telegram builds it (core.telegram.org/bots/webapps, "Validating data
    received via the Mini App"): the fields sorted by name as `key=value` lines, signed
    with HMAC-SHA256 keyed by HMAC-SHA256("WebAppData", bot token)."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def init_data(
    user_id: int, *, at: datetime = NOW, token: str = BOT_TOKEN, language: str = "en"
) -> str:
    user = {"id": user_id, "first_name": "Map", "last_name": "User", "language_code": language}
    fields = {
        "query_id": "AAH-test",
        "user": json.dumps(user, separators=(",", ":")),
        "auth_date": str(int(at.timestamp())),
    }
    return sign(fields, token)


def person(key: str) -> int:
    return next(p.id for p in PEOPLE if p.key == key)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def map_stack(
    make_bot_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> Callable[..., Awaitable[Stack]]:
    async def make(public_url: str | None = PUBLIC_URL) -> Stack:
        overrides = {"public_url": public_url} if public_url else {}
        return await make_bot_stack(bridge_overrides=overrides, clock=clock)

    return make


async def get(
    stack: Stack, path: str, auth: str | bytes | None = None
) -> tuple[int, dict[str, Any], httpx.Headers]:
    headers = {} if auth is None else {"Authorization": auth}
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        response = await client.get(path, headers=headers)
    return response.status_code, response.json(), response.headers


async def test_an_admin_sees_themselves_and_every_group(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    admin = person("admin")
    status, me, headers = await get(stack, "/app/api/me", f"tma {init_data(admin)}")
    assert status == 200, me
    assert me == {
        "user_id": admin,
        "name": "Map User",
        "role": "admin",
        "scope": None,
        "language": "en",
    }
    assert headers["Cache-Control"] == "no-store"
    status, body, headers = await get(stack, "/app/api/groups", f"tma {init_data(admin)}")
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    assert stack.bridge is not None
    every = stack.bridge.directory.groups()
    assert every and len(body["groups"]) == len(every)
    by_id = {g.id: g for g in every}
    for group in body["groups"]:
        assert group["name"] == by_id[group["id"]].name
        assert group["members"] == len(by_id[group["id"]].member_ids)


async def test_a_scoped_supervisor_sees_only_their_subtree(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    scoped = next(p for p in PEOPLE if p.key == "scoped")
    assert stack.bridge is not None and scoped.org_id is not None
    subtree = stack.bridge.directory.subtree(scoped.org_id)
    status, me, _ = await get(stack, "/app/api/me", f"tma {init_data(scoped.id)}")
    assert status == 200, me
    assert me["role"] == "supervisor"
    assert me["scope"] == sorted(subtree)
    status, body, _ = await get(stack, "/app/api/groups", f"tma {init_data(scoped.id)}")
    assert status == 200, body
    ids = {g["id"] for g in body["groups"]}
    inside = {g.id for g in stack.bridge.directory.groups() if g.org_id in subtree}
    assert ids == inside
    assert ids and len(ids) < len(stack.bridge.directory.groups())


async def test_the_language_is_the_one_the_chat_uses(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    viewer = person("viewer")
    status, me, _ = await get(stack, "/app/api/me", f"tma {init_data(viewer, language='zh-hans')}")
    assert (status, me["role"], me["language"]) == (200, "viewer", "zh")


async def test_a_user_without_a_role_gets_nothing(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    auth = f"tma {init_data(person('stranger'))}"
    for path in ("/app/api/me", "/app/api/groups"):
        status, body, headers = await get(stack, path, auth)
        assert (status, body) == (403, {"error": "no role"})
        assert headers["Cache-Control"] == "no-store"


async def test_forged_and_foreign_init_data_are_refused(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    admin = person("admin")
    genuine = init_data(admin)
    # Another user id under the admin's hash.
    forged = genuine.replace(f"%22id%22%3A{admin}", f"%22id%22%3A{admin + 1}")
    assert forged != genuine
    other_bot = init_data(admin, token="999999:another-bots-secret")
    no_hash = genuine.partition("&hash=")[0]
    for data in (forged, other_bot, no_hash, "not=a&valid=one", "%%%"):
        status, body, _ = await get(stack, "/app/api/groups", f"tma {data}")
        assert status == 401, data
        assert body == {"error": "initData is not signed for this bot"}


async def test_init_data_older_than_a_day_is_expired(
    map_stack: Callable[..., Awaitable[Stack]], clock: Clock
) -> None:
    stack = await map_stack()
    auth = f"tma {init_data(person('admin'))}"
    clock.advance(timedelta(hours=23, minutes=59))
    assert (await get(stack, "/app/api/me", auth))[0] == 200
    clock.advance(timedelta(minutes=2))
    status, body, _ = await get(stack, "/app/api/me", auth)
    assert status == 401
    assert body["error"].startswith("initData expired")
    future = f"tma {init_data(person('admin'), at=clock.now + timedelta(hours=1))}"
    status, body, _ = await get(stack, "/app/api/me", future)
    assert (status, body) == (401, {"error": "initData is dated in the future"})


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "missing Authorization: tma <initData>"),
        ("", "missing Authorization: tma <initData>"),
        ("tma", "the Authorization header must be 'tma <initData>'"),
        ("Bearer abc", "the Authorization header must be 'tma <initData>'"),
        ("tma ＡＢＣ".encode(), "the Authorization header is not ASCII (initData is URL-encoded)"),
        (b"tma \xff\xfe\x80", "the Authorization header is not ASCII (initData is URL-encoded)"),
    ],
    ids=["missing", "empty", "no-data", "bearer", "utf8", "garbled"],
)
async def test_a_missing_or_garbled_header_is_401(
    map_stack: Callable[..., Awaitable[Stack]], auth: str | bytes | None, reason: str
) -> None:
    stack = await map_stack()
    status, body, _ = await get(stack, "/app/api/me", auth)
    assert (status, body) == (401, {"error": reason})


async def test_the_map_is_off_without_a_public_url(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack(public_url=None)
    auth = f"tma {init_data(person('admin'))}"
    for path in ("/app/", "/app/api/me", "/app/api/groups", "/app/api/nothing"):
        status, body, headers = await get(stack, path, auth)
        assert (status, body) == (404, {"error": "the map is off: set BRIDGE_PUBLIC_URL"}), path
        assert headers["Cache-Control"] == "no-store"


async def test_other_app_paths_say_what_is_missing(
    map_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await map_stack()
    status, body, _ = await get(stack, "/app/api/nothing")
    assert (status, body) == (404, {"error": "no such endpoint: /app/api/nothing"})
    status, body, _ = await get(stack, "/app/")
    assert (status, body) == (404, {"error": "the map page is not built yet"})
