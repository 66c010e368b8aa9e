"""The package as an operator installs it: `python -m build` gives an sdist and a wheel that
carry everything read at run time, and the wheel installed into a fresh venv outside the
checkout runs `pttbridge --version`, `demo` and `check` from there.

The build and the install are deploy/install.sh's (the Dockerfile's steps), once per session.
The fresh venv gets the wheel by pip, with no index; its dependencies come from this
interpreter's site-packages through a folder of links that leaves this project out, so
nothing is imported from the checkout or from its editable install."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import TelegramEmulator

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SH = ROOT / "deploy" / "install.sh"
PACKAGES = ("bot", "handlers", "storage")
# What the copy of the checkout leaves out: at its top, what is not source; anywhere, caches.
SKIP_AT_TOP = {
    ".git",
    ".venv",
    ".hypothesis",
    "build",
    "dist",
    "data",
    ".env",
    "test-artifacts",
}


def skip_in_copy(folder: str, names: list[str]) -> set[str]:
    top = SKIP_AT_TOP if Path(folder) == ROOT else set()
    # node_modules too: the copy is built from the vendor files the checkout's build left.
    return {
        n
        for n in names
        if n in top or n in ("__pycache__", "node_modules") or n.endswith((".egg-info", "_cache"))
    }


BOT_TOKEN = "123456:SECRET-wheel-bot-token"
CALLBACK_TOKEN = "SECRET-wheel-callback"


@dataclass(frozen=True)
class Installed:
    """A wheel built from a copy of the checkout and installed into its own venv."""

    src: Path  # the copy it was built from
    sdist: Path
    wheel: Path
    venv: Path
    outside: Path  # a working folder outside the checkout
    build_s: float
    install_s: float

    @property
    def version(self) -> str:
        return self.wheel.name.split("-")[1]

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


def child_env(**kw: str) -> dict[str, str]:
    """This environment without settings, the active venv, pip's or Python's switches (but
    whether to write bytecode), plus `kw`."""
    dropped = ("PLATFORM_", "TELEGRAM_", "BRIDGE_", "PYTHON", "PIP_", "VIRTUAL_ENV")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(dropped) or k == "PYTHONDONTWRITEBYTECODE"
    }
    env.update(kw)
    return env


def _dependencies_without_this_project(into: Path) -> Path:
    """A folder of links to everything in this interpreter's site-packages except this
    project (its packages, its dist-info, its editable finder) and the .pth hooks."""
    into.mkdir()
    ours = set(PACKAGES) | {"__pycache__"}
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name
        if name in ours or name.startswith(("pttbridge", "__editable__")) or name.endswith(".pth"):
            continue
        (into / name).symlink_to(entry)
    return into


def _run(argv: list[str | Path], cwd: Path, **env: str) -> None:
    out = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, f"{argv}:\n{out.stdout}\n{out.stderr}"


_installed: Installed | None = None


def install_once(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build and install once per session (test_deploy.py uses the same install)."""
    global _installed
    if _installed is None:
        base = tmp_path_factory.mktemp("wheel")
        src, dist, outside = base / "src", base / "dist", base / "outside"
        shutil.copytree(ROOT, src, ignore=skip_in_copy, symlinks=True)
        outside.mkdir()
        # An npm that fails: the sdist and the wheel (built from the sdist) need none when the
        # map page is built.
        no_npm = base / "no-npm"
        no_npm.mkdir()
        (no_npm / "npm").write_text("#!/bin/sh\necho npm was called >&2\nexit 3\n")
        (no_npm / "npm").chmod(0o755)
        path = f"{no_npm}{os.pathsep}{os.environ.get('PATH', '')}"
        started = time.perf_counter()
        _run(["sh", INSTALL_SH, "build", src, dist], base, PYTHON=sys.executable, PATH=path)
        built = time.perf_counter()
        [wheel] = dist.glob("*.whl")
        [sdist] = dist.glob("*.tar.gz")
        # The venv install.sh would make, made here without pip: pip and the dependencies
        # come from the links (PIP_NO_INDEX: anything missing fails instead of downloading).
        venv = base / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        deps = _dependencies_without_this_project(base / "deps")
        purelib = sysconfig.get_path("purelib", vars={"base": str(venv)})
        (Path(purelib) / "dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
        _run(["sh", INSTALL_SH, "install", wheel, venv], outside, PIP_NO_INDEX="1")
        _installed = Installed(
            src=src,
            sdist=sdist,
            wheel=wheel,
            venv=venv,
            outside=outside,
            build_s=built - started,
            install_s=time.perf_counter() - built,
        )
    return _installed


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install_once(tmp_path_factory)


def run_installed(installed: Installed, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`pttbridge ARGS` of the installed wheel, in a folder outside the checkout."""
    return subprocess.run(
        [str(installed.bin("pttbridge")), *args],
        cwd=installed.outside,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- what the archives carry ----------------------------------------------------------------


def package_files(src: Path) -> set[str]:
    """Every file of the packages in the source tree (code and what it reads)."""
    return {
        path.relative_to(src).as_posix()
        for package in PACKAGES
        for path in (src / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_and_the_sdist_carry_every_package_file(installed: Installed) -> None:
    wanted = package_files(installed.src)
    # Not only code: the locales, the migrations and the sandbox's recordings are read at run time.
    read = {"bot/locales/zh.ftl", "bot/locales/en.ftl", "storage/migrations/0001_core.sql"}
    assert read <= wanted
    assert any(name.startswith("bot/sandbox/media/") for name in wanted)
    with zipfile.ZipFile(installed.wheel) as wheel:
        in_wheel = set(wheel.namelist())
    assert wanted - in_wheel == set()
    prefix = installed.sdist.name.removesuffix(".tar.gz") + "/"
    with tarfile.open(installed.sdist) as sdist:
        in_sdist = {name.removeprefix(prefix) for name in sdist.getnames()}
    assert wanted - in_sdist == set()
    # ... and what an operator installs from besides the code.
    assert {".env.example", "deploy/install.sh", "deploy/pttbridge.service"} <= in_sdist


MAP_PAGE = {
    "bot/webapp/static/index.html",
    "bot/webapp/static/map.js",
    "bot/webapp/static/map.css",
    "bot/webapp/static/vendor/leaflet/leaflet.js",
    "bot/webapp/static/vendor/leaflet/leaflet.css",
    "bot/webapp/static/vendor/leaflet/images/layers.png",
    "bot/webapp/static/vendor/leaflet/LICENSE",
}


def test_the_wheel_and_the_sdist_carry_the_built_map_page(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        in_wheel = set(wheel.namelist())
    assert MAP_PAGE - in_wheel == set()
    prefix = installed.sdist.name.removesuffix(".tar.gz") + "/"
    with tarfile.open(installed.sdist) as sdist:
        in_sdist = {name.removeprefix(prefix) for name in sdist.getnames()}
    assert MAP_PAGE - in_sdist == set()
    # How to build it again, but no node_modules.
    assert {"setup.py", "web/build.py", "web/package.json", "web/package-lock.json"} <= in_sdist
    assert not any("node_modules" in name for name in in_sdist | in_wheel)
    # The installed bridge serves it from the venv.
    static = next(installed.venv.rglob("bot/webapp/static"))
    assert (static / "vendor" / "leaflet" / "leaflet.js").stat().st_size > 100_000


def test_a_missing_npm_is_one_clear_line(tmp_path: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    for name in ("build.py", "package.json", "package-lock.json"):
        shutil.copy(ROOT / "web" / name, web / name)
    (tmp_path / "bin").mkdir()
    out = subprocess.run(
        [sys.executable, str(web / "build.py")],
        env=child_env(PATH=str(tmp_path / "bin")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith("web/build.py: npm not found: the map page needs Node.js and npm")


# -- the installed wheel, run from outside the checkout ------------------------------------


def test_it_imports_from_the_venv_not_the_checkout(installed: Installed) -> None:
    out = subprocess.run(
        [
            str(installed.bin("python")),
            "-c",
            "import bot, handlers as h, storage as s; print(bot.__file__, h.__file__, s.__file__)",
        ],
        cwd=installed.outside,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    files = [Path(f) for f in out.stdout.split()]
    assert len(files) == 3
    for file in files:
        assert file.is_relative_to(installed.venv), file
        assert not file.is_relative_to(ROOT), file


def test_version(installed: Installed) -> None:
    out = run_installed(installed, "--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"pttbridge {installed.version}\n"
    assert installed.version != "0+unknown"


def test_demo(installed: Installed) -> None:
    out = run_installed(installed, "demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout.rstrip().endswith("demo finished: every step answered.")


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(BOT_TOKEN)
    await emu.start()
    yield emu
    await emu.stop()


async def test_check_with_an_env_file(
    installed: Installed, sandbox: SandboxPlatform, emulator: TelegramEmulator
) -> None:
    env_file = installed.outside / "bridge.env"
    env_file.write_text(
        f"TELEGRAM_BOT_TOKEN={BOT_TOKEN}\n"
        f"TELEGRAM_API_BASE={emulator.url}\n"
        f"PLATFORM_BASE_URL={sandbox.url}\n"
        f"PLATFORM_TOKEN={sandbox.token}\n"
        f"PLATFORM_CALLBACK_TOKEN={CALLBACK_TOKEN}\n",
        encoding="utf-8",
    )
    # In a thread: the sandbox and the emulator answer on this loop.
    out = await asyncio.to_thread(run_installed, installed, "check", "--env-file", str(env_file))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0] == "ok   settings"
    assert lines[1].startswith(f"ok   platform reachable at {sandbox.url}/wapi")
    assert lines[2:] == [
        "ok   platform token accepted",
        f"ok   telegram bot @pttbridge_bot at {emulator.url}",
    ]
    assert sandbox.requests_to("/user/info")
