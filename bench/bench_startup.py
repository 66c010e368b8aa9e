"""Time from `pttbridge run` to `/healthz` answering (issue 13, "Also measured"), and to
`/readyz` answering 200 (the first directory load done).

The real three-process shape, as an operator rehearses it: `python -m bot sandbox` (the
platform, with `--users` users: 50,000 by default, a large platform's directory) and
`python -m bot emulator` (Telegram's Bot API) run first; then, each run from a fresh
database in a fresh folder, `python -m bot run` starts and this process polls its
`/healthz` until it answers 200, then its `/readyz`. Printed: the seconds of each run and
their median, then where the time goes before the process can listen: the import of what
`run` imports, and the heaviest packages in it (`python -X importtime`).

    .venv/bin/python bench/bench_startup.py [--runs 3] [--users 50000] [--groups 2000]
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


def one_run(settings: dict[str, str]) -> tuple[float, float]:
    """Seconds from starting `python -m bot run` to a 200 from its /healthz, and to a 200
    from its /readyz."""
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
            with httpx.Client(timeout=5) as client:
                live = _poll(proc, client, f"http://127.0.0.1:{port}/healthz") - started
                ready = _poll(proc, client, f"http://127.0.0.1:{port}/readyz") - started
                return live, ready
        finally:
            proc.terminate()
            proc.wait(30)


def _poll(proc: subprocess.Popen[str], client: httpx.Client, url: str) -> float:
    """`time.perf_counter()` when `url` first answers 200."""
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise SystemExit(f"`run` exited {proc.returncode}:\n{err[-2000:]}")
        try:
            if client.get(url).status_code == 200:
                return time.perf_counter()
        except httpx.TransportError:
            pass
        time.sleep(0.02)  # a poll, not a wait for something awaitable


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
    ap.add_argument("--users", type=int, default=50_000, help="the sandbox's users")
    ap.add_argument("--groups", type=int, default=2_000, help="the sandbox's talk groups")
    args = ap.parse_args()
    sandbox, sb_words = _start(
        ["sandbox", "--port", "0", "--users", str(args.users), "--groups", str(args.groups)]
    )
    emulator, emu_words = _start(["emulator", "--port", "0", "--lang", "en"])
    try:
        # "sandbox platform: URL  token: TOKEN  account: ..."
        settings = {"PLATFORM_BASE_URL": sb_words[2], "PLATFORM_TOKEN": sb_words[4]}
        settings |= _emulator_settings(emulator, emu_words)
        print(
            f"== `python -m bot run` to /healthz 200 and /readyz 200 ({args.users} users,"
            f" {args.groups} groups; sandbox and emulator already up)"
        )
        lives, readies = [], []
        for i in range(args.runs):
            live, ready = one_run(settings)
            lives.append(live)
            readies.append(ready)
            print(f"   run {i + 1}: /healthz {live:.2f} s, /readyz {ready:.2f} s")
        print(
            f"   median of {args.runs}: /healthz {statistics.median(lives):.2f} s,"
            f" /readyz {statistics.median(readies):.2f} s"
        )
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
