"""Long and link-heavy events end to end (issue 12, points 8, 12, 18): what the platform
acknowledged is delivered — split under Telegram's limits or visibly shortened, never a
dead letter for its size; only http(s) URLs become links; attachments are streamed, not
held whole in memory.

The sandbox platform and the Telegram emulator (which refuses what real Telegram refuses:
over 4096 UTF-16 units of text, 1024 of caption) run on 127.0.0.1 with the whole bridge.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.demo.stack import CALLBACK_TOKEN, Stack
from bot.relay.listener import MAX_BODY
from bot.render.text import CAPTION_LIMIT, MESSAGE_LIMIT, utf16_len
from bot.sandbox.telegram import EmuMessage
from bot.telegram.media import MediaError, MediaFetcher, MediaProblem

OK = {"status": 200, "message": "成功", "data": None}
MORE = re.compile(r"… \((\d+) more characters\)")


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = Stack()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def file_server() -> AsyncIterator[Callable[[dict[str, Any]], Awaitable[str]]]:
    """`await file_server(routes)`: an HTTP server on 127.0.0.1 serving `routes`
    ({path: handler}); returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(routes: dict[str, Any]) -> str:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


# ------------------------------------------------------------------------------ helpers


async def subscribed_group(stack: Stack, chat_id: int, kinds: str = "incidents") -> int:
    stack.add_group(chat_id, f"Team {chat_id}")
    reply = await stack.say("admin", f"/subscribe {kinds}", chat=chat_id)
    assert "This chat now receives" in reply[0].plain_text(), reply[0].render()
    return chat_id


async def post_raw(stack: Stack, path: str, body: dict[str, Any]) -> tuple[int, Any, int]:
    """POST a body as compact UTF-8 JSON (as the platform sends it); (status, answer, size)."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "token": CALLBACK_TOKEN}
    async with (
        aiohttp.ClientSession() as session,
        session.post(stack.bridge_url + path, data=data, headers=headers) as resp,
    ):
        return resp.status, json.loads(await resp.text()), len(data)


async def settled(stack: Stack, timeout: float = 20.0) -> dict[str, int]:  # noqa: ASYNC109
    """Await no outbox row pending or in flight, checked each time the delivery worker ends
    a round with nothing left to send now (its `idle` event); the outbox counts by state."""
    assert stack.bridge is not None
    outbox, delivery = stack.bridge.repos.outbox, stack.bridge.delivery
    counts: dict[str, int] = {}
    delivery.wake()
    try:
        async with asyncio.timeout(timeout):
            while True:
                delivery.idle.clear()  # before the check: no round's end is missed
                counts = await outbox.counts()
                if counts["pending"] == 0 and counts["sending"] == 0:
                    return counts
                await delivery.idle.wait()
    except TimeoutError:
        raise AssertionError(f"outbox never settled: {counts}") from None


def within_limits(msgs: list[EmuMessage]) -> None:
    for m in msgs:
        if m.visible_text is not None:
            assert 0 < utf16_len(m.visible_text) <= MESSAGE_LIMIT
        if m.visible_caption is not None:
            assert utf16_len(m.visible_caption) <= CAPTION_LIMIT


def solid(text: str) -> str:
    """The text without whitespace (a cut between messages drops the whitespace there)."""
    return "".join(text.split())


def links(msgs: list[EmuMessage]) -> list[str]:
    return [
        e["url"]
        for m in msgs
        for e in [*m.entities, *m.caption_entities]
        if e.get("type") == "text_link"
    ]


def hrefs(msgs: list[EmuMessage]) -> list[str]:
    """Every href the bot sent, from the HTML source (before the emulator drops any)."""
    return [
        h for m in msgs for h in re.findall(r'href="([^"]*)"', (m.text or "") + (m.caption or ""))
    ]


# ------------------------------------------------------------------------------ point 12


async def test_a_6000_character_incident_arrives_whole_with_the_button_on_its_header(
    stack: Stack,
) -> None:
    group = await subscribed_group(stack, -100801)
    paragraph = "仓库东侧起火🔥，三人被困，请求增援。Smoke on the east side, three trapped. "
    content = "\n\n".join([paragraph] * 200)[:6000]
    assert len(content) == 6000
    body = stack.platform.make_report(content=content, urls=[])
    assert await stack.platform_event("report", body) == (200, OK)
    counts = await settled(stack)
    assert counts["dead"] == 0 and counts["sent"] == 1
    msgs = stack.emu.pending_messages(group)
    assert len(msgs) >= 2  # 6000 characters (6200 UTF-16 units) need two messages
    within_limits(msgs)
    header, *rest = msgs
    assert f"Incident {body['code']}" in header.plain_text()
    assert header.buttons()[0][0] == "✅ Acknowledge"
    assert all(not m.buttons() for m in rest)
    assert solid(content) in solid("".join(m.plain_text() for m in msgs))
    assert not MORE.search("".join(m.plain_text() for m in msgs))  # nothing left out

    # The acknowledgement edits the header only, and it stays under the limit.
    await stack.press("supervisor", header, 0)
    assert stack.emu.callback_answers[-1].text == "Acknowledged. Every copy now shows it."
    await stack.emu.wait_for(
        lambda: (
            "Acknowledged by Supervisor Sun"
            in stack.emu.message(group, header.message_id).plain_text()
        )
    )
    counts = await settled(stack)
    assert counts["dead"] == 0
    now = [stack.emu.message(group, m.message_id) for m in msgs]
    within_limits(now)
    assert len(now[0].edits) == 1
    assert all(not m.edits for m in now[1:])
    assert solid(content) in solid("".join(m.plain_text() for m in now))


async def test_a_split_incident_interrupted_part_way_resumes_without_repeating(
    stack: Stack,
) -> None:
    """Refused after the header went out: the row's retry sends the rest, not the header
    again."""
    group = await subscribed_group(stack, -100809)
    content = "\n\n".join(["第三段落，现场持续冒烟，消防车已到达。" * 12] * 40)
    photo = f"{stack.platform.url}/media/photo/resume.png"
    body = stack.platform.make_report(content=content, urls=[photo])
    sent: list[EmuMessage] = []

    def on_message(event: str, msg: EmuMessage) -> None:
        if event == "sent" and msg.chat_id == group:
            sent.append(msg)
            if len(sent) == 1:  # the header is in: the next messages are refused for a while
                # A 429 without retry_after: nothing the limiter retries by itself, so
                # the row fails part-way, and is tried again a little later.
                stack.emu.inject_fault(
                    "sendMessage", error_code=429, description="Too Many Requests", chat_id=group
                )

    stack.emu.add_listener(on_message)
    assert await stack.platform_event("report", body) == (200, OK)
    counts = await settled(stack)
    assert counts["dead"] == 0 and counts["sent"] == 1
    msgs = stack.emu.pending_messages(group)
    within_limits(msgs)
    assert sum(1 for m in msgs if m.buttons()) == 1  # one header, not two
    assert sum(1 for m in msgs if m.kind == "photo") == 1
    assert solid(content) in solid("".join(m.plain_text() for m in msgs if m.kind == "text"))
    assert [c.status for c in stack.emu.calls if c.method == "sendMessage"].count(429) == 1
    assert stack.bridge is not None
    [row] = await stack.bridge.repos.outbox.sent_rows(group)
    assert row.attempts >= 2  # the row itself was tried again, and resumed
    assert row.progress == {}  # once sent, only the flat list of ids is kept


async def test_an_incident_of_long_links_keeps_its_header_when_acknowledged(
    stack: Stack,
) -> None:
    """Few characters to show but 80 KB of HTML (signed file links): split all the same,
    and the acknowledgement edits the header into itself plus one line."""
    group = await subscribed_group(stack, -100808)
    urls = [f"https://files.example/{i}.pdf?sig=" + "s" * 2000 for i in range(40)]
    body = stack.platform.make_report(urls=urls)
    assert await stack.platform_event("report", body) == (200, OK)
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    within_limits(msgs)
    assert len(msgs) >= 3 and links(msgs) == urls
    header = msgs[0]
    before = header.plain_text()
    await stack.press("supervisor", header, 0)
    await stack.emu.wait_for(lambda: stack.emu.message(group, header.message_id).edits)
    assert (await settled(stack))["dead"] == 0
    after = stack.emu.message(group, header.message_id)
    # The header as it was, with the acknowledgement's line after its time.
    shown = after.plain_text()
    ack = re.search(r"\n✅ Acknowledged by Supervisor Sun at \d\d:\d\d", shown)
    assert ack is not None and shown.replace(ack.group(0), "", 1) == before
    assert not before.endswith("📎")  # a link line is not cut from its link
    assert links([after]) == links([header])
    assert all(not stack.emu.message(group, m.message_id).edits for m in msgs[1:])


async def test_a_900_kb_topic_arrives_visibly_shortened(stack: Stack) -> None:
    group = await subscribed_group(stack, -100802)
    topic = "火" * 300_000  # 900 KB of UTF-8
    body = stack.platform.make_report(topic=topic, urls=[])
    status, answer, size = await post_raw(stack, "/platform/events/report", body)
    assert (status, answer) == (200, OK)
    assert 900_000 < size < MAX_BODY
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    within_limits(msgs)
    assert len(msgs) == 1
    text = msgs[0].plain_text()
    m = MORE.search(text)
    assert m is not None, text[:200]
    shown = text.count("火")
    assert 0 < shown < 1000
    assert shown + int(m.group(1)) == len(topic)  # the count is exact
    assert body["content"] in text  # the rest of the incident is all there
    assert msgs[0].buttons()[0][0] == "✅ Acknowledge"


async def test_a_1_mib_incident_arrives_with_every_field_shown_or_shortened(
    stack: Stack,
) -> None:
    group = await subscribed_group(stack, -100803)
    base = "http://files.example/incident/"
    urls = [f"{base}{i:02d}-" + "x" * 1500 + ".pdf" for i in range(50)]
    body = stack.platform.make_report(
        type="火情" * 20_000,
        level="1" * 50_000,
        to={"id": "266", "name": "消防" * 30_000},
        address="浙江省杭州市" * 20_000,
        content="解放路仓库冒烟。" * 2_400,  # 19,200 characters
        urls=urls,
        **{"from": {"id": 10004, "account": "a" * 50_000, "name": "李四" * 20_000}},
    )
    used = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    body["topic"] = "标" * ((MAX_BODY - used - 64) // 3)
    status, answer, size = await post_raw(stack, "/platform/events/report", body)
    assert (status, answer) == (200, OK)
    assert MAX_BODY - 1024 < size <= MAX_BODY
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    within_limits(msgs)
    assert msgs[0].buttons()[0][0] == "✅ Acknowledge"
    assert all(not m.buttons() for m in msgs[1:])
    assert len(msgs) <= 8  # shortened, not hundreds of messages
    text = "\n".join(m.plain_text() for m in msgs)
    assert len(MORE.findall(text)) >= 7  # type, level, to, from ×2, address, topic, content
    assert links(msgs) == urls  # every link, in order, none lost


async def test_a_notice_with_60_links_arrives_whole(stack: Stack) -> None:
    group = await subscribed_group(stack, -100804, "notices")
    accessory = [
        {
            "name": f"附件{i:02d}-现场照片与处置方案-" + "说明" * 30,
            "url": f"https://files.example/n/{i}.pdf",
        }
        for i in range(60)
    ]
    body = {
        "from": {"id": 1, "name": "调度中心"},
        "to": {"orgIds": [266]},
        "title": "防汛" * 100,
        "content": "今晚有暴雨，请各单位做好准备。" * 266,
        "accessory": accessory,
    }
    status, answer, _ = await post_raw(stack, "/platform/notices", body)
    assert (status, answer) == (200, OK)
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    assert len(msgs) >= 3
    within_limits(msgs)
    assert links(msgs) == [a["url"] for a in accessory]
    text = "".join(m.plain_text() for m in msgs)
    assert solid(body["content"]) in solid(text)
    assert solid(body["title"]) in solid(text)


async def test_a_long_directory_change_arrives_shortened(stack: Stack) -> None:
    group = await subscribed_group(stack, -100805, "user-changes")
    user = stack.platform.data.users[10004]
    old = user.name
    user.name = "张" * 50_000
    assert await stack.platform_event("user-updated", {"id": [10004]}) == (200, OK)
    await stack.emu.wait_for(lambda: stack.emu.pending_messages(group))
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    within_limits(msgs)
    assert len(msgs) == 1
    [line] = [x for x in msgs[0].plain_text().splitlines() if x.startswith("name: ")]
    m = MORE.search(line)
    assert m is not None and line.startswith(f"name: {old} → 张")
    assert line.split(" → ", 1)[1].count("张") + int(m.group(1)) == 50_000


async def test_attachments_beyond_what_is_sent_as_files_are_listed_as_links(
    stack: Stack,
) -> None:
    group = await subscribed_group(stack, -100806)
    base = stack.platform.url
    urls = [f"{base}/media/photo/many-{i}.png" for i in range(13)]
    body = stack.platform.make_report(urls=urls)
    assert await stack.platform_event("report", body) == (200, OK)
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    within_limits(msgs)
    photos = [m for m in msgs if m.kind == "photo"]
    assert len(photos) == 10
    header = msgs[0]
    listed = [m for m in msgs if "3 more attachments" in m.plain_text()]
    assert len(listed) == 1
    assert links(listed) == urls[10:]
    assert "10 attachments below" in header.plain_text()


# ------------------------------------------------------------------------------ point 8


NOT_WEB = [
    "javascript:alert(1)//x.png",
    "data:text/html;base64,PHNjcmlwdD4=",
    "tg://resolve?domain=evil",
    "file:///etc/passwd",
    "http:///no-host.pdf",
]


async def test_only_http_urls_of_an_incident_become_links(stack: Stack) -> None:
    group = await subscribed_group(stack, -100811)
    web_urls = ["http://files.example/a.pdf", "HTTPS://files.example/b.doc"]
    unreachable = "http://127.0.0.1:9/photo.png"
    body = stack.platform.make_report(urls=[*web_urls, *NOT_WEB, unreachable])
    assert await stack.platform_event("report", body) == (200, OK)
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    assert hrefs(msgs) == [*web_urls, unreachable]
    assert links(msgs) == [*web_urls, unreachable]
    text = "\n".join(m.plain_text() for m in msgs)
    for url in NOT_WEB:
        assert url in text  # shown as text, not dropped
    failed = [m for m in msgs if "could not be fetched" in m.plain_text()]
    assert len(failed) == 1 and links(failed) == [unreachable]


async def test_only_http_urls_of_a_notice_become_links(stack: Stack) -> None:
    group = await subscribed_group(stack, -100812, "notices")
    accessory = [{"name": f"file {i}", "url": u} for i, u in enumerate(NOT_WEB)]
    accessory.append({"name": "plan", "url": "https://files.example/plan.pdf"})
    body = {
        "from": {"id": 1, "name": "调度中心"},
        "to": {"orgIds": [266]},
        "title": "通知",
        "content": "见附件。",
        "accessory": accessory,
    }
    status, answer, _ = await post_raw(stack, "/platform/notices", body)
    assert (status, answer) == (200, OK)
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    assert hrefs(msgs) == ["https://files.example/plan.pdf"]
    text = "\n".join(m.plain_text() for m in msgs)
    for url in NOT_WEB:
        assert url in text


async def test_a_recording_too_big_to_send_is_a_link_and_stays_under_the_limit(
    stack: Stack,
) -> None:
    group = await subscribed_group(stack, -100813, "recordings")
    assert stack.bridge is not None and stack.bridge.media is not None
    stack.bridge.media.limit = 1000  # the sandbox's recordings are larger
    url = f"{stack.platform.url}/media/recording-zh.mp3?token=" + "k" * 5000
    relay = stack.bridge.relay
    caption = "🎙 " + "长" * 1000
    await stack.bridge.repos.outbox.enqueue(
        group, 0, "recordings", {"text": caption, "voice_url": url}, stack.bridge.clock()
    )
    relay.wake()
    counts = await settled(stack)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    within_limits(msgs)
    assert links(msgs) == [url]
    assert "larger than Telegram allows" in "".join(m.plain_text() for m in msgs)


# ------------------------------------------------------------------------------ point 18


CHUNK = b"\xff\xfb\x90\x00" * (16 * 1024)  # 64 KiB of MP3 frame headers


def serving(size: int, sent: dict[str, int], *, declared: bool = False) -> Any:
    """A handler that streams `size` bytes (with a Content-Length only if `declared`),
    recording in `sent` how many it wrote before the client stopped reading."""

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": "audio/mpeg"}
        if declared:
            headers["Content-Length"] = str(size)
        resp = web.StreamResponse(headers=headers)
        if not declared:
            resp.enable_chunked_encoding()  # the size is learnt only by reading
        await resp.prepare(request)
        done = 0
        try:
            while done < size:
                await resp.write(CHUNK[: size - done])
                done += min(len(CHUNK), size - done)
        finally:
            sent[request.path] = done
        await resp.write_eof()
        return resp

    return handler


async def test_attachments_are_streamed_to_telegram_not_held_in_memory(
    stack: Stack, file_server: Callable[[dict[str, Any]], Awaitable[str]]
) -> None:
    big = 16 * 1024 * 1024
    sent: dict[str, int] = {}
    base = await file_server(
        {
            "/big.mp3": serving(big, sent),
            "/declared-huge.mp3": serving(64 * 1024 * 1024, sent, declared=True),
        }
    )
    assert stack.bridge is not None and stack.bridge.media is not None
    media = stack.bridge.media
    media.limit = 20 * 1024 * 1024
    group = await subscribed_group(stack, -100821)
    urls = [f"{base}/big.mp3", f"{base}/declared-huge.mp3"]
    body = stack.platform.make_report(urls=urls)
    assert await stack.platform_event("report", body) == (200, OK)
    counts = await settled(stack, timeout=60)
    assert counts["dead"] == 0
    msgs = stack.emu.pending_messages(group)
    [audio] = [m for m in msgs if m.file is not None]
    assert audio.file is not None and audio.file.size == big  # all of it reached Telegram
    assert audio.file.data == (CHUNK * (big // len(CHUNK)))[:big]
    assert 0 < media.most_held <= 1024 * 1024  # ... and never more than a chunk was held
    # Declared over the limit: not read at all, told as a link.
    [failed] = [m for m in msgs if "could not be fetched" in m.plain_text()]
    assert links([failed]) == [f"{base}/declared-huge.mp3"]
    assert sent["/declared-huge.mp3"] < 16 * 1024 * 1024


async def test_a_download_growing_past_the_limit_is_given_up_early(
    file_server: Callable[[dict[str, Any]], Awaitable[str]],
) -> None:
    sent: dict[str, int] = {}
    base = await file_server({"/endless.mp3": serving(256 * 1024 * 1024, sent)})
    fetcher = MediaFetcher(5, limit=4 * 1024 * 1024)
    try:
        read = 0
        with pytest.raises(MediaError) as caught:
            async with fetcher.open(f"{base}/endless.mp3") as stream:
                assert stream.size is None
                async for chunk in stream.chunks():
                    read += len(chunk)
        assert caught.value.problem is MediaProblem.TOO_BIG
        assert stream.error is caught.value  # what the upload is told when it stops
        assert read <= fetcher.limit
        assert fetcher.most_held <= 64 * 1024
        with pytest.raises(MediaError) as whole:
            await fetcher.fetch(f"{base}/endless.mp3")
        assert whole.value.problem is MediaProblem.TOO_BIG
        assert fetcher.most_held <= 64 * 1024  # fetch() gave up before joining anything
    finally:
        await fetcher.aclose()


async def test_a_stream_read_again_is_downloaded_again(
    file_server: Callable[[dict[str, Any]], Awaitable[str]],
) -> None:
    """An upload the limiter retries after a network error reads its file again."""
    sent: dict[str, int] = {}
    base = await file_server({"/clip.mp3": serving(1024 * 1024 + 5, sent)})
    fetcher = MediaFetcher(5)
    try:
        async with fetcher.open(f"{base}/clip.mp3") as stream:
            first = b"".join([chunk async for chunk in stream.chunks()])
            again = b"".join([chunk async for chunk in stream.chunks()])
        assert len(first) == 1024 * 1024 + 5 and again == first
    finally:
        await fetcher.aclose()


# ------------------------------------------------------------------------------ renderers


def test_job_messages_shorten_absurd_platform_names() -> None:
    """A name past Fluent's 2,500 characters used to print "{???}"; a long one now shows
    its beginning and how much was left out, and the list stays short."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from bot.attendance.records import Late, Person, PunchSummary
    from bot.i18n import Translator
    from bot.render.jobs import PresenceBlock, PresenceItem, attendance_text, presence_text
    from bot.render.text import visible_text

    t = Translator.load("en").get("en")
    tz = ZoneInfo("Asia/Shanghai")
    name = "王" * 5_000
    block = PresenceBlock("组" * 5_000, 7, [PresenceItem(name, "a" * 3_000, True, True)])
    shown = visible_text(presence_text(t, [block], "08:00"))
    assert "{???}" not in shown and len(MORE.findall(shown)) == 3
    assert utf16_len(shown) < 1_000
    at = datetime(2026, 11, 28, 8, 30, tzinfo=tz)
    summary = PunchSummary(
        day=date(2026, 11, 28),
        people=1,
        late=[Late(Person(1, name, "zs"), at, at, 30)],
        missing=[Person(2, name, "ls")],
    )
    shown = visible_text(attendance_text(t, summary, "部" * 5_000, tz))
    assert "{???}" not in shown and len(MORE.findall(shown)) == 3
    assert utf16_len(shown) < 1_000


@settings(max_examples=examples(150), deadline=None)
@given(
    value=st.text(
        alphabet=st.sampled_from(["a", " ", "\n", "火", "🔥", "&", "<", "\u0301", "。"]),
        max_size=400,
    ),
    limit=st.integers(min_value=2, max_value=120),
)
def test_shorten_keeps_a_prefix_under_the_limit_and_counts_the_rest(value: str, limit: int) -> None:
    from bot.render.text import shorten, visible_text

    out = shorten(value, limit, lambda n: f"⟨{n}⟩")
    shown = visible_text(out)
    if utf16_len(value) <= limit:
        assert shown == value
        return
    if not value.strip():
        assert shown == ""
        return
    kept, _, rest = shown.rpartition("⟨")
    dropped = int(rest.rstrip("⟩"))
    assert utf16_len(kept) <= limit
    lead = len(value) - len(value.lstrip(" \n"))
    assert value[lead:].startswith(kept)
    assert lead + len(kept) + dropped == len(value)


@settings(max_examples=examples(100), deadline=None)
@given(
    words=st.lists(st.sampled_from(["现场", "smoke", "🔥", "<b>x</b>", "a&b", "\n"]), max_size=300),
    first=st.integers(min_value=2, max_value=200),
    limit=st.integers(min_value=2, max_value=200),
)
def test_split_html_gives_the_first_part_its_own_limit(
    words: list[str], first: int, limit: int
) -> None:
    from bot.render.text import esc, split_html, visible_len, visible_text

    html = " ".join(w if w.startswith("<b>") else esc(w) for w in words)
    parts = split_html(html, limit, first=first)
    if parts:
        assert visible_len(parts[0]) <= first
        assert all(visible_len(p) <= limit for p in parts[1:])
    assert solid("".join(visible_text(p) for p in parts)) == solid(visible_text(html))


@pytest.mark.parametrize(
    ("url", "web"),
    [
        ("http://files.example/a.pdf", True),
        ("HTTPS://files.example/b", True),
        ("https://例子.测试/文件.png", True),
        ("javascript:alert(1)", False),
        ("JavaScript://%0aalert(1)", False),
        ("data:text/html,<script>", False),
        ("tg://resolve?domain=x", False),
        ("file:///etc/passwd", False),
        ("http:///no-host", False),
        ("http://a b/", False),
        ("http://a/\u202etxt.exe", False),  # an invisible direction override
        ("http://[::1", False),
        ("//files.example/a", False),
        ("http://x/" + "a" * 9000, False),
        ("", False),
    ],
)
def test_only_http_urls_with_a_host_are_links(url: str, web: bool) -> None:
    from bot.render.text import is_web_url

    assert is_web_url(url) is web
