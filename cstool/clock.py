"""Clocks: the product reads the real time, tests inject a frozen one."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time in UTC epoch milliseconds."""

    def now_ms(self) -> int:
        """Return the current time as UTC epoch milliseconds."""


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        """Return the wall-clock time in UTC epoch milliseconds."""
        return time.time_ns() // 1_000_000


class FrozenClock:
    """A clock that only moves when told to; for tests and replays."""

    def __init__(self, now_ms: int):
        self._now = int(now_ms)

    def now_ms(self) -> int:
        """Return the frozen time."""
        return self._now

    def set(self, now_ms: int) -> None:
        """Jump to ``now_ms``."""
        self._now = int(now_ms)

    def advance(self, seconds: float) -> int:
        """Move forward by ``seconds`` and return the new time."""
        self._now += int(round(seconds * 1000))
        return self._now


class LatestEventClock:
    """The time of the newest event in a data file (or the real time while it has none):
    a dashboard following a replay (``fixtures generate --stream`` of a past day) sees
    the replay's "now", whatever the speed."""

    def __init__(self, database, fallback: Clock | None = None):
        self.database = database
        self.fallback = fallback or SystemClock()

    def now_ms(self) -> int:
        """The newest event's time, read under the file's lock."""
        with self.database.lock:
            row = self.database.conn.execute(
                "SELECT at FROM events ORDER BY id DESC LIMIT 1").fetchone()
        return int(row[0]) if row else self.fallback.now_ms()
