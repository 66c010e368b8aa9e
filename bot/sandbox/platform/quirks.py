"""What a test switches and sees: the quirks of real servers, injected faults, recorded requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FAULT_KINDS = frozenset(
    {"status", "http500", "http502", "html", "truncated", "notjson", "delay", "disconnect", "body"}
)


@dataclass
class Quirks:
    """Switches for the real-server behaviours a robust client must tolerate.

    Defaults reproduce the worst case the reference documents; every field may be
    changed at runtime (``sandbox.quirks.tree_single_object = False``).
    :meth:`none` gives a server that follows the tables exactly.
    """

    ids_as_strings: bool = True  # ids as "103" where the doc examples use numbers
    tree_single_object: bool = True  # 2.1: one-element `children`/`users` as a bare object
    track_shape: str = "list_of_maps"  # 2.5: "map" | "list_of_maps" | "flat"
    track_time_unit: str = "ms"  # 2.5 point `time`: "s" | "ms"
    coord_time_format: str = "local"  # 2.4 `time`: "iso" | "local" | "s" | "ms" | "absent"
    online_as_string: bool = True  # 2.4 isOnLine "2"/null (else 1/0)
    signin_in_list: bool = True  # 2.17 page object wrapped in a one-element list
    audio_total_as_pages: bool = False  # 2.6 `total` is a page count instead of a record count
    recordings_delay_polls: int = 0  # 2.6: first N queries per (user, day) answer no records
    null_fields: bool = True  # 2.16: scheduleId, scope, address, ... arrive null
    coordinates: str = "wgs84"  # "gcj02": coordinates of 2.4 and 2.5 offset to GCJ-02
    unpadded_ctime: bool = True  # 2.9 ctime like "2022-2-15 15:20:12"
    # 2.4: more uids in one call answer 510. The reference documents no limit, so none by
    # default; a test or bench sets one to see a client batch.
    coords_max_uids: int | None = None

    @classmethod
    def none(cls) -> Quirks:
        """A well-behaved server: numbers as numbers, lists as lists, ms times, WGS-84."""
        return cls(
            ids_as_strings=False,
            tree_single_object=False,
            track_shape="map",
            track_time_unit="ms",
            coord_time_format="ms",
            online_as_string=False,
            signin_in_list=False,
            audio_total_as_pages=False,
            recordings_delay_polls=0,
            null_fields=False,
            coordinates="wgs84",
            unpadded_ctime=False,
            coords_max_uids=None,
        )


@dataclass
class RecordedRequest:
    """One request as the sandbox received it (recorded before any auth check).

    Header names are lower-cased; `json` is the parsed body or None; `body` the raw bytes.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes


@dataclass
class Fault:
    suffix: str
    kind: str
    remaining: int
    status: int
    message: str
    delay: float
    body: Any = None
