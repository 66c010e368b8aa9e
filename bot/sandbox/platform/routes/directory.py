"""2.1 the org tree, 2.2-2.3 talk group members and presence, 2.12-2.14 the directory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.sandbox.data import (
    User,
)
from bot.sandbox.platform.state import PlatformState
from bot.sandbox.platform.wire import (
    ApiError,
    Call,
    as_int,
    as_int_list,
    dedupe,
    missing,
    required,
)


class DirectoryRoutes(PlatformState):
    """2.1 the org tree, 2.2-2.3 talk group members and presence, 2.12-2.14 the directory."""

    # ---- 2.1 --------------------------------------------------------------------------------

    def _org_tree2(self, call: Call) -> Any:
        data = self.data
        sub_orgs = data.org_children()
        members = data.members_by_group()
        groups_by_org: dict[int, list[int]] = {}
        for g in data.groups.values():
            groups_by_org.setdefault(g.org_id, []).append(g.id)

        def children(oid: int) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for gid in groups_by_org.get(oid, ()):
                users = [
                    {
                        "gid": self._id(gid),
                        "uid": self._id(u.id),
                        "account": u.account,
                        "name": u.name,
                    }
                    for u in members[gid]
                ]
                out.append(
                    {
                        "gid": self._id(gid),
                        "name": data.groups[gid].name,
                        "type": 1,
                        "users": self._one_or_list(users),
                    }
                )
            for cid in sub_orgs.get(oid, ()):
                out.append(
                    {
                        "gid": self._id(cid),
                        "name": data.orgs[cid].name,
                        "type": 0,
                        "children": self._one_or_list(children(cid)),
                    }
                )
            return out

        root = data.root_org()
        return {
            "id": self._id(root.id),
            "name": root.name,
            "type": 0,
            "children": self._one_or_list(children(root.id)),
        }

    # ---- 2.2, 2.3 ---------------------------------------------------------------------------

    def _gid_and_uids(self, body: Mapping[str, Any]) -> tuple[int, list[int]]:
        gid = as_int(required(body, "gid"), "gid")
        uids = body.get("uids")
        if uids is None:
            raise ApiError(506, "uids")
        uid_list = as_int_list(uids, "uids")
        if gid not in self.data.groups:
            raise ApiError(514, str(gid))
        return gid, dedupe(uid_list)

    def _in_this_group(self, call: Call) -> Any:
        gid, uids = self._gid_and_uids(call.body)
        users = self.data.users
        return [
            self._id(uid)
            for uid in uids
            if uid in users and self.data.online_now(users[uid]) and users[uid].current_group == gid
        ]

    def _is_online(self, call: Call) -> Any:
        _gid, uids = self._gid_and_uids(call.body)
        users = self.data.users
        return [self._id(uid) for uid in uids if uid in users and self.data.online_now(users[uid])]

    # ---- 2.12 - 2.14 (directory) ------------------------------------------------------------

    def _org_user_tree(self, call: Call) -> Any:
        data = self.data
        sub_orgs = data.org_children()
        users_by_org: dict[int, list[User]] = {}
        for u in data.users.values():
            users_by_org.setdefault(u.org_id, []).append(u)
        group_count: dict[int, int] = {}
        for g in data.groups.values():
            group_count[g.org_id] = group_count.get(g.org_id, 0) + 1

        def node(oid: int) -> dict[str, Any]:
            org = data.orgs[oid]
            users = users_by_org.get(oid, [])
            n = self._org_node(org, users, group_count.get(oid, 0))
            n["children"] = [node(c) for c in sub_orgs.get(oid, ())] + [
                self._user_node(u) for u in users
            ]
            return n

        return [node(data.root_org().id)]

    def _query_id(self, call: Call) -> int:
        raw = call.query.get("id")
        if missing(raw):
            raw = call.body.get("id")  # lenient: a client may send it in the body
        if missing(raw):
            raise ApiError(506, "id")
        return as_int(raw, "id")

    def _org_user(self, call: Call) -> Any:
        org = self._org(self._query_id(call))
        users = [u for u in self.data.users.values() if u.org_id == org.id]
        groups = sum(1 for g in self.data.groups.values() if g.org_id == org.id)
        node = self._org_node(org, users, groups)
        del node["type"]  # the 2.13 example has no type on the org itself
        node["children"] = [self._user_node(u) for u in users]
        return node

    def _user_info(self, call: Call) -> Any:
        u = self.data.users.get(self._query_id(call))
        if u is None:
            return None  # the document's example: unknown user -> data null, status 200
        node = self._user_node(u)
        del node["type"]
        node["groups"] = [
            {
                "id": self._id(gid),
                "type": g.type,
                "name": g.name,
                "pinyin": g.pinyin,
                "priority": g.priority,
                "innerPriority": m.priority,
            }
            for gid, m in u.groups.items()
            if (g := self.data.groups.get(gid)) is not None
        ]
        return node
