"""Shared fixtures: a clean environment, the sandbox platform, platform clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import PlatformSettings, Settings
from bot.platform import PlatformClient
from bot.sandbox.platform import SandboxPlatform

TZ = ZoneInfo("Asia/Shanghai")
# A fixed clock for the sandbox: "today" is 2026-11-28 local, whatever the real date.
SANDBOX_NOW = datetime(2026, 11, 28, 15, 0, tzinfo=TZ)

_SETTING_PREFIXES = ("PLATFORM_", "TELEGRAM_", "BRIDGE_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PLATFORM_*/TELEGRAM_*/BRIDGE_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith(_SETTING_PREFIXES):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def sandbox_now() -> datetime:
    """The sandbox's fixed "now" (2026-11-28 15:00 Asia/Shanghai)."""
    return SANDBOX_NOW


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxPlatform]:
    """A sandbox platform (40 users, default quirks, fixed clock) on 127.0.0.1:<free port>."""
    sb = SandboxPlatform(now=lambda: SANDBOX_NOW)
    await sb.start()
    yield sb
    await sb.stop()


@pytest.fixture
async def sandbox_factory() -> AsyncIterator[Callable[..., Awaitable[SandboxPlatform]]]:
    """`await sandbox_factory(**kw)`: another started sandbox (`SandboxPlatform(**kw)`,
    fixed clock unless `now=` is given), stopped at teardown."""
    started: list[SandboxPlatform] = []

    async def make(**kw: Any) -> SandboxPlatform:
        kw.setdefault("now", lambda: SANDBOX_NOW)
        sb = SandboxPlatform(**kw)
        await sb.start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        await sb.stop()


def _platform_settings(sandbox: SandboxPlatform, **kw: Any) -> PlatformSettings:
    """`PlatformSettings` pointing at `sandbox` with its fixed token; `kw` overrides fields.

    Built by `Settings.load(None, ...)`: no .env file is read. Pass `token=None`
    with `account=`/`password=` for login mode.
    """
    values: dict[str, Any] = {"base_url": sandbox.url, "token": sandbox.token}
    values.update(kw)
    return Settings.load(None, platform=values).platform


@pytest.fixture
def platform_settings() -> Callable[..., PlatformSettings]:
    """`platform_settings(sandbox, **kw)` -> `PlatformSettings` for that sandbox."""
    return _platform_settings


class FakeSleep:
    """Records the delays a client asks to sleep, without sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def make_client(
    fake_sleep: FakeSleep,
) -> AsyncIterator[Callable[..., Awaitable[PlatformClient]]]:
    """`await make_client(sandbox, settings=None, **client_kw)`: a client closed at teardown.

    The client sleeps through `fake_sleep` (delays recorded, no waiting) and its
    zone is Asia/Shanghai, the sandbox's.
    """
    clients: list[PlatformClient] = []

    async def make(
        sandbox: SandboxPlatform, settings: PlatformSettings | None = None, **kw: Any
    ) -> PlatformClient:
        kw.setdefault("sleep", fake_sleep)
        client = PlatformClient(settings or _platform_settings(sandbox), TZ, **kw)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()
