"""sendMessage and its kin: locations, venues, media, albums, copies and forwards."""

from __future__ import annotations

import random
from typing import Any

from bot.sandbox.telegram.checks import EmulatorChecks
from bot.sandbox.telegram.constants import JSON
from bot.sandbox.telegram.media import _photo_sizes
from bot.sandbox.telegram.model import EmuChat, EmuFile, EmuMessage
from bot.sandbox.telegram.params import Params, bad_request


class SendingMethods(EmulatorChecks):
    """sendMessage and its kin: locations, venues, media, albums, copies and forwards."""

    # ------------------------------------------------------------------ methods: sending

    def _bot_message(self, chat: EmuChat, kind: str, **fields: Any) -> EmuMessage:
        msg = self._new_message(
            chat,
            from_bot=True,
            sender=self.bot_user,
            kind=kind,
            thread_id=fields.pop("thread_id", None),
            reply_to=fields.pop("reply_to", None),
            **fields,
        )
        self._emit("sent", msg)
        return msg

    async def _m_send_message(self, p: Params) -> JSON:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        raw, visible, entities, parse_mode = self._text(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood(chat)
        msg = self._bot_message(
            chat,
            "text",
            text=raw,
            visible_text=visible,
            entities=entities,
            parse_mode=parse_mode,
            reply_markup=markup,
            thread_id=thread_id,
            reply_to=reply_to,
        )
        return self.message_api(msg)

    async def _m_send_location(self, p: Params) -> JSON:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        location = self._location(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood(chat)
        msg = self._bot_message(
            chat,
            "location",
            location=location,
            reply_markup=markup,
            thread_id=thread_id,
            reply_to=reply_to,
            # A live location's period counts from now, by the emulator's clock.
            live_since=self._clock() if location.live_period else None,
            positions=[location],
        )
        return self.message_api(msg)

    async def _m_send_venue(self, p: Params) -> JSON:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        location = self._location(p)
        title = p.str_("title", required=True, missing="venue title is empty") or ""
        address = p.str_("address", required=True, missing="venue address is empty") or ""
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood(chat)
        venue: JSON = {"location": location.to_api(), "title": title, "address": address}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            value = p.str_(key)
            if value:
                venue[key] = value
        msg = self._bot_message(
            chat,
            "venue",
            location=location,
            venue=venue,
            reply_markup=markup,
            thread_id=thread_id,
            reply_to=reply_to,
        )
        return self.message_api(msg)

    def _media_api(self, kind: str, stored: EmuFile, p: Params) -> JSON:
        if kind == "photo":
            sizes = _photo_sizes(stored)
            for size in sizes:  # every size is a file the bot may send again
                self._files.setdefault(size["file_id"], stored)
            return {"photo": sizes}
        if kind == "document":
            return {"document": self._document_api(stored)}
        duration = p.int_("duration")
        if duration is None:
            duration = stored.duration or 0
        base: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
        }
        if kind == "voice":
            if stored.mime:
                base["mime_type"] = stored.mime
        else:
            if kind in ("video", "animation"):
                base["width"] = p.int_("width") or stored.width or 640
                base["height"] = p.int_("height") or stored.height or 360
            if kind == "audio":
                for key in ("performer", "title"):
                    value = p.str_(key)
                    if value:
                        base[key] = value
            if stored.filename:
                base["file_name"] = stored.filename
            if stored.mime:
                base["mime_type"] = stored.mime
        if stored.size is not None:
            base["file_size"] = stored.size
        return {kind: base}

    async def _send_media(self, p: Params, kind: str) -> JSON:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        raw, visible, entities, parse_mode = self._caption(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        stored = self._input_file(p.values.get(kind), p.uploads, kind, kind)
        self._flood(chat)
        msg = self._bot_message(
            chat,
            kind,
            caption=raw,
            visible_caption=visible,
            caption_entities=entities,
            parse_mode=parse_mode,
            reply_markup=markup,
            file=stored,
            media=self._media_api(kind, stored, p),
            thread_id=thread_id,
            reply_to=reply_to,
        )
        return self.message_api(msg)

    async def _m_send_photo(self, p: Params) -> JSON:
        return await self._send_media(p, "photo")

    async def _m_send_document(self, p: Params) -> JSON:
        return await self._send_media(p, "document")

    async def _m_send_audio(self, p: Params) -> JSON:
        return await self._send_media(p, "audio")

    async def _m_send_voice(self, p: Params) -> JSON:
        return await self._send_media(p, "voice")

    async def _m_send_video(self, p: Params) -> JSON:
        return await self._send_media(p, "video")

    async def _m_send_animation(self, p: Params) -> JSON:
        return await self._send_media(p, "animation")

    async def _m_send_media_group(self, p: Params) -> list[JSON]:
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        media = p.json_("media", "media")
        if not isinstance(media, list):
            raise bad_request("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise bad_request(
                "wrong number of media in the media group: it must contain 2-10 items"
            )
        reply_to = self._reply_to(chat, p)
        prepared: list[
            tuple[str, EmuFile, Params, tuple[str | None, str | None, list[JSON], str | None]]
        ] = []
        kinds: set[str] = set()
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in (
                "photo",
                "video",
                "audio",
                "document",
            ):
                raise bad_request("can't parse InputMedia JSON object")
            kind = str(item["type"])
            kinds.add(kind)
            item_params = Params(item, {})
            caption = self._caption(item_params)
            stored = self._input_file(item.get("media"), p.uploads, "media", kind)
            prepared.append((kind, stored, item_params, caption))
        if ("audio" in kinds or "document" in kinds) and len(kinds) > 1:
            mixed = "audio" if "audio" in kinds else "document"
            raise bad_request(f"{mixed} can't be mixed with other media types")
        self._flood(chat, len(prepared))
        group_id = str(random.getrandbits(60) + 10**17)
        results: list[JSON] = []
        for kind, stored, item_params, (raw, visible, entities, parse_mode) in prepared:
            msg = self._bot_message(
                chat,
                kind,
                caption=raw,
                visible_caption=visible,
                caption_entities=entities,
                parse_mode=parse_mode,
                file=stored,
                media=self._media_api(kind, stored, item_params),
                media_group_id=group_id,
                thread_id=thread_id,
                reply_to=reply_to,
            )
            results.append(self.message_api(msg))
        return results

    def _source_message(self, p: Params, what: str) -> EmuMessage:
        source_chat = self._lookup_chat(p, "from_chat_id")
        message_id = p.int_("message_id", required=True, missing="message_id is empty")
        msg = self._history.get(source_chat.id, {}).get(message_id or 0)
        if msg is None or msg.deleted or msg.service:
            raise bad_request(f"message to {what} not found")
        return msg

    def _clone(self, source: EmuMessage, chat: EmuChat, p: Params, **overrides: Any) -> EmuMessage:
        return self._bot_message(
            chat,
            source.kind,
            text=source.text,
            visible_text=source.visible_text,
            entities=list(source.entities),
            caption=source.caption,
            visible_caption=source.visible_caption,
            caption_entities=list(source.caption_entities),
            parse_mode=source.parse_mode,
            file=source.file,
            location=source.location,
            venue=source.venue,
            media=dict(source.media),
            thread_id=self._thread(chat, p),
            **overrides,
        )

    async def _m_copy_message(self, p: Params) -> JSON:
        chat = self._writable_chat(p)
        source = self._source_message(p, "copy")
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood(chat)
        msg = self._clone(source, chat, p, reply_markup=markup, reply_to=reply_to)
        if p.values.get("caption") is not None:
            raw, visible, entities, parse_mode = self._caption(p)
            msg.caption, msg.visible_caption, msg.caption_entities = raw, visible, entities
            msg.parse_mode = parse_mode
        return {"message_id": msg.message_id}

    async def _m_forward_message(self, p: Params) -> JSON:
        chat = self._writable_chat(p)
        source = self._source_message(p, "forward")
        self._flood(chat)
        origin: JSON = {"type": "user", "sender_user": source.sender.to_api(), "date": source.date}
        source_chat = self._chats[source.chat_id]
        if source_chat.type == "channel":
            origin = {
                "type": "channel",
                "chat": source_chat.to_api(),
                "message_id": source.message_id,
                "date": source.date,
            }
        msg = self._clone(source, chat, p, forward_origin=origin)
        return self.message_api(msg)
