"""Typed request and response models of the platform API (sections 2.1–2.17).

The validators absorb every quirk of the reference: ids as strings or numbers;
`children`/`users` as one object or a list; x = latitude, y = longitude,
`location` = [lon, lat]; `isOnLine` "2"/null; times in any format the platform
uses (validated with `context={"tz": <platform zone>}`); documented-required
fields that arrive null. Responses are parsed with `parse(...)`, which turns any
shape mismatch into `PlatformBadResponseError`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.platform.errors import PlatformBadResponseError
from bot.platform.times import parse_platform_time


def _to_int(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("a boolean is not an id")
    if isinstance(v, str):
        s = v.strip()
        if s.lstrip("-").isdigit():
            return int(s)
        raise ValueError(f"not a numeric id: {s[:20]!r}")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("not an integer id")
        return int(v)
    return v


def _opt_int(v: Any) -> Any:
    return None if v is None or v == "" else _to_int(v)


def _opt_float(v: Any) -> Any:
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"not a number: {str(v)[:20]!r}") from None
    return f if math.isfinite(f) else None


def _as_list(v: Any) -> Any:
    """`children`/`users` as a list, a single object, or null."""
    if v is None:
        return []
    if isinstance(v, dict):
        return [v]
    return v


def _opt_str(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int | float):
        return str(v)
    return v


def _online_flag(v: Any) -> bool:
    # Online flags come as 1/0, "2"/null (2.4) or booleans.
    return str(v).strip() in ("1", "2", "True", "true")


Id = Annotated[int, BeforeValidator(_to_int)]
OptInt = Annotated[int | None, BeforeValidator(_opt_int)]
OptFloat = Annotated[float | None, BeforeValidator(_opt_float)]
OptStr = Annotated[str | None, BeforeValidator(_opt_str)]
Str = Annotated[str, BeforeValidator(lambda v: "" if v is None else _opt_str(v))]


def _tz(info: ValidationInfo) -> tzinfo:
    ctx = info.context or {}
    tz = ctx.get("tz") if isinstance(ctx, dict) else None
    return tz if isinstance(tz, tzinfo) else UTC


# What validating untrusted JSON may raise besides ValidationError: a validator's own
# ValueError/TypeError, float() of a huge int, a tree nested deeper than the stack.
_SHAPE_ERRORS = (ValueError, TypeError, OverflowError, RecursionError)


def _bad_shape(exc: Exception, endpoint: str) -> PlatformBadResponseError:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "data"
        return PlatformBadResponseError(
            f"unexpected answer shape at {where}: {err['msg']}", endpoint=endpoint
        )
    return PlatformBadResponseError(f"unexpected answer shape: {exc}", endpoint=endpoint)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


# -- 2.1 getOrganizationTree2 ---------------------------------------------------


class TreeUser(_Model):
    """A member listed under a talk group in 2.1."""

    uid: Id
    account: Str = ""
    name: Str = ""
    gid: OptInt = None


class TreeNode(_Model):
    """An org (type 0) or talk group (type 1) of 2.1; `id` is taken from `id` or `gid`."""

    id: Id
    name: Str = ""
    type: int = 0
    users: list[TreeUser] = Field(default_factory=list)
    children: list[TreeNode] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        if isinstance(v, dict):
            v = dict(v)
            if v.get("id") is None and v.get("gid") is not None:
                v["id"] = v["gid"]
            v["users"] = _as_list(v.get("users"))
            v["children"] = _as_list(v.get("children"))
            if v.get("type") is None:
                v["type"] = 0
            else:
                v["type"] = _to_int(v["type"])
        return v

    @property
    def is_group(self) -> bool:
        return self.type == 1


# -- 2.4 getLatestCoords / 2.5 trackPlayback -----------------------------------


def _latlon(v: dict[str, Any]) -> dict[str, Any]:
    """x is latitude, y longitude; `location` is [lon, lat] and fills what is missing."""
    v = dict(v)
    lat, lon = _opt_float(v.get("x")), _opt_float(v.get("y"))
    loc = v.get("location")
    if (lat is None or lon is None) and isinstance(loc, list | tuple) and len(loc) >= 2:
        lon = lon if lon is not None else _opt_float(loc[0])
        lat = lat if lat is not None else _opt_float(loc[1])
    elif (lat is None or lon is None) and isinstance(loc, str) and "," in loc:
        a, _, b = loc.partition(",")
        lon = lon if lon is not None else _opt_float(a)
        lat = lat if lat is not None else _opt_float(b)
    v["lat"], v["lon"] = lat, lon
    return v


class _Located(_Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed: OptFloat = None  # km/h, as the platform reports it
    altitude: OptFloat = None  # metres
    bearing: OptFloat = None  # degrees, 0 north, 90 east
    time: datetime | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, v: Any, info: ValidationInfo) -> Any:
        return parse_platform_time(v, _tz(info))


class Fix(_Located):
    """A user's latest position (2.4)."""

    uid: Id
    username: Str = ""
    online: bool = False
    position_type: OptInt = None  # 0 GPS, 1 cell; 2.4 rarely says

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        if isinstance(v, dict):
            v = _latlon(v)
            v["uid"] = v.get("id", v.get("uid"))
            raw = v.get("isOnLine", v.get("online"))
            # "2" means online, null offline; tolerate 1/0 and booleans too.
            v["online"] = str(raw).strip() in ("2", "1", "True", "true")
            v["position_type"] = v.get("positionType")
        return v


class TrackPoint(_Located):
    """One point of a track (2.5); `position_type` 0 is GPS, 1 cell."""

    uid: OptInt = None
    position_type: OptInt = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        if isinstance(v, dict):
            v = _latlon(v)
            v["position_type"] = v.get("positionType")
        return v

    @property
    def is_gps(self) -> bool:
        return self.position_type != 1


def tracks_from_data(
    data: Any, tz: tzinfo, endpoint: str = "trackPlayback"
) -> dict[int, list[TrackPoint]]:
    """2.5's answer as points per uid, sorted by time.

    Accepts a map `{uid: [points]}`, a list of such maps, or a flat list of
    points carrying their own `uid`. Any other shape is `PlatformBadResponseError`.
    """
    try:
        return _tracks(data, tz)
    except _SHAPE_ERRORS as exc:
        raise _bad_shape(exc, endpoint) from None


def _tracks(data: Any, tz: tzinfo) -> dict[int, list[TrackPoint]]:
    out: dict[int, list[TrackPoint]] = {}
    if data is None:
        return out
    maps: list[Any]
    if isinstance(data, dict):
        maps = [data]
    elif isinstance(data, list):
        if all(isinstance(x, dict) and ("x" in x or "location" in x) for x in data):
            flat = _TRACK_LIST.validate_python(data, context={"tz": tz})
            for p in flat:
                out.setdefault(p.uid if p.uid is not None else 0, []).append(p)
            return _sorted(out)
        maps = data
    else:
        raise ValueError("track data is neither a map nor a list")
    for m in maps:
        if not isinstance(m, dict):
            raise ValueError("track list holds something other than a map")
        for key, points in m.items():
            uid = _to_int(key)
            pts = _TRACK_LIST.validate_python(_as_list(points), context={"tz": tz})
            out.setdefault(uid, []).extend(
                p if p.uid is not None else p.model_copy(update={"uid": uid}) for p in pts
            )
    return _sorted(out)


def _sorted(out: dict[int, list[TrackPoint]]) -> dict[int, list[TrackPoint]]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return {uid: sorted(pts, key=lambda p: p.time or epoch) for uid, pts in out.items()}


# -- 2.6 audioRecord -------------------------------------------------------------


class Recording(_Model):
    """A voice recording (2.6)."""

    user_id: OptInt = Field(default=None, alias="userId")
    account: Str = ""
    begin: datetime = Field(alias="beginTime")
    duration_ms: OptInt = Field(default=None, alias="durationMs")
    group_name: OptStr = Field(default=None, alias="groupName")
    file_url: Str = Field(default="", alias="fileUrl")

    @field_validator("begin", mode="before")
    @classmethod
    def _time(cls, v: Any, info: ValidationInfo) -> Any:
        t = parse_platform_time(v, _tz(info))
        if t is None:
            raise ValueError("beginTime is missing")
        return t


class RecordingPage(_Model):
    """One page of 2.6; `total` may be a page count or a record count."""

    size: OptInt = None
    total: OptInt = None
    records: list[Recording] = Field(default_factory=list)

    @field_validator("records", mode="before")
    @classmethod
    def _records(cls, v: Any) -> Any:
        return _as_list(v)


# -- 2.7 register, 2.9 group create ----------------------------------------------


class RegisteredUser(_Model):
    """A user created by 2.7."""

    id: Id
    account: Str = ""
    name: Str = ""
    type: OptInt = None
    pinyin: OptStr = None
    state: OptInt = None
    priority: OptInt = None
    my_org: OptInt = Field(default=None, alias="myOrg")


class CreatedGroup(_Model):
    """A talk group created by 2.9; `ctime` may be unpadded (`2022-2-15 15:20:12`)."""

    id: Id
    name: Str = ""
    type: OptInt = None
    pinyin: OptStr = None
    priority: OptInt = None
    talk_time: OptInt = Field(default=None, alias="talkTime")
    member_count: OptInt = Field(default=None, alias="myPttCount")
    ctime: datetime | None = None

    @field_validator("ctime", mode="before")
    @classmethod
    def _time(cls, v: Any, info: ValidationInfo) -> Any:
        return parse_platform_time(v, _tz(info))


# -- 2.12 orgUser/tree, 2.13 org/user, 2.14 user/info ----------------------------


class OrgUser(_Model):
    """A user node (type 1) of 2.12 / 2.13."""

    id: Id
    account: Str = ""
    name: Str = ""
    pinyin: OptStr = None
    online: bool = False
    priority: OptInt = None
    role_id: OptInt = Field(default=None, alias="roleId")
    role_name: OptStr = Field(default=None, alias="roleName")

    _online = field_validator("online", mode="before")(_online_flag)


class Org(_Model):
    """An org node (type 0) of 2.12 / 2.13: sub-orgs in `orgs`, users in `users`."""

    id: Id
    parent_id: OptInt = Field(default=None, alias="parentId")
    name: Str = ""
    pinyin: OptStr = None
    group_count: OptInt = Field(default=None, alias="groupCount")
    user_count: OptInt = Field(default=None, alias="userCount")
    online_count: OptInt = Field(default=None, alias="onlineCount")
    remark: OptStr = None
    address: OptStr = None
    orgs: list[Org] = Field(default_factory=list)
    users: list[OrgUser] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, dict):
            v = dict(v)
            orgs: list[Any] = list(_as_list(v.get("orgs")))
            users: list[Any] = list(_as_list(v.get("users")))
            children = _as_list(v.get("children"))
            if not isinstance(children, list):
                raise ValueError("children is neither a list nor an object")
            for child in children:
                if isinstance(child, dict) and str(child.get("type", 0)).strip() == "1":
                    users.append(child)
                else:
                    orgs.append(child)
            v["orgs"], v["users"] = orgs, users
            if str(v.get("parentId")) in ("", "None"):
                v["parentId"] = None
        return v

    def walk(self) -> list[Org]:
        """This org and every org below it, depth first."""
        out = [self]
        for o in self.orgs:
            out.extend(o.walk())
        return out


class UserGroup(_Model):
    """A talk group a user belongs to (2.14)."""

    id: Id
    name: Str = ""
    type: OptInt = None
    pinyin: OptStr = None
    priority: OptInt = None
    inner_priority: OptInt = Field(default=None, alias="innerPriority")


class UserInfo(_Model):
    """User details (2.14)."""

    id: Id
    account: Str = ""
    name: Str = ""
    pinyin: OptStr = None
    online: bool = False
    priority: OptInt = None
    role_id: OptInt = Field(default=None, alias="roleId")
    role_name: OptStr = Field(default=None, alias="roleName")
    groups: list[UserGroup] = Field(default_factory=list)

    _online = field_validator("online", mode="before")(_online_flag)

    @field_validator("groups", mode="before")
    @classmethod
    def _groups(cls, v: Any) -> Any:
        return _as_list(v)


# -- 2.15 accept/event -------------------------------------------------------------


class Accessory(_Model):
    name: str
    url: str


class NoticeSender(_Model):
    id: Id
    name: str


class NoticeTargets(_Model):
    org_ids: list[Id] = Field(default_factory=list, alias="orgIds")
    user_ids: list[Id] = Field(default_factory=list, alias="userIds")


class Notice(_Model):
    """A notice pushed to terminals (2.15), also the body of `POST /platform/notices`."""

    sender: NoticeSender = Field(alias="from")
    to: NoticeTargets
    title: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, max_length=4000)
    accessory: list[Accessory] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_targets(self) -> Notice:
        if not self.to.org_ids and not self.to.user_ids:
            raise ValueError("to: name at least one of orgIds or userIds")
        return self

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "from": {"id": self.sender.id, "name": self.sender.name},
            "to": {},
            "title": self.title,
            "content": self.content,
        }
        if self.to.org_ids:
            body["to"]["orgIds"] = list(self.to.org_ids)
        if self.to.user_ids:
            body["to"]["userIds"] = list(self.to.user_ids)
        if self.accessory:
            body["accessory"] = [{"name": a.name, "url": a.url} for a in self.accessory]
        return body


# -- 2.16 punchCard, 2.17 signIn ---------------------------------------------------


class PunchRecord(_Model):
    """A punch-card record (2.16); many documented-required fields arrive null."""

    user_id: OptInt = Field(default=None, alias="userId")
    user_name: OptStr = Field(default=None, alias="userName")
    account: OptStr = None
    schedule_id: OptInt = Field(default=None, alias="scheduleId")
    shifts_id: OptInt = Field(default=None, alias="shiftsId")
    shifts_name: OptStr = Field(default=None, alias="shiftsName")
    type: OptInt = None  # 0 unscheduled, 1 scheduled
    address: OptStr = None
    coordinate: OptStr = None
    sign_in_time: datetime | None = Field(default=None, alias="signInTime")
    should_time: datetime | None = Field(default=None, alias="shouldTime")
    failure: OptInt = None  # grace minutes
    state: OptInt = None  # 0 clock-in, 1 clock-out, 2 superseded
    time_zone: OptFloat = Field(default=None, alias="timeZone")
    oid: OptInt = None
    org_name: OptStr = Field(default=None, alias="myOrgName")

    @field_validator("sign_in_time", "should_time", mode="before")
    @classmethod
    def _time(cls, v: Any, info: ValidationInfo) -> Any:
        return parse_platform_time(v, _tz(info))


class SignInRecord(_Model):
    """A sign-in record (2.17); `location` is "lon,lat", `image` comma-separated urls."""

    id: OptInt = None
    user_id: OptInt = Field(default=None, alias="userId")
    user_name: OptStr = Field(default=None, alias="userName")
    user_phone: OptStr = Field(default=None, alias="userPhone")
    images: list[str] = Field(default_factory=list, alias="image")
    lat: OptFloat = None
    lon: OptFloat = None
    address: OptStr = None
    sign_time: datetime | None = Field(default=None, alias="signTime")
    remark: OptStr = None
    time_zone: OptFloat = Field(default=None, alias="timeZone")
    org_id: OptInt = Field(default=None, alias="myOrg")
    org_name: OptStr = Field(default=None, alias="myOrgName")

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        if isinstance(v, dict):
            v = dict(v)
            img = v.get("image")
            if isinstance(img, str):
                v["image"] = [u.strip() for u in img.split(",") if u.strip()]
            elif img is None:
                v["image"] = []
            loc = v.get("location")
            if isinstance(loc, str) and "," in loc:
                a, _, b = loc.partition(",")
                v["lon"], v["lat"] = _opt_float(a), _opt_float(b)
        return v

    @field_validator("sign_time", mode="before")
    @classmethod
    def _time(cls, v: Any, info: ValidationInfo) -> Any:
        return parse_platform_time(v, _tz(info))


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of 2.16 / 2.17: `total` records in `pages` pages."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    total: OptInt = None
    pages: OptInt = None
    records: list[T] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, v: Any) -> Any:
        # 2.17's example puts the page object inside a one-element list.
        if isinstance(v, list):
            if not v:
                return {}
            v = v[0]
        if v is None:
            return {}
        if isinstance(v, dict):
            v = dict(v)
            v["records"] = _as_list(v.get("records"))
        return v


_TRACK_LIST: TypeAdapter[list[TrackPoint]] = TypeAdapter(list[TrackPoint])
_IDS: TypeAdapter[list[Id]] = TypeAdapter(list[Id])


def parse(adapter: TypeAdapter[T], data: Any, tz: tzinfo, endpoint: str) -> T:
    """Validate `data` with `adapter`; any mismatch becomes `PlatformBadResponseError`."""
    try:
        return adapter.validate_python(data, context={"tz": tz})
    except _SHAPE_ERRORS as exc:
        raise _bad_shape(exc, endpoint) from None


def parse_ids(data: Any, endpoint: str) -> list[int]:
    """A list of user ids (2.2, 2.3); null means none."""
    if data is None:
        return []
    return parse(_IDS, data, UTC, endpoint)
