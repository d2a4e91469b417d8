"""From a day's forecast to a roster: per half-hour the agents Erlang asks for, the
positions after shrinkage, and shifts that cover every half-hour with few agent-hours.

The roster heuristic (no ILP solver):

1. Every possible shift is a template: a start slot inside the open hours, a length
   from ``shift_hours``, and for shifts longer than ``break_after_h`` one break of
   ``break_min`` placed anywhere from ``break_window_h`` after the start to
   ``break_window_h`` before the end. A template covers its slots except the break.
2. Greedy cover with whole shifts (breaks aside): while some half-hour is short,
   take the start and length that remove the most shortage per paid hour (ties: the
   one covering more shortage), as many at once as its least-short slot needs.
3. Breaks, one shift at a time, go where the desk has the most surplus, so they
   stagger instead of stacking.
4. The holes breaks still open are filled one break-aware shift at a time, with the
   same rule.
5. Prune: drop any shift whose removal leaves every half-hour covered, trying the
   least-used shifts first.
6. Shorten: swap a shift for the cheapest shift that still covers the half-hours
   only it was covering (as cheap but paying for fewer half-hours where nobody is
   needed also counts), until no swap helps.

Breaks are paid and count in agent-hours; an agent on break is not on the desk.
The lower bound (the requirement summed over half-hours, as if agents could come
and go by the half-hour) is reported beside the roster, so its overhead is visible.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: a CLI command starts without it
    import numpy as np

from ..errors import InvalidInput
from .erlang import Workload, check_goals, check_workload, positions, required_agents
from .forecast import slot_label


@dataclass(frozen=True)
class ShiftSettings:
    """Shift rules: lengths, breaks, the slot grid."""

    shift_hours: tuple[float, ...] = (8.0, 6.0, 4.0)
    break_after_h: float = 5.0  # shifts longer than this get a break
    break_min: int = 30
    break_window_h: float = 2.0  # no break in the first / last this many hours
    slot_min: int = 30

    def check(self) -> None:
        """Refuse rules that cannot make a roster."""
        if not self.shift_hours or not all(0 < h <= 24 for h in self.shift_hours):
            raise InvalidInput("shift lengths must be positive hours, at most 24",
                               key="shift_lengths_bad")
        for h in self.shift_hours:
            if abs(h * 60 / self.slot_min - round(h * 60 / self.slot_min)) > 1e-9:
                raise InvalidInput(f"a {h} h shift is not a whole number of "
                                   f"{self.slot_min}-minute slots",
                                   key="shift_not_whole_slots", hours=str(h), slot=self.slot_min)
        if self.break_min < 0 or self.break_min % self.slot_min:
            raise InvalidInput(f"breaks must be whole {self.slot_min}-minute slots",
                               key="breaks_whole_slots", slot=self.slot_min)
        if not 0 <= self.break_after_h <= 24:
            raise InvalidInput(f"the hours before a break must be from 0 to 24, got "
                               f"{self.break_after_h}",
                               key="break_after_range", value=str(self.break_after_h))


@dataclass(frozen=True)
class Template:
    """One possible shift."""

    start: int  # slot
    length: int  # slots, break included
    break_start: int | None  # slot
    break_len: int

    def covers(self, slots: int) -> np.ndarray:
        """0/1 per slot of the day: on the desk."""
        import numpy as np
        row = np.zeros(slots, dtype=np.int64)
        row[self.start:self.start + self.length] = 1
        if self.break_start is not None:
            row[self.break_start:self.break_start + self.break_len] = 0
        return row


def templates(open_slots: Sequence[bool], rules: ShiftSettings) -> list[Template]:
    """Every shift that fits inside a run of open slots."""
    rules.check()
    per_h = 60 / rules.slot_min
    lengths = sorted({round(h * per_h) for h in rules.shift_hours}, reverse=True)
    brk = rules.break_min // rules.slot_min
    window = round(rules.break_window_h * per_h)
    out: list[Template] = []
    runs = _runs(open_slots)
    for run_start, run_len in runs:
        usable = [L for L in lengths if L <= run_len] or [run_len]  # a short day: one shift
        for length in usable:
            needs_break = brk > 0 and length > rules.break_after_h * per_h
            for start in range(run_start, run_start + run_len - length + 1):
                if not needs_break:
                    out.append(Template(start, length, None, 0))
                    continue
                lo, hi = start + window, start + length - window - brk
                if hi < lo:  # too short for the window: break in the middle
                    lo = hi = start + (length - brk) // 2
                for b in range(lo, hi + 1):
                    out.append(Template(start, length, b, brk))
    return out


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def roster(need: Sequence[int], open_slots: Sequence[bool], rules: ShiftSettings) -> list[
        tuple[Template, int]]:
    """Shifts (template, how many) covering ``need`` agents per slot."""
    import numpy as np
    need_arr = np.asarray(need, dtype=np.int64)
    n = len(need_arr)
    if need_arr.sum() == 0:
        return []
    if any(need_arr[i] > 0 and not open_slots[i] for i in range(n)):
        raise InvalidInput("agents are needed outside the open hours",
                           key="need_outside_open_hours")
    temps = templates(open_slots, rules)
    if not temps:
        raise InvalidInput("no shift fits in the open hours", key="no_shift_fits")
    shapes: dict[tuple[int, int], list[Template]] = {}
    for t in temps:
        shapes.setdefault((t.start, t.length), []).append(t)
    keys = list(shapes)

    # 1. whole shifts, breaks aside: batch greedy on the shapes
    whole = np.stack([Template(s, L, None, 0).covers(n) for s, L in keys])
    counts = _greedy(whole, np.array([L for _, L in keys], dtype=np.float64), need_arr,
                     batch=True)
    # 2. breaks one shift at a time, where the surplus is largest
    chosen: Counter = Counter()
    supply = counts @ whole
    for i in np.nonzero(counts)[0]:
        options = shapes[keys[i]]
        rows = np.stack([t.covers(n) for t in options])
        for _ in range(int(counts[i])):
            lost = whole[i] - rows  # the break slots of each option
            surplus = lost @ (supply - need_arr)
            best = int(np.argmax(surplus))
            chosen[options[best]] += 1
            supply -= lost[best]
    # 3. holes the breaks opened: one break-aware shift at a time
    cover = np.stack([t.covers(n) for t in temps])
    paid = np.array([t.length for t in temps], dtype=np.float64)
    extra = _greedy(cover, paid, need_arr - supply, batch=False)
    for i in np.nonzero(extra)[0]:
        chosen[temps[i]] += int(extra[i])
    # 4. prune: drop shifts whose removal leaves every slot covered, least useful first
    items = list(chosen)
    rows = {t: t.covers(n) for t in items}
    supply = sum(chosen[t] * rows[t] for t in items)
    for t in sorted(items, key=lambda t: ((rows[t] @ need_arr) / t.length, t.start)):
        while chosen[t] > 0 and ((supply - rows[t]) >= need_arr).all():
            chosen[t] -= 1
            supply = supply - rows[t]
    # 5. shorten: swap a shift for the cheapest one that still covers what only it covers
    index = {t: i for i, t in enumerate(temps)}
    idle = cover @ (need_arr == 0)  # slots each template pays for where nobody is needed
    improved = True
    while improved:
        improved = False
        for t in sorted((t for t in chosen if chosen[t] > 0), key=lambda t: -t.length):
            while chosen[t] > 0:
                alone = (need_arr - (supply - rows[t])) > 0  # slots short without this shift
                fits = (cover[:, alone] == 1).all(axis=1)
                fits[index[t]] = False
                if not fits.any():
                    break
                # cheaper, or as cheap and fewer paid slots where nobody is needed
                cost = np.where(fits, paid * (n + 1) + idle, np.inf)
                best = int(np.argmin(cost))
                if cost[best] >= paid[index[t]] * (n + 1) + idle[index[t]]:
                    break
                swap = temps[best]
                rows.setdefault(swap, swap.covers(n))
                chosen[t] -= 1
                chosen[swap] += 1
                supply = supply - rows[t] + rows[swap]
                improved = True
    return [(t, c) for t, c in chosen.items() if c > 0]


def _greedy(cover: np.ndarray, paid: np.ndarray, short: np.ndarray, *, batch: bool) -> np.ndarray:
    """Copies of each row of ``cover`` (0/1 per slot) so that every slot's shortage is
    covered: best shortage removed per paid slot first, then the most shortage covered.
    ``batch`` adds as many copies at once as the least-short covered slot allows."""
    import numpy as np
    counts = np.zeros(len(cover), dtype=np.int64)
    short = short.astype(np.int64).copy()
    while (short > 0).any():
        positive = np.clip(short, 0, None)
        gain = cover @ np.minimum(positive, 1)  # slots a copy would make less short
        if gain.max() == 0:
            raise InvalidInput("the shift rules cannot cover every needed half-hour",
                               key="shifts_cannot_cover")
        ratio = gain / paid
        tied = np.flatnonzero(ratio >= ratio.max() - 1e-12)
        best = int(tied[np.argmax(cover[tied] @ positive)])
        copies = int(short[(cover[best] == 1) & (short > 0)].min()) if batch else 1
        counts[best] += copies
        short -= copies * cover[best]
    return counts


@dataclass(frozen=True)
class StaffingTarget:
    """Service target and desk parameters for sizing each slot."""

    service_level: float = 0.8
    target_s: float = 30.0
    aht_s: float = 300.0
    patience_s: float | None = None
    concurrency: int = 1
    max_occupancy: float = 1.0
    shrinkage: float = 0.0
    max_abandon: float | None = None

    def check(self, slot_s: float = 1800.0) -> None:
        """Refuse values out of range (InvalidInput), as ``staffing erlang`` does."""
        check_workload(Workload(0.0, slot_s, self.aht_s, self.target_s, self.patience_s,
                                self.concurrency))
        check_goals(self.service_level, max_occupancy=self.max_occupancy,
                    max_abandon=self.max_abandon, patience_s=self.patience_s,
                    shrinkage=self.shrinkage)


def parse_target(text: str) -> tuple[float, float]:
    """``80/30`` -> (0.8, 30.0): service level percent / answer target seconds."""
    try:
        pct, secs = text.split("/")
        sl, target = float(pct) / 100.0, float(secs)
    except ValueError:
        raise InvalidInput(f"target must look like 80/30 (percent/seconds), got {text!r}",
                           key="target_format", text=repr(text)) from None
    if not 0 < sl <= 1 or target < 0 or not math.isfinite(target):
        raise InvalidInput(f"target must be a percent above 0 and at most 100 and a "
                           f"non-negative number of seconds, got {text!r}",
                           key="target_range", text=repr(text))
    return sl, target


def make_plan(arrivals: Sequence[float], open_slots: Sequence[bool], target: StaffingTarget,
              rules: ShiftSettings | None = None) -> dict:
    """Per slot: forecast, agents, positions, scheduled; the roster and its totals."""
    import numpy as np
    rules = rules or ShiftSettings()
    rules.check()
    slot_s = rules.slot_min * 60
    target.check(slot_s)
    rows = []
    need = []
    for i, arr in enumerate(arrivals):
        if not open_slots[i] or arr <= 0:
            rows.append({"start": slot_label(i, rules.slot_min), "open": bool(open_slots[i]),
                         "forecast": round(arr, 2), "agents": 0, "positions": 0,
                         "service_level": None, "occupancy": None, "p_abandon": None})
            need.append(0)
            continue
        w = Workload(arr, slot_s, target.aht_s, target.target_s, target.patience_s,
                     target.concurrency)
        perf = required_agents(w, target.service_level, max_occupancy=target.max_occupancy,
                               max_abandon=target.max_abandon)
        pos = positions(perf.agents, target.shrinkage)
        rows.append({"start": slot_label(i, rules.slot_min), "open": True,
                     "forecast": round(arr, 2), "agents": perf.agents, "positions": pos,
                     "service_level": round(perf.service_level, 4),
                     "occupancy": round(perf.occupancy, 4),
                     "p_abandon": None if perf.p_abandon is None else round(perf.p_abandon, 4)})
        need.append(pos)
    shifts = roster(need, open_slots, rules)
    n = len(arrivals)
    supply = np.zeros(n, dtype=np.int64)
    for t, c in shifts:
        supply += c * t.covers(n)
    for row, s in zip(rows, supply, strict=True):
        row["scheduled"] = int(s)
    slot_h = rules.slot_min / 60
    tally: Counter = Counter()
    for t, c in shifts:
        tally[t] += c
    shift_rows = [
        {"start": slot_label(t.start, rules.slot_min),
         "end": slot_label((t.start + t.length) % (n), rules.slot_min)
         if t.start + t.length < n else "24:00",
         "hours": t.length * slot_h,
         "break": None if t.break_start is None else
         f"{slot_label(t.break_start, rules.slot_min)}-"
         f"{slot_label(t.break_start + t.break_len, rules.slot_min)}",
         "agents": c}
        for t, c in sorted(tally.items(), key=lambda x: (x[0].start, -x[0].length,
                                                          x[0].break_start or 0))
    ]
    agent_hours = sum(t.length * c for t, c in shifts) * slot_h
    lower = sum(need) * slot_h
    return {
        "slots": rows,
        "shifts": shift_rows,
        "totals": {
            "forecast": round(sum(arrivals), 1),
            "peak_positions": max(need) if need else 0,
            "agents_rostered": sum(c for _, c in shifts),
            "agent_hours": agent_hours,
            "lower_bound_hours": lower,
            "efficiency": round(lower / agent_hours, 4) if agent_hours else None,
        },
    }
