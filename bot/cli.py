"""The command line: `pttbridge run | check | sandbox | demo | console`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_for_run

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pttbridge",
        description="Bridge a push-to-talk dispatch platform into Telegram.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--env-file",
        default=None,
        help="settings file (default: .env when it exists; a file named here must exist)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", parents=[common], help="run the bridge (the service)")
    sub.add_parser(
        "check", parents=[common], help="check settings, the platform and the Telegram bot token"
    )
    sb = sub.add_parser("sandbox", help="run the simulated dispatch platform alone")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8090)
    sb.add_argument("--users", type=int, default=40)
    sb.add_argument("--groups", type=int, default=6)
    sb.add_argument("--seed", type=int, default=1)
    sub.add_parser("demo", help="a scripted tour against the sandbox and a Telegram emulator")
    sub.add_parser("console", help="use the bot from the keyboard, against the sandbox")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    named = getattr(args, "env_file", None)
    # `.env` is read when it is there; a file the operator names must be there.
    env_file, must_exist = (".env", False) if named is None else (named, True)
    try:
        if args.command == "sandbox":
            return _sandbox(args)
        if args.command == "demo":
            from bot.demo.tour import run_demo

            return asyncio.run(run_demo())
        if args.command == "console":
            from bot.demo.tour import run_console

            return asyncio.run(run_console())
        if args.command == "check":
            return asyncio.run(check(env_file, must_exist=must_exist))
        return _run(env_file, must_exist=must_exist)
    except KeyboardInterrupt:
        return EXIT_OK


def settings_or_report(env_file: str | None, *, must_exist: bool = False) -> Settings | None:
    """The one validation of `run` and `check`: the settings, or None after printing a line
    per missing or malformed setting (`pttbridge: NAME: what is wrong`) to stderr."""
    try:
        return load_for_run(env_file, must_exist=must_exist)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"pttbridge: {line}", file=sys.stderr)
        return None


def _run(env_file: str, *, must_exist: bool) -> int:
    settings = settings_or_report(env_file, must_exist=must_exist)
    if settings is None:
        return EXIT_CONFIG
    from bot.app.run import run_service

    return asyncio.run(run_service(settings))


def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.platform import serve_forever

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_forever(args.host, args.port, args.users, args.groups, args.seed))
    except OSError as exc:  # the only OSError here: binding the port (busy, no such address)
        print(
            f"pttbridge: --host/--port: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return EXIT_OK


async def check(env_file: str | None, *, must_exist: bool = False) -> int:
    """One line per check; exit 0 when all pass, 1 otherwise.

    Settings are validated exactly as `run` validates them: any missing or malformed
    one is a line on stderr and exit 2, before anything is reached.
    """
    from bot.platform import (
        PlatformClient,
        PlatformError,
        PlatformTimeoutError,
        PlatformTransportError,
        PlatformUnreachableError,
    )

    settings = settings_or_report(env_file, must_exist=must_exist)
    if settings is None:
        return EXIT_CONFIG
    print("ok   settings")
    ok = True
    p = settings.platform
    client = PlatformClient(p, settings.bridge.tz, read_attempts=1)
    try:
        if client.can_login:
            try:
                await client.login()
                print(f"ok   platform login as {p.account}")
            except (PlatformTimeoutError, PlatformUnreachableError) as exc:
                print(f"FAIL platform reachable: {exc} (PLATFORM_BASE_URL)")
                ok = False
            except PlatformTransportError as exc:
                print(f"FAIL platform login: {exc} (PLATFORM_LOGIN_PATH, PLATFORM_BASE_URL)")
                ok = False
            except PlatformError as exc:
                print(
                    f"FAIL platform login: {exc.explain('en')}"
                    " (PLATFORM_ACCOUNT / PLATFORM_PASSWORD / PLATFORM_LOGIN_PATH)"
                )
                ok = False
        if ok:
            started = time.perf_counter()
            try:
                # A cheap read: an unknown user id answers `data: null`.
                await client.user_info(0)
                ms = (time.perf_counter() - started) * 1000
                print(f"ok   platform reachable at {p.api_prefix_url} ({ms:.0f} ms)")
                print("ok   platform token accepted")
            except PlatformTransportError as exc:
                print(f"FAIL platform reachable: {exc} (PLATFORM_BASE_URL)")
                ok = False
            except PlatformError as exc:
                if exc.code == 501:
                    print(f"ok   platform reachable at {p.api_prefix_url}")
                    which = (
                        "PLATFORM_ACCOUNT / PLATFORM_PASSWORD"
                        if client.can_login
                        else ("PLATFORM_TOKEN")
                    )
                    print(
                        f"FAIL platform token rejected: {exc.explain('en')} ({which},"
                        f" PLATFORM_TOKEN_HEADER={p.token_header})"
                    )
                    ok = False
                else:
                    print(f"ok   platform reachable at {p.api_prefix_url}")
                    print("ok   platform token accepted")
    finally:
        await client.aclose()
    ok = await _check_telegram(settings) and ok
    return EXIT_OK if ok else EXIT_FAIL


async def _check_telegram(settings: Settings) -> bool:
    t = settings.telegram
    assert t.bot_token is not None  # required: `load_for_run` checked it
    from aiogram import Bot
    from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError

    from bot.telegram.session import make_session

    bot = Bot(t.bot_token.get_secret_value(), session=make_session(settings))
    try:
        me = await asyncio.wait_for(bot.get_me(), timeout=15)
        print(f"ok   telegram bot @{me.username} at {t.api_base}")
        return True
    except TelegramUnauthorizedError:
        print("FAIL telegram: the bot token was rejected (TELEGRAM_BOT_TOKEN)")
    except (TelegramAPIError, OSError, TimeoutError) as exc:
        what = type(exc).__name__
        print(
            f"FAIL telegram: {t.api_base} not reachable: {what} (TELEGRAM_API_BASE, TELEGRAM_PROXY)"
        )
    finally:
        await bot.session.close()
    return False
