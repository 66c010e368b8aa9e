"""2.16 punch-card records, 2.17 sign-in records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.sandbox.platform.state import PlatformState
from bot.sandbox.platform.wire import (
    MESSAGES,
    ApiError,
    Call,
    as_int,
    iso_utc,
    local_str,
    missing,
    paginate,
    paging,
    parse_local,
    required,
)


class AttendanceRoutes(PlatformState):
    """2.16 punch-card records, 2.17 sign-in records."""

    # ---- 2.16, 2.17 (attendance) ------------------------------------------------------------

    def _oid_filter(self, body: Mapping[str, Any]) -> set[int] | None:
        if missing(body.get("oid")):
            return None
        oid = as_int(body["oid"], "oid")
        self._org(oid)
        return self.data.org_subtree(oid)

    def _punch_records(self, call: Call) -> Any:
        body = call.body
        start = as_int(required(body, "startTime"), "startTime")
        end = as_int(required(body, "endTime"), "endTime")
        as_int(required(body, "timeZone"), "timeZone")
        size, current = paging(body)
        if end < start:
            raise ApiError(502, "结束时间早于开始时间")
        orgs = self._oid_filter(body)
        recs = [p for p in self.data.punch_records(start, end) if orgs is None or p.oid in orgs]
        recs.sort(key=lambda p: (-p.sign_ms, p.user_id))
        page, pages = paginate(recs, size, current)
        nulls = self.quirks.null_fields
        records = [
            {
                "userId": self._id(p.user_id),
                "userName": p.user_name,
                "account": p.account,
                "scheduleId": None if nulls else self._id(p.schedule_id),
                "shiftsId": self._id(p.shifts_id),
                "shiftsName": None if nulls else p.shifts_name,
                "type": p.type,
                "address": None if nulls else p.address,
                "coordinate": None if nulls else f"{p.lon:.6f},{p.lat:.6f}",
                "signInTime": iso_utc(p.sign_ms),
                "shouldTime": local_str(p.should_ms) if p.should_ms is not None else None,
                "failure": p.failure,
                "state": p.state,
                "scope": None if nulls else p.scope,
                "timeZone": 8,
                "oid": self._id(p.oid),
                "myOrgName": p.org_name,
            }
            for p in page
        ]
        return self._envelope(
            200,
            MESSAGES[200],
            {"records": records, "total": len(recs), "pages": pages},
            enMessage="success",
            errorMessage=None,
        )

    def _signin_records(self, call: Call) -> Any:
        body = call.body
        first = parse_local(required(body, "startTime"), "startTime", "%Y-%m-%d").date()
        last = parse_local(required(body, "endTime"), "endTime", "%Y-%m-%d").date()
        as_int(required(body, "timeZone"), "timeZone")
        size, current = paging(body)
        if last < first:
            raise ApiError(502, "结束时间早于开始时间")
        orgs = self._oid_filter(body)
        recs = [s for s in self.data.signins(first, last) if orgs is None or s.org_id in orgs]
        recs.sort(key=lambda s: (-s.sign_ms, s.id))
        page, pages = paginate(recs, size, current)
        origin = call.origin
        records = [
            {
                "id": self._id(s.id),
                "userId": self._id(s.user_id),
                "myOrg": self._id(s.org_id),
                "myOrgName": s.org_name,
                "userName": s.user_name,
                "userPhone": s.phone,
                "image": ",".join(f"{origin}/media/photo/{name}" for name in s.images),
                "location": f"{s.lon:.6f},{s.lat:.6f}",
                "address": s.address,
                "signTime": iso_utc(s.sign_ms),
                "remark": s.remark,
                "timeZone": s.tz,
            }
            for s in page
        ]
        result = {"records": records, "total": len(recs), "pages": pages}
        return [result] if self.quirks.signin_in_list else result
