"""Voice recordings (2.6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo

from bot.platform.models.base import AsList, OptInt, OptStr, Str, _Model, _time


def _begin(v: Any, info: ValidationInfo) -> Any:
    t = _time(v, info)
    if t is None:
        raise ValueError("beginTime is missing")
    return t


class Recording(_Model):
    """A voice recording (2.6)."""

    user_id: OptInt = Field(default=None, alias="userId")
    account: Str = ""
    begin: Annotated[datetime, BeforeValidator(_begin)] = Field(alias="beginTime")
    duration_ms: OptInt = Field(default=None, alias="durationMs")
    group_name: OptStr = Field(default=None, alias="groupName")
    file_url: Str = Field(default="", alias="fileUrl")


class RecordingPage(_Model):
    """One page of 2.6; `total` may be a page count or a record count."""

    size: OptInt = None
    total: OptInt = None
    records: AsList[Recording] = Field(default_factory=list)
