"""The emulator put together: the Bot API served over HTTP, and webhook delivery."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import unquote

from aiohttp import (
    ClientError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    MultipartReader,
    web,
)

from bot.sandbox.telegram.constants import JSON, logger
from bot.sandbox.telegram.driver import EmulatorDriver
from bot.sandbox.telegram.methods.chats import ChatMethods
from bot.sandbox.telegram.methods.editing import EditingMethods
from bot.sandbox.telegram.methods.sending import SendingMethods
from bot.sandbox.telegram.methods.updates import UpdateMethods
from bot.sandbox.telegram.model import ApiCall, Described, Upload, WebhookTarget
from bot.sandbox.telegram.params import (
    ApiError,
    Params,
    bad_request,
    dumps,
    error_response,
    json_response,
)


class TelegramEmulator(EmulatorDriver, UpdateMethods, SendingMethods, EditingMethods, ChatMethods):
    """An in-process Telegram Bot API server plus a driver that plays the users.

    Typical use::

        emu = TelegramEmulator(token="123456:TEST-token")
        url = await emu.start()
        alice = emu.add_user(1001, "Alice", username="alice")
        await emu.send_message(alice, "/start")
        [reply] = await emu.wait_for_messages(alice.id)
        await emu.stop()

    Behaviours of Telegram it keeps, which a bot must cope with:

    * A new getUpdates while another is pending ends the older one with 409
      (``terminated by other getUpdates request``); the newer one is served.
    * ``editMessageText``/``editMessageCaption`` without ``reply_markup``
      remove the inline keyboard.
    * Privacy mode (``privacy_mode=True``, Telegram's default): in groups
      where the bot is not an admin it gets only commands (not addressed to
      another bot), replies to its messages, mentions of it and service
      messages; the rest is kept in ``filtered_updates``.
    * Live locations (``sendLocation`` with ``live_period``) move with
      ``editMessageLiveLocation`` until their period ends by the emulator's
      clock (``clock=``) or ``stopMessageLiveLocation``; after that, or for an
      edit identical to what is shown, Telegram's errors ("message can't be
      edited", "message is not modified: ..."). ``live_positions`` reads each
      position shown, ``live_status`` what it is now.
    * Flood limits apply to sending, copying, forwarding and editing (live
      location moves and stops included), held in
      sliding windows (the strictest reading: Telegram publishes no algorithm):
      at most ``global_per_s`` messages in any second, ``group_per_min`` to a
      group in any minute (an album counts one per item in both), and
      ``private_burst`` to a private chat in any ``private_burst /
      private_per_s`` seconds. A message over a limit is refused with 429 and
      ``retry_after``, the whole seconds until its window has room. Not to
      getMe, getUpdates, webhooks, commands, answerCallbackQuery,
      sendChatAction, getChat*, getFile or deletions.
    """

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the Bot API; returns the base URL (also in ``self.url``)."""
        if self._runner is not None:
            return self.url
        self._closing = False
        app = web.Application(client_max_size=self.max_upload_bytes + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = port
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                bound_port = int(address[1])
                break
        self.url = f"http://{host}:{bound_port}"
        self._http = ClientSession()
        self._webhook_wake = asyncio.Event()
        self._webhook_task = asyncio.create_task(self._webhook_loop())
        logger.info("telegram emulator listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop serving: pending getUpdates return, webhook delivery stops."""
        self._closing = True
        if self._active_poll is not None:
            self._active_poll.wake.set()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ internals: HTTP

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return error_response(404, "Not Found")

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return error_response(401, "Unauthorized")
        stored = self._files_by_path.get(unquote(request.match_info["path"]))
        if stored is None or stored.data is None:
            return error_response(404, "Not Found")
        return web.Response(
            body=stored.data, content_type=stored.mime or "application/octet-stream"
        )

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return error_response(401, "Unauthorized")
        method = request.match_info["method"]
        try:
            params = await self._read_request(request)
        except ApiError as exc:
            return json_response(exc.code, exc.payload())
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "Request Entity Too Large")
        except Exception as exc:  # a malformed body must never take the server down
            logger.info("telegram emulator: unreadable request body: %r", exc)
            return error_response(400, "Bad Request: can't parse request body")
        fault = self._take_fault(method, params)
        if fault is not None:
            if fault.after:
                await self._execute(method, params, via="http")
            else:
                self.calls.append(
                    ApiCall(
                        method=self._method_names.get(method.lower(), method),
                        params=params.decoded(),
                        status=0 if fault.disconnect else fault.error_code,
                        error="connection dropped (injected)"
                        if fault.disconnect
                        else fault.description,
                        error_code=None if fault.disconnect else fault.error_code,
                        parameters=fault.parameters,
                        time=self._clock(),
                    )
                )
                self._notify()
            if fault.disconnect:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # nothing is written to the dropped connection
            error = ApiError(fault.error_code, fault.description, fault.parameters)
            return json_response(fault.error_code, error.payload())
        status, payload = await self._execute(method, params, via="http")
        try:
            return json_response(status, payload)
        except (TypeError, ValueError):
            logger.exception("telegram emulator: result of %s is not JSON", method)
            return error_response(500, "Internal Server Error")

    async def _read_request(self, request: web.Request) -> Params:
        values: dict[str, Any] = {}
        for key, value in request.query.items():
            values[key] = value
        uploads: dict[str, Upload] = {}
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                raw = await request.read()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise bad_request("can't parse JSON object") from None
                    if not isinstance(body, dict):
                        raise bad_request("can't parse JSON object")
                    values.update(body)
            else:
                form = await request.post()
                for key, item in form.items():
                    if isinstance(item, web.FileField):
                        uploads[key] = Upload(item.filename, item.content_type, item.file.read())
                    elif isinstance(item, bytes | bytearray):
                        values[key] = bytes(item).decode("utf-8", "replace")
                    else:
                        values[key] = item
        return Params(values, uploads)

    async def _execute(self, method: str, params: Params, *, via: str) -> tuple[int, JSON]:
        name = self._method_names.get(method.lower())
        call = ApiCall(
            method=name or method, params=params.decoded(), status=0, time=self._clock(), via=via
        )
        status: int
        payload: JSON
        if name is None:
            status, payload = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            try:
                outcome = await self._handlers[name](params)
            except ApiError as exc:
                status, payload = exc.code, exc.payload()
            except Exception as exc:
                logger.exception("telegram emulator: %s failed", name)
                status = 500
                payload = {
                    "ok": False,
                    "error_code": 500,
                    "description": f"Internal Server Error: {type(exc).__name__}",
                }
            else:
                status, payload = 200, {"ok": True}
                if isinstance(outcome, Described):
                    payload["result"] = outcome.value
                    payload["description"] = outcome.description
                else:
                    payload["result"] = outcome
        call.status = status
        if status == 200:
            call.result = payload["result"]
        else:
            call.error = payload.get("description")
            call.error_code = payload.get("error_code")
            call.parameters = payload.get("parameters")
        self.calls.append(call)
        self._notify()
        return status, payload

    # ------------------------------------------------------------------ webhook delivery

    async def _webhook_loop(self) -> None:
        delay = self.webhook_retry_initial
        wake = self._webhook_wake
        assert wake is not None
        while not self._closing:
            hook = self._webhook
            if hook is None or not self._updates:
                wake.clear()
                await wake.wait()
                continue
            update = self._updates[0]
            error = await self._deliver(hook, update)
            if self._webhook is not hook:
                continue
            if error is None:
                self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
                delay = self.webhook_retry_initial
                self._notify()
                continue
            hook.last_error_date = int(self._wallclock())
            hook.last_error_message = error
            self._notify()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.webhook_retry_max)

    async def _deliver(self, hook: WebhookTarget, update: JSON) -> str | None:
        """POST one update; None when the webhook took it, else Telegram's error text."""
        http = self._http
        if http is None:
            return "Webhook delivery is stopped"
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with http.post(
                hook.url,
                data=dumps(update).encode(),
                headers=headers,
                timeout=ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                if not 200 <= resp.status < 300:
                    return f"Wrong response from the webhook: {resp.status} {resp.reason}"
                reply = await self._read_webhook_reply(resp)
        except TimeoutError:
            return "Read timeout expired"
        except ClientError as exc:
            return f"Connection failed: {exc}"
        except Exception as exc:  # a broken receiver must not stop delivery
            logger.info("telegram emulator: webhook reply unreadable: %r", exc)
            return None
        if reply is not None:
            method, params = reply
            await self._execute(method, params, via="webhook-reply")
        return None

    async def _read_webhook_reply(self, resp: ClientResponse) -> tuple[str, Params] | None:
        """A method call in the webhook's response body, which Telegram executes."""
        content_type = resp.content_type
        values: dict[str, Any] = {}
        uploads: dict[str, Upload] = {}
        if content_type == "multipart/form-data":
            reader = MultipartReader.from_response(resp)
            while True:
                part = await reader.next()
                if part is None:
                    break
                if isinstance(part, MultipartReader):
                    continue
                data = await part.read(decode=True)
                if part.name is None:
                    continue
                if part.filename:
                    uploads[part.name] = Upload(
                        part.filename, part.headers.get("Content-Type"), bytes(data)
                    )
                else:
                    values[part.name] = bytes(data).decode("utf-8", "replace")
        elif content_type == "application/json":
            body = await resp.read()
            if not body.strip():
                return None
            parsed = json.loads(body)
            if not isinstance(parsed, dict):
                return None
            values = parsed
        else:
            return None
        method = values.pop("method", None)
        if not isinstance(method, str) or not method:
            return None
        return method, Params(values, uploads)
