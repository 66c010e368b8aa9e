"""Start-up order: the listener answers /healthz before the first directory load ends;
/readyz says the directory is "loading" (not ready) meanwhile; a callback that arrives
then is stored, acknowledged and fanned out against the loaded directory, not an empty one.

The sandbox platform holds its answer to the directory's first call (2.12, `orgUser/tree`)
until the test lets it go: the load is "in progress" for as long as the test needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.demo.stack import Stack
from bot.sandbox.data.constants import ROOT_ORG_ID
from bot.sandbox.platform import SandboxPlatform
from tests.conftest import SANDBOX_NOW


class DirectoryHold:
    """A sandbox middleware: while armed, the directory's first call waits for `release`."""

    def __init__(self) -> None:
        self.armed = False
        self.held = asyncio.Event()  # the bridge's directory load has reached the platform
        self.release = asyncio.Event()

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if self.armed and request.path.endswith("/orgUser/tree"):
            self.armed = False
            self.held.set()
            await self.release.wait()
        return await handler(request)


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as resp:
        return resp.status, await resp.json()


async def test_healthz_answers_and_a_callback_waits_while_the_directory_loads(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    hold = DirectoryHold()
    sandbox = SandboxPlatform(now=lambda: SANDBOX_NOW)
    sandbox.app.middlewares.append(hold.middleware)
    stack = await make_bot_stack(sandbox=sandbox)
    # A chat subscribed to the root org's subtree: only a loaded directory knows that a
    # child org is in it (an empty one's subtree of the root is the root alone).
    child = next(o for o in sandbox.data.orgs.values() if o.parent_id == ROOT_ORG_ID)
    group = -100501
    stack.add_group(group, "Whole tree")
    reply = await stack.say("admin", f"/subscribe incidents org {ROOT_ORG_ID}", chat=group)
    assert "This chat now receives" in reply[0].plain_text(), reply[0].render()

    await stack.stop_bridge()
    hold.armed = True
    starting = asyncio.create_task(stack.start_bridge())
    await hold.held.wait()  # the first load runs, held at the platform
    assert stack.bridge is not None and stack.bridge.http_port
    assert not starting.done()
    base = stack.bridge_url
    async with aiohttp.ClientSession() as http:
        assert await get(http, base + "/healthz") == (200, {"status": "ok"})
        status, body = await get(http, base + "/readyz")
        assert status == 503, body
        assert body == {
            "status": "unavailable",
            "checks": {"db": "ok", "platform": "ok", "directory": "loading"},
        }
        body = stack.platform.make_report(urls=[], to={"id": str(child.id), "name": child.name})
        posted = asyncio.create_task(stack.platform_event("report", body))
        hold.release.set()
        await starting
        assert await posted == (200, {"status": 200, "message": "成功", "data": None})
        [msg] = await stack.emu.wait_for_messages(group, 1)
        assert f"Incident {body['code']}" in msg.plain_text()
        status, ready = await get(http, base + "/readyz")
        assert (status, ready["checks"]["directory"]) == (200, "loaded")


async def test_a_failed_first_load_is_ready_without_a_directory(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    """As before: the bridge starts without a directory, ready (the next refresh tries
    again), /readyz saying so."""
    stack = await make_bot_stack()
    await stack.stop_bridge()
    # Every try of the load's first call refused (the client does not retry a status).
    stack.platform.fail_next("/orgUser/tree", "status", status=502, times=5)
    await stack.start_bridge()
    async with aiohttp.ClientSession() as http:
        status, body = await get(http, stack.bridge_url + "/readyz")
    assert status == 200, body
    assert body["checks"] == {"db": "ok", "platform": "ok", "directory": "not loaded"}


async def test_a_stop_while_the_directory_loads_answers_a_held_callback_503(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    """A signal during start-up cancels it: a callback held for the directory is not
    stored against an empty one, but refused so that the platform sends it again."""
    hold = DirectoryHold()
    sandbox = SandboxPlatform(now=lambda: SANDBOX_NOW)
    sandbox.app.middlewares.append(hold.middleware)
    stack = await make_bot_stack(sandbox=sandbox)
    await stack.stop_bridge()
    hold.armed = True
    starting = asyncio.create_task(stack.start_bridge())
    await hold.held.wait()
    assert stack.bridge is not None
    bridge = stack.bridge
    posted = asyncio.create_task(stack.platform_event("report", stack.platform.make_report()))
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    status, answer = await posted
    refused = {"status": 500, "message": "stopping, retry later", "data": None}
    assert (status, answer) == (503, refused)
    assert await bridge.repos.inbox.count() == 0
    hold.release.set()
