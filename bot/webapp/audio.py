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

    @property
    def key(self) -> tuple[int, int, str, datetime]:
        """The same recording (its file and when it began: two recordings may share a file)
        as listed by the same caller: listed again, it keeps its id."""
        return self.caller_id, self.user_id, self.recording.file_url, self.recording.begin


class AudioTickets:
    """Random ids for recordings, the oldest forgotten past `TICKETS_MAX`."""

    def __init__(self, clock: Callable[[], datetime], *, limit: int = TICKETS_MAX) -> None:
        self._clock = clock
        self._limit = limit
        self._tickets: OrderedDict[str, AudioTicket] = OrderedDict()
        self._ids: dict[tuple[int, int, str, datetime], str] = {}  # AudioTicket.key -> id

    def __len__(self) -> int:
        return len(self._tickets)

    def issue(self, caller_id: int, user_id: int, rec: Recording) -> str:
        ticket = AudioTicket(caller_id, user_id, rec, self._clock())
        known = self._ids.get(ticket.key)
        if known is not None and known in self._tickets:
            self._tickets[known] = ticket
            self._tickets.move_to_end(known)
            return known
        ticket_id = secrets.token_urlsafe(18)
        self._tickets[ticket_id] = ticket
        self._ids[ticket.key] = ticket_id
        while len(self._tickets) > self._limit:
            _, old = self._tickets.popitem(last=False)
            self._ids.pop(old.key, None)
        return ticket_id

    def get(self, ticket_id: str, caller_id: int) -> AudioTicket | None:
        """The ticket if `caller_id` was given it less than `TICKET_TTL` ago."""
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket.caller_id != caller_id:
            return None
        if self._clock() - ticket.issued_at > TICKET_TTL:
            return None
        return ticket
