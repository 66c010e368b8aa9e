"""Typed callback data of inline buttons; the version is in the prefix."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.directory import Kind


class PickAction(enum.StrEnum):
    """What a chosen entity is opened with."""

    ONLINE = "on"
    USER = "us"
    ORG = "og"
    WHERE = "wh"
    TRACK = "tr"
    RECORDINGS = "rc"
    WATCH = "wa"
    UNWATCH = "uw"
    ATTENDANCE = "at"
    SIGNINS = "si"
    FOLLOW = "fo"
    UNFOLLOW = "uf"
    FENCE_WATCH = "fw"
    FENCE_UNWATCH = "fu"
    HEARD = "hr"
    SUBSCRIBE = "sb"


class PickCb(CallbackData, prefix="pk1"):
    """A choice among the candidates for an ambiguous name."""

    action: PickAction
    kind: Kind
    id: int


class GroupsCb(CallbackData, prefix="gr1"):
    """A page of /groups."""

    page: int


class OnlineCb(CallbackData, prefix="on1"):
    """Open or refresh the online view of a talk group."""

    gid: int
    refresh: bool = False


class WhereCb(CallbackData, prefix="wh1"):
    """Send this user's pin (from a talk group's /where list)."""

    uid: int


class RecPageCb(CallbackData, prefix="rp1"):
    """A page of a user's recordings of one day (`day` as yyyymmdd)."""

    uid: int
    day: int
    page: int


class RecPlayCb(CallbackData, prefix="rc1"):
    """Send the audio of recording `idx` of that page."""

    uid: int
    day: int
    page: int
    idx: int


class AckCb(CallbackData, prefix="ak1"):
    """Acknowledge a relayed incident (`incident` is the bridge's incident id)."""

    incident: int


class ConfirmAction(enum.StrEnum):
    DELETE_USERS = "du"
    BROADCAST = "bc"


class ConfirmCb(CallbackData, prefix="cf1"):
    """Confirm (or cancel) a destructive or outward action pending in the dialog data."""

    action: ConfirmAction
    ok: bool


class BcAction(enum.StrEnum):
    """A button of the /broadcast dialog; `value` of `BcCb` says which page or file."""

    ORG = "o"
    PAGE = "p"
    NEXT = "n"
    DONE = "d"
    CONFIRM = "c"
    EDIT = "e"
    EDIT_TARGETS = "et"
    EDIT_TITLE = "eh"
    EDIT_TEXT = "ex"
    EDIT_FILES = "ef"
    CANCEL = "x"


class BcCb(CallbackData, prefix="bc1"):
    action: BcAction
    value: int = 0


class FollowCb(CallbackData, prefix="fo1"):
    """Stop this follow (the button under a /follow line)."""

    follow_id: int


class HeardPageCb(CallbackData, prefix="hd1"):
    """Another page of the /heard answer this button is on (the query is kept with it)."""

    page: int
