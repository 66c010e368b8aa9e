"""The sandbox's directory, built from a seed: orgs, talk groups, users, terminals."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from bot.sandbox.data.constants import (
    CENTER_LAT,
    CENTER_LON,
    DISTRICTS,
    FIRST_DEVICE_ID,
    FIRST_GROUP_ID,
    FIRST_USER_ID,
    FIXED_GROUPS,
    FIXED_ORGS,
    FIXED_USERS,
    GIVEN_NAMES,
    GROUP_KINDS,
    HISTORY_DAYS,
    ORG_KINDS,
    RADIUS_KM,
    ROLES,
    ROOT_ORG_ID,
    SOLO_GROUP_ID,
    STREETS,
    SURNAMES,
    TZ,
)
from bot.sandbox.data.model import (
    Device,
    Fix,
    Group,
    Membership,
    Notice,
    Org,
    PunchRecord,
    Recording,
    SignIn,
    TrackPoint,
    User,
)
from bot.sandbox.data.units import local_date_of, md5_hex, offset_km, pinyin_of


def _default_now() -> datetime:
    return datetime.now(TZ)


class SandboxDirectory:
    """The directory of the sandbox's world (orgs, talk groups, users, terminals), built
    deterministically from `seed`, and what changes it; `SandboxData` adds the history."""

    def __init__(
        self,
        *,
        users: int = 40,
        groups: int = 6,
        orgs: int | None = None,
        seed: int = 1,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.seed = seed
        self.now: Callable[[], datetime] = now or _default_now
        self.orgs: dict[int, Org] = {}
        self.groups: dict[int, Group] = {}
        self.users: dict[int, User] = {}
        self.devices: dict[int, Device] = {}
        self.notices: list[Notice] = []
        self._by_account: dict[str, int] = {}
        self._account_counters: dict[str, int] = {}
        self._tracks: dict[tuple[int, date], list[TrackPoint]] = {}
        self._recordings: dict[tuple[int, date], list[Recording]] = {}
        self._punches: dict[date, list[PunchRecord]] = {}
        self._signins: dict[date, list[SignIn]] = {}
        rng = random.Random(seed)
        built_ms = self.now_ms()
        n_orgs = orgs if orgs is not None else max(len(FIXED_ORGS), math.ceil(users / 500))
        self._build_orgs(rng, max(1, n_orgs), built_ms)
        self._build_groups(rng, max(0, groups), built_ms)
        self._build_users(rng, max(0, users), built_ms)
        self._build_devices(rng)
        self.next_user_id = max(self.users, default=FIRST_USER_ID - 1) + 1
        self.next_group_id = max(self.groups, default=FIRST_GROUP_ID - 1) + 1

    # ---- clock ------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Epoch ms of `now()`; a naive datetime counts as local time."""
        now = self.now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=TZ)
        return int(now.timestamp() * 1000)

    def today(self) -> date:
        return local_date_of(self.now_ms())

    def history_days(self) -> list[date]:
        """The days that have history, oldest first (today and HISTORY_DAYS - 1 before)."""
        today = self.today()
        return [today - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1)]

    # ---- build ------------------------------------------------------------------------------

    def _build_orgs(self, rng: random.Random, n: int, built_ms: int) -> None:
        for i, (oid, name, parent) in enumerate(FIXED_ORGS[:n]):
            self.orgs[oid] = Org(
                id=oid,
                name=name,
                parent_id=parent if parent in self.orgs else (0 if i == 0 else ROOT_ORG_ID),
                pinyin=pinyin_of(name),
                remark="" if oid != ROOT_ORG_ID else "沙箱平台根组织",
                address=f"浙江省 杭州市 {STREETS[i % len(STREETS)]}{10 + i * 7}号",
                weight=i + 1,
                ctime_ms=built_ms - (400 - i) * 86_400_000,
            )
        depth = {oid: (0 if o.parent_id == 0 else 1) for oid, o in self.orgs.items()}
        for oid, o in self.orgs.items():
            if o.parent_id in depth:
                depth[oid] = depth[o.parent_id] + 1
        names = {o.name for o in self.orgs.values()}
        parents = [oid for oid, d in depth.items() if d < 3]
        next_id = max(self.orgs) + 1
        for i in range(len(self.orgs), n):
            parent = rng.choice(parents)
            district, kind = rng.choice(DISTRICTS), rng.choice(ORG_KINDS)
            base = district + kind
            name, k = base, 2
            while name in names:
                name, k = f"{base}{k}", k + 1
            suffix = name[len(base) :]
            names.add(name)
            self.orgs[next_id] = Org(
                id=next_id,
                name=name,
                parent_id=parent,
                pinyin=pinyin_of(district, kind, suffix),
                remark=rng.choice(("", "", "24小时值守")),
                address=f"浙江省 杭州市 {rng.choice(STREETS)}{rng.randint(1, 500)}号",
                weight=i + 1,
                ctime_ms=built_ms - rng.randint(30, 400) * 86_400_000,
            )
            depth[next_id] = depth[parent] + 1
            if depth[next_id] < 3:
                parents.append(next_id)
            next_id += 1

    def _build_groups(self, rng: random.Random, n: int, built_ms: int) -> None:
        for gid, name, oid in FIXED_GROUPS[:n]:
            self.groups[gid] = Group(
                id=gid,
                name=name,
                org_id=oid if oid in self.orgs else ROOT_ORG_ID,
                pinyin=pinyin_of(name),
                priority=3 if gid == FIRST_GROUP_ID else 10,
                ctime_ms=built_ms - 200 * 86_400_000,
                utime_ms=built_ms - 10 * 86_400_000,
            )
        org_ids = list(self.orgs)
        names = {g.name for g in self.groups.values()}
        next_id = FIRST_GROUP_ID + len(FIXED_GROUPS)
        for _ in range(len(self.groups), n):
            oid = rng.choice(org_ids)
            kind = rng.choice(GROUP_KINDS)
            base = self.orgs[oid].name + kind
            name, k = base, 2
            while name in names:
                name, k = f"{base}{k}", k + 1
            suffix = name[len(base) :]
            names.add(name)
            self.groups[next_id] = Group(
                id=next_id,
                name=name,
                org_id=oid,
                pinyin=pinyin_of(self.orgs[oid].name, kind, suffix),
                priority=rng.randint(1, 10),
                talk_time=rng.choice((30, 60, 60, 120)),
                ctime_ms=built_ms - rng.randint(10, 300) * 86_400_000,
                utime_ms=built_ms - rng.randint(0, 9) * 86_400_000,
            )
            next_id += 1

    def _scatter(self, rng: random.Random) -> tuple[float, float]:
        r = RADIUS_KM * math.sqrt(rng.random())
        theta = rng.uniform(0, 2 * math.pi)
        return offset_km(CENTER_LAT, CENTER_LON, r * math.cos(theta), r * math.sin(theta))

    def _random_fix(
        self, rng: random.Random, lat: float, lon: float, online: bool, built: int
    ) -> Fix:
        age_s = rng.uniform(5, 300) if online else rng.uniform(3600, 3 * 86400)
        if rng.random() < 0.15:  # cell positioning: coarse, no altitude or heading
            return Fix(lat, lon, built - int(age_s * 1000), speed=0.0, position_type=1)
        moving = online and rng.random() < 0.5
        return Fix(
            lat,
            lon,
            built - int(age_s * 1000),
            speed=round(rng.uniform(3, 60), 1) if moving else 0.0,
            altitude=round(rng.uniform(3, 60), 1),
            bearing=round(rng.uniform(0, 359.9), 1),
            position_type=0,
        )

    def _new_account(self, full_pinyin: str) -> str:
        base = re.sub(r"[^a-z0-9]", "", full_pinyin) or "user"
        n = self._account_counters.get(base, 0) + 1
        while f"{base}{n:02d}" in self._by_account:
            n += 1
        self._account_counters[base] = n
        return f"{base}{n:02d}"

    def _build_users(self, rng: random.Random, n: int, built_ms: int) -> None:
        roles = dict(ROLES)
        for fu in FIXED_USERS[:n]:
            org_id = fu.org_id if fu.org_id in self.orgs else ROOT_ORG_ID
            memberships = {g: Membership(priority=5) for g in fu.groups if g in self.groups}
            current = fu.current_group if fu.current_group in memberships else None
            u = User(
                id=fu.id,
                account=fu.account,
                name=fu.name,
                pinyin=pinyin_of(fu.name),
                org_id=org_id,
                priority=fu.priority,
                role_id=fu.role_id,
                role_name=roles.get(fu.role_id) if fu.role_id else None,
                groups=memberships,
                current_group=current or next(iter(memberships), None),
                online=fu.online,
                phone=f"1380571{fu.id % 10000:04d}",
                password_hash=md5_hex("123456"),
                ctime_ms=built_ms - 180 * 86_400_000,
                talker=fu.has_fix,
                tracked=fu.has_fix,
            )
            if fu.has_fix:
                # fixed positions whatever the seed: spread on a small circle round the centre
                angle = (fu.id - FIRST_USER_ID) * 60.0
                u.home_lat, u.home_lon = offset_km(
                    CENTER_LAT,
                    CENTER_LON,
                    3 * math.cos(math.radians(angle)),
                    3 * math.sin(math.radians(angle)),
                )
                u.fix = Fix(
                    u.home_lat,
                    u.home_lon,
                    built_ms - (60_000 if fu.online else 7_200_000),
                    speed=12.5 if fu.online else 0.0,
                    altitude=18.0,
                    bearing=90.0,
                    position_type=0,
                )
            self._add_user_index(u)
        for acct in (fu.account for fu in FIXED_USERS):
            base = re.sub(r"\d+$", "", acct)
            self._account_counters[base] = max(
                self._account_counters.get(base, 0), int(acct[len(base) :] or 0)
            )

        pool = [gid for gid in self.groups if gid != SOLO_GROUP_ID]
        by_org: dict[int, list[int]] = {}
        for gid in pool:
            by_org.setdefault(self.groups[gid].org_id, []).append(gid)
        org_ids = list(self.orgs)
        role_ids = [rid for rid, _ in ROLES]
        next_id = FIRST_USER_ID + len(FIXED_USERS)
        for _ in range(len(self.users), n):
            surname, given = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
            name = surname + given
            py = pinyin_of(surname, given)
            org_id = rng.choice(org_ids)
            memberships = {}
            if pool:
                own = by_org.get(org_id)
                first = rng.choice(own) if own else rng.choice(pool)
                memberships[first] = Membership(rng.randint(1, 10))
                for _k in range(rng.choice((0, 0, 1, 1, 2))):
                    gid = rng.choice(pool)
                    if gid not in memberships:
                        memberships[gid] = Membership(
                            rng.randint(1, 10),
                            "Y" if rng.random() < 0.9 else "N",
                            "Y" if rng.random() < 0.95 else "N",
                        )
            online = rng.random() < 0.6
            role = rng.choice(role_ids) if rng.random() < 0.85 else None
            u = User(
                id=next_id,
                account=self._new_account(py.split("|", 1)[1]),
                name=name,
                pinyin=py,
                org_id=org_id,
                priority=rng.randint(1, 10),
                role_id=role,
                role_name=roles[role] if role else None,
                groups=memberships,
                current_group=rng.choice(list(memberships)) if memberships else None,
                online=online,
                phone="1" + rng.choice("3578") + f"{rng.randrange(10**9):09d}",
                password_hash=md5_hex("123456"),
                ctime_ms=built_ms - rng.randint(1, 365) * 86_400_000,
                talker=rng.random() < 0.75,
            )
            if rng.random() < 0.9:
                u.home_lat, u.home_lon = self._scatter(rng)
                u.fix = self._random_fix(rng, u.home_lat, u.home_lon, online, built_ms)
                u.tracked = True
            self._add_user_index(u)
            next_id += 1

    def _build_devices(self, rng: random.Random) -> None:
        did = FIRST_DEVICE_ID
        for i, u in enumerate(self.users.values()):
            assigned = i % 5 != 4
            self.devices[did] = Device(did, u.account if assigned else None, 1 if assigned else 0)
            did += 1
        for k in range(10):
            self.devices[did] = Device(did, None, 2 if k < 2 else 0)
            did += 1

    # ---- directory queries and edits --------------------------------------------------------

    def _add_user_index(self, u: User) -> None:
        self.users[u.id] = u
        self._by_account[u.account] = u.id

    def user_by_account(self, account: str) -> User | None:
        uid = self._by_account.get(account)
        u = self.users.get(uid) if uid is not None else None
        if u is not None and u.account == account:
            return u
        # tests may edit users directly: fall back to a scan
        return next((x for x in self.users.values() if x.account == account), None)

    def add_user(self, account: str, name: str, password: str, org_id: int = ROOT_ORG_ID) -> User:
        """Register a new terminal user (2.7): active, in no group, offline, no fix."""
        u = User(
            id=self.next_user_id,
            account=account,
            name=name,
            pinyin=pinyin_of(name),
            org_id=org_id,
            password_hash=md5_hex(password),
            ctime_ms=self.now_ms(),
        )
        self.next_user_id += 1
        self._add_user_index(u)
        return u

    def delete_user(self, uid: int) -> None:
        """Remove a user (2.8); their terminal goes back to idle."""
        u = self.users.pop(uid)
        self._by_account.pop(u.account, None)
        for d in self.devices.values():
            if d.account == u.account:
                d.account, d.state = None, 0

    def add_group(self, name: str, org_id: int, uids: Iterable[int] = ()) -> Group:
        """Create a talk group (2.9) and add the given users to it."""
        now = self.now_ms()
        g = Group(
            id=self.next_group_id,
            name=name,
            org_id=org_id,
            pinyin=pinyin_of(name),
            ctime_ms=now,
            utime_ms=now,
        )
        self.next_group_id += 1
        self.groups[g.id] = g
        for uid in uids:
            self.bind(g.id, uid, Membership())
        return g

    def bind(self, gid: int, uid: int, membership: Membership) -> None:
        """Add a user to a talk group or update their settings there (2.10)."""
        u = self.users[uid]
        u.groups[gid] = membership
        if u.current_group is None:
            u.current_group = gid

    def members(self, gid: int) -> list[User]:
        return [u for u in self.users.values() if gid in u.groups]

    def members_by_group(self) -> dict[int, list[User]]:
        """Every talk group's members in one pass (the 2.1 tree for 50k users needs it)."""
        out: dict[int, list[User]] = {gid: [] for gid in self.groups}
        for u in self.users.values():
            for gid in u.groups:
                if gid in out:
                    out[gid].append(u)
        return out

    def org_subtree(self, oid: int) -> set[int]:
        """Ids of `oid` and every org below it."""
        children = self.org_children()
        out, stack = set(), [oid]
        while stack:
            o = stack.pop()
            out.add(o)
            stack.extend(children.get(o, ()))
        return out

    def org_children(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for o in self.orgs.values():
            out.setdefault(o.parent_id, []).append(o.id)
        return out

    def root_org(self) -> Org:
        return self.orgs.get(ROOT_ORG_ID) or next(
            o for o in self.orgs.values() if o.parent_id not in self.orgs
        )
