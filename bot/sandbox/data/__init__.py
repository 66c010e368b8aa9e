"""Seeded, deterministic data behind the sandbox dispatch platform.

Everything is plain, mutable dataclasses so tests can flip state (a user goes
offline, changes group, loses their fix) between two calls. The directory (orgs,
talk groups, users, terminals) is built eagerly; the bulky history — tracks, voice
recordings, punch-card and sign-in records — is generated lazily per user and day
from a seed derived from (seed, user, day), so a 50 000-user sandbox builds in
about a second and the same seed always yields the same history.

A handful of fixed users and orgs exist whatever the seed, so tests can name
them (see ``FIXED_USERS`` and the module constants).

The package: `constants` (the fixed world and its vocabulary), `units` (pinyin, local
days, kilometres), `model` (the records), `directory` (`SandboxDirectory`, built from
the seed), `paths` (users who move, when asked to) and `history` (`SandboxData`: the
directory plus its history and its moving users). Every name is
importable from here.
"""

from bot.sandbox.data.constants import (
    CENTER_LAT,
    CENTER_LON,
    DISPATCHER_ID,
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
    MEDIA_FILES,
    NO_FIX_USER_ID,
    ORG_KINDS,
    RADIUS_KM,
    ROLES,
    ROOT_ORG_ID,
    SIGNIN_REMARKS,
    SOLO_GROUP_ID,
    STREETS,
    SURNAMES,
    TRICKY_USER_ID,
    TZ,
    FixedUser,
)
from bot.sandbox.data.directory import SandboxDirectory
from bot.sandbox.data.history import SandboxData
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
from bot.sandbox.data.paths import (
    CROSSING_USER_ID,
    DEMO_FENCE,
    DEMO_FENCE_INSIDE_MINUTES,
    JITTER_M,
    JITTER_USER_ID,
    STALE_MINUTES,
    STALE_USER_ID,
    WALKER_USER_ID,
    MovingPath,
)
from bot.sandbox.data.units import local_date_of, local_day_start_ms, md5_hex, pinyin_of

__all__ = [
    "CENTER_LAT",
    "CENTER_LON",
    "CROSSING_USER_ID",
    "DEMO_FENCE",
    "DEMO_FENCE_INSIDE_MINUTES",
    "DISPATCHER_ID",
    "DISTRICTS",
    "FIRST_DEVICE_ID",
    "FIRST_GROUP_ID",
    "FIRST_USER_ID",
    "FIXED_GROUPS",
    "FIXED_ORGS",
    "FIXED_USERS",
    "GIVEN_NAMES",
    "GROUP_KINDS",
    "HISTORY_DAYS",
    "JITTER_M",
    "JITTER_USER_ID",
    "MEDIA_FILES",
    "NO_FIX_USER_ID",
    "ORG_KINDS",
    "RADIUS_KM",
    "ROLES",
    "ROOT_ORG_ID",
    "SIGNIN_REMARKS",
    "SOLO_GROUP_ID",
    "STALE_MINUTES",
    "STALE_USER_ID",
    "STREETS",
    "SURNAMES",
    "TRICKY_USER_ID",
    "TZ",
    "WALKER_USER_ID",
    "Device",
    "Fix",
    "FixedUser",
    "Group",
    "Membership",
    "MovingPath",
    "Notice",
    "Org",
    "PunchRecord",
    "Recording",
    "SandboxData",
    "SandboxDirectory",
    "SignIn",
    "TrackPoint",
    "User",
    "local_date_of",
    "local_day_start_ms",
    "md5_hex",
    "pinyin_of",
]
