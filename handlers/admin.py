"""Admin chores from the chat: accounts (/register, /deluser), talk groups (/mkgroup,
/bind), terminals (/device) and the audit trail (/audit).

Every argument is checked before a platform call; destructive actions ask to
confirm; every action is written to the audit log (never a password); the
directory is refreshed after each change so /find sees it at once.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.access import Caller, grant_within
from bot.app.services import Clock, UserLocks
from bot.config import Settings
from bot.directory import Directory, Kind, Match
from bot.parsing.registration import MAX_ROWS, REGISTER_START, Row, decode, parse_rows, result_csv
from bot.platform import (
    DeviceState,
    GroupBinding,
    PlatformClient,
    PlatformError,
    PlatformRequestError,
    PlatformTransportError,
)
from bot.render.csvfile import csv_bytes
from bot.render.replies import (
    Reply,
    T,
    audit_text,
    bind_done_text,
    deluser_confirm_text,
    register_done_text,
)
from bot.telegram.callbacks import ConfirmAction, ConfirmCb
from bot.telegram.commands import BY_NAME
from handlers.filters import MinRole
from handlers.reply import answer
from storage.audit import AuditEntry, AuditRepo
from storage.roles import Role, RoleRepo
from storage.users import UserRepo

log = logging.getLogger(__name__)

BATCH = 50  # rows per 2.7 call: well under the size that answers 510
MAX_BAD_SHOWN = 20


class RegisterDialog(StatesGroup):
    rows = State()
    password = State()


def _confirm_kb(t: T, action: ConfirmAction) -> Any:
    kb = InlineKeyboardBuilder()
    kb.button(text=t.plain("btn-confirm"), callback_data=ConfirmCb(action=action, ok=True))
    kb.button(text=t.plain("btn-cancel"), callback_data=ConfirmCb(action=action, ok=False))
    return kb.as_markup()


async def _exactly_one(
    message: Message, t: T, directory: Directory, caller: Caller, query: str, kind: Kind
) -> Match | None:
    """The one entity `query` names in the caller's scope; else say why and return None.

    Admin commands act on exactly what was named: no buttons to pick from.
    """
    found = directory.resolve(query, kind, caller.scope)
    if len(found) == 1:
        return found[0]
    key = "not-found" if not found else "admin-ambiguous"
    names = ", ".join(m.label for m in found[:8])
    await answer(message, Reply(t(key, kind=kind.value, query=query, names=names)))
    return None


async def _refresh(directory: Directory) -> None:
    # Awaited (after the answer), not spawned: the admin's next /find must see the change.
    # `refresh` keeps the last good snapshot and logs when the platform fails; never raises.
    await directory.refresh()


@dataclass
class PendingAudit:
    """What `audited` writes; set `target`/`args` inside the block to what the write made."""

    target: str | None
    args: dict[str, Any]


@asynccontextmanager
async def audited(
    audit: AuditRepo,
    clock: Clock,
    caller: Caller,
    action: str,
    target: str | None,
    args: dict[str, Any],
) -> AsyncIterator[PendingAudit]:
    """`async with audited(audit, clock, caller, action, target, args) as entry:` around a
    platform write: the audit log gets "ok" when the block ends, or the platform's error
    (its first 200 characters) when it refuses; the error then goes on to the error
    handler, which tells the user. What is known only after the write (a new group's id,
    the names deleted) is set on `entry` inside the block: a failure logs what was asked.
    """
    entry = PendingAudit(target, args)
    try:
        yield entry
    except PlatformError as exc:
        await audit.add(caller.user_id, action, entry.target, entry.args, str(exc)[:200], clock())
        raise
    await audit.add(caller.user_id, action, entry.target, entry.args, "ok", clock())


# -- /register --------------------------------------------------------------------------


async def _take_rows(message: Message, t: T, state: FSMContext, text: str) -> None:
    rows, bad = parse_rows(text)
    if bad:
        lines: list[str] = [t("reg-bad", count=len(bad))]
        for b in bad[:MAX_BAD_SHOWN]:
            lines.append(
                t(
                    "reg-bad-row",
                    line=b.line,
                    text=b.text[:60],
                    reason=t.plain(f"reg-why-{b.reason}"),
                )
            )
        if len(bad) > MAX_BAD_SHOWN:
            lines.append(t("and-more", count=len(bad) - MAX_BAD_SHOWN))
        await state.clear()
        await answer(message, Reply("\n".join(lines)))
        return
    if not rows:
        await state.set_state(RegisterDialog.rows)
        await answer(message, Reply(t("usage-register")))
        return
    if len(rows) > MAX_ROWS:
        await state.clear()
        await answer(message, Reply(t("reg-too-many", max=MAX_ROWS)))
        return
    await state.set_state(RegisterDialog.password)
    await state.update_data(register=[[r.line, r.account, r.name] for r in rows])
    await answer(message, Reply(t("reg-ask-password", count=len(rows))))


async def _register_refused(message: Message, caller: Caller, t: T, bot: Bot) -> bool:
    """Say why /register cannot run here, if it cannot; True when refused.

    * A scoped admin: 2.7 creates accounts in the platform token's own org, outside any
      subtree, and its "already exists" would tell them of accounts they may not see.
    * A group: the dialog takes a password, which must never be typed where others read
      it (with privacy mode the bot would not even receive it, so it could not delete it).
      One line with a link that opens the dialog in the private chat instead.
    """
    if caller.scope is not None:
        await answer(message, Reply(t("reg-scoped")))
        return True
    if message.chat.type != ChatType.PRIVATE:
        me = await bot.me()
        link = f"https://t.me/{me.username}?start={REGISTER_START}"
        await answer(message, Reply(t("reg-private-only", link=link)))
        return True
    return False


async def open_register(message: Message, caller: Caller, t: T, state: FSMContext) -> None:
    """`/start register` (the link /register gives in a group): the dialog, here."""
    if not caller.can(Role.ADMIN):
        key = "help-unknown" if caller.role is Role.NONE else "denied"
        await answer(message, Reply(t(key, id=caller.user_id, role=t("role-admin"))))
        return
    assert message.bot is not None
    if await _register_refused(message, caller, t, message.bot):
        return
    await state.set_state(RegisterDialog.rows)
    await answer(message, Reply(t("usage-register")))


async def register(message: Message, caller: Caller, t: T, state: FSMContext, bot: Bot) -> None:
    if await _register_refused(message, caller, t, bot):
        return
    if message.document is not None:
        await _register_file(message, t, state, bot)
        return
    text = message.text or ""
    _, _, rest = text.partition("\n")
    if not rest.strip():
        _, _, rest = text.partition(" ")
    await _take_rows(message, t, state, rest)


async def register_document(message: Message, t: T, state: FSMContext, bot: Bot) -> None:
    await _register_file(message, t, state, bot)


async def _register_file(message: Message, t: T, state: FSMContext, bot: Bot) -> None:
    doc = message.document
    assert doc is not None
    if doc.file_size is not None and doc.file_size > 2 * 1024 * 1024:
        await answer(message, Reply(t("reg-file-too-big")))
        return
    buf = io.BytesIO()
    await bot.download(doc, destination=buf)
    try:
        text = decode(buf.getvalue())
    except ValueError:
        await answer(message, Reply(t("reg-file-encoding")))
        return
    await _take_rows(message, t, state, text)


async def _an_answer(message: Message, bot: Bot) -> bool:
    """Whether a text is an answer to the dialog rather than a command a router takes.

    An answer may start with "/" (a password like "/Pa55word"): left to the catch-all it
    would be echoed back as an unknown command and stay in the chat. Only a command of
    this bot (/cancel, /help …), tested as aiogram's `Command` tests it, is not an answer.
    """
    text = message.text or ""
    if not text.startswith("/"):
        return True
    name, _, mention = text.split()[0][1:].partition("@")
    if name not in BY_NAME:
        return True
    if not mention:
        return False
    me = await bot.me()
    return bool(me.username) and mention.lower() != (me.username or "").lower()


async def register_rows(message: Message, t: T, state: FSMContext) -> None:
    await _take_rows(message, t, state, message.text or "")


async def register_password(
    message: Message,
    caller: Caller,
    t: T,
    lang: str,
    state: FSMContext,
    platform: PlatformClient,
    audit: AuditRepo,
    directory: Directory,
    clock: Clock,
) -> None:
    password = message.text or ""
    # The password must not stay in the chat: delete it before anything else, and if that
    # fails (too old, no right to delete here) say so at once, before the work starts.
    try:
        await message.delete()
    except TelegramAPIError as exc:
        log.warning("could not delete a password message: %s", exc.message)
        await answer(message, Reply(t("reg-password-not-deleted")))
    data = await state.get_data()
    await state.clear()
    rows = [Row(int(line), account, name) for line, account, name in data.get("register", [])]
    if not rows:
        await answer(message, Reply(t("usage-register")))
        return
    if len(password) < 6:
        await answer(message, Reply(t("reg-password-short")))
        return
    progress = await message.answer(t("reg-progress", done=0, total=len(rows)))
    results = await _register_batches(rows, password, platform, lang, progress, t)
    del password
    created = sum(1 for _, o, _, _ in results if o == "created")
    exists = sum(1 for _, o, _, _ in results if o == "exists")
    failed = len(results) - created - exists
    await audit.add(
        caller.user_id,
        "register",
        None,
        {"rows": len(rows), "accounts": [r.account for r in rows][:50]},
        f"created {created}, exists {exists}, failed {failed}",
        clock(),
    )
    summary = t("reg-done", created=created, exists=exists, failed=failed)
    not_created = [(r.account, r.name, why) for r, o, _, why in results if o != "created"]
    await answer(message, Reply(register_done_text(t, summary, not_created)))
    await message.answer_document(
        BufferedInputFile(result_csv(results), filename="register-result.csv"),
        caption=summary,
    )
    await _refresh(directory)


async def _register_batches(
    rows: list[Row],
    password: str,
    platform: PlatformClient,
    lang: str,
    progress: Message,
    t: T,
) -> list[tuple[Row, str, int | None, str]]:
    """Send 2.7 in batches; a batch refused for one existing account is split to tell which."""
    results: list[tuple[Row, str, int | None, str]] = []
    queue = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    done = 0
    while queue:
        batch = queue.pop(0)
        try:
            created = await platform.register_users(
                [r.account for r in batch], [r.name for r in batch], password
            )
        except PlatformError as exc:
            if exc.code == 510 and len(batch) > 1:
                half = len(batch) // 2
                queue[:0] = [batch[:half], batch[half:]]
                continue
            if exc.code == 508 and len(batch) > 1:
                # The whole call was refused for an existing account: find which, row by row.
                queue[:0] = [[r] for r in batch]
                continue
            if exc.code == 508:
                results.append((batch[0], "exists", None, exc.explain(lang)))
            elif exc.code == 535 or isinstance(exc, PlatformRequestError):
                # Same password for all: every remaining row would fail the same way.
                reason = f"{exc.code}: {exc.explain(lang)}"
                rest = batch + [r for b in queue for r in b]
                results += [(r, "failed", None, reason) for r in rest]
                queue.clear()
            elif isinstance(exc, PlatformTransportError):
                # A write that may or may not have happened: never resend it blindly.
                reason = t.plain("reg-unknown", detail=exc.explain(lang))
                results += [(r, "unknown", None, reason) for r in batch]
            else:
                results += [(r, "failed", None, f"{exc.code}: {exc.explain(lang)}") for r in batch]
        else:
            by_account = {u.account.lower(): u for u in created}
            for r in batch:
                u = by_account.get(r.account.lower())
                if u is not None:
                    results.append((r, "created", u.id, ""))
                else:
                    results.append((r, "failed", None, t.plain("reg-not-returned")))
        done = len(results)
        try:
            await progress.edit_text(t("reg-progress", done=done, total=len(rows)))
        except TelegramBadRequest as exc:  # deleted, or not modified: the result still comes
            log.debug("registration progress not shown: %s", exc)
    order = {r.line: i for i, r in enumerate(rows)}
    results.sort(key=lambda x: order[x[0].line])
    return results


# -- /deluser -------------------------------------------------------------------------------


async def deluser(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    directory: Directory,
    state: FSMContext,
) -> None:
    words = (command.args or "").split()
    if not words:
        await answer(message, Reply(t("usage-deluser")))
        return
    chosen: dict[int, str] = {}
    for w in words:
        match = await _exactly_one(message, t, directory, caller, w, Kind.USER)
        if match is None:
            return
        chosen[match.id] = match.label
    # Pending first (an earlier confirmation message stops working at once), then bound to
    # the message that lists exactly these users: Confirm on any other deletes nothing.
    await state.update_data(deluser=sorted(chosen), deluser_msg=None)
    sent = await message.answer(
        deluser_confirm_text(t, chosen), reply_markup=_confirm_kb(t, ConfirmAction.DELETE_USERS)
    )
    await state.update_data(deluser_msg=sent.message_id)


async def deluser_confirm(
    callback: CallbackQuery,
    callback_data: ConfirmCb,
    caller: Caller,
    t: T,
    state: FSMContext,
    platform: PlatformClient,
    directory: Directory,
    audit: AuditRepo,
    user_locks: UserLocks,
    clock: Clock,
) -> None:
    msg = callback.message if isinstance(callback.message, Message) else None
    async with user_locks.of(caller.user_id):
        data = await state.get_data()
        ids: list[int] = []
        if msg is not None and data.get("deluser_msg") == msg.message_id:
            ids = [int(i) for i in data.get("deluser") or []]
            await state.update_data(deluser=None, deluser_msg=None)
    if not ids:
        await callback.answer(t.plain("nothing-pending"))
        return
    await callback.answer()
    if not callback_data.ok:
        if msg:
            await msg.edit_text(t("cancelled"))
        return
    names = {uid: (u.name if (u := directory.user(uid)) else str(uid)) for uid in ids}
    async with audited(audit, clock, caller, "deluser", ",".join(map(str, ids)), {}) as entry:
        await platform.delete_users(ids)
        entry.args = {"names": list(names.values())}
    if msg:
        await msg.edit_text(t("deluser-done", names="、".join(names.values())))
    await _refresh(directory)


# -- /mkgroup, /bind, /device ----------------------------------------------------------------


async def mkgroup(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    audit: AuditRepo,
    clock: Clock,
) -> None:
    words = (command.args or "").split()
    if len(words) < 2 or len(words[0]) > 32:
        await answer(message, Reply(t("usage-mkgroup")))
        return
    name, org_q, user_qs = words[0], words[1], words[2:]
    org = await _exactly_one(message, t, directory, caller, org_q, Kind.ORG)
    if org is None:
        return
    uids: list[int] = []
    for q in user_qs:
        match = await _exactly_one(message, t, directory, caller, q, Kind.USER)
        if match is None:
            return
        uids.append(match.id)
    args = {"name": name, "org": org.id, "users": uids}
    async with audited(audit, clock, caller, "mkgroup", None, args) as entry:
        group = await platform.create_group(name, org.id, uids or None)
        entry.target = str(group.id)
    await answer(
        message,
        Reply(
            t(
                "mkgroup-done",
                name=group.name or name,
                id=group.id,
                org=org.label,
                members=len(uids),
            )
        ),
    )
    await _refresh(directory)


def parse_binding(spec: str) -> tuple[str, int, bool, bool]:
    """`user[:prio[:Y|N[:Y|N]]]` -> (user, priority, may call, may speak); ValueError if wrong."""
    parts = spec.split(":")
    if not parts[0] or len(parts) > 4:
        raise ValueError(spec)
    prio = 10
    if len(parts) > 1:
        if not parts[1].isdigit() or not 1 <= int(parts[1]) <= 10:
            raise ValueError(spec)
        prio = int(parts[1])
    flags = []
    for p in parts[2:]:
        if p.upper() not in ("Y", "N"):
            raise ValueError(spec)
        flags.append(p.upper() == "Y")
    call = flags[0] if flags else True
    speak = flags[1] if len(flags) > 1 else True
    return parts[0], prio, call, speak


async def bind(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    audit: AuditRepo,
    clock: Clock,
) -> None:
    words = (command.args or "").split()
    if len(words) < 2:
        await answer(message, Reply(t("usage-bind")))
        return
    group = await _exactly_one(message, t, directory, caller, words[0], Kind.GROUP)
    if group is None:
        return
    bindings: list[GroupBinding] = []
    labels: list[str] = []
    for spec in words[1:]:
        try:
            q, prio, call, speak = parse_binding(spec)
        except ValueError:
            await answer(message, Reply(t("bind-bad-spec", spec=spec) + "\n" + t("usage-bind")))
            return
        match = await _exactly_one(message, t, directory, caller, q, Kind.USER)
        if match is None:
            return
        bindings.append(GroupBinding(match.id, prio, call, speak))
        labels.append(
            t.plain(
                "bind-line",
                name=match.label,
                priority=prio,
                call=t.plain("yes" if call else "no"),
                speak=t.plain("yes" if speak else "no"),
            )
        )
    gid = group.id
    args = {"users": [b.to_body() for b in bindings]}
    async with audited(audit, clock, caller, "bind", str(gid), args):
        await platform.bind_group(gid, bindings)
    await answer(message, Reply(bind_done_text(t, group.label, labels)))
    await _refresh(directory)


async def device(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    audit: AuditRepo,
    clock: Clock,
) -> None:
    words = (command.args or "").split()
    # 2.11 `id` is a number: ASCII digits only (str.isdigit alone also takes "²").
    if len(words) < 2 or not (words[0].isascii() and words[0].isdigit()) or len(words[0]) > 20:
        await answer(message, Reply(t("usage-device")))
        return
    terminal, action = words[0], words[1].lower()
    account: str | None = None
    if action == "assign" and len(words) == 3:
        match = await _exactly_one(message, t, directory, caller, words[2], Kind.USER)
        if match is None:
            return
        user = directory.user(match.id)
        assert user is not None
        account, state = user.account, DeviceState.ASSIGNED
    elif action == "idle" and len(words) == 2:
        state = DeviceState.IDLE
    elif action == "repair" and len(words) == 2:
        state = DeviceState.REPAIR
    else:
        await answer(message, Reply(t("usage-device")))
        return
    if caller.scope is not None and not await _terminal_in_scope(
        terminal, caller.scope, directory, audit
    ):
        await answer(message, Reply(t("device-not-found", id=terminal)))
        return
    args = {"state": state.name.lower(), "account": account}
    async with audited(audit, clock, caller, "device", terminal, args):
        await platform.bind_device(terminal, state, account)
    await answer(
        message,
        Reply(t(f"device-{state.name.lower()}", id=terminal, account=account or "")),
    )


async def _terminal_in_scope(
    terminal: str, scope: frozenset[int], directory: Directory, audit: AuditRepo
) -> bool:
    """Whether a terminal belongs inside an org subtree.

    The platform has no call that reads a terminal, so the bridge knows a terminal only
    from its own /device: it belongs to the user it was last assigned to here (set idle
    or under repair since, it stays theirs). A terminal never assigned through the bridge,
    or whose user is gone or outside the subtree, is outside it.
    """
    last = await audit.last_ok("device", terminal, state=DeviceState.ASSIGNED.name.lower())
    account = last.args.get("account") if last is not None else None
    if not isinstance(account, str):
        return False
    return any(
        (u := directory.user(m.id, scope)) is not None and u.account == account
        for m in directory.resolve(account, Kind.USER, scope)
    )


# -- /audit ---------------------------------------------------------------------------------


async def _audit_actors(caller: Caller, roles: RoleRepo, settings: Settings) -> list[int] | None:
    """Whose entries the caller sees in /audit: None for all (an unscoped admin).

    A scoped admin sees the entries of the people whose role is held inside their subtree,
    themselves included: everything those could do stayed inside it. Not the bridge's own,
    not those of unscoped roles or of the settings' admins (they may concern anything),
    nor of people who hold no role now. An actor's entries follow their grant as it is
    today: entries of someone later moved into the subtree show, those of someone moved
    out do not.
    """
    if caller.scope is None:
        return None
    admins = set(settings.bridge.admin_ids)
    return [
        g.user_id
        for g in await roles.list()
        if g.user_id not in admins and grant_within(g, caller.scope)
    ]


async def audit_log(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    audit: AuditRepo,
    roles: RoleRepo,
    settings: Settings,
    users: UserRepo,
    clock: Clock,
) -> None:
    arg = (command.args or "").strip().lower()
    tz = settings.bridge.tz
    actors = await _audit_actors(caller, roles, settings)
    if arg == "csv":
        since = clock() - timedelta(days=90)
        entries = await audit.all_since(since, actors)
        rows: list[list[object]] = []
        for e in entries:
            seen = await users.get(e.actor_id) if e.actor_id else None
            rows.append(
                [
                    e.at.astimezone(tz).isoformat(timespec="seconds"),
                    e.actor_id or "",
                    seen.full_name if seen else "",
                    e.action,
                    e.target or "",
                    e.args,
                    e.result,
                ]
            )
        header = ["at", "actor_id", "actor", "action", "target", "args", "result"]
        data = csv_bytes(header, rows)  # every cell neutralised: names are typed by anyone
        await message.answer_document(
            BufferedInputFile(data, filename="audit.csv"),
            caption=t("audit-csv", count=len(entries)),
        )
        return
    if arg and not (arg.isascii() and arg.isdigit()):  # not "²", which int() refuses
        await answer(message, Reply(t("usage-audit")))
        return
    n = min(int(arg or 20), 200)
    entries = await audit.latest(n, actors)
    if not entries:
        await answer(message, Reply(t("audit-none")))
        return
    shown: list[tuple[AuditEntry, str]] = []
    for e in entries:
        seen = await users.get(e.actor_id) if e.actor_id else None
        who = seen.full_name if seen else (str(e.actor_id) if e.actor_id else "bridge")
        shown.append((e, who))
    await answer(message, Reply(audit_text(t, shown, tz)))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.filter(MinRole(Role.ADMIN))
    r.callback_query.filter(MinRole(Role.ADMIN))
    r.message.register(register, Command("register"))
    r.message.register(register_document, RegisterDialog.rows, F.document)
    r.message.register(register_rows, RegisterDialog.rows, F.text, _an_answer)
    r.message.register(register_password, RegisterDialog.password, F.text, _an_answer)
    r.message.register(deluser, Command("deluser"))
    r.callback_query.register(
        deluser_confirm, ConfirmCb.filter(F.action == ConfirmAction.DELETE_USERS)
    )
    r.message.register(mkgroup, Command("mkgroup"))
    r.message.register(bind, Command("bind"))
    r.message.register(device, Command("device"))
    r.message.register(audit_log, Command("audit"))
    return r
