"""Roles and scope, end to end (issue 12, points 2, 4 and 6): who may change whose role,
what a scoped admin's /audit, /device, /register and listings reach, and dialogs that take
a password only in private.

The Telegram emulator (real HTTP, aiogram's AiohttpSession) and the sandbox platform on
127.0.0.1, with the whole bridge between. People (`bot.demo.stack.PEOPLE`): admin 1001
(BRIDGE_ADMIN_IDS), supervisor 1002, viewer 1003, scoped 1004 (supervisor of org 266),
stranger 1005 (no role). Orgs: 103 is the root; 266 (消防一大队) has the child 268; 267
(消防二大队) is 266's sibling.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
import pytest_asyncio

from bot.access import Caller, Verdict, may_manage
from bot.demo.stack import Stack
from bot.sandbox.telegram import EmuMessage, EmuUser
from storage.db import utcnow
from storage.roles import Grant, Role

NEEDS_ADMIN = "This needs the administrator role."
CONFIG_ADMIN = "1001 is an administrator in the settings (BRIDGE_ADMIN_IDS); change it there."
LINK = re.compile(r"https://t\.me/pttbridge_bot\?start=([A-Za-z0-9_-]+)")
SCOPE_266 = frozenset({266, 268})


def one(msgs: list[EmuMessage]) -> EmuMessage:
    assert len(msgs) == 1, [m.render() for m in msgs]
    return msgs[0]


def text_of(msgs: Iterable[EmuMessage]) -> str:
    return "\n".join(m.plain_text() for m in msgs)


def not_yours(target: int) -> str:
    return (
        f"{target} holds a role beyond your org: "
        "only an administrator whose reach covers it can change it."
    )


async def grant(stack: Stack, user_id: int, role: Role, org: int | None = None) -> None:
    assert stack.bridge is not None
    await stack.bridge.roles.set(user_id, role, str(org) if org is not None else None, None)


async def held(stack: Stack, user_id: int) -> tuple[Role, str | None] | None:
    assert stack.bridge is not None
    g = await stack.bridge.roles.get(user_id)
    return None if g is None else (g.role, g.org_id)


def person(stack: Stack, user_id: int, name: str) -> EmuUser:
    user = stack.emu.add_user(user_id, name, language_code="en", username=f"u{user_id}")
    stack.people[f"u{user_id}"] = user
    return user


# ------------------------------------------------------------------------------ the rule itself


def caller(role: Role, org: int | None = None, *, config: bool = False) -> Caller:
    scope = None if org is None else (SCOPE_266 if org == 266 else frozenset({org}))
    return Caller(9, role, org, scope, "en", is_config_admin=config)


def held_grant(role: Role, org: str | None) -> Grant:
    return Grant(7, role, org, None, utcnow())


@pytest.mark.parametrize(
    ("who", "current", "new_role", "new_org", "expected"),
    [
        # An unscoped admin: anything but the settings' admins.
        (caller(Role.ADMIN), held_grant(Role.ADMIN, None), Role.NONE, None, Verdict.OK),
        (caller(Role.ADMIN), None, Role.ADMIN, None, Verdict.OK),
        # A scoped admin: holders inside the subtree, grants inside it, nothing else.
        (caller(Role.ADMIN, 266), None, Role.ADMIN, 268, Verdict.OK),
        (caller(Role.ADMIN, 266), held_grant(Role.VIEWER, "268"), Role.NONE, None, Verdict.OK),
        (
            caller(Role.ADMIN, 266),
            held_grant(Role.ADMIN, None),
            Role.NONE,
            None,
            Verdict.HOLDER_OUT_OF_REACH,
        ),
        (
            caller(Role.ADMIN, 266),
            held_grant(Role.VIEWER, "267"),
            Role.VIEWER,
            266,
            Verdict.HOLDER_OUT_OF_REACH,
        ),
        (
            caller(Role.ADMIN, 266),
            held_grant(Role.VIEWER, "nonsense"),
            Role.NONE,
            None,
            Verdict.HOLDER_OUT_OF_REACH,
        ),
        (caller(Role.ADMIN, 266), None, Role.VIEWER, None, Verdict.GRANT_OUT_OF_REACH),
        (caller(Role.ADMIN, 266), None, Role.VIEWER, 267, Verdict.GRANT_OUT_OF_REACH),
        (caller(Role.SUPERVISOR), None, Role.VIEWER, None, Verdict.NOT_ADMIN),
    ],
)
def test_may_manage(
    who: Caller, current: Grant | None, new_role: Role, new_org: int | None, expected: Verdict
) -> None:
    assert may_manage(who, current, new_role, new_org) is expected


@pytest.mark.parametrize("who", [caller(Role.ADMIN, config=True), caller(Role.ADMIN, 266)])
def test_nobody_manages_a_config_admin(who: Caller) -> None:
    verdict = may_manage(who, None, Role.NONE, None, target_is_config_admin=True)
    assert verdict is Verdict.CONFIG_ADMIN


# ------------------------------------------------------------------------------ /role, /invite


async def test_scoped_admin_grants_only_inside_their_subtree(bot_stack: Stack) -> None:
    stack = bot_stack
    boss = person(stack, 2002, "Scoped Admin Bo")
    await grant(stack, 2002, Role.ADMIN, 266)
    newcomer = 3001

    # No org: their own org, never unscoped.
    reply = one(await stack.say(boss, f"/role {newcomer} admin")).plain_text()
    assert reply == f"{newcomer} now has the administrator role (消防一大队)."
    assert await held(stack, newcomer) == (Role.ADMIN, "266")
    # An org outside the subtree does not exist for them.
    reply = one(await stack.say(boss, f"/role {newcomer} viewer org 267")).plain_text()
    assert reply == "No org matches “267”."
    reply = one(await stack.say(boss, f"/role {newcomer} viewer org 103")).plain_text()
    assert reply == "No org matches “103”."
    assert await held(stack, newcomer) == (Role.ADMIN, "266")
    # Bad digits are a usage line, not an error.
    reply = one(await stack.say(boss, f"/role {newcomer} viewer org ²")).plain_text()
    assert reply == "After org give one org id, e.g. org 266."
    reply = one(await stack.say(boss, "/role ²³ viewer")).plain_text()
    assert reply.startswith("Usage: /role")
    reply = one(await stack.say(boss, "/role 99999999999999999999999 viewer")).plain_text()
    assert reply.startswith("Usage: /role")

    # /invite: at most their reach.
    reply = one(await stack.say(boss, "/invite viewer org 267")).plain_text()
    assert reply == "No org matches “267”."
    reply = one(await stack.say(boss, "/invite admin")).plain_text()
    m = LINK.search(reply)
    assert m and "administrator" in reply and "消防一大队" in reply
    assert stack.bridge is not None
    invite = await stack.bridge.invites.get(m[1])
    assert invite is not None and (invite.role, invite.org_id) == (Role.ADMIN, "266")


async def test_scoped_admin_lists_only_roles_inside_their_subtree(bot_stack: Stack) -> None:
    stack = bot_stack
    boss = person(stack, 2002, "Scoped Admin Bo")
    await grant(stack, 2002, Role.ADMIN, 266)
    await grant(stack, 3002, Role.VIEWER, 268)
    await grant(stack, 3003, Role.VIEWER, 267)
    listing = one(await stack.say(boss, "/role")).plain_text()
    ids = set(re.findall(r"^(\d+) ", listing, flags=re.MULTILINE))
    assert ids == {"1004", "2002", "3002"}, listing
    assert "from the settings" not in listing and "消防二大队" not in listing
    # An unscoped admin sees everyone.
    everyone = one(await stack.say("admin", "/role")).plain_text()
    assert set(re.findall(r"^(\d+) ", everyone, flags=re.MULTILINE)) == {
        "1001",
        "1002",
        "1003",
        "1004",
        "2002",
        "3002",
        "3003",
    }


async def test_an_invitation_reaches_no_further_than_its_creator(bot_stack: Stack) -> None:
    stack = bot_stack
    assert stack.bridge is not None
    boss = person(stack, 2002, "Scoped Admin Bo")
    await grant(stack, 2002, Role.ADMIN, 266)

    async def invite(args: str) -> str:
        m = LINK.search(one(await stack.say(boss, f"/invite {args}")).plain_text())
        assert m
        return m[1]

    # An unscoped supervisor is not re-scoped into 266 by a scoped admin's invitation.
    code = await invite("admin")
    refused = one(await stack.say("supervisor", f"/start {code}")).plain_text()
    assert refused.startswith(
        "This invitation cannot change the role you already have. Ask an administrator."
    )
    assert await held(stack, 1002) == (Role.SUPERVISOR, None)
    # Nor is a viewer of another org.
    other = person(stack, 3003, "Other Org Ou")
    await grant(stack, 3003, Role.VIEWER, 267)
    refused = one(await stack.say(other, f"/start {code}")).plain_text()
    assert refused.startswith("This invitation cannot change the role you already have.")
    assert await held(stack, 3003) == (Role.VIEWER, "267")
    # Refused, it stays unused: someone it reaches may still take it.
    newcomer = person(stack, 3001, "Newcomer Ning")
    welcome = one(await stack.say(newcomer, f"/start {code}")).plain_text()
    assert welcome.startswith("Welcome! You now have the administrator role.")
    assert await held(stack, 3001) == (Role.ADMIN, "266")

    # An invitation whose creator has since lost the role grants nothing.
    code = await invite("supervisor")
    await grant(stack, 2002, Role.VIEWER, 266)
    late = person(stack, 3005, "Late Lai")
    refused = one(await stack.say(late, f"/start {code}")).plain_text()
    assert refused.startswith("This invitation link is not valid.")
    assert await held(stack, 3005) is None
    # An unscoped admin's invitation still raises an unscoped viewer as before.
    m = LINK.search(one(await stack.say("admin", "/invite supervisor")).plain_text())
    assert m
    welcome = one(await stack.say("viewer", f"/start {m[1]}")).plain_text()
    assert welcome.startswith("Welcome! You now have the supervisor role.")
    assert await held(stack, 1003) == (Role.SUPERVISOR, None)


# ------------------------------------------------------------------------------ scope leaks


async def test_scoped_admin_audit_shows_only_actors_inside_their_subtree(
    bot_stack: Stack,
) -> None:
    stack = bot_stack
    boss = person(stack, 2002, "Scoped Admin Bo")
    await grant(stack, 2002, Role.ADMIN, 266)
    rival = person(stack, 2003, "Rival Admin Ren")
    await grant(stack, 2003, Role.ADMIN, 267)
    hq = person(stack, 2004, "HQ Admin Hu")
    await grant(stack, 2004, Role.ADMIN)

    assert "created" in text_of(await stack.say(rival, "/mkgroup Patrol67 267"))
    assert "created" in text_of(await stack.say(hq, "/mkgroup PatrolHQ 103"))
    assert "now under repair" in text_of(await stack.say("admin", "/device 860010 repair"))
    assert "created" in text_of(await stack.say(boss, "/mkgroup Patrol66 266"))
    await stack.say("scoped", "/where zhangsan01")  # the supervisor of 266, audited

    mine = one(await stack.say(boss, "/audit")).plain_text()
    lines = mine.splitlines()
    assert lines[0] == "Latest 2 actions", mine
    assert "Scoped Li where 10001" in lines[1]
    assert "Scoped Admin Bo new talk group" in lines[2] and "Patrol66" in lines[2]
    for outside in ("Rival", "HQ Admin", "Admin Ada", "Patrol67", "PatrolHQ", "860010"):
        assert outside not in mine

    doc = one(await stack.say(boss, "/audit csv"))
    assert doc.file is not None and doc.plain_text() == "2 actions of the last 90 days."
    table = list(csv.reader(io.StringIO((doc.file.data or b"").decode("utf-8-sig"))))
    assert [(r[1], r[3]) for r in table[1:]] == [("2002", "mkgroup"), ("1004", "where")]
    raw = (doc.file.data or b"").decode("utf-8-sig")
    for outside in ("Rival", "HQ Admin", "Admin Ada", "Patrol67", "PatrolHQ"):
        assert outside not in raw

    # Unscoped admins see everything.
    everything = one(await stack.say(hq, "/audit")).plain_text()
    assert everything.splitlines()[0] == "Latest 5 actions"
    assert "Rival Admin Ren" in everything and "Admin Ada" in everything
    assert one(await stack.say(hq, "/audit ²")).plain_text().startswith("Usage: /audit")


async def test_scoped_admin_device_acts_only_on_terminals_of_their_subtree(
    bot_stack: Stack,
) -> None:
    stack = bot_stack
    boss = person(stack, 2002, "Scoped Admin Bo")
    await grant(stack, 2002, Role.ADMIN, 266)
    devices = stack.platform.data.devices

    # Never assigned through the bridge: whose it is cannot be known, so it is not theirs.
    before = (devices[860001].account, devices[860001].state)
    for command in ("/device 860001 idle", "/device 860001 assign zhangsan01"):
        reply = one(await stack.say(boss, command)).plain_text()
        assert reply == "No terminal matches “860001”.", command
    assert stack.platform.requests_to("/device/bind") == []
    assert (devices[860001].account, devices[860001].state) == before

    # Assigned here to 张珊 (org 266): theirs, also once idle or under repair.
    await stack.say("admin", "/device 860005 assign zhangshan01")
    assert one(await stack.say(boss, "/device 860005 repair")).plain_text() == (
        "Terminal 860005 is now under repair."
    )
    assert one(await stack.say(boss, "/device 860005 assign zhangsan01")).plain_text() == (
        "Terminal 860005 is now assigned to zhangsan01."
    )
    assert (devices[860005].account, devices[860005].state) == ("zhangsan01", 1)
    # Assigned here to 张山 (org 267): not theirs.
    await stack.say("admin", "/device 860010 assign zhangshan02")
    reply = one(await stack.say(boss, "/device 860010 idle")).plain_text()
    assert reply == "No terminal matches “860010”."
    assert (devices[860010].account, devices[860010].state) == ("zhangshan02", 1)
    # Nor can they hand one of theirs to someone outside.
    reply = one(await stack.say(boss, "/device 860005 assign zhangshan02")).plain_text()
    assert reply == "No user matches “zhangshan02”."
    assert [r.json for r in stack.platform.requests_to("/device/bind")] == [
        {"id": "860005", "state": "1", "account": "zhangshan01"},
        {"id": "860005", "state": "2"},
        {"id": "860005", "state": "1", "account": "zhangsan01"},
        {"id": "860010", "state": "1", "account": "zhangshan02"},
    ]


async def test_scoped_admin_every_admin_command_stays_inside(bot_stack: Stack) -> None:
    """What each admin command does with names outside a scoped admin's subtree."""
    stack = bot_stack
    boss = person(stack, 2002, "Scoped Admin Bo")
    await grant(stack, 2002, Role.ADMIN, 266)
    cases = {
        # 2.7 creates accounts in the token's own org, outside every subtree.
        "/register\nlisi01,李四": (
            "/register creates accounts in the platform's top org, outside your org: "
            "ask an administrator without an org limit."
        ),
        "/deluser zhangshan02": "No user matches “zhangshan02”.",
        "/mkgroup Patrol9 267": "No org matches “267”.",
        "/mkgroup Patrol9 266 zhangshan02": "No user matches “zhangshan02”.",
        "/bind 1005 zhangsan01": "No group matches “1005”.",
        "/bind 1002 zhangshan02": "No user matches “zhangshan02”.",
        "/role 1002 none": not_yours(1002),
    }
    for command, expected in cases.items():
        assert one(await stack.say(boss, command)).plain_text() == expected, command
    # The password step never comes.
    assert one(await stack.say(boss, "Secret-123456")).plain_text() == (
        "Send /help to see what I can do."
    )
    writes = ("/user/register", "/user/delete", "/group/create", "/group/bind")
    assert [r.path for w in writes for r in stack.platform.requests_to(w)] == []


# ------------------------------------------------------------------------------ passwords


PASSWORD = "Pa55-word-Secret"


async def test_register_in_a_group_sends_the_admin_to_a_private_chat(bot_stack: Stack) -> None:
    stack = bot_stack
    group = stack.add_group(-100555, "Dispatch room")
    for command in ("/register", "/register\nlisi01,李四"):
        answer = one(await stack.say("admin", command, chat=group))
        assert answer.plain_text() == (
            "Passwords are never typed in a group: continue /register in our private chat: "
            "https://t.me/pttbridge_bot?start=register"
        )
    # No dialog in the group: a password sent there as a reply (which reaches the bot
    # despite privacy mode) is not taken.
    stack.emu.mark(group)
    update = await stack.emu.send_message(
        stack.people["admin"], PASSWORD, chat=group, reply_to=answer
    )
    await stack.wait_handled(int(update["update_id"]))
    assert stack.emu.pending_messages(group) == []
    assert stack.platform.requests_to("/user/register") == []

    # The link opens the dialog in private.
    usage = one(await stack.say("admin", "/start register")).plain_text()
    assert usage.startswith("Usage: /register followed by lines account,name")
    ready = one(await stack.say("admin", "lisi01,李四")).plain_text()
    assert ready.startswith("One account is ready.")
    out = await stack.say("admin", PASSWORD)
    assert "Done: 1 created, 0 already existed, 0 failed." in text_of(out)
    mine = [m for m in stack.emu.history(1001) if not m.from_bot and m.text == PASSWORD]
    assert len(mine) == 1 and mine[0].deleted

    # The same link opened by others: no dialog for them.
    assert one(await stack.say("viewer", "/start register")).plain_text() == NEEDS_ADMIN
    stranger = one(await stack.say("stranger", "/start register")).plain_text()
    assert "Your Telegram id is 1005" in stranger
    assert one(await stack.say("viewer", "lisi02,李四")).plain_text() == (
        "Send /help to see what I can do."
    )


async def test_a_password_that_cannot_be_deleted_is_told_at_once(bot_stack: Stack) -> None:
    stack = bot_stack
    await stack.say("admin", "/register\nlisi01,李四")
    stack.emu.inject_fault(
        "deleteMessage", error_code=400, description="Bad Request: message can't be deleted"
    )
    out = await stack.say("admin", PASSWORD)
    assert out[0].plain_text() == (
        "⚠️ I could not delete your password message: delete it yourself and change the password."
    )
    assert "Done: 1 created" in text_of(out[1:])
    mine = [m for m in stack.emu.history(1001) if not m.from_bot and m.text == PASSWORD]
    assert not mine[0].deleted
    assert all(PASSWORD not in m.plain_text() for m in out)


# ------------------------------------------------------------------------------ the matrix
# caller × target × action through /role, asserting the reply and the stored grant. One
# stack for the whole matrix (each case resets the grants it reads): keep these tests
# LAST in the file, after every test that starts its own stack.


async def _close_without_tls_grace(self: Any) -> None:
    if self._session is not None and not self._session.closed:
        await self._session.close()


CALLERS = {"config-admin": 1001, "unscoped-admin": 2001, "scoped-admin": 2002, "supervisor": 1002}
TARGETS: dict[str, tuple[int, tuple[Role, str | None] | None]] = {
    "no-role": (3001, None),
    "inside": (3002, (Role.VIEWER, "268")),
    "outside": (3003, (Role.VIEWER, "267")),
    "unscoped": (3004, (Role.SUPERVISOR, None)),
    "config-admin": (1001, None),
}
ACTIONS: dict[str, tuple[str, tuple[Role, str | None] | None]] = {
    "grant": ("supervisor org 266", (Role.SUPERVISOR, "266")),
    "change-scope": ("viewer org 266", (Role.VIEWER, "266")),
    "remove": ("none", None),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix_stack() -> AsyncIterator[Stack]:
    from aiogram.client.session.aiohttp import AiohttpSession

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AiohttpSession, "close", _close_without_tls_grace)
        stack = Stack()
        await stack.start()
        person(stack, 2001, "Unscoped Admin Un")
        person(stack, 2002, "Scoped Admin Bo")
        try:
            yield stack
        finally:
            await stack.stop()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("who", CALLERS)
async def test_role_matrix(matrix_stack: Stack, who: str, target: str, action: str) -> None:
    stack = matrix_stack
    await grant(stack, 1002, Role.SUPERVISOR)
    await grant(stack, 2001, Role.ADMIN)
    await grant(stack, 2002, Role.ADMIN, 266)
    target_id, before = TARGETS[target]
    await grant(stack, target_id, *(before or (Role.NONE, None)))
    words, after = ACTIONS[action]

    reply = one(
        await stack.say(stack.emu.user(CALLERS[who]), f"/role {target_id} {words}")
    ).plain_text()

    if who == "supervisor":
        allowed, expected = False, NEEDS_ADMIN
    elif target == "config-admin":
        allowed, expected = False, CONFIG_ADMIN
    elif who == "scoped-admin" and target in ("outside", "unscoped"):
        allowed, expected = False, not_yours(target_id)
    elif after is None:
        allowed, expected = True, f"{target_id} no longer has access."
    else:
        role_word = "supervisor" if after[0] is Role.SUPERVISOR else "viewer"
        allowed, expected = True, f"{target_id} now has the {role_word} role (消防一大队)."
    assert reply == expected
    assert await held(stack, target_id) == (after if allowed else before)
    assert await held(stack, 1001) is None  # the settings' admin is never stored
