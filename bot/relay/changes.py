"""Directory changes told to chats: what the bridge compares, and how a change is worded.

Two paths see org and user changes: the relay (the platform's callbacks 3.2–3.5, looked
up on the platform) and the scheduled directory diff (after each refresh, for changes
never pushed). Both compare against one snapshot (`known_entities`) with the fields
built here, word a change with the titles built here, and pack per chat with the same
rule, so a change reads the same whichever path saw it first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.directory import Directory, DirUser
from bot.i18n import Translate
from bot.render.relay import change_text, clip, diff_lines

# Set once the directory diff has recorded the whole directory in known_entities:
# from then on, whoever is not there is new.
SNAPSHOT_SEEDED = "directory-diff-seeded"
# Characters of change blocks per message when several changes go to one chat.
MESSAGE_BUDGET = 3500


@dataclass(frozen=True, slots=True)
class Change:
    """One change, worded: its subscription kind, its text, and the orgs it concerns."""

    kind: str  # user-changes | org-changes
    text: str
    org_ids: tuple[int | None, ...]


def known_user(directory: Directory, u: DirUser) -> dict[str, Any]:
    """The fields of a user the bridge compares to tell a change (stored in known_entities)."""
    org = directory.org(u.org_id) if u.org_id is not None else None
    return {
        "name": u.name,
        "account": u.account,
        "org": org.name if org else None,
        "org_id": u.org_id,
        "role": u.role_name,
        "priority": u.priority,
        "groups": sorted(g.name for g in directory.user_groups(u.id)),
    }


def known_org(name: str, address: str | None, users: int) -> dict[str, Any]:
    """The fields of an org the bridge compares to tell a change (stored in known_entities)."""
    return {"name": name, "address": address, "users": users}


def user_from_directory(directory: Directory, uid: int) -> dict[str, Any] | None:
    u = directory.user(uid)
    return None if u is None else known_user(directory, u)


def org_from_directory(directory: Directory, oid: int) -> dict[str, Any] | None:
    o = directory.org(oid)
    if o is None:
        return None
    return known_org(o.name, o.address, len(directory.org_users(oid)))


def users_snapshot(directory: Directory) -> dict[int, dict[str, Any]]:
    """Every user of the loaded directory, as `known_user`."""
    return {uid: known_user(directory, u) for uid, u in directory.snapshot.users.items()}


def orgs_snapshot(directory: Directory) -> dict[int, dict[str, Any]]:
    """Every org of the loaded directory, as `known_org` (members counted in one pass)."""
    snap = directory.snapshot
    counts: dict[int, int] = {}
    for u in snap.users.values():
        if u.org_id is not None:
            counts[u.org_id] = counts.get(u.org_id, 0) + 1
    return {oid: known_org(o.name, o.address, counts.get(oid, 0)) for oid, o in snap.orgs.items()}


def user_change(
    t: Translate, before: dict[str, Any] | None, after: dict[str, Any]
) -> tuple[str, list[str]] | None:
    """Title and lines of a user's change (`before` None: a new user); None: no change."""
    if before is None:
        title = t("chg-user-new", name=clip(t, after["name"]), account=clip(t, after["account"]))
        return title, ([t("chg-in-org", org=clip(t, after["org"]))] if after["org"] else [])
    lines = diff_lines(t, before, after)
    if not lines:
        return None
    title = t("chg-user-updated", name=clip(t, after["name"]), account=clip(t, after["account"]))
    return title, lines


def user_deleted_title(t: Translate, uid: int, before: dict[str, Any] | None) -> str:
    """A deleted user's title, named as well as what the bridge knew of them allows."""
    name = (before or {}).get("name")
    account = (before or {}).get("account")
    if name and account:
        return t("chg-user-deleted", name=clip(t, name), account=clip(t, account))
    if name or account:
        return t("chg-user-deleted-name", name=clip(t, name or account))
    return t("chg-user-deleted-id", id=uid)


def org_change(
    t: Translate, before: dict[str, Any] | None, after: dict[str, Any]
) -> tuple[str, list[str]] | None:
    """Title and lines of an org's change (`before` None: a new org); None: no change."""
    if before is None:
        return t("chg-org-new", name=clip(t, after["name"])), []
    lines = diff_lines(t, before, after)
    if not lines:
        return None
    return t("chg-org-updated", name=clip(t, after["name"])), lines


def org_deleted_title(t: Translate, oid: int, before: dict[str, Any] | None) -> str:
    return t("chg-org-deleted", name=clip(t, (before or {}).get("name") or str(oid)))


def change(
    t: Translate, kind: str, title: str, lines: Sequence[str], orgs: Iterable[int | None]
) -> Change:
    return Change(kind, change_text(t, kind, title, lines), tuple(orgs))


def pack(texts: Sequence[str], budget: int = MESSAGE_BUDGET) -> list[str]:
    """Change blocks joined into as few messages as fit `budget` characters each."""
    out: list[str] = []
    batch: list[str] = []
    size = 0
    for text in texts:
        if batch and size + len(text) > budget:
            out.append("\n\n".join(batch))
            batch, size = [], 0
        batch.append(text)
        size += len(text) + 2
    if batch:
        out.append("\n\n".join(batch))
    return out
