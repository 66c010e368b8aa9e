"""Typed request and response models of the platform API (sections 2.1–2.17).

The validators absorb every quirk of the reference: ids as strings or numbers;
`children`/`users` as one object or a list; x = latitude, y = longitude,
`location` = [lon, lat]; `isOnLine` "2"/null; times in any format the platform
uses (validated with `context={"tz": <platform zone>}`); documented-required
fields that arrive null. Responses are parsed with `parse(...)`, which turns any
shape mismatch into `PlatformBadResponseError`.

One module per concern: `base` (the lenient types, `parse`), `directory` (2.1,
2.7, 2.9, 2.12–2.14), `positions` (2.4, 2.5), `recordings` (2.6), `notices`
(2.15), `attendance` (2.16, 2.17).
"""

from bot.platform.models.attendance import Page, PunchRecord, SignInRecord
from bot.platform.models.base import (
    Id,
    OptFloat,
    OptInt,
    OptStr,
    OptTime,
    Str,
    parse,
    parse_ids,
)
from bot.platform.models.directory import (
    CreatedGroup,
    Org,
    OrgUser,
    RegisteredUser,
    TreeNode,
    TreeUser,
    UserGroup,
    UserInfo,
)
from bot.platform.models.notices import Accessory, Notice, NoticeSender, NoticeTargets
from bot.platform.models.positions import Fix, TrackPoint, tracks_from_data
from bot.platform.models.recordings import Recording, RecordingPage

__all__ = [
    "Accessory",
    "CreatedGroup",
    "Fix",
    "Id",
    "Notice",
    "NoticeSender",
    "NoticeTargets",
    "OptFloat",
    "OptInt",
    "OptStr",
    "OptTime",
    "Org",
    "OrgUser",
    "Page",
    "PunchRecord",
    "Recording",
    "RecordingPage",
    "RegisteredUser",
    "SignInRecord",
    "Str",
    "TrackPoint",
    "TreeNode",
    "TreeUser",
    "UserGroup",
    "UserInfo",
    "parse",
    "parse_ids",
    "tracks_from_data",
]
