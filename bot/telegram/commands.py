"""The chat commands: who may use each, and the menus built from that.

One table serves /help, the per-role command menus (setMyCommands) and the
"this needs the … role" answer of the catch-all router.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.roles import Role


@dataclass(frozen=True)
class Command:
    name: str
    role: Role
    in_menu: bool = True


COMMANDS: tuple[Command, ...] = (
    Command("start", Role.NONE, in_menu=False),
    Command("help", Role.NONE),
    Command("lang", Role.NONE),
    Command("find", Role.VIEWER),
    Command("groups", Role.VIEWER),
    Command("online", Role.VIEWER),
    Command("user", Role.VIEWER),
    Command("org", Role.VIEWER),
    Command("where", Role.SUPERVISOR),
    Command("track", Role.SUPERVISOR),
    Command("recordings", Role.SUPERVISOR),
    Command("attendance", Role.SUPERVISOR),
    Command("signins", Role.SUPERVISOR),
    Command("subscribe", Role.SUPERVISOR),
    Command("unsubscribe", Role.SUPERVISOR),
    Command("subscriptions", Role.SUPERVISOR),
    Command("watch", Role.SUPERVISOR),
    Command("unwatch", Role.SUPERVISOR),
    Command("report", Role.SUPERVISOR),
    Command("mute", Role.VIEWER),
    Command("status", Role.ADMIN),
    Command("broadcast", Role.ADMIN),
    Command("register", Role.ADMIN),
    Command("deluser", Role.ADMIN),
    Command("mkgroup", Role.ADMIN),
    Command("bind", Role.ADMIN),
    Command("device", Role.ADMIN),
    Command("audit", Role.ADMIN),
    Command("role", Role.ADMIN),
    Command("invite", Role.ADMIN),
    Command("cancel", Role.NONE, in_menu=False),
)

BY_NAME = {c.name: c for c in COMMANDS}


def allowed(role: Role) -> list[Command]:
    """The commands a role may use, in table order."""
    return [c for c in COMMANDS if role >= c.role]
