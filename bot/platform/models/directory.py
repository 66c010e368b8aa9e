"""The directory as the platform gives it: 2.1's org/talk-group tree, 2.12–2.14's
orgs and users, and what 2.7 and 2.9 answer when they create a user or a group."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

from bot.platform.models.base import (
    AsList,
    Id,
    Online,
    OptInt,
    OptStr,
    OptTime,
    Str,
    _as_list,
    _Model,
    _to_int,
)

# -- 2.1 getOrganizationTree2 ---------------------------------------------------


# The members of the two directory trees are plain slotted dataclasses, not models:
# tens of thousands of them are parsed at each refresh, and a model's `__dict__` and
# fields-set cost eight times the memory (50,000 users: 56 MB against 7 MB).
_MEMBER = ConfigDict(extra="ignore", populate_by_name=True)


@dataclass(frozen=True, slots=True, config=_MEMBER)
class TreeUser:
    """A member listed under a talk group in 2.1."""

    uid: Id
    account: Str = ""
    name: Str = ""
    gid: OptInt = None


def _type_or_org(v: Any) -> Any:
    return 0 if v is None else _to_int(v)


class TreeNode(_Model):
    """An org (type 0) or talk group (type 1) of 2.1; `id` is taken from `id` or `gid`."""

    id: Id
    name: Str = ""
    type: Annotated[int, BeforeValidator(_type_or_org)] = 0
    users: AsList[TreeUser] = Field(default_factory=list)
    children: AsList[TreeNode] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        if isinstance(v, dict) and v.get("id") is None and v.get("gid") is not None:
            v = {**v, "id": v["gid"]}
        return v

    @property
    def is_group(self) -> bool:
        return self.type == 1


# -- 2.7 register, 2.9 group create, 2.14's groups ------------------------------------


class _Entry(_Model):
    """What a created user, a created group and a user's group all carry."""

    id: Id
    name: Str = ""
    type: OptInt = None
    pinyin: OptStr = None
    priority: OptInt = None


class RegisteredUser(_Entry):
    """A user created by 2.7."""

    account: Str = ""
    state: OptInt = None
    my_org: OptInt = Field(default=None, alias="myOrg")


class CreatedGroup(_Entry):
    """A talk group created by 2.9; `ctime` may be unpadded (`2022-2-15 15:20:12`)."""

    talk_time: OptInt = Field(default=None, alias="talkTime")
    member_count: OptInt = Field(default=None, alias="myPttCount")
    ctime: OptTime = None


class UserGroup(_Entry):
    """A talk group a user belongs to (2.14)."""

    inner_priority: OptInt = Field(default=None, alias="innerPriority")


# -- 2.12 orgUser/tree, 2.13 org/user, 2.14 user/info ----------------------------


@dataclass(frozen=True, slots=True, config=_MEMBER)
class _Member:
    id: Id
    account: Str = ""
    name: Str = ""
    pinyin: OptStr = None
    online: Online = False
    priority: OptInt = None
    role_id: OptInt = Field(default=None, alias="roleId")
    role_name: OptStr = Field(default=None, alias="roleName")


@dataclass(frozen=True, slots=True, config=_MEMBER)
class OrgUser(_Member):
    """A user node (type 1) of 2.12 / 2.13."""


@dataclass(frozen=True, slots=True, config=_MEMBER)
class UserInfo(_Member):
    """User details (2.14)."""

    groups: AsList[UserGroup] = Field(default_factory=list)


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
