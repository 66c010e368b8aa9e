"""Only the build hooks; everything else is in pyproject.toml.

The map page's third-party files (Leaflet, from npm) are built into bot/webapp/static/vendor by
web/build.py before the sdist and the wheel are made, unless they are already there for the
current lockfile (a wheel built from the sdist needs no npm).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import SetupError

HERE = Path(__file__).resolve().parent


def build_map_page() -> None:
    spec = importlib.util.spec_from_file_location("pttbridge_web_build", HERE / "web" / "build.py")
    assert spec is not None and spec.loader is not None
    web_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(web_build)
    try:
        web_build.build()
    except web_build.BuildError as exc:
        raise SetupError(f"web/build.py: {exc}") from None


class BuildPyWithMap(build_py):
    def run(self) -> None:
        build_map_page()
        super().run()


class SdistWithMap(sdist):
    def run(self) -> None:
        build_map_page()
        super().run()


setup(cmdclass={"build_py": BuildPyWithMap, "sdist": SdistWithMap})
