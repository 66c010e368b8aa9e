"""/audit: the latest entries of the audit trail, their details in the reader's words.

Each action writes its details as a small dict (`handlers.admin.audited`, `AuditRepo.add`);
every key any handler writes has a label here (`audit-key-<key>`) and its values are
shown as words: subscription kinds and roles by their names, times in the bridge's zone,
lists joined, bind rows as priority and rights. A key written by no handler today (an
older bridge's entry) still shows as ``key: value``, never a Python repr.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, Final

from bot.i18n import Translate
from bot.render.text import Html, esc
from storage.audit import AuditEntry

T = Translate

__all__ = ["AUDIT_ACTIONS", "AUDIT_KEYS", "audit_details", "audit_text"]

# The actions handlers write (`audit-action-<action>`) and the detail keys (`audit-key-<key>`).
AUDIT_ACTIONS: Final = frozenset(
    {
        "acknowledge",
        "attendance",
        "bind",
        "broadcast",
        "deluser",
        "device",
        "fence-add",
        "fence-del",
        "fence-unwatch",
        "fence-watch",
        "follow",
        "heard",
        "invite",
        "invite-redeem",
        "mkgroup",
        "mute",
        "near",
        "recording-play",
        "register",
        "report",
        "report-off",
        "role",
        "signins",
        "subscribe",
        "track",
        "unfollow",
        "unsubscribe",
        "unwatch",
        "watch",
        "where",
        "where-group",
        "where-org",
    }
)
AUDIT_KEYS: Final = frozenset(
    {
        "account",
        "accounts",
        "at",
        "begin",
        "button",
        "candidates",
        "chat",
        "count",
        "day",
        "events",
        "fence",
        "files",
        "for",
        "from",
        "group",
        "groups",
        "id",
        "kind",
        "kinds",
        "lat",
        "levels",
        "lon",
        "members",
        "minutes",
        "name",
        "names",
        "online",
        "org",
        "orgs",
        "radius_m",
        "role",
        "rows",
        "state",
        "targets",
        "thread",
        "title",
        "to",
        "url",
        "users",
        "words",
        "watches",
        "with_fix",
    }
)
_TIMES: Final = frozenset({"from", "to", "begin"})
_KINDS: Final = frozenset({"kinds", "kind"})
_ROLES: Final = frozenset({"admin", "supervisor", "viewer", "none"})
_STATES: Final = frozenset({"assigned", "idle", "repair"})
_SHOWN_MAX: Final = 160  # characters of details per entry: /audit 200 stays readable


def _key_id(key: str) -> str:
    return "audit-key-" + key.replace("_", "-")


def _value(t: T, key: str, value: Any, tz: tzinfo) -> str:
    """One detail's value as the reader's words (plain text, not yet escaped)."""
    if isinstance(value, list | tuple):
        parts = [_value(t, key, v, tz) for v in value]
        return t.plain("audit-list-sep").join(p for p in parts if p)
    if isinstance(value, Mapping):  # a /bind row: {"id", "priority", "callPermission", ...}
        if "id" in value and "priority" in value:
            return t.plain(
                "bind-line",
                name=str(value["id"]),
                priority=value["priority"],
                call=t.plain("yes" if value.get("callPermission") != "N" else "no"),
                speak=t.plain("yes" if value.get("canSpeak") != "N" else "no"),
            )
        return t.plain("audit-list-sep").join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, bool):
        return t.plain("yes" if value else "no")
    text = str(value)
    if key in _KINDS:
        return t.plain("audit-all") if text == "all" else t.plain(f"kind-{text}")
    if key == "role" and text in _ROLES:
        return t.plain(f"role-{text}")
    if key == "state" and text in _STATES:
        return t.plain(f"audit-state-{text}")
    if key in _TIMES:
        try:
            return datetime.fromisoformat(text).astimezone(tz).strftime("%m-%d %H:%M")
        except ValueError:
            return text
    return text


def audit_details(t: T, args: Mapping[str, Any], tz: tzinfo) -> str:
    """An entry's details as ``label: value`` pairs in `t`'s language, HTML-escaped."""
    shown: list[str] = []
    for key, value in args.items():
        if value in (None, "", [], {}) or (key == "thread" and value == 0):
            continue
        label = t.plain(_key_id(key)) if key in AUDIT_KEYS else key
        shown.append(t.plain("audit-detail", key=label, value=_value(t, key, value, tz)))
    text = t.plain("audit-detail-sep").join(shown)
    if len(text) > _SHOWN_MAX:
        text = text[: _SHOWN_MAX - 1] + "…"
    return esc(text)


def audit_text(t: T, entries: Sequence[tuple[AuditEntry, str]], tz: tzinfo) -> str:
    """/audit's latest entries, each with who did it (a name, an id, or "bridge"), in `tz`."""
    lines: list[str] = [t("audit-title", count=len(entries))]
    for e, who in entries:
        action = t(f"audit-action-{e.action}") if e.action in AUDIT_ACTIONS else esc(e.action)
        details = audit_details(t, e.args, tz)
        result = t("audit-ok") if e.result == "ok" else esc(e.result)
        what = action + (f" {esc(e.target)}" if e.target else "")
        lines.append(
            t(
                "audit-line-details" if details else "audit-line",
                time=e.at.astimezone(tz).strftime("%m-%d %H:%M"),
                who=Html(f"<b>{esc(who)}</b>"),
                what=Html(what),
                details=details,
                result=result,
            )
        )
    return "\n".join(lines)
