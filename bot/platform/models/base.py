"""What every platform model shares: lenient scalar types, the base model, and `parse`.

The platform sends ids as strings or numbers, documented-required fields as null,
one object where a list is documented, and times in several formats (read with
`context={"tz": <platform zone>}`). The types here absorb that once.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)

from bot.platform.errors import PlatformBadResponseError
from bot.platform.times import parse_platform_time

T = TypeVar("T")


def _to_int(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("a boolean is not an id")
    if isinstance(v, str):
        s = v.strip()
        if s.lstrip("-").isdigit():
            return int(s)
        raise ValueError(f"not a numeric id: {s[:20]!r}")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("not an integer id")
        return int(v)
    return v


def _opt_int(v: Any) -> Any:
    return None if v is None or v == "" else _to_int(v)


def _opt_float(v: Any) -> Any:
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"not a number: {str(v)[:20]!r}") from None
    return f if math.isfinite(f) else None


def _as_list(v: Any) -> Any:
    """`children`/`users`/`records` as a list, a single object, or null."""
    if v is None:
        return []
    if isinstance(v, dict):
        return [v]
    return v


def _opt_str(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int | float):
        return str(v)
    return v


def _online_flag(v: Any) -> bool:
    # Online flags come as 1/0, "2"/null (2.4) or booleans.
    return str(v).strip() in ("1", "2", "True", "true")


def _tz(info: ValidationInfo) -> tzinfo:
    ctx = info.context or {}
    tz = ctx.get("tz") if isinstance(ctx, dict) else None
    return tz if isinstance(tz, tzinfo) else UTC


def _time(v: Any, info: ValidationInfo) -> Any:
    return parse_platform_time(v, _tz(info))


Id = Annotated[int, BeforeValidator(_to_int)]
OptInt = Annotated[int | None, BeforeValidator(_opt_int)]
OptFloat = Annotated[float | None, BeforeValidator(_opt_float)]
OptStr = Annotated[str | None, BeforeValidator(_opt_str)]
Str = Annotated[str, BeforeValidator(lambda v: "" if v is None else _opt_str(v))]
Online = Annotated[bool, BeforeValidator(_online_flag)]
AsList = Annotated[list[T], BeforeValidator(_as_list)]
"""A list that the platform may also send as one object or null."""
OptTime = Annotated[datetime | None, BeforeValidator(_time)]
"""A platform time in any of its formats, in the zone of the validation context."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


# What validating untrusted JSON may raise besides ValidationError: a validator's own
# ValueError/TypeError, float() of a huge int, a tree nested deeper than the stack.
_SHAPE_ERRORS = (ValueError, TypeError, OverflowError, RecursionError)


def _bad_shape(exc: Exception, endpoint: str) -> PlatformBadResponseError:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "data"
        return PlatformBadResponseError(
            f"unexpected answer shape at {where}: {err['msg']}", endpoint=endpoint
        )
    return PlatformBadResponseError(f"unexpected answer shape: {exc}", endpoint=endpoint)


_IDS: TypeAdapter[list[Id]] = TypeAdapter(list[Id])


def parse(adapter: TypeAdapter[T], data: Any, tz: tzinfo, endpoint: str) -> T:
    """Validate `data` with `adapter`; any mismatch becomes `PlatformBadResponseError`."""
    try:
        return adapter.validate_python(data, context={"tz": tz})
    except _SHAPE_ERRORS as exc:
        raise _bad_shape(exc, endpoint) from None


def parse_ids(data: Any, endpoint: str) -> list[int]:
    """A list of user ids (2.2, 2.3); null means none."""
    if data is None:
        return []
    return parse(_IDS, data, UTC, endpoint)
