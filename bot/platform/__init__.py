"""The dispatch platform: typed async client, models and errors."""

from bot.platform.client import DeviceState, GroupBinding, PlatformClient
from bot.platform.errors import (
    PlatformAuthError,
    PlatformBadResponseError,
    PlatformConflictError,
    PlatformError,
    PlatformForbiddenError,
    PlatformNotFoundError,
    PlatformRequestError,
    PlatformTimeoutError,
    PlatformTransportError,
    PlatformUnknownError,
    PlatformUnreachableError,
)

__all__ = [
    "DeviceState",
    "GroupBinding",
    "PlatformAuthError",
    "PlatformBadResponseError",
    "PlatformClient",
    "PlatformConflictError",
    "PlatformError",
    "PlatformForbiddenError",
    "PlatformNotFoundError",
    "PlatformRequestError",
    "PlatformTimeoutError",
    "PlatformTransportError",
    "PlatformUnknownError",
    "PlatformUnreachableError",
]
