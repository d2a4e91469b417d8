"""An agent's time in the report (pure): online time from ``agent.status`` changes, and
how many chats they held at once (the definitions: ``figures.py``'s docstring, "Online
time" and "Concurrency").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ONLINE_STATUSES = frozenset({"online", "busy"})


@dataclass(slots=True)
class StatusChange:
    """One ``agent.status`` event."""

    at: int
    previous: str | None
    status: str


def online_ms(changes: Sequence[StatusChange], current: str, created_at: int, start: int,
              end: int) -> int:
    """Time in status online or busy within ``[start, end)`` (see the module docstring;
    the first status holds from the agent's creation, or from the first change if that
    came earlier, as in imported history)."""
    status = changes[0].previous if changes else current
    t = min(created_at, changes[0].at) if changes else created_at
    total = 0
    for ch in [*changes, StatusChange(end, None, "")]:
        if status in ONLINE_STATUSES:
            lo, hi = max(t, start), min(ch.at, end)
            if hi > lo:
                total += hi - lo
        t, status = ch.at, ch.status
        if t >= end:
            break
    return total


def concurrency(legs: Iterable[tuple[int, int]], start: int, end: int) -> tuple[float | None, int]:
    """(mean number of chats held over the time at least one was held, peak) for
    intervals ``(from, to)`` clipped to ``[start, end)``; a chat ending when another
    starts is not held at once with it.

    The time-weighted count is the sum of the intervals' lengths; one sweep over the
    sorted starts and ends gives the time with at least one held and the peak."""
    starts: list[int] = []
    ends: list[int] = []
    for a, b in legs:
        if a < start:
            a = start
        if b > end:
            b = end
        if b > a:
            starts.append(a)
            ends.append(b)
    if not starts:
        return None, 0
    starts.sort()
    ends.sort()
    weighted = sum(ends) - sum(starts)
    held = peak = busy = j = 0
    since = starts[0]  # when the current stretch of holding at least one began
    for a in starts:
        while ends[j] <= a:  # what ended by now (an interval ending at a is done by a)
            held -= 1
            if not held:
                busy += ends[j] - since
            j += 1
        if not held:
            since = a
        held += 1
        if held > peak:
            peak = held
    busy += ends[-1] - since  # every start is in: holding lasts until the last end
    return (weighted / busy if busy else None), peak


_bucket_cache: dict[tuple[int, str], str] = {}

