"""Who opened the map: Telegram's signed `initData`, checked with the bot token, turned
into the same `Caller` (role, org scope, language) the chat gives that user.

Every API request carries `Authorization: tma <initData>`. The signature is checked by
aiogram's `safe_parse_webapp_init_data` (Telegram's HMAC); what this module adds is the
header handling, the freshness of `auth_date` and the role lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

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
    what is wrong otherwise (missing, not `tma`, not ASCII, a field twice, forged, expired,
    no user). The scheme is case-insensitive, as every HTTP authentication scheme."""
    if header is None or not header.strip():
        raise AuthError("missing Authorization: tma <initData>")
    if not header.isascii():
        # aiohttp hands over undecodable bytes as surrogates: initData is URL-encoded ASCII.
        raise AuthError("the Authorization header is not ASCII (initData is URL-encoded)")
    scheme, _, raw = header.strip().partition(" ")
    raw = raw.strip()
    if scheme.lower() != SCHEME or not raw:
        raise AuthError("the Authorization header must be 'tma <initData>'")
    keys = [key for key, _ in parse_qsl(raw, keep_blank_values=True)]
    if len(keys) != len(set(keys)):
        # Telegram sends each field once. Given twice, the signature covers one of them and
        # another reader (the page's own URLSearchParams takes the first) may see the other.
        raise AuthError("initData repeats a field")
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


def sign_init_data(
    bot_token: str,
    user: Mapping[str, Any],
    *,
    auth_date: datetime,
    start_param: str | None = None,
) -> str:
    """`initData` for `user` (WebAppUser fields: `id`, `first_name`, ...) as Telegram builds
    it when a Mini App opens (core.telegram.org/bots/webapps, "Validating data received via
    the Mini App"): the fields sorted by name as `key=value` lines, signed with HMAC-SHA256
    keyed by HMAC-SHA256("WebAppData", bot token), URL-encoded with `hash` added.

    For the sandbox, the console and tests, who stand where Telegram would."""
    if "id" not in user or "first_name" not in user:
        raise ValueError("a WebAppUser needs at least 'id' and 'first_name'")
    fields = {
        "query_id": f"AAH{int(user['id']):x}{int(auth_date.timestamp()):x}",
        "user": json.dumps(dict(user), ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(int(auth_date.timestamp())),
    }
    if start_param is not None:
        fields["start_param"] = start_param
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def display_name(user: WebAppUser) -> str:
    return " ".join(p for p in (user.first_name, user.last_name) if p) or (user.username or "")
