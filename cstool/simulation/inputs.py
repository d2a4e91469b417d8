"""What a simulated day is given: the arrival curve and the roster per half-hour, and
the conversation model's parameters (pure: no storage, no clock).

Arrival curves are *expected* conversations per half-hour (48 of them); the
simulation draws a Poisson process with that rate, piecewise constant per half-hour.
They come from

* a shape and a total: ``flat``, ``ordinary`` (quiet at night, busy late morning and
  evening: ``cstool.simulation.day_tables.ORDINARY``) or ``promotion`` (a 双11: a midnight
  spike, most of it in the first quarter hour, whose peak hour is ``peak`` times an
  ordinary day's mean hour, and an evening wave: ``day_tables.PROMOTION``);
* a file: ``staffing forecast --json`` (``slots[].arrivals``), ``staffing plan --json``
  (``slots[].forecast``), a CSV with an ``arrivals`` or ``forecast`` column, or 48
  numbers separated by commas, spaces or lines.

A roster says how many agents are on the desk per half-hour: one number for the whole
day, ``HH:MM-HH:MM=N`` spans (``09:00-12:00=20,12:00-24:00=30``; half-hours not named
have nobody), or a file: ``staffing plan --json`` (``slots[].scheduled``) or its
``--csv`` (a ``scheduled`` or ``agents`` column).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput
from .day_tables import ORDINARY, PROMOTION

SLOTS = 48
SLOT_MIN = 30
SLOT_MS = SLOT_MIN * 60_000
DAY_MS = SLOTS * SLOT_MS
CURVES = ("flat", "ordinary", "promotion")
# question mixes (see ``questions``): ordinary day, promotion day, its midnight spike
MIX_ORDINARY, MIX_PROMOTION, MIX_SPIKE = 0, 1, 2
SPIKE_MEAN_MIN = 11.0  # the midnight rush: arrival minute ~ exponential, mean 11 min
MAX_AHT_S = 86_400.0  # a chat's mean handling time: at most a day (staffing's limit)
MAX_TIME_S = 1e9  # any other mean time (patience, replies): ~30 years


@dataclass(frozen=True)
class ConversationModel:
    """How a chat goes once a human has it, and how customers behave (seconds).

    ``aht_s``: mean handling time, assignment to close (exponential); ``patience_s``:
    mean patience while queued (exponential; None: nobody gives up); ``first_reply_s``:
    the agent's first reply after the assignment (at most the handling time);
    ``reply_s``: mean time to answer a later customer turn (exponential);
    ``turn_gap_s``: mean time from an agent reply to the customer's next message
    (exponential; turns that would not be answered before the close are not asked);
    ``handoff_delay_s``: after a "did you mean", the customer asks for a person this
    much later; ``concurrency``: every agent's chat slots (None: each agent's own
    ``max_chats``); ``mode``: the service mode all day (None: the shop's own, with its
    business hours).
    """

    aht_s: float = 300.0
    patience_s: float | None = None
    first_reply_s: float = 5.0
    reply_s: float = 20.0
    turn_gap_s: float = 60.0
    handoff_delay_s: float = 20.0
    concurrency: int | None = None
    mode: str | None = None

    def check(self) -> None:
        """Refuse values that make no sense (InvalidInput). The handling time is at most a
        day, as ``staffing erlang`` takes it; times are at most ``MAX_TIME_S`` (about 30
        years), so every drawn time is a whole number of milliseconds."""
        if not 0 < self.aht_s <= MAX_AHT_S:
            raise InvalidInput(f"aht: must be a positive number of seconds, at most "
                               f"{MAX_AHT_S:,.0f}, got {self.aht_s}",
                               key="sim_aht_range", max=MAX_AHT_S, value=str(self.aht_s))
        for name in ("reply_s", "turn_gap_s"):
            value = getattr(self, name)
            if not 0 < value <= MAX_TIME_S:
                raise InvalidInput(f"{name.removesuffix('_s')}: must be a positive number of "
                                   f"seconds, at most {MAX_TIME_S:g}, got {value}",
                                   key="sim_seconds_positive", name=name.removesuffix('_s'),
                                   max=MAX_TIME_S, value=str(value))
        for name in ("first_reply_s", "handoff_delay_s"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_TIME_S:
                raise InvalidInput(f"{name.removesuffix('_s').replace('_', '-')}: must be 0 or "
                                   f"more seconds, at most {MAX_TIME_S:g}, got {value}",
                                   key="sim_seconds_range",
                                   name=name.removesuffix('_s').replace('_', '-'),
                                   max=MAX_TIME_S, value=str(value))
        if self.patience_s is not None and not 0 < self.patience_s <= MAX_TIME_S:
            raise InvalidInput(f"patience: must be a positive number of seconds, at most "
                               f"{MAX_TIME_S:g} (leave it out: nobody gives up), "
                               f"got {self.patience_s}",
                               key="sim_patience_range", max=MAX_TIME_S, value=str(self.patience_s))
        if self.concurrency is not None and not 1 <= self.concurrency <= 50:
            raise InvalidInput(f"concurrency: must be a whole number from 1 to 50, "
                               f"got {self.concurrency}",
                               key="sim_concurrency_range", value=str(self.concurrency))
        if self.mode is not None and self.mode not in ("bot_first", "bot_only", "human_first",
                                                       "human_only"):
            raise InvalidInput(f"mode: must be bot_first, bot_only, human_first or "
                               f"human_only, got {self.mode!r}",
                               key="sim_mode_one_of", mode=repr(self.mode))


@dataclass(frozen=True)
class Curve:
    """Expected conversations per half-hour, the question mix of each half-hour, and
    where the curve came from (for the report)."""

    arrivals: tuple[float, ...]
    mixes: tuple[int, ...]
    source: str
    peak: float | None = None

    @property
    def total(self) -> float:
        """Expected conversations over the day."""
        return sum(self.arrivals)


def _hours_to_slots(hourly: Sequence[float]) -> list[float]:
    return [h / 2 for h in hourly for _ in range(2)]


def shaped_curve(total: float, shape: str = "ordinary", peak: float | None = None) -> Curve:
    """``total`` expected conversations spread over the day by ``shape`` (see the module
    docstring); ``peak`` is the promotion's peak hour as a multiple of an ordinary day's
    mean hour (default 11)."""
    if not (total >= 0 and math.isfinite(total)):
        raise InvalidInput(f"arrivals: must be 0 or more, got {total}",
                           key="sim_arrivals_negative", value=str(total))
    if shape not in CURVES:
        raise InvalidInput(f"curve: must be one of {', '.join(CURVES)}, got {shape!r}",
                           key="sim_curve_one_of", known=', '.join(CURVES), curve=repr(shape))
    if shape != "promotion" and peak is not None:
        raise InvalidInput("peak: only for the promotion curve", key="sim_peak_promotion_only")
    if shape == "flat":
        weights = [1.0] * SLOTS
        mixes = [MIX_ORDINARY] * SLOTS
    elif shape == "ordinary":
        weights = _hours_to_slots(ORDINARY)
        mixes = [MIX_ORDINARY] * SLOTS
    else:
        peak = 11.0 if peak is None else peak
        if not (2 <= peak <= 40):
            raise InvalidInput(f"peak: must be from 2 to 40 times an ordinary hour, got {peak}",
                               key="sim_peak_range", value=str(peak))
        weights = _hours_to_slots([0.0 if f is None else f for f in PROMOTION])
        # hour 0: the midnight rush, exponential minutes (mean 11) within the hour
        first = (1 - math.exp(-SLOT_MIN / SPIKE_MEAN_MIN)) / (1 - math.exp(-60 / SPIKE_MEAN_MIN))
        weights[0], weights[1] = peak * first, peak * (1 - first)
        mixes = [MIX_SPIKE if i < 6 else MIX_PROMOTION for i in range(SLOTS)]
    scale = total / sum(weights)
    return Curve(tuple(w * scale for w in weights), tuple(mixes), shape, peak)


def curve_from_values(values: Sequence[float], source: str,
                      mixes: Sequence[int] | None = None) -> Curve:
    """A curve from 48 expected counts (one per half-hour)."""
    vals = [float(v) for v in values]
    if len(vals) != SLOTS:
        raise InvalidInput(f"{source}: expected {SLOTS} half-hours of arrivals, got {len(vals)}",
                           key="sim_arrivals_slots", source=str(source), slots=SLOTS, got=len(vals))
    for v in vals:
        if not (v >= 0 and math.isfinite(v)):
            raise InvalidInput(f"{source}: arrivals must be 0 or more, got {v}",
                               key="sim_arrivals_value", source=str(source), value=str(v))
    return Curve(tuple(vals), tuple(mixes or [MIX_ORDINARY] * SLOTS), source)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read ({e.strerror or e})",
                           key="file_unreadable", file=str(path),
                           detail=str(e.strerror or e)) from None


def _json_column(data: object, names: Sequence[str], path: str) -> list[float] | None:
    if isinstance(data, dict) and isinstance(data.get("slots"), list):
        rows = data["slots"]
        for name in names:
            if rows and all(isinstance(r, dict) and name in r for r in rows):
                return [0.0 if r[name] is None else r[name] for r in rows]
        raise InvalidInput(f"{path}: slots have none of {', '.join(names)}",
                           key="sim_slots_no_column", file=str(path), names=', '.join(names))
    if isinstance(data, list) and all(isinstance(v, int | float) for v in data):
        return list(data)
    return None


def _csv_column(text: str, names: Sequence[str], path: str) -> list[float] | None:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(c.strip() in names for c in rows[0]):
        return None
    header = [c.strip() for c in rows[0]]
    col = next(header.index(n) for n in names if n in header)
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            out.append(float(row[col]) if row[col].strip() else 0.0)
        except (ValueError, IndexError):
            raise InvalidInput(f"{path}:{line}: expected a number in column "
                               f"{header[col]!r}",
                               key="sim_not_number_in_column", at=f"{path}:{line}",
                               column=repr(header[col])) from None
    return out


def _numbers(text: str, path: str) -> list[float]:
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"{path}: expected numbers, a CSV with a header or a cstool "
                           "JSON report", key="sim_not_numbers", file=str(path)) from None


def read_column(path: str, names: Sequence[str]) -> list[float]:
    """The first of the ``names`` columns of a cstool JSON report's ``slots``, of a CSV
    with a header, or plain numbers, from the file at ``path``."""
    text = _read(path)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidInput(f"{path}: not valid JSON ({e})",
                               key="sim_not_json", file=str(path), detail=str(e)) from None
        values = _json_column(data, names, path)
        if values is None:
            raise InvalidInput(f"{path}: expected a cstool report with slots, or a list of "
                               "numbers", key="sim_not_report", file=str(path))
        return [float(v) for v in values]
    values = _csv_column(text, names, path)
    return values if values is not None else _numbers(text, path)


def curve_from_file(path: str) -> Curve:
    """A curve read from a file (see the module docstring)."""
    return curve_from_values(read_column(path, ("arrivals", "forecast")), path)


_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*=\s*(\d+)\s*$")


def _slot_of(h: str, m: str, spec: str) -> int:
    minutes = int(h) * 60 + int(m)
    if int(m) >= 60 or minutes > 24 * 60 or minutes % SLOT_MIN:
        raise InvalidInput(f"roster: {spec!r}: times must be on the half-hour, "
                           "00:00 to 24:00", key="roster_half_hour", span=repr(spec))
    return minutes // SLOT_MIN


def roster_parts(spec: str) -> dict:
    """What a roster ``spec`` is, as :func:`parse_roster` reads it: ``{"kind": "agents",
    "agents": n}``, ``{"kind": "spans", "spans": text}`` or ``{"kind": "file", "file":
    path}`` (a description any language can say)."""
    text = spec.strip()
    if text.isdigit():
        return {"kind": "agents", "agents": int(text)}
    if "=" in text and not Path(text).exists():
        return {"kind": "spans", "spans": text}
    return {"kind": "file", "file": text}


def parse_roster(spec: str) -> tuple[list[int], str]:
    """Agents per half-hour from ``spec``: a whole number (all day), ``HH:MM-HH:MM=N``
    spans separated by commas, or a file (see the module docstring). Returns the 48
    counts and a description."""
    text = spec.strip()
    if text.isdigit():
        return [int(text)] * SLOTS, f"{int(text)} agents all day"
    if "=" in text and not Path(text).exists():
        counts = [0] * SLOTS
        for part in text.split(","):
            if not part.strip():
                continue
            m = _SPAN.match(part)
            if m is None:
                raise InvalidInput(f"roster: expected spans like 09:00-18:00=12, got "
                                   f"{part.strip()!r}",
                                   key="roster_span_format", span=repr(part.strip()))
            a = _slot_of(m[1], m[2], part.strip())
            b = _slot_of(m[3], m[4], part.strip())
            if b <= a:
                raise InvalidInput(f"roster: {part.strip()!r}: the end must come after the "
                                   "start", key="roster_end_before_start", span=repr(part.strip()))
            for i in range(a, b):
                counts[i] = int(m[5])
        return counts, f"spans {text}"
    values = read_column(text, ("scheduled", "agents"))
    if len(values) != SLOTS:
        raise InvalidInput(f"{text}: expected {SLOTS} half-hours of agents, got {len(values)}",
                           key="roster_slots", source=str(text), slots=SLOTS, got=len(values))
    counts = []
    for v in values:
        if not (v >= 0 and math.isfinite(v)) or v != int(v):
            raise InvalidInput(f"{text}: agents must be whole numbers 0 or more, got {v}",
                               key="roster_whole_numbers", source=str(text), value=str(v))
        counts.append(int(v))
    return counts, f"file {text}"
