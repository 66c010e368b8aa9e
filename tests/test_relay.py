"""The relay end to end: the sandbox platform POSTs callbacks (3.1–3.5, 2.15) to the real
listener over HTTP; the bridge stores, fans out and delivers them through aiogram's real
session to the Telegram emulator. DESIGN §5 (routes) and §6 (guarantees).

People (`bot.demo.stack.PEOPLE`): admin 1001 (BRIDGE_ADMIN_IDS), supervisor 1002,
viewer 1003. Group chats are added per test; the admin subscribes them with /subscribe.
The crash test (a killed subprocess) is in test_relay_crash.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.demo.stack import BOT_TOKEN, CALLBACK_TOKEN, Stack
from bot.relay.listener import MAX_BODY
from bot.sandbox.data import Membership
from bot.sandbox.telegram import EmuMessage, FastClock, TelegramEmulator

EVENTS = ("report", "org-updated", "org-deleted", "user-updated", "user-deleted")
ROUTES = (*EVENTS, "notices")
ADMIN = 1001
OK = {"status": 200, "message": "成功", "data": None}


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def make_stack(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> Callable[..., Awaitable[Stack]]:
    """`await make_stack(**kw)`: a started `Stack(**kw)` (English), stopped at teardown
    (conftest's one stack fixture)."""
    return make_bot_stack


@pytest.fixture
async def stack(make_stack: Callable[..., Awaitable[Stack]]) -> Stack:
    return await make_stack()


# ------------------------------------------------------------------------------ helpers


def path_of(route: str) -> str:
    return "/platform/notices" if route == "notices" else f"/platform/events/{route}"


async def post(
    stack: Stack,
    route: str,
    data: bytes,
    *,
    token: str | None = CALLBACK_TOKEN,
    chunked: bool = False,
) -> tuple[int, Any]:
    """POST raw bytes to a listener route; (HTTP status, decoded answer).

    `chunked`: sent in 64 KiB pieces without a Content-Length, as a streaming client does.
    """
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["token"] = token
    body: Any = io.BytesIO(data)
    if chunked:

        async def pieces() -> AsyncIterator[bytes]:
            for i in range(0, len(data), 64 * 1024):
                yield data[i : i + 64 * 1024]

        body = pieces()
    async with (
        aiohttp.ClientSession() as session,
        session.post(stack.bridge_url + path_of(route), data=body, headers=headers) as resp,
    ):
        return resp.status, json.loads(await resp.text())


async def post_json(stack: Stack, route: str, body: Any, **kw: Any) -> tuple[int, Any]:
    return await post(stack, route, json.dumps(body, ensure_ascii=False).encode(), **kw)


async def counts(stack: Stack) -> dict[str, int]:
    """Rows stored by the relay: inbox, outbox, incidents, notice jobs."""
    assert stack.bridge is not None
    repos = stack.bridge.repos
    out = {
        "inbox": await repos.inbox.count(),
        "outbox": sum((await repos.outbox.counts()).values()),
        "notices": sum((await repos.notices.counts()).values()),
    }
    row = await stack.bridge.db.fetchone("SELECT count(*) AS n FROM incidents")
    assert row is not None
    out["incidents"] = int(row["n"])
    return out


async def states(stack: Stack, chat_id: int) -> dict[str, int]:
    """Outbox rows of one chat by state."""
    assert stack.bridge is not None
    rows = await stack.bridge.db.fetchall(
        "SELECT state, count(*) AS n FROM outbox WHERE chat_id = ? GROUP BY state", (chat_id,)
    )
    return {r["state"]: int(r["n"]) for r in rows}


async def settles(stack: Stack, chat_id: int, want: dict[str, int]) -> None:
    """Wait until a chat's outbox rows are in these states (a row is marked sent just
    after Telegram has the message)."""

    async def there() -> bool:
        return await states(stack, chat_id) == want

    try:
        await after_deliveries(stack, there)
    except TimeoutError:
        raise AssertionError(f"chat {chat_id}: {await states(stack, chat_id)} != {want}") from None


async def when(
    predicate: Callable[[], Awaitable[bool]],
    event: asyncio.Event,
    timeout: float = 20.0,  # noqa: ASYNC109 - a deadline for the whole wait
) -> None:
    """Await `predicate()` holding, checked again each time `event` is set by whatever
    changes what it reads (cleared before each check, so no change is missed)."""
    async with asyncio.timeout(timeout):
        while True:
            event.clear()
            if await predicate():
                return
            await event.wait()


async def after_deliveries(
    stack: Stack,
    predicate: Callable[[], Awaitable[bool]],
    timeout: float = 20.0,  # noqa: ASYNC109 - a deadline for the whole wait
) -> None:
    """Await a condition on the outbox, checked each time the delivery worker ends a round
    with nothing left to send now (its `idle` event)."""
    assert stack.bridge is not None
    stack.bridge.delivery.wake()
    await when(predicate, stack.bridge.delivery.idle, timeout)


def on_refresh(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """An event set after each reload of the bridge's directory, from now on."""
    assert stack.bridge is not None
    directory = stack.bridge.directory
    real, refreshed = directory.refresh, asyncio.Event()

    async def refresh() -> bool:
        try:
            return await real()
        finally:
            refreshed.set()

    monkeypatch.setattr(directory, "refresh", refresh)
    return refreshed


async def processed(stack: Stack) -> bool:
    """Every stored org/user event has been looked up and told."""
    assert stack.bridge is not None
    return not await stack.bridge.repos.inbox.unprocessed()


async def subscribed_group(
    stack: Stack, chat_id: int, kinds: str = "incidents", title: str | None = None
) -> int:
    """A supergroup where the admin subscribes to `kinds`."""
    stack.add_group(chat_id, title or f"Team {chat_id}")
    reply = await stack.say("admin", f"/subscribe {kinds}", chat=chat_id)
    assert "This chat now receives" in reply[0].plain_text(), reply[0].render()
    return chat_id


def report(stack: Stack, **overrides: Any) -> dict[str, Any]:
    """A realistic 3.1 body without attachments (one message per chat)."""
    overrides.setdefault("urls", [])
    return stack.platform.make_report(**overrides)


def codes_in(msgs: list[EmuMessage]) -> list[str]:
    return [c for m in msgs for c in re.findall(r"Incident (SJ\d+)", m.plain_text())]


def notice_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": {"id": 1, "name": "调度中心"},
        "to": {"orgIds": [266]},
        "title": "防汛通知",
        "content": "今晚有暴雨，请各单位做好准备。",
    }
    body.update(overrides)
    return body


def valid_body(stack: Stack, route: str) -> dict[str, Any]:
    if route == "report":
        return report(stack)
    if route == "notices":
        return notice_body()
    return {"id": [10001]}


# ------------------------------------------------------------------------------ happy paths


async def test_a_report_is_acknowledged_after_it_is_stored_and_relayed_to_subscribers(
    stack: Stack,
) -> None:
    group = await subscribed_group(stack, -100101, "incidents")
    other = stack.add_group(-100102, "Not subscribed")
    body = report(stack, content="解放路仓库冒烟")
    status, answer = await stack.platform_event("report", body)
    assert (status, answer) == (200, OK)
    # Acknowledged only after the commit: the rows exist as soon as the answer is in.
    assert await counts(stack) == {"inbox": 1, "outbox": 1, "notices": 0, "incidents": 1}
    [msg] = await stack.emu.wait_for_messages(group, 1)
    text = msg.plain_text()
    assert f"Incident {body['code']}" in text
    assert "解放路仓库冒烟" in text
    assert f"Filed by {body['from']['name']} ({body['from']['account']})" in text
    assert msg.buttons()[0][0] == "✅ Acknowledge"
    assert stack.emu.messages(other) == []


@pytest.mark.parametrize("kind", ["org-updated", "org-deleted", "user-updated", "user-deleted"])
async def test_each_directory_event_is_acknowledged_and_told(stack: Stack, kind: str) -> None:
    group = await subscribed_group(stack, -100111, "org-changes user-changes")
    data = stack.platform.data
    if kind == "org-updated":
        data.orgs[268].name = "特勤一中队"
        ids, want = [268], "Org 特勤一中队 changed"
    elif kind == "org-deleted":
        del data.orgs[270]
        ids, want = [270], "Org 医疗救护队 was deleted"
    elif kind == "user-updated":
        data.users[10001].name = "张叁"
        ids, want = [10001], "User 张叁 (zhangsan01) changed"
    else:
        data.delete_user(10002)
        ids, want = [10002], "User 张珊 (zhangshan01) was deleted"
    status, answer = await stack.platform_event(kind, {"id": ids})
    assert (status, answer) == (200, OK)
    assert (await counts(stack))["inbox"] == 1
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert want in msg.plain_text()


async def test_a_notice_the_platform_could_not_take_is_kept_and_sent_when_it_answers(
    stack: Stack,
) -> None:
    from bot.platform import PlatformClient

    assert stack.bridge is not None
    relay = stack.bridge.relay
    # A platform that refuses connections (a real closed port): the notice certainly never
    # reached it, so it is kept (not dead) and tried again; one sent later keeps its place.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    settings = stack.bridge.settings.platform.model_copy(
        update={"base_url": f"http://127.0.0.1:{port}"}
    )
    down = PlatformClient(settings, stack.bridge.settings.bridge.tz)
    # The part that pushes notices to the platform.
    real, relay.notice_sender.platform = relay.notice_sender.platform, down
    try:
        assert await post_json(stack, "notices", notice_body(title="第一")) == (200, OK)
        assert await post_json(stack, "notices", notice_body(title="第二")) == (200, OK)
        await relay.process_inbox()
        [first, second] = await stack.bridge.repos.notices.pending()
        assert first.attempts >= 1 and first.error_code == 0
        assert second.attempts == 0  # waits behind the first: notices keep their order
    finally:
        relay.notice_sender.platform = real
        await down.aclose()
    await relay.process_inbox()
    assert await stack.bridge.repos.notices.counts() == {"sent": 2}
    assert [n.body["title"] for n in stack.platform.data.notices[-2:]] == ["第一", "第二"]


async def test_a_notice_refused_by_the_platform_is_dead_with_its_code(stack: Stack) -> None:
    assert stack.bridge is not None
    relay = stack.bridge.relay
    stack.platform.fail_next("/accept/event", "status", status=509, message="组织不存在")
    assert await post_json(stack, "notices", notice_body()) == (200, OK)
    await relay.process_inbox()
    [job] = [await stack.bridge.repos.notices.get(i) for i in (1,)]
    assert job is not None
    assert (job.state, job.error_code, job.error_message) == ("dead", 509, "组织不存在")
    assert stack.platform.data.notices == []  # never retried blindly


async def test_a_notice_goes_to_the_platform_and_to_subscribed_chats(stack: Stack) -> None:
    group = await subscribed_group(stack, -100121, "notices")
    before = len(stack.platform.requests_to("/accept/event"))
    status, answer = await post_json(stack, "notices", notice_body())
    assert (status, answer) == (200, OK)
    # Answered after both are durably queued: the platform's job and the chat's copy.
    assert await counts(stack) == {"inbox": 1, "outbox": 1, "notices": 1, "incidents": 0}
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert "防汛通知" in msg.plain_text()
    assert "今晚有暴雨" in msg.plain_text()
    assert "调度中心" in msg.plain_text()
    await stack.emu.wait_for(lambda: len(stack.platform.data.notices) == 1)
    sent = stack.platform.data.notices[0]
    assert sent.body["title"] == "防汛通知"
    assert sent.org_ids == [266]
    assert len(stack.platform.requests_to("/accept/event")) == before + 1
    assert stack.bridge is not None

    # The background round that pushed it records it sent; a round of our own waits for
    # that one (they take turns) and finds nothing left to push.
    await stack.bridge.relay.process_inbox()
    assert await stack.bridge.repos.notices.counts() == {"sent": 1}


async def test_filters_by_org_subtree_and_level_and_a_forum_topic(stack: Stack) -> None:
    # Org 266's subtree is 266 and 268; levels as the platform spells them.
    by_org = await subscribed_group(stack, -100161, "incidents org 266")
    by_level = await subscribed_group(stack, -100162, "incidents level 重大 特别重大")
    forum = stack.add_group(-100163, "Forum", forum=True)
    topic = stack.emu.add_topic(forum, "Alerts")
    reply = await stack.say("admin", "/subscribe incidents org 267", chat=forum, thread_id=topic)
    assert "This chat now receives" in reply[0].plain_text()

    def to(org: int, level: str) -> dict[str, Any]:
        name = stack.platform.data.orgs[org].name
        # The reporter decides nothing here: only the org it was forwarded to counts.
        sender = {"id": 0, "account": "x", "name": "x"}
        return report(stack, to={"id": str(org), "name": name}, level=level, **{"from": sender})

    sent = [to(267, "一般"), to(268, "重大"), to(103, "特别重大"), to(266, "一般"), to(269, "较大")]
    for body in sent:
        assert await stack.platform_event("report", body) == (200, OK)
    codes = [b["code"] for b in sent]
    want = {
        by_org: [codes[1], codes[3]],  # 268 and 266
        by_level: [codes[1], codes[2]],  # 重大, 特别重大
        forum: [codes[0], codes[4]],  # 267 and its 269
    }
    assert stack.bridge is not None
    for chat, expected in want.items():
        # Fanned out before the answer: exactly these rows, whatever is still to come.
        assert sum((await states(stack, chat)).values()) == len(expected)
        got = await stack.emu.wait_for_messages(chat, len(expected))
        assert codes_in(got) == expected, chat
    in_topic = stack.emu.messages(forum, thread_id=topic)
    assert codes_in(in_topic) == want[forum]  # in the topic, not the General one
    assert codes_in(stack.emu.messages(forum, thread_id=None)) == want[forum]


# ------------------------------------------------------------------------------ rejections

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "report": ({"id": 70001, "type": "火情"}, "code"),
    "org-updated": ({"id": ["abc"]}, "id.0"),
    "org-deleted": ({"ids": [1]}, "id"),
    "user-updated": ({"id": []}, "id"),
    "user-deleted": ({"id": [True]}, "id.0"),
    "notices": ({"from": {"id": 1, "name": "x"}, "to": {"orgIds": [266]}, "content": "c"}, "title"),
}


@pytest.mark.parametrize("route", ROUTES)
async def test_every_route_refuses_what_it_must_and_stores_nothing(
    stack: Stack, route: str
) -> None:
    await subscribed_group(stack, -100131, "all")
    before = await counts(stack)
    good = json.dumps(valid_body(stack, route)).encode()

    for token in ("wrong-token", None, "", CALLBACK_TOKEN + "x", CALLBACK_TOKEN[:-1]):
        status, answer = await post(stack, route, good, token=token)
        assert (status, answer["status"]) == (401, 501), token
        assert set(answer) == {"status", "message", "data"}

    for raw in (b"{not json", b"", b"\xff\xfe{}", b'{"id": 1', b"[1, 2]", b'"text"', b"null"):
        status, answer = await post(stack, route, raw)
        assert (status, answer["status"]) == (400, 502), raw
        assert ": body: " in answer["message"]

    body, field = INVALID[route]
    status, answer = await post_json(stack, route, body)
    assert (status, answer["status"]) == (400, 502)
    assert f": {field}: " in answer["message"], answer

    huge = b'{"pad": "' + b"x" * MAX_BODY + b'"}'
    for chunked in (False, True):
        status, answer = await post(stack, route, huge, chunked=chunked)
        assert (status, answer["status"]) == (413, 510), chunked

    assert await counts(stack) == before


@pytest.mark.parametrize("route", ["report", "notices"])
async def test_a_valid_body_close_to_the_limit_is_read_whole(stack: Stack, route: str) -> None:
    """A body arrives in many TCP segments: it is read to its end, not to the first one."""
    body = valid_body(stack, route)
    body["padding"] = "x" * (MAX_BODY - 4096)  # an extra field, ignored
    data = json.dumps(body).encode()
    assert len(data) < MAX_BODY
    for chunked in (False, True):
        status, answer = await post(stack, route, data, chunked=chunked)
        assert (status, answer) == (200, OK), chunked
    assert (await counts(stack))["inbox"] == (1 if route == "report" else 2)


async def test_storage_unavailable_answers_503_so_the_platform_retries(stack: Stack) -> None:
    group = await subscribed_group(stack, -100141)
    assert stack.bridge is not None
    body = report(stack)
    # Another process holds the write lock past the busy timeout (5 s).
    other = sqlite3.connect(stack.bridge.db.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        status, answer = await stack.platform_event("report", body)
        assert status == 503
        assert isinstance(answer, dict) and answer["status"] != 200
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (await counts(stack))["inbox"] == 0
    # The platform retries: stored and relayed once.
    assert await stack.platform_event("report", body) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert body["code"] in msg.plain_text()


# ------------------------------------------------------------------------------ dedupe


async def test_the_same_incident_is_relayed_once_even_across_a_restart(stack: Stack) -> None:
    group = await subscribed_group(stack, -100151)
    first = report(stack)
    assert await stack.platform_event("report", first) == (200, OK)
    assert await stack.platform_event("report", first) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert codes_in([msg]) == [first["code"]]

    await stack.restart_bridge()
    assert await stack.platform_event("report", first) == (200, OK)
    assert await stack.platform_event("report", dict(first, content="改了内容")) == (200, OK)
    again = dict(first, code=first["code"] + "2")  # the same id with another code
    assert await stack.platform_event("report", again) == (200, OK)
    assert (await counts(stack))["incidents"] == 2
    [msg2] = await stack.emu.wait_for_messages(group, 1)
    # In order per chat: had a duplicate been relayed, it would have come before this one.
    assert codes_in(stack.emu.messages(group)) == [first["code"], again["code"]]
    assert "改了内容" not in msg2.plain_text()
    assert stack.bridge is not None
    metrics = stack.bridge.metrics
    assert metrics.events_duplicate.labels("report")._value.get() == 2
    assert metrics.events_stored.labels("report")._value.get() == 1


# ------------------------------------------------------------------------------ burst

# The issue asks for 500 incidents to 10 group chats with the emulator enforcing Telegram's
# limits and the bridge at its default rates (25/s overall, 1/s per chat, 20/min per group):
# at 20 messages a minute per group that is 25 minutes. So every rate on both sides is
# multiplied by SCALE: the emulator allows 30·S/s overall and 20·S/min per group (bucket of
# 20·S), the bridge sends at 25·S/s, S/s per chat and 20·S/min per group — the ratios of
# the defaults. With S = 15 each group's bucket (300) is empty after ~30 s and the last
# ~50 incidents of every chat go out at the per-group limit itself, where sending a moment
# early draws a 429. About 40 s.
BURST = 100
BURST_CHATS = 10


async def test_a_burst_reaches_every_chat_in_order_without_a_429(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    # Telegram's own limits, held in every sliding window by emulator and bridge alike, on
    # one clock running 60 times faster than real time: 100 incidents to each of 10
    # groups are five minutes of every group's 20-per-minute budget, passed in seconds.
    fast = FastClock(speed=60)
    emu = TelegramEmulator(BOT_TOKEN, flood_limits=True, clock=fast)
    stack = await make_bot_stack(flood_limits=True, rates=(25.0, 1.0, 20.0), emulator=emu)
    assert stack.bridge is not None
    stack.bridge.flood.use_clock(fast, fast.sleep)
    chats = [await subscribed_group(stack, -100200 - i) for i in range(BURST_CHATS)]
    bodies = [report(stack) for _ in range(BURST)]

    async def send(body: dict[str, Any]) -> None:
        assert await stack.platform_event("report", body) == (200, OK)

    for i in range(0, BURST, 10):  # ten callback senders at a time, as the platform's pool
        await asyncio.gather(*(send(b) for b in bodies[i : i + 10]))
    for chat in chats:
        await stack.emu.wait_for(lambda c=chat: len(stack.emu.messages(c)) >= BURST + 1, 120)
    assert stack.bridge is not None
    # Concurrent POSTs commit one after another: that order is the order of every chat.
    rows = await stack.bridge.db.fetchall("SELECT body FROM incidents ORDER BY id")
    committed = [json.loads(r["body"])["code"] for r in rows]
    assert sorted(committed) == sorted(b["code"] for b in bodies)
    for chat in chats:
        assert codes_in(stack.emu.messages(chat)) == committed

    async def all_sent() -> bool:
        assert stack.bridge is not None
        return (await stack.bridge.repos.outbox.counts())["sent"] == BURST * BURST_CHATS

    await after_deliveries(stack, all_sent)
    # A send holds its place in each window from its start and is dated by its answer
    # (bot/telegram/flood.py): at BRIDGE_RATE_PER_GROUP_MIN = Telegram's 20/min there is no
    # margin, and still no 429.
    too_many = [c for c in stack.emu.calls if c.status == 429]
    assert too_many == []


# ------------------------------------------------------------------------------ chats that go away


async def test_a_chat_that_blocked_the_bot_is_paused_its_rows_dead_and_admins_told(
    stack: Stack,
) -> None:
    gone = await subscribed_group(stack, -100301, title="Night shift")
    control = await subscribed_group(stack, -100302)
    stack.emu.block(gone)
    for body in (report(stack), report(stack)):
        assert await stack.platform_event("report", body) == (200, OK)
    await stack.emu.wait_for_messages(control, 2)
    [alert] = await stack.emu.wait_for_messages(ADMIN, 1)
    assert "can no longer post in" in alert.plain_text()
    assert str(gone) in alert.plain_text()
    assert "subscriptions are paused" in alert.plain_text()

    await settles(stack, gone, {"dead": 2})
    assert stack.bridge is not None
    chat = await stack.bridge.chats.get(gone)
    assert chat is not None and chat.paused
    # Paused: a later incident is not even queued for it (the answer comes after fan-out).
    assert await stack.platform_event("report", report(stack)) == (200, OK)
    assert await states(stack, gone) == {"dead": 2}
    assert (await stack.bridge.repos.outbox.counts())["dead"] == 2
    await stack.emu.wait_for_messages(control, 1)
    assert codes_in(stack.emu.messages(gone)) == []


async def test_the_admins_alert_names_the_chat_by_its_title(stack: Stack) -> None:
    gone = await subscribed_group(stack, -100311, title="Night shift")
    stack.emu.block(gone)
    assert await stack.platform_event("report", report(stack)) == (200, OK)
    [alert] = await stack.emu.wait_for_messages(ADMIN, 1)
    assert "Night shift" in alert.plain_text()


async def test_a_group_migrated_to_a_supergroup_keeps_its_subscriptions_and_rows(
    stack: Stack,
) -> None:
    old, new = -4001, -1004001
    stack.emu.add_group(
        old,
        "Basic group",
        supergroup=False,
        admins=[stack.people["admin"]],
        members=list(stack.people.values()),
    )
    reply = await stack.say("admin", "/subscribe incidents", chat=old)
    assert "This chat now receives" in reply[0].plain_text()
    stack.emu.migrate_group(old, new)
    bodies = [report(stack) for _ in range(3)]
    for body in bodies:
        assert await stack.platform_event("report", body) == (200, OK)
    got = await stack.emu.wait_for_messages(new, 3)
    assert codes_in(got) == [b["code"] for b in bodies]  # nothing lost, in order
    assert codes_in(stack.emu.messages(old)) == []
    assert stack.bridge is not None
    subs = stack.bridge.repos.subscriptions
    assert await subs.for_chat(old) == []
    assert [s.kind for s in await subs.for_chat(new)] == ["incidents"]
    assert await states(stack, old) == {}
    await settles(stack, new, {"sent": 3})
    # Later incidents go to the new id straight away.
    later = report(stack)
    assert await stack.platform_event("report", later) == (200, OK)
    assert codes_in(await stack.emu.wait_for_messages(new, 1)) == [later["code"]]
    # The Acknowledge button works on the copies in the new chat.
    first = got[0]
    await stack.press("supervisor", first, 0)
    await stack.emu.wait_for(
        lambda: "Acknowledged by" in stack.emu.message(new, first.message_id).plain_text()
    )


# ------------------------------------------------------------------------------ mute


async def test_mute_holds_everything_and_off_sends_one_summary_then_the_incidents(
    stack: Stack,
) -> None:
    muted = await subscribed_group(stack, -100401, "incidents user-changes")
    control = await subscribed_group(stack, -100402, "incidents user-changes")
    [ok] = await stack.say("admin", "/mute 30m", chat=muted)
    assert "Muted until" in ok.plain_text()
    shown_before = len(stack.emu.messages(muted))
    bodies = [report(stack) for _ in range(3)]
    for body in bodies:
        assert await stack.platform_event("report", body) == (200, OK)
    stack.platform.data.users[10001].name = "张叁"
    assert await stack.platform_event("user-updated", {"id": [10001]}) == (200, OK)
    # The same rows reach the unmuted chat: the worker has had its turn at the muted one.
    seen = await stack.emu.wait_for_messages(control, 4)
    assert codes_in(seen) == [b["code"] for b in bodies]
    assert "张三 → 张叁" in seen[3].plain_text()
    assert stack.bridge is not None
    delivery = stack.bridge.delivery
    delivery.idle.clear()
    delivery.wake()
    await asyncio.wait_for(delivery.idle.wait(), 10)
    assert len(stack.emu.messages(muted)) == shown_before
    assert await states(stack, muted) == {"pending": 4}

    replies = await stack.say("admin", "/mute off", chat=muted)
    assert any("Mute ended" in m.plain_text() for m in replies)
    await stack.emu.wait_for(lambda: len(stack.emu.messages(muted)) >= shown_before + 5)
    after = [
        m for m in stack.emu.messages(muted)[shown_before:] if "Mute ended" not in m.plain_text()
    ]
    summary, *incidents = after
    text = summary.plain_text()
    assert "While muted, 4 messages were held" in text
    assert "incidents: 3" in text
    assert "user changes: 1" in text
    assert "User 张叁 (zhangsan01) changed" in text  # told in the summary, not dropped
    assert codes_in(incidents) == [b["code"] for b in bodies]

    await settles(stack, muted, {"sent": 4, "summarized": 1})
    # Unmuted: the next one goes out at once.
    assert await stack.platform_event("report", report(stack)) == (200, OK)
    await stack.emu.wait_for(lambda: len(stack.emu.messages(muted)) == shown_before + 6)


# ------------------------------------------------------------------------------ acknowledge


async def test_acknowledge_edits_every_copy_and_a_second_press_is_told_who(stack: Stack) -> None:
    a = await subscribed_group(stack, -100501)
    b = await subscribed_group(stack, -100502)
    body = report(stack)
    assert await stack.platform_event("report", body) == (200, OK)
    [in_a] = await stack.emu.wait_for_messages(a, 1)
    [in_b] = await stack.emu.wait_for_messages(b, 1)
    [(_, ack_data)] = in_b.buttons()

    await stack.press("supervisor", in_a, 0)
    assert stack.emu.callback_answers[-1].text == "Acknowledged. Every copy now shows it."

    def acked(chat: int, msg: EmuMessage) -> bool:
        shown = stack.emu.message(chat, msg.message_id).plain_text()
        return "Acknowledged by Supervisor Sun at" in shown

    await stack.emu.wait_for(lambda: acked(a, in_a) and acked(b, in_b))
    for chat, msg in ((a, in_a), (b, in_b)):
        now = stack.emu.message(chat, msg.message_id)
        assert body["code"] in now.plain_text()
        assert len(now.edits) == 1

    # The edit removed the button; a client still showing it (a press at the same time):
    update = await stack.emu.press_button(stack.people["viewer"], in_b, ack_data, strict=False)
    await stack.wait_handled(int(update["update_id"]))
    answer = stack.emu.callback_answers[-1]
    assert answer.show_alert
    assert answer.text is not None
    assert re.fullmatch(r"Already acknowledged by Supervisor Sun at \d\d:\d\d\.", answer.text)
    assert stack.bridge is not None
    [incident_id] = {i for (i,) in await stack.bridge.db.fetchall("SELECT id FROM incidents")}
    incident = await stack.bridge.repos.incidents.get(incident_id)
    assert incident is not None and incident.acked_by == 1002
    # The second press changed nothing: no edit queued, none made.
    await settles(stack, a, {"sent": 2})
    await settles(stack, b, {"sent": 2})
    assert len(stack.emu.message(b, in_b.message_id).edits) == 1


# ------------------------------------------------------------------------------ change diffs


async def test_user_changes_are_told_field_by_field(stack: Stack) -> None:
    # Only org 266's subtree: the new user must be placed in it to be told here.
    group = await subscribed_group(stack, -100601, "user-changes org 266")
    data = stack.platform.data
    newbie = data.add_user("xinren01", "新人", "pass1234", 266)
    # One event for three users: the new one is told; the two others, unchanged, are
    # recorded as the bridge now knows them (what later diffs compare with).
    event = {"id": [newbie.id, 10001, 10002]}
    assert await stack.platform_event("user-updated", event) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert msg.plain_text().splitlines() == ["👤 New user 新人 (xinren01)", "in 消防一大队"]

    data.users[10001].name = "张叁"
    assert await stack.platform_event("user-updated", {"id": [10001]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert msg.plain_text().splitlines() == [
        "👤 User 张叁 (zhangsan01) changed",
        "name: 张三 → 张叁",
    ]

    data.delete_user(10002)
    assert await stack.platform_event("user-deleted", {"id": [10002]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert msg.plain_text() == "👤 User 张珊 (zhangshan01) was deleted"


async def test_a_user_the_bridge_never_knew_is_told_deleted_by_id(stack: Stack) -> None:
    group = await subscribed_group(stack, -100671, "user-changes")
    assert await stack.platform_event("user-deleted", {"id": [987654]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert msg.plain_text() == "👤 User 987654 was deleted (the bridge never knew the name)"


async def test_a_second_change_of_the_same_user_within_seconds_is_told_too(
    stack: Stack,
) -> None:
    """Coalescing two events for one user must not swallow a change made between them."""
    group = await subscribed_group(stack, -100611, "user-changes")
    user = stack.platform.data.users[10001]
    user.name = "张叁"
    assert await stack.platform_event("user-updated", {"id": [10001]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert "name: 张三 → 张叁" in msg.plain_text()
    # A moment later an admin moves them to another talk group and gives them another role.
    del user.groups[1002]
    stack.platform.data.bind(1005, 10001, Membership())
    user.role_id, user.role_name = 1, "指挥员"
    assert await stack.platform_event("user-updated", {"id": [10001]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    lines = msg.plain_text().splitlines()
    assert lines[0] == "👤 User 张叁 (zhangsan01) changed"
    assert "role: 队长 → 指挥员" in lines
    assert "groups: + 巡逻组 − 消防一大队主频" in lines


async def test_a_new_user_is_told_even_if_the_directory_was_reloaded_before_its_event(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory is reloaded after every batch: it is no record of what came before."""
    group = await subscribed_group(stack, -100615, "user-changes")
    assert stack.bridge is not None
    # At start the directory diff records the whole directory as what the bridge knows.
    await asyncio.wait_for(stack.bridge.jobs.caught_up.wait(), 10)
    refreshed = on_refresh(stack, monkeypatch)
    data = stack.platform.data
    newbie = data.add_user("xinren02", "新人二", "pass1234", 266)  # registered on the platform
    data.users[10001].name = "张叁"
    assert await stack.platform_event("user-updated", {"id": [10001]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert "name: 张三 → 张叁" in msg.plain_text()
    directory = stack.bridge.directory

    async def reloaded() -> bool:  # the relay reloads the directory after each batch
        return directory.user(newbie.id) is not None

    await when(reloaded, refreshed)
    # Only now does the platform's event for the new user arrive.
    assert await stack.platform_event("user-updated", {"id": [newbie.id]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert msg.plain_text().splitlines() == ["👤 New user 新人二 (xinren02)", "in 消防一大队"]


def test_the_relay_reads_the_seed_mark_the_directory_diff_writes() -> None:
    # One constant, in the one changes module both paths use.
    from bot.jobs import directory_diff
    from bot.relay import changes, feed

    assert feed.SNAPSHOT_SEEDED == directory_diff.SNAPSHOT_SEEDED
    assert feed.SNAPSHOT_SEEDED is changes.SNAPSHOT_SEEDED
    assert directory_diff.SNAPSHOT_SEEDED is changes.SNAPSHOT_SEEDED


async def test_org_changes_are_told(stack: Stack) -> None:
    group = await subscribed_group(stack, -100621, "org-changes")
    data = stack.platform.data
    old_address = data.orgs[268].address
    data.orgs[268].name = "特勤一中队"
    data.orgs[268].address = "浙江省 杭州市 新地址1号"
    # 270 unchanged: recorded as known, nothing told.
    assert await stack.platform_event("org-updated", {"id": [268, 270]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert msg.plain_text().splitlines() == [
        "🏢 Org 特勤一中队 changed",
        "name: 特勤中队 → 特勤一中队",
        f"address: {old_address} → 浙江省 杭州市 新地址1号",
    ]
    del data.orgs[270]
    assert await stack.platform_event("org-deleted", {"id": [270]}) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    assert msg.plain_text() == "🏢 Org 医疗救护队 was deleted"


async def test_an_update_for_an_org_already_gone_is_told_and_blocks_nothing(
    stack: Stack,
) -> None:
    """The platform answers 509 for an org it no longer has; later events still flow."""
    group = await subscribed_group(stack, -100631, "org-changes user-changes")
    # What the bridge knows of 张三 before: recorded by an event that changes nothing.
    assert await stack.platform_event("user-updated", {"id": [10001]}) == (200, OK)
    assert stack.bridge is not None
    await stack.bridge.relay.process_inbox()  # after the background round, if one is under way
    assert await processed(stack)
    del stack.platform.data.orgs[270]
    assert await stack.platform_event("org-updated", {"id": [270]}) == (200, OK)
    stack.platform.data.users[10001].name = "张叁"
    assert await stack.platform_event("user-updated", {"id": [10001]}) == (200, OK)
    gone, renamed = await stack.emu.wait_for_messages(group, 2)
    assert gone.plain_text() == "🏢 Org 医疗救护队 was deleted"
    assert "name: 张三 → 张叁" in renamed.plain_text()


@pytest.mark.parametrize("ids", [[2**63], [-(2**64)], [10**30, 10001], ["9" * 40]])
async def test_an_absurd_id_never_blocks_later_events(stack: Stack, ids: list[Any]) -> None:
    group = await subscribed_group(stack, -100641, "user-changes")
    status, answer = await stack.platform_event("user-updated", {"id": ids})
    assert isinstance(answer, dict)
    assert (status, answer["status"]) in ((200, 200), (400, 502))
    stack.platform.data.users[10003].name = "张山山"
    assert await stack.platform_event("user-updated", {"id": [10003]}) == (200, OK)
    msgs = await stack.emu.wait_for(
        lambda: [m for m in stack.emu.messages(group) if "张山山" in m.plain_text()]
    )
    assert "name: 张山 → 张山山" in msgs[0].plain_text()


async def test_an_incidents_photos_going_to_several_chats_are_downloaded_once(
    stack: Stack,
) -> None:
    groups = [await subscribed_group(stack, -100711 - i) for i in range(3)]
    base = stack.platform.url
    urls = [f"{base}/media/photo/report-a.png", f"{base}/media/photo/report-b.png"]
    assert await stack.platform_event("report", report(stack, urls=urls)) == (200, OK)
    albums = []
    for g in groups:
        msgs = await stack.emu.wait_for_messages(g, 3)  # the text, then a 2-photo album
        albums.append([m for m in msgs if m.kind == "photo"])
    assert all(len(a) == 2 for a in albums)
    fetched = [r.path for r in stack.platform.requests if r.path.startswith("/media/photo/")]
    assert sorted(fetched) == ["/media/photo/report-a.png", "/media/photo/report-b.png"]
    # The other chats got Telegram's file ids of the first upload.
    ids = [[m.file.file_id for m in a if m.file] for a in albums]
    assert ids[0] and ids[1] == ids[0] and ids[2] == ids[0]


async def test_reports_arriving_together_are_committed_together_each_answered(
    stack: Stack,
) -> None:
    from bot.relay.events import IncidentReport

    group = await subscribed_group(stack, -100721)
    assert stack.bridge is not None
    relay, db = stack.bridge.relay, stack.bridge.db
    bodies = [report(stack) for _ in range(30)]
    reports = [IncidentReport.model_validate(b) for b in bodies]
    trips = 0
    real = db.run_in_transaction

    async def counted(work: Any) -> Any:
        nonlocal trips
        trips += 1
        return await real(work)

    db.run_in_transaction = counted  # type: ignore[method-assign]
    try:
        # The same incident twice within one batch, and thirty different ones.
        answers = await asyncio.gather(*(relay.ingest_report(r) for r in [reports[0], *reports]))
    finally:
        del db.run_in_transaction
    assert answers == [True, False, *([True] * 29)]
    assert trips < len(answers)  # one transaction for all that waited together
    msgs = await stack.emu.wait_for_messages(group, 30)
    assert codes_in(msgs) == [b["code"] for b in bodies]  # the order they arrived in


# ------------------------------------------------------------------------------ HTML


async def test_html_in_platform_strings_is_shown_literally(stack: Stack) -> None:
    group = await subscribed_group(stack, -100701, "incidents notices user-changes")
    link = 'http://files.example/a"b<c>&d.pdf'
    unreachable = "http://127.0.0.1:9/photo.png?a=1&b=<2>"  # told as a link instead
    body = report(
        stack,
        type="<i>火</i>",
        level="<b>1</b>",
        topic="<b>bold</b> & co",
        content="a & b <script>alert(1)</script> &amp; &#x27; </pre>",
        address="1 < 2 & 3 > 2",
        urls=[link, unreachable],
        to={"id": "266", "name": "<消防>&"},
        **{"from": {"id": 10004, "account": "tricky", "name": "李<b>&四"}},
    )
    assert await stack.platform_event("report", body) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(group, 1)
    text = msg.plain_text()
    for literal in (
        "<i>火</i>",
        "level <b>1</b>",
        "<b>bold</b> & co",
        "a & b <script>alert(1)</script> &amp; &#x27; </pre>",
        "1 < 2 & 3 > 2",
        "Filed by 李<b>&四 (tricky)",
        "To <消防>&",
        'a"b<c>&d.pdf',
    ):
        assert literal in text, literal
    assert [e.get("url") for e in msg.entities if e.get("type") == "text_link"] == [link]
    [failed] = await stack.emu.wait_for_messages(group, 1)
    assert "could not be fetched" in failed.plain_text()
    # An http(s) URL is a link (named by its file), its query kept intact.
    assert [e.get("url") for e in failed.entities if e.get("type") == "text_link"] == [unreachable]

    status, _ = await post_json(
        stack, "notices", notice_body(title="<b>注意</b> & 安全", content="<script>x</script> &lt;")
    )
    assert status == 200
    [note] = await stack.emu.wait_for_messages(group, 1)
    assert "<b>注意</b> & 安全" in note.plain_text()
    assert "<script>x</script> &lt;" in note.plain_text()

    stack.platform.data.users[10004].name = "李<script>&四"
    assert await stack.platform_event("user-updated", {"id": [10004]}) == (200, OK)
    [change] = await stack.emu.wait_for_messages(group, 1)
    assert "name: 李<b>&四 → 李<script>&四" in change.plain_text()
    assert stack.bridge is not None
    assert (await stack.bridge.repos.outbox.counts())["dead"] == 0


# ------------------------------------------------------------------------------ /status, /metrics


async def test_status_and_metrics_count_events_and_dead_letters(stack: Stack) -> None:
    ok_chat = await subscribed_group(stack, -100801)
    gone = await subscribed_group(stack, -100802)
    stack.emu.block(gone)
    body = report(stack)
    assert await stack.platform_event("report", body) == (200, OK)
    assert await stack.platform_event("report", body) == (200, OK)
    assert (await stack.platform_event("report", body, token="nope"))[0] == 401
    assert (await post(stack, "report", b"{"))[0] == 400
    await stack.emu.wait_for_messages(ok_chat, 1)
    await stack.emu.wait_for_messages(ADMIN, 1)  # the alert: the chat is gone
    await settles(stack, gone, {"dead": 1})
    await settles(stack, ok_chat, {"sent": 1})
    [status] = await stack.say("admin", "/status")
    text = status.plain_text()
    assert "Outbox: 0 waiting, 1 sent, 1 dead letters" in text
    assert "Last platform event: never" not in text

    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.bridge_url + "/metrics") as resp,
    ):
        assert resp.status == 200
        metrics = await resp.text()

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in metrics.splitlines():
        if m := re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line):
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m[2] or ""))
            samples[(m[1], labels)] = float(m[3])

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    assert value("pttbridge_events_received_total", route="report") == 4
    assert value("pttbridge_events_stored_total", route="report") == 1
    assert value("pttbridge_events_duplicate_total", route="report") == 1
    assert value("pttbridge_events_rejected_total", route="report", reason="token") == 1
    assert value("pttbridge_events_rejected_total", route="report", reason="json") == 1
    assert value("pttbridge_outbox_depth", state="dead") == 1
    assert value("pttbridge_outbox_depth", state="sent") == 1
    assert value("pttbridge_outbox_depth", state="pending") == 0
    assert value("pttbridge_dead_letters") == 1
    assert value("pttbridge_messages_total", outcome="sent") == 1
    assert value("pttbridge_messages_total", outcome="failed") == 1
    assert "pttbridge_platform_call_seconds_count" in metrics


# ------------------------------------------------------------------------------ hypothesis

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
REPORT_FIELDS = ("id", "code", "type", "level", "to", "from", "topic", "content", "urls")
FIELDS = st.sampled_from((*REPORT_FIELDS, "address", "title", "accessory"))
# Bodies shaped like the real ones with any value in any field: they get past the JSON
# parser to validation and, often enough, to storage.
# Mostly a value of the right kind, now and then anything.
TEXTISH = st.text(max_size=40) | st.integers() | JSON_VALUES
IDS = st.integers(min_value=-(2**70), max_value=2**70) | st.from_regex(r"\A-?\d{1,25}\Z")
NEAR_BODIES = st.one_of(
    st.dictionaries(FIELDS, JSON_VALUES, max_size=8),
    st.builds(  # a report, its id and code from a small range: duplicates happen
        lambda extra, n: {**extra, "id": n, "code": f"H{n}"},
        st.dictionaries(FIELDS.filter(lambda f: f not in ("id", "code")), TEXTISH, max_size=6),
        st.integers(min_value=1, max_value=60),
    ),
    st.builds(lambda ids: {"id": ids}, st.lists(IDS | JSON_VALUES, min_size=1, max_size=4) | IDS),
    st.builds(
        lambda title, content, to, sender: {
            "from": sender,
            "to": to,
            "title": title,
            "content": content,
        },
        st.text(min_size=1, max_size=30) | JSON_VALUES,
        st.text(min_size=1, max_size=30) | JSON_VALUES,
        st.fixed_dictionaries({"orgIds": st.lists(IDS | JSON_VALUES, max_size=3)}) | JSON_VALUES,
        st.fixed_dictionaries({"id": IDS, "name": TEXTISH}) | JSON_VALUES,
    ),
)
RAW = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    NEAR_BODIES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@pytest.fixture
async def fuzz_stack(make_stack: Callable[..., Awaitable[Stack]]) -> Stack:
    """Subscribed to incidents and notices only, without filters: a stored report or notice
    adds exactly one outbox row at once; org/user events add none, even later."""
    stack = await make_stack()
    await subscribed_group(stack, -100901, "incidents notices")
    return stack


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=st.sampled_from(ROUTES), raw=RAW)
async def test_any_body_gets_an_envelope_and_never_a_half_event(
    fuzz_stack: Stack, route: str, raw: bytes
) -> None:
    before = await counts(fuzz_stack)
    status, answer = await post(fuzz_stack, route, raw)
    after = await counts(fuzz_stack)
    event(f"HTTP {status}, stored {after['inbox'] - before['inbox']}")
    assert status in (200, 400, 413)
    assert set(answer) == {"status", "message", "data"}
    assert answer["status"] == {200: 200, 400: 502, 413: 510}[status]
    if status != 200:
        assert after == before
        return
    stored = after["inbox"] - before["inbox"]
    assert stored in (0, 1)
    fans_out = route in ("report", "notices")
    assert after["outbox"] - before["outbox"] == (stored if fans_out else 0)
    assert after["incidents"] - before["incidents"] == (stored if route == "report" else 0)
    assert after["notices"] - before["notices"] == (stored if route == "notices" else 0)
