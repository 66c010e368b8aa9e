"""Shared fixtures: a clean environment, the sandbox platform, platform clients, the whole
stack; and the one test `Clock` (`from conftest import Clock`)."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings

from bot.config import PlatformSettings, Settings
from bot.platform import PlatformClient
from bot.sandbox.platform import SandboxPlatform
from storage.db import Database

TZ = ZoneInfo("Asia/Shanghai")
# A fixed clock for the sandbox: "today" is 2026-11-28 local, whatever the real date.
SANDBOX_NOW = datetime(2026, 11, 28, 15, 0, tzinfo=TZ)

_SETTING_PREFIXES = ("PLATFORM_", "TELEGRAM_", "BRIDGE_")

# Hypothesis: `make test` runs the "ci" profile: fewer examples, the same ones every run (a
# red test is red again, and coverage does not move between runs). HYPOTHESIS_PROFILE=thorough
# runs every property with the examples its test asks for (`examples(n)`), and properties
# without their own count with Hypothesis' 100, at random. No deadline and no too_slow
# check: two busy cores make timing fail a test that is right.
settings.register_profile(
    "thorough", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", settings.get_profile("thorough"), max_examples=25, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(n: int) -> int:
    """`@settings(max_examples=examples(n))`: n examples in the thorough profile, scaled
    like the profile's default elsewhere (a quarter in "ci"), never fewer than 10."""
    return max(10, n * settings.default.max_examples // 100)


class Clock:
    """A clock the test moves by hand: `clock()` is `clock.now`.

    Monotonic seconds by default (`Clock()` starts at 1000.0); `Clock(datetime)` is a wall
    clock (a sandbox's "now", a bridge's clock). Moving it (`advance`, or setting `now`)
    wakes whoever awaits `sleep` on it, so a sleeper returns only once the test has moved
    time far enough: nothing waits for real.
    """

    def __init__(self, now: Any = 1000.0) -> None:
        self._now = now
        self._moved = asyncio.Event()

    @property
    def now(self) -> Any:
        return self._now

    @now.setter
    def now(self, value: Any) -> None:
        self._now = value
        self._moved.set()
        self._moved = asyncio.Event()

    def __call__(self) -> Any:
        return self._now

    def advance(self, by: Any) -> None:
        """Move on by `by` (seconds, or a timedelta for a wall clock)."""
        self.now = self._now + by

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + seconds
        while self._now < deadline:
            await self._moved.wait()


@pytest.fixture(autouse=True, scope="session")
def start_costs_paid_once() -> Iterator[None]:
    """What every bridge start pays again and again is paid once per test session:

    - parsing `bot/locales/<lang>.ftl` (~50 ms a start): the same text gives the same
      syntax tree, which bundles only read; other FTL text is still parsed.
    - loading the CA bundle into a TLS context (~20 ms for each HTTP client, three a
      start): one context per set of arguments. No test speaks TLS (everything is plain
      HTTP on 127.0.0.1), so the context is never used, only built.
    - aiogram's `AiohttpSession.close()` waiting 250 ms for TLS connections to wind down:
      every connection here is plain HTTP to 127.0.0.1, so it closes at once (every
      stack's bridge, every `Bot` a test makes). Only if a test module imported aiogram:
      a run of pure tests does not import it (~2 s) for this; `make_bot_stack` patches
      it for its stacks in any case.

    Some 300 tests start a bridge; this saves ~0.1 s of CPU each, and 0.25 s of waiting
    wherever a Telegram session is closed.
    """
    import ssl

    import bot.i18n

    with pytest.MonkeyPatch.context() as mp:
        parse = functools.lru_cache(maxsize=16)(bot.i18n.FluentResource)
        mp.setattr(bot.i18n, "FluentResource", parse)
        mp.setattr(ssl, "create_default_context", _once_per_arguments(ssl.create_default_context))
        if "aiogram" in sys.modules:
            _close_telegram_sessions_at_once(mp)
        yield


def _close_telegram_sessions_at_once(mp: pytest.MonkeyPatch) -> None:
    from aiogram.client.session.aiohttp import AiohttpSession

    mp.setattr(AiohttpSession, "close", _close_without_tls_grace)


async def _close_without_tls_grace(self: Any) -> None:
    # AiohttpSession.close() without its sleep(0.25) after closing.
    if self._session is not None and not self._session.closed:
        await self._session.close()


def _once_per_arguments(make: Callable[..., Any]) -> Callable[..., Any]:
    made: dict[tuple[Any, ...], Any] = {}

    @functools.wraps(make)
    def once(*args: Any, **kw: Any) -> Any:
        key = (args, tuple(sorted(kw.items())))
        if key not in made:
            made[key] = make(*args, **kw)
        return made[key]

    return once


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


# ---------------------------------------------------------------------------------------
# The whole bridge in one process, for every test that drives it end to end.
# `bot.demo.stack.Stack`: sandbox platform + Telegram emulator + Bridge on 127.0.0.1.


@pytest.fixture
async def make_bot_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """`await make_bot_stack(**kw)`: a started `Stack(**kw)` (roles granted unless
    `grant_roles=False`; `emulator=` replaces its TelegramEmulator, which must use
    `bot.demo.stack.BOT_TOKEN`), stopped at teardown, last started first stopped. The one
    stack fixture: a test file that needs another setup wraps it (its `make_stack`)."""
    from bot.demo.stack import Stack

    _close_telegram_sessions_at_once(monkeypatch)
    stacks: list[Stack] = []

    async def make(*, grant_roles: bool = True, emulator: Any = None, **kw: Any) -> Stack:
        stack = Stack(**kw)
        if emulator is not None:  # e.g. one with an injected clock
            stack.emu = emulator
        stacks.append(stack)
        await stack.start(grant_roles=grant_roles)
        return stack

    yield make
    for stack in reversed(stacks):
        await stack.stop()


@pytest.fixture
async def bot_stack(make_bot_stack: Callable[..., Awaitable[Any]]) -> Any:
    """A started default `Stack` (English, the five people of the tour, roles granted)."""
    return await make_bot_stack()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a test's own database goes (its folder does not exist yet)."""
    return tmp_path / "data" / "pttbridge.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    """A fresh database, migrated, closed after the test."""
    database = await Database.open(db_path)
    yield database
    await database.close()
