"""`pttbridge demo` as a newcomer runs it: the whole tour answers every step, exit 0, in
Chinese unless asked otherwise (BRIDGE_LANGUAGE's default) and in English when asked."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("lang", [None, "en"])
async def test_the_demo_tour_answers_every_step(tmp_path: Path, lang: str | None) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PLATFORM_", "TELEGRAM_", "BRIDGE_"))
    }
    env["PYTHONPATH"] = str(REPO)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        *(["--lang", lang] if lang else []),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    text = out.decode()
    assert proc.returncode == 0, text[-3000:]
    assert "demo finished: every step answered." in text
    assert "Traceback" not in text
    # Every persona starts in the tour's language: the stranger's greeting is in it.
    greeting = text.split("👤 stranger: /start\n", 1)[1].splitlines()[0]
    assert bool(re.search("[\u4e00-\u9fff]", greeting)) is (lang is None), greeting
    # Live positions (#15): the follow moves, its line is edited, the fence is crossed in and
    # out (each told once, with a pin), and /unfollow all stops the live location.
    live = text.split("— live positions", 1)[1].split("— admin chores —", 1)[0]
    assert live.count("(moved) [live location") >= 3, live
    assert "(edited) 📡" in live, live
    assert live.count("[location ") == 2, live
    assert live.count("(stopped) [live location") == 1, live
    if lang == "en":
        assert live.count(" entered depot at ") == 1 and live.count(" left depot at ") == 1, live
    else:
        assert live.count(" 进入 depot。") == 1 and live.count(" 离开 depot。") == 1, live
