"""The directory: orgs, talk groups and users, searchable by id, account, name and pinyin.

Loaded from 2.12 (orgs and users) and 2.1 (talk groups and their members) at
start and every `BRIDGE_DIRECTORY_REFRESH_S`. A refresh builds a new immutable
`Snapshot` and swaps it in; a failed refresh keeps the last good one.

Search is case- and width-insensitive (NFKC + casefold). Exact matches of any
key (id, account, name, full pinyin, initials) come first, then prefixes, then
substrings; everything outside the caller's org scope is invisible.
"""

from __future__ import annotations

import asyncio
import bisect
import enum
import logging
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from bot.platform import PlatformClient, PlatformError
from bot.platform.models import Org, TreeNode

log = logging.getLogger(__name__)


class Kind(enum.StrEnum):
    USER = "user"
    GROUP = "group"
    ORG = "org"


@dataclass(frozen=True, slots=True)
class DirOrg:
    id: int
    name: str
    parent_id: int | None
    pinyin_full: str
    pinyin_abbr: str
    user_count: int | None = None
    group_count: int | None = None
    address: str | None = None
    remark: str | None = None


@dataclass(frozen=True, slots=True)
class DirUser:
    id: int
    account: str
    name: str
    org_id: int | None
    pinyin_full: str
    pinyin_abbr: str
    priority: int | None = None
    role_name: str | None = None


@dataclass(frozen=True, slots=True)
class DirGroup:
    id: int
    name: str
    org_id: int | None
    member_ids: tuple[int, ...]
    pinyin_full: str
    pinyin_abbr: str


Entity = DirOrg | DirUser | DirGroup


@dataclass(frozen=True, slots=True)
class Match:
    kind: Kind
    id: int
    label: str
    exact: bool


def norm(text: str) -> str:
    """Search key form: NFKC (full-width to half-width), casefolded, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@lru_cache(maxsize=200_000)
def pinyin_of(name: str) -> tuple[str, str]:
    """(full, initials) pinyin of a name, e.g. 张三 -> ("zhangsan", "zs")."""
    # Imported on first use: pypinyin loads its phrase dictionary at import (~0.3 s, 55 MB
    # of RSS), which every `pttbridge` command paid, not only the ones that load a directory.
    from pypinyin import lazy_pinyin

    # One conversion serves both forms: initials are the syllables' first letters.
    syllables = [s.strip() for s in lazy_pinyin(name) if s.strip()]
    return norm("".join(syllables)), norm("".join(s[0] for s in syllables))


def _pinyin(name: str, given: str | None) -> tuple[str, str]:
    # The platform writes pinyin as "abbr|full" (2.7); otherwise compute it.
    if given and "|" in given:
        abbr, _, full = given.partition("|")
        if abbr.strip() and full.strip():
            return norm(full), norm(abbr)
    return pinyin_of(name)


@dataclass
class Snapshot:
    """One consistent load of the directory, with its search indexes."""

    orgs: dict[int, DirOrg] = field(default_factory=dict)
    users: dict[int, DirUser] = field(default_factory=dict)
    groups: dict[int, DirGroup] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    user_groups: dict[int, list[int]] = field(default_factory=dict)
    loaded_at: datetime | None = None
    # key -> [(kind, id)], and the sorted keys for prefix search
    _exact: dict[str, list[tuple[Kind, int]]] = field(default_factory=dict)
    _sorted_keys: list[str] = field(default_factory=list)
    # one big string of "key\x00" for substring search (C-speed str.find)
    _haystack: str = ""
    _hay_starts: list[int] = field(default_factory=list)
    _hay_keys: list[str] = field(default_factory=list)

    def index(self) -> None:
        # Each entity is added once, with its keys deduplicated, so a key's list never
        # holds a ref twice: appending is O(1) however common a name is.
        exact: dict[str, list[tuple[Kind, int]]] = {}

        def add(ref: tuple[Kind, int], *keys: str) -> None:
            for key in dict.fromkeys(keys):
                if key:
                    exact.setdefault(key, []).append(ref)

        for o in self.orgs.values():
            add((Kind.ORG, o.id), str(o.id), norm(o.name), o.pinyin_full, o.pinyin_abbr)
        for g in self.groups.values():
            add((Kind.GROUP, g.id), str(g.id), norm(g.name), g.pinyin_full, g.pinyin_abbr)
        for u in self.users.values():
            ref = (Kind.USER, u.id)
            add(ref, str(u.id), norm(u.account), norm(u.name), u.pinyin_full, u.pinyin_abbr)
        self._exact = exact
        self._sorted_keys = sorted(exact)
        parts: list[str] = []
        starts: list[int] = []
        pos = 0
        for k in self._sorted_keys:
            starts.append(pos)
            parts.append(k + "\x00")
            pos += len(k) + 1
        self._haystack = "".join(parts)
        self._hay_starts = starts
        self._hay_keys = self._sorted_keys

    def refs(self, q: str, limit: int) -> tuple[list[tuple[Kind, int]], set[tuple[Kind, int]]]:
        """Refs matching `q` in tiers (exact, prefix, substring), and the exact set."""
        seen: dict[tuple[Kind, int], None] = {}
        exact = set(self._exact.get(q, ()))
        for ref in self._exact.get(q, ()):
            seen[ref] = None
        # Prefix tier: consecutive keys in sorted order.
        i = bisect.bisect_left(self._sorted_keys, q)
        while i < len(self._sorted_keys) and len(seen) < limit:
            key = self._sorted_keys[i]
            if not key.startswith(q):
                break
            for ref in self._exact[key]:
                seen.setdefault(ref, None)
            i += 1
        # Substring tier.
        hay, pos = self._haystack, 0
        while len(seen) < limit:
            pos = hay.find(q, pos)
            if pos < 0:
                break
            j = bisect.bisect_right(self._hay_starts, pos) - 1
            for ref in self._exact[self._hay_keys[j]]:
                seen.setdefault(ref, None)
            pos = self._hay_starts[j + 1] if j + 1 < len(self._hay_starts) else len(hay)
        return list(seen), exact

    def subtree(self, org_id: int) -> frozenset[int]:
        out: set[int] = set()
        stack = [org_id]
        while stack:
            oid = stack.pop()
            if oid in out:
                continue
            out.add(oid)
            stack.extend(self.children.get(oid, ()))
        return frozenset(out)


def add_orgs(snap: Snapshot, orgs: list[Org]) -> None:
    """Orgs and users from 2.12's org/user tree (nested, or flat with `parentId`)."""

    def walk_org(o: Org, parent: int | None) -> None:
        full, abbr = _pinyin(o.name, o.pinyin)
        snap.orgs[o.id] = DirOrg(
            id=o.id,
            name=o.name,
            parent_id=parent if parent is not None else o.parent_id,
            pinyin_full=full,
            pinyin_abbr=abbr,
            user_count=o.user_count,
            group_count=o.group_count,
            address=o.address,
            remark=o.remark,
        )
        if parent is not None:
            snap.children.setdefault(parent, []).append(o.id)
        for u in o.users:
            ufull, uabbr = _pinyin(u.name, u.pinyin)
            snap.users[u.id] = DirUser(
                id=u.id,
                account=u.account,
                name=u.name,
                org_id=o.id,
                pinyin_full=ufull,
                pinyin_abbr=uabbr,
                priority=u.priority,
                role_name=u.role_name,
            )
        for child in o.orgs:
            walk_org(child, o.id)

    for root in orgs:
        walk_org(root, None)
    # 2.12 may give a flat list with parentId instead of nesting.
    for o in list(snap.orgs.values()):
        if o.parent_id is not None and o.parent_id in snap.orgs:
            kids = snap.children.setdefault(o.parent_id, [])
            if o.id not in kids:
                kids.append(o.id)


def add_groups(snap: Snapshot, tree: TreeNode | None) -> None:
    """Talk groups and their members from 2.1's org/group tree."""

    def walk_tree(node: TreeNode, org_id: int | None) -> None:
        if node.is_group:
            full, abbr = pinyin_of(node.name)
            members = tuple(dict.fromkeys(u.uid for u in node.users))
            snap.groups[node.id] = DirGroup(
                id=node.id,
                name=node.name,
                org_id=org_id,
                member_ids=members,
                pinyin_full=full,
                pinyin_abbr=abbr,
            )
            for uid in members:
                snap.user_groups.setdefault(uid, []).append(node.id)
            return
        for child in node.children:
            walk_tree(child, node.id)

    if tree is not None:
        walk_tree(tree, None)


def build_snapshot(orgs: list[Org], tree: TreeNode | None) -> Snapshot:
    """A snapshot from 2.12's org/user tree and 2.1's org/group tree."""
    snap = Snapshot()
    add_orgs(snap, orgs)
    add_groups(snap, tree)
    snap.loaded_at = datetime.now(UTC)
    snap.index()
    return snap


class Directory:
    """The live directory; `refresh()` reloads it, queries read the current snapshot."""

    def __init__(
        self, client: PlatformClient, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._client = client
        self._clock = clock or (lambda: datetime.now(UTC))
        self.snapshot = Snapshot()
        self.last_error: str | None = None
        self.last_attempt_at: datetime | None = None
        self.last_load_seconds: float | None = None
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self.snapshot.loaded_at is not None

    async def refresh(self) -> bool:
        """Reload from the platform; on failure keep the last good snapshot. True on success."""
        async with self._lock:
            self.last_attempt_at = self._clock()
            started = time.perf_counter()
            # One answer at a time, each dropped once its part of the snapshot is built:
            # the parsed trees of a large directory weigh several times the snapshot.
            snap = Snapshot()
            try:
                orgs = await self._client.org_user_tree()
                await asyncio.to_thread(add_orgs, snap, orgs)
                del orgs
                tree = await self._client.org_tree()
                await asyncio.to_thread(add_groups, snap, tree)
                del tree
            except PlatformError as exc:
                self.last_error = str(exc)
                log.warning("directory refresh failed, keeping the last good one: %s", exc)
                return False
            await asyncio.to_thread(snap.index)
            snap.loaded_at = self._clock()
            self.snapshot = snap
            self.last_error = None
            self.last_load_seconds = time.perf_counter() - started
            log.info(
                "directory loaded: %d orgs, %d groups, %d users in %.2f s",
                len(snap.orgs),
                len(snap.groups),
                len(snap.users),
                self.last_load_seconds,
            )
            return True

    # -- lookups -----------------------------------------------------------------------

    def subtree(self, org_id: int) -> frozenset[int]:
        return self.snapshot.subtree(org_id)

    def in_scope(self, kind: Kind, id_: int, scope: frozenset[int] | None) -> bool:
        """Whether an entity lies inside the org scope (None: everything)."""
        snap = self.snapshot
        if kind is Kind.USER:
            u = snap.users.get(id_)
            return u is not None and (scope is None or u.org_id in scope)
        if kind is Kind.GROUP:
            g = snap.groups.get(id_)
            return g is not None and (scope is None or g.org_id in scope)
        o = snap.orgs.get(id_)
        return o is not None and (scope is None or o.id in scope)

    def user(self, uid: int, scope: frozenset[int] | None = None) -> DirUser | None:
        return self.snapshot.users.get(uid) if self.in_scope(Kind.USER, uid, scope) else None

    def group(self, gid: int, scope: frozenset[int] | None = None) -> DirGroup | None:
        return self.snapshot.groups.get(gid) if self.in_scope(Kind.GROUP, gid, scope) else None

    def org(self, oid: int, scope: frozenset[int] | None = None) -> DirOrg | None:
        return self.snapshot.orgs.get(oid) if self.in_scope(Kind.ORG, oid, scope) else None

    def groups(self, scope: frozenset[int] | None = None) -> list[DirGroup]:
        gs = [g for g in self.snapshot.groups.values() if scope is None or g.org_id in scope]
        return sorted(gs, key=lambda g: (g.pinyin_full, g.id))

    def users(self, scope: frozenset[int] | None = None) -> list[DirUser]:
        """Every user of the orgs in `scope` (everyone for None), in the directory's order."""
        return [u for u in self.snapshot.users.values() if scope is None or u.org_id in scope]

    def org_children(self, oid: int) -> list[DirOrg]:
        snap = self.snapshot
        return [snap.orgs[c] for c in snap.children.get(oid, ()) if c in snap.orgs]

    def org_users(self, oid: int) -> list[DirUser]:
        return sorted(
            (u for u in self.snapshot.users.values() if u.org_id == oid),
            key=lambda u: (u.pinyin_full, u.id),
        )

    def org_groups(self, oid: int) -> list[DirGroup]:
        return [g for g in self.groups() if g.org_id == oid]

    def roots(self, scope: frozenset[int] | None = None) -> list[DirOrg]:
        """The top orgs visible in scope: those whose parent is not visible."""
        snap = self.snapshot
        visible = [o for o in snap.orgs.values() if scope is None or o.id in scope]
        ids = {o.id for o in visible}
        return [o for o in visible if o.parent_id not in ids]

    def user_groups(self, uid: int) -> list[DirGroup]:
        snap = self.snapshot
        return [snap.groups[g] for g in snap.user_groups.get(uid, ()) if g in snap.groups]

    def org_path(self, oid: int | None) -> list[DirOrg]:
        """The org and its ancestors, root first."""
        snap = self.snapshot
        path: list[DirOrg] = []
        seen: set[int] = set()
        while oid is not None and oid in snap.orgs and oid not in seen:
            seen.add(oid)
            path.append(snap.orgs[oid])
            oid = snap.orgs[oid].parent_id
        return list(reversed(path))

    # -- search ------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        kinds: Iterable[Kind] = (Kind.USER, Kind.GROUP, Kind.ORG),
        scope: frozenset[int] | None = None,
        limit: int = 20,
    ) -> list[Match]:
        """Matches of `query` among `kinds` inside `scope`, exact ones first."""
        q = norm(query)
        if not q:
            return []
        wanted = set(kinds)
        snap = self.snapshot
        # Over-fetch: some refs will be filtered by kind or scope.
        refs, exact = snap.refs(q, max(limit * 8, 64))
        out: list[Match] = []
        for kind, id_ in refs:
            if kind not in wanted or not self.in_scope(kind, id_, scope):
                continue
            out.append(Match(kind, id_, self.label(kind, id_), (kind, id_) in exact))
            if len(out) >= limit:
                break
        out.sort(key=lambda m: not m.exact)  # stable: tiers otherwise kept
        return out

    def resolve(
        self,
        query: str,
        kind: Kind | tuple[Kind, ...],
        scope: frozenset[int] | None = None,
        limit: int = 8,
    ) -> list[Match]:
        """Candidates for a name given to a command: the exact ones if any, else all found.

        One element: unambiguous. Several: ask with buttons. None: not found.
        """
        kinds = kind if isinstance(kind, tuple) else (kind,)
        found = self.search(query, kinds=kinds, scope=scope, limit=max(limit, 20))
        exact = [m for m in found if m.exact]
        return (exact or found)[:limit] if len(exact) != 1 else exact

    def label(self, kind: Kind, id_: int) -> str:
        snap = self.snapshot
        if kind is Kind.USER:
            u = snap.users[id_]
            return f"{u.name} ({u.account})"
        if kind is Kind.GROUP:
            return snap.groups[id_].name
        return snap.orgs[id_].name
