"""CSV files the bridge sends (audit, attendance, sign-ins, register results).

One writer for every export, so that every cell of every file is neutralised
against formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula
(``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``), and platform names, remarks,
addresses and Telegram display names are typed by anyone. Such a cell gets a
leading ``'``, which spreadsheets read as "this is text".

Numbers stay numbers: an ``int`` or ``float``, or a text that is nothing but a
plain decimal number (``-3``, ``-33.868800``: a count, a coordinate), cannot run
anything, so it is written as it is and still sums in a spreadsheet. A leading
``+`` is not exempt: ``+8613800000000`` is a phone number, better kept as text.

Files are UTF-8 with a BOM (Excel then opens Chinese correctly) and CRLF line ends.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["FORMULA_START", "csv_bytes", "safe_cell"]

FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def safe_cell(value: object) -> str | int | float:
    """``value`` as a CSV cell a spreadsheet shows and never evaluates.

    ``None`` is an empty cell; ``int`` and ``float`` stay numbers; anything else is
    its ``str()``, prefixed with ``'`` when it starts like a formula and is not a
    plain decimal number.
    """
    if value is None:
        return ""
    if isinstance(value, int | float):  # bool too: written as True/False
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_bytes(header: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """A whole CSV file: the header, then every row, each cell through :func:`safe_cell`."""
    buf = io.StringIO()
    w = csv.writer(buf)  # the excel dialect: CRLF, quotes where needed
    w.writerow([safe_cell(v) for v in header])
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
