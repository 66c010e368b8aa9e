"""Who opened the map: Telegram's signed `initData`, checked with the bot token, turned
into the same `Caller` (role, org scope, language) the chat gives that user.

Every API request carries `Authorization: tma <initData>`. The signature is checked by
aiogram's `safe_parse_webapp_init_data` (Telegram's HMAC); what this module adds is the
header handling, the freshness of `auth_date` and the role lookup.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiogram.utils.web_app import WebAppInitData, WebAppUser, safe_parse_webapp_init_data

# Telegram's advice: initData older than a day is not to be trusted.
MAX_AGE = timedelta(hours=24)
# A phone's clock may run a little ahead of the bridge's.
CLOCK_SKEW = timedelta(minutes=5)
SCHEME = "tma"


class AuthError(Exception):
    """The request is not from a user Telegram vouches for: answered 401 with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def init_data_of(header: str | None, bot_token: str, now: datetime) -> WebAppInitData:
    """The checked `initData` of an `Authorization` header value; `AuthError` naming
    what is wrong otherwise (missing, not `tma`, not ASCII, forged, expired, no user)."""
    if header is None or not header.strip():
        raise AuthError("missing Authorization: tma <initData>")
    if not header.isascii():
        # aiohttp hands over undecodable bytes as surrogates: initData is URL-encoded ASCII.
        raise AuthError("the Authorization header is not ASCII (initData is URL-encoded)")
    scheme, _, raw = header.strip().partition(" ")
    raw = raw.strip()
    if scheme.lower() != SCHEME or not raw:
        raise AuthError("the Authorization header must be 'tma <initData>'")
    try:
        data = safe_parse_webapp_init_data(bot_token, raw)
    except ValueError:  # a bad signature, a malformed query string or fields
        raise AuthError("initData is not signed for this bot") from None
    if data.user is None:
        raise AuthError("initData names no user")
    age = now - data.auth_date
    if age > MAX_AGE:
        raise AuthError("initData expired: open the map again from Telegram")
    if age < -CLOCK_SKEW:
        raise AuthError("initData is dated in the future")
    return data


def display_name(user: WebAppUser) -> str:
    return " ".join(p for p in (user.first_name, user.last_name) if p) or (user.username or "")
