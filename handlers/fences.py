"""/fences — being built (issue #15); its router takes nothing yet."""

from __future__ import annotations

from aiogram import Router


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    return Router(name=__name__)
