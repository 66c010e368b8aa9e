"""Transcripts (issue 17): the OpenAI-compatible client, the durable queue and its worker,
the fake server, retention and `pttbridge check` — over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from conftest import Clock
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.asr import AsrClient, AsrError, RetryPolicy, Transcriber
from bot.asr.client import (
    ANSWER_MAX,
    DEFAULT_MODEL,
    TEXT_MAX,
    clean_text,
    retry_after,
    shown_url,
)
from bot.cli import check
from bot.jobs.recordings import recording_key
from bot.platform.models import Recording
from bot.sandbox.asr import (
    EN_TEXT,
    UNRECOGNISED,
    ZH_TEXT,
    AsrOptions,
    FakeAsr,
    parse_options,
)
from bot.sandbox.platform import MEDIA_DIR, SandboxPlatform
from bot.telegram.media import MediaFetcher
from storage.db import Database, backup_database
from storage.files import FileRepo
from storage.retention import Retention
from storage.transcripts import TranscriptRepo

TOKEN = "SECRET-asr-token"
BEGIN = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOW = BEGIN + timedelta(minutes=5)


@pytest.fixture
async def fake_asr() -> AsyncIterator[Callable[..., Awaitable[FakeAsr]]]:
    """`await fake_asr(**AsrOptions fields)`: a started fake server, stopped at the end."""
    servers: list[FakeAsr] = []

    async def make(**kw: Any) -> FakeAsr:
        server = FakeAsr(AsrOptions(**kw))
        servers.append(server)
        await server.start()
        return server

    yield make
    for server in servers:
        await server.stop()


def client_of(server: FakeAsr, *, token: str | None = TOKEN, **kw: Any) -> AsrClient:
    return AsrClient(
        server.url,
        model=kw.get("model", "paraformer-zh"),
        token=None if token is None else SecretStr(token),
        language=kw.get("language", "zh"),
        timeout_s=10,
    )


def recording(sandbox: SandboxPlatform, name: str = "recording-zh.ogg", **kw: Any) -> Recording:
    fields = {
        "userId": 1001,
        "account": "zhangsan",
        "beginTime": int(kw.pop("begin", BEGIN).timestamp() * 1000),
        "durationMs": 4200,
        "groupName": "一组",
        "fileUrl": f"{sandbox.url}/media/{name}",
        **kw,
    }
    return Recording.model_validate(fields)


class Queue:
    """A transcriber over a database file, the sandbox's files and a fake server."""

    def __init__(
        self, db: Database, server: FakeAsr, clock: Clock, *, token: str | None = TOKEN
    ) -> None:
        self.repo = TranscriptRepo(db)
        self.media = MediaFetcher(5)
        self.client = client_of(server, token=token)
        self.heard: list[tuple[str, str]] = []
        self.transcriber = Transcriber(
            self.repo,
            self.client,
            self.media,
            clock=clock,
            concurrency=2,
            policy=RetryPolicy(attempts=3, first_delay_s=10, jitter=0.2, file_timeout_s=10),
            rand=lambda: 0.5,  # no jitter: delays exactly 10 s, 20 s, ...
        )
        self.transcriber.add_listener(self._heard)

    async def _heard(self, key: str, text: str) -> None:
        self.heard.append((key, text))

    async def __aenter__(self) -> Transcriber:
        await self.transcriber.start()
        return self.transcriber

    async def __aexit__(self, *exc: object) -> None:
        await self.transcriber.stop()
        await self.client.aclose()
        await self.media.aclose()


# -- the client and the fake server ----------------------------------------------------------


async def test_request_is_the_multipart_form_openai_expects(
    fake_asr: Callable[..., Awaitable[FakeAsr]],
) -> None:
    server = await fake_asr(token=TOKEN)
    client = client_of(server)
    data = (MEDIA_DIR / "recording-zh.ogg").read_bytes()
    try:
        assert await client.transcribe(data, "recording-zh.ogg", "audio/ogg") == ZH_TEXT
    finally:
        await client.aclose()
    [req] = server.requests
    assert req.status == 200
    assert req.content_type.startswith("multipart/form-data; boundary=")
    assert req.fields == {"model": "paraformer-zh", "language": "zh", "response_format": "json"}
    assert (req.filename, req.file_type, req.size) == ("recording-zh.ogg", "audio/ogg", len(data))
    assert req.authorization == f"Bearer {TOKEN}"


async def test_no_token_no_authorization_and_default_model(
    fake_asr: Callable[..., Awaitable[FakeAsr]],
) -> None:
    server = await fake_asr()
    client = AsrClient(server.url + "/", model=None, token=None, language=None, timeout_s=5)
    data = (MEDIA_DIR / "recording-en.mp3").read_bytes()
    try:
        assert await client.transcribe(data, "a.mp3", "audio/mpeg") == EN_TEXT
        assert await client.transcribe(b"not audio", "b.ogg", "audio/ogg") == UNRECOGNISED
    finally:
        await client.aclose()
    assert server.requests[0].authorization is None
    assert server.requests[0].fields == {"model": DEFAULT_MODEL, "response_format": "json"}


async def test_errors_say_whether_to_retry_and_never_hold_the_token(
    fake_asr: Callable[..., Awaitable[FakeAsr]],
) -> None:
    server = await fake_asr(token=TOKEN, fail_first=1)
    data = (MEDIA_DIR / "recording-zh.ogg").read_bytes()
    wrong = client_of(server, token="SECRET-wrong")
    right = client_of(server)
    try:
        with pytest.raises(AsrError) as refused:
            await wrong.transcribe(data, "a.ogg", "audio/ogg")
        assert (refused.value.status, refused.value.retryable) == (401, False)
        with pytest.raises(AsrError) as busy:
            await right.transcribe(data, "a.ogg", "audio/ogg")
        assert (busy.value.status, busy.value.retryable) == (503, True)
        await server.down()
        with pytest.raises(AsrError) as down:
            await right.transcribe(data, "a.ogg", "audio/ogg")
        assert down.value.retryable and down.value.status is None
        await server.up()
        assert await right.transcribe(data, "a.ogg", "audio/ogg") == ZH_TEXT
    finally:
        await wrong.aclose()
        await right.aclose()
    for err in (refused.value, busy.value, down.value):
        assert "SECRET" not in str(err)


async def test_fake_server_refuses_malformed_requests(
    fake_asr: Callable[..., Awaitable[FakeAsr]],
) -> None:
    server = await fake_asr()
    url = server.url + "/audio/transcriptions"
    async with httpx.AsyncClient() as http:
        no_model = await http.post(url, files={"file": ("a.ogg", b"x", "audio/ogg")})
        no_file = await http.post(url, data={"model": "m"}, files={"other": ("a", b"x")})
        not_form = await http.post(url, json={"model": "m"})
        as_text = await http.post(
            url,
            data={"model": "m", "response_format": "text"},
            files={"file": ("a.ogg", b"x", "audio/ogg")},
        )
    assert [no_model.status_code, no_file.status_code, not_form.status_code] == [400, 400, 400]
    assert "model" in no_model.json()["error"]["message"]
    assert (as_text.status_code, as_text.text) == (200, UNRECOGNISED)


def test_sandbox_asr_options_parse() -> None:
    assert parse_options("") == AsrOptions()
    assert parse_options("delay=1.5, fail=3,token=t") == AsrOptions(1.5, 3, "t")
    for bad, named in [("delay=x", "delay"), ("fail=-1", "fail"), ("slow", "slow"), ("x=1", "x")]:
        with pytest.raises(ValueError, match=named):
            parse_options(bad)


def test_shown_url_hides_credentials() -> None:
    assert shown_url("http://u:SECRET@asr:8000/v1") == "http://asr:8000/v1"


# -- the queue and its worker ------------------------------------------------------------------


async def test_wanted_twice_transcribed_once_and_listeners_told(
    db: Database,
    sandbox: SandboxPlatform,
    fake_asr: Callable[..., Awaitable[FakeAsr]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await fake_asr(token=TOKEN)
    q = Queue(db, server, Clock(NOW))
    zh, en = recording(sandbox), recording(sandbox, "recording-en.mp3", userId=1002)
    async with q as transcriber:
        assert transcriber.enabled
        for rec in (zh, zh, en):
            await transcriber.want(rec, recording_key(rec))
        await transcriber.idle()
        await transcriber.want(zh, recording_key(zh))  # a third chat, later
        await transcriber.idle()
        assert await transcriber.text_of(recording_key(zh)) == ZH_TEXT
        assert await transcriber.text_of(recording_key(en)) == EN_TEXT
        assert await transcriber.text_of("nobody:0:x.ogg") is None
    assert len(server.transcriptions) == 2
    assert sorted(q.heard) == sorted([(recording_key(zh), ZH_TEXT), (recording_key(en), EN_TEXT)])
    row = await q.repo.get(recording_key(zh))
    assert row is not None
    assert (row.state, row.attempts, row.user_id, row.account, row.seconds) == (
        "done",
        1,
        1001,
        "zhangsan",
        4.2,
    )
    assert (row.group_name, row.begin, row.done_at) == ("一组", BEGIN, NOW)
    # Transcripts and the token are never logged, at any level.
    assert ZH_TEXT not in caplog.text and EN_TEXT not in caplog.text
    assert TOKEN not in caplog.text
    assert recording_key(zh) in caplog.text  # what was logged names the recording


async def test_disabled_transcriber_does_nothing(db: Database, sandbox: SandboxPlatform) -> None:
    media = MediaFetcher(5)
    transcriber = Transcriber(TranscriptRepo(db), None, media, clock=Clock(NOW))
    await transcriber.start()
    rec = recording(sandbox)
    await transcriber.want(rec, recording_key(rec))
    assert not transcriber.enabled
    assert await TranscriptRepo(db).get(recording_key(rec)) is None
    await transcriber.stop()
    await media.aclose()


async def test_listener_failure_does_not_stop_the_worker(
    db: Database, sandbox: SandboxPlatform, fake_asr: Callable[..., Awaitable[FakeAsr]]
) -> None:
    server = await fake_asr(token=TOKEN)
    q = Queue(db, server, Clock(NOW))

    async def broken(key: str, text: str) -> None:
        raise RuntimeError("listener bug")

    q.transcriber.add_listener(broken)
    zh, en = recording(sandbox), recording(sandbox, "recording-en.ogg", userId=1002)
    async with q as transcriber:
        await transcriber.want(zh, recording_key(zh))
        await transcriber.idle()
        await transcriber.want(en, recording_key(en))
        await transcriber.idle()
    assert [text for _, text in q.heard] == [ZH_TEXT, EN_TEXT]


async def test_server_down_retried_with_backoff_and_done_when_back(
    db: Database, sandbox: SandboxPlatform, fake_asr: Callable[..., Awaitable[FakeAsr]]
) -> None:
    server = await fake_asr(token=TOKEN)
    await server.down()
    clock = Clock(NOW)
    q = Queue(db, server, clock)
    rec = recording(sandbox)
    key = recording_key(rec)
    async with q as transcriber:
        await transcriber.want(rec, key)
        await transcriber.idle()
        row = await q.repo.get(key)
        # Not reachable: the queue waits; the file is not charged an attempt.
        assert row is not None and row.state == "pending" and row.attempts == 0
        assert row.next_try_at == NOW + timedelta(seconds=10)
        assert row.error is not None and "not reachable" in row.error
        clock.advance(timedelta(seconds=9))  # not due yet: nothing is tried
        transcriber.wake()
        await transcriber.idle()
        assert (await q.repo.get(key)).next_try_at == row.next_try_at  # type: ignore[union-attr]
        server.fail_next(2)
        await server.up()
        clock.advance(timedelta(seconds=1))
        transcriber.wake()
        await transcriber.idle()
        row = await q.repo.get(key)
        assert row is not None and row.state == "pending" and row.attempts == 1
        assert row.error is not None and "503" in row.error
        assert row.next_try_at == clock.now + timedelta(seconds=10)
        clock.advance(timedelta(seconds=10))
        transcriber.wake()
        await transcriber.idle()
        row = await q.repo.get(key)
        assert row is not None and row.attempts == 2
        assert row.next_try_at == clock.now + timedelta(seconds=20)  # doubled
        clock.advance(timedelta(seconds=20))
        transcriber.wake()
        await transcriber.idle()
    row = await q.repo.get(key)
    assert row is not None and (row.state, row.attempts, row.text) == ("done", 3, ZH_TEXT)
    assert q.heard == [(key, ZH_TEXT)]


async def test_a_long_outage_loses_no_transcript_and_probes_with_one_file(
    db: Database, sandbox: SandboxPlatform, fake_asr: Callable[..., Awaitable[FakeAsr]]
) -> None:
    server = await fake_asr(token=TOKEN)
    await server.down()
    clock = Clock(NOW)
    q = Queue(db, server, clock)  # 3 attempts a file, 10 s doubling, 30 min at most
    recs = [recording(sandbox, begin=BEGIN + timedelta(seconds=i)) for i in range(5)]
    tries = 0
    transcribe = q.client.transcribe

    async def counted(*args: Any) -> str:
        nonlocal tries
        tries += 1
        return await transcribe(*args)

    q.client.transcribe = counted  # type: ignore[method-assign]
    async with q as transcriber:
        for rec in recs:
            await transcriber.want(rec, recording_key(rec))
        await transcriber.idle()
        # At most the two slots, before anything was known (one, when the first refusal
        # came before the second file was taken up).
        first = tries
        assert 1 <= first <= 2
        for _ in range(12):  # six hours and more of a server that is down
            clock.advance(timedelta(minutes=31))
            transcriber.wake()
            await transcriber.idle()
        assert tries == first + 12  # then one file a wait, not the whole queue
        rows = [await q.repo.get(recording_key(r)) for r in recs]
        assert {(r.state, r.attempts) for r in rows if r is not None} == {("pending", 0)}
        health = await transcriber.health()
        assert (health.pending, health.failed_24h, health.last_error) == (5, 0, "unreachable")
        await server.up()
        clock.advance(timedelta(minutes=31))
        transcriber.wake()
        await transcriber.idle()
    rows = [await q.repo.get(recording_key(r)) for r in recs]
    assert {(r.state, r.attempts) for r in rows if r is not None} == {("done", 1)}
    assert len(server.transcriptions) == 5


async def test_given_up_after_the_attempts(
    db: Database, sandbox: SandboxPlatform, fake_asr: Callable[..., Awaitable[FakeAsr]]
) -> None:
    server = await fake_asr(token=TOKEN, fail_first=10)
    clock = Clock(NOW)
    q = Queue(db, server, clock)
    rec = recording(sandbox)
    async with q as transcriber:
        await transcriber.want(rec, recording_key(rec))
        for _ in range(3):
            await transcriber.idle()
            clock.advance(timedelta(minutes=10))
            transcriber.wake()
        await transcriber.idle()
    row = await q.repo.get(recording_key(rec))
    assert row is not None and (row.state, row.attempts) == ("failed", 3)
    assert len(server.requests) == 3 and q.heard == []


async def test_client_error_fails_for_good_after_one_try(
    db: Database,
    sandbox: SandboxPlatform,
    fake_asr: Callable[..., Awaitable[FakeAsr]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await fake_asr(token=TOKEN)
    clock = Clock(NOW)
    q = Queue(db, server, clock, token="SECRET-wrong-token")
    rec, gone = recording(sandbox), recording(sandbox, "no-such-file.ogg")
    async with q as transcriber:
        await transcriber.want(rec, recording_key(rec))
        await transcriber.want(gone, recording_key(gone))
        await transcriber.idle()
        clock.advance(timedelta(days=1))
        transcriber.wake()
        await transcriber.idle()
    assert len(server.requests) == 1  # the missing file never reached it
    row = await q.repo.get(recording_key(rec))
    assert row is not None and (row.state, row.attempts) == ("failed", 1)
    assert row.error is not None and "401" in row.error and "SECRET" not in row.error
    missing = await q.repo.get(recording_key(gone))
    assert missing is not None and (missing.state, missing.attempts) == ("failed", 1)
    assert missing.error is not None and "404" in missing.error
    assert "SECRET" not in caplog.text


async def test_concurrency_is_bounded(
    db: Database, sandbox: SandboxPlatform, fake_asr: Callable[..., Awaitable[FakeAsr]]
) -> None:
    server = await fake_asr(token=TOKEN)
    q = Queue(db, server, Clock(NOW))
    most = 0
    inflight = 0
    fetch = q.media.open

    both = asyncio.Event()  # the first fetch waits for a second one: they overlap for sure

    @contextlib.asynccontextmanager
    async def counting(url: str, **kw: Any) -> AsyncIterator[Any]:
        nonlocal most, inflight
        inflight += 1
        most = max(most, inflight)
        if inflight == 2:
            both.set()
        try:
            await both.wait()
            async with fetch(url, **kw) as stream:
                yield stream
        finally:
            inflight -= 1

    q.media.open = counting  # type: ignore[method-assign]
    recs = [recording(sandbox, begin=BEGIN + timedelta(seconds=i)) for i in range(7)]
    async with q as transcriber:
        for rec in recs:
            await transcriber.want(rec, recording_key(rec))
        await transcriber.idle()
    assert len(server.transcriptions) == 7
    assert most == 2


# -- across restarts: two bridges in turn over one database ------------------------------------


async def test_pending_work_survives_a_restart_and_is_done_once(
    sandbox: SandboxPlatform,
    fake_asr: Callable[..., Awaitable[FakeAsr]],
    make_bot_stack: Callable[..., Awaitable[Any]],
) -> None:
    server = await fake_asr(token=TOKEN)
    await server.down()
    clock = Clock(NOW)
    overrides = {"asr_url": server.url, "asr_token": TOKEN, "asr_model": "sensevoice"}
    kw = {"sandbox": sandbox, "clock": clock, "bridge_overrides": overrides}
    rec = recording(sandbox)
    key = recording_key(rec)

    stack = await make_bot_stack(**kw)
    first = stack.bridge
    await first.transcriber.want(rec, key)
    await first.transcriber.idle()  # the server is down: tried once, pending
    assert await first.transcriber.text_of(key) is None

    await server.up()
    clock.advance(timedelta(minutes=5))
    await stack.restart_bridge()  # another Bridge over the same database
    assert stack.bridge is not first
    transcriber = stack.bridge.transcriber
    await transcriber.idle()  # taken up at start
    assert await transcriber.text_of(key) == ZH_TEXT
    await transcriber.want(rec, key)  # another chat wants it after the restart
    await transcriber.idle()
    assert len(server.transcriptions) == 1
    assert server.transcriptions[0].fields["model"] == "sensevoice"


# -- retention -----------------------------------------------------------------------------------


async def test_retention_deletes_old_transcripts_and_their_search_entries(db: Database) -> None:
    repo = TranscriptRepo(db)
    now = datetime(2026, 12, 3, tzinfo=UTC)
    for key, begin, text in [
        ("old", now - timedelta(days=91), "旧的火情报告"),
        ("new", now - timedelta(days=89), "新的火情报告"),
        ("old-pending", now - timedelta(days=95), None),
    ]:
        await repo.want(
            key,
            user_id=1,
            account=None,
            group_name=None,
            begin=begin,
            seconds=None,
            file_url="http://x/a.ogg",
            now=begin,
        )
        if text is not None:
            await repo.done(key, text, begin)

    async def found(words: str) -> list[str]:
        rows = await db.fetchall(
            "SELECT t.recording_key FROM transcripts_fts f JOIN transcripts t ON t.id = f.rowid "
            "WHERE transcripts_fts MATCH ? ORDER BY t.id",
            (f'"{words}"',),
        )
        return [r["recording_key"] for r in rows]

    assert await found("火情报告") == ["old", "new"]
    gone = await Retention(db, FileRepo(db)).prune(now)
    assert gone["transcripts"] == 2
    assert await found("火情报告") == ["new"]
    assert await found("旧的") == []
    assert await repo.texts(["old", "new", "old-pending"]) == {"new": "新的火情报告"}
    await db.execute("INSERT INTO transcripts_fts (transcripts_fts) VALUES ('integrity-check')")


# -- pttbridge check ----------------------------------------------------------------------------


async def test_check_line_ok_and_failing(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_asr: Callable[..., Awaitable[FakeAsr]],
) -> None:
    server = await fake_asr(token=TOKEN)
    calls: list[str] = []

    async def passing(*args: Any, **kw: Any) -> bool:
        calls.append("telegram")
        return True

    # Only the ASR line is under test here; the platform and Telegram lines have their own.
    monkeypatch.setattr("bot.cli._check_telegram", passing)
    sandbox = SandboxPlatform()
    await sandbox.start()
    try:
        env = {
            "TELEGRAM_BOT_TOKEN": "123:SECRET-bot",
            "PLATFORM_BASE_URL": sandbox.url,
            "PLATFORM_TOKEN": sandbox.token,
            "PLATFORM_CALLBACK_TOKEN": "SECRET-cb",
            "BRIDGE_ASR_URL": server.url,
            "BRIDGE_ASR_TOKEN": TOKEN,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert await check(None) == 0
        ok = [line for line in capsys.readouterr().out.splitlines() if "speech" in line]
        assert len(ok) == 1 and ok[0].startswith(f"ok   speech recognition at {server.url}")

        monkeypatch.setenv("BRIDGE_ASR_TOKEN", "SECRET-wrong")
        assert await check(None) == 1
        out = capsys.readouterr().out
        [bad] = [line for line in out.splitlines() if "speech" in line]
        assert bad.startswith("FAIL speech recognition") and "401" in bad
        assert bad.endswith("(BRIDGE_ASR_TOKEN)") and "SECRET" not in out

        await server.down()
        assert await check(None) == 1
        [down] = [line for line in capsys.readouterr().out.splitlines() if "speech" in line]
        assert down.startswith("FAIL") and down.endswith("(BRIDGE_ASR_URL)")
    finally:
        await sandbox.stop()
    assert calls == ["telegram"] * 3


async def test_transcripts_are_in_a_backup_and_searchable_there(db_path: Path) -> None:
    db = await Database.open(db_path)
    repo = TranscriptRepo(db)
    await repo.want(
        "k",
        user_id=1,
        account=None,
        group_name=None,
        begin=BEGIN,
        seconds=4.2,
        file_url="http://x/a.ogg",
        now=NOW,
    )
    await repo.done("k", ZH_TEXT, NOW)
    copy = db_path.parent / "backup.db"
    await asyncio.to_thread(backup_database, str(db_path), str(copy))
    await db.close()
    restored = await Database.open(copy)
    try:
        rows = await restored.fetchall(
            "SELECT rowid FROM transcripts_fts WHERE transcripts_fts MATCH ?", ('"火势已经"',)
        )
        assert len(rows) == 1
        assert await TranscriptRepo(restored).texts(["k"]) == {"k": ZH_TEXT}
    finally:
        await restored.close()


async def test_a_file_that_takes_too_long_is_tried_again_later(
    db: Database, sandbox: SandboxPlatform, fake_asr: Callable[..., Awaitable[FakeAsr]]
) -> None:
    server = await fake_asr(token=TOKEN, delay_s=600)  # answers only when stopped
    q = Queue(db, server, Clock(NOW))
    q.transcriber.policy = RetryPolicy(attempts=3, first_delay_s=10, file_timeout_s=0.2)
    rec = recording(sandbox)
    async with q as transcriber:
        await transcriber.want(rec, recording_key(rec))
        await transcriber.idle()
    row = await q.repo.get(recording_key(rec))
    assert row is not None and (row.state, row.attempts) == ("pending", 1)
    assert row.error == "timed out after 0.2 s"
    assert q.heard == []


@given(st.text(max_size=40))
def test_sandbox_asr_options_never_fail_otherwise(spec: str) -> None:
    try:
        options = parse_options(spec)
    except ValueError as exc:
        assert str(exc)
    else:
        assert options.delay_s >= 0 and options.fail_first >= 0


# -- attacks: a server, a platform and timing that misbehave ---------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Rogue:
    """A server on 127.0.0.1 that answers as told: `asr` (the transcription route, after
    reading the upload) and `files` (audio by name, as the platform's fileUrl serves it).
    It counts uploads and how many were in work at once."""

    def __init__(self) -> None:
        self.asr: Handler = self.ok
        self.files: dict[str, Handler] = {}
        self.uploads = 0
        self.inflight = 0
        self.most = 0
        self.url = ""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)

    async def start(self) -> Rogue:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()

    def file_url(self, name: str) -> str:
        return f"{self.url}/files/{name}"

    @staticmethod
    async def ok(request: web.Request) -> web.StreamResponse:
        return web.json_response({"text": ZH_TEXT})

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        self.uploads += 1
        self.inflight += 1
        self.most = max(self.most, self.inflight)
        try:
            await request.read()
            return await self.asr(request)
        finally:
            self.inflight -= 1

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name in self.files:
            return await self.files[name](request)
        return web.Response(body=ZH_AUDIO, content_type="audio/ogg")


ZH_AUDIO = (MEDIA_DIR / "recording-zh.ogg").read_bytes()


@pytest.fixture
async def rogue() -> AsyncIterator[Rogue]:
    server = await Rogue().start()
    yield server
    await server.stop()


def rogue_client(rogue: Rogue) -> AsrClient:
    return AsrClient(
        rogue.url + "/v1", model="m", token=SecretStr(TOKEN), language="zh", timeout_s=10
    )


def rogue_queue(
    db: Database, rogue: Rogue, clock: Clock, *, concurrency: int = 2, **policy: Any
) -> tuple[Transcriber, TranscriptRepo, list[tuple[str, str]], Callable[[], Awaitable[None]]]:
    """A transcriber against `rogue`; returns it, its repo, what listeners heard, and a
    closer."""
    repo, media, client = TranscriptRepo(db), MediaFetcher(5), rogue_client(rogue)
    heard: list[tuple[str, str]] = []
    transcriber = Transcriber(
        repo,
        client,
        media,
        clock=clock,
        concurrency=concurrency,
        policy=RetryPolicy(**{"attempts": 3, "first_delay_s": 10, **policy}),
        rand=lambda: 0.5,
    )

    async def listen(key: str, text: str) -> None:
        heard.append((key, text))

    transcriber.add_listener(listen)

    async def close() -> None:
        await transcriber.stop()
        await client.aclose()
        await media.aclose()

    return transcriber, repo, heard, close


async def want_file(transcriber: Transcriber, url: str, key: str, i: int = 0) -> None:
    rec = Recording.model_validate(
        {
            "userId": 1001,
            "beginTime": int((BEGIN + timedelta(seconds=i)).timestamp() * 1000),
            "fileUrl": url,
        }
    )
    await transcriber.want(rec, key)


async def one_answer(rogue: Rogue, handler: Handler) -> str:
    """What the client makes of one answer of `handler` (its text; raises AsrError)."""
    rogue.asr = handler
    client = rogue_client(rogue)
    try:
        return await client.transcribe(ZH_AUDIO, "a.ogg", "audio/ogg")
    finally:
        await client.aclose()


def answering(body: bytes | str, status: int = 200, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        data = body.encode() if isinstance(body, str) else body
        return web.Response(
            body=data, status=status, headers=headers, content_type="application/json"
        )

    return handler


async def test_a_megabyte_of_text_is_kept_cut_to_two_messages(rogue: Rogue) -> None:
    words = "火势已经控制 " * (1024 * 1024 // 19)
    text = await one_answer(rogue, answering(json.dumps({"text": words}, ensure_ascii=False)))
    assert len(text) <= TEXT_MAX and text.endswith("…")
    assert text.startswith("火势已经控制 火势")


async def test_an_answer_over_the_limit_is_refused_for_good(rogue: Rogue) -> None:
    huge = b'{"text": "' + b"a" * (ANSWER_MAX + 10) + b'"}'
    with pytest.raises(AsrError) as err:
        await one_answer(rogue, answering(huge))
    assert (err.value.retryable, err.value.kind) == (False, "answer too big")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("<html><body>502 Bad Gateway</body></html>", "not JSON"),
        ("", "not JSON"),
        ("{}", "no text"),
        ('{"text": null}', "no text"),
        ('{"text": 42}', "no text"),
        ('["text"]', "no text"),
        ('{"error": {"message": "x"}}', "no text"),
    ],
)
async def test_an_answer_without_a_text_is_an_error_tried_again(
    rogue: Rogue, body: str, kind: str
) -> None:
    with pytest.raises(AsrError) as err:
        await one_answer(rogue, answering(body))
    assert (err.value.retryable, err.value.kind) == (True, kind)


async def test_control_characters_overrides_and_lone_surrogates_are_dropped(rogue: Rogue) -> None:
    raw = "\u202e收到\u0000请\x1b[31m回答\u2066<b>x</b>\ud800\r\nok\x85\ufffe\u200d👨\u200d🚒"
    body = json.dumps({"text": raw})  # \ud800 as JSON writes it: an escape
    text = await one_answer(rogue, answering(body))
    assert text == "收到请[31m回答<b>x</b>\nok\u200d👨\u200d🚒"  # HTML is escaped when shown


async def test_a_lone_surrogate_is_stored_and_never_loops(db: Database, rogue: Rogue) -> None:
    rogue.asr = answering('{"text": "\\ud83d收到"}')
    transcriber, _repo, heard, close = rogue_queue(db, rogue, Clock(NOW))
    try:
        await transcriber.start()
        await want_file(transcriber, rogue.file_url("a.ogg"), "k")
        await transcriber.idle()
    finally:
        await close()
    assert heard == [("k", "收到")] and rogue.uploads == 1


async def test_429_retry_after_is_obeyed_by_the_whole_queue(db: Database, rogue: Rogue) -> None:
    rogue.asr = answering('{"error": {"message": "slow down"}}', 429, **{"Retry-After": "120"})
    clock = Clock(NOW)
    transcriber, repo, heard, close = rogue_queue(db, rogue, clock, concurrency=1)
    try:
        await transcriber.start()
        for i in range(3):
            await want_file(transcriber, rogue.file_url(f"{i}.ogg"), f"k{i}", i)
        await transcriber.idle()
        assert rogue.uploads == 1  # the others wait for the pause too
        row = await repo.get("k0")
        assert row is not None and row.next_try_at == NOW + timedelta(seconds=120)
        assert row.attempts == 0  # the server's limit, not the file's fault: not charged
        assert row.error is not None and "429" in row.error
        rogue.asr = Rogue.ok
        clock.advance(timedelta(seconds=119))
        transcriber.wake()
        await transcriber.idle()
        assert rogue.uploads == 1
        clock.advance(timedelta(seconds=1))
        transcriber.wake()
        await transcriber.idle()
    finally:
        await close()
    assert sorted(k for k, _ in heard) == ["k0", "k1", "k2"] and rogue.uploads == 4


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert retry_after("30") == 30
    assert retry_after("Tue, 01 Dec 2026 08:01:00 GMT", now) == 60
    assert retry_after("999999") == 3600  # obeyed up to an hour
    assert retry_after("Tue, 01 Dec 2026 07:00:00 GMT", now) == 0
    for bad in (None, "", "soon", "-5", "1e9"):
        assert retry_after(bad) is None


async def test_a_redirect_is_not_followed_and_the_token_stays_home(rogue: Rogue) -> None:
    elsewhere = await Rogue().start()
    try:
        target = elsewhere.url + "/v1/audio/transcriptions"
        with pytest.raises(AsrError) as err:
            await one_answer(rogue, answering("", 307, Location=target))
        assert (err.value.status, err.value.retryable) == (307, False)
        assert elsewhere.uploads == 0
    finally:
        await elsewhere.stop()


async def test_a_connection_reset_mid_body_is_tried_again(rogue: Rogue) -> None:
    async def reset(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b'{"text": "\xe6\xb6\x88\xe9\x98')
        assert request.transport is not None
        request.transport.close()
        return resp

    with pytest.raises(AsrError) as err:
        await one_answer(rogue, reset)
    assert (err.value.retryable, err.value.kind) == (True, "network")


async def test_stalled_files_time_out_and_free_their_slots_for_the_others(
    db: Database, rogue: Rogue
) -> None:
    never = asyncio.Event()

    async def stall_some(request: web.Request) -> web.StreamResponse:
        if rogue.uploads <= 2:
            await never.wait()  # the first two uploads: no answer, ever
        return web.json_response({"text": ZH_TEXT})

    rogue.asr = stall_some
    transcriber, repo, heard, close = rogue_queue(db, rogue, Clock(NOW), file_timeout_s=0.3)
    try:
        await transcriber.start()
        for i in range(5):
            await want_file(transcriber, rogue.file_url(f"{i}.ogg"), f"k{i}", i)
        await transcriber.idle()
    finally:
        await close()
    rows = [await repo.get(f"k{i}") for i in range(5)]
    assert [r.state for r in rows if r is not None] == ["pending"] * 2 + ["done"] * 3
    assert {r.error for r in rows[:2] if r is not None} == {"timed out after 0.3 s"}
    assert len(heard) == 3


@pytest.mark.parametrize(
    ("serve", "kind"),
    [
        ("declared", "audio too big"),
        ("streamed", "audio too big"),
        ("html", "audio not audio"),
        ("missing", "audio HTTP 404"),
    ],
)
async def test_audio_that_cannot_be_transcribed_never_reaches_the_server(
    db: Database, rogue: Rogue, serve: str, kind: str
) -> None:
    async def declared(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "audio/ogg"})
        resp.content_length = 100 * 1024 * 1024  # 100 MB said, never sent
        await resp.prepare(request)
        return resp

    async def streamed(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "audio/ogg"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"\0" * 64 * 1024)  # 4 MiB in all, no length said
        await resp.write_eof()
        return resp

    async def html(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>login</html>", content_type="text/html")

    async def missing(request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound()

    rogue.files["x.ogg"] = {
        "declared": declared,
        "streamed": streamed,
        "html": html,
        "missing": missing,
    }[serve]
    clock = Clock(NOW)
    transcriber, repo, heard, close = rogue_queue(db, rogue, clock)
    transcriber.max_bytes = 1024 * 1024
    try:
        await transcriber.start()
        await want_file(transcriber, rogue.file_url("x.ogg"), "k")
        await transcriber.idle()
        health = await transcriber.health()
    finally:
        await close()
    row = await repo.get("k")
    assert row is not None and (row.state, row.attempts) == ("failed", 1)
    assert rogue.uploads == 0 and heard == []
    assert (health.last_error, health.failed_24h, health.pending) == (kind, 1, 0)


async def test_retention_deleting_a_row_in_work_keeps_nothing_and_tells_nobody(
    db: Database, rogue: Rogue
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        entered.set()
        await release.wait()
        return web.json_response({"text": ZH_TEXT})

    rogue.asr = held
    transcriber, repo, heard, close = rogue_queue(db, rogue, Clock(NOW))
    try:
        await transcriber.start()
        await want_file(transcriber, rogue.file_url("a.ogg"), "k")
        await entered.wait()
        gone = await Retention(db, FileRepo(db)).prune(BEGIN + timedelta(days=91))
        assert gone["transcripts"] == 1
        release.set()
        await transcriber.idle()
    finally:
        await close()
    assert await repo.get("k") is None and heard == []
    rows = await db.fetchall(
        "SELECT rowid FROM transcripts_fts WHERE transcripts_fts MATCH ?", ('"火势"',)
    )
    assert rows == []


async def test_a_restart_with_a_thousand_pending_respects_concurrency(
    db: Database, rogue: Rogue
) -> None:
    repo = TranscriptRepo(db)
    async with db.transaction():
        for i in range(1000):
            await repo.want(
                f"k{i}",
                user_id=1001,
                account=None,
                group_name=None,
                begin=BEGIN,
                seconds=None,
                file_url=rogue.file_url(f"{i}.ogg"),
                now=NOW,
            )
    transcriber, repo, heard, close = rogue_queue(db, rogue, Clock(NOW), concurrency=2)
    try:
        await transcriber.start()  # as after a restart: all of them due at once
        await transcriber.idle()
    finally:
        await close()
    assert rogue.uploads == 1000 and rogue.most == 2
    assert len(heard) == 1000


@pytest.mark.parametrize("headers", [{"Retry-After": "0"}, {}, {"Retry-After": "soon"}])
async def test_429_with_no_usable_wait_backs_off_instead_of_looping(
    db: Database, rogue: Rogue, headers: dict[str, str]
) -> None:
    rogue.asr = answering('{"error": {"message": "busy"}}', 429, **headers)
    transcriber, repo, heard, close = rogue_queue(db, rogue, Clock(NOW))
    try:
        await transcriber.start()
        await want_file(transcriber, rogue.file_url("a.ogg"), "k")
        await transcriber.idle()
    finally:
        await close()
    row = await repo.get("k")
    assert row is not None and (row.state, row.attempts) == ("pending", 0)
    assert row.next_try_at == NOW + timedelta(seconds=10) and rogue.uploads == 1
    assert heard == []


@given(st.text(alphabet=st.characters(codec=None), max_size=200) | st.text(max_size=9000))
def test_clean_text_is_safe_short_and_stable(raw: str) -> None:
    text = clean_text(raw)
    assert len(text) <= TEXT_MAX and clean_text(text) == text
    assert not any(
        (ord(c) < 32 and c not in "\n\t")
        or 0x7F <= ord(c) <= 0x9F
        or 0x202A <= ord(c) <= 0x202E
        or 0x2066 <= ord(c) <= 0x2069
        or 0xD800 <= ord(c) <= 0xDFFF
        for c in text
    )
    text.encode("utf-8")  # storable and sendable: no lone surrogate


@given(st.text(max_size=40))
def test_retry_after_never_fails_and_stays_within_an_hour(value: str) -> None:
    got = retry_after(value)
    assert got is None or 0 <= got <= 3600


async def test_audio_broken_off_mid_download_is_tried_again_and_never_uploaded(
    db: Database, rogue: Rogue
) -> None:
    async def reset(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "audio/ogg"})
        resp.content_length = len(ZH_AUDIO)
        await resp.prepare(request)
        await resp.write(ZH_AUDIO[:100])
        assert request.transport is not None
        request.transport.close()
        return resp

    rogue.files["x.ogg"] = reset
    transcriber, repo, heard, close = rogue_queue(db, rogue, Clock(NOW))
    try:
        await transcriber.start()
        await want_file(transcriber, rogue.file_url("x.ogg"), "k")
        await transcriber.idle()
        health = await transcriber.health()
    finally:
        await close()
    row = await repo.get("k")
    assert row is not None and (row.state, row.attempts) == ("pending", 1)
    assert row.next_try_at == NOW + timedelta(seconds=10)
    assert rogue.uploads == 0 and heard == [] and health.last_error == "audio unreachable"


async def test_a_server_that_hangs_gets_one_file_at_a_time_until_one_succeeds(
    db: Database, rogue: Rogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        await never.wait()  # set only at the end, long after the bridge gave up
        return web.json_response({"text": "too late"})

    seen: list[int] = []  # requests in work as each began, as the bridge sees them
    inflight = 0
    transcribe = AsrClient.transcribe

    async def counted(self: AsrClient, *args: Any) -> str:
        nonlocal inflight
        inflight += 1
        seen.append(inflight)
        try:
            return await transcribe(self, *args)
        finally:
            inflight -= 1

    monkeypatch.setattr(AsrClient, "transcribe", counted)
    rogue.asr = hang
    clock = Clock(NOW)
    transcriber, _repo, heard, close = rogue_queue(db, rogue, clock, file_timeout_s=0.2)
    try:
        await transcriber.start()
        for i in range(4):
            await want_file(transcriber, rogue.file_url(f"{i}.ogg"), f"k{i}", i)
        await transcriber.idle()
        assert len(seen) == 4 and seen[2:] == [1, 1]  # after the first timeouts: one
        rogue.asr = Rogue.ok
        clock.advance(timedelta(seconds=10))
        transcriber.wake()
        await transcriber.idle()
    finally:
        never.set()
        await close()
    assert seen[4] == 1 and max(seen) <= 2  # one probe, then the slots again
    assert sorted(k for k, _ in heard) == ["k0", "k1", "k2", "k3"]
