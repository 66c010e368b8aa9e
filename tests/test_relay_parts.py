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
    bridge = stack.bridge
    assert bridge is not None
    repos, relay, jobs = bridge.repos, bridge.relay, bridge.jobs
    assert relay.changes.outbox is repos.outbox
    assert relay.notice_sender.outbox is repos.outbox
    assert relay.acks.outbox is repos.outbox
    assert relay.changes.inbox is repos.inbox is relay.notice_sender.inbox
    assert relay.notice_sender.notices is repos.notices
    assert relay.acks.incidents is repos.incidents is bridge.delivery.incidents
    assert relay.changes.known is repos.known is jobs.directory_diff.known
    assert relay.changes.job_state is repos.job_state is jobs.directory_diff.state
    assert jobs.recordings.state is repos.job_state
    assert relay.ingest.subscribers is relay.changes.subscribers
    assert relay.notice_sender.subscribers is relay.changes.subscribers
    assert jobs.directory_diff.subscribers is relay.changes.subscribers
    assert jobs.recordings.subscribers is relay.changes.subscribers
    assert bridge.delivery.outbox is repos.outbox
    assert jobs.directory_diff.outbox is repos.outbox is jobs.presence.outbox
    assert jobs.reports.outbox is repos.outbox is jobs.recordings.outbox
    assert jobs.watches is repos.watches is jobs.presence.watches
    assert jobs.reports.reports is repos.reports
    assert jobs.recordings.seen is repos.seen_recordings


async def test_the_relay_holds_its_parts_not_repositories(stack: Stack) -> None:
    assert stack.bridge is not None
    relay = stack.bridge.relay
    held = {type(v).__name__ for v in vars(relay).values()}

    assert not {name for name in held if name.endswith("Repo")}, held
    assert {"IncidentIngest", "ChangeFeed", "NoticeSender", "Acknowledgements"} <= held


async def test_handlers_get_the_shared_repositories_and_the_relay(stack: Stack) -> None:
    bridge = stack.bridge
    assert bridge is not None
    data = bridge.services.handler_data()

    assert data["outbox"] is bridge.repos.outbox
    assert data["subscriptions"] is bridge.repos.subscriptions
    assert data["reports"] is bridge.jobs.reports.reports
    assert data["relay"] is bridge.relay and data["jobs"] is bridge.jobs
    assert bridge.dp["inbox"] is bridge.repos.inbox
    assert "repos" not in data


def test_the_directory_diff_asks_the_subscriber_index() -> None:
    """Who an org or user change reaches is decided in one place, whichever path saw it."""
    imported = _imports(ROOT / "bot" / "jobs" / "directory_diff.py")
    source = (ROOT / "bot" / "jobs" / "directory_diff.py").read_text(encoding="utf-8")

    assert "bot.relay.subscribers" in imported
    assert "matching" not in source
