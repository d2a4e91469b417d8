"""Clocks: the product reads the real time, tests inject a frozen one.

``$CSTOOL_NOW`` sets the time every command starts at (``default_clock``): an ISO 8601
time such as ``2026-12-07T03:00+08:00`` (a Monday night in Shanghai); from there the
clock runs on at real speed, so a demo or a console started "at 03:00" lives on. Try the
desk at any hour without changing the machine's clock.
"""

from __future__ import annotations

import os
import time
from typing import Protocol

NOW_ENV = "CSTOOL_NOW"


class Clock(Protocol):
    """Anything that tells the current time in UTC epoch milliseconds."""

    def now_ms(self) -> int:
        """Return the current time as UTC epoch milliseconds."""


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        """Return the wall-clock time in UTC epoch milliseconds."""
        return time.time_ns() // 1_000_000


class StartedClock:
    """A clock that starts at a chosen time and runs on at real speed."""

    def __init__(self, start_ms: int, monotonic=time.monotonic_ns):
        self._start = int(start_ms)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now_ms(self) -> int:
        """The start time plus the real time elapsed since the clock was made."""
        return self._start + (self._monotonic() - self._t0) // 1_000_000


def default_clock(environ=None) -> Clock:
    """The clock commands use: the real one, or one started at ``$CSTOOL_NOW``.

    Raises ``UsageError`` naming the variable when its value is not a time."""
    value = (os.environ if environ is None else environ).get(NOW_ENV, "").strip()
    if not value:
        return SystemClock()
    from .errors import UsageError
    from .values import parse_time

    try:
        return StartedClock(parse_time(value))
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"${NOW_ENV} is not a time: {value!r} (expected ISO 8601 like "
                         "2026-12-07T03:00+08:00)",
                         key="now_env_bad", env=NOW_ENV, value=repr(value)) from None


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
