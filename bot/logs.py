"""Logging set-up: text or JSON lines, a filter that masks every secret, and one that
counts an error repeated at high rate instead of writing it once per occurrence."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from aiohttp.http_exceptions import HttpProcessingError


class SecretFilter(logging.Filter):
    """Replaces any configured secret in a record's final message with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        msg = record.getMessage()
        text = msg
        for s in self._secrets:
            text = text.replace(s, "***")
        if record.exc_info and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            exc_text = record.exc_text
            for s in self._secrets:
                exc_text = exc_text.replace(s, "***")
            record.exc_text = exc_text
        if text != msg:
            record.msg, record.args = text, None
        return True


class BadRequestFilter(logging.Filter):
    """aiohttp logs a malformed request (a header over its limit, a broken request line) as an
    error with a traceback whose message quotes the request's first bytes, an Authorization
    header's value included: one warning line naming the peer and what was wrong instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "malformed HTTP request from %s refused (%s, HTTP %s)"
            record.args = (peer, type(exc).__name__, exc.code)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


@dataclass
class _Repeats:
    started: float
    shown: int = 1
    hidden: int = 0
    last: logging.LogRecord | None = None


class RepeatFilter(logging.Filter):
    """Warnings and errors from one place (logger, level, source line) pass `burst` times
    per `window_s`; the rest are counted, and one line says how many: "… — repeated 532
    more times in the last 10 s". A flood of bad requests or a resource running out then
    costs a few lines, not one (with its traceback) per occurrence. The count is written
    when the window has passed and another warning or error comes, or at `flush()`.
    """

    SUMMARY = "repeat_summary"

    def __init__(
        self, window_s: float = 10.0, burst: int = 5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self.burst = burst
        self._clock = clock
        self._kinds: dict[tuple[str, int, str, int], _Repeats] = {}
        self._lock = threading.Lock()
        self._sweep_at = 0.0
        self.target: logging.Handler | None = None
        """Where counts are written (the handler this filter is on); else the record's logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or getattr(record, self.SUMMARY, False):
            return True
        key = (record.name, record.levelno, record.pathname, record.lineno)
        with self._lock:
            now = self._clock()
            due = self._expired(now) if now >= self._sweep_at else []
            seen = self._kinds.get(key)
            if seen is None or now - seen.started >= self.window_s:
                if seen is not None and seen.hidden:
                    due.append(seen)
                self._kinds[key] = _Repeats(now)
                passes = True
            elif seen.shown < self.burst:
                seen.shown += 1
                passes = True
            else:
                seen.hidden += 1
                seen.last = record
                passes = False
        self._write(due)
        return passes

    def flush(self) -> None:
        """Write every count not yet written."""
        with self._lock:
            due = [r for r in self._kinds.values() if r.hidden]
            self._kinds.clear()
        self._write(due)

    def _expired(self, now: float) -> list[_Repeats]:
        self._sweep_at = now + 1.0
        due = []
        for key, seen in list(self._kinds.items()):
            if now - seen.started >= self.window_s:
                del self._kinds[key]
                if seen.hidden:
                    due.append(seen)
        return due

    def _write(self, due: list[_Repeats]) -> None:
        for seen in due:
            last = seen.last
            assert last is not None
            summary = logging.LogRecord(
                last.name,
                last.levelno,
                last.pathname,
                last.lineno,
                "%s — repeated %d more times in the last %g s",
                (last.getMessage(), seen.hidden, self.window_s),
                None,
            )
            setattr(summary, self.SUMMARY, True)
            if self.target is not None:
                self.target.handle(summary)
            else:
                logging.getLogger(last.name).handle(summary)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            out["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(out, ensure_ascii=False)


def setup_logging(
    fmt: str, secrets: Iterable[str], level: int = logging.INFO, stream: TextIO | None = None
) -> RepeatFilter:
    """Configure the root logger once for the process (to stderr unless `stream`)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    # Repeats first: a record it holds back costs nothing more (no traceback formatted).
    repeats = RepeatFilter()
    repeats.target = handler
    handler.addFilter(repeats)
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep that at WARNING.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    server = logging.getLogger("aiohttp.server")
    for f in list(server.filters):
        if isinstance(f, BadRequestFilter):
            server.removeFilter(f)
    server.addFilter(BadRequestFilter())
    return repeats


def secrets_of(settings: object) -> list[str]:
    """Every secret value in the settings, for the filter."""
    from pydantic import SecretStr

    out: list[str] = []
    for section in ("telegram", "platform", "bridge"):
        obj = getattr(settings, section, None)
        if obj is None:
            continue
        for value in vars(obj).values():
            if isinstance(value, SecretStr):
                out.append(value.get_secret_value())
    return out
