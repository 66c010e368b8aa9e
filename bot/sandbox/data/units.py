"""Names in pinyin, days in Shanghai time, kilometres around the centre."""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, time
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from bot.sandbox.data.constants import CENTER_LAT, CENTER_LON, TZ


def pinyin_of(*parts: str) -> str:
    """The platform's pinyin field, "abbr|full" lower case without spaces ("zs|zhangsan").

    Several parts (surname, given name) are converted one by one and joined, so
    50 000 generated names cost only as many conversions as there are distinct parts.
    """
    if len(parts) == 1:
        return _pinyin_cached(parts[0])
    pairs = [_pinyin_cached(p).split("|", 1) for p in parts if p]
    return "".join(a for a, _ in pairs) + "|" + "".join(f for _, f in pairs)


@lru_cache(maxsize=65536)
def _pinyin_cached(name: str) -> str:
    full = "".join(lazy_pinyin(name)).replace(" ", "").lower()
    abbr = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).replace(" ", "").lower()
    return f"{abbr}|{full}"


def md5_hex(text: str) -> str:
    """The platform stores md5 hex of passwords (the 2.7 example is md5("111111"))."""
    return hashlib.md5(text.encode()).hexdigest()


def local_day_start_ms(day: date) -> int:
    """Epoch ms of local midnight starting `day` (Asia/Shanghai has no DST)."""
    return int(datetime.combine(day, time(), tzinfo=TZ).timestamp() * 1000)


def local_date_of(ms: int) -> date:
    """The local calendar date of an epoch-ms instant."""
    return datetime.fromtimestamp(ms / 1000, TZ).date()


def offset_km(lat: float, lon: float, north_km: float, east_km: float) -> tuple[float, float]:
    return (
        lat + north_km / 111.32,
        lon + east_km / (111.32 * math.cos(math.radians(lat))),
    )


def km_from_center(lat: float, lon: float) -> tuple[float, float]:
    """(north_km, east_km) of a point relative to the centre."""
    return (
        (lat - CENTER_LAT) * 111.32,
        (lon - CENTER_LON) * 111.32 * math.cos(math.radians(CENTER_LAT)),
    )
