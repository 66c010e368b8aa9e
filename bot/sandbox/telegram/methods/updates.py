"""getMe, getUpdates, webhooks and the bot's commands."""

from __future__ import annotations

import asyncio
import contextlib
import re
from urllib.parse import urlsplit

from bot.sandbox.telegram.checks import EmulatorChecks
from bot.sandbox.telegram.constants import (
    COMMAND_SCOPES,
    CONFLICT_POLLING,
    CONFLICT_WEBHOOK,
    JSON,
    MAX_POLL_TIMEOUT,
    MENU_BUTTON_TYPES,
)
from bot.sandbox.telegram.model import Described, Poll, WebhookTarget
from bot.sandbox.telegram.params import ApiError, Params, bad_request, scope_key


class UpdateMethods(EmulatorChecks):
    """getMe, getUpdates, webhooks and the bot's commands."""

    # ------------------------------------------------------------------ methods: bot & updates

    async def _m_get_me(self, p: Params) -> JSON:
        return {
            **self.bot_user.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_get_updates(self, p: Params) -> list[JSON]:
        if self._webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = p.int_("offset")
        limit = min(100, max(1, p.int_("limit") or 100))
        timeout = min(MAX_POLL_TIMEOUT, max(0, p.int_("timeout") or 0))
        self._set_allowed_updates(p)
        self._confirm(offset)
        poll = Poll()
        previous = self._active_poll
        if previous is not None:
            # Telegram answers the older request with 409 and serves the newer one.
            previous.terminated = True
            previous.wake.set()
        self._active_poll = poll
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if poll.terminated:
                    raise ApiError(409, CONFLICT_POLLING)
                if self._webhook is not None:
                    raise ApiError(409, CONFLICT_WEBHOOK)
                if self._updates or self._closing:
                    return self._updates[:limit]
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                poll.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.wake.wait(), remaining)
        finally:
            if self._active_poll is poll:
                self._active_poll = None
                self._notify()

    async def _m_set_webhook(self, p: Params) -> Described:
        url = (p.str_("url") or "").strip()
        if not url:
            return await self._m_delete_webhook(p)
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.str_("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = p.int_("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed_updates(p)
        if p.bool_("drop_pending_updates"):
            self._updates.clear()
        previous = self._webhook
        same = previous is not None and previous.url == url and previous.secret_token == secret
        self._webhook = WebhookTarget(url, secret, max_connections, p.str_("ip_address"))
        if self._active_poll is not None:
            self._active_poll.wake.set()
        if self._webhook_wake is not None:
            self._webhook_wake.set()
        self._notify()
        return Described(True, "Webhook is already set" if same else "Webhook was set")

    async def _m_delete_webhook(self, p: Params) -> Described:
        if p.bool_("drop_pending_updates"):
            self._updates.clear()
        existed = self._webhook is not None
        self._webhook = None
        self._notify()
        return Described(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    async def _m_get_webhook_info(self, p: Params) -> JSON:
        hook = self._webhook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    # ------------------------------------------------------------------ methods: commands

    def _scope(self, p: Params) -> tuple[str, str]:
        scope = p.json_("scope", "bot command scope")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in COMMAND_SCOPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            nested = Params(scope, {})
            chat = self._lookup_chat(nested)
            if scope["type"] == "chat_member":
                nested.int_("user_id", required=True)
            if scope["type"] == "chat_administrators" and chat.type == "private":
                raise bad_request("there are no administrators in the private chat")
        language = p.str_("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return scope_key(scope), language

    async def _m_set_my_commands(self, p: Params) -> bool:
        commands = p.json_("commands", "commands")
        if commands is None:
            raise bad_request('parameter "commands" is required')
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        cleaned: list[JSON] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str) or not re.fullmatch(r"/?[a-z0-9_]{1,32}", command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request(
                    "command description is empty"
                    if not description
                    else "BOT_COMMAND_DESCRIPTION_INVALID"
                )
            cleaned.append({"command": command.lstrip("/"), "description": description})
        key = self._scope(p)
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, p: Params) -> list[JSON]:
        return list(self.commands.get(self._scope(p), []))

    async def _m_delete_my_commands(self, p: Params) -> bool:
        self.commands.pop(self._scope(p), None)
        return True

    async def _m_set_chat_menu_button(self, p: Params) -> bool:
        """A private chat's menu button (or the default one without `chat_id`), kept in
        `menu_buttons` as the Bot API object; a `web_app` one needs text and an https URL."""
        chat_id: int | None = None
        if p.has("chat_id"):
            chat = self._lookup_chat(p)
            if chat.type != "private":
                raise bad_request("the menu button can be set only in private chats")
            chat_id = chat.id
        button = p.json_("menu_button", "menu button")
        if button is None:
            button = {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in MENU_BUTTON_TYPES:
            raise bad_request("can't parse menu button JSON object")
        if button["type"] == "web_app":
            text, web_app = button.get("text"), button.get("web_app")
            if not isinstance(text, str) or not text.strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            url = web_app.get("url") if isinstance(web_app, dict) else None
            if not isinstance(url, str) or not url.startswith("https://"):
                raise bad_request("BUTTON_URL_INVALID")
            button = {"type": "web_app", "text": text, "web_app": {"url": url}}
        else:
            button = {"type": button["type"]}
        if button["type"] == "default":
            self.menu_buttons.pop(chat_id, None)
        else:
            self.menu_buttons[chat_id] = button
        return True

    async def _m_get_chat_menu_button(self, p: Params) -> JSON:
        return self.menu_button(self._lookup_chat(p).id if p.has("chat_id") else None)

    def menu_button(self, chat_id: int | None = None) -> JSON:
        """What the menu button of private chat `chat_id` (None: the default) shows now:
        `{"type": "commands"}` unless the bot set another."""
        if chat_id in self.menu_buttons:
            return dict(self.menu_buttons[chat_id])
        return dict(self.menu_buttons.get(None, {"type": "commands"}))
