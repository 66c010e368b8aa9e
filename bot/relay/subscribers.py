"""Which chats an event goes to: subscriptions matched by kind, org subtree and level."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.directory import Directory
from storage.subscriptions import Subscription, SubscriptionRepo


def matching(
    subs: Sequence[Subscription],
    org_ids: Iterable[int | None],
    directory: Directory,
    subtrees: dict[int, frozenset[int]] | None = None,
) -> list[Subscription]:
    """The subscriptions whose org filter (subtrees; empty: everything) covers one of `org_ids`.

    `subtrees` caches the orgs' subtrees across calls (the relay's batch of incidents)."""
    orgs = [o for o in org_ids if o is not None]
    out: list[Subscription] = []
    if subtrees is None:
        subtrees = {}
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


def level_matches(sub: Subscription, level: str | None) -> bool:
    """An incident of `level` (None: not an incident) passes the subscription's level filter."""
    return level is None or not sub.levels or level in sub.levels


class SubscriberIndex:
    """The chats (and forum topics) subscribed to a kind of event about some orgs."""

    def __init__(self, subs: SubscriptionRepo, directory: Directory) -> None:
        self._subs = subs
        self._directory = directory

    async def of_kind(self, kind: str) -> list[Subscription]:
        return await self._subs.of_kind(kind)

    async def targets(
        self, kind: str, org_ids: Iterable[int | None], level: str | None = None
    ) -> list[Subscription]:
        """The subscriptions of `kind` an event about `org_ids` (and of `level`) reaches."""
        return self.among(await self._subs.of_kind(kind), org_ids, level)

    def among(
        self,
        subs: Sequence[Subscription],
        org_ids: Iterable[int | None],
        level: str | None = None,
        subtrees: dict[int, frozenset[int]] | None = None,
    ) -> list[Subscription]:
        """Those of `subs` (of one kind, read once for many events) an event about
        `org_ids` (and of `level`) reaches; `subtrees` caches the orgs' subtrees across
        calls."""
        return [
            s for s in matching(subs, org_ids, self._directory, subtrees) if level_matches(s, level)
        ]
