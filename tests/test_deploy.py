"""The service as it is deployed: the build info /metrics carries, the systemd unit, and the
container recipe, whose steps (deploy/install.sh, its ENV, its HEALTHCHECK) run here: no
container engine runs on our machines, so the image itself is never built in a test."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import test_wheel
from prometheus_client.parser import text_string_to_metric_families
from test_wheel import BOT_TOKEN, CALLBACK_TOKEN, Installed, child_env

import bot
from bot.metrics import Metrics
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import TelegramEmulator

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "pttbridge.service"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_FILE = DEPLOY / "pttbridge.env"

VENV = "/opt/pttbridge/venv"  # where the unit and the image have the bridge
STATE = "/var/lib/pttbridge"  # the database's folder in both
DB_PATH = f"{STATE}/pttbridge.db"
SETTINGS_FILE = "/etc/pttbridge/pttbridge.env"

# What `pttbridge run` refuses to start without: deploy/pttbridge.env must list each.
REQUIRED = ("TELEGRAM_BOT_TOKEN", "PLATFORM_BASE_URL", "PLATFORM_TOKEN", "PLATFORM_CALLBACK_TOKEN")


def test_metrics_carry_the_build_info() -> None:
    families = {f.name: f for f in text_string_to_metric_families(Metrics().render().decode())}
    [sample] = families["pttbridge_build_info"].samples
    assert sample.name == "pttbridge_build_info"
    assert sample.labels == {"version": bot.__version__, "python": platform.python_version()}
    assert sample.value == 1


# -- reading the recipes ---------------------------------------------------------------------


def unit_settings() -> dict[str, list[str]]:
    """The [Service] section of the unit: each key with its values in order."""
    section = ""
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def unit_value(key: str) -> str:
    [value] = unit_settings()[key]
    return value


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Each stage's instructions (continuation lines joined, comments dropped)."""
    stages: list[list[tuple[str, str]]] = []
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, " ".join(rest.split())))
    return stages


def image_env() -> dict[str, str]:
    """The final stage's ENV (`ENV A=1 B=2`)."""
    env: dict[str, str] = {}
    for instruction, rest in dockerfile_stages()[-1]:
        if instruction == "ENV":
            for pair in rest.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def image(instruction: str) -> str:
    [rest] = [r for i, r in dockerfile_stages()[-1] if i == instruction]
    return rest


def healthcheck_argv() -> list[str]:
    rest = image("HEALTHCHECK")
    argv = json.loads(rest[rest.index("CMD ") + 4 :])
    assert isinstance(argv, list)
    return argv


def compose_healthcheck_argv() -> list[str]:
    [line] = [s for s in COMPOSE.read_text(encoding="utf-8").splitlines() if "test:" in s]
    argv = json.loads(line.partition("test:")[2])
    assert argv[0] == "CMD"
    return list(argv[1:])


def compose_environment() -> dict[str, str]:
    """compose.yaml's `environment:` block (`KEY: "value"` lines below it)."""
    lines = COMPOSE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, s in enumerate(lines) if s.strip() == "environment:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    env = {}
    for line in lines[start + 1 :]:
        if len(line) - len(line.lstrip()) <= indent:
            break
        key, _, value = line.strip().partition(":")
        env[key] = value.strip().strip('"')
    return env


def env_file(values: dict[str, str]) -> dict[str, str]:
    """deploy/pttbridge.env as systemd's EnvironmentFile= and compose's env_file read it,
    filled in with `values` for the settings it lists."""
    out = {}
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = values.get(key, value)
    return out


# -- the recipes agree with each other -----------------------------------------------------


def test_the_unit_runs_as_its_own_user_with_its_state_and_settings() -> None:
    unit = unit_settings()
    assert unit["DynamicUser"] == ["yes"] or unit.get("User") == ["pttbridge"]
    assert unit_value("ExecStart") == f"{VENV}/bin/pttbridge run"
    assert unit_value("StateDirectory") == "pttbridge"
    assert unit_value("EnvironmentFile") == SETTINGS_FILE
    assert unit_value("Environment") == f"BRIDGE_DB_PATH={DB_PATH}"
    assert unit_value("Restart") == "on-failure"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert unit_value(key) == "yes", key
    assert unit_value("ProtectSystem") == "strict"
    assert set(unit_value("RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}


def test_the_unit_the_image_and_compose_use_the_same_paths() -> None:
    env = image_env()
    assert env["BRIDGE_DB_PATH"] == DB_PATH == compose_environment()["BRIDGE_DB_PATH"]
    assert env["PATH"].startswith(f"{VENV}/bin:")
    assert image("VOLUME") == STATE == image("WORKDIR") == unit_value("WorkingDirectory")
    assert f"pttbridge-data:{STATE}" in COMPOSE.read_text(encoding="utf-8")
    assert image("USER") == "pttbridge"
    assert json.loads(image("CMD")) == ["pttbridge", "run"]
    # The image installs with deploy/install.sh, as the wheel test does.
    runs = [rest for stage in dockerfile_stages() for i, rest in stage if i == "RUN"]
    assert any(re.fullmatch(r"sh \S*/install\.sh build /src /dist", r) for r in runs), runs
    assert any(f"/install.sh install /dist/pttbridge-*.whl {VENV}" in r for r in runs), runs
    # The operator's guide names the same paths (once it is written).
    guide = ROOT / "docs" / "operator.md"
    if guide.exists():
        text = guide.read_text(encoding="utf-8")
        for path in (VENV, DB_PATH, SETTINGS_FILE, "deploy/pttbridge.service"):
            assert path in text, path


def test_compose_and_the_image_check_health_alike() -> None:
    argv = healthcheck_argv()
    assert argv == compose_healthcheck_argv()
    assert "/healthz" in argv[-1]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(installed: Installed, tmp_path: Path) -> None:
    # verify wants ExecStart's program to exist: the installed wheel's, at the same place.
    unit = tmp_path / "pttbridge.service"
    text = UNIT.read_text(encoding="utf-8")
    unit.write_text(text.replace(VENV, str(installed.venv)), encoding="utf-8")
    out = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # It exits 0 on an unknown key or a bad value too, so its every word is a failure.
    assert (out.returncode, out.stdout + out.stderr) == (0, "")
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("ProtectHome=", "ProtectHomes="), encoding="utf-8")
    out = subprocess.run(
        ["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert "Unknown key 'ProtectHomes'" in out.stderr
    score = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    exposure = re.search(r"Overall exposure level for pttbridge\.service: (\d+\.\d+)", score.stdout)
    assert exposure is not None, score.stdout + score.stderr
    assert float(exposure.group(1)) <= 2.0  # "OK" in systemd's words (1.2 when written)


# -- the recipes' steps, run here ----------------------------------------------------------

# The wheel test's fixtures: its install (once per session) and its Telegram emulator.
installed = test_wheel.installed
emulator = test_wheel.emulator


@dataclass
class Shape:
    """How a recipe starts the bridge: its command, environment and folder, and the
    commands it checks health with."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    db: Path
    healthchecks: list[list[str]] = field(default_factory=list)


def settings(sandbox: SandboxPlatform, emulator: TelegramEmulator) -> dict[str, str]:
    """deploy/pttbridge.env filled in for the sandbox, plus the emulator's address (a
    rehearsal's one extra line), on a free port (the one change from the recipes)."""
    values = {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "PLATFORM_BASE_URL": sandbox.url,
        "PLATFORM_TOKEN": sandbox.token,
        "PLATFORM_CALLBACK_TOKEN": CALLBACK_TOKEN,
    }
    filled = env_file(values)
    assert set(REQUIRED) <= set(filled)
    return {**filled, "TELEGRAM_API_BASE": emulator.url}


def mapped(text: str, installed: Installed, root: Path) -> str:
    """A recipe's path, on this machine: the installed venv, state under `root`."""
    return text.replace(VENV, str(installed.venv)).replace(STATE, f"{root}{STATE}")


def container(installed: Installed, root: Path, values: dict[str, str]) -> Shape:
    # compose: the image's ENV, then env_file, then `environment:`, each winning.
    env = {k: mapped(v, installed, root) for k, v in image_env().items()}
    env["PATH"] = env["PATH"].replace("$PATH", os.environ["PATH"])
    env.update(values)
    env.update({k: mapped(v, installed, root) for k, v in compose_environment().items()})
    env["BRIDGE_HTTP_PORT"] = "0"
    workdir = Path(mapped(image("WORKDIR"), installed, root))
    return Shape(
        argv=json.loads(image("CMD")),
        env=env,
        cwd=workdir,
        db=Path(env["BRIDGE_DB_PATH"]),
        healthchecks=[healthcheck_argv(), compose_healthcheck_argv()],
    )


# PR_SET_MDWE(PR_MDWE_REFUSE_EXEC_GAIN), kept across exec: the kernel's form of the unit's
# MemoryDenyWriteExecute=yes, so the bridge runs as it will under systemd.
UNDER_MDWE = (
    "import ctypes, os, sys\n"
    "if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0):\n"
    "    sys.exit('PR_SET_MDWE failed: errno %d' % ctypes.get_errno())\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def kernel_has_mdwe() -> bool:
    return bool(sys.platform == "linux" and ctypes.CDLL(None).prctl(66, 0, 0, 0, 0) >= 0)


def service(installed: Installed, root: Path, values: dict[str, str]) -> Shape:
    # systemd: Environment=, then EnvironmentFile= (which wins).
    key, _, value = unit_value("Environment").partition("=")
    env = child_env(**{key: mapped(value, installed, root), **values, "BRIDGE_HTTP_PORT": "0"})
    argv = mapped(unit_value("ExecStart"), installed, root).split()
    if unit_value("MemoryDenyWriteExecute") == "yes" and kernel_has_mdwe():
        argv = [sys.executable, "-c", UNDER_MDWE, *argv]
    health = "import sys, urllib.request as u; u.urlopen(sys.argv[1] + '/healthz', timeout=4)"
    return Shape(
        argv=argv,
        env=env,
        cwd=Path(mapped(unit_value("WorkingDirectory"), installed, root)),
        db=Path(env["BRIDGE_DB_PATH"]),
        healthchecks=[[sys.executable, "-c", health, "{url}"]],
    )


async def exit_code(argv: list[str], env: dict[str, str]) -> int:
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(proc.wait(), timeout=60)


@pytest.mark.parametrize("recipe", [container, service], ids=["container", "service"])
async def test_the_recipe_runs_the_bridge_here(
    recipe: Callable[[Installed, Path, dict[str, str]], Shape],
    installed: Installed,
    sandbox: SandboxPlatform,
    emulator: TelegramEmulator,
    tmp_path: Path,
) -> None:
    shape = recipe(installed, tmp_path, settings(sandbox, emulator))
    shape.cwd.mkdir(parents=True)  # the image's `install -d`, the unit's StateDirectory=
    proc = await asyncio.create_subprocess_exec(
        *shape.argv,
        cwd=shape.cwd,
        env=shape.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None and proc.stdout is not None
    log: list[str] = []
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def read_log() -> None:  # to the end, so that the pipe never fills
        assert proc.stderr is not None
        while line := (await proc.stderr.readline()).decode():
            log.append(line)
            if (m := re.search(r"listening on http://[^ ]+:(\d+) ", line)) and not listening.done():
                listening.set_result(int(m.group(1)))
        if not listening.done():
            listening.set_exception(AssertionError("exited before listening:\n" + "".join(log)))

    reader = asyncio.create_task(read_log())
    try:
        port = await asyncio.wait_for(listening, timeout=60)
        url = f"http://127.0.0.1:{port}"
        check_env = {**shape.env, "BRIDGE_HTTP_PORT": str(port)}
        for argv in shape.healthchecks:
            argv = [a.replace("{url}", url) for a in argv]
            assert await exit_code(argv, check_env) == 0, argv
        async with httpx.AsyncClient(base_url=url) as http:
            ready = await http.get("/readyz")
            metrics = (await http.get("/metrics")).text
        assert ready.json()["checks"]["db"] == "ok", ready.text
        assert shape.db.is_file()  # where the recipe puts it: the volume, the state folder
        assert f'version="{installed.version}"' in next(
            line for line in metrics.splitlines() if line.startswith("pttbridge_build_info{")
        )
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0, "".join(log)
        await reader
        # With nothing listening, the same health checks fail.
        for argv in shape.healthchecks:
            argv = [a.replace("{url}", url) for a in argv]
            assert await exit_code(argv, check_env) != 0, argv
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
    assert "Traceback" not in "".join(log)
    assert await proc.stdout.read() == b""
