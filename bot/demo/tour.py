"""`pttbridge demo` (a scripted tour) and `pttbridge console` (the same, from the keyboard).

Both run the real bridge against the sandbox platform and the Telegram
emulator in one process: no network, no Telegram account needed.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence

from bot.demo.stack import PEOPLE, Stack
from bot.sandbox.telegram import EmuMessage

ERROR_MARKERS = ("Something went wrong", "出错了")


def _print_replies(messages: Sequence[EmuMessage]) -> None:
    if not messages:
        print("   (no reply)")
    for m in messages:
        edited = " (edited)" if m.edits else ""
        lines = m.render().splitlines() or [""]
        print(f"🤖{edited} " + lines[0])
        for line in lines[1:]:
            print("   " + line)
        buttons = m.buttons()
        if buttons:
            print(
                "   buttons: "
                + "  ".join(f"{i + 1}) {text}" for i, (text, _) in enumerate(buttons))
            )
    print()


def _people_line() -> str:
    return ", ".join(
        f"{p.key} ({p.role.label}{' of org ' + str(p.org_id) if p.org_id else ''})" for p in PEOPLE
    )


async def run_demo() -> int:
    """The scripted tour: every command built so far, printed as a chat transcript."""
    logging.basicConfig(level=logging.WARNING)
    stack = Stack(language="en")
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
        print(f"pttbridge demo — people: {_people_line()}\n")
        await say("stranger", "/start")
        await say("viewer", "/help")
        await say("viewer", "/find zhang")
        await say("viewer", "/groups")
        await press("viewer", 0)
        await say("viewer", "/online 1002")
        await press("viewer", 0)
        await say("viewer", "/online zs")
        await say("viewer", "/user zs")
        await press("viewer", 1)
        await say("viewer", "/user tricky")
        await say("viewer", "/org")
        await say("viewer", "/org 266")
        await say("scoped", "/find zhang")
        await say("scoped", "/online 1003")
        await say("supervisor", "/where zhangsan01")
        await say("supervisor", "/where 1002")
        await press("supervisor", 0)
        await say("supervisor", "/track zhangsan01 -3h")
        # Yesterday: a whole day of recordings whatever the time of day the demo runs.
        await say("supervisor", "/recordings zhangsan01 yesterday")
        await press("supervisor", 0)
        await say("viewer", "/where zhangsan01")
        await say("viewer", "/role 1003 admin")
        await say("admin", "/role")
        await say("admin", "/invite viewer org 267")
        await say("admin", "/lang zh")
        await say("admin", "/online 指挥调度组")
        await say("admin", "/lang en")
        await say("viewer", "/online")
        await say("viewer", "/nonsense")
        await relay_tour(stack, failures)
        await admin_tour(say, press)
        await jobs_tour(stack, failures)
    finally:
        await stack.stop()
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
    await press("admin", "Next")
    await say("admin", "Evacuation drill 疏散演练")
    await say("admin", "All units: drill at 15:00 in the east yard. 15:00 东院集合演练。")
    await press("admin", "Done")  # no attachments
    await press("admin", "Confirm")
    await say("admin", "/register\nwangqiang01,王强\nbad account!,坏账号\nwangqiang01,王强")
    await say(
        "admin", "/register\nwangqiang01,王强\nliuyang01,刘洋\nzhangsan01,张三\nchenjing01,陈静"
    )
    await say("admin", "s3cret-Pass")


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
    print("👆 supervisor presses [✅ Acknowledge]")
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


async def jobs_tour(stack: Stack, failures: list[str]) -> None:
    """Scheduled work: a presence change, a new recording arriving, an attendance digest.

    The scheduler is paused and each job is run by hand at a time the tour chooses
    (yesterday 15:00 onwards: always in the past, so what the jobs queue is due at
    once), with the sandbox platform's clock set to the same time. The tour shows in
    seconds what takes minutes.
    """
    from datetime import datetime, time, timedelta

    bridge = stack.bridge
    assert bridge is not None and bridge.scheduler is not None
    bridge.scheduler.pause()
    await bridge.jobs.caught_up.wait()
    data = stack.platform.data
    real_now = data.now
    tz = bridge.settings.bridge.tz
    now = datetime.combine(datetime.now(tz).date() - timedelta(days=1), time(15), tz)
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
        bridge.delivery.idle.clear()
        bridge.delivery.wake()
        await asyncio.wait_for(bridge.delivery.idle.wait(), 20)
        msgs = stack.emu.pending_messages(group)
        stack.emu.mark(group)
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
        print("🕘 at 08:30 the daily digest job runs:")
        await bridge.jobs.run("report", group, 0, now=now)
        _print_replies(await arrived("attendance digest"))
    finally:
        data.now = real_now
        bridge.scheduler.resume()


async def run_console() -> int:
    """Type as a Telegram user would; `/as <who>` switches who is typing."""
    logging.basicConfig(level=logging.WARNING)
    stack = Stack(language="en")
    await stack.start()
    who = "admin"
    last: EmuMessage | None = None
    print("pttbridge console — the bridge against the sandbox platform and a Telegram emulator.")
    print(f"People: {_people_line()}.")
    print("Type commands as in Telegram (/help). `/as viewer` switches who types;")
    print("a number presses that button of the last message; `/quit` leaves.\n")
    try:
        while True:
            try:
                line = (await asyncio.to_thread(input, f"{who}> ")).strip()
            except EOFError:
                break
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            if line.startswith("/as"):
                _, _, name = line.partition(" ")
                if name.strip() in stack.people:
                    who = name.strip()
                    print(f"(now typing as {who})\n")
                else:
                    print(f"(who? one of: {', '.join(stack.people)})\n")
                continue
            if line.isdigit() and last is not None:
                idx = int(line) - 1
                if not 0 <= idx < len(last.buttons()):
                    print("(no such button)\n")
                    continue
                msgs = await stack.press(who, last, idx)
            else:
                msgs = await stack.say(who, line)
            _print_replies(msgs)
            with_buttons = [m for m in msgs if m.buttons()]
            if with_buttons:
                last = with_buttons[-1]
    finally:
        await stack.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(asyncio.run(run_demo()))
