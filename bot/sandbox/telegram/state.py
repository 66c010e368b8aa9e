"""The emulator's state and what changes it: the world, the update queue, the files."""

from __future__ import annotations

import asyncio
import mimetypes
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import (
    ClientSession,
    web,
)

from bot.sandbox.telegram.constants import FILE_DIR, FILE_ID_PREFIX, JSON, OPT_IN_UPDATES, logger
from bot.sandbox.telegram.flood import Window
from bot.sandbox.telegram.html import COMMAND_RE
from bot.sandbox.telegram.media import image_size, ogg_duration
from bot.sandbox.telegram.model import (
    ApiCall,
    CallbackAnswer,
    EmuChat,
    EmuFile,
    EmuMessage,
    EmuUser,
    Fault,
    Listener,
    PendingQuery,
    Poll,
    WebhookTarget,
)
from bot.sandbox.telegram.params import ApiError, Handler, Params, bad_request

# Each Bot API method and the emulator's handler of it (on a mixin of `methods/`).
API_METHODS: Final[Mapping[str, str]] = {
    "getMe": "_m_get_me",
    "getUpdates": "_m_get_updates",
    "setWebhook": "_m_set_webhook",
    "deleteWebhook": "_m_delete_webhook",
    "getWebhookInfo": "_m_get_webhook_info",
    "setMyCommands": "_m_set_my_commands",
    "getMyCommands": "_m_get_my_commands",
    "deleteMyCommands": "_m_delete_my_commands",
    "setChatMenuButton": "_m_set_chat_menu_button",
    "getChatMenuButton": "_m_get_chat_menu_button",
    "sendMessage": "_m_send_message",
    "editMessageText": "_m_edit_message_text",
    "editMessageCaption": "_m_edit_message_caption",
    "editMessageReplyMarkup": "_m_edit_message_reply_markup",
    "editMessageLiveLocation": "_m_edit_message_live_location",
    "stopMessageLiveLocation": "_m_stop_message_live_location",
    "deleteMessage": "_m_delete_message",
    "deleteMessages": "_m_delete_messages",
    "answerCallbackQuery": "_m_answer_callback_query",
    "sendChatAction": "_m_send_chat_action",
    "sendLocation": "_m_send_location",
    "sendVenue": "_m_send_venue",
    "sendPhoto": "_m_send_photo",
    "sendDocument": "_m_send_document",
    "sendAudio": "_m_send_audio",
    "sendVoice": "_m_send_voice",
    "sendVideo": "_m_send_video",
    "sendAnimation": "_m_send_animation",
    "sendMediaGroup": "_m_send_media_group",
    "copyMessage": "_m_copy_message",
    "forwardMessage": "_m_forward_message",
    "getChat": "_m_get_chat",
    "getChatMember": "_m_get_chat_member",
    "getChatAdministrators": "_m_get_chat_administrators",
    "getChatMemberCount": "_m_get_chat_member_count",
    "getFile": "_m_get_file",
}


class EmulatorState:
    """The emulator's state and what changes it: the world, the update queue, the files.

    `TelegramEmulator` is built on it, with the driver (`driver.py`) and one mixin per family
    of API methods (`methods/`); `API_METHODS` names the handler of each Bot API method.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        bot_username: str = "pttbridge_bot",
        bot_id: int | None = None,
        bot_name: str = "PTT Bridge",
        flood_limits: bool = True,
        global_per_s: float = 30.0,
        group_per_min: float = 20.0,
        private_per_s: float = 1.0,
        private_burst: int = 3,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        strict_html: bool = True,
        privacy_mode: bool = True,
        webhook_retry_initial: float = 0.05,
        webhook_retry_max: float = 2.0,
        webhook_timeout: float = 10.0,
        max_upload_bytes: int = 50 * 1024 * 1024,
        max_download_bytes: int = 20 * 1024 * 1024,
        first_update_id: int = 100_000_001,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        if bot_id is None:
            bot_id = int(prefix) if prefix.isdigit() else 123456
        self.bot_user = EmuUser(bot_id, bot_name, username=bot_username, is_bot=True)
        self.bot_username = bot_username
        self.flood_limits = flood_limits
        self.global_per_s = global_per_s
        self.group_per_min = group_per_min
        self.private_per_s = private_per_s
        self.private_burst = private_burst
        self.strict_html = strict_html
        self.privacy_mode = privacy_mode
        self.webhook_retry_initial = webhook_retry_initial
        self.webhook_retry_max = webhook_retry_max
        self.webhook_timeout = webhook_timeout
        self.max_upload_bytes = max_upload_bytes
        self.max_download_bytes = max_download_bytes
        self._clock = clock
        self._wallclock = wallclock

        self.url = ""
        self.calls: list[ApiCall] = []
        self.callback_answers: list[CallbackAnswer] = []
        # (scope as canonical JSON, language_code) -> commands
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.bot_settings: dict[str, JSON] = {}  # setMyDescription & co: the last params
        # setChatMenuButton: private chat id (None: the bot's default) -> its menu button
        self.menu_buttons: dict[int | None, JSON] = {}
        self.filtered_updates: list[JSON] = []  # not delivered: privacy mode / allowed_updates

        self._users: dict[int, EmuUser] = {}
        self._chats: dict[int, EmuChat] = {}
        self._history: dict[int, dict[int, EmuMessage]] = {}
        self._files: dict[str, EmuFile] = {}
        self._files_by_path: dict[str, EmuFile] = {}
        self._file_counter = 0
        self._queries: dict[str, PendingQuery] = {}
        self._consumed: set[tuple[int, int]] = set()
        self._listeners: list[Listener] = []
        self._faults: list[Fault] = []

        self._updates: list[JSON] = []
        self._next_update_id = first_update_id
        self._allowed_updates: frozenset[str] | None = None
        self._active_poll: Poll | None = None
        self._webhook: WebhookTarget | None = None
        self._webhook_wake: asyncio.Event | None = None
        self._webhook_task: asyncio.Task[None] | None = None

        self._global_window: Window | None = None
        self._chat_windows: dict[int, Window] = {}

        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

        self._handlers: dict[str, Handler] = {
            name: getattr(self, attribute) for name, attribute in API_METHODS.items()
        }
        for name in (
            "setMyDescription",
            "setMyShortDescription",
            "setMyName",
            "setMyDefaultAdministratorRights",
            "pinChatMessage",
            "unpinChatMessage",
            "unpinAllChatMessages",
            "leaveChat",
        ):
            self._handlers[name] = self._make_accepting_handler(name)
        self._method_names = {name.lower(): name for name in self._handlers}

    def _make_accepting_handler(self, name: str) -> Handler:
        async def accept(p: Params) -> bool:
            if name in ("pinChatMessage", "unpinChatMessage", "unpinAllChatMessages", "leaveChat"):
                self._writable_chat(p)
            self.bot_settings[name] = p.decoded()
            return True

        return accept

    # ------------------------------------------------------------------ internals: state

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _emit(self, event: str, msg: EmuMessage) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, msg)
            except Exception:
                logger.exception("telegram emulator listener failed")
        self._notify()

    @staticmethod
    def _user_id(user: int | EmuUser) -> int:
        return user.id if isinstance(user, EmuUser) else int(user)

    @staticmethod
    def _chat_id(chat: int | EmuChat | EmuUser) -> int:
        if isinstance(chat, EmuChat | EmuUser):
            return chat.id
        return int(chat)

    def _driver_user(self, user: EmuUser | int) -> EmuUser:
        user_id = self._user_id(user)
        found = self._users.get(user_id)
        if found is None:
            raise KeyError(f"no user {user_id}; add_user() first")
        return found

    def _driver_chat(self, user: EmuUser, chat: int | EmuChat | None) -> EmuChat:
        if chat is None:
            target = self.chat(user.id)
            # Writing to a bot you blocked unblocks it; writing at all starts it.
            target.blocked = False
            user.started = True
            return target
        target = self.chat(chat)
        if target.migrated_to is not None:
            raise ValueError(f"group {target.id} was migrated to {target.migrated_to}")
        if target.is_group:
            target.members.add(user.id)
        return target

    def _driver_thread(self, chat: EmuChat, thread_id: int | None) -> int | None:
        if thread_id is None:
            return None
        if chat.is_forum and thread_id not in chat.topics:
            chat.topics[thread_id] = f"Topic {thread_id}"
        return thread_id

    def _driver_reply(self, chat: EmuChat, reply_to: EmuMessage | int | None) -> int | None:
        if reply_to is None:
            return None
        message_id = reply_to.message_id if isinstance(reply_to, EmuMessage) else reply_to
        if message_id not in self._history.get(chat.id, {}):
            raise ValueError(f"no message {message_id} in chat {chat.id}")
        return message_id

    def _new_message(
        self,
        chat: EmuChat,
        *,
        from_bot: bool,
        sender: EmuUser,
        kind: str,
        thread_id: int | None = None,
        reply_to: int | None = None,
        **fields: Any,
    ) -> EmuMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        msg = EmuMessage(
            message_id=message_id,
            chat_id=chat.id,
            kind=kind,
            from_bot=from_bot,
            sender=sender,
            date=int(self._wallclock()),
            thread_id=thread_id,
            reply_to_message_id=reply_to,
            **fields,
        )
        self._history.setdefault(chat.id, {})[message_id] = msg
        return msg

    def message_api(self, msg: EmuMessage, *, nested: bool = False) -> JSON:
        """The Bot API Message object for a message, in its current state."""
        chat = self._chats[msg.chat_id]
        data: JSON = {"message_id": msg.message_id, "from": msg.sender.to_api()}
        if msg.thread_id is not None:
            data["message_thread_id"] = msg.thread_id
        data["chat"] = chat.to_api()
        data["date"] = msg.date
        if msg.thread_id is not None and chat.is_forum:
            data["is_topic_message"] = True
        if msg.forward_origin is not None:
            data["forward_origin"] = msg.forward_origin
        if msg.reply_to_message_id is not None and not nested:
            target = self._history.get(chat.id, {}).get(msg.reply_to_message_id)
            if target is not None and not target.deleted:
                data["reply_to_message"] = self.message_api(target, nested=True)
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if msg.media_group_id is not None:
            data["media_group_id"] = msg.media_group_id
        if msg.kind == "text":
            data["text"] = msg.visible_text or ""
            if msg.entities:
                data["entities"] = msg.entities
        data.update(msg.media)
        if msg.visible_caption:
            data["caption"] = msg.visible_caption
            if msg.caption_entities:
                data["caption_entities"] = msg.caption_entities
        if msg.venue is not None:
            data["venue"] = msg.venue
        if msg.location is not None:
            data["location"] = msg.location.to_api()
        data.update(msg.service)
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            data["reply_markup"] = msg.reply_markup
        return data

    def _enqueue_message(self, msg: EmuMessage) -> JSON:
        update: JSON = {"message": self.message_api(msg)}
        chat = self._chats[msg.chat_id]
        if not self._bot_sees(chat, msg):
            update = {"update_id": 0, **update}
            self.filtered_updates.append(update)
            self._notify()
            return update
        return self._enqueue(update)

    def _bot_sees(self, chat: EmuChat, msg: EmuMessage) -> bool:
        """Privacy mode: in groups a bot that is not an admin sees only what is meant for it."""
        if not chat.is_group or not self.privacy_mode or chat.bot_is_admin or msg.service:
            return True
        if msg.reply_to_message_id is not None:
            target = self._history.get(chat.id, {}).get(msg.reply_to_message_id)
            if target is not None and target.from_bot:
                return True
        text = msg.visible_text or msg.visible_caption or ""
        if f"@{self.bot_username}".lower() in text.lower():
            return True
        for match in COMMAND_RE.finditer(text):
            addressee = match.group(2)
            if addressee is None or addressee.lower() == self.bot_username.lower():
                return True
        return False

    def _enqueue(self, payload: JSON) -> JSON:
        kind = next(iter(payload))
        allowed = self._allowed_updates
        if (allowed is None and kind in OPT_IN_UPDATES) or (
            allowed is not None and kind not in allowed
        ):
            update: JSON = {"update_id": 0, **payload}  # never delivered: no id
            self.filtered_updates.append(update)
            self._notify()
            return update
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        if self._active_poll is not None:
            self._active_poll.wake.set()
        if self._webhook_wake is not None:
            self._webhook_wake.set()
        self._notify()
        return update

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        else:
            self._updates = self._updates[offset:]
        self._notify()

    def _set_allowed_updates(self, p: Params) -> None:
        if not p.has("allowed_updates"):
            return
        value = p.json_("allowed_updates", "allowed updates")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request("can't parse allowed updates JSON object")
        self._allowed_updates = frozenset(value) if value else None

    def _store_file(
        self,
        kind: str,
        data: bytes | None,
        filename: str | None,
        mime: str | None,
        url: str | None = None,
    ) -> EmuFile:
        self._file_counter += 1
        file_id = FILE_ID_PREFIX.get(kind, "BQACAgIAAxkBAAI") + secrets.token_urlsafe(24)
        unique = "AgAD" + secrets.token_urlsafe(9)
        ext = ""
        if filename and "." in filename:
            ext = "." + filename.rsplit(".", 1)[1][:8]
        elif mime:
            ext = mimetypes.guess_extension(mime) or ""
        stored = EmuFile(
            file_id=file_id,
            file_unique_id=unique,
            kind=kind,
            data=data,
            filename=filename,
            mime=mime,
            size=len(data) if data is not None else None,
            url=url,
            file_path=f"{FILE_DIR.get(kind, 'documents')}/file_{self._file_counter}{ext}",
        )
        if data is not None and kind == "photo":
            dims = image_size(data)
            stored.width, stored.height = dims if dims else (800, 600)
        if data is not None and mime in ("audio/ogg", "audio/opus"):
            stored.duration = ogg_duration(data)
        self._files[file_id] = stored
        if stored.file_path is not None:
            self._files_by_path[stored.file_path] = stored
        return stored

    # ------------------------------------------------------------------ chats and users

    def _lookup_chat(self, p: Params, name: str = "chat_id") -> EmuChat:
        ref = p.chat_ref(name)
        if isinstance(ref, str):
            wanted = ref.lstrip("@").lower()
            for candidate in self._chats.values():
                username = candidate.username
                if ref.startswith("@") and username and username.lower() == wanted:
                    return candidate
            raise bad_request("chat not found")
        found = self._chats.get(ref)
        if found is None:
            raise bad_request("chat not found")
        return found

    def _writable_chat(self, p: Params, name: str = "chat_id") -> EmuChat:
        chat = self._lookup_chat(p, name)
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.blocked:
            if chat.type == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            kind = "group chat" if chat.type == "group" else f"{chat.type} chat"
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind}")
        if chat.type == "private" and chat.user is not None and not chat.user.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def chat(self, chat: int | EmuChat | EmuUser) -> EmuChat:
        """The chat with this id (a user's id is their private chat)."""
        chat_id = self._chat_id(chat)
        found = self._chats.get(chat_id)
        if found is None:
            raise KeyError(f"no chat {chat_id} in the emulator")
        return found

    def user(self, user_id: int) -> EmuUser:
        return self._users[user_id]
