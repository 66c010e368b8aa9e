"""Recordings on the map: opaque ids bound to whoever listed them, and the audio streamed
through the bridge from the platform's `fileUrl`.

The page never sees a `fileUrl`: `/app/api/recordings` hands out a random id per recording
and caller, and `/app/api/audio/<id>` plays only an id that this caller was given, within
a day, for a user still in their scope. A forged, foreign or forgotten id is "not found".
The ids live in memory (bounded): after a restart the page lists the day again.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bot.platform.models import Recording

__all__ = ["TICKETS_MAX", "TICKET_TTL", "AudioTicket", "AudioTickets"]

TICKETS_MAX: Final = 20_000  # ~2,000 days of 10 recordings listed between restarts
TICKET_TTL: Final = timedelta(hours=24)  # as long as the initData that asked for it


@dataclass(frozen=True, slots=True)
class AudioTicket:
    """One recording as one caller listed it."""

    caller_id: int
    user_id: int
    recording: Recording
    issued_at: datetime


class AudioTickets:
    """Random ids for recordings, the oldest forgotten past `TICKETS_MAX`."""

    def __init__(self, clock: Callable[[], datetime], *, limit: int = TICKETS_MAX) -> None:
        self._clock = clock
        self._limit = limit
        self._tickets: OrderedDict[str, AudioTicket] = OrderedDict()
        # The same recording (its file and when it began: two recordings may share a file)
        # listed again by the same caller keeps its id.
        self._ids: dict[tuple[int, int, str, datetime], str] = {}

    def __len__(self) -> int:
        return len(self._tickets)

    def issue(self, caller_id: int, user_id: int, rec: Recording) -> str:
        key = (caller_id, user_id, rec.file_url, rec.begin)
        now = self._clock()
        known = self._ids.get(key)
        if known is not None and known in self._tickets:
            self._tickets[known] = AudioTicket(caller_id, user_id, rec, now)
            self._tickets.move_to_end(known)
            return known
        ticket_id = secrets.token_urlsafe(18)
        self._tickets[ticket_id] = AudioTicket(caller_id, user_id, rec, now)
        self._ids[key] = ticket_id
        while len(self._tickets) > self._limit:
            _, old = self._tickets.popitem(last=False)
            old_rec = old.recording
            self._ids.pop((old.caller_id, old.user_id, old_rec.file_url, old_rec.begin), None)
        return ticket_id

    def get(self, ticket_id: str, caller_id: int) -> AudioTicket | None:
        """The ticket if `caller_id` was given it less than `TICKET_TTL` ago."""
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket.caller_id != caller_id:
            return None
        if self._clock() - ticket.issued_at > TICKET_TTL:
            return None
        return ticket
