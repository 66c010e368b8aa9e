"""The sandbox dispatch platform: an aiohttp server speaking the platform's "wapi".

It serves the 17 endpoints of section 2 of ``reference/platform-api.md`` over
seeded data (:mod:`bot.sandbox.data`), the login call seen in deployments, and
the recordings as static audio. Every quirk a real server of this family shows
can be switched on or off at runtime (:class:`Quirks`), faults can be injected
per path (:meth:`SandboxPlatform.fail_next`), and every request is recorded so
tests can see exactly what a client sent. It can also play the platform's side
of section 3, posting callbacks to the bridge (:meth:`SandboxPlatform.post_callback`).
With ``SandboxPlatform(moving=True)`` (``bot sandbox`` does it) some users move along
paths as a function of the clock (:mod:`bot.sandbox.data.paths`);
:meth:`SandboxPlatform.call_counts` says how many calls each path received.

The package: `state` (the seeded data, tokens, faults, what tests control and see,
callbacks to the bridge), `routes/` (one mixin per API section), `server` (the HTTP
server, envelope, login and media), `quirks` (what a real server of this family does
differently, faults, recorded requests), `wire` (wording, validation, time formats),
`media`. Every name is importable from here.
"""

from bot.sandbox.data import local_day_start_ms, pinyin_of
from bot.sandbox.platform.media import MEDIA_DIR, MEDIA_TYPES
from bot.sandbox.platform.quirks import FAULT_KINDS, Quirks, RecordedRequest
from bot.sandbox.platform.server import SandboxPlatform, serve_forever
from bot.sandbox.platform.wire import (
    CALLBACK_EVENTS,
    LOGIN_PAGE,
    MESSAGES,
    NGINX_502,
    REPORT_LEVELS,
    REPORT_TEXTS,
    REPORT_TYPES,
    ApiError,
    iso_utc,
    local_str,
)

__all__ = [
    "CALLBACK_EVENTS",
    "FAULT_KINDS",
    "LOGIN_PAGE",
    "MEDIA_DIR",
    "MEDIA_TYPES",
    "MESSAGES",
    "NGINX_502",
    "REPORT_LEVELS",
    "REPORT_TEXTS",
    "REPORT_TYPES",
    "ApiError",
    "Quirks",
    "RecordedRequest",
    "SandboxPlatform",
    "iso_utc",
    "local_day_start_ms",
    "local_str",
    "pinyin_of",
    "serve_forever",
]
