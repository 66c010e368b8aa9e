"""What an upload is (sniffed from its bytes: type, image size, Ogg duration); photo sizes."""

from __future__ import annotations

from bot.sandbox.telegram.constants import JSON
from bot.sandbox.telegram.model import EmuFile

# --------------------------------------------------------------------------- media sniffing


def sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM"):
        return "image/bmp"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if data[4:8] == b"ftyp":
        return "video/mp4" if b"M4A" not in data[8:12] else "audio/mp4"
    if data.startswith(b"%PDF"):
        return "application/pdf"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG image, from its header."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                pos += 1 if marker == 0xFF else 2
                continue
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD):
                height = int.from_bytes(data[pos + 5 : pos + 7], "big")
                width = int.from_bytes(data[pos + 7 : pos + 9], "big")
                return width, height
            pos += 2 + length
    return None


def ogg_duration(data: bytes) -> int | None:
    """Seconds of an Ogg Opus or Vorbis stream, from the last page's granule position."""
    last = data.rfind(b"OggS")
    if last < 0 or last + 14 > len(data):
        return None
    granule = int.from_bytes(data[last + 6 : last + 14], "little")
    head = data.find(b"OpusHead")
    if head >= 0 and head + 12 <= len(data):
        pre_skip = int.from_bytes(data[head + 10 : head + 12], "little")
        return max(0, round((granule - pre_skip) / 48000))
    vorbis = data.find(b"\x01vorbis")
    if vorbis >= 0 and vorbis + 16 <= len(data):
        rate = int.from_bytes(data[vorbis + 12 : vorbis + 16], "little")
        if rate:
            return max(0, round(granule / rate))
    return None


def _photo_sizes(stored: EmuFile) -> list[JSON]:
    width = stored.width or 800
    height = stored.height or 600
    sizes: list[JSON] = []
    longest = max(width, height)
    if longest > 320:
        scale = 320 / longest
        sizes.append(
            {
                "file_id": stored.file_id + "-s",
                "file_unique_id": stored.file_unique_id + "s",
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
                "file_size": max(1, (stored.size or 0) // 8),
            }
        )
    if longest > 1280:
        scale = 1280 / longest
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    full: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
    }
    if stored.size is not None:
        full["file_size"] = stored.size
    sizes.append(full)
    return sizes
