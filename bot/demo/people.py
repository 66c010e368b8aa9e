"""The people of the demo, the console and the emulator, and the bot token the emulator
accepts: light to import (no aiogram, no bridge), so `pttbridge emulator` starts at once.

The people are fixed: an admin (from `BRIDGE_ADMIN_IDS`), a supervisor, a viewer, a
supervisor scoped to org 266, and a stranger with no role.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.telegram import EmuUser, TelegramEmulator
from storage.roles import Role

BOT_TOKEN = "123456:SANDBOX-bot-token"
CALLBACK_TOKEN = "sandbox-callback-token"


@dataclass(frozen=True)
class Person:
    key: str
    id: int
    name: str
    role: Role
    org_id: int | None = None


PEOPLE = (
    Person("admin", 1001, "Admin Ada", Role.ADMIN),
    Person("supervisor", 1002, "Supervisor Sun", Role.SUPERVISOR),
    Person("viewer", 1003, "Viewer Wang", Role.VIEWER),
    Person("scoped", 1004, "Scoped Li", Role.SUPERVISOR, org_id=266),
    Person("stranger", 1005, "Stranger Zhou", Role.NONE),
)


def add_people(emu: TelegramEmulator, language: str) -> dict[str, EmuUser]:
    """The tour's people as users of `emu`, each with Telegram set to `language`."""
    return {
        p.key: emu.add_user(p.id, p.name, language_code=language, username=p.key) for p in PEOPLE
    }


def people_line() -> str:
    """Who the people are, with their roles: `admin (admin), ..., stranger (none)`."""
    return ", ".join(
        f"{p.key} ({p.role.label}{' of org ' + str(p.org_id) if p.org_id else ''})" for p in PEOPLE
    )
