"""Renderers of what a chat (or topic) receives: `/subscribe`'s answer, `/subscriptions`.

Names outside the reader's scope are counted, never named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.directory import Directory, DirGroup
from bot.render.fences import target_label
from bot.render.follow import local_time
from bot.render.jobs import chat_jobs_lines, report_set_text, watch_text
from bot.render.replies import Reply, T, now_receives
from storage.follows import Follow
from storage.reports import Report
from storage.subscriptions import Subscription
from storage.watches import Watch

if TYPE_CHECKING:
    from bot.jobs.presence import Observation


def _names(
    t: T, ids: Sequence[int], name: Callable[[int], str | None], scope: frozenset[int] | None
) -> str:
    """The names of `ids` joined; `name` gives None for one outside the reader's `scope`
    or no longer in the directory. Those outside the scope are only counted, never named;
    for an unscoped reader, one no longer in the directory is its id."""
    labels: list[str] = []
    for i in ids:
        label = name(i)
        if label is not None:
            labels.append(label)
        elif scope is None:
            labels.append(str(i))  # no longer in the directory
    if outside := len(ids) - len(labels):
        labels.append(t.plain("outside-scope", count=outside))
    return "、".join(labels)


def describe(
    t: T, sub: Subscription, directory: Directory, scope: frozenset[int] | None = None
) -> str:
    """One subscription in words (HTML): its kind and its filters, with names — only those
    inside `scope` (the reader's; None: everything), the others counted."""

    def user(uid: int) -> str | None:
        u = directory.user(uid, scope)
        return None if u is None else f"{u.name} ({u.account})"

    def group(gid: int) -> str | None:
        g = directory.group(gid, scope)
        return None if g is None else g.name

    def org(oid: int) -> str | None:
        o = directory.org(oid, scope)
        return None if o is None else o.name

    parts: list[str] = [t(f"kind-{sub.kind}")]
    if sub.users or sub.groups:
        either: list[str] = []
        if sub.users:
            either.append(t("sub-rec-users", names=_names(t, sub.users, user, scope)))
        if sub.groups:
            either.append(t("sub-rec-groups", names=_names(t, sub.groups, group, scope)))
        if sub.orgs:
            either.append(t("sub-rec-orgs", orgs=_names(t, sub.orgs, org, scope)))
        parts.append(t("sub-or").join(either))
        if sub.scope_org is not None:
            parts.append(t("sub-within", orgs=_names(t, (sub.scope_org,), org, scope)))
    elif sub.orgs:
        parts.append(t("sub-orgs", orgs=_names(t, sub.orgs, org, scope)))
    if sub.levels:
        parts.append(t("sub-levels", levels=", ".join(sub.levels)))
    if sub.words:
        parts.append(t("sub-words", words="、".join(sub.words)))
    return " — ".join(parts)


def scoped_jobs_lines(
    t: T,
    watches: Sequence[Watch],
    reports: Sequence[Report],
    directory: Directory,
    zone: str,
    scope: frozenset[int] | None,
) -> list[str]:
    """/subscriptions: the chat's watches and digests as `bot.render.jobs` words them, with
    the groups and orgs outside the reader's scope left unnamed."""
    seen = [w for w in watches if scope is None or directory.group(w.group_id, scope)]
    lines = chat_jobs_lines(t, seen, [], directory, zone)
    hidden = len(watches) - len(seen)
    if hidden:
        lines.append(f"• {t('outside-scope-watches', count=hidden)}")
    for r in reports:
        if scope is None or r.org_id is None or directory.org(r.org_id, scope) is not None:
            lines += chat_jobs_lines(t, [], [r], directory, zone)
            continue
        where = t.plain("subs-topic", thread=r.thread_id) if r.thread_id else ""
        org = t.plain("outside-scope-org")
        lines.append(f"• {t('report-line-org', time=r.at_time, zone=zone, org=org)}{where}")
    return lines


def follow_lines(
    t: T,
    follows: Sequence[Follow],
    directory: Directory,
    visible: Callable[[Follow], bool],
    tz: tzinfo,
    now: datetime,
) -> list[str]:
    """/subscriptions: the chat's running follows (/follow), soonest end first — who and
    until when (local time; the date too when not today) — those the reader may see
    (`visible`) named, the others counted."""
    lines: list[str] = []
    for f in follows:
        if not visible(f):
            continue
        until = local_time(f.ends_at, tz, now)
        where = t.plain("subs-topic", thread=f.thread_id) if f.thread_id else ""
        who = target_label(directory, f.target_kind, f.target_id)
        lines.append(f"• {t('follow-subs-line', who=who, time=until)}{where}")
    if hidden := sum(1 for f in follows if not visible(f)):
        lines.append(f"• {t('follow-subs-outside-scope', count=hidden)}")
    return lines


@dataclass
class Stored:
    """What `/subscribe` set, for its answer: the watches (new or already, the group, what
    it looks like now), the digest (and its first run), the subscriptions by kind."""

    watches: list[tuple[bool, DirGroup, Observation]] = field(default_factory=list)
    digest: tuple[Report, datetime | None] | None = None
    subs: dict[str, Subscription] = field(default_factory=dict)


def subscribed_text(
    t: T, kinds: Sequence[str], stored: Stored, directory: Directory, settings: Settings
) -> Reply:
    """`/subscribe` done: each kind set, in the order typed, as /watch, /report and
    /subscriptions word it."""
    done: dict[str, list[str]] = {}
    for new, group, obs in stored.watches:
        done.setdefault("presence", []).append(
            watch_text(
                t,
                new,
                group.name,
                obs.online,
                len(group.member_ids),
                settings.bridge.presence_poll_s,
            )
        )
    if stored.digest is not None:
        report, first = stored.digest
        zone = settings.bridge.timezone
        done["attendance"] = [
            report_set_text(t, report, directory, zone, first, settings.bridge.tz)
        ]
    for kind, sub in stored.subs.items():
        done[kind] = [describe(t, sub, directory)]
    return now_receives(t, [line for kind in kinds for line in done.get(kind, [])])


def subscriptions_text(
    t: T,
    rows: Sequence[Subscription],
    extra: Sequence[str],
    directory: Directory,
    scope: frozenset[int] | None,
    muted_until: datetime | None,
) -> Reply:
    """/subscriptions: the chat's subscriptions (named within the reader's `scope`), then
    its watches and digests (`extra`, from `scoped_jobs_lines`), the mute still on (local
    time), and the usage or a hint."""
    lines: list[str] = []
    if not rows and not extra:
        lines.append(t("subs-none"))
    else:
        lines.append(t("subs-title"))
        for s in rows:
            where = t.plain("subs-topic", thread=s.thread_id) if s.thread_id else ""
            lines.append(f"• {describe(t, s, directory, scope)}{where}")
        lines += extra
    if muted_until is not None:
        lines.append("")
        lines.append(t("mute-on", until=muted_until.strftime("%H:%M")))
    lines.append("")
    # The whole usage for a chat that has nothing yet; a one-line hint once it has some.
    if not rows and not extra:
        lines += [t("usage-subscribe"), t("usage-subscribe-words")]
    else:
        lines.append(t("subs-hint"))
    return Reply("\n".join(lines))
