"""Platform health: a cheap call every minute; admins told of an outage once, and recovery once.

A rejected token (501, or a failed re-login) is told at the first check that sees
it: it will not fix itself. An outage (no answer, an error page, a failing
status) is told after `DOWN_AFTER` checks in a row, so a platform restart of a
few seconds is not news. The state lives in SQLite: a bridge restarted during an
outage does not tell it again, and does tell the recovery.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.platform import PlatformAuthError, PlatformClient, PlatformError
from bot.render.text import esc
from storage.db import from_db_time, to_db_time
from storage.jobstate import JobStateRepo

log = logging.getLogger(__name__)

Status = Literal["ok", "token", "down"]
KEY = "platform-health"
DOWN_AFTER = 2

AlertAdmins = Callable[[str, Callable[[Callable[..., str]], str]], Awaitable[None]]


@dataclass
class HealthState:
    status: Status = "ok"  # what the last check saw
    failures: int = 0  # checks in a row that failed that way
    told: Status = "ok"  # what admins were last told
    since: str | None = None  # when the problem admins were told about began (db time)
    detail: str = ""


def span_text(delta: timedelta, lang: str) -> str:
    """How long, in words: "5 min", "2 h 5 min" (zh: "5 分钟", "2 小时 5 分钟")."""
    hours, minutes = divmod(max(1, round(delta.total_seconds() / 60)), 60)
    if lang == "zh":
        return f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class PlatformHealth:
    def __init__(
        self, platform: PlatformClient, state: JobStateRepo, alert_admins: AlertAdmins
    ) -> None:
        self.platform = platform
        self.state = state
        self.alert = alert_admins

    async def load(self) -> HealthState:
        raw = await self.state.get(KEY)
        if isinstance(raw, dict):
            try:
                return HealthState(**raw)
            except TypeError:
                log.warning("ignoring a platform health state of another shape: %s", raw)
        return HealthState()

    async def probe(self) -> tuple[Status, str]:
        """One cheap call (2.14 for user 0: the platform answers null)."""
        try:
            await self.platform.user_info(0)
        except PlatformAuthError as exc:
            return "token", f"{exc.code}: {exc.explain('en')}"
        except PlatformError as exc:
            return "down", str(exc)
        return "ok", ""

    async def check(self, now: datetime) -> HealthState:
        status, detail = await self.probe()
        s = await self.load()
        if status == "ok":
            if s.told != "ok":
                began = from_db_time(s.since) if s.since else now
                down_for = now - began

                def back(t: Callable[..., str]) -> str:
                    lang = getattr(t, "lang", "en")
                    return t("alert-platform-back", duration=span_text(down_for, lang))

                await self.alert(f"platform-back:{to_db_time(now)}", back)
                log.info("platform answers again")
            s = HealthState()
        else:
            s.failures = s.failures + 1 if s.status == status else 1
            s.status, s.detail = status, detail
            due = status == "token" or s.failures >= DOWN_AFTER
            if due and s.told != status:
                if s.told == "ok":
                    s.since = to_db_time(now)
                s.told = status
                key = "alert-platform-token" if status == "token" else "alert-platform-down"
                log.warning("platform %s: %s (admins told)", status, detail)
                await self.alert(
                    f"platform-{status}:{to_db_time(now)}",
                    lambda t: t(key, detail=esc(detail[:300])),
                )
        await self.state.put(KEY, asdict(s), now)
        return s
