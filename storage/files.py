"""Files the bridge serves from its own listener at an unguessable URL (broadcast attachments).

A file lives until its draft is cancelled (or its attachments replaced), or `FILES_KEPT`
after the notice carrying it was sent — after its upload, for a draft never sent.
It is always served as a download whose type comes from a short safe list, chosen by
what its bytes are (and, for text and office files, its name agreeing), never by the
uploader's name alone.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import quote

from storage.db import Database, to_db_time

__all__ = ["FILES_KEPT", "FileRepo", "attachment_headers", "safe_content_type"]

FILES_KEPT = timedelta(days=7)
"""How long a served file is kept after its notice was sent (or after upload, if never)."""

OCTET = "application/octet-stream"
_ZIP_OFFICE = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_TEXT = ("txt", "csv", "log")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/;:*?<>|]')


def _mp3_frame(head: bytes) -> bool:
    """An MPEG layer III frame header: sync bits, a version and a bitrate and rate that exist."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def _sniff(data: bytes) -> str | None:
    """The type the bytes themselves declare, from those served as they are."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3") or _mp3_frame(head):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return None


def safe_content_type(name: str, data: bytes) -> str:
    """A content type from a short safe list (no HTML, SVG or script), else octet-stream."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    sniffed = _sniff(data)
    if sniffed == "application/zip":
        return _ZIP_OFFICE.get(ext, sniffed)
    if sniffed is not None:
        return sniffed
    if ext in _TEXT and b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return OCTET
        return "text/plain; charset=utf-8"
    return OCTET


def attachment_headers(name: str, data: bytes) -> dict[str, str]:
    """Headers that make any client download the file under a harmless name."""
    clean = _UNSAFE_NAME.sub("_", name).strip(" .") or "file"
    clean = clean[:150]
    ascii_name = "".join(c if " " <= c < "\x7f" else "_" for c in clean)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"
    return {
        "Content-Type": safe_content_type(name, data),
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }


class FileRepo:
    """Served files by token (the secret part of their URL)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, name: str, mime: str, data: bytes, now: datetime) -> str:
        """Store a file; returns its token (the secret part of its URL)."""
        token = secrets.token_urlsafe(24)
        await self._db.execute(
            "INSERT INTO served_files (token, name, mime, data, created_at) VALUES (?, ?, ?, ?, ?)",
            (token, name, mime, data, to_db_time(now)),
        )
        return token

    async def get(self, token: str) -> tuple[str, str, bytes] | None:
        """(name, mime, data) of a stored file, or None."""
        row = await self._db.fetchone(
            "SELECT name, mime, data FROM served_files WHERE token = ?", (token,)
        )
        return (row["name"], row["mime"], bytes(row["data"])) if row else None

    async def delete(self, tokens: Iterable[str]) -> int:
        """Delete these files at once (their draft was cancelled); how many were there."""
        rows = [(t,) for t in tokens]
        if not rows:
            return 0
        return await self._db.executemany("DELETE FROM served_files WHERE token = ?", rows)

    async def mark_sent(self, tokens: Iterable[str], now: datetime) -> None:
        """The notice carrying these files was sent: they are kept `FILES_KEPT` from now."""
        rows = [(to_db_time(now), t) for t in tokens]
        if rows:
            await self._db.executemany(
                "UPDATE served_files SET sent_at = ? WHERE token = ? AND sent_at IS NULL", rows
            )

    async def expire(self, before: datetime) -> int:
        """Delete files sent before `before`, and files of drafts never sent uploaded before
        it; how many."""
        return await self._db.execute(
            "DELETE FROM served_files WHERE coalesce(sent_at, created_at) < ?",
            (to_db_time(before),),
        )
