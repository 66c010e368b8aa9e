"""Seeded, deterministic data behind the sandbox dispatch platform.

Everything is plain, mutable dataclasses so tests can flip state (a user goes
offline, changes group, loses their fix) between two calls. The directory (orgs,
talk groups, users, terminals) is built eagerly; the bulky history — tracks, voice
recordings, punch-card and sign-in records — is generated lazily per user and day
from a seed derived from (seed, user, day), so a 50 000-user sandbox builds in
about a second and the same seed always yields the same history.

A handful of fixed users and orgs exist whatever the seed, so tests can name
them (see ``FIXED_USERS`` and the module constants).
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache, partial
from zoneinfo import ZoneInfo

from pypinyin import Style, lazy_pinyin

TZ = ZoneInfo("Asia/Shanghai")
"""The platform's local time zone: "today", local time strings and shift times use it."""

CENTER_LAT, CENTER_LON = 30.27, 120.15  # Hangzhou, where every fix is scattered
RADIUS_KM = 15.0
HISTORY_DAYS = 7  # tracks, recordings, punch cards and sign-ins exist for today and 6 days back

ROOT_ORG_ID = 103
SOLO_GROUP_ID = 1006  # a talk group with exactly one member (exercises the 2.1 single-object quirk)
TRICKY_USER_ID = 10004  # name with HTML metacharacters
NO_FIX_USER_ID = 10005  # a user who never reported a position
FIRST_USER_ID = 10001
FIRST_GROUP_ID = 1001
FIRST_DEVICE_ID = 860001
DISPATCHER_ID = 1432263210014081024  # the "creator" the platform reports for registered users

MEDIA_FILES = ("recording-zh.ogg", "recording-en.ogg", "recording-zh.mp3", "recording-en.mp3")

ROLES: tuple[tuple[int, str], ...] = (
    (1, "指挥员"),
    (2, "队长"),
    (3, "队员"),
    (4, "驾驶员"),
    (5, "医护"),
)

# (id, name, parent) — always present (the first `orgs` of them when fewer are asked for).
FIXED_ORGS: tuple[tuple[int, str, int], ...] = (
    (103, "市应急指挥中心", 0),
    (266, "消防一大队", 103),
    (267, "消防二大队", 103),
    (268, "特勤中队", 266),
    (269, "巡逻一中队", 267),
    (270, "医疗救护队", 103),
)

# (gid, name, org) — always present (the first `groups` of them when fewer are asked for).
FIXED_GROUPS: tuple[tuple[int, str, int], ...] = (
    (1001, "指挥调度组", 103),
    (1002, "消防一大队主频", 266),
    (1003, "消防二大队主频", 267),
    (1004, "特勤行动组", 268),
    (1005, "巡逻组", 269),
    (1006, "医疗救护组", 270),
)


@dataclass(frozen=True, slots=True)
class FixedUser:
    """A user present whatever the seed, so tests can rely on them."""

    id: int
    name: str
    account: str
    org_id: int
    groups: tuple[int, ...]
    current_group: int | None
    online: bool
    has_fix: bool
    priority: int
    role_id: int | None


# 张三/张珊/张山 share the initials "zs"; 张珊 and 张山 share the full pinyin "zhangshan".
FIXED_USERS: tuple[FixedUser, ...] = (
    FixedUser(10001, "张三", "zhangsan01", 266, (1001, 1002), 1002, True, True, 3, 2),
    FixedUser(10002, "张珊", "zhangshan01", 266, (1002, 1001), 1001, True, True, 5, 3),
    FixedUser(10003, "张山", "zhangshan02", 267, (1003,), 1003, False, True, 6, 3),
    FixedUser(10004, "李<b>&四", "tricky", 267, (1003, 1005), 1003, True, True, 7, 4),
    FixedUser(10005, "王五", "wangwu01", 268, (1004,), 1004, True, False, 8, 3),
    FixedUser(10006, "赵六", "zhaoliu01", 270, (1006,), 1006, True, True, 4, 5),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严武戴莫孔向汤"
)
# fmt: off
GIVEN_NAMES: tuple[str, ...] = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "建国", "建军", "志强", "志明", "文",
    "斌", "鹏", "辉", "华", "红", "玲", "飞", "宇", "浩", "俊", "凯", "峰", "晨", "欣", "婷",
    "雪", "琳", "晓东", "晓明", "海燕", "海涛", "国庆", "国强", "春梅", "丹", "萍", "燕", "亮",
    "波", "宁", "健", "鑫", "佳", "帅", "子豪", "子涵", "一鸣", "雨轩", "梓萱", "思远", "志刚",
    "永强", "金凤", "玉兰", "立新", "文博", "天宇", "振华", "德明", "家豪", "嘉怡", "慧敏",
    "建平", "红梅", "卫东", "三", "珊", "山",
)
DISTRICTS = (
    "上城", "拱墅", "西湖", "滨江", "萧山", "余杭", "临平", "钱塘", "富阳", "临安", "桐庐",
    "淳安", "建德",
)
ORG_KINDS = ("巡逻中队", "消防站", "救援分队", "执勤点", "应急分队", "派出所")
GROUP_KINDS = ("行动组", "值班组", "备勤组", "通讯组", "联络组")
STREETS = (
    "延安路", "解放路", "庆春路", "文三路", "天目山路", "莫干山路", "钱江路", "滨盛路",
    "江南大道", "古墩路", "秋涛路", "体育场路",
)
# fmt: on
SIGNIN_REMARKS = ("", "", "巡查正常", "设备检查完毕", "发现隐患已上报", "交接班", "现场勘察")


def pinyin_of(*parts: str) -> str:
    """The platform's pinyin field, "abbr|full" lower case without spaces ("zs|zhangsan").

    Several parts (surname, given name) are converted one by one and joined, so
    50 000 generated names cost only as many conversions as there are distinct parts.
    """
    if len(parts) == 1:
        return _pinyin_cached(parts[0])
    pairs = [_pinyin_cached(p).split("|", 1) for p in parts if p]
    return "".join(a for a, _ in pairs) + "|" + "".join(f for _, f in pairs)


@lru_cache(maxsize=65536)
def _pinyin_cached(name: str) -> str:
    full = "".join(lazy_pinyin(name)).replace(" ", "").lower()
    abbr = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).replace(" ", "").lower()
    return f"{abbr}|{full}"


def md5_hex(text: str) -> str:
    """The platform stores md5 hex of passwords (the 2.7 example is md5("111111"))."""
    return hashlib.md5(text.encode()).hexdigest()


def local_day_start_ms(day: date) -> int:
    """Epoch ms of local midnight starting `day` (Asia/Shanghai has no DST)."""
    return int(datetime.combine(day, time(), tzinfo=TZ).timestamp() * 1000)


def local_date_of(ms: int) -> date:
    """The local calendar date of an epoch-ms instant."""
    return datetime.fromtimestamp(ms / 1000, TZ).date()


def _offset_km(lat: float, lon: float, north_km: float, east_km: float) -> tuple[float, float]:
    return (
        lat + north_km / 111.32,
        lon + east_km / (111.32 * math.cos(math.radians(lat))),
    )


def _km_from_center(lat: float, lon: float) -> tuple[float, float]:
    """(north_km, east_km) of a point relative to the centre."""
    return (
        (lat - CENTER_LAT) * 111.32,
        (lon - CENTER_LON) * 111.32 * math.cos(math.radians(CENTER_LAT)),
    )


@dataclass(slots=True)
class Org:
    """An organization (org) node of the platform's tree."""

    id: int
    name: str
    parent_id: int  # 0 for the root
    pinyin: str
    remark: str = ""
    address: str = ""
    weight: int = 1
    ctime_ms: int = 0


@dataclass(slots=True)
class Group:
    """A talk group. Its members are the users whose `groups` contain its id."""

    id: int
    name: str
    org_id: int
    pinyin: str
    type: int = 0  # 0 normal, 1 dynamic, 2 temporary, 3 temporary call
    priority: int = 10
    talk_time: int = 60
    ctime_ms: int = 0
    utime_ms: int = 0


@dataclass(slots=True)
class Membership:
    """A user's settings inside one talk group (2.10)."""

    priority: int = 10
    call_permission: str = "Y"
    can_speak: str = "Y"


@dataclass(slots=True)
class Fix:
    """A user's last reported position (WGS-84; the server offsets it under the gcj02 quirk)."""

    lat: float
    lon: float
    time_ms: int
    speed: float | None = None  # km/h
    altitude: float | None = None  # m
    bearing: float | None = None  # degrees, 0 north, 90 east
    position_type: int = 0  # 0 GPS, 1 cell


@dataclass(slots=True)
class User:
    """A terminal user. `groups` (gid -> membership, in join order) is the one source of
    truth for talk-group membership."""

    id: int
    account: str
    name: str
    pinyin: str
    org_id: int
    priority: int = 10
    role_id: int | None = None
    role_name: str | None = None
    groups: dict[int, Membership] = field(default_factory=dict)
    current_group: int | None = None
    online: bool = False
    fix: Fix | None = None
    phone: str = ""
    type: int = 0  # 0 terminal, 1 dispatcher
    state: int = 1  # 1 active
    password_hash: str = ""
    ctime_ms: int = 0
    talker: bool = False  # produces voice recordings
    tracked: bool = False  # has tracks (a home position to patrol around)
    home_lat: float = CENTER_LAT
    home_lon: float = CENTER_LON


@dataclass(slots=True)
class Device:
    """A terminal (radio handset); `state` 0 idle, 1 assigned, 2 under repair."""

    id: int
    account: str | None = None
    state: int = 0


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One point of a track, WGS-84."""

    time_ms: int
    lat: float
    lon: float
    speed: float
    altitude: float | None
    bearing: float | None
    position_type: int  # 0 GPS, 1 cell


@dataclass(frozen=True, slots=True)
class Recording:
    """A voice recording. `file` is a name under /media/; lost ones name a missing file."""

    user_id: int
    account: str
    begin_ms: int
    duration_ms: int | None
    group_name: str | None
    file: str
    lost: bool = False


@dataclass(frozen=True, slots=True)
class PunchRecord:
    """A punch-card (clock-in/out) record, 2.16."""

    user_id: int
    user_name: str
    account: str
    oid: int
    org_name: str
    type: int  # 0 unscheduled, 1 scheduled
    sign_ms: int
    should_ms: int | None
    failure: int | None  # grace minutes
    state: int  # 0 clock-in, 1 clock-out, 2 superseded
    schedule_id: int
    shifts_id: int
    shifts_name: str
    address: str
    lat: float
    lon: float
    scope: int  # metres


@dataclass(frozen=True, slots=True)
class SignIn:
    """A sign-in (patrol check-in) record, 2.17. `images` are names under /media/photo/."""

    id: int
    user_id: int
    user_name: str
    phone: str
    images: tuple[str, ...]
    lat: float
    lon: float
    address: str
    sign_ms: int
    remark: str
    tz: int
    org_id: int
    org_name: str


@dataclass(slots=True)
class Notice:
    """A 2.15 event (notice) received by the platform."""

    received_ms: int
    body: dict[str, object]
    org_ids: list[int]
    user_ids: list[int]


def _default_now() -> datetime:
    return datetime.now(TZ)


class SandboxData:
    """The sandbox platform's world: orgs, talk groups, users, terminals, history.

    Built deterministically from `seed`. `now` decides what "today" is and hides
    anything that would lie in the future; it defaults to the real clock.
    """

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
        return _offset_km(CENTER_LAT, CENTER_LON, r * math.cos(theta), r * math.sin(theta))

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
                u.home_lat, u.home_lon = _offset_km(
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

    # ---- tracks -----------------------------------------------------------------------------

    def track(self, uid: int, start_ms: int, end_ms: int) -> list[TrackPoint]:
        """A user's points in [start_ms, end_ms], never later than now, oldest first."""
        u = self.users.get(uid)
        if u is None or not u.tracked:
            return []
        history = self.history_days()
        start_ms = max(start_ms, local_day_start_ms(history[0]))
        end_ms = min(end_ms, self.now_ms())
        if end_ms < start_ms:
            return []
        days = set(history)
        out: list[TrackPoint] = []
        day = local_date_of(start_ms)
        while day <= local_date_of(end_ms):
            if day in days:
                out.extend(p for p in self._track_day(u, day) if start_ms <= p.time_ms <= end_ms)
            day += timedelta(days=1)
        return out

    def _track_day(self, u: User, day: date) -> list[TrackPoint]:
        key = (u.id, day)
        cached = self._tracks.get(key)
        if cached is None:
            cached = self._tracks[key] = list(self._gen_track(u, day))
        return cached

    def _gen_track(self, u: User, day: date) -> Iterator[TrackPoint]:
        # patrols all day long: moving sessions of 20-90 min separated by 15-40 min gaps
        rng = random.Random(f"{self.seed}:track:{u.id}:{day.isoformat()}")
        t = local_day_start_ms(day) + int(rng.uniform(0, 20) * 60_000)
        day_end = local_day_start_ms(day + timedelta(days=1))
        lat, lon = u.home_lat, u.home_lon
        bearing = rng.uniform(0, 360)
        altitude = rng.uniform(5, 40)
        while t < day_end:
            session_end = t + int(rng.uniform(20, 90) * 60_000)
            cruise = rng.uniform(5, 50)
            while t < min(session_end, day_end):
                speed = max(0.0, rng.gauss(cruise, cruise * 0.2))
                bearing = (bearing + rng.gauss(0, 15)) % 360
                north, east = _km_from_center(lat, lon)
                if math.hypot(north, east) > RADIUS_KM:
                    bearing = (math.degrees(math.atan2(-east, -north)) + rng.gauss(0, 20)) % 360
                cell = rng.random() < 0.05
                altitude = min(80.0, max(0.0, altitude + rng.gauss(0, 1)))
                plat, plon = lat, lon
                if cell:  # cell fixes scatter by a few hundred metres
                    plat, plon = _offset_km(lat, lon, rng.gauss(0, 0.3), rng.gauss(0, 0.3))
                yield TrackPoint(
                    time_ms=t,
                    lat=round(plat, 6),
                    lon=round(plon, 6),
                    speed=round(speed, 1),
                    altitude=None if cell else round(altitude, 1),
                    bearing=None if cell else round(bearing, 1),
                    position_type=1 if cell else 0,
                )
                dt_s = rng.uniform(30, 60)
                dist = speed * dt_s / 3600
                lat, lon = _offset_km(
                    lat,
                    lon,
                    dist * math.cos(math.radians(bearing)),
                    dist * math.sin(math.radians(bearing)),
                )
                t += int(dt_s * 1000)
            t += int(rng.uniform(15, 40) * 60_000)

    # ---- voice recordings -------------------------------------------------------------------

    def recordings(self, uid: int, day: date | None) -> list[Recording]:
        """A user's recordings of one day (or all history days), newest first, none after now."""
        u = self.users.get(uid)
        if u is None:
            return []
        history = self.history_days()
        days = [day] if day is not None else history
        now = self.now_ms()
        out: list[Recording] = []
        for d in days:
            if d in history:
                out.extend(r for r in self._recordings_day(u, d) if r.begin_ms <= now - 30_000)
        out.sort(key=lambda r: r.begin_ms, reverse=True)
        return out

    def _recordings_day(self, u: User, day: date) -> list[Recording]:
        key = (u.id, day)
        cached = self._recordings.get(key)
        if cached is not None:
            return cached
        rng = random.Random(f"{self.seed}:rec:{u.id}:{day.isoformat()}")
        recs: list[Recording] = []
        if u.talker:
            start = local_day_start_ms(day)
            group_names = [self.groups[g].name for g in u.groups if g in self.groups]
            for _ in range(rng.randint(3, 25)):
                begin = start + rng.randrange(86_400_000)
                lost = rng.random() < 0.05
                ext = rng.choice(("ogg", "mp3"))
                recs.append(
                    Recording(
                        user_id=u.id,
                        account=u.account,
                        begin_ms=begin,
                        duration_ms=rng.randint(800, 30_000) if rng.random() > 0.05 else None,
                        group_name=(
                            rng.choice(group_names) if group_names and rng.random() > 0.05 else None
                        ),
                        # lost files name something the media route does not have -> 404
                        file=(
                            f"{u.id}_{u.account}_{begin}.{ext}"
                            if lost
                            else f"recording-{rng.choice(('zh', 'en'))}.{ext}"
                        ),
                        lost=lost,
                    )
                )
        recs.sort(key=lambda r: r.begin_ms, reverse=True)
        self._recordings[key] = recs
        return recs

    # ---- attendance -------------------------------------------------------------------------

    def punch_records(self, start_ms: int, end_ms: int) -> list[PunchRecord]:
        """Punch-card records with sign time in [start_ms, end_ms] and not after now."""
        end_ms = min(end_ms, self.now_ms())
        out: list[PunchRecord] = []
        for d in self.history_days():
            if local_day_start_ms(d + timedelta(days=1)) <= start_ms:
                continue
            if local_day_start_ms(d) > end_ms:
                continue
            out.extend(p for p in self._punch_day(d) if start_ms <= p.sign_ms <= end_ms)
        return out

    def _punch_day(self, day: date) -> list[PunchRecord]:
        cached = self._punches.get(day)
        if cached is not None:
            return cached
        start = local_day_start_ms(day)
        out: list[PunchRecord] = []
        for u in self.users.values():
            rng = random.Random(f"{self.seed}:punch:{u.id}:{day.isoformat()}")
            if rng.random() < 0.1:  # missing: no record at all that day
                continue
            org = self.orgs.get(u.org_id)
            scheduled = rng.random() < 0.9
            grace = rng.choice((5, 10)) if scheduled else None
            lat, lon = _offset_km(u.home_lat, u.home_lon, rng.gauss(0, 0.05), rng.gauss(0, 0.05))

            rec = partial(
                PunchRecord,
                user_id=u.id,
                user_name=u.name,
                account=u.account,
                oid=u.org_id,
                org_name=org.name if org else "",
                type=1 if scheduled else 0,
                failure=grace,
                schedule_id=479,
                shifts_id=82,
                shifts_name="白班",
                address=f"浙江省杭州市{STREETS[u.id % len(STREETS)]}{u.id % 300}号",
                lat=lat,
                lon=lon,
                scope=300,
            )
            should_in = start + (8 * 60 + 30) * 60_000
            should_out = start + (17 * 60 + 30) * 60_000
            sched_in, sched_out = (should_in, should_out) if scheduled else (None, None)
            r = rng.random()
            if r < 0.75:
                offset_min = -rng.uniform(0, 20)  # early
            elif r < 0.88:
                offset_min = rng.uniform(0, grace or 5)  # within the grace time
            else:
                offset_min = (grace or 5) + rng.uniform(1, 60)  # late
            out.append(
                rec(sign_ms=should_in + int(offset_min * 60_000), should_ms=sched_in, state=0)
            )
            if rng.random() < 0.05:  # forgot to clock out
                continue
            first_out = should_out + int(rng.uniform(0, 30) * 60_000)
            if rng.random() < 0.1:  # clocked out twice: the earlier one is superseded
                out.append(rec(sign_ms=first_out, should_ms=sched_out, state=2))
                first_out += int(rng.uniform(10, 60) * 60_000)
            out.append(rec(sign_ms=first_out, should_ms=sched_out, state=1))
        out.sort(key=lambda p: (p.sign_ms, p.user_id))
        self._punches[day] = out
        return out

    def signins(self, first: date, last: date) -> list[SignIn]:
        """Sign-in records of local days first..last inclusive, not after now."""
        now = self.now_ms()
        out: list[SignIn] = []
        for d in self.history_days():
            if first <= d <= last:
                out.extend(s for s in self._signin_day(d) if s.sign_ms <= now)
        return out

    def _signin_day(self, day: date) -> list[SignIn]:
        cached = self._signins.get(day)
        if cached is not None:
            return cached
        start = local_day_start_ms(day)
        day_no = (day - date(2020, 1, 1)).days
        out: list[SignIn] = []
        for u in self.users.values():
            rng = random.Random(f"{self.seed}:signin:{u.id}:{day.isoformat()}")
            if rng.random() < 0.6:
                continue
            org = self.orgs.get(u.org_id)
            for k in range(rng.randint(1, 3)):
                sid = day_no * 10_000_000 + u.id * 4 + k
                lat, lon = _offset_km(u.home_lat, u.home_lon, rng.gauss(0, 1), rng.gauss(0, 1))
                images = tuple(f"signin-{sid}-{i}.png" for i in range(rng.choice((0, 0, 1, 2))))
                out.append(
                    SignIn(
                        id=sid,
                        user_id=u.id,
                        user_name=u.name,
                        phone=u.phone,
                        images=images,
                        lat=round(lat, 6),
                        lon=round(lon, 6),
                        address=f"浙江省杭州市{rng.choice(STREETS)}{rng.randint(1, 500)}号",
                        sign_ms=start + rng.randrange(8 * 3_600_000, 20 * 3_600_000),
                        remark=rng.choice(SIGNIN_REMARKS),
                        tz=-5 if rng.random() < 0.02 else 8,
                        org_id=u.org_id,
                        org_name=org.name if org else "",
                    )
                )
        out.sort(key=lambda s: (s.sign_ms, s.id))
        self._signins[day] = out
        return out
