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
