"""A Telegram Bot API emulator for end-to-end tests, the demo and the console.

It serves the Bot API over HTTP (``/bot{token}/{method}`` and
``/file/bot{token}/{path}``) in the shapes and with the errors Telegram uses,
so the real aiogram ``Bot`` with ``AiohttpSession`` talks to it unchanged.
A driver API on :class:`TelegramEmulator` plays the Telegram users: it adds
users and chats, sends their messages and button presses as updates, and
awaits what the bot sends back.

Where it differs from Telegram on purpose:

* HTML is checked like Telegram's parser, and by default (``strict_html``)
  more strictly: a bare ``&`` that is not a complete character reference
  (``&amp;``, ``&lt;``, ``&#38;`` ...) is refused, where Telegram would show it
  as is. It catches strings that were not escaped.
* ``setWebhook`` accepts ``http://`` URLs (Telegram requires HTTPS).
* Nothing is fetched from URLs given as files; the URL is stored.
* Markdown parse modes are accepted without validation.

The package, one thing a file: `html` (Telegram's HTML parse mode), `model` (users,
chats, messages), `media` (what an upload is), `flood` (sliding windows, `FastClock`),
`params` (a request's parameters, errors, responses), `constants`; the emulator is
`state` (its world and update queue) + `checks` (what every method checks) + `driver`
(the users it plays) + `methods/` (one mixin per family of API methods), put together
with the HTTP server in `server`. Every name is importable from here.
"""

from bot.sandbox.telegram.constants import (
    CALLBACK_ANSWER_LIMIT,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    CONFLICT_POLLING,
    CONFLICT_WEBHOOK,
    JSON,
    MAX_BUTTONS,
    MAX_POLL_TIMEOUT,
    NOT_MODIFIED,
    TEXT_LIMIT,
)
from bot.sandbox.telegram.flood import FastClock
from bot.sandbox.telegram.html import (
    HtmlParseError,
    detect_entities,
    parse_html,
    strip_html,
    utf16_len,
)
from bot.sandbox.telegram.media import _photo_sizes
from bot.sandbox.telegram.model import (
    LIVE_FOREVER,
    ApiCall,
    CallbackAnswer,
    EmuChat,
    EmuEdit,
    EmuFile,
    EmuLocation,
    EmuMessage,
    EmuUser,
    Listener,
)
from bot.sandbox.telegram.params import Handler
from bot.sandbox.telegram.server import TelegramEmulator

__all__ = [
    "CALLBACK_ANSWER_LIMIT",
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "CONFLICT_POLLING",
    "CONFLICT_WEBHOOK",
    "JSON",
    "LIVE_FOREVER",
    "MAX_BUTTONS",
    "MAX_POLL_TIMEOUT",
    "NOT_MODIFIED",
    "TEXT_LIMIT",
    "ApiCall",
    "CallbackAnswer",
    "EmuChat",
    "EmuEdit",
    "EmuFile",
    "EmuLocation",
    "EmuMessage",
    "EmuUser",
    "FastClock",
    "Handler",
    "HtmlParseError",
    "Listener",
    "TelegramEmulator",
    "_photo_sizes",
    "detect_entities",
    "parse_html",
    "strip_html",
    "utf16_len",
]
