"""The sandbox's history, generated lazily per user and day: tracks, recordings, attendance."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from functools import partial
from typing import Any

from bot.sandbox.data.constants import RADIUS_KM, SIGNIN_REMARKS, STREETS
from bot.sandbox.data.directory import SandboxDirectory
from bot.sandbox.data.model import Fix, PunchRecord, Recording, SignIn, TrackPoint, User
from bot.sandbox.data.paths import ORG_266, ORG_267, MovingPath, build_paths
from bot.sandbox.data.units import km_from_center, local_date_of, local_day_start_ms, offset_km


class SandboxData(SandboxDirectory):
    """The sandbox platform's world: orgs, talk groups, users, terminals, history.

    Built deterministically from `seed`. `now` decides what "today" is and hides
    anything that would lie in the future; it defaults to the real clock.

    With `moving`, the users of `paths` move along them as a function of `now` (see
    `bot.sandbox.data.paths`); the flag may be flipped at run time.
    """

    def __init__(self, *, moving: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.moving = moving
        self.paths: dict[int, MovingPath] = build_paths(
            self.users,
            self.org_subtree(ORG_266) if ORG_266 in self.orgs else set(),
            self.org_subtree(ORG_267) if ORG_267 in self.orgs else set(),
        )

    # ---- moving users -----------------------------------------------------------------------

    def _path_of(self, u: User) -> MovingPath | None:
        # a test that took a user's fix away (u.fix = None) stops them as well
        return self.paths.get(u.id) if self.moving and u.fix is not None else None

    def online_now(self, u: User) -> bool:
        """Whether the user is online now: their flag, unless their path is offline now."""
        path = self._path_of(u)
        return u.online and not (path is not None and path.offline_at(self.now_ms()))

    def fix_now(self, u: User) -> Fix | None:
        """The user's latest fix now; a moving user's is taken from their path and kept
        in `u.fix`, so that `u.fix` stays the truth a test compares with."""
        path = self._path_of(u)
        if path is not None:
            u.fix = path.fix(self.now_ms())
        return u.fix

    # ---- tracks -----------------------------------------------------------------------------

    def track(self, uid: int, start_ms: int, end_ms: int) -> list[TrackPoint]:
        """A user's points in [start_ms, end_ms], never later than now, oldest first."""
        u = self.users.get(uid)
        if u is None or not u.tracked:
            return []
        history = self.history_days()
        start_ms = max(start_ms, local_day_start_ms(history[0]))
        end_ms = min(end_ms, self.now_ms())
        if end_ms < start_ms:
            return []
        path = self._path_of(u)
        if path is not None:
            return path.track(start_ms, end_ms, self.now_ms())
        days = set(history)
        out: list[TrackPoint] = []
        day = local_date_of(start_ms)
        while day <= local_date_of(end_ms):
            if day in days:
                out.extend(p for p in self._track_day(u, day) if start_ms <= p.time_ms <= end_ms)
            day += timedelta(days=1)
        return out

    def _track_day(self, u: User, day: date) -> list[TrackPoint]:
        key = (u.id, day)
        cached = self._tracks.get(key)
        if cached is None:
            cached = self._tracks[key] = list(self._gen_track(u, day))
        return cached

    def _gen_track(self, u: User, day: date) -> Iterator[TrackPoint]:
        # patrols all day long: moving sessions of 20-90 min separated by 15-40 min gaps
        rng = random.Random(f"{self.seed}:track:{u.id}:{day.isoformat()}")
        t = local_day_start_ms(day) + int(rng.uniform(0, 20) * 60_000)
        day_end = local_day_start_ms(day + timedelta(days=1))
        lat, lon = u.home_lat, u.home_lon
        bearing = rng.uniform(0, 360)
        altitude = rng.uniform(5, 40)
        while t < day_end:
            session_end = t + int(rng.uniform(20, 90) * 60_000)
            cruise = rng.uniform(5, 50)
            while t < min(session_end, day_end):
                speed = max(0.0, rng.gauss(cruise, cruise * 0.2))
                bearing = (bearing + rng.gauss(0, 15)) % 360
                north, east = km_from_center(lat, lon)
                if math.hypot(north, east) > RADIUS_KM:
                    bearing = (math.degrees(math.atan2(-east, -north)) + rng.gauss(0, 20)) % 360
                cell = rng.random() < 0.05
                altitude = min(80.0, max(0.0, altitude + rng.gauss(0, 1)))
                plat, plon = lat, lon
                if cell:  # cell fixes scatter by a few hundred metres
                    plat, plon = offset_km(lat, lon, rng.gauss(0, 0.3), rng.gauss(0, 0.3))
                yield TrackPoint(
                    time_ms=t,
                    lat=round(plat, 6),
                    lon=round(plon, 6),
                    speed=round(speed, 1),
                    altitude=None if cell else round(altitude, 1),
                    bearing=None if cell else round(bearing, 1),
                    position_type=1 if cell else 0,
                )
                dt_s = rng.uniform(30, 60)
                dist = speed * dt_s / 3600
                lat, lon = offset_km(
                    lat,
                    lon,
                    dist * math.cos(math.radians(bearing)),
                    dist * math.sin(math.radians(bearing)),
                )
                t += int(dt_s * 1000)
            t += int(rng.uniform(15, 40) * 60_000)

    # ---- voice recordings -------------------------------------------------------------------

    def recordings(self, uid: int, day: date | None) -> list[Recording]:
        """A user's recordings of one day (or all history days), newest first, none after now."""
        u = self.users.get(uid)
        if u is None:
            return []
        history = self.history_days()
        days = [day] if day is not None else history
        now = self.now_ms()
        out: list[Recording] = []
        for d in days:
            if d in history:
                out.extend(r for r in self._recordings_day(u, d) if r.begin_ms <= now - 30_000)
        out.sort(key=lambda r: r.begin_ms, reverse=True)
        return out

    def _recordings_day(self, u: User, day: date) -> list[Recording]:
        key = (u.id, day)
        cached = self._recordings.get(key)
        if cached is not None:
            return cached
        rng = random.Random(f"{self.seed}:rec:{u.id}:{day.isoformat()}")
        recs: list[Recording] = []
        if u.talker:
            start = local_day_start_ms(day)
            group_names = [self.groups[g].name for g in u.groups if g in self.groups]
            for _ in range(rng.randint(3, 25)):
                begin = start + rng.randrange(86_400_000)
                lost = rng.random() < 0.05
                ext = rng.choice(("ogg", "mp3"))
                recs.append(
                    Recording(
                        user_id=u.id,
                        account=u.account,
                        begin_ms=begin,
                        duration_ms=rng.randint(800, 30_000) if rng.random() > 0.05 else None,
                        group_name=(
                            rng.choice(group_names) if group_names and rng.random() > 0.05 else None
                        ),
                        # lost files name something the media route does not have -> 404
                        file=(
                            f"{u.id}_{u.account}_{begin}.{ext}"
                            if lost
                            else f"recording-{rng.choice(('zh', 'en'))}.{ext}"
                        ),
                        lost=lost,
                    )
                )
        recs.sort(key=lambda r: r.begin_ms, reverse=True)
        self._recordings[key] = recs
        return recs

    # ---- attendance -------------------------------------------------------------------------

    def punch_records(self, start_ms: int, end_ms: int) -> list[PunchRecord]:
        """Punch-card records with sign time in [start_ms, end_ms] and not after now."""
        end_ms = min(end_ms, self.now_ms())
        out: list[PunchRecord] = []
        for d in self.history_days():
            if local_day_start_ms(d + timedelta(days=1)) <= start_ms:
                continue
            if local_day_start_ms(d) > end_ms:
                continue
            out.extend(p for p in self._punch_day(d) if start_ms <= p.sign_ms <= end_ms)
        return out

    def _punch_day(self, day: date) -> list[PunchRecord]:
        cached = self._punches.get(day)
        if cached is not None:
            return cached
        start = local_day_start_ms(day)
        out: list[PunchRecord] = []
        for u in self.users.values():
            rng = random.Random(f"{self.seed}:punch:{u.id}:{day.isoformat()}")
            if rng.random() < 0.1:  # missing: no record at all that day
                continue
            org = self.orgs.get(u.org_id)
            scheduled = rng.random() < 0.9
            grace = rng.choice((5, 10)) if scheduled else None
            lat, lon = offset_km(u.home_lat, u.home_lon, rng.gauss(0, 0.05), rng.gauss(0, 0.05))

            rec = partial(
                PunchRecord,
                user_id=u.id,
                user_name=u.name,
                account=u.account,
                oid=u.org_id,
                org_name=org.name if org else "",
                type=1 if scheduled else 0,
                failure=grace,
                schedule_id=479,
                shifts_id=82,
                shifts_name="白班",
                address=f"浙江省杭州市{STREETS[u.id % len(STREETS)]}{u.id % 300}号",
                lat=lat,
                lon=lon,
                scope=300,
            )
            should_in = start + (8 * 60 + 30) * 60_000
            should_out = start + (17 * 60 + 30) * 60_000
            sched_in, sched_out = (should_in, should_out) if scheduled else (None, None)
            r = rng.random()
            if r < 0.75:
                offset_min = -rng.uniform(0, 20)  # early
            elif r < 0.88:
                offset_min = rng.uniform(0, grace or 5)  # within the grace time
            else:
                offset_min = (grace or 5) + rng.uniform(1, 60)  # late
            out.append(
                rec(sign_ms=should_in + int(offset_min * 60_000), should_ms=sched_in, state=0)
            )
            if rng.random() < 0.05:  # forgot to clock out
                continue
            first_out = should_out + int(rng.uniform(0, 30) * 60_000)
            if rng.random() < 0.1:  # clocked out twice: the earlier one is superseded
                out.append(rec(sign_ms=first_out, should_ms=sched_out, state=2))
                first_out += int(rng.uniform(10, 60) * 60_000)
            out.append(rec(sign_ms=first_out, should_ms=sched_out, state=1))
        out.sort(key=lambda p: (p.sign_ms, p.user_id))
        self._punches[day] = out
        return out

    def signins(self, first: date, last: date) -> list[SignIn]:
        """Sign-in records of local days first..last inclusive, not after now."""
        now = self.now_ms()
        out: list[SignIn] = []
        for d in self.history_days():
            if first <= d <= last:
                out.extend(s for s in self._signin_day(d) if s.sign_ms <= now)
        return out

    def _signin_day(self, day: date) -> list[SignIn]:
        cached = self._signins.get(day)
        if cached is not None:
            return cached
        start = local_day_start_ms(day)
        day_no = (day - date(2020, 1, 1)).days
        out: list[SignIn] = []
        for u in self.users.values():
            rng = random.Random(f"{self.seed}:signin:{u.id}:{day.isoformat()}")
            if rng.random() < 0.6:
                continue
            org = self.orgs.get(u.org_id)
            for k in range(rng.randint(1, 3)):
                sid = day_no * 10_000_000 + u.id * 4 + k
                lat, lon = offset_km(u.home_lat, u.home_lon, rng.gauss(0, 1), rng.gauss(0, 1))
                images = tuple(f"signin-{sid}-{i}.png" for i in range(rng.choice((0, 0, 1, 2))))
                out.append(
                    SignIn(
                        id=sid,
                        user_id=u.id,
                        user_name=u.name,
                        phone=u.phone,
                        images=images,
                        lat=round(lat, 6),
                        lon=round(lon, 6),
                        address=f"浙江省杭州市{rng.choice(STREETS)}{rng.randint(1, 500)}号",
                        sign_ms=start + rng.randrange(8 * 3_600_000, 20 * 3_600_000),
                        remark=rng.choice(SIGNIN_REMARKS),
                        tz=-5 if rng.random() < 0.02 else 8,
                        org_id=u.org_id,
                        org_name=org.name if org else "",
                    )
                )
        out.sort(key=lambda s: (s.sign_ms, s.id))
        self._signins[day] = out
        return out
