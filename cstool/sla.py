"""SLA clocks: business-hours calendars and deadline arithmetic, as pure functions.

A shop's calendar is its weekly opening hours in its time zone, minus holidays, plus
make-up workdays (调休: a weekend day worked to bridge a holiday, with the hours of a
given weekday). An SLA target of N minutes counts only open minutes (or every minute on
the wall clock), and stops while the ticket waits on the customer (pauses).

Deadlines are exact to the millisecond: ``deadline(start, minutes)`` is the first
instant at which ``minutes`` open, unpaused minutes have passed since ``start``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import InvalidValue
from .resources import WEEKDAYS

MINUTE = 60_000
DAY = timedelta(days=1)
MAX_DAYS = 3660  # search bound: ten years of calendar without an open minute is an error


def _span(text: str) -> tuple[int, int] | None:
    """``"09:00-18:00"`` → (540, 1080) minutes; ``"closed"`` → None. ``24:00`` ends a day;
    a span ending before it starts runs past midnight (counted on its start day)."""
    if text == "closed":
        return None
    a, b = text.split("-")
    start = int(a[:2]) * 60 + int(a[3:])
    end = int(b[:2]) * 60 + int(b[3:])
    return start, end


@dataclass(frozen=True)
class Calendar:
    """When a shop's clock runs. ``hours`` maps mon..sun to ``"HH:MM-HH:MM"`` or
    ``"closed"`` (a missing day is closed); ``None`` hours means open around the clock
    (the wall clock)."""

    timezone: str = "Asia/Shanghai"
    hours: dict[str, str] | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: dict[date, str] = field(default_factory=dict)  # 调休: date -> weekday whose hours

    @classmethod
    def wall_clock(cls, timezone: str = "Asia/Shanghai") -> Calendar:
        """A calendar that is always open."""
        return cls(timezone=timezone, hours=None)

    @classmethod
    def from_settings(cls, timezone: str, hours: dict | None, holidays: Iterable[str] = (),
                      workdays: dict[str, str] | None = None) -> Calendar:
        """Build from a shop's settings (ISO dates as text)."""
        return cls(
            timezone=timezone,
            hours=dict(hours) if hours else None,
            holidays=frozenset(date.fromisoformat(d) for d in holidays),
            workdays={date.fromisoformat(d): w for d, w in (workdays or {}).items()},
        )

    def _day_span(self, day: date) -> tuple[int, int] | None:
        if self.hours is None:
            return (0, 1440)
        if day in self.workdays:
            return _span(self.hours.get(self.workdays[day], "closed"))
        if day in self.holidays:
            return None
        return _span(self.hours.get(WEEKDAYS[day.weekday()], "closed"))

    def open_intervals(self, start_ms: int, end_ms: int | None = None) -> Iterator[tuple[int, int]]:
        """Open periods (UTC ms) from ``start_ms`` on, clipped to ``[start_ms, end_ms)``,
        in order. Endless when ``end_ms`` is None."""
        zone = ZoneInfo(self.timezone)
        local = datetime.fromtimestamp(start_ms / 1000, tz=UTC).astimezone(zone)
        day = local.date() - DAY  # yesterday's span may run past midnight into today
        closed_days = 0
        while True:
            span = self._day_span(day)
            if span is None:
                closed_days += 1
                if closed_days > MAX_DAYS:
                    raise InvalidValue("the calendar has no open time", key="calendar_never_open")
            else:
                closed_days = 0
                s_min, e_min = span
                if e_min <= s_min:
                    e_min += 1440
                base = datetime.combine(day, time(0), tzinfo=zone)
                a = _ms(base + timedelta(minutes=s_min))
                b = _ms(base + timedelta(minutes=e_min))
                if end_ms is not None and a >= end_ms:
                    return
                a, b = max(a, start_ms), b if end_ms is None else min(b, end_ms)
                if a < b:
                    yield a, b
            day += DAY
            if end_ms is not None and _ms(datetime.combine(day, time(0), tzinfo=zone)) \
                    >= end_ms + DAY.total_seconds() * 1000:
                return

    def is_open(self, at_ms: int) -> bool:
        """True when the clock runs at ``at_ms``."""
        return any(a <= at_ms < b for a, b in self.open_intervals(at_ms - 1, at_ms + 1))


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _minus(intervals: Iterator[tuple[int, int]], pauses: list[tuple[int, int]]
           ) -> Iterator[tuple[int, int]]:
    """Open intervals with the paused stretches cut out (pauses sorted, may overlap)."""
    for a, b in intervals:
        cur = a
        for p, q in pauses:
            if q <= cur or p >= b:
                continue
            if p > cur:
                yield cur, min(p, b)
            cur = max(cur, q)
            if cur >= b:
                break
        if cur < b:
            yield cur, b


def _normal(pauses: Iterable[tuple[int, int | None]], now_ms: int | None) -> list[tuple[int, int]]:
    out = []
    for p, q in pauses:
        if q is None:
            q = now_ms if now_ms is not None else 2**62  # an open pause lasts until now
        if q > p:
            out.append((p, q))
    return sorted(out)


def deadline(calendar: Calendar, start_ms: int, minutes: float,
             pauses: Iterable[tuple[int, int | None]] = (), now_ms: int | None = None) -> int:
    """The instant when ``minutes`` of open, unpaused time have passed since ``start_ms``.

    A pause with no end (still waiting on the customer) runs until ``now_ms``; the
    deadline then lies after ``now_ms`` as if the clock restarted now.
    """
    need = int(round(minutes * MINUTE))
    if need <= 0:
        return start_ms
    spans = _minus(calendar.open_intervals(start_ms), _normal(pauses, now_ms))
    for a, b in spans:
        if b - a >= need:
            return a + need
        need -= b - a
    raise InvalidValue("the calendar has no open time",  # pragma: no cover
                       key="calendar_never_open")  # an endless iterator


def elapsed_minutes(calendar: Calendar, start_ms: int, end_ms: int,
                    pauses: Iterable[tuple[int, int | None]] = ()) -> float:
    """Open, unpaused minutes between ``start_ms`` and ``end_ms``."""
    if end_ms <= start_ms:
        return 0.0
    spans = _minus(calendar.open_intervals(start_ms, end_ms), _normal(pauses, end_ms))
    return sum(b - a for a, b in spans) / MINUTE


def sla_state(calendar: Calendar, start_ms: int, minutes: float, now_ms: int,
              done_ms: int | None = None, pauses: Iterable[tuple[int, int | None]] = (),
              warn_share: float = 0.8) -> str:
    """``met`` / ``breached`` when done; else ``ok``, ``warning`` (past ``warn_share`` of the
    target) or ``breached``."""
    pauses = list(pauses)
    end = done_ms if done_ms is not None else now_ms
    used = elapsed_minutes(calendar, start_ms, end, pauses)
    if done_ms is not None:
        return "met" if used <= minutes else "breached"
    if used >= minutes:
        return "breached"
    return "warning" if used >= warn_share * minutes else "ok"
