"""2.7-2.11: register and delete users, create and bind talk groups, bind devices."""

from __future__ import annotations

from typing import Any

from bot.sandbox.data import (
    DISPATCHER_ID,
    Membership,
)
from bot.sandbox.platform.state import PlatformState
from bot.sandbox.platform.wire import (
    ACCOUNT_RE,
    ApiError,
    Call,
    as_int,
    as_int_list,
    as_str,
    dedupe,
    iso_utc,
    local_str,
    required,
    unpadded,
)


class WriteRoutes(PlatformState):
    """2.7-2.11: register and delete users, create and bind talk groups, bind devices."""

    # ---- 2.7 - 2.11 (writes) ----------------------------------------------------------------

    def _register(self, call: Call) -> Any:
        body = call.body
        accounts = required(body, "account")
        names = required(body, "name")
        password = as_str(required(body, "password"), "password")
        if not isinstance(accounts, list):
            raise ApiError(502, "account")
        if not isinstance(names, list):
            raise ApiError(502, "name")
        if not accounts:
            raise ApiError(506, "account")
        if len(accounts) != len(names):
            raise ApiError(502, "account 与 name 数量不一致")
        if len(accounts) > 100:
            raise ApiError(510, "每次最多 100 个账号")
        accts = [as_str(a, "account").strip() for a in accounts]
        for a in accts:
            if not ACCOUNT_RE.fullmatch(a):
                raise ApiError(502, f"account {a!r}")
        clean_names = [as_str(n, "name").strip() for n in names]
        if any(not n for n in clean_names):
            raise ApiError(506, "name")
        if len(password) < 6 or password.isdigit():
            raise ApiError(535)
        seen: set[str] = set()
        for a in accts:
            if a in seen or a == self.account or self.data.user_by_account(a) is not None:
                raise ApiError(508, a)
            seen.add(a)
        root = self.data.root_org()
        now = self.data.now_ms()
        out = []
        for a, n in zip(accts, clean_names, strict=True):
            u = self.data.add_user(a, n, password, root.id)
            out.append(
                {
                    "id": self._id(u.id),
                    "type": u.type,
                    "account": u.account,
                    "password": u.password_hash,
                    "name": u.name,
                    "pinyin": u.pinyin,
                    "state": u.state,
                    "myGroupCount": 0,
                    "priority": u.priority,
                    "myBloc": self._id(root.id),
                    "myOrg": self._id(u.org_id),
                    "creator": DISPATCHER_ID,
                    "ctime": iso_utc(now),
                    "chargeableTime": iso_utc(now),
                    "utime": None,
                    "expirationTime": iso_utc(now + 365 * 86_400_000),
                    "firstActiveTime": iso_utc(now),
                    "phoneNumber": None,
                }
            )
        return out

    def _delete_users(self, call: Call) -> Any:
        ids = call.body.get("pttIds")
        if ids is None:
            raise ApiError(506, "pttIds")
        uids = dedupe(as_int_list(ids, "pttIds"))
        if not uids:
            raise ApiError(506, "pttIds")
        for uid in uids:
            self._user(uid)
        for uid in uids:
            self.data.delete_user(uid)
        return None

    def _group_dict(self, gid: int) -> dict[str, Any]:
        g = self.data.groups[gid]
        fmt = unpadded if self.quirks.unpadded_ctime else local_str
        return {
            "id": self._id(g.id),
            "type": g.type,
            "name": g.name,
            "pinyin": g.pinyin,
            "priority": g.priority,
            "talkTime": g.talk_time,
            "myPttCount": len(self.data.members(gid)),
            "minTalkPriority": 10,
            "minListenPriority": 10,
            "ctime": fmt(g.ctime_ms),
            "utime": fmt(g.utime_ms),
            "deletedMarker": 0,
        }

    def _group_create(self, call: Call) -> Any:
        body = call.body
        name = as_str(required(body, "name"), "name").strip()
        oid = as_int(required(body, "oid"), "oid")
        uids: list[int] = []
        if body.get("uids") is not None:
            uids = dedupe(as_int_list(body["uids"], "uids"))
        self._org(oid)
        if any(g.org_id == oid and g.name == name for g in self.data.groups.values()):
            raise ApiError(543, name)
        for uid in uids:
            self._user(uid)
        g = self.data.add_group(name, oid, uids)
        return self._group_dict(g.id)

    def _group_bind(self, call: Call) -> Any:
        body = call.body
        gid = as_int(required(body, "gid"), "gid")
        raw_users = body.get("users")
        if raw_users is None:
            raw_users = []
        if not isinstance(raw_users, list):
            raise ApiError(502, "users")
        binds: list[tuple[int, Membership]] = []
        for item in raw_users:
            if not isinstance(item, dict):
                raise ApiError(502, "users")
            uid = as_int(required(item, "id", "users.id"), "users.id")
            prio = as_int(required(item, "priority", "users.priority"), "users.priority")
            call_perm = required(item, "callPermission", "users.callPermission")
            can_speak = required(item, "canSpeak", "users.canSpeak")
            if not 1 <= prio <= 10:
                raise ApiError(502, "users.priority")
            if call_perm not in ("Y", "N"):
                raise ApiError(502, "users.callPermission")
            if can_speak not in ("Y", "N"):
                raise ApiError(502, "users.canSpeak")
            binds.append((uid, Membership(prio, call_perm, can_speak)))
        if gid not in self.data.groups:
            raise ApiError(514, str(gid))
        for uid, _m in binds:
            self._user(uid)
        for uid, m in binds:
            self.data.bind(gid, uid, m)
        self.data.groups[gid].utime_ms = self.data.now_ms()
        return None

    def _device_bind(self, call: Call) -> Any:
        body = call.body
        did = as_int(required(body, "id"), "id")
        state = str(required(body, "state")).strip()
        if state not in ("0", "1", "2"):
            raise ApiError(502, "state")
        device = self.data.devices.get(did)
        if device is None:
            raise ApiError(542, str(did))
        if state == "1":
            account = as_str(required(body, "account"), "account")
            if self.data.user_by_account(account) is None:
                raise ApiError(504, account)
            device.account, device.state = account, 1
        else:
            device.account, device.state = None, int(state)
        return None
