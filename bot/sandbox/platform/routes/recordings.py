"""2.6 recordings."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.sandbox.data import (
    User,
    local_date_of,
)
from bot.sandbox.platform.state import PlatformState
from bot.sandbox.platform.wire import ApiError, Call, as_int, as_str, missing, paginate, paging


class RecordingRoutes(PlatformState):
    """2.6 recordings."""

    # ---- 2.6 --------------------------------------------------------------------------------

    def _audio_record(self, call: Call) -> Any:
        body = dict(call.body)
        if not body:  # a client that cannot send a GET body may put the fields in the query
            q = call.query
            body = {k: q[k] for k in ("userId", "account", "date") if k in q}
            q_size = q.get("page.size", q.get("size"))
            q_current = q.get("page.current", q.get("current"))
            if q_size is not None or q_current is not None:
                body["page"] = {"size": q_size, "current": q_current}
        size, current = paging(body)
        user: User | None = None
        if not missing(body.get("userId")):
            user = self._user(as_int(body["userId"], "userId"))
        if not missing(body.get("account")):
            by_account = self.data.user_by_account(as_str(body["account"], "account"))
            if by_account is None:
                raise ApiError(517, str(body["account"]))
            if user is not None and by_account.id != user.id:
                return {"size": 0, "total": 0, "records": []}
            user = by_account
        day: date | None = None
        if not missing(body.get("date")):
            day = local_date_of(as_int(body["date"], "date"))

        key = (user.id if user else 0, day.toordinal() if day else None)
        self._audio_polls[key] = polls = self._audio_polls.get(key, 0) + 1
        if polls <= self.quirks.recordings_delay_polls:
            return {"size": 0, "total": 0, "records": []}

        targets = [user] if user is not None else list(self.data.users.values())
        recs = [r for u in targets for r in self.data.recordings(u.id, day)]
        if user is None:
            recs.sort(key=lambda r: r.begin_ms, reverse=True)
        page, pages = paginate(recs, size, current)
        origin = call.origin
        records = []
        for r in page:
            rec: dict[str, Any] = {
                "userId": self._id(r.user_id),
                "account": r.account,
                "beginTime": r.begin_ms,
            }
            if r.duration_ms is not None:
                rec["durationMs"] = r.duration_ms
            if r.group_name is not None:
                rec["groupName"] = r.group_name
            rec["fileUrl"] = f"{origin}/media/{r.file}"
            records.append(rec)
        total = pages if self.quirks.audio_total_as_pages else len(recs)
        return {"size": len(records), "total": total, "records": records}
