"""WAL checkpoints off the commit path.

SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the one
connection's thread: every thousandth commit or so took ~8 ms instead of ~0.6, and every
callback waiting for it waited that long. So a background task copies the WAL back from a
connection of its own, in another thread, whenever the WAL passes :data:`CHECKPOINT_BYTES`
(a PASSIVE checkpoint from another connection does not hold up writers); SQLite's own
checkpoint stays only as a safety net (:data:`AUTOCHECKPOINT_PAGES`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Final

__all__ = [
    "AUTOCHECKPOINT_PAGES",
    "CHECKPOINT_BYTES",
    "CHECKPOINT_EVERY_S",
    "checkpoint",
    "checkpoint_loop",
]

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S: Final = 0.5
CHECKPOINT_BYTES: Final = 4 * 1024 * 1024
"""The background checkpoint copies the WAL back once it is this big (SQLite's default
threshold, 1,000 pages of 4 KiB)."""
AUTOCHECKPOINT_PAGES: Final = 16_000
"""SQLite's own checkpoint, in the commit path: only if the background one falls behind."""


def checkpoint(path: str, busy_timeout_s: float) -> None:
    """Copy the WAL of the database at ``path`` back into it (PASSIVE, from a connection of
    its own) if the WAL is over :data:`CHECKPOINT_BYTES`. Blocking: run it in a thread."""
    try:
        if Path(path + "-wal").stat().st_size <= CHECKPOINT_BYTES:
            return
    except FileNotFoundError:
        return
    other = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
    try:
        other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        other.close()


async def checkpoint_loop(path: str, busy_timeout_s: float) -> None:
    """Run :func:`checkpoint` every :data:`CHECKPOINT_EVERY_S` until cancelled."""
    while True:
        await asyncio.sleep(CHECKPOINT_EVERY_S)
        try:
            await asyncio.to_thread(checkpoint, path, busy_timeout_s)
        except Exception as e:  # the loop goes on; SQLite's own checkpoint is the net
            log.warning("database %s: background checkpoint failed: %s", path, e)
