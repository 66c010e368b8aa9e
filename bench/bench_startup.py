"""Time from `pttbridge run` to `/healthz` answering (issue 13, "Also measured").

The real three-process shape, as an operator rehearses it: `python -m bot sandbox` (the
platform) and `python -m bot emulator` (Telegram's Bot API) run first; then, each run
from a fresh database in a fresh folder, `python -m bot run` starts and this process
polls its `/healthz` until it answers 200. Printed: the seconds of each run and their
median, then where the time goes before the process can listen: the import of what
`run` imports, and the heaviest packages in it (`python -X importtime`).

    .venv/bin/python bench/bench_startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CALLBACK_TOKEN = "bench-callback-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**kw: str) -> dict[str, str]:
    """This environment without any of the bridge's settings, plus `kw`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PLATFORM_", "TELEGRAM_", "BRIDGE_"))
    }
    env.update(kw)
    return env


def _start(args: list[str]) -> tuple[subprocess.Popen[str], list[str]]:
    """A `python -m bot <args>` and the words of its first line of output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split()


def _emulator_settings(proc: subprocess.Popen[str], words: list[str]) -> dict[str, str]:
    """The `KEY=value` lines the emulator prints for `pttbridge run`."""
    # "telegram emulator: URL  (...)", then "set for ...", then the settings, indented
    assert proc.stdout is not None
    out = {"TELEGRAM_API_BASE": words[2]}
    while len(out) < 3:
        line = proc.stdout.readline().strip()
        key, eq, value = line.partition("=")
        if eq and key in ("TELEGRAM_BOT_TOKEN", "BRIDGE_ADMIN_IDS"):
            out[key] = value
    return out


def one_run(settings: dict[str, str]) -> float:
    """Seconds from starting `python -m bot run` to a 200 from its /healthz."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(
            **settings,
            PLATFORM_CALLBACK_TOKEN=CALLBACK_TOKEN,
            BRIDGE_HTTP_PORT=str(port),
            BRIDGE_DB_PATH=str(Path(tmp) / "bridge.db"),
        )
        env["PYTHONPATH"] = str(ROOT)
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp,  # no stray .env
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            with httpx.Client(timeout=1) as client:
                while True:
                    if proc.poll() is not None:
                        err = proc.stderr.read() if proc.stderr else ""
                        raise SystemExit(f"`run` exited {proc.returncode}:\n{err[-2000:]}")
                    try:
                        if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                            return time.perf_counter() - started
                    except httpx.TransportError:
                        pass
                    time.sleep(0.02)  # a poll, not a wait for something awaitable
        finally:
            proc.terminate()
            proc.wait(30)


def import_profile(top: int = 8) -> tuple[float, list[tuple[str, float]]]:
    """Seconds to import the composition root, and the packages costing the most in it."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import bot.cli, bot.app.bridge"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    own: dict[str, float] = defaultdict(float)
    total = 0.0
    for line in out.splitlines():
        # "import time: self [us] | cumulative | imported package"
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        self_us, cumulative_us, name = int(parts[0]), int(parts[1]), parts[2]
        package = name.strip().split(".")[0]
        own[package] += self_us / 1e6
        if not name.startswith("  "):  # a top-level import: its cumulative counts once
            total += cumulative_us / 1e6
    return total, sorted(own.items(), key=lambda kv: -kv[1])[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    sandbox, sb_words = _start(["sandbox", "--port", "0"])
    emulator, emu_words = _start(["emulator", "--port", "0", "--lang", "en"])
    try:
        # "sandbox platform: URL  token: TOKEN  account: ..."
        settings = {"PLATFORM_BASE_URL": sb_words[2], "PLATFORM_TOKEN": sb_words[4]}
        settings |= _emulator_settings(emulator, emu_words)
        print("== `python -m bot run` to /healthz 200 (sandbox and emulator already up)")
        times = []
        for i in range(args.runs):
            times.append(one_run(settings))
            print(f"   run {i + 1}: {times[-1]:.2f} s")
        print(f"   median of {len(times)}: {statistics.median(times):.2f} s")
    finally:
        for proc in (sandbox, emulator):
            proc.terminate()
            proc.wait(30)
    total, heaviest = import_profile()
    print(f"== importing what `run` imports (bot.cli, bot.app.bridge): {total:.2f} s")
    print("   heaviest packages, their own import time:")
    for package, seconds in heaviest:
        print(f"   {package:<24} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
