"""The driver: the users the emulator plays, their messages and presses, and what the bot sent."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import random
from collections.abc import Callable, Iterable
from typing import Any

from bot.sandbox.telegram.checks import EmulatorChecks
from bot.sandbox.telegram.constants import JSON
from bot.sandbox.telegram.html import detect_entities
from bot.sandbox.telegram.model import (
    ApiCall,
    EmuChat,
    EmuLocation,
    EmuMessage,
    EmuUser,
    Fault,
    Listener,
    PendingQuery,
)
from bot.sandbox.telegram.params import ApiError, Params, scope_key


class EmulatorDriver(EmulatorChecks):
    """The user-playing side: adds users and chats, sends their messages and presses,
    and observes what the bot sent."""

    # ------------------------------------------------------------------ driver: world

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        started: bool = True,
    ) -> EmuUser:
        """A Telegram user, and their private chat with the bot."""
        user = EmuUser(
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            started=started,
        )
        self._users[user_id] = user
        chat = self._chats.get(user_id)
        if chat is None or chat.type != "private":
            self._chats[user_id] = EmuChat(user_id, "private", username=username, user=user)
        else:
            chat.user = user
            chat.username = username
        self._notify()
        return user

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        supergroup: bool = True,
        forum: bool = False,
        admins: Iterable[int | EmuUser] = (),
        members: Iterable[int | EmuUser] = (),
        username: str | None = None,
        bot_is_admin: bool = False,
        owner: int | EmuUser | None = None,
    ) -> EmuChat:
        """A group or supergroup the bot is a member of.

        The owner (``creator``) is ``owner`` or else the first admin.
        """
        admin_ids = [self._user_id(a) for a in admins]
        owner_id = self._user_id(owner) if owner is not None else None
        if owner_id is None and admin_ids:
            owner_id = admin_ids[0]
        member_ids = {self._user_id(m) for m in members} | set(admin_ids)
        if owner_id is not None:
            member_ids.add(owner_id)
        chat = EmuChat(
            chat_id,
            "supergroup" if supergroup or forum else "group",
            next_message_id=2,  # 1 is the "group created" service message; 1 is General in forums
            title=title,
            username=username,
            is_forum=forum,
            owner_id=owner_id,
            admins=set(admin_ids),
            members=member_ids,
            bot_is_admin=bot_is_admin,
        )
        self._chats[chat_id] = chat
        self._notify()
        return chat

    def add_topic(self, chat: int | EmuChat, name: str) -> int:
        """A forum topic; returns its message_thread_id. Emits forum_topic_created."""
        target = self.chat(chat)
        if not target.is_forum:
            raise ValueError(f"chat {target.id} is not a forum")
        creator = self._users.get(target.owner_id) if target.owner_id is not None else None
        msg = self._new_message(
            target,
            from_bot=False,
            sender=creator or self.bot_user,
            kind="service",
            service={"forum_topic_created": {"name": name, "icon_color": 7322096}},
        )
        msg.thread_id = msg.message_id
        target.topics[msg.message_id] = name
        self._enqueue_message(msg)
        return msg.message_id

    def block(self, chat: int | EmuChat | EmuUser) -> None:
        """The user blocks the bot (private) or the bot is removed (group): sends get 403."""
        self.chat(chat).blocked = True
        self._notify()

    def unblock(self, chat: int | EmuChat | EmuUser) -> None:
        self.chat(chat).blocked = False
        self._notify()

    def migrate_group(self, old_id: int, new_id: int) -> EmuChat:
        """Upgrade a basic group to a supergroup, as Telegram does.

        Sends to ``old_id`` then fail with ``migrate_to_chat_id``; the service
        messages (migrate_to_chat_id / migrate_from_chat_id) arrive as updates.
        """
        old = self.chat(old_id)
        if old.type != "group":
            raise ValueError(f"chat {old_id} is not a basic group")
        new = EmuChat(
            new_id,
            "supergroup",
            title=old.title,
            owner_id=old.owner_id,
            admins=set(old.admins),
            members=set(old.members),
            bot_is_admin=old.bot_is_admin,
            migrated_from=old_id,
        )
        self._chats[new_id] = new
        actor = self._users.get(old.owner_id) if old.owner_id is not None else None
        sender = actor or EmuUser(1087968824, "Group", username="GroupAnonymousBot", is_bot=True)
        to_msg = self._new_message(
            old,
            from_bot=False,
            sender=sender,
            kind="service",
            service={"migrate_to_chat_id": new_id},
        )
        from_msg = self._new_message(
            new,
            from_bot=False,
            sender=sender,
            kind="service",
            service={"migrate_from_chat_id": old_id},
        )
        old.migrated_to = new_id
        self._enqueue_message(to_msg)
        self._enqueue_message(from_msg)
        return new

    # ------------------------------------------------------------------ driver: acting

    async def send_message(
        self,
        user: EmuUser | int,
        text: str,
        chat: int | EmuChat | None = None,
        thread_id: int | None = None,
        document: tuple[str, bytes, str] | None = None,
        reply_to: EmuMessage | int | None = None,
    ) -> JSON:
        """The user sends ``text``; returns the Update it makes.

        Bot commands, mentions and URLs get their entities, as Telegram sets
        them. An update the bot would not receive (privacy mode in a group,
        allowed_updates) is kept in ``filtered_updates`` with update_id 0.
        ``document`` = (filename, data, mime) sends a file with ``text`` as caption.
        """
        if document is not None:
            filename, data, mime = document
            return await self.send_document(
                user, filename, data, mime, caption=text or None, chat=chat, thread_id=thread_id
            )
        sender = self._driver_user(user)
        target = self._driver_chat(sender, chat)
        msg = self._new_message(
            target,
            from_bot=False,
            sender=sender,
            kind="text",
            text=text,
            visible_text=text,
            entities=detect_entities(text),
            thread_id=self._driver_thread(target, thread_id),
            reply_to=self._driver_reply(target, reply_to),
        )
        return self._enqueue_message(msg)

    async def send_document(
        self,
        user: EmuUser | int,
        filename: str,
        data: bytes,
        mime: str | None = None,
        caption: str | None = None,
        chat: int | EmuChat | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        """The user sends a file (the bot can getFile and download it)."""
        sender = self._driver_user(user)
        target = self._driver_chat(sender, chat)
        stored = self._store_file(
            "document",
            data,
            filename,
            mime or mimetypes.guess_type(filename)[0] or "application/octet-stream",
        )
        msg = self._new_message(
            target,
            from_bot=False,
            sender=sender,
            kind="document",
            caption=caption,
            visible_caption=caption,
            caption_entities=detect_entities(caption) if caption else [],
            file=stored,
            media={"document": self._document_api(stored)},
            thread_id=self._driver_thread(target, thread_id),
        )
        return self._enqueue_message(msg)

    async def send_location(
        self,
        user: EmuUser | int,
        latitude: float,
        longitude: float,
        chat: int | EmuChat | None = None,
        live_period: int | None = None,
        *,
        heading: int | None = None,
        horizontal_accuracy: float | None = None,
        thread_id: int | None = None,
        reply_to: EmuMessage | int | None = None,
    ) -> JSON:
        """The user shares a location (Telegram's attachment → Location): a ``message``
        update with ``location``; with ``live_period`` a live one (``move_location``).

        A reply to it (``send_message(..., reply_to=update["message"]["message_id"])``)
        carries it in ``reply_to_message``. In a group under privacy mode the bot does
        not see the location itself (it is no command), only such a reply to it.
        """
        sender = self._driver_user(user)
        target = self._driver_chat(sender, chat)
        location = EmuLocation(
            latitude, longitude, horizontal_accuracy, heading, live_period=live_period
        )
        msg = self._new_message(
            target,
            from_bot=False,
            sender=sender,
            kind="location",
            location=location,
            thread_id=self._driver_thread(target, thread_id),
            reply_to=self._driver_reply(target, reply_to),
            live_since=self._clock() if live_period else None,
            positions=[location],
        )
        return self._enqueue_message(msg)

    async def move_location(
        self,
        user: EmuUser | int,
        message_id: int,
        latitude: float,
        longitude: float,
        chat: int | EmuChat | None = None,
        *,
        heading: int | None = None,
    ) -> JSON:
        """The user's live location moves: an ``edited_message`` update, as Telegram's."""
        sender = self._driver_user(user)
        target = self._driver_chat(sender, chat)
        msg = self._history.get(target.id, {}).get(message_id)
        if msg is None or msg.from_bot or msg.location is None or not msg.is_live:
            raise ValueError(f"no live location {message_id} of a user in chat {target.id}")
        location = EmuLocation(
            latitude, longitude, heading=heading, live_period=msg.location.live_period
        )
        msg.location = location
        msg.positions.append(location)
        msg.edit_date = int(self._wallclock())
        return self._enqueue({"edited_message": self.message_api(msg)})

    async def press_button(
        self,
        user: EmuUser | int,
        message_or_id: EmuMessage | int,
        callback_data: str,
        chat: int | EmuChat | None = None,
        *,
        strict: bool = True,
    ) -> JSON:
        """The user presses an inline button of a bot message; returns the callback_query Update.

        ``callback_data`` names the button by its callback_data or, failing
        that, by its text. With ``strict=False`` any data is sent, as a forged
        client could.
        """
        sender = self._driver_user(user)
        if isinstance(message_or_id, EmuMessage):
            target = self.chat(message_or_id.chat_id)
            message_id = message_or_id.message_id
        else:
            target = self._driver_chat(sender, chat)
            message_id = message_or_id
        msg = self._history.get(target.id, {}).get(message_id)
        if msg is None or msg.deleted:
            raise ValueError(f"no message {message_id} in chat {target.id}")
        data: str | None = callback_data
        if strict:
            buttons = msg.inline_buttons()
            by_data = [b for b in buttons if b.get("callback_data") == callback_data]
            by_text = [
                b for b in buttons if b.get("text") == callback_data and "callback_data" in b
            ]
            if by_data:
                data = by_data[0]["callback_data"]
            elif by_text:
                data = by_text[0]["callback_data"]
            else:
                raise ValueError(
                    f"message {message_id} in chat {target.id} has no button {callback_data!r}; "
                    f"its buttons: {msg.buttons()}"
                )
        query_id = str(random.getrandbits(62) + 10**17)
        self._queries[query_id] = PendingQuery(sender.id, target.id, msg.message_id, data)
        query: JSON = {
            "id": query_id,
            "from": sender.to_api(),
            "message": self.message_api(msg),
            "chat_instance": target.instance,
        }
        if data is not None:
            query["data"] = data
        return self._enqueue({"callback_query": query})

    # ------------------------------------------------------------------ driver: observing

    def messages(
        self, chat: int | EmuChat | EmuUser, thread_id: int | None = None
    ) -> list[EmuMessage]:
        """Every message the bot sent to the chat, in order, in its current state."""
        chat_id = self._chat_id(chat)
        return [
            m
            for m in self._history.get(chat_id, {}).values()
            if m.from_bot and (thread_id is None or m.thread_id == thread_id)
        ]

    def history(self, chat: int | EmuChat | EmuUser) -> list[EmuMessage]:
        """Every message in the chat, the users' included."""
        return list(self._history.get(self._chat_id(chat), {}).values())

    def message(self, chat: int | EmuChat | EmuUser, message_id: int) -> EmuMessage:
        return self._history[self._chat_id(chat)][message_id]

    def live_positions(self, chat: int | EmuChat | EmuUser, message_id: int) -> list[EmuLocation]:
        """Every position a live location showed, the one it was sent with first."""
        return list(self.message(chat, message_id).positions)

    def live_status(self, chat: int | EmuChat | EmuUser, message_id: int) -> str:
        """A message's live location now: "live", "ended", "stopped" or "static"."""
        return self.message(chat, message_id).live_state(self._clock())

    def pending_messages(
        self, chat: int | EmuChat | EmuUser, thread_id: int | None = None
    ) -> list[EmuMessage]:
        """Bot messages not yet returned by wait_for_messages (nor marked)."""
        chat_id = self._chat_id(chat)
        return [
            m
            for m in self.messages(chat_id, thread_id)
            if (chat_id, m.message_id) not in self._consumed
        ]

    def mark(self, chat: int | EmuChat | EmuUser | None = None) -> None:
        """Consider every bot message so far seen (in one chat, or all)."""
        chat_ids = [self._chat_id(chat)] if chat is not None else list(self._history)
        for chat_id in chat_ids:
            for msg in self.messages(chat_id):
                self._consumed.add((chat_id, msg.message_id))

    async def wait_for_messages(
        self,
        chat: int | EmuChat | EmuUser,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - the driver API takes a timeout like Telegram's
        thread_id: int | None = None,
    ) -> list[EmuMessage]:
        """Await ``count`` bot messages in the chat that no earlier wait returned.

        Returns exactly ``count`` (the oldest unseen first); later ones stay
        for the next call. Raises TimeoutError describing what did arrive.
        """
        chat_id = self._chat_id(chat)
        try:
            await self.wait_for(
                lambda: len(self.pending_messages(chat_id, thread_id)) >= count, timeout=timeout
            )
        except TimeoutError:
            got = self.pending_messages(chat_id, thread_id)
            failures = [
                f"{c.method}: {c.error}"
                for c in self.calls
                if not c.ok and c.method != "getUpdates"
            ][-5:]
            raise TimeoutError(
                f"expected {count} new bot message(s) in chat {chat_id}"
                f"{'' if thread_id is None else f' thread {thread_id}'} within {timeout}s, "
                f"got {len(got)}: {[m.render() for m in got]}; recent API errors: {failures}"
            ) from None
        found = self.pending_messages(chat_id, thread_id)[:count]
        for msg in found:
            self._consumed.add((chat_id, msg.message_id))
        return found

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for the whole wait, not one await
    ) -> Any:
        """Await ``predicate()`` becoming truthy; re-checked on every emulator change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one method (case-insensitive)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by getUpdates (or delivered to the webhook)."""
        return list(self._updates)

    @property
    def polling(self) -> bool:
        """Whether a getUpdates request is being served (waiting, in a long poll)."""
        return self._active_poll is not None

    def reset_flood_limits(self) -> None:
        """Forget past sends: every limit starts full, at the current rates."""
        self._global_window = None
        self._chat_windows.clear()

    def inject_fault(
        self,
        method: str,
        *,
        error_code: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        disconnect: bool = False,
        after: bool = False,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` HTTP calls of ``method`` fail.

        The call answers ``error_code``/``description`` (with ``retry_after``
        or ``migrate_to_chat_id`` parameters if given), or with
        ``disconnect`` the connection drops without an answer. With ``after``
        the method runs first and keeps its effect (the message is sent), and
        only the answer is lost: the ambiguous case a sender must not repeat
        blindly. ``chat_id`` limits the fault to calls for that chat.
        """
        parameters: JSON = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        self._faults.append(
            Fault(
                method.lower(),
                times,
                error_code,
                description,
                parameters or None,
                disconnect,
                after,
                chat_id,
            )
        )

    def _take_fault(self, method: str, params: Params) -> Fault | None:
        for fault in self._faults:
            if fault.method != method.lower():
                continue
            if fault.chat_id is not None:
                try:
                    if params.chat_ref() != fault.chat_id:
                        continue
                except ApiError:
                    continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault
        return None

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook is not None else None

    def get_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The commands setMyCommands stored for this scope and language."""
        return self.commands.get((scope_key(scope or {"type": "default"}), language_code), [])

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event, message)`` on each bot message: sent / edited / deleted."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)
