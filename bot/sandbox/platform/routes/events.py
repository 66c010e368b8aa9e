"""2.15 accepting an event."""

from __future__ import annotations

from typing import Any

from bot.sandbox.data import (
    Notice,
)
from bot.sandbox.platform.state import PlatformState
from bot.sandbox.platform.wire import ApiError, Call, as_int, as_int_list, as_str, required


class EventRoutes(PlatformState):
    """2.15 accepting an event."""

    # ---- 2.15 -------------------------------------------------------------------------------

    def _accept_event(self, call: Call) -> Any:
        body = call.body
        sender = required(body, "from")
        if not isinstance(sender, dict):
            raise ApiError(502, "from")
        as_int(required(sender, "id", "from.id"), "from.id")
        as_str(required(sender, "name", "from.name"), "from.name")
        target = required(body, "to")
        if not isinstance(target, dict):
            raise ApiError(502, "to")
        org_ids = as_int_list(target.get("orgIds") or [], "to.orgIds")
        user_ids = as_int_list(target.get("userIds") or [], "to.userIds")
        if not org_ids and not user_ids:
            raise ApiError(506, "to.orgIds/to.userIds")
        as_str(required(body, "title"), "title")
        as_str(required(body, "content"), "content")
        accessory = body.get("accessory")
        if accessory is not None:
            if not isinstance(accessory, list):
                raise ApiError(502, "accessory")
            for item in accessory:
                if not isinstance(item, dict):
                    raise ApiError(502, "accessory")
                as_str(required(item, "name", "accessory.name"), "accessory.name")
                as_str(required(item, "url", "accessory.url"), "accessory.url")
        for oid in org_ids:
            self._org(oid)
        for uid in user_ids:
            self._user(uid)
        self.data.notices.append(Notice(self.data.now_ms(), dict(body), org_ids, user_ids))
        return None
