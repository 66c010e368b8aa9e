"""What API methods check alike: thread, reply, text and entities, keyboard, flood, files."""

from __future__ import annotations

import math
import mimetypes
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.sandbox.telegram.constants import CAPTION_LIMIT, JSON, MAX_BUTTONS, TEXT_LIMIT
from bot.sandbox.telegram.flood import Window
from bot.sandbox.telegram.html import HtmlParseError, parse_html, trim_text, utf16_len
from bot.sandbox.telegram.media import sniff_mime
from bot.sandbox.telegram.model import LIVE_FOREVER, EmuChat, EmuFile, EmuLocation, Upload
from bot.sandbox.telegram.params import ApiError, Params, bad_request, check_button
from bot.sandbox.telegram.state import EmulatorState


class EmulatorChecks(EmulatorState):
    """What API methods check the same way: the thread, the reply, the text and its
    entities, the keyboard, the flood limits, an input file, a location."""

    # ------------------------------------------------------------------ internals: checks

    def _thread(self, chat: EmuChat, p: Params) -> int | None:
        thread_id = p.int_("message_thread_id")
        if thread_id is None or not chat.is_forum:
            return None
        if thread_id == 1:  # the General topic
            return None
        if thread_id not in chat.topics:
            raise bad_request("message thread not found")
        return thread_id

    def _reply_to(self, chat: EmuChat, p: Params) -> int | None:
        reply_id = p.int_("reply_to_message_id")
        allow = p.bool_("allow_sending_without_reply")
        parameters = p.json_("reply_parameters", "reply parameters")
        if parameters is not None:
            if not isinstance(parameters, dict) or "message_id" not in parameters:
                raise bad_request("can't parse reply parameters JSON object")
            nested = Params(parameters, {})
            reply_id = nested.int_("message_id")
            allow = nested.bool_("allow_sending_without_reply", allow)
            other = parameters.get("chat_id")
            if other is not None and str(other) != str(chat.id):
                return None  # a reply to another chat is shown as a quote; not modelled
        if reply_id is None:
            return None
        target = self._history.get(chat.id, {}).get(reply_id)
        if target is None or target.deleted:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return reply_id

    def _format(
        self,
        raw: str,
        parse_mode: str | None,
        entities: Any,
        *,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> tuple[str, list[JSON]]:
        """Visible text and entities of a text or caption, validated like Telegram."""
        if entities:
            if not isinstance(entities, list) or not all(
                isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in entities
            ):
                raise bad_request("can't parse entities JSON object")
            visible, found = raw, [dict(e) for e in entities]
        elif parse_mode:
            mode = parse_mode.lower()
            if mode == "html":
                try:
                    visible, found = parse_html(raw, strict=self.strict_html)
                except HtmlParseError as exc:
                    raise bad_request(f"can't parse entities: {exc}") from None
            elif mode in ("markdown", "markdownv2"):
                visible, found = re.sub(r"\\([\\_*\[\]()~`>#+\-=|{}.!])", r"\1", raw), []
            else:
                raise bad_request("unsupported parse_mode")
        else:
            visible, found = raw, []
        visible, found = trim_text(visible, found)
        if not visible and empty is not None:
            raise bad_request(empty)
        if utf16_len(visible) > limit:
            raise bad_request(too_long)
        return visible, found

    def _text(self, p: Params) -> tuple[str, str, list[JSON], str | None]:
        raw = p.str_("text", required=True, missing="message text is empty") or ""
        parse_mode = p.str_("parse_mode")
        visible, entities = self._format(
            raw,
            parse_mode,
            p.json_("entities"),
            limit=TEXT_LIMIT,
            too_long="message is too long",
            empty="message text is empty",
        )
        return raw, visible, entities, parse_mode

    def _caption(self, values: Params) -> tuple[str | None, str | None, list[JSON], str | None]:
        raw = values.str_("caption")
        parse_mode = values.str_("parse_mode")
        if raw is None:
            return None, None, [], parse_mode
        visible, entities = self._format(
            raw,
            parse_mode,
            values.json_("caption_entities"),
            limit=CAPTION_LIMIT,
            too_long="message caption is too long",
            empty=None,
        )
        return raw, visible or None, entities, parse_mode

    def _markup(self, p: Params, *, inline_only: bool = False) -> JSON | None:
        markup = p.json_("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
                )
            count = 0
            for row in rows:
                for button in row:
                    count += 1
                    check_button(button)
            # Telegram opens Mini Apps from inline buttons in private chats only.
            web_app = any("web_app" in b for row in rows for b in row)
            if web_app and p.has("chat_id") and self._lookup_chat(p).type != "private":
                raise bad_request("BUTTON_TYPE_INVALID")
            if count > MAX_BUTTONS:
                raise bad_request("reply markup is too long")
            if count == 0:
                return None
            return markup
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _flood(self, chat: EmuChat, units: int = 1) -> None:
        """Count one message (an album: ``units``, one per item) or answer 429."""
        if not self.flood_limits:
            return
        now = self._clock()
        if self._global_window is None:
            self._global_window = Window.of_rate(self.global_per_s, 1.0)
        window = self._chat_windows.get(chat.id)
        if window is None:
            if chat.is_group:
                window = Window.of_rate(self.group_per_min, 60.0)
            else:  # a burst of private_burst, then private_per_s: in any window of that
                burst = max(1, self.private_burst)
                window = Window(burst, burst / self.private_per_s)
            self._chat_windows[chat.id] = window
        # In a private chat an album is sent at once: one message of its rate.
        counted = ((self._global_window, units), (window, units if chat.is_group else 1))
        wait = max(w.wait_time(now, n) for w, n in counted)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        for w, n in counted:
            w.take(now, n)

    def _input_file(
        self, value: Any, uploads: Mapping[str, Upload], field_name: str, kind: str
    ) -> EmuFile:
        upload: Upload | None = None
        if value is None or value == "":
            upload = uploads.get(field_name)
            if upload is None:
                raise bad_request(f"there is no {field_name} in the request")
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f"there is no {field_name} in the request")
        elif isinstance(value, str) and re.match(r"https?://", value):
            path = urlsplit(value).path
            name = unquote(path.rsplit("/", 1)[-1]) or None
            return self._store_file(kind, None, name, mimetypes.guess_type(path)[0], url=value)
        elif isinstance(value, str):
            known = self._files.get(value.strip())
            if known is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return known
        else:
            raise bad_request(f'field "{field_name}" must be of type String')
        data = upload.data
        if len(data) > self.max_upload_bytes:
            raise ApiError(413, "Request Entity Too Large")
        if not data:
            raise bad_request("file must be non-empty")
        sniffed = sniff_mime(data)
        declared = upload.content_type
        if declared in (None, "", "application/octet-stream"):
            declared = None
        mime = declared or mimetypes.guess_type(upload.filename or "")[0] or sniffed
        if kind == "photo":
            if sniffed is None or not sniffed.startswith("image/"):
                raise bad_request("IMAGE_PROCESS_FAILED")
            mime = sniffed
        elif kind == "voice" and sniffed in ("audio/ogg", "audio/mpeg", "audio/mp4"):
            mime = sniffed
        return self._store_file(kind, data, upload.filename, mime or "application/octet-stream")

    def _location(self, p: Params) -> EmuLocation:
        lat = p.float_("latitude", required=True) or 0.0
        lon = p.float_("longitude", required=True) or 0.0
        if not -90 <= lat <= 90 or not -180 <= lon <= 180:
            raise bad_request("wrong location specified")
        accuracy = p.float_("horizontal_accuracy")
        if accuracy is not None and not 0 <= accuracy <= 1500:
            raise bad_request("wrong horizontal accuracy specified")
        heading = p.int_("heading")
        if heading is not None and not 1 <= heading <= 360:
            raise bad_request("wrong heading specified")
        live_period = p.int_("live_period")
        if live_period is not None and not (
            60 <= live_period <= 86400 or live_period == LIVE_FOREVER
        ):
            raise bad_request("wrong live period specified")
        radius = p.int_("proximity_alert_radius")
        if radius is not None and not 1 <= radius <= 100_000:
            raise bad_request("wrong proximity alert radius specified")
        return EmuLocation(lat, lon, accuracy, heading, live_period, radius)

    def _document_api(self, stored: EmuFile) -> JSON:
        doc: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.filename:
            doc["file_name"] = stored.filename
        if stored.mime:
            doc["mime_type"] = stored.mime
        if stored.size is not None:
            doc["file_size"] = stored.size
        return doc
