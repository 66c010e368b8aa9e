"""Renderers: plain data in, HTML text and inline keyboards out. No Telegram calls here.

Every platform-provided string goes through `esc`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.directory import DirGroup, DirOrg, DirUser, Kind, Match
from bot.i18n import Translate
from bot.platform.errors import error_for
from bot.platform.models import UserInfo
from bot.render.text import esc
from bot.telegram.callbacks import GroupsCb, OnlineCb, PickAction, PickCb
from storage.notices import NoticeJob
from storage.roles import Grant

T = Translate
GROUPS_PER_PAGE = 10
ORG_USERS_SHOWN = 50
KIND_ICON = {Kind.USER: "👤", Kind.GROUP: "👥", Kind.ORG: "🏢"}


@dataclass(frozen=True)
class Reply:
    text: str
    keyboard: InlineKeyboardMarkup | None = None


def choices(t: T, matches: Sequence[Match], action: PickAction, query: str) -> Reply:
    """An ambiguous name: up to 8 buttons and a hint to refine."""
    kb = InlineKeyboardBuilder()
    for m in matches[:8]:
        kb.button(
            text=f"{KIND_ICON[m.kind]} {m.label}",
            callback_data=PickCb(action=action, kind=m.kind, id=m.id),
        )
    kb.adjust(1)
    return Reply(t("ambiguous", count=len(matches), query=esc(query)), kb.as_markup())


def find_results(t: T, query: str, matches: Sequence[Match]) -> Reply:
    if not matches:
        return Reply(t("find-none", query=esc(query)))
    lines: list[str] = [t("find-title", query=esc(query), count=len(matches))]
    kb = InlineKeyboardBuilder()
    for m in matches:
        lines.append(f"{KIND_ICON[m.kind]} {esc(m.label)} <code>{m.id}</code>")
    for m in matches[:8]:
        action = {
            Kind.USER: PickAction.USER,
            Kind.GROUP: PickAction.ONLINE,
            Kind.ORG: PickAction.ORG,
        }[m.kind]
        kb.button(
            text=f"{KIND_ICON[m.kind]} {m.label}",
            callback_data=PickCb(action=action, kind=m.kind, id=m.id),
        )
    kb.adjust(2)
    return Reply("\n".join(lines), kb.as_markup())


def groups_page(t: T, groups: Sequence[DirGroup], page: int) -> Reply:
    if not groups:
        return Reply(t("groups-none"))
    pages = max(1, -(-len(groups) // GROUPS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    chunk = groups[page * GROUPS_PER_PAGE : (page + 1) * GROUPS_PER_PAGE]
    lines: list[str] = [t("groups-title", count=len(groups), page=page + 1, pages=pages)]
    kb = InlineKeyboardBuilder()
    for g in chunk:
        lines.append(
            f"👥 {esc(g.name)} <code>{g.id}</code> · {t('members', count=len(g.member_ids))}"
        )
        kb.button(text=f"👥 {g.name}", callback_data=OnlineCb(gid=g.id))
    kb.adjust(2)
    nav = []
    if page > 0:
        nav.append(("◀", GroupsCb(page=page - 1)))
    if page < pages - 1:
        nav.append(("▶", GroupsCb(page=page + 1)))
    if nav:
        row = InlineKeyboardBuilder()
        for text, cb in nav:
            row.button(text=text, callback_data=cb)
        kb.attach(row)
    return Reply("\n".join(lines), kb.as_markup())


def online_view(
    t: T,
    group: DirGroup,
    in_group: Sequence[DirUser],
    elsewhere: Sequence[DirUser],
    offline: Sequence[DirUser],
    at: str,
) -> Reply:
    def names(users: Sequence[DirUser]) -> str:
        if not users:
            return "  —"
        return "\n".join(f"  {esc(u.name)} <code>{esc(u.account)}</code>" for u in users)

    text = "\n".join(
        [
            f"👥 <b>{esc(group.name)}</b> <code>{group.id}</code>",
            t("online-counts", here=len(in_group), elsewhere=len(elsewhere), offline=len(offline)),
            "",
            f"🟢 <b>{t('online-here')}</b> ({len(in_group)})",
            names(in_group),
            f"🟡 <b>{t('online-elsewhere')}</b> ({len(elsewhere)})",
            names(elsewhere),
            f"⚪ <b>{t('online-offline')}</b> ({len(offline)})",
            names(offline),
            "",
            f"<i>{t('updated-at', time=at)}</i>",
        ]
    )
    kb = InlineKeyboardBuilder()
    kb.button(text=t("btn-refresh"), callback_data=OnlineCb(gid=group.id, refresh=True))
    return Reply(text, kb.as_markup())


def user_details(
    t: T,
    info: UserInfo,
    org_path: Sequence[DirOrg],
    groups: Sequence[tuple[int, str]],
) -> Reply:
    state = t("state-online") if info.online else t("state-offline")
    lines: list[str] = [
        f"👤 <b>{esc(info.name)}</b> <code>{info.id}</code>",
        f"{t('label-account')}: <code>{esc(info.account)}</code>",
    ]
    if info.pinyin:
        # The platform writes "abbr|full"; the full form is what people read.
        lines.append(f"{t('label-pinyin')}: {esc(info.pinyin.rpartition('|')[2])}")
    lines.append(f"{t('label-status')}: {state}")
    if org_path:
        lines.append(f"{t('label-org')}: " + " › ".join(esc(o.name) for o in org_path))
    if info.priority is not None:
        lines.append(f"{t('label-priority')}: {info.priority}")
    if info.role_name:
        lines.append(f"{t('label-role')}: {esc(info.role_name)}")
    if groups:
        lines.append(f"{t('label-groups')} ({len(groups)}):")
        lines.extend(f"  👥 {esc(name)} <code>{gid}</code>" for gid, name in groups)
    kb = InlineKeyboardBuilder()
    for gid, name in groups[:6]:
        kb.button(text=f"👥 {name}", callback_data=OnlineCb(gid=gid))
    kb.adjust(2)
    return Reply("\n".join(lines), kb.as_markup() if groups else None)


def org_details(
    t: T,
    org: DirOrg,
    path: Sequence[DirOrg],
    sub_orgs: Sequence[DirOrg],
    groups: Sequence[DirGroup],
    users: Sequence[tuple[str, str, bool]],
) -> Reply:
    """`users` are (name, account, online) from 2.13."""
    online = sum(1 for _, _, on in users if on)
    lines: list[str] = [f"🏢 <b>{esc(org.name)}</b> <code>{org.id}</code>"]
    if len(path) > 1:
        lines.append(f"{t('label-path')}: " + " › ".join(esc(o.name) for o in path))
    if org.address:
        lines.append(f"{t('label-address')}: {esc(org.address)}")
    if org.remark:
        lines.append(f"{t('label-remark')}: {esc(org.remark)}")
    lines.append(t("org-counts", users=len(users), online=online, groups=len(groups)))
    if sub_orgs:
        lines.append(f"<b>{t('label-sub-orgs')}</b> ({len(sub_orgs)}):")
        lines.extend(f"  🏢 {esc(o.name)} <code>{o.id}</code>" for o in sub_orgs)
    if groups:
        lines.append(f"<b>{t('label-groups')}</b> ({len(groups)}):")
        lines.extend(f"  👥 {esc(g.name)} <code>{g.id}</code>" for g in groups)
    if users:
        lines.append(f"<b>{t('label-users')}</b> ({len(users)}):")
        ordered = sorted(users, key=lambda u: not u[2])
        for name, account, on in ordered[:ORG_USERS_SHOWN]:
            lines.append(f"  {'🟢' if on else '⚪'} {esc(name)} <code>{esc(account)}</code>")
        if len(users) > ORG_USERS_SHOWN:
            lines.append("  " + t("and-more", count=len(users) - ORG_USERS_SHOWN))
    kb = InlineKeyboardBuilder()
    for o in sub_orgs[:8]:
        kb.button(
            text=f"🏢 {o.name}", callback_data=PickCb(action=PickAction.ORG, kind=Kind.ORG, id=o.id)
        )
    for g in groups[:8]:
        kb.button(text=f"👥 {g.name}", callback_data=OnlineCb(gid=g.id))
    kb.adjust(2)
    return Reply("\n".join(lines), kb.as_markup() if (sub_orgs or groups) else None)


def deluser_confirm_text(t: T, chosen: Mapping[int, str]) -> str:
    """/deluser's question: the users (id → label) a Confirm would delete."""
    lines: list[str] = [t("deluser-confirm", count=len(chosen))]
    lines += [f"• {esc(label)} <code>{uid}</code>" for uid, label in chosen.items()]
    return "\n".join(lines)


def roles_text(
    t: T,
    settings_admins: Sequence[tuple[int, str | None]],
    grants: Sequence[tuple[Grant, str | None, str | None]],
) -> str:
    """/roles: the settings' admins as (id, name seen or None), then the grants as (grant,
    name seen or None, name of its org or None when the directory does not know it)."""
    lines: list[str] = [t("roles-title")]
    for uid, name in settings_admins:
        who = esc(name) if name is not None else "—"
        lines.append(f"<code>{uid}</code> {who}: {t('role-admin')} ({t('role-from-settings')})")
    for g, name, org in grants:
        who = esc(name) if name is not None else "—"
        where = ""
        if g.org_id is not None:
            where = " · " + (esc(org) if org is not None else f"org {esc(g.org_id)}")
        lines.append(f"<code>{g.user_id}</code> {who}: {t(f'role-{g.role.label}')}{where}")
    lines.append("")
    lines.append(t("usage-role"))
    return "\n".join(lines)


def org_ids_text(t: T, query: str, found: Sequence[Match]) -> str:
    """The orgs a query names, with the ids to type (or that it names none)."""
    if not found:
        return t("not-found", kind="org", query=query)
    return "\n".join(f"{KIND_ICON[Kind.ORG]} {esc(m.label)} <code>{m.id}</code>" for m in found)


# ----------------------------------------------------------- /subscribe and the chat's settings


def usage_at(t: T, usage_key: str, word: str = "") -> Reply:
    """A command that does not read: the word it stopped at, if any, then its usage."""
    why = [t("err-word-here", text=word)] if word else []
    return Reply("\n".join([*why, t(usage_key)]))


def not_one(t: T, kind: str, query: str | int) -> Reply:
    """A name that means nobody (one that means several gets pick buttons instead)."""
    return Reply(t("not-found", kind=kind, query=query))


def scope_refused(t: T, wider: Sequence[str]) -> Reply:
    """What a scoped person may not change here: set by someone with a wider reach."""
    return Reply("\n".join(t("scope-wider", kind=w) for w in wider))


def now_receives(t: T, lines: Sequence[str]) -> Reply:
    """`/subscribe` done: what this chat (topic) now receives, one line each."""
    return Reply("\n".join([t("sub-done"), *(f"• {line}" for line in lines)]))


REGISTER_NOT_CREATED_SHOWN = 21


def register_done_text(t: T, summary: str, not_created: Sequence[tuple[str, str, str]]) -> str:
    """/register's result: `summary`, then the rows not created as (account, name, reason),
    the first 21 of them."""
    lines: list[str] = [summary]
    for account, name, reason in not_created:
        lines.append(f"• {esc(account)} {esc(name)}: {esc(reason)}")
        if len(lines) > REGISTER_NOT_CREATED_SHOWN:
            lines.append(t("and-more", count=len(not_created) - 20))
            break
    return "\n".join(lines)


def bind_done_text(t: T, group: str, bindings: Sequence[str]) -> str:
    """/bind's result: the talk group, then one line per binding (already worded)."""
    return "\n".join([t("bind-done", group=group), *(f"• {esc(b)}" for b in bindings)])


# ----------------------------------------------------------- /broadcast


def notice_platform_line(t: T, job: NoticeJob, lang: str) -> str:
    """What became of the notice on the platform (2.15), in the admin's language."""
    if job.state == "sent":
        return t("bc-platform-ok")
    if job.state == "pending":  # could not connect: tried again every 30 s
        return t("bc-platform-retrying")
    if job.error_code:
        explained = error_for(job.error_code, job.error_message or "").explain(lang)
        server = job.error_message or ""
        detail = explained + (f" — {server}" if server and server != explained else "")
        return t("bc-platform-failed", detail=f"{detail} · {job.error_code}")
    if job.attempts:
        return t("bc-platform-gave-up")
    return t("bc-platform-unknown")


def notice_sent_text(t: T, job: NoticeJob, chats: int, lang: str) -> str:
    """/broadcast confirmed: sent, what the platform made of it, how many chats get it."""
    return "\n".join(
        [t("bc-sent-head"), notice_platform_line(t, job, lang), t("bc-chats", count=chats)]
    )
