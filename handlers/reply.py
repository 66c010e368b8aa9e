"""Sending renderer output: long text split under Telegram's limit, keyboard on the last part."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from bot.render.replies import Reply
from bot.render.text import split_html


async def answer(message: Message, reply: Reply) -> Message:
    """Reply in the message's chat (and forum topic); returns the last message sent."""
    parts = split_html(reply.text)
    sent = message
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        sent = await message.answer(part, reply_markup=reply.keyboard if last else None)
    return sent


async def edit(callback: CallbackQuery, reply: Reply) -> None:
    """Edit the message whose button was pressed; a reply too long to edit is sent anew."""
    msg = callback.message
    if msg is None or isinstance(msg, InaccessibleMessage):
        return
    parts = split_html(reply.text)
    if len(parts) > 1:
        await answer(msg, reply)
        return
    try:
        await msg.edit_text(reply.text, reply_markup=reply.keyboard)
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:  # pressing Refresh twice in a second is fine
            raise
