"""The Acknowledge button under relayed incidents: first press recorded, every copy edited.

A press is judged by the message it came from (a copy of that incident the bridge sent to
that chat) and by who pressed it (their role and org scope), never by the button's data.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery

from bot.access import Caller
from bot.config import Settings
from bot.relay.service import Relay
from bot.render.replies import T
from bot.telegram.callbacks import AckCb
from handlers.filters import MinRole
from storage.audit import AuditRepo
from storage.roles import Role


async def acknowledge(
    callback: CallbackQuery,
    callback_data: AckCb,
    caller: Caller,
    t: T,
    relay: Relay,
    audit: AuditRepo,
    settings: Settings,
) -> None:
    message = callback.message
    if message is None:  # a button of an inline message: never one the bridge sent
        await callback.answer(t.plain("ack-refused"), show_alert=True)
        return
    ack = await relay.acknowledge(
        callback_data.incident,
        caller.user_id,
        callback.from_user.full_name,
        chat_id=message.chat.id,
        message_id=message.message_id,
        scope=caller.scope,
    )
    incident = ack.incident
    if ack.outcome == "refused":
        await callback.answer(t.plain("ack-refused"), show_alert=True)
        return
    if incident is None:
        await callback.answer(t.plain("ack-unknown"), show_alert=True)
        return
    if ack.outcome == "done":
        assert incident.acked_at is not None
        await audit.add(
            caller.user_id, "acknowledge", incident.dedupe_key, {}, "first", incident.acked_at
        )
        await callback.answer(t.plain("ack-done"))
        return
    at = (
        incident.acked_at.astimezone(settings.bridge.tz).strftime("%H:%M")
        if incident.acked_at
        else "?"
    )
    await callback.answer(
        t.plain("ack-already", name=incident.acked_by_name or "?", time=at), show_alert=True
    )


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.callback_query.filter(MinRole(Role.VIEWER))
    r.callback_query.register(acknowledge, AckCb.filter())
    return r
