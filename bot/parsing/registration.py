"""Bulk account registration: reading `account,name` rows and checking them before any call.

Rows come from the message text or a CSV/TXT file in UTF-8 (with or without a
BOM) or GBK, with or without a header line. Every row is checked first; a batch
with a bad row is refused whole, naming each bad row, so nothing half-happens.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from bot.render.csvfile import csv_bytes

ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,31}$")
HEADER_WORDS = {"account", "accounts", "账号", "帐号", "用户名", "login", "loginname"}
MAX_NAME = 32
MAX_ROWS = 5000
REGISTER_START = "register"
"""The `/start` payload of the link `/register` answers with in a group: a dialog that takes
a password runs only in a private chat."""


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line in the input, for messages
    account: str
    name: str


@dataclass(frozen=True)
class BadRow:
    line: int
    text: str
    reason: str  # empty | columns | account | name | duplicate


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not), else GBK (Excel's default for Chinese on Windows)."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValueError("the file is neither UTF-8 nor GBK text")


def parse_rows(text: str) -> tuple[list[Row], list[BadRow]]:
    """Rows and bad rows of `account,name` text (commas, Chinese commas or tabs)."""
    rows: list[Row] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i, raw in enumerate(lines, start=1):
        line = raw.strip().replace("，", ",").replace("\t", ",")
        if not line:
            continue
        cells = next(csv.reader(io.StringIO(line)))
        cells = [c.strip() for c in cells]
        if not rows and not bad and cells and cells[0].lower() in HEADER_WORDS:
            continue  # a header line
        if len(cells) < 2 or not cells[0] or not cells[1]:
            bad.append(BadRow(i, raw.strip(), "empty" if len(cells) >= 2 else "columns"))
            continue
        if len(cells) > 2 and any(cells[2:]):
            bad.append(BadRow(i, raw.strip(), "columns"))
            continue
        account, name = cells[0], cells[1]
        if not ACCOUNT.match(account):
            bad.append(BadRow(i, raw.strip(), "account"))
            continue
        if len(name) > MAX_NAME or any(ord(c) < 32 or c in "<>&\"'\\" for c in name):
            bad.append(BadRow(i, raw.strip(), "name"))
            continue
        key = account.lower()
        if key in seen:
            bad.append(BadRow(i, raw.strip(), "duplicate"))
            continue
        seen[key] = i
        rows.append(Row(i, account, name))
    return rows, bad


def result_csv(results: list[tuple[Row, str, int | None, str]]) -> bytes:
    """The per-row result as CSV (UTF-8 with BOM so Excel shows Chinese correctly)."""
    header = ["line", "account", "name", "result", "id", "reason"]
    rows = [
        [row.line, row.account, row.name, outcome, uid or "", reason]
        for row, outcome, uid, reason in results
    ]
    return csv_bytes(header, rows)
