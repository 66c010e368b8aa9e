"""Button answers, chat actions, chats and their members, files."""

from __future__ import annotations

from bot.sandbox.telegram.checks import EmulatorChecks
from bot.sandbox.telegram.constants import CALLBACK_ANSWER_LIMIT, CHAT_ACTIONS, JSON
from bot.sandbox.telegram.html import utf16_len
from bot.sandbox.telegram.model import CallbackAnswer, EmuChat, EmuUser
from bot.sandbox.telegram.params import Params, bad_request


class ChatMethods(EmulatorChecks):
    """Button answers, chat actions, chats and their members, files."""

    # ------------------------------------------------------------------ methods: misc

    async def _m_answer_callback_query(self, p: Params) -> bool:
        query_id = p.str_("callback_query_id", required=True, missing="query_id is empty") or ""
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.str_("text")
        if text is not None and utf16_len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                data=query.data,
                user_id=query.user_id,
                text=text,
                show_alert=p.bool_("show_alert"),
                url=p.str_("url"),
                cache_time=p.int_("cache_time"),
                time=self._clock(),
            )
        )
        return True

    async def _m_send_chat_action(self, p: Params) -> bool:
        chat = self._writable_chat(p)
        self._thread(chat, p)
        action = p.str_("action", required=True, missing='parameter "action" is required')
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _m_get_chat(self, p: Params) -> JSON:
        chat = self._lookup_chat(p)
        info: JSON = {
            **chat.to_api(),
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }
        if chat.type == "private" and chat.user is not None:
            info.setdefault("first_name", chat.user.first_name)
        if chat.is_group:
            info["permissions"] = {
                "can_send_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_invite_users": True,
            }
        return info

    def _member(self, chat: EmuChat, user_id: int) -> JSON:
        if user_id == self.bot_user.id:
            user = self.bot_user
            if chat.is_group and chat.bot_is_admin:
                return _administrator(user, can_be_edited=False)
            return {"status": "member", "user": user.to_api()}
        user_or_none = self._users.get(user_id)
        if user_or_none is None:
            raise bad_request("PARTICIPANT_ID_INVALID")
        user = user_or_none
        if chat.type == "private":
            if user_id != chat.id:
                raise bad_request("user not found")
            return {"status": "member", "user": user.to_api()}
        if user_id == chat.owner_id:
            return {"status": "creator", "user": user.to_api(), "is_anonymous": False}
        if user_id in chat.admins:
            return _administrator(user, can_be_edited=chat.bot_is_admin)
        if user_id in chat.members:
            return {"status": "member", "user": user.to_api()}
        return {"status": "left", "user": user.to_api()}

    async def _m_get_chat_member(self, p: Params) -> JSON:
        chat = self._lookup_chat(p)
        user_id = p.int_("user_id", required=True, missing="user_id is empty") or 0
        return self._member(chat, user_id)

    async def _m_get_chat_administrators(self, p: Params) -> list[JSON]:
        chat = self._lookup_chat(p)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        ids: list[int] = []
        if chat.owner_id is not None:
            ids.append(chat.owner_id)
        ids.extend(sorted(a for a in chat.admins if a != chat.owner_id))
        result = [self._member(chat, i) for i in ids if i in self._users]
        if chat.bot_is_admin:
            result.append(self._member(chat, self.bot_user.id))
        return result

    async def _m_get_chat_member_count(self, p: Params) -> int:
        chat = self._lookup_chat(p)
        if chat.type == "private":
            return 2
        return len(chat.members | chat.admins) + 1

    async def _m_get_file(self, p: Params) -> JSON:
        file_id = (p.str_("file_id", required=True, missing="file_id is empty") or "").strip()
        stored = self._files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size is not None and stored.size > self.max_download_bytes:
            raise bad_request("file is too big")
        info: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.size is not None:
            info["file_size"] = stored.size
        if stored.file_path is not None:
            info["file_path"] = stored.file_path
        return info


def _administrator(user: EmuUser, *, can_be_edited: bool) -> JSON:
    return {
        "status": "administrator",
        "user": user.to_api(),
        "can_be_edited": can_be_edited,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": False,
        "can_edit_stories": False,
        "can_delete_stories": False,
        "can_send_welcome_messages": False,
        "can_pin_messages": True,
        "can_manage_topics": False,
    }
