"""The relay in parts (issue 13 point 3): each part is given the repositories it uses, each
built once; handlers reach no repository through the relay or the jobs; the delivery
sends what was rendered before it was queued, without calling back into the relay.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.demo.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
REPOSITORIES = {"subs", "outbox", "notices", "inbox", "incidents", "known", "job_state"}


def _attribute_chains(path: Path) -> list[str]:
    """Every dotted name read in a module (`relay.subs.set`, `jobs.reports.reports.get`)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute):
            parts = [node.attr]
            value = node.value
            while isinstance(value, ast.Attribute):
                parts.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name):
                parts.append(value.id)
                out.append(".".join(reversed(parts)))
    return out


@pytest.mark.parametrize("path", sorted((ROOT / "handlers").glob("*.py")), ids=lambda p: p.name)
def test_no_handler_reaches_through_the_relay_or_the_jobs(path: Path) -> None:
    reached = [
        chain
        for chain in _attribute_chains(path)
        if (
            any(f"relay.{repo}." in chain + "." for repo in REPOSITORIES)
            or ".reports.reports" in chain
        )
    ]
    assert reached == []


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


@pytest.mark.parametrize("name", ["delivery.py", "sender.py", "files.py"])
def test_delivery_does_not_call_back_into_the_relay_to_render(name: str) -> None:
    imported = _imports(ROOT / "bot" / "relay" / name)
    relay_side = {"bot.relay.service", "bot.relay.ingest", "bot.relay.acks", "bot.relay.feed"}
    assert imported & relay_side == set()


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = Stack()
    await s.start()
    yield s
    await s.stop()


async def test_each_repository_is_built_once_and_shared_by_the_parts(stack: Stack) -> None:
    assert stack.bridge is not None
    relay = stack.bridge.relay
    assert relay.changes.outbox is relay.outbox
    assert relay.notice_sender.outbox is relay.outbox
    assert relay.acks.outbox is relay.outbox
    assert relay.changes.inbox is relay.inbox is relay.notice_sender.inbox
    assert relay.acks.incidents is relay.incidents
    assert relay.ingest.subscribers is relay.subscribers is relay.changes.subscribers
    assert relay.notice_sender.subscribers is relay.subscribers
    assert stack.bridge.delivery.outbox is relay.outbox
    assert stack.bridge.jobs.directory_diff.outbox is relay.outbox
    assert stack.bridge.jobs.directory_diff.known is relay.known
