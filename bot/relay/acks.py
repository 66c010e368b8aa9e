"""Acknowledgements: a press of an incident's Acknowledge button, and the edits it queues."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.relay.context import Context, Part
from bot.relay.events import IncidentReport
from bot.relay.ingest import sender_org
from bot.relay.messages import AckEdit, IncidentMessage
from bot.render.relay import incident_message, incident_text
from storage.incidents import Incident, IncidentRepo
from storage.outbox import OutboxRepo


@dataclass(frozen=True, slots=True)
class Ack:
    """What a press of Acknowledge did: `done` (this press was the first), `already`
    (someone was first: `incident` says who), `refused` (not a copy of that incident in
    that chat, or outside the presser's scope), `unknown` (no such incident any more)."""

    outcome: Literal["done", "already", "refused", "unknown"]
    incident: Incident | None


class Acknowledgements(Part):
    """Who acknowledged an incident, and every copy of it showing so."""

    def __init__(self, ctx: Context, incidents: IncidentRepo, outbox: OutboxRepo) -> None:
        super().__init__(ctx)
        self.incidents = incidents
        self.outbox = outbox

    def may_see(self, incident: Incident, scope: frozenset[int] | None) -> bool:
        """Whether someone with this org scope (None: everything) may see the incident: it was
        addressed to an org of their subtree, or filed by someone of it."""
        if scope is None:
            return True
        report = IncidentReport.model_validate(incident.body)
        orgs = (report.org_id, sender_org(self.directory, report))
        return any(o is not None and o in scope for o in orgs)

    async def acknowledge(
        self,
        incident_id: int,
        user_id: int,
        name: str,
        *,
        chat_id: int,
        message_id: int,
        scope: frozenset[int] | None,
    ) -> Ack:
        """A press of the Acknowledge button on message `message_id` of chat `chat_id`.

        Judged by that message, not by the button's data: it must be a copy of the incident
        the bridge sent to that chat, and the presser's scope must let them see the
        incident; otherwise refused, with nothing recorded and nothing edited. The first
        press that passes records who and when, and queues an edit of every copy showing
        who acknowledged it, without the Acknowledge button.
        """
        forged = not 0 < incident_id < 2**63  # no incident has an id SQLite cannot hold
        if forged or not await self.incidents.shown_by(incident_id, chat_id, message_id):
            return Ack("refused", None)
        incident = await self.incidents.get(incident_id)
        if incident is None:
            return Ack("unknown", None)
        if not self.may_see(incident, scope):
            return Ack("refused", None)
        now = self.clock()
        async with self.db.transaction():
            won, incident = await self.incidents.acknowledge(incident_id, user_id, name, now)
            if incident is None:
                return Ack("unknown", None)
            if not won:
                return Ack("already", incident)
            text = self.incident_text(incident)
            for chat, message in await self.incidents.messages(incident_id):
                # No `ack`: the edit drops the keyboard, nothing is left to acknowledge.
                edit = AckEdit(message_id=message, text=text)
                await self.outbox.enqueue(chat, 0, "ack-edit", edit.to_payload(), now)
            # Copies not sent yet go out showing the acknowledgement.
            await self.outbox.set_incident_payload(
                incident_id, self.render_incident(incident).to_payload()
            )
        self.wake()
        return Ack("done", incident)

    def render_incident(self, incident: Incident) -> IncidentMessage:
        """What an incident's outbox rows send, with its acknowledgement if it has one."""
        report = IncidentReport.model_validate(incident.body)
        message = incident_message(self.t, report, self.tz, incident.received_at)
        if incident.acked_at is not None:
            # Acknowledged: the copy shows who and when, and has no button left to press.
            text = self.incident_text(incident)
            message = message.model_copy(update={"text": text, "ack_label": ""})
        return message

    async def render_waiting(self) -> int:
        """At start, before the delivery worker: incident rows queued by a version that
        rendered them when sent (payload `{}`) are rendered now. Returns how many."""
        done = 0
        for row_id, incident_id in await self.outbox.unrendered_incidents():
            incident = await self.incidents.get(incident_id)
            if incident is not None:
                payload = self.render_incident(incident).to_payload()
                await self.outbox.set_payload(row_id, payload)
                done += 1
        return done

    def incident_text(self, incident: Incident) -> str:
        """An incident as shown in chats, with its acknowledgement if it has one."""
        report = IncidentReport.model_validate(incident.body)
        ack = None
        if incident.acked_at is not None:
            ack = (incident.acked_by_name or str(incident.acked_by), incident.acked_at)
        return incident_text(self.t, report, self.tz, incident.received_at, ack)
