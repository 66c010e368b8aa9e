"""What an outbox row sends: one typed message, rendered before it is queued.

Renderers and jobs build these; the delivery worker's sender reads them back and
turns each into Bot API calls. A row's payload is the message as JSON, with `type`
naming its variant. Rows written before the variants had a `type` (a dict keyed by
`edit`, `voice_url`, `document`, `more`/`attachments`, or just `text`) are read by
`read_message` as the variant they meant, so an upgrade never strands a queued row.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "AckEdit",
    "Attachment",
    "CaptionEdit",
    "Document",
    "DocumentMessage",
    "FenceAlert",
    "IncidentMessage",
    "LegacyIncident",
    "OutboxMessage",
    "TextMessage",
    "VoiceMessage",
    "read_message",
]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_payload(self) -> dict[str, Any]:
        """The JSON-able dict an outbox row stores."""
        return self.model_dump(mode="json")


class TextMessage(_Message):
    """HTML text; the sender splits it under Telegram's limit."""

    type: Literal["text"] = "text"
    text: str = ""


class VoiceMessage(_Message):
    """A recording sent as voice or audio, `text` its caption (a link if it cannot be sent).

    `recording_key` (`bot.jobs.recordings.recording_key`), when set: the caption gains the
    recording's transcript, at once if it is known when sent, else by an edit once it is
    (`language`: the words of the caption; None: the bridge's)."""

    type: Literal["voice"] = "voice"
    text: str
    voice_url: str
    duration: int | None = None
    recording_key: str | None = None
    language: str | None = None


class Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    data_b64: str
    caption: str | None = None


class DocumentMessage(_Message):
    """HTML text, then a file as a reply to its first message (a digest and its CSV)."""

    type: Literal["document"] = "document"
    text: str = ""
    document: Document


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    url: str
    kind: str  # photo | audio
    name: str = ""


class IncidentMessage(_Message):
    """An incident: its header `text` (with the Acknowledge button, labelled `ack_label`,
    for the row's incident; no button when `ack_label` is empty, i.e. acknowledged before
    this copy was sent), the messages that follow it, and its files."""

    type: Literal["incident"] = "incident"
    text: str
    more: list[str] = Field(default_factory=list)
    ack_label: str = "✅"
    attachments: list[Attachment] = Field(default_factory=list)
    caption: str | None = None


class AckEdit(_Message):
    """An acknowledgement: a sent incident's header edited to say who and when."""

    type: Literal["edit"] = "edit"
    message_id: int
    text: str
    ack: int | None = None
    ack_label: str = "✅"


class CaptionEdit(_Message):
    """A sent voice message's caption completed with its transcript (HTML `caption`), and
    `reply`, when set, sent as a reply to it (the whole transcript, when the caption has
    only an excerpt)."""

    type: Literal["caption"] = "caption"
    message_id: int
    caption: str
    reply: str | None = None


class FenceAlert(_Message):
    """A geofence crossing: HTML `text` (who, which fence, enter or leave, when), then a
    location pin (WGS-84) as a reply to it."""

    type: Literal["fence"] = "fence"
    text: str
    lat: float
    lon: float


class LegacyIncident(_Message):
    """An incident row queued before incidents were rendered when queued (its payload was
    `{}`): rendered and rewritten at start (`IncidentIngest.render_waiting`), never sent."""

    type: Literal["legacy-incident"] = "legacy-incident"


OutboxMessage = Annotated[
    TextMessage
    | VoiceMessage
    | DocumentMessage
    | IncidentMessage
    | AckEdit
    | LegacyIncident
    | FenceAlert
    | CaptionEdit,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[OutboxMessage] = TypeAdapter(OutboxMessage)


def _legacy(payload: dict[str, Any], incident_id: int | None) -> dict[str, Any]:
    """The old untyped shapes, given the `type` they meant."""
    if "edit" in payload:
        return {"type": "edit", **payload["edit"]}
    if "voice_url" in payload:
        return {"type": "voice", **payload}
    if "document" in payload:
        return {"type": "document", **payload}
    if "more" in payload or "attachments" in payload:
        return {"type": "incident", **payload}
    if incident_id is not None and "text" not in payload:
        return {"type": "legacy-incident"}
    return {"type": "text", **payload}


def read_message(payload: Any, incident_id: int | None = None) -> OutboxMessage:
    """An outbox row's payload as its typed message, old untyped rows included."""
    if isinstance(payload, dict) and "type" not in payload:
        payload = _legacy(payload, incident_id)
    return _ADAPTER.validate_python(payload)
