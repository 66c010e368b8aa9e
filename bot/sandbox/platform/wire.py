"""The platform's wire: its wording, request validation, time formats, JSON."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.sandbox.data import (
    TZ,
)

CALLBACK_EVENTS = ("report", "org-updated", "org-deleted", "user-updated", "user-deleted")

# the platform's own wording (section 四 of the original)
MESSAGES: dict[int, str] = {
    200: "成功",
    500: "系统繁忙，请稍后再试",
    501: "未登录",
    502: "参数错误",
    504: "账号不存在",
    505: "账号或密码错误",
    506: "必填参数为空",
    508: "账号已存在",
    509: "组织不存在",
    510: "单次提交数据量太多",
    514: "群组不存在",
    517: "用户不存在",
    535: "密码强度不符合规范",
    542: "设备 id 不一致",
    543: "编号或名字已存在",
}

ACCOUNT_RE = re.compile(r"[A-Za-z0-9_.@-]{1,32}")
_INT_RE = re.compile(r"\s*-?\d+\s*")

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html lang="zh-CN">\n<head><meta charset="utf-8">'
    "<title>调度平台 - 登录</title></head>\n<body>\n"
    '<form method="post" action="/login"><input name="username" placeholder="账号">'
    '<input name="password" type="password" placeholder="密码">'
    "<button>登录</button></form>\n</body>\n</html>\n"
)

REPORT_TYPES = ("火灾", "交通事故", "治安事件", "医疗急救", "设备故障", "自然灾害")
REPORT_LEVELS = ("一般", "较大", "重大", "特别重大")
REPORT_TEXTS = (
    ("仓库冒烟", "{street}一处仓库有浓烟冒出，现场人员已疏散，请求支援。"),
    ("两车追尾", "{street}路口两车追尾，一人轻伤，道路部分拥堵。"),
    ("人员晕倒", "{street}商场内一名老人晕倒，已拨打120，需要医护协助。"),
    ("对讲机故障", "巡逻途中对讲机无法发射，已更换备用机。"),
    ("积水严重", "{street}下穿隧道积水约40厘米，建议封闭交通。"),
    ("可疑人员", "{street}小区门口发现可疑人员徘徊，已上前询问。"),
)


class ApiError(Exception):
    """An error answered inside the envelope (HTTP 200, `status` != 200)."""

    def __init__(self, status: int, detail: str = "") -> None:
        base = MESSAGES.get(status, "错误")
        super().__init__(f"{base}: {detail}" if detail else base)
        self.status = status
        self.message = f"{base}: {detail}" if detail else base


@dataclass
class Call:
    request: web.Request
    body: dict[str, Any]
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"{self.request.scheme}://{self.request.host}"


# ---- request validation --------------------------------------------------------------------


def missing(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def required(body: Mapping[str, Any], key: str, label: str | None = None) -> Any:
    v = body.get(key)
    if missing(v):
        raise ApiError(506, label or key)
    return v


def as_int(v: Any, key: str) -> int:
    if isinstance(v, bool):
        raise ApiError(502, key)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and _INT_RE.fullmatch(v):
        return int(v)
    raise ApiError(502, key)


def as_int_list(v: Any, key: str) -> list[int]:
    if not isinstance(v, list):
        raise ApiError(502, key)
    return [as_int(x, key) for x in v]


def as_str(v: Any, key: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)  # accounts are often phone numbers sent as numbers
    raise ApiError(502, key)


def paging(body: Mapping[str, Any]) -> tuple[int, int]:
    page = required(body, "page")
    if not isinstance(page, dict):
        raise ApiError(502, "page")
    size = as_int(required(page, "size", "page.size"), "page.size")
    current = as_int(required(page, "current", "page.current"), "page.current")
    if size <= 0:
        raise ApiError(502, "page.size")
    if current < 1:
        raise ApiError(502, "page.current")
    return size, current


def paginate(items: list[Any], size: int, current: int) -> tuple[list[Any], int]:
    pages = math.ceil(len(items) / size)
    return items[(current - 1) * size : current * size], pages


def dedupe(ids: list[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def parse_local(text: Any, key: str, fmt: str) -> datetime:
    if not isinstance(text, str):
        raise ApiError(502, key)
    try:
        return datetime.strptime(text.strip(), fmt).replace(tzinfo=TZ)
    except ValueError:
        raise ApiError(502, key) from None


# ---- time formats --------------------------------------------------------------------------


def iso_utc(ms: int) -> str:
    """ "2023-09-07T09:00:24.000+00:00", as the platform writes instants."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+00:00"


def local_str(ms: int) -> str:
    """ "2023-09-07 23:28:00" in the platform's local time."""
    return datetime.fromtimestamp(ms / 1000, TZ).strftime("%Y-%m-%d %H:%M:%S")


def unpadded(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, TZ)
    return f"{dt.year}-{dt.month}-{dt.day} {dt.hour}:{dt.minute:02d}:{dt.second:02d}"


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=_dumps(payload), status=status, content_type="application/json", charset="utf-8"
    )
