"""`bot.sandbox` (the emulated platform and Telegram) imports nothing of the application.

The sandbox stands in for the outside world the bridge talks to: were it to borrow the
bridge's code (its models, its coordinate transform, its settings), a bug there would be
mirrored on both sides of the wire and no test would see it. The demo that puts the two
together lives in `bot.demo`. Also: no file of either is over ~600 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bot.sandbox
from bot.sandbox.gcj02 import wgs84_to_gcj02

SANDBOX = Path(bot.sandbox.__file__).parent
APPLICATION = ("bot", "handlers", "storage")


def _package(path: Path) -> str:
    module = ".".join(path.relative_to(SANDBOX.parent.parent).with_suffix("").parts)
    return (
        module.removesuffix(".__init__")
        if path.name == "__init__.py"
        else module.rpartition(".")[0]
    )


def _imported(source: str, package: str) -> set[str]:
    """Every module an `import` or `from … import` in the source names, at any depth
    (inside functions and `if TYPE_CHECKING:` too); relative imports resolved in `package`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _of_application(module: str) -> bool:
    top = module.split(".")[0]
    if top not in APPLICATION:
        return False
    return not (module == "bot.sandbox" or module.startswith("bot.sandbox."))


def test_sandbox_imports_nothing_of_the_application() -> None:
    files = sorted(SANDBOX.rglob("*.py"))
    assert len(files) >= 4, files  # the walk found the package
    offending = {
        f"{path.relative_to(SANDBOX.parent.parent)}: {module}"
        for path in files
        for module in _imported(path.read_text(encoding="utf-8"), _package(path))
        if _of_application(module)
    }
    assert not offending, sorted(offending)


def test_the_check_sees_what_it_should() -> None:
    # The walk is only as good as what it recognises: every form of import is caught,
    # the sandbox's own modules and the standard library are not.
    source = (
        "import bot.config\n"
        "from handlers import filters\n"
        "def f():\n    from storage.roles import Role\n"
        "if TYPE_CHECKING:\n    import bot.app.bridge\n"
        "from bot import render\n"
        "from bot.sandbox.data import User\n"
        "from . import data\n"
        "import json\n"
    )
    found = {m for m in _imported(source, "bot.sandbox") if _of_application(m)}
    assert found == {
        "bot.config",
        "handlers",
        "handlers.filters",
        "storage.roles",
        "storage.roles.Role",
        "bot.app.bridge",
        "bot",
        "bot.render",
    }


def test_the_sandbox_offsets_fixes_as_the_bridge_expects() -> None:
    # The sandbox keeps its own copy of the forward transform; the bridge inverts it.
    from bot.platform.coords import gcj02_to_wgs84

    for lat, lon in [(39.915, 116.404), (31.2304, 121.4737), (22.5431, 114.0579)]:
        glat, glon = wgs84_to_gcj02(lat, lon)
        assert (glat, glon) != (lat, lon)
        back = gcj02_to_wgs84(glat, glon)
        assert abs(back[0] - lat) < 1e-7 and abs(back[1] - lon) < 1e-7
    assert wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)  # outside China: unchanged


def test_no_sandbox_or_demo_file_is_over_600_lines() -> None:
    # The emulator was one 3,300-line file and the platform a 1,000-line class (issue 13
    # point 7): each is now a package, one responsibility a file.
    demo = SANDBOX.parent / "demo"
    sizes = {
        str(path.relative_to(SANDBOX.parent.parent)): len(
            path.read_text(encoding="utf-8").splitlines()
        )
        for root in (SANDBOX, demo)
        for path in root.rglob("*.py")
    }
    assert len(sizes) > 20, sizes
    assert {name: n for name, n in sizes.items() if n > 600} == {}
