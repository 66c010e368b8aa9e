"""A Bot API request's parameters (form data, JSON, uploads), its errors and its responses."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import (
    web,
)

from bot.sandbox.telegram.constants import (
    BOOL_FIELDS,
    BUTTON_ACTIONS,
    CALLBACK_DATA_LIMIT,
    FLOAT_FIELDS,
    INT_FIELDS,
    JSON,
    JSON_FIELDS,
)
from bot.sandbox.telegram.model import Upload


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        data: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        return data


def bad_request(description: str, parameters: JSON | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", parameters)


class Params:
    """Request parameters with Telegram-like conversion errors."""

    def __init__(self, values: Mapping[str, Any], uploads: Mapping[str, Upload]) -> None:
        self.values = dict(values)
        self.uploads = dict(uploads)

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def str_(self, name: str, *, required: bool = False, missing: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise bad_request(missing or f"{name} is empty")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad_request(f'field "{name}" must be of type String')
        return str(value)

    def int_(self, name: str, *, required: bool = False, missing: str | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(missing or f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,19}\s*", value):
            return int(value)
        raise bad_request(f'field "{name}" must be of type Integer')

    def float_(
        self, name: str, *, required: bool = False, missing: str | None = None
    ) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(missing or f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Number')
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise bad_request(f'field "{name}" must be of type Number') from None
        else:
            raise bad_request(f'field "{name}" must be of type Number')
        if not math.isfinite(number):
            raise bad_request(f'field "{name}" must be of type Number')
        return number

    def bool_(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
            return value.strip().lower() in ("true", "1")
        raise bad_request(f'field "{name}" must be of type Boolean')

    def json_(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def chat_ref(self, name: str = "chat_id") -> int | str:
        value = self.values.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            stripped = value.strip()
            if re.fullmatch(r"[+-]?\d{1,19}", stripped):
                return int(stripped)
            return stripped
        raise bad_request(f'field "{name}" must be of type Integer or String')

    def decoded(self) -> JSON:
        """The parameters as a test wants to read them (best effort, never raises)."""
        out: JSON = {}
        for key, value in self.values.items():
            out[key] = _decode_value(key, value, self.uploads)
        for key, upload in self.uploads.items():
            if not any(isinstance(v, str) and v == f"attach://{key}" for v in self.values.values()):
                out.setdefault(key, _describe_upload(upload))
        return out


def _describe_upload(upload: Upload) -> JSON:
    return {"upload": upload.filename, "size": len(upload.data), "mime": upload.content_type}


def _decode_value(key: str, value: Any, uploads: Mapping[str, Upload]) -> Any:
    if not isinstance(value, str):
        return value
    if value.startswith("attach://") and value[9:] in uploads:
        return _describe_upload(uploads[value[9:]])
    try:
        if key in JSON_FIELDS:
            decoded = json.loads(value)
            return _replace_attachments(decoded, uploads)
        if key in INT_FIELDS and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        if key in FLOAT_FIELDS:
            return float(value)
        if key in BOOL_FIELDS and value.lower() in ("true", "false"):
            return value.lower() == "true"
    except ValueError:
        return value
    return value


def _replace_attachments(value: Any, uploads: Mapping[str, Upload]) -> Any:
    if isinstance(value, str) and value.startswith("attach://") and value[9:] in uploads:
        return _describe_upload(uploads[value[9:]])
    if isinstance(value, list):
        return [_replace_attachments(v, uploads) for v in value]
    if isinstance(value, dict):
        return {k: _replace_attachments(v, uploads) for k, v in value.items()}
    return value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def json_response(status: int, payload: JSON) -> web.Response:
    return web.Response(
        text=dumps(payload), status=status, content_type="application/json", charset="utf-8"
    )


def error_response(code: int, description: str) -> web.Response:
    return json_response(code, {"ok": False, "error_code": code, "description": description})


Handler = Callable[[Params], Any]


def scope_key(scope: JSON) -> str:
    return json.dumps(scope, sort_keys=True, separators=(",", ":"))


def check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    actions = [key for key in BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
            raise bad_request("BUTTON_URL_INVALID")
    if "web_app" in button:
        web_app = button["web_app"]
        url = web_app.get("url") if isinstance(web_app, dict) else None
        if not isinstance(url, str) or not re.match(r"https://\S+$", url):
            raise bad_request("BUTTON_URL_INVALID")  # Mini Apps open only over https
