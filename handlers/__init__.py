"""The bot's routers, one per feature, in the order they are tried.

Each call builds fresh routers: a router belongs to one dispatcher, so two bridges in one
process (two tests, a restart) never share one.
"""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import (
        accounts,
        admin,
        attendance,
        broadcast,
        devices,
        errors,
        fallback,
        fences,
        follow,
        heard,
        incidents,
        near,
        online,
        people,
        recordings,
        roles,
        search,
        start,
        status,
        subscriptions,
        talkgroups,
        track,
        watch,
        where,
    )

    return [
        errors.router(),  # only error events: order does not matter
        start.router(),  # /start, /help, /lang, /cancel: for anyone
        search.router(),
        online.router(),
        people.router(),
        where.router(),
        track.router(),
        recordings.router(),
        heard.router(),
        subscriptions.router(),
        watch.router(),
        follow.router(),
        fences.router(),
        near.router(),
        attendance.router(),
        incidents.router(),
        status.router(),
        roles.router(),
        # The admin chores, in the order one router used to try them: accounts (with the
        # /register dialog's answers), talk groups, terminals, the audit trail.
        accounts.router(),
        talkgroups.router(),
        devices.router(),
        admin.router(),
        broadcast.router(),
        # Last: it answers whatever the routers above did not take, including commands
        # a router's role filter refused — so it must see them after every feature router.
        fallback.router(),
    ]
