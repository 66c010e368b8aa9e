"""The chat commands: who may use each, and the menus built from that.

One table serves /help (grouped by section, each command with an example of its
arguments), the per-role command menus (setMyCommands) and the "this needs the … role"
answer of the catch-all router.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.roles import Role


class Section(StrEnum):
    """The parts /help is grouped in (`help-section-<value>`), in the order shown."""

    LOOKUP = "lookup"
    LOCATION = "location"
    ALERTS = "alerts"
    ADMIN = "admin"


@dataclass(frozen=True)
class Command:
    name: str
    role: Role
    in_menu: bool = True
    section: Section | None = None  # None: the general ones, listed first
    example: bool = False  # /help shows `help-example-<name>` with it


_L, _P, _A, _M = Section.LOOKUP, Section.LOCATION, Section.ALERTS, Section.ADMIN

COMMANDS: tuple[Command, ...] = (
    Command("start", Role.NONE, in_menu=False),
    Command("help", Role.NONE),
    Command("lang", Role.NONE, example=True),
    Command("find", Role.VIEWER, section=_L, example=True),
    Command("groups", Role.VIEWER, section=_L),
    Command("online", Role.VIEWER, section=_L, example=True),
    Command("user", Role.VIEWER, section=_L, example=True),
    Command("org", Role.VIEWER, section=_L, example=True),
    Command("where", Role.SUPERVISOR, section=_P, example=True),
    Command("track", Role.SUPERVISOR, section=_P, example=True),
    Command("follow", Role.SUPERVISOR, section=_P, example=True),
    Command("unfollow", Role.SUPERVISOR, section=_P, example=True),
    Command("fence", Role.SUPERVISOR, section=_P, example=True),
    Command("near", Role.SUPERVISOR, section=_P, example=True),
    Command("recordings", Role.SUPERVISOR, section=_L, example=True),
    Command("heard", Role.SUPERVISOR, section=_L, example=True),
    Command("attendance", Role.SUPERVISOR, section=_L, example=True),
    Command("signins", Role.SUPERVISOR, section=_L, example=True),
    Command("subscribe", Role.SUPERVISOR, section=_A, example=True),
    Command("unsubscribe", Role.SUPERVISOR, section=_A, example=True),
    Command("subscriptions", Role.SUPERVISOR, section=_A),
    Command("watch", Role.SUPERVISOR, section=_A, example=True),
    Command("unwatch", Role.SUPERVISOR, section=_A, example=True),
    Command("report", Role.SUPERVISOR, section=_A, example=True),
    Command("mute", Role.VIEWER, section=_A, example=True),
    Command("status", Role.ADMIN, section=_M),
    Command("broadcast", Role.ADMIN, section=_A),
    Command("register", Role.ADMIN, section=_M),
    Command("deluser", Role.ADMIN, section=_M, example=True),
    Command("mkgroup", Role.ADMIN, section=_M, example=True),
    Command("bind", Role.ADMIN, section=_M, example=True),
    Command("device", Role.ADMIN, section=_M, example=True),
    Command("audit", Role.ADMIN, section=_M, example=True),
    Command("role", Role.ADMIN, section=_M, example=True),
    Command("invite", Role.ADMIN, section=_M, example=True),
    Command("cancel", Role.NONE, in_menu=False),
)

BY_NAME = {c.name: c for c in COMMANDS}


def allowed(role: Role) -> list[Command]:
    """The commands a role may use, in table order."""
    return [c for c in COMMANDS if role >= c.role]


def sections(role: Role) -> list[tuple[Section | None, list[Command]]]:
    """/help's parts for a role: the general commands, then each section it may use
    anything of, in `Section` order; commands in table order, menu commands only."""
    mine = [c for c in allowed(role) if c.in_menu]
    parts: list[tuple[Section | None, list[Command]]] = [
        (s, [c for c in mine if c.section is s]) for s in (None, *Section)
    ]
    return [(s, cs) for s, cs in parts if cs]
