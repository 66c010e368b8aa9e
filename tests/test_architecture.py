"""The shape of the house (issue 13): routers per dispatcher, services instead of a locator."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from handlers import get_routers

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")

# Import cycles that belong to work still under way elsewhere (the relay in parts, the
# sandbox and demo packages). This set may only shrink: each cycle is named by its modules.
KNOWN_CYCLES: set[frozenset[str]] = set()

# Who may import the composition root: `pttbridge run` (bot.app.run) runs it, and the
# demo stack runs a whole bridge beside the sandbox platform and the Telegram emulator
# (an entry point as well).
# The tour, an entry point too, runs the bridge's jobs by hand.
APP_IMPORTERS = {"bot.app.run", "bot.demo.stack", "bot.demo.tour"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every module of bot/, handlers/, storage/ and what it imports of them: imports
    under `TYPE_CHECKING` and inside functions count as much as the top-level ones."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join([*here, *([base] if base else [])])
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names
                ]
            else:
                continue
            for target in targets:
                # `from pkg import module` names the module; `from module import thing`,
                # the module.
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_is_read() -> None:
    graph = import_graph()

    assert "bot.app.bridge" in graph and "handlers.start" in graph and "storage.db" in graph
    assert "handlers" in graph["bot.app.bridge"]  # from handlers import get_routers
    assert "handlers.admin" in graph["handlers"]  # imported inside get_routers()
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}


def test_no_import_cycle_but_the_known_ones() -> None:
    found = cycles(import_graph())

    assert found <= KNOWN_CYCLES, sorted(sorted(c) for c in found - KNOWN_CYCLES)
    # A known cycle that is gone comes off the list.
    assert found == KNOWN_CYCLES, sorted(sorted(c) for c in KNOWN_CYCLES - found)


def test_only_the_entry_points_import_the_composition_root() -> None:
    importers = {m for m, edges in import_graph().items() if "bot.app.bridge" in edges}

    assert importers <= APP_IMPORTERS


def test_no_handler_receives_the_bridge() -> None:
    for path in (ROOT / "handlers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args.args + node.args.kwonlyargs
                assert "bridge" not in {a.arg for a in args}, f"{path.name}: {node.name}"


def test_each_call_builds_fresh_routers() -> None:
    first, second = get_routers(), get_routers()

    assert [r.name for r in first] == [r.name for r in second]
    assert not {id(r) for r in first} & {id(r) for r in second}
    assert all(r.parent_router is None for r in first + second)


async def test_two_bridges_answer_help_at_the_same_time(
    make_bot_stack: Callable[..., Awaitable[Any]],
) -> None:
    one, two = await asyncio.gather(make_bot_stack(), make_bot_stack(language="zh"))
    assert one.bridge.http_port != two.bridge.http_port
    assert one.bridge.settings.bridge.db_path != two.bridge.settings.bridge.db_path

    en, zh = await asyncio.gather(one.say("viewer", "/help"), two.say("viewer", "/help"))

    assert len(en) == 1 and en[0].plain_text().startswith("What you can do — viewer\n/help")
    assert len(zh) == 1 and zh[0].plain_text().startswith("可用命令 — 查看者\n/help")


def test_each_repository_is_built_in_one_place() -> None:
    """The composition root builds every repository once (`Repositories.over`) and hands
    it to whoever uses it: a second construction anywhere is a second, unshared copy."""
    sites: dict[str, list[str]] = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "sandbox" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id.endswith("Repo")
                ):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    sites.setdefault(node.func.id, []).append(where)

    assert {"UserRepo", "OutboxRepo", "JobStateRepo", "SubscriptionRepo"} <= set(sites)
    assert {name: where for name, where in sites.items() if len(where) > 1} == {}
    assert {where.partition(":")[0] for where_all in sites.values() for where in where_all} == {
        "bot/app/services.py"
    }


MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque"}


def _mutable_module_state(source: str) -> list[str]:
    """Names bound at module level to a mutable container (literal, comprehension or
    constructor call). Constants are fine: tuples, frozensets, MappingProxyType."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        mutable = isinstance(
            value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp
        ) or (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name | ast.Attribute)
            and (value.func.id if isinstance(value.func, ast.Name) else value.func.attr)
            in MUTABLE_CALLS
        )
        if mutable:
            found += [ast.unparse(t) for t in targets]
    return found


def test_handlers_keep_no_module_level_mutable_state() -> None:
    offending = {
        path.name: names
        for path in sorted((ROOT / "handlers").glob("*.py"))
        if (names := _mutable_module_state(path.read_text(encoding="utf-8")))
    }
    assert offending == {}


def test_the_mutable_state_check_sees_what_it_should() -> None:
    source = (
        "A = {}\nB: dict[str, int] = {'x': 1}\nC = [i for i in range(3)]\n"
        "D = defaultdict(list)\nE = collections.OrderedDict()\n"
        "F = (1, 2)\nG = frozenset({1})\nH = MappingProxyType({'a': 1})\n"
    )
    assert _mutable_module_state(source) == ["A", "B", "C", "D", "E"]
