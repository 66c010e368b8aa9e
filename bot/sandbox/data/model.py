"""The sandbox's records: orgs, talk groups, users and their fixes, terminals, history, notices."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.sandbox.data.constants import CENTER_LAT, CENTER_LON


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
