"""Flood limits held as sliding windows, and a clock that runs faster than real time."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Window:
    """At most ``limit`` messages in any ``period`` seconds: a message counts from the
    moment it arrives until ``period`` later (the strictest reading of a rate)."""

    limit: int
    period: float
    times: deque[float] = field(default_factory=deque)  # arrivals, oldest first

    @classmethod
    def of_rate(cls, per_period: float, period: float) -> Window:
        """``per_period`` messages per ``period``; under one, one per longer period."""
        if per_period >= 1:
            return cls(math.floor(per_period), period)
        return cls(1, period / per_period)

    def wait_time(self, now: float, units: int) -> float:
        """Seconds until ``units`` more fit (0: they fit now)."""
        horizon = now - self.period
        while self.times and self.times[0] <= horizon:
            self.times.popleft()
        over = len(self.times) + min(units, self.limit) - self.limit
        if over <= 0:
            return 0.0
        return self.times[over - 1] + self.period - now

    def take(self, now: float, units: int) -> None:
        self.times.extend([now] * min(units, self.limit))


class FastClock:
    """A monotonic clock that runs ``speed`` times faster than real time, and its sleep.

    Give it to the emulator (``clock=``) and to whatever else counts time against it
    (the bridge's flood control) and minutes of rate limits pass in seconds, every
    latency stretched by the same factor.
    """

    def __init__(self, speed: float, start: float = 1000.0) -> None:
        self.speed = speed
        self._start = start
        self._origin = time.monotonic()

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._origin) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)
