"""Typed errors of the platform client.

Every envelope status other than 200 becomes a `PlatformError` subclass chosen by
its family; transport failures (timeouts, refused connections, bodies that are
not the envelope) are `PlatformTransportError`s. Each carries the code, the
server's own message and an explanation in zh and en.
"""

from __future__ import annotations

# code -> (family, zh, en). Section 四 of the vendor's document.
# fmt: off
_CODES: dict[int, tuple[str, str, str]] = {
    501: (
        "auth",
        "平台登录失效（令牌缺失、过期或无效）",
        "not logged in to the platform (token missing, expired or invalid)",
    ),
    502: ("request", "参数错误", "a parameter was rejected by the platform"),
    503: ("request", "验证码错误", "wrong captcha"),
    504: ("auth", "账号不存在", "the login account does not exist"),
    505: ("auth", "账号或密码错误", "wrong account or password"),
    506: ("request", "必填参数为空", "a required parameter was empty"),
    507: ("forbidden", "该账号无权调用此方法", "this account may not call this method"),
    508: ("conflict", "账号已存在", "the account already exists"),
    509: ("not_found", "组织不存在", "the organization does not exist"),
    510: ("request", "单次提交数据过多", "too much data in one submission"),
    511: ("forbidden", "未绑定集团账号", "no bloc account is bound"),
    512: ("conflict", "存在下级，无法删除", "it has children and cannot be deleted"),
    513: ("conflict", "功能编码已存在", "the function code already exists"),
    514: ("not_found", "对讲组不存在", "the talk group does not exist"),
    515: ("not_found", "调度员不存在", "the dispatcher does not exist"),
    516: ("not_found", "代理商不存在", "the agent does not exist"),
    517: ("not_found", "用户不存在", "the user does not exist"),
    518: ("not_found", "角色不存在", "the role does not exist"),
    519: ("conflict", "角色编码已存在", "the role code already exists"),
    521: ("conflict", "默认集团不能删除", "the default bloc cannot be deleted"),
    523: ("request", "请上传图片", "please upload an image"),
    524: ("request", "删除图片失败", "deleting the image failed"),
    525: ("not_found", "订单不存在", "the order does not exist"),
    534: ("conflict", "用户状态不能回退", "the user's state cannot go backwards"),
    535: ("request", "密码强度太弱", "the password is too weak"),
    536: ("forbidden", "用户没有套餐，无法激活", "the user has no plan and cannot be activated"),
    537: ("conflict", "默认代理商不能删除", "the default agent cannot be deleted"),
    538: ("request", "旧密码错误", "the old password is incorrect"),
    539: ("conflict", "最后一个管理员不能删除", "the last administrator cannot be deleted"),
    541: ("forbidden", "用户未激活", "the user is not activated"),
    542: ("conflict", "设备号不匹配", "the terminal id does not match"),
    543: ("conflict", "号码或名称已存在", "the number or name already exists"),
    545: ("forbidden", "用户已过期", "the user has expired"),
    546: ("not_found", "用户 ID 错误", "wrong user id"),
}
# fmt: on


class PlatformError(Exception):
    """The platform answered with an error status, or could not be understood.

    `code` is the envelope status (0 for transport failures), `message` the
    server's own text (may be empty), `endpoint` the path that was called.
    `never_sent`: the request certainly never reached the platform (no connection
    was made), so even a call that must not be repeated blindly may be tried again.
    """

    never_sent = False

    def __init__(self, code: int, message: str = "", *, endpoint: str = "") -> None:
        self.code = code
        self.message = message
        self.endpoint = endpoint
        super().__init__(self._summary())

    def _summary(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        server = f" — server said: {self.message}" if self.message else ""
        return f"platform error {self.code}{where}: {self.explain('en')}{server}"

    def explain(self, lang: str = "en") -> str:
        """What the code means, in `zh` or `en`."""
        known = _CODES.get(self.code)
        if known is None:
            if lang == "zh":
                return f"平台返回了未知状态码 {self.code}"
            return f"the platform answered with an unknown status {self.code}"
        return known[1] if lang == "zh" else known[2]


class PlatformAuthError(PlatformError):
    """501 (token rejected) or a failed login (504, 505)."""


class PlatformRequestError(PlatformError):
    """The request was malformed in the platform's eyes (502, 506, 510, 535 …)."""


class PlatformNotFoundError(PlatformError):
    """The org, talk group or user named does not exist (509, 514, 517 …)."""


class PlatformConflictError(PlatformError):
    """Already exists or cannot be changed that way (508, 512, 543 …)."""


class PlatformForbiddenError(PlatformError):
    """The bridge's account may not do this (507, 511, 541 …)."""


class PlatformUnknownError(PlatformError):
    """A status code the document does not list."""


class PlatformTransportError(PlatformError):
    """No usable answer: connection failure, timeout, HTTP error page, not the envelope."""

    def __init__(
        self, message: str, *, endpoint: str = "", detail: str = "", never_sent: bool = False
    ) -> None:
        self.detail = detail
        self.never_sent = never_sent
        super().__init__(0, message, endpoint=endpoint)

    def _summary(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"platform {self.explain('en')}{where}: {self.message}"

    def explain(self, lang: str = "en") -> str:
        return "无法理解平台的应答" if lang == "zh" else "answer could not be understood"


class PlatformTimeoutError(PlatformTransportError):
    """The platform did not answer within `PLATFORM_TIMEOUT_S`."""

    def __init__(self, seconds: float, *, endpoint: str = "", never_sent: bool = False) -> None:
        self.seconds = seconds
        super().__init__(
            f"no answer within {seconds:g} s", endpoint=endpoint, never_sent=never_sent
        )

    def explain(self, lang: str = "en") -> str:
        if lang == "zh":
            return f"平台在 {self.seconds:g} 秒内没有应答"
        return f"did not answer within {self.seconds:g} s"


class PlatformUnreachableError(PlatformTransportError):
    """The connection could not be made or was cut."""

    def explain(self, lang: str = "en") -> str:
        return "无法连接到平台" if lang == "zh" else "could not be reached"


class PlatformBadResponseError(PlatformTransportError):
    """An HTTP error page, a non-JSON or truncated body, or JSON that is not the envelope."""


_FAMILIES: dict[str, type[PlatformError]] = {
    "auth": PlatformAuthError,
    "request": PlatformRequestError,
    "not_found": PlatformNotFoundError,
    "conflict": PlatformConflictError,
    "forbidden": PlatformForbiddenError,
}


def error_for(code: int, message: str = "", *, endpoint: str = "") -> PlatformError:
    """The typed error for an envelope status."""
    known = _CODES.get(code)
    klass = _FAMILIES[known[0]] if known else PlatformUnknownError
    return klass(code, message, endpoint=endpoint)


def known_codes() -> list[int]:
    """Every status code the document lists (for tests and docs)."""
    return sorted(_CODES)
