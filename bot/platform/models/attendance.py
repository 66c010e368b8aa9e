"""Attendance: punch-card records (2.16), sign-in records (2.17), and their pages."""

from __future__ import annotations

from typing import Any, Generic

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.platform.models.base import (
    OptFloat,
    OptInt,
    OptStr,
    OptTime,
    T,
    _as_list,
    _Model,
    _opt_float,
)


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
    sign_in_time: OptTime = Field(default=None, alias="signInTime")
    should_time: OptTime = Field(default=None, alias="shouldTime")
    failure: OptInt = None  # grace minutes
    state: OptInt = None  # 0 clock-in, 1 clock-out, 2 superseded
    time_zone: OptFloat = Field(default=None, alias="timeZone")
    oid: OptInt = None
    org_name: OptStr = Field(default=None, alias="myOrgName")


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
    sign_time: OptTime = Field(default=None, alias="signTime")
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
