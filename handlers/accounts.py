"""Accounts from the chat (admin): /register (lines `account,name` or a CSV file, then a
password, in private chat only) and /deluser (asks to confirm).
"""

from __future__ import annotations

import io
import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.access import Caller
from bot.app.services import UserLocks
from bot.directory import Kind
from bot.parsing.registration import MAX_ROWS, REGISTER_START, Row, decode, parse_rows, result_csv
from bot.platform import PlatformClient, PlatformError, PlatformRequestError, PlatformTransportError
from bot.render.replies import Reply, T, deluser_confirm_text, register_done_text
from bot.telegram.callbacks import ConfirmAction, ConfirmCb
from bot.telegram.commands import BY_NAME
from handlers.admin import admin_router, arguments, audited, confirm_kb, exactly_one, refresh
from handlers.lookup import CommandContext
from handlers.reply import answer
from storage.roles import Role

log = logging.getLogger(__name__)

BATCH = 50  # rows per 2.7 call: well under the size that answers 510
MAX_BAD_SHOWN = 20


class RegisterDialog(StatesGroup):
    rows = State()
    password = State()


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


async def register_password(message: Message, ctx: CommandContext, state: FSMContext) -> None:
    t = ctx.t
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
    results = await _register_batches(rows, password, ctx.platform, ctx.lang, progress, t)
    del password
    created = sum(1 for _, o, _, _ in results if o == "created")
    exists = sum(1 for _, o, _, _ in results if o == "exists")
    failed = len(results) - created - exists
    await ctx.audit.add(
        ctx.caller.user_id,
        "register",
        None,
        {"rows": len(rows), "accounts": [r.account for r in rows][:50]},
        f"created {created}, exists {exists}, failed {failed}",
        ctx.clock(),
    )
    summary = t("reg-done", created=created, exists=exists, failed=failed)
    not_created = [(r.account, r.name, why) for r, o, _, why in results if o != "created"]
    await answer(message, Reply(register_done_text(t, summary, not_created)))
    await message.answer_document(
        BufferedInputFile(result_csv(results), filename="register-result.csv"),
        caption=summary,
    )
    await refresh(ctx.directory)


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
    message: Message, command: CommandObject, ctx: CommandContext, state: FSMContext
) -> None:
    t = ctx.t
    words = await arguments(message, command, t, "usage-deluser", bool)
    if words is None:
        return
    chosen: dict[int, str] = {}
    for w in words:
        match = await exactly_one(message, ctx, w, Kind.USER)
        if match is None:
            return
        chosen[match.id] = match.label
    # Pending first (an earlier confirmation message stops working at once), then bound to
    # the message that lists exactly these users: Confirm on any other deletes nothing.
    await state.update_data(deluser=sorted(chosen), deluser_msg=None)
    sent = await message.answer(
        deluser_confirm_text(t, chosen), reply_markup=confirm_kb(t, ConfirmAction.DELETE_USERS)
    )
    await state.update_data(deluser_msg=sent.message_id)


async def deluser_confirm(
    callback: CallbackQuery,
    callback_data: ConfirmCb,
    ctx: CommandContext,
    state: FSMContext,
    user_locks: UserLocks,
) -> None:
    t = ctx.t
    msg = callback.message if isinstance(callback.message, Message) else None
    async with user_locks.of(ctx.caller.user_id):
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
    names = {uid: (u.name if (u := ctx.directory.user(uid)) else str(uid)) for uid in ids}
    async with audited(ctx, "deluser", ",".join(map(str, ids)), {}) as entry:
        await ctx.platform.delete_users(ids)
        entry.args = {"names": list(names.values())}
    if msg:
        await msg.edit_text(t("deluser-done", names="、".join(names.values())))
    await refresh(ctx.directory)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = admin_router(__name__)
    r.message.register(register, Command("register"))
    r.message.register(register_document, RegisterDialog.rows, F.document)
    r.message.register(register_rows, RegisterDialog.rows, F.text, _an_answer)
    r.message.register(register_password, RegisterDialog.password, F.text, _an_answer)
    r.message.register(deluser, Command("deluser"))
    r.callback_query.register(
        deluser_confirm, ConfirmCb.filter(F.action == ConfirmAction.DELETE_USERS)
    )
    return r
