"""What the jobs share: which subscriptions an org matches, and queueing long texts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.directory import Directory
from bot.text import split_html
from storage.outbox import OutboxRepo
from storage.subscriptions import Subscription


class JobFailed(Exception):
    """A job could not do its work this time (it runs again at its next time)."""


def matching(
    subs: Sequence[Subscription], org_ids: Iterable[int | None], directory: Directory
) -> list[Subscription]:
    """The subscriptions whose org filter (subtrees; empty: everything) covers one of `org_ids`."""
    orgs = [o for o in org_ids if o is not None]
    out: list[Subscription] = []
    subtrees: dict[int, frozenset[int]] = {}
    for sub in subs:
        if not sub.orgs:
            out.append(sub)
            continue
        for o in sub.orgs:
            if o not in subtrees:
                subtrees[o] = directory.subtree(o)
        if any(org in subtrees[o] for o in sub.orgs for org in orgs):
            out.append(sub)
    return out


async def enqueue_text(
    outbox: OutboxRepo,
    chat_id: int,
    thread_id: int,
    kind: str,
    text: str,
    now: datetime,
    *,
    extra: dict[str, Any] | None = None,
) -> int:
    """Queue `text` for a chat, split under Telegram's limit; `extra` rides on the last part.

    Returns how many rows were queued. Call inside the caller's transaction.
    """
    parts = split_html(text)
    for i, part in enumerate(parts):
        payload: dict[str, Any] = {"text": part}
        if extra and i == len(parts) - 1:
            payload.update(extra)
        await outbox.enqueue(chat_id, thread_id, kind, payload, now)
    return len(parts)
