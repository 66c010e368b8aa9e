"""/fence's words: a radius, a place, a fence's shape, why a polygon is refused, the fence
list, the watch lines of `/subscriptions`, and the crossing alert a watching chat receives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from bot.directory import Directory, DirUser
from bot.geo.fences import PolygonFault, polygon_span_m
from bot.render.follow import local_time
from bot.render.replies import T
from bot.render.text import Html
from storage.fences import Fence, FenceWatch

__all__ = [
    "fence_added",
    "fence_alert",
    "fence_list",
    "fence_watch_lines",
    "place_text",
    "polygon_fault_text",
    "radius_text",
    "target_label",
    "user_label",
]


def radius_text(t: T, metres: float) -> str:
    """300 m, 1.5 km (in zh: 300 米, 1.5 公里)."""
    if metres < 1000:
        return t.plain("fence-radius-metres", metres=f"{metres:.0f}")
    km = f"{metres / 1000:.2f}".rstrip("0").rstrip(".")
    return t.plain("fence-radius-kilometres", km=km)


def place_text(lat: float, lon: float) -> str:
    return f"{lat:.5f},{lon:.5f}"


def _shape(t: T, fence: Fence) -> dict[str, object]:
    """The arguments that say a fence's shape: its radius, or its points and width."""
    args: dict[str, object] = {"name": fence.name, "place": place_text(fence.lat, fence.lon)}
    if fence.polygon is None:
        args["radius"] = radius_text(t, fence.radius_m)
    else:
        args["points"] = len(fence.polygon)
        args["across"] = radius_text(t, polygon_span_m(fence.polygon))
    return args


def fence_added(t: T, fence: Fence) -> Html:
    """What `/fence add` answers: the fence's shape, and how to watch it."""
    key = "fence-added" if fence.polygon is None else "fence-added-polygon"
    return t(key, **_shape(t, fence))


def polygon_fault_text(t: T, fault: PolygonFault) -> Html:
    """Why the corners typed cannot be a polygon fence (`bot.geo.fences.polygon_fault`)."""
    return t(
        f"fence-polygon-{fault.code}",
        count=fault.point,
        point=fault.point,
        other=fault.other,
    )


def user_label(user: DirUser | None, uid: int) -> str:
    if user is None:
        return str(uid)
    return f"{user.name} ({user.account})"


def target_label(directory: Directory, kind: str, target_id: int) -> str:
    """A watch's user (name and account) or talk group (its name), or its id when gone."""
    if kind == "user":
        return user_label(directory.user(target_id), target_id)
    group = directory.group(target_id)
    return group.name if group is not None else str(target_id)


def _watch_key(w: FenceWatch) -> str:
    return {"enter": "fence-line-enter", "leave": "fence-line-leave"}.get(
        w.events, "fence-line-both"
    )


def fence_watch_lines(
    t: T,
    watches: Sequence[FenceWatch],
    directory: Directory,
    visible: Callable[[FenceWatch], bool],
) -> list[str]:
    """One line per watch the reader may see (`visible`), then how many they may not."""
    lines = [
        "• "
        + t(
            _watch_key(w),
            who=target_label(directory, w.target_kind, w.target_id),
            name=w.fence_name,
        )
        for w in watches
        if visible(w)
    ]
    hidden = sum(1 for w in watches if not visible(w))
    if hidden:
        lines.append("• " + t("fence-outside-scope", count=hidden))
    return lines


def fence_list(t: T, fences: Sequence[Fence], watch_lines: Sequence[str]) -> Html:
    """`/fence list`: the fences the reader sees, then this chat's watches."""
    if not fences and not watch_lines:
        return t("fence-list-empty")
    lines: list[str] = []
    if fences:
        lines.append(t("fence-list-title"))
        lines += [
            t("fence-list-line" if f.polygon is None else "fence-list-polygon", **_shape(t, f))
            for f in fences
        ]
    else:
        lines.append(t("fence-list-empty"))
    if watch_lines:
        lines += ["", t("fence-list-watches"), *watch_lines]
    return Html("\n".join(lines))


def fence_alert(
    t: T, who: str, fence_name: str, entered: bool, at: datetime, tz: tzinfo, now: datetime
) -> Html:
    """The crossing message: who, which fence, in or out, when (the fix's time, local;
    with the date when it is not today's)."""
    when = local_time(at, tz, now, seconds=True)
    return t("fence-entered" if entered else "fence-left", who=who, name=fence_name, time=when)
