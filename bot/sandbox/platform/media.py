"""The recordings served as static audio, and a tiny PNG for sign-in and report pictures."""

from __future__ import annotations

import binascii
import struct
import zlib
from pathlib import Path

from bot.sandbox.data import (
    md5_hex,
)

MEDIA_DIR = Path(__file__).parent.parent / "media"
MEDIA_TYPES = {".ogg": "audio/ogg", ".mp3": "audio/mpeg"}


# ---- a tiny PNG for sign-in and report pictures (no imaging library needed) ----------------


def tiny_png(name: str, width: int = 96, height: int = 72) -> bytes:
    digest = md5_hex(name)
    r, g, b = (int(digest[i : i + 2], 16) for i in (0, 2, 4))
    rows = []
    for y in range(height):
        stripe = (y // 8) % 2 == 0
        pixel = bytes((r, g, b)) if stripe else bytes((255 - r, 255 - g, 255 - b))
        rows.append(b"\x00" + pixel * width)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = binascii.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
