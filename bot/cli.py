"""The command line: `pttbridge run | check | sandbox | demo | console | emulator | backup |
restore`, and `pttbridge --version`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from bot import __version__
from bot.config import ConfigError, Settings, load_bridge_only, load_for_run

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2

# (name, one-line description): the order `pttbridge --help` lists them in.
COMMANDS = (
    ("run", "run the bridge (the service)"),
    ("check", "check the settings, the platform and the bot token, a line each"),
    ("sandbox", "run the simulated dispatch platform alone"),
    ("demo", "a scripted tour of the bot against the sandbox and a Telegram emulator"),
    ("console", "use the bot from the keyboard, against the sandbox and a Telegram emulator"),
    ("emulator", "run the Telegram Bot API emulator alone; type as its users"),
    ("backup", "copy the database consistently, also while the bridge runs"),
    ("restore", "replace the database with a backup (the bridge must be stopped)"),
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pttbridge",
        description="Bridge a push-to-talk dispatch platform into Telegram.",
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"pttbridge {__version__}",
        help="print the version and exit",
    )
    env_file = argparse.ArgumentParser(add_help=False)
    env_file.add_argument(
        "--env-file",
        default=None,
        help="settings file (default: .env when it exists; a file named here must exist)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers = {
        name: sub.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            parents={
                "run": [env_file],
                "check": [env_file],
                "backup": [env_file],
                "restore": [env_file],
            }.get(name, []),
        )
        for name, text in COMMANDS
    }
    for name in ("demo", "console"):
        _language_option(parsers[name], "of the bridge and of every person's Telegram")
    _language_option(parsers["emulator"], "of every person's Telegram")
    _listen_options(parsers["sandbox"], 8090)
    sb = parsers["sandbox"]
    sb.add_argument(
        "--users", type=int, default=40, help="how many users it invents (default: %(default)s)"
    )
    sb.add_argument(
        "--groups",
        type=int,
        default=6,
        help="how many talk groups it invents (default: %(default)s)",
    )
    sb.add_argument(
        "--seed",
        type=int,
        default=1,
        help="the same seed invents the same people (default: %(default)s)",
    )
    sb.add_argument(
        "--asr",
        nargs="?",
        const="",
        default=None,
        type=_asr_options,
        metavar="delay=S,fail=N,token=T",
        help="also run a fake speech-recognition server (BRIDGE_ASR_URL) that knows the"
        " sandbox recordings; optionally slow (delay seconds), failing (503 for the first N"
        " requests) or wanting a bearer token (default: none of these; no fake server)",
    )
    sb.add_argument(
        "--asr-port",
        type=int,
        default=8091,
        help="the fake speech-recognition server's port (default: %(default)s)",
    )
    _listen_options(parsers["emulator"], 8081)
    parsers["backup"].add_argument("file", help="the copy to write")
    parsers["backup"].add_argument(
        "--force",
        action="store_true",
        help="overwrite the file if it exists (default: refuse to)",
    )
    parsers["restore"].add_argument("file", help="the backup to restore (made by `backup`)")
    return p


def _asr_options(spec: str) -> Any:
    from bot.sandbox.asr import parse_options

    try:
        return parse_options(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _language_option(parser: argparse.ArgumentParser, of_what: str) -> None:
    parser.add_argument(
        "--lang",
        choices=("zh", "en"),
        default=None,
        help=f"the language {of_what} (default: $BRIDGE_LANGUAGE, else zh)",
    )


def _listen_options(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=port, help="the port to listen on (default: %(default)s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    named = getattr(args, "env_file", None)
    # `.env` is read when it is there; a file the operator names must be there.
    env_file, must_exist = (".env", False) if named is None else (named, True)
    try:
        if args.command == "sandbox":
            return _serve(args, _sandbox(args))
        if args.command in ("demo", "console", "emulator"):
            return _playground(args)
        if args.command in ("backup", "restore"):
            return _backup_or_restore(args, env_file, must_exist=must_exist)
        if args.command == "check":
            return asyncio.run(check(env_file, must_exist=must_exist))
        return _run(env_file, must_exist=must_exist)
    except KeyboardInterrupt:
        return EXIT_OK


def _playground(args: argparse.Namespace) -> int:
    """`demo`, `console`, `emulator`: in the language asked for, else BRIDGE_LANGUAGE's."""
    language = args.lang
    if language is None:
        try:
            language = load_bridge_only(None, "BRIDGE_LANGUAGE").language
        except ConfigError as exc:
            return _report(exc)
    if args.command == "demo":
        from bot.demo.tour import run_demo

        return asyncio.run(run_demo(language))
    if args.command == "console":
        from bot.demo.console import run_console

        return asyncio.run(run_console(language))
    from bot.demo.emulator import run_emulator

    return _serve(args, run_emulator(args.host, args.port, language))


async def _sandbox(args: argparse.Namespace) -> None:
    """The sandbox platform, and the fake speech-recognition server beside it (`--asr`)."""
    from bot.sandbox.platform import serve_forever

    platform = serve_forever(args.host, args.port, args.users, args.groups, args.seed)
    if args.asr is None:
        await platform
        return
    from bot.sandbox import asr

    await asyncio.gather(platform, asr.serve_forever(args.host, args.asr_port, args.asr))


def _serve(args: argparse.Namespace, server: Coroutine[Any, Any, Any]) -> int:
    """Run a server until it ends or Ctrl-C; a port it cannot listen on is one line, exit 2."""
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_until_signal(server))
    except OSError as exc:  # the only OSError here: binding the port (busy, no such address)
        print(
            f"pttbridge: --host/--port: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return EXIT_OK


async def _until_signal(server: Coroutine[Any, Any, Any]) -> None:
    """Serve until the server ends, SIGTERM or SIGINT (also when started in the background,
    where a shell ignores SIGINT): the server's task is cancelled and the process exits 0."""
    task = asyncio.ensure_future(server)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _backup_or_restore(args: argparse.Namespace, env_file: str, *, must_exist: bool) -> int:
    """Only the storage settings matter here: a bridge's database can be saved or restored
    on a machine where the Telegram and platform settings are not (yet) right."""
    try:
        db_path = str(load_bridge_only(env_file, "BRIDGE_DB_PATH", must_exist=must_exist).db_path)
    except ConfigError as exc:
        return _report(exc)
    from storage.db import StorageError
    from storage.db.backup import backup_database, restore_database

    try:
        if args.command == "backup":
            backup_database(db_path, args.file, overwrite=args.force)
            print(f"backed up {db_path} to {args.file}")
        else:
            kept = restore_database(args.file, db_path)
            aside = f"; the database it replaced is kept as {kept}" if kept else ""
            print(f"restored {db_path} from {args.file}{aside}")
    except StorageError as exc:
        print(f"pttbridge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


def _report(exc: ConfigError) -> int:
    """A line per problem on stderr (`pttbridge: NAME: what is wrong`); exit 2."""
    for line in exc.problems:
        print(f"pttbridge: {line}", file=sys.stderr)
    return EXIT_CONFIG


def settings_or_report(env_file: str | None, *, must_exist: bool = False) -> Settings | None:
    """The one validation of `run` and `check`: the settings, or None after printing a line
    per missing or malformed setting (`pttbridge: NAME: what is wrong`) to stderr."""
    try:
        return load_for_run(env_file, must_exist=must_exist)
    except ConfigError as exc:
        _report(exc)
        return None


def _run(env_file: str, *, must_exist: bool) -> int:
    settings = settings_or_report(env_file, must_exist=must_exist)
    if settings is None:
        return EXIT_CONFIG
    from bot.app.run import run_service

    return asyncio.run(run_service(settings))


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
    ok = await _check_asr(settings) and ok
    return EXIT_OK if ok else EXIT_FAIL


async def _check_asr(settings: Settings) -> bool:
    """When BRIDGE_ASR_URL is set: a short silent file transcribed, as the bridge would send
    a recording (the server reachable, the token and the model accepted)."""
    b = settings.bridge
    if b.asr_url is None:
        return True
    from bot.asr.client import AsrClient, AsrError, shown_url, silence_wav

    where = shown_url(b.asr_url)
    client = AsrClient(
        b.asr_url, model=b.asr_model, token=b.asr_token, language=b.asr_language, timeout_s=30
    )
    started = time.perf_counter()
    try:
        await client.transcribe(silence_wav(), "check.wav", "audio/wav")
    except AsrError as exc:
        if exc.status in (401, 403):
            hint = "BRIDGE_ASR_TOKEN"
        elif exc.status is not None and exc.status < 500 and exc.status != 429:
            hint = "BRIDGE_ASR_URL, BRIDGE_ASR_MODEL, BRIDGE_ASR_LANGUAGE"
        else:
            hint = "BRIDGE_ASR_URL"
        print(f"FAIL speech recognition at {where}: {exc.detail} ({hint})")
        return False
    finally:
        await client.aclose()
    ms = (time.perf_counter() - started) * 1000
    print(f"ok   speech recognition at {where} (model {client.model}, {ms:.0f} ms)")
    return True


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
