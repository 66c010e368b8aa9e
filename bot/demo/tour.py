"""`pttbridge demo`: a scripted tour, printed as a chat transcript.

It runs the real bridge against the sandbox platform and the Telegram
emulator in one process: no network, no Telegram account needed.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from apscheduler.schedulers.base import BaseScheduler

from bot.app.bridge import Bridge
from bot.demo.console import LIVE_EDIT_NOTES, message_lines
from bot.demo.people import people_line
from bot.demo.stack import Stack
from bot.sandbox.asr import FakeAsr
from bot.sandbox.data.paths import (
    CROSSING_USER_ID,
    DEMO_FENCE,
    DEMO_FENCE_INSIDE_MINUTES,
    haversine_m,
)
from bot.sandbox.telegram import EmuMessage
from bot.telegram.callbacks import BcAction, BcCb

ERROR_MARKERS = ("Something went wrong", "出错了")


@dataclass(frozen=True)
class Press:
    """A step of the tour that presses a button of the last message: by its index, by its
    callback data, or by words in its text."""

    button: int | str


class TourClock:
    """The bridge's clock in the demo: the real time, unless the tour has set it (`at`)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at if self.at is not None else datetime.now(UTC)


def _print_replies(messages: Sequence[EmuMessage]) -> None:
    if not messages:
        print("   (no reply)")
    for m in messages:
        print("\n".join(message_lines(m, " (edited)" if m.edits else "")))
    print()


# The tour's opening as it reads in the transcript: `who: text` types, `who presses N`
# presses the Nth button of the last message `who` got. {other} and {language}: /lang's.
OPENING = """\
stranger: /start
viewer: /help
viewer: /find zhang
viewer: /groups
viewer presses 1
viewer: /online 1002
viewer presses 1
viewer: /online zs
viewer: /user zs
viewer presses 2
viewer: /user tricky
viewer: /org
viewer: /org 266
scoped: /find zhang
scoped: /online 1003
supervisor: /where zhangsan01
supervisor: /where 1002
supervisor presses 1
supervisor: /track zhangsan01 -3h
supervisor: /recordings zhangsan01 yesterday
supervisor presses 1
viewer: /where zhangsan01
viewer: /role 1003 admin
admin: /role
admin: /invite viewer org 267
admin: /lang {other}
admin: /online 指挥调度组
admin: /lang {language}
viewer: /online
viewer: /nonsense
"""
# (/recordings asks for yesterday: a whole day of recordings whatever the time of day.)


def first_steps(language: str) -> list[tuple[str, str | Press]]:
    """The opening's steps: (who, text typed or button pressed)."""
    other = "en" if language == "zh" else "zh"
    steps: list[tuple[str, str | Press]] = []
    for line in OPENING.format(other=other, language=language).splitlines():
        who, typed, text = line.partition(": ")
        if typed:
            steps.append((who, text))
        else:
            who, _, number = line.partition(" presses ")
            steps.append((who, Press(int(number) - 1)))
    return steps


async def run_demo(language: str = "zh") -> int:
    """The scripted tour: every command built so far, printed as a chat transcript."""
    logging.basicConfig(level=logging.WARNING)
    clock = TourClock()
    asr = FakeAsr()  # the sandbox's speech recognition: transcripts (issue 17)
    await asr.start()
    # some sandbox users move along paths
    stack = Stack(
        language=language,
        moving=True,
        clock=clock,
        map_on=True,
        bridge_overrides={"asr_url": asr.url},
    )
    await stack.start()
    failures: list[str] = []
    last: dict[str, EmuMessage] = {}

    async def say(who: str, text: str) -> list[EmuMessage]:
        print(f"👤 {who}: {text}")
        msgs = await stack.say(who, text)
        _print_replies(msgs)
        if not msgs:
            failures.append(f"{who}: {text}: no reply")
        for m in msgs:
            if any(marker in m.plain_text() for marker in ERROR_MARKERS):
                failures.append(f"{who}: {text}: {m.plain_text()[:80]}")
        if msgs:
            last[who] = msgs[-1]
        return msgs

    async def press(who: str, button: int | str) -> None:
        msg = last[who]
        buttons = msg.buttons()
        if isinstance(button, str):
            index = next((i for i, (_, data) in enumerate(buttons) if data == button), -1)
            if index < 0:
                index = next((i for i, (text, _) in enumerate(buttons) if button in text), -1)
        else:
            index = button if button < len(buttons) else -1
        if index < 0:
            failures.append(f"{who}: no button {button!r} to press")
            print(f"   (no button {button!r} to press)\n")
            return
        text = buttons[index][0]
        print(f"👆 {who} presses [{text}]")
        answers = len(stack.emu.callback_answers)
        msgs = await stack.press(who, msg, index)
        toasts = [a.text for a in stack.emu.callback_answers[answers:] if a.text]
        for toast in toasts:
            print(f"   (toast: {toast})")
        _print_replies(msgs)
        if not msgs and not toasts:
            failures.append(f"{who}: press {text}: nothing happened")
        elif msgs:
            last[who] = msgs[-1]

    try:
        print(f"pttbridge demo — people: {people_line()}\n")
        for who, step in first_steps(language):
            if isinstance(step, Press):
                await press(who, step.button)
            else:
                await say(who, step)
        await near_tour(stack, failures)
        await map_step(stack, failures)
        await relay_tour(stack, failures)
        await live_tour(stack, clock, failures)
        await admin_tour(say, press)
        await transcript_tour(stack, asr, clock, failures)
        await jobs_tour(stack, failures)
    finally:
        await stack.stop()
        await asr.stop()
    if failures:
        print("demo FAILED:")
        for f in failures:
            print("  " + f)
        return 1
    print("demo finished: every step answered.")
    return 0


async def admin_tour(
    say: Callable[[str, str], Awaitable[list[EmuMessage]]],
    press: Callable[[str, int | str], Awaitable[None]],
) -> None:
    """A broadcast from start to confirm, and a bulk registration with its result file."""
    print("— admin chores —\n")
    await say("admin", "/broadcast")
    await press("admin", "消防一大队")  # choose an org
    await press("admin", BcCb(action=BcAction.NEXT).pack())
    await say("admin", "Evacuation drill 疏散演练")
    await say("admin", "All units: drill at 15:00 in the east yard. 15:00 东院集合演练。")
    await press("admin", BcCb(action=BcAction.DONE).pack())  # no attachments
    await press("admin", BcCb(action=BcAction.CONFIRM).pack())
    await say("admin", "/register\nwangqiang01,王强\nbad account!,坏账号\nwangqiang01,王强")
    await say(
        "admin", "/register\nwangqiang01,王强\nliuyang01,刘洋\nzhangsan01,张三\nchenjing01,陈静"
    )
    await say("admin", "s3cret-Pass")


async def near_tour(stack: Stack, failures: list[str]) -> None:
    """The supervisor shares a location (a landmark near 张三's loop) and asks who is
    nearest: the online members in reach, nearest first, each with a 📍 button."""
    lat, lon, _ = DEMO_FENCE
    print(f"📍 supervisor shares a location: {lat:.4f}, {lon:.4f}")
    shared, answers = await stack.share_location("supervisor", lat, lon)
    if answers:
        _print_replies(answers)
    print("👤 supervisor (replying to it): /near")
    msgs = await stack.say("supervisor", "/near", reply_to=shared)
    _print_replies(msgs)
    if not msgs or not msgs[-1].buttons():
        failures.append("supervisor: /near (a reply to a location): nobody listed")
        return
    first = msgs[-1].buttons()[0][0]
    print(f"👆 supervisor presses [{first}]")
    pin = await stack.press("supervisor", msgs[-1], 0)
    _print_replies(pin)
    if not pin or pin[0].kind != "location":
        failures.append(f"supervisor: press {first}: no pin")


async def map_step(stack: Stack, failures: list[str]) -> None:
    """The map (a Telegram Mini App): its address on this bridge for the supervisor, with
    the initData Telegram would sign, to open in a browser; checked with the map's API."""
    url = stack.map_url("supervisor", "group=1002")
    print("🗺 the map for supervisor, as Telegram would open it (up while the demo runs;")
    print(f"   `pttbridge console` keeps it up):\n   {url}")
    data = parse_qs(urlsplit(url).fragment)["tgWebAppData"][0]
    async with httpx.AsyncClient(base_url=stack.bridge_url, timeout=10) as client:
        me = await client.get("/app/api/me", headers={"Authorization": f"tma {data}"})
    print(f"   GET /app/api/me with its initData -> HTTP {me.status_code}\n")
    if me.status_code != 200:
        failures.append(f"the map's address was refused: HTTP {me.status_code} {me.text[:80]}")


async def relay_tour(stack: Stack, failures: list[str]) -> None:
    """A group chat subscribes; an incident arrives, is acknowledged; a user change is a diff."""
    group = stack.add_group(-100777, "Fire team 1 / 消防一组")
    print("— in the group chat “Fire team 1” —\n")
    for text in ("/subscribe incidents user-changes notices org 266", "/subscriptions"):
        print(f"👤 admin: {text}")
        _print_replies(await stack.say("admin", text, chat=group))
    report = stack.platform.make_report(
        to={"id": "266", "name": "消防一大队"},
        content="解放路 17 号仓库冒烟，请就近人员前往。<注意安全> & 报告",
    )
    status, answer = await stack.platform_event("report", report)
    print(f"🛰 platform POSTs incident {report['id']}/{report['code']} -> HTTP {status} {answer}")
    status, answer = await stack.platform_event("report", report)
    print(f"🛰 the same incident again -> HTTP {status} {answer} (stored and relayed once)")
    incident, photo = await stack.emu.wait_for_messages(group, 2, timeout=20)
    _print_replies([incident, photo])
    print(f"👆 supervisor presses [{incident.buttons()[0][0]}]")
    answers = len(stack.emu.callback_answers)
    await stack.press("supervisor", incident, 0)
    for a in stack.emu.callback_answers[answers:]:
        print(f"   (toast: {a.text})")
    await stack.emu.wait_for(lambda: bool(stack.emu.message(group, incident.message_id).edits))
    _print_replies([stack.emu.message(group, incident.message_id)])
    user = stack.platform.data.users[10001]
    old_name, user.name = user.name, "张叁"
    status, answer = await stack.platform_event("user-updated", {"id": [10001]})
    print(f"🛰 platform POSTs user-updated [10001] (renamed {old_name} → 张叁) -> HTTP {status}")
    [change] = await stack.emu.wait_for_messages(group, 1, timeout=20)
    _print_replies([change])
    if "张叁" not in change.plain_text():
        failures.append("the user change was not told as a diff")


async def _run_by_hand(stack: Stack) -> tuple[Bridge, BaseScheduler]:
    """The bridge, its scheduler paused once the start-up catch-up has run: the tour runs
    the jobs by hand (the caller resumes the scheduler)."""
    bridge = stack.bridge
    assert bridge is not None and bridge.scheduler is not None
    bridge.scheduler.pause()
    await bridge.jobs.caught_up.wait()
    return bridge, bridge.scheduler


async def _delivered(stack: Stack, chat: int) -> list[EmuMessage]:
    """What the outbox delivers to `chat` now (queued by the jobs just run)."""
    assert stack.bridge is not None
    delivery = stack.bridge.delivery
    delivery.idle.clear()
    delivery.wake()
    await asyncio.wait_for(delivery.idle.wait(), 20)
    msgs = stack.emu.pending_messages(chat)
    stack.emu.mark(chat)
    return msgs


async def live_tour(stack: Stack, clock: TourClock, failures: list[str]) -> None:
    """Live positions in a group: /follow moves a live location on the map as the sandbox
    user rides; a geofence on his way is crossed in and out, each told once; /unfollow.

    As in `jobs_tour`, the scheduler is paused and the position poll is run by hand, the
    bridge's and the sandbox's clocks set together to a time in the past (three days ago,
    10:00 onwards), so that what the poll queues is due at once.
    """
    bridge, scheduler = await _run_by_hand(stack)
    data = stack.platform.data
    real_now = data.now
    rider = data.users[CROSSING_USER_ID]  # zhangsan01, who rides through DEMO_FENCE
    was_online = rider.online
    tz = bridge.settings.bridge.tz
    now = datetime.combine(datetime.now(tz).date() - timedelta(days=3), time(10), tz)
    clock.at, data.now = now, clock
    group = stack.add_group(-100999, "Patrol desk / 巡逻值班台", admins=("admin", "supervisor"))
    print("— live positions, in the group chat “Patrol desk” —")
    print(f"   (the position poll runs by hand, the clock set to {now:%Y-%m-%d %H:%M})\n")
    edits = {"moved": 0, "edited": 0, "stopped": 0}
    quiet = False

    def on_edit(event: str, msg: EmuMessage) -> None:
        if event != "edited" or not msg.from_bot or msg.chat_id != group or not msg.edits:
            return
        note = LIVE_EDIT_NOTES.get(msg.edits[-1].method, " (edited)")
        edits[note.strip(" ()")] += 1
        if not quiet:
            print("\n".join(message_lines(msg, note)) + "\n")

    async def say(text: str) -> list[EmuMessage]:
        print(f"👤 supervisor: {text}")
        msgs = await stack.say("supervisor", text, chat=group)
        _print_replies(msgs)
        if not msgs:
            failures.append(f"supervisor: {text}: no reply")
        return msgs

    async def tick(step: timedelta) -> None:
        nonlocal now
        now += step
        clock.at = now
        if not await bridge.jobs.run("position-poll", now=now):
            failures.append(f"live positions: the poll at {now:%H:%M:%S} failed")
        await bridge.jobs.follows.settle()  # the moves it started in the background

    stack.emu.add_listener(on_edit)
    try:
        started = await say("/follow zhangsan01 30m")
        pins = [m for m in started if m.kind == "location"]
        print("🛰 zhangsan01 rides on; the poll runs every 20 s:\n")
        for _ in range(3):
            await tick(timedelta(seconds=20))
        if not edits["moved"]:
            failures.append("live positions: the followed live location never moved")
        for online in (False, True):
            rider.online = online
            print(f"🛰 zhangsan01's terminal goes {'online' if online else 'offline'}:\n")
            await tick(timedelta(seconds=20))
        if not edits["edited"]:
            failures.append("live positions: the follow's line was never edited")

        lat, lon, radius = DEMO_FENCE
        await say(f"/fence add depot {lat:.4f},{lon:.4f} {radius:.0f}m")
        await say("/fence watch depot zhangsan01")
        first, _ = DEMO_FENCE_INSIDE_MINUTES[0]
        now = now.replace(minute=int(first) - 1, second=0)
        moved = edits["moved"]
        print(f"🛰 {now:%H:%M}: the poll runs every 20 s while zhangsan01 rides through the depot")
        print("   (the live location's moves no longer shown)\n")
        quiet = True
        alerts: list[EmuMessage] = []
        places: list[float] = []  # each alert's pin: metres from the fence's centre
        for _ in range(24):  # 8 minutes: in at about 3 past, out at about 5 past
            await tick(timedelta(seconds=20))
            arrived = await _delivered(stack, group)
            alerts += [m for m in arrived if m.kind == "text"]
            places += [
                haversine_m((lat, lon), (m.location.lat, m.location.lon))
                for m in arrived
                if m.kind == "location" and m.location is not None
            ]
            if arrived:
                print(f"🕘 {now:%H:%M:%S}")
                _print_replies(arrived)
            if len(alerts) >= 2:
                break
        quiet = False
        print(f"   (meanwhile the live location moved {edits['moved'] - moved} times)\n")
        inside_then_outside = len(places) == 2 and places[0] < radius < places[1]
        if len(alerts) != 2 or not inside_then_outside:
            failures.append(
                f"live positions: {len(alerts)} fence alerts (pins {places}), "
                "not an enter and then a leave"
            )

        await say("/unfollow all")
        if not pins or stack.emu.live_status(group, pins[0].message_id) != "stopped":
            failures.append("live positions: /unfollow all did not stop the live location")
    finally:
        stack.emu.remove_listener(on_edit)
        clock.at, data.now = None, real_now
        rider.online = was_online
        scheduler.resume()


async def transcript_tour(
    stack: Stack, asr: FakeAsr, clock: TourClock, failures: list[str]
) -> None:
    """Transcripts: a new recording goes to a group at once while the speech-recognition
    server is down; once it is back, the voice message's caption is completed with what
    was said (an edit, once), and /heard finds it.

    The recordings poll runs by hand, the bridge's and the sandbox's clocks set together
    to a time before the jobs tour's (four days ago, 16:00 onwards); the subscription is
    removed at the end, so the jobs tour starts afresh.
    """
    bridge, scheduler = await _run_by_hand(stack)
    transcriber = bridge.transcriber
    assert transcriber is not None  # built by the bridge's start
    data = stack.platform.data
    real_now = data.now
    tz = bridge.settings.bridge.tz
    now = datetime.combine(datetime.now(tz).date() - timedelta(days=4), time(16), tz)
    clock.at, data.now = now, clock
    group = stack.add_group(-100555, "Radio log / 通话记录", admins=("admin", "supervisor"))
    quiet = logging.getLogger("bot.asr.service")
    print("— transcripts, in the group chat “Radio log” —")
    print(f"   (the recordings poll runs by hand, the clock set to {now:%Y-%m-%d %H:%M})\n")

    async def show(who: str, text: str) -> None:
        print(f"👤 {who}: {text}")
        msgs = await stack.say(who, text, chat=group)
        _print_replies(msgs)
        if not msgs:
            failures.append(f"transcripts: {who}: {text}: no reply")

    try:
        await show("admin", "/subscribe recordings user zhangsan01")
        await bridge.jobs.recordings.poll(now)  # the starting point
        await asr.down()
        quiet.setLevel(logging.ERROR)  # the transcriber's warning that it is down: expected
        voices: list[EmuMessage] = []
        for _ in range(12):  # until zhangsan01 has spoken on the radio
            now += timedelta(minutes=20)
            clock.at = now
            if await bridge.jobs.recordings.poll(now):
                voices = [m for m in await _delivered(stack, group) if m.kind in ("voice", "audio")]
            if voices:
                break
        if not voices:
            failures.append("transcripts: no recording of zhangsan01 arrived")
            return
        print("🛰 the speech-recognition server is down; zhangsan01 speaks on the radio, and")
        print("   the voice message goes out at once, without its transcript:")
        _print_replies(voices[:1])
        await asyncio.wait_for(transcriber.idle(), 60)  # tried: refused, retried later
        await asr.up()
        clock.at = now = now + timedelta(minutes=5)
        print(f"🛰 {now:%H:%M}: the server is back; the transcript comes, the caption is edited:")
        transcriber.wake()
        await asyncio.wait_for(transcriber.idle(), 60)
        await _delivered(stack, group)
        edited = stack.emu.message(group, voices[0].message_id)
        _print_replies([edited])
        if "📝" not in (edited.caption or "") or len(edited.edits) != 1:
            failures.append("transcripts: the voice message's caption was not completed once")
        await show("supervisor", "/heard 火势")
        await show("admin", "/unsubscribe recordings")
        await bridge.jobs.recordings.poll(now)  # zhangsan01 is followed no more
    finally:
        quiet.setLevel(logging.NOTSET)
        clock.at, data.now = None, real_now
        scheduler.resume()


async def jobs_tour(stack: Stack, failures: list[str]) -> None:
    """Scheduled work: a presence change, a new recording arriving, an attendance digest.

    The scheduler is paused and each job is run by hand at a time the tour chooses
    (the day before yesterday, 15:00 onwards, and the digest at 08:30 the next morning:
    always in the past, so what the jobs queue is due at once), with the sandbox
    platform's clock set to the same time. The tour shows in
    seconds what takes minutes.
    """
    bridge, scheduler = await _run_by_hand(stack)
    data = stack.platform.data
    real_now = data.now
    tz = bridge.settings.bridge.tz
    now = datetime.combine(datetime.now(tz).date() - timedelta(days=2), time(15), tz)
    data.now = lambda: now
    # The supervisor administers this group: only a group's administrators (with the role)
    # change what it receives.
    group = stack.add_group(-100888, "Duty room / 值班室", admins=("admin", "supervisor"))
    print("— scheduled work, in the group chat “Duty room” —")
    print(f"   (the jobs run by hand, the clock set to {now:%Y-%m-%d %H:%M} and moved on)\n")

    async def show(who: str, texts: Sequence[str]) -> None:
        for text in texts:
            print(f"👤 {who}: {text}")
            _print_replies(await stack.say(who, text, chat=group))

    async def arrived(what: str) -> list[EmuMessage]:
        msgs = await _delivered(stack, group)
        if not msgs:
            failures.append(f"jobs tour: no {what}")
        return msgs

    try:
        await show("supervisor", ["/watch 1002"])
        await show("admin", ["/subscribe recordings org 266"])
        await bridge.jobs.run("recordings-poll", now=now)  # the starting point
        user = data.users[10001]
        user.online = not user.online
        state = "comes online" if user.online else "goes offline"
        print(f"🛰 {user.name} {state}; the presence job polls twice (every 30 s)")
        for _ in range(2):
            now += timedelta(seconds=30)
            await bridge.jobs.run("presence-poll", now=now)
        _print_replies(await arrived("presence change"))

        for _ in range(12):  # until someone in org 266 has spoken on the radio
            now += timedelta(minutes=20)
            if await bridge.jobs.recordings.poll(now):
                break
        print("🛰 the platform lists new recordings; the recordings job sends each once:")
        recs = await arrived("new recording")
        _print_replies(recs[:2])
        if len(recs) > 2:
            print(f"   … and {len(recs) - 2} more\n")

        await show("supervisor", ["/report daily 08:30"])
        await show("admin", ["/subscriptions"])
        now = datetime.combine(now.date() + timedelta(days=1), time(8, 30), tz)
        print(f"🕘 {now:%Y-%m-%d %H:%M}: the daily digest job runs")
        await bridge.jobs.run("report", group, 0, now=now)
        _print_replies(await arrived("attendance digest"))
    finally:
        data.now = real_now
        scheduler.resume()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(asyncio.run(run_demo()))
