"""The typed async client of the dispatch platform: one method per endpoint 2.1–2.17.

One `httpx.AsyncClient` per process. The envelope is checked in one place
(`_call`); reads are retried with bounded backoff on connection errors,
timeouts and HTTP 5xx; writes are never retried. With an account and password
the client logs in at first use and again when a call answers 501, then repeats
that call once; concurrent 501s cause one login. The client knows nothing of
Telegram.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, TypeVar

import httpx
import pydantic_core
from pydantic import TypeAdapter

from bot.config import PlatformSettings
from bot.platform.coords import gcj02_to_wgs84
from bot.platform.errors import (
    PlatformAuthError,
    PlatformBadResponseError,
    PlatformError,
    PlatformTimeoutError,
    PlatformUnreachableError,
    error_for,
    known_codes,
)
from bot.platform.models import (
    CreatedGroup,
    Fix,
    Notice,
    Org,
    Page,
    PunchRecord,
    RecordingPage,
    RegisteredUser,
    SignInRecord,
    TrackPoint,
    TreeNode,
    UserInfo,
    parse,
    parse_ids,
    tracks_from_data,
)
from bot.platform.times import day_start_ms, to_ms

log = logging.getLogger(__name__)

_P = TypeVar("_P", Fix, TrackPoint)
_R = TypeVar("_R")

Observer = Callable[[str, float, str], None]
"""Called after every platform call with (endpoint, seconds, outcome)."""


class DeviceState(enum.StrEnum):
    """2.11 `state`: what a terminal is doing."""

    IDLE = "0"
    ASSIGNED = "1"
    REPAIR = "2"


@dataclass(frozen=True)
class GroupBinding:
    """One member of a 2.10 bind: priority 1–10 (lower is higher), may call, may speak."""

    user_id: int
    priority: int = 10
    call_permission: bool = True
    can_speak: bool = True

    def to_body(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "priority": self.priority,
            "callPermission": "Y" if self.call_permission else "N",
            "canSpeak": "Y" if self.can_speak else "N",
        }


_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
_KNOWN_CODES = frozenset(known_codes())
_HINT_URL = " (is PLATFORM_BASE_URL right?)"


def _http_hint(status: int) -> str:
    if status in (404, 405):
        return _HINT_URL
    if status >= 500:
        return " (the platform or a proxy in front of it failed)"
    return ""


_UNREAD = object()


def _from_utf8_json(resp: httpx.Response) -> Any:
    """A UTF-8 JSON body parsed straight from its bytes, or `_UNREAD` for anything else
    (another charset, not JSON, nested too deep), which `_envelope` then reads as text.
    Repeated strings (a talk group's id on each of its members) are shared: for the
    50,000-user directory this holds ~20 MB less than `json.loads` of the decoded text."""
    charset = (resp.charset_encoding or "utf-8").lower().replace("-", "").replace("_", "")
    if charset != "utf8":
        return _UNREAD
    try:
        return pydantic_core.from_json(resp.content, cache_strings="all")
    except ValueError:
        return _UNREAD


_TREE: TypeAdapter[TreeNode] = TypeAdapter(TreeNode)
_FIXES: TypeAdapter[list[Fix]] = TypeAdapter(list[Fix])
_FIX: TypeAdapter[Fix] = TypeAdapter(Fix)
_REC_PAGE: TypeAdapter[RecordingPage] = TypeAdapter(RecordingPage)
_REGISTERED: TypeAdapter[list[RegisteredUser]] = TypeAdapter(list[RegisteredUser])
_GROUP: TypeAdapter[CreatedGroup] = TypeAdapter(CreatedGroup)
_ORGS: TypeAdapter[list[Org]] = TypeAdapter(list[Org])
_ORG: TypeAdapter[Org] = TypeAdapter(Org)
_USER: TypeAdapter[UserInfo] = TypeAdapter(UserInfo)
_PUNCH: TypeAdapter[Page[PunchRecord]] = TypeAdapter(Page[PunchRecord])
_SIGNIN: TypeAdapter[Page[SignInRecord]] = TypeAdapter(Page[SignInRecord])


async def _before_sending(step: Awaitable[_R]) -> _R:
    """A step before the call itself (logging in): whatever fails there, the call never
    reached the platform — a notice may be tried again (`PlatformError.never_sent`)."""
    try:
        return await step
    except PlatformError as exc:
        exc.never_sent = True
        raise


FIXES_PER_CALL = 500
"""Users asked of 2.4 (last known positions) in one request: the API names no limit, and
the position poll, /near and /where on a talk group all go through `latest_fixes`."""


class PlatformClient:
    """Async client of the platform API. Build once, `await aclose()` at shutdown."""

    def __init__(
        self,
        settings: PlatformSettings,
        tz: tzinfo,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        read_attempts: int = 3,
        backoff_s: float = 0.25,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        observer: Observer | None = None,
    ) -> None:
        if not settings.base_url:
            raise ValueError("PLATFORM_BASE_URL is not set")
        self._s = settings
        self.tz = tz
        self._prefix = settings.api_prefix_url
        self._login_url = settings.host_url + settings.login_path
        self._header = settings.token_header
        self._timeout_s = settings.timeout_s
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_s),
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._read_attempts = max(1, read_attempts)
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._observer = observer
        self._token: str | None = (
            settings.token.get_secret_value() if settings.token is not None else None
        )
        # Incremented by each login attempt: a caller that saw 501 with generation g
        # logs in only if nobody has tried since (one login for many concurrent 501s);
        # if that attempt failed, its error is the caller's answer too.
        self._generation = 0
        self._login_error: PlatformError | None = None
        self._login_lock = asyncio.Lock()
        self.login_count = 0

    @property
    def can_login(self) -> bool:
        return self._s.account is not None and self._s.password is not None

    @property
    def http(self) -> httpx.AsyncClient:
        """The process's one httpx client (map tiles reuse it; the platform's token is set per
        request, never on the client); closed by `aclose`."""
        return self._http

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing --------------------------------------------------------------------

    async def login(self) -> None:
        """Log in with `PLATFORM_ACCOUNT`/`PLATFORM_PASSWORD`; the token goes in `data.token`."""
        if not self.can_login:
            raise PlatformAuthError(501, "no PLATFORM_ACCOUNT/PLATFORM_PASSWORD to log in with")
        assert self._s.account is not None and self._s.password is not None
        body = {"loginName": self._s.account, "password": self._s.password.get_secret_value()}
        data = await self._send("POST", self._login_url, "auth/open/login", body, None, False, None)
        token = data.get("token") if isinstance(data, dict) else None
        # It goes into an HTTP header: printable ASCII only.
        if not isinstance(token, str) or not token or not _HEADER_SAFE.fullmatch(token):
            raise PlatformBadResponseError(
                "login answered without a usable data.token", endpoint="auth/open/login"
            )
        self._token = token
        self.login_count += 1
        log.info("logged in to the platform as %s", self._s.account)

    async def _login_once(self, seen_generation: int) -> None:
        """Log in unless someone has tried since `seen_generation`; call under the lock."""
        if self._generation != seen_generation:
            if self._login_error is not None:
                raise self._login_error
            return
        self._generation += 1
        try:
            await self.login()
        except PlatformError as exc:
            self._login_error = exc
            raise
        self._login_error = None

    async def _ensure_token(self) -> int:
        if self._token is None and self.can_login:
            seen = self._generation
            async with self._login_lock:
                if self._token is None:
                    await self._login_once(seen)
        return self._generation

    async def _relogin(self, seen_generation: int) -> None:
        async with self._login_lock:
            await self._login_once(seen_generation)

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        write: bool = False,
    ) -> Any:
        """Call an endpoint under the prefix and return the envelope's `data`."""
        generation = await _before_sending(self._ensure_token())
        url = self._prefix + path
        try:
            return await self._send(method, url, path, body, params, not write, self._token)
        except PlatformAuthError as exc:
            if exc.code != 501 or not self.can_login:
                raise
        # The call was answered 501: refused unread, so a failed login leaves it unsent.
        await _before_sending(self._relogin(generation))
        return await self._send(method, url, path, body, params, not write, self._token)

    async def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        body: Any,
        params: dict[str, Any] | None,
        retry: bool,
        token: str | None,
    ) -> Any:
        headers = {}
        if token is not None:
            headers[self._header] = token
        content: bytes | None = None
        if body is not None:
            # Explicit bytes: 2.6 is a GET with a JSON body, which httpx sends as given.
            content = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        attempts = self._read_attempts if retry else 1
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            outcome = "ok"
            try:
                resp = await self._http.request(
                    method, url, content=content, params=params, headers=headers
                )
                if resp.status_code >= 500 and attempt < attempts:
                    outcome = f"http{resp.status_code}"
                    await self._backoff(attempt)
                    continue
                data = self._envelope(resp, endpoint)
                return data
            except httpx.TimeoutException as exc:
                outcome = "timeout"
                if attempt >= attempts:
                    raise PlatformTimeoutError(
                        self._timeout_s,
                        endpoint=endpoint,
                        never_sent=isinstance(exc, httpx.ConnectTimeout),
                    ) from None
            except httpx.TransportError as exc:
                outcome = "unreachable"
                if attempt >= attempts:
                    raise PlatformUnreachableError(
                        f"{type(exc).__name__}: {exc}".rstrip(": "),
                        endpoint=endpoint,
                        never_sent=isinstance(exc, httpx.ConnectError),
                    ) from None
            except httpx.RequestError as exc:
                # e.g. DecodingError: a body that does not match its Content-Encoding
                outcome = "bad_response"
                raise PlatformBadResponseError(
                    f"{type(exc).__name__}: {exc}".rstrip(": "), endpoint=endpoint
                ) from None
            except PlatformError as exc:
                outcome = f"status{exc.code}" if exc.code else "bad_response"
                raise
            finally:
                if self._observer is not None:
                    self._observer(endpoint, time.perf_counter() - started, outcome)
            await self._backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _backoff(self, attempt: int) -> None:
        await self._sleep(min(self._backoff_s * 2 ** (attempt - 1), 5.0))

    @staticmethod
    def _envelope(resp: httpx.Response, endpoint: str) -> Any:
        """The envelope's `data`, or the typed error its `status` stands for.

        Whatever the body (HTML, plain text, truncated JSON, JSON of another
        shape, an HTTP error page), the result is `data` or a `PlatformError`.
        """
        http = f"HTTP {resp.status_code}"
        if resp.reason_phrase:
            http += f" {resp.reason_phrase}"
        hint = _http_hint(resp.status_code)
        ctype = resp.headers.get("content-type", "")
        payload = _from_utf8_json(resp) if "html" not in ctype else _UNREAD
        if payload is _UNREAD:
            text = resp.text
            if "html" in ctype or text.lstrip()[:1] == "<":
                raise PlatformBadResponseError(
                    f"{http} with an HTML page instead of JSON{hint or _HINT_URL}",
                    endpoint=endpoint,
                    detail=text[:200],
                )
            try:
                payload = json.loads(text)
            except (ValueError, RecursionError):
                what = "a truncated or non-JSON body" if text.strip() else "an empty body"
                raise PlatformBadResponseError(
                    f"{http} with {what}{hint}", endpoint=endpoint, detail=text[:200]
                ) from None
        if not isinstance(payload, dict) or "status" not in payload:
            raise PlatformBadResponseError(
                f"{http}: JSON without the status envelope{hint}",
                endpoint=endpoint,
                detail=resp.text[:200],
            )
        raw_status = payload["status"]
        try:
            if isinstance(raw_status, bool):
                raise TypeError
            status = int(raw_status)
        except (TypeError, ValueError, OverflowError):
            raise PlatformBadResponseError(
                f"envelope status is not a number: {str(raw_status)[:20]!r}",
                endpoint=endpoint,
            ) from None
        message = payload.get("message") or payload.get("errorMessage") or ""
        # A message that is not text (an object, a list) is not worth echoing.
        message = str(message) if isinstance(message, str | int | float) else ""
        if not resp.is_success and status not in _KNOWN_CODES:
            # Not the platform's envelope but the web server's own error JSON
            # (Spring Boot: {"timestamp", "status": 404, "error", "path"}).
            server = f" — server said: {message}" if message else ""
            raise PlatformBadResponseError(
                f"{http}{hint}{server}", endpoint=endpoint, detail=resp.text[:200]
            )
        if status != 200:
            raise error_for(status, message, endpoint=endpoint)
        if not resp.is_success:
            raise PlatformBadResponseError(f"{http} with a success envelope", endpoint=endpoint)
        return payload.get("data")

    def _convert_fix(self, p: _P) -> _P:
        if self._s.coordinates != "gcj02":
            return p
        lat, lon = gcj02_to_wgs84(p.lat, p.lon)
        return p.model_copy(update={"lat": lat, "lon": lon})

    def _tz_hours(self) -> int | float:
        """The platform zone's UTC offset in hours: 8, not 8.0 (-3.5 stays a float)."""
        off = datetime.now(self.tz).utcoffset()
        hours = off.total_seconds() / 3600 if off else 0.0
        return int(hours) if hours.is_integer() else hours

    def _attendance_body(
        self, start: int | str, end: int | str, org_id: int | None, page: int, size: int
    ) -> dict[str, Any]:
        """2.16 and 2.17 take the same body; only the form of the bounds differs."""
        body: dict[str, Any] = {
            "startTime": start,
            "endTime": end,
            "timeZone": self._tz_hours(),
            "page": {"size": size, "current": page},
        }
        if org_id is not None:
            body["oid"] = org_id
        return body

    # -- 2.1–2.6: reads -------------------------------------------------------------

    async def org_tree(self) -> TreeNode:
        """2.1: the token's org with its sub-orgs and talk groups (with members)."""
        data = await self._call("GET", "/organization/getOrganizationTree2")
        if data is None:
            raise PlatformBadResponseError("empty org tree", endpoint="getOrganizationTree2")
        return parse(_TREE, data, self.tz, "getOrganizationTree2")

    async def in_group_uids(self, gid: int, uids: Sequence[int]) -> list[int]:
        """2.2: of `uids`, those online and currently in talk group `gid`."""
        data = await self._call(
            "POST", "/group/cgt/inThisGroupUids", {"gid": gid, "uids": list(uids)}
        )
        return parse_ids(data, "inThisGroupUids")

    async def online_uids(self, gid: int, uids: Sequence[int]) -> list[int]:
        """2.3: of `uids`, those online (maybe in another talk group)."""
        data = await self._call("POST", "/pttUser/isOnline", {"gid": gid, "uids": list(uids)})
        return parse_ids(data, "isOnline")

    async def latest_fixes(self, uids: Sequence[int]) -> list[Fix]:
        """2.4: the latest fix of each user that has one, in WGS-84; asked
        `FIXES_PER_CALL` users at a time, one request after another."""
        ids = list(uids)
        fixes: list[Fix] = []
        for start in range(0, len(ids), FIXES_PER_CALL):
            fixes += await self._latest_fixes(ids[start : start + FIXES_PER_CALL])
        return fixes

    async def _latest_fixes(self, uids: list[int]) -> list[Fix]:
        data = await self._call("POST", "/location/getLatestCoords", {"uids": uids})
        if not isinstance(data, list):
            fixes = parse(_FIXES, data or [], self.tz, "getLatestCoords")
        else:
            try:  # the whole list in one validation: fast when every fix is usable
                fixes = parse(_FIXES, data, self.tz, "getLatestCoords")
            except PlatformBadResponseError:
                # One terminal without coordinates must not hide everyone else's fix.
                fixes = []
                for item in data:
                    try:
                        fixes.append(parse(_FIX, item, self.tz, "getLatestCoords"))
                    except PlatformBadResponseError as exc:
                        log.warning("skipping an unusable fix: %s", exc)
        return [self._convert_fix(f) for f in fixes]

    async def track(
        self, uids: Sequence[int], start: datetime, end: datetime
    ) -> dict[int, list[TrackPoint]]:
        """2.5: track points per uid between `start` and `end`, sorted, in WGS-84."""
        body = {"uids": list(uids), "startTimestamp": to_ms(start), "endTimestamp": to_ms(end)}
        data = await self._call("POST", "/location/trackPlayback", body)
        tracks = tracks_from_data(data, self.tz, "trackPlayback")
        return {uid: [self._convert_fix(p) for p in pts] for uid, pts in tracks.items()}

    async def audio_records(
        self,
        *,
        user_id: int | None = None,
        account: str | None = None,
        day: date | None = None,
        page: int = 1,
        size: int = 10,
    ) -> RecordingPage:
        """2.6 (a GET with a JSON body): one page of voice recordings, newest first."""
        body: dict[str, Any] = {"page": {"size": size, "current": page}}
        if user_id is not None:
            body["userId"] = user_id
        if account is not None:
            body["account"] = account
        if day is not None:
            body["date"] = day_start_ms(day, self.tz)
        data = await self._call("GET", "/ptt/audioRecord", body)
        if data is None:
            return RecordingPage()
        return parse(_REC_PAGE, data, self.tz, "audioRecord")

    # -- 2.7–2.11: writes (never retried) --------------------------------------------

    async def register_users(
        self, accounts: Sequence[str], names: Sequence[str], password: str
    ) -> list[RegisteredUser]:
        """2.7: create users in the token's org; parallel arrays, one batch."""
        if len(accounts) != len(names):
            raise ValueError("accounts and names differ in length")
        body = {"account": list(accounts), "name": list(names), "password": password}
        data = await self._call("POST", "/user/register", body, write=True)
        return parse(_REGISTERED, data or [], self.tz, "register")

    async def delete_users(self, user_ids: Sequence[int]) -> None:
        """2.8: delete users."""
        await self._call("POST", "/user/delete", {"pttIds": list(user_ids)}, write=True)

    async def create_group(
        self, name: str, org_id: int, uids: Sequence[int] | None = None
    ) -> CreatedGroup:
        """2.9: create a talk group in an org, optionally with members."""
        body: dict[str, Any] = {"name": name, "oid": org_id}
        if uids:
            body["uids"] = list(uids)
        data = await self._call("POST", "/group/create", body, write=True)
        return parse(_GROUP, data, self.tz, "group/create")

    async def bind_group(self, gid: int, bindings: Sequence[GroupBinding]) -> None:
        """2.10: set members of a talk group with priority and permissions."""
        body = {"gid": gid, "users": [b.to_body() for b in bindings]}
        await self._call("POST", "/group/bind", body, write=True)

    async def bind_device(
        self, terminal_id: str, state: DeviceState, account: str | None = None
    ) -> None:
        """2.11: assign a terminal to an account, or set it idle / under repair."""
        body: dict[str, Any] = {"id": terminal_id, "state": state.value}
        if account is not None:
            body["account"] = account
        await self._call("POST", "/device/bind", body, write=True)

    # -- 2.12–2.14: directory reads ---------------------------------------------------

    async def org_user_tree(self) -> list[Org]:
        """2.12: every org (as a tree) with its users."""
        data = await self._call("POST", "/orgUser/tree")
        return parse(_ORGS, data or [], self.tz, "orgUser/tree")

    async def org_users(self, org_id: int) -> Org | None:
        """2.13: one org with its users (no sub-orgs); None when the platform says null."""
        data = await self._call("POST", "/org/user", params={"id": org_id})
        return None if data is None else parse(_ORG, data, self.tz, "org/user")

    async def user_info(self, user_id: int) -> UserInfo | None:
        """2.14: one user's details and talk groups; None for no such user (`data: null`)."""
        data = await self._call("POST", "/user/info", params={"id": user_id})
        return None if data is None else parse(_USER, data, self.tz, "user/info")

    # -- 2.15: notice ---------------------------------------------------------------

    async def send_notice(self, notice: Notice) -> None:
        """2.15: push a notice to the terminals of those orgs and users."""
        await self._call("POST", "/accept/event", notice.to_body(), write=True)

    # -- 2.16, 2.17: attendance ---------------------------------------------------------

    async def punch_records(
        self,
        start: datetime,
        end: datetime,
        *,
        org_id: int | None = None,
        page: int = 1,
        size: int = 100,
    ) -> Page[PunchRecord]:
        """2.16: one page of punch-card records between `start` and `end`."""
        body = self._attendance_body(to_ms(start), to_ms(end), org_id, page, size)
        data = await self._call("POST", "/punchCard/record", body)
        return parse(_PUNCH, data, self.tz, "punchCard/record")

    async def signin_records(
        self,
        start: date,
        end: date,
        *,
        org_id: int | None = None,
        page: int = 1,
        size: int = 100,
    ) -> Page[SignInRecord]:
        """2.17: one page of sign-in records for the days `start`..`end`."""
        body = self._attendance_body(start.isoformat(), end.isoformat(), org_id, page, size)
        data = await self._call("POST", "/signIn/record", body)
        return parse(_SIGNIN, data, self.tz, "signIn/record")

    async def all_pages(
        self, fetch: Callable[[int], Awaitable[Page[_R]]], *, max_pages: int = 1000
    ) -> list[_R]:
        """Every record of a paged read: follows `pages` when given, else stops at an empty page."""
        out: list[_R] = []
        for n in range(1, max_pages + 1):
            page = await fetch(n)
            out.extend(page.records)
            if not page.records or (page.pages is not None and n >= page.pages):
                break
        return out
