"""Editing and deleting messages."""

from __future__ import annotations

import contextlib

from bot.sandbox.telegram.checks import EmulatorChecks
from bot.sandbox.telegram.constants import JSON, NOT_MODIFIED
from bot.sandbox.telegram.model import LIVE_FOREVER, EmuChat, EmuEdit, EmuMessage
from bot.sandbox.telegram.params import ApiError, Params, bad_request


class EditingMethods(EmulatorChecks):
    """Editing and deleting messages."""

    # ------------------------------------------------------------------ methods: editing

    def _edit_target(self, p: Params) -> EmuMessage:
        if p.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        if not p.has("chat_id"):
            raise bad_request("chat_id is empty")
        chat = self._writable_chat(p)
        message_id = p.int_(
            "message_id", required=True, missing="message identifier is not specified"
        )
        msg = self._history.get(chat.id, {}).get(message_id or 0)
        if msg is None or msg.deleted:
            raise bad_request("message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        return msg

    def _apply_edit(self, msg: EmuMessage, method: str) -> JSON:
        msg.edit_date = int(self._wallclock())
        msg.edits.append(
            EmuEdit(
                method=method,
                time=self._clock(),
                text=msg.text,
                caption=msg.caption,
                reply_markup=msg.reply_markup,
                location=msg.location,
            )
        )
        self._emit("edited", msg)
        return self.message_api(msg)

    async def _m_edit_message_text(self, p: Params) -> JSON:
        msg = self._edit_target(p)
        raw, visible, entities, parse_mode = self._text(p)
        markup = self._markup(p, inline_only=True)
        if msg.kind != "text":
            raise bad_request("there is no text in the message to edit")
        if visible == msg.visible_text and entities == msg.entities and markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self._flood(self._chats[msg.chat_id])
        msg.text, msg.visible_text, msg.entities, msg.parse_mode = (
            raw,
            visible,
            entities,
            parse_mode,
        )
        msg.reply_markup = markup
        return self._apply_edit(msg, "editMessageText")

    async def _m_edit_message_caption(self, p: Params) -> JSON:
        msg = self._edit_target(p)
        raw, visible, entities, parse_mode = self._caption(p)
        markup = self._markup(p, inline_only=True)
        if msg.kind in ("text", "location", "venue", "service"):
            raise bad_request("there is no caption in the message to edit")
        if (
            visible == msg.visible_caption
            and entities == msg.caption_entities
            and markup == msg.reply_markup
        ):
            raise bad_request(NOT_MODIFIED)
        self._flood(self._chats[msg.chat_id])
        msg.caption, msg.visible_caption, msg.caption_entities = raw, visible, entities
        msg.parse_mode = parse_mode
        msg.reply_markup = markup
        return self._apply_edit(msg, "editMessageCaption")

    async def _m_edit_message_reply_markup(self, p: Params) -> JSON:
        msg = self._edit_target(p)
        markup = self._markup(p, inline_only=True)
        if markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self._flood(self._chats[msg.chat_id])
        msg.reply_markup = markup
        return self._apply_edit(msg, "editMessageReplyMarkup")

    def _live_target(self, p: Params) -> EmuMessage:
        """A live location the bot may still move: not stopped, its period not over."""
        msg = self._edit_target(p)
        if msg.live_state(self._clock()) != "live":
            raise bad_request("message can't be edited")
        return msg

    def _live_period(self, msg: EmuMessage, requested: int | None) -> int:
        """Bot API 7.x: a new period counts from the send date, ends in the future and is
        at most a day longer than the current one; none given keeps the current one."""
        assert msg.location is not None and msg.live_since is not None
        current = msg.location.live_period or 0
        if requested is None or requested == current:
            return current
        if requested != LIVE_FOREVER and (
            (current != LIVE_FOREVER and requested > current + 86400)
            or msg.live_since + requested <= self._clock()
        ):
            raise bad_request("wrong live period specified")
        return requested

    async def _m_edit_message_live_location(self, p: Params) -> JSON:
        msg = self._live_target(p)
        location = self._location(p)
        location.live_period = self._live_period(msg, location.live_period)
        markup = self._markup(p, inline_only=True)
        if location == msg.location and markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self._flood(self._chats[msg.chat_id])
        msg.location = location
        msg.positions.append(location)
        msg.reply_markup = markup
        return self._apply_edit(msg, "editMessageLiveLocation")

    async def _m_stop_message_live_location(self, p: Params) -> JSON:
        msg = self._live_target(p)
        markup = self._markup(p, inline_only=True)
        self._flood(self._chats[msg.chat_id])
        msg.live_stopped = True
        msg.reply_markup = markup
        return self._apply_edit(msg, "stopMessageLiveLocation")

    def _delete(self, chat: EmuChat, message_id: int) -> None:
        msg = self._history.get(chat.id, {}).get(message_id)
        if msg is None or msg.deleted:
            raise bad_request("message to delete not found")
        if not msg.from_bot and chat.is_group and not chat.bot_is_admin:
            raise bad_request("message can't be deleted")
        msg.deleted = True
        self._emit("deleted", msg)

    async def _m_delete_message(self, p: Params) -> bool:
        chat = self._writable_chat(p)
        message_id = p.int_(
            "message_id", required=True, missing="message identifier is not specified"
        )
        self._delete(chat, message_id or 0)
        return True

    async def _m_delete_messages(self, p: Params) -> bool:
        chat = self._writable_chat(p)
        ids = p.json_("message_ids", "message identifiers")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= 100
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise bad_request("can't parse message identifiers JSON object")
        for message_id in ids:
            with contextlib.suppress(ApiError):
                self._delete(chat, message_id)
        return True
