"""Arrivals per half-hour for one day, from a shop's history of conversations.

The model (multiplicative, one day ahead or more):

    forecast(day, slot) = level x weekday_factor[wd] x shape[wd][slot] x (uplift if promotion)

- **Promotion days** in the history are set aside first: the mall's festival days
  (``promo_calendar``, 6.18 / 11.11 / 12.12 by default), dates passed explicitly, and
  any day whose total exceeds ``promo_threshold`` x the median day (an unannounced
  peak). They never shape the baseline.
- **Weekly seasonality**: ``weekday_factor`` is the mean total of that weekday over
  the mean total of all baseline days in the last ``weeks`` weeks.
- **Level**: simple exponential smoothing (``alpha``) of the deseasonalised daily
  totals ``total / weekday_factor``, started from the first week's mean, so a trend
  up or down is followed with a lag of about 1/alpha days.
- **Same-weekday profile**: ``shape[wd]`` is the share of the day's arrivals in each
  half-hour on that weekday, recency-weighted (``shape_decay`` per week back).
- **Promotion uplift**: the median ratio actual/expected over the promotion days seen
  in the history, or ``default_uplift`` (an 11.11 peak runs 8-14 x the baseline) when
  none was seen; a promotion day takes the intraday shape of past promotion days
  when there are any (11.11 peaks at midnight, not mid-morning).
- **Accuracy**: the last ``holdout_days`` days are held back, the model is fitted on
  the days before them, and the forecast is scored against what happened:
  MAPE over half-hours with arrivals, WAPE (sum |error| / sum actual, which small
  counts do not blow up) and the MAPE of daily totals. Promotion days are not scored.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..errors import InvalidInput

DEFAULT_PROMO_CALENDAR = ("06-18", "11-11", "12-12")
MAX_WEEKS = 520  # ten years of history
MAX_HOLDOUT_DAYS = 366
MAX_UPLIFT = 1000.0  # a promotion day at most 1,000 x an ordinary one (an 11.11: 8-14)


@dataclass(frozen=True)
class ForecastSettings:
    """Knobs of the forecast (defaults suit a shop with a few weeks of history)."""

    slot_min: int = 30
    weeks: int = 8
    alpha: float = 0.3
    shape_decay: float = 0.8
    promo_threshold: float = 3.0
    default_uplift: float = 10.0
    holdout_days: int = 7
    promo_calendar: tuple[str, ...] = DEFAULT_PROMO_CALENDAR

    @property
    def slots(self) -> int:
        """Slots in a day."""
        return 24 * 60 // self.slot_min

    def check(self) -> None:
        """Refuse settings that make no sense."""
        if self.slot_min <= 0 or (24 * 60) % self.slot_min:
            raise InvalidInput("the slot length must divide a day (e.g. 15, 30 or 60 minutes)",
                               key="slot_length_divides_day")
        if not 0 < self.alpha <= 1:
            raise InvalidInput("alpha must be above 0 and at most 1", key="alpha_range")
        if not 1 <= self.weeks <= MAX_WEEKS or not 0 <= self.holdout_days <= MAX_HOLDOUT_DAYS:
            raise InvalidInput(f"weeks must be from 1 to {MAX_WEEKS} and holdout days from 0 "
                               f"to {MAX_HOLDOUT_DAYS}",
                               key="forecast_weeks_range", weeks=MAX_WEEKS,
                               holdout=MAX_HOLDOUT_DAYS)
        if not 0 < self.default_uplift <= MAX_UPLIFT or not self.promo_threshold > 1:
            raise InvalidInput("the uplift must be positive and the peak threshold above 1",
                               key="uplift_threshold_bad")


History = Mapping[date, Sequence[float]]  # local day -> arrivals per slot


def history_from_buckets(buckets: Iterable[tuple[int, int]], timezone: str, first: date,
                         last: date, slot_min: int = 30) -> dict[date, list[float]]:
    """Per local day from ``first`` to ``last`` (inclusive), arrivals per slot, from
    (bucket start UTC ms, count) pairs; days without arrivals are zeros."""
    zone = ZoneInfo(timezone)
    slots = 24 * 60 // slot_min
    days: dict[date, list[float]] = {}
    d = first
    while d <= last:
        days[d] = [0.0] * slots
        d += timedelta(days=1)
    for start_ms, count in buckets:
        local = datetime.fromtimestamp(start_ms / 1000, tz=UTC).astimezone(zone)
        row = days.get(local.date())
        if row is not None:
            row[(local.hour * 60 + local.minute) // slot_min] += count
    return days


@dataclass
class Model:
    """A fitted forecast."""

    settings: ForecastSettings
    level: float
    weekday_factor: list[float]
    shape: list[list[float]]  # per weekday (0 = Monday)
    uplift: float
    uplift_seen: int  # promotion days the uplift was estimated from
    promo_shape: list[float] | None
    promotion_days: list[date] = field(default_factory=list)
    baseline_days: int = 0

    def is_promotion(self, day: date, explicit: Iterable[date] = ()) -> bool:
        """A festival day of the calendar, or one of ``explicit``."""
        return day.strftime("%m-%d") in self.settings.promo_calendar or day in set(explicit)

    def predict(self, day: date, *, promotion: bool | None = None,
                uplift: float | None = None) -> list[float]:
        """Arrivals per slot on ``day``; ``promotion`` None = decide by the calendar."""
        wd = day.weekday()
        promo = self.is_promotion(day) if promotion is None else promotion
        total = self.level * self.weekday_factor[wd]
        shape = self.shape[wd]
        if promo:
            total *= uplift if uplift is not None else self.uplift
            shape = self.promo_shape or shape
        return [total * s for s in shape]


def _promotion_days(history: History, settings: ForecastSettings,
                    explicit: Iterable[date]) -> set[date]:
    explicit = set(explicit)
    totals = [sum(v) for v in history.values() if sum(v) > 0]
    median = statistics.median(totals) if totals else 0.0
    flagged = set()
    for d, values in history.items():
        if (d in explicit or d.strftime("%m-%d") in settings.promo_calendar
                or (median > 0 and sum(values) > settings.promo_threshold * median)):
            flagged.add(d)
    return flagged


def fit(history: History, settings: ForecastSettings | None = None,
        promotion_days: Iterable[date] = ()) -> Model:
    """Fit the model to ``history`` (local day -> arrivals per slot)."""
    s = settings or ForecastSettings()
    s.check()
    n = s.slots
    for d, values in history.items():
        if len(values) != n:
            raise InvalidInput(f"{d}: expected {n} slots, got {len(values)}",
                               key="forecast_day_slots", day=str(d), slots=n, got=len(values))
    if not history:
        raise InvalidInput("no history to forecast from", key="forecast_no_history_given")
    promo = _promotion_days(history, s, promotion_days)
    last = max(history)
    window_start = last - timedelta(days=7 * s.weeks - 1)
    base = sorted(d for d in history if d not in promo and d >= window_start)
    if not base:
        raise InvalidInput("no ordinary (non-promotion) days in the history window",
                           key="forecast_no_ordinary_days")
    totals = {d: float(sum(history[d])) for d in base}

    # weekly seasonality
    by_wd: dict[int, list[float]] = {}
    for d in base:
        by_wd.setdefault(d.weekday(), []).append(totals[d])
    overall = statistics.fmean(totals.values())
    factor = [1.0] * 7
    if overall > 0:
        for wd, values in by_wd.items():
            factor[wd] = statistics.fmean(values) / overall
        present = [factor[wd] for wd in by_wd]
        norm = statistics.fmean(present)
        factor = [f / norm if wd in by_wd else 1.0 for wd, f in enumerate(factor)]

    # level: exponential smoothing of deseasonalised totals
    deseason = [totals[d] / factor[d.weekday()] if factor[d.weekday()] > 0 else 0.0
                for d in base]
    level = statistics.fmean(deseason[:7])
    level_at: dict[date, float] = {}
    for d, y in zip(base, deseason, strict=True):
        level_at[d] = level
        level = s.alpha * y + (1 - s.alpha) * level

    # same-weekday intraday shapes, recency-weighted
    def shape_of(days: Sequence[date]) -> list[float] | None:
        acc = [0.0] * n
        weight_total = 0.0
        for d in days:
            weight = s.shape_decay ** ((last - d).days // 7)
            row = history[d]
            for i in range(n):
                acc[i] += weight * row[i]
            weight_total += weight * sum(row)
        if weight_total <= 0:
            return None
        return [v / weight_total for v in acc]

    all_shape = shape_of(base) or [1.0 / n] * n
    shapes = []
    for wd in range(7):
        shapes.append(shape_of([d for d in base if d.weekday() == wd]) or all_shape)

    # promotion uplift, from past promotion days against what they would have been
    ratios = []
    promo_rows = []
    for d in sorted(promo):
        expected = _level_before(level_at, d, level) * factor[d.weekday()]
        total = sum(history[d])
        if expected > 0 and total > 0:
            ratios.append(total / expected)
            promo_rows.append(d)
    uplift = statistics.median(ratios) if ratios else s.default_uplift
    promo_shape = shape_of(promo_rows) if promo_rows else None
    return Model(s, level, factor, shapes, uplift, len(ratios), promo_shape,
                 sorted(promo), len(base))


def _level_before(level_at: Mapping[date, float], day: date, final: float) -> float:
    before = [d for d in level_at if d <= day]
    return level_at[max(before)] if before else (level_at[min(level_at)] if level_at else final)


def accuracy(history: History, settings: ForecastSettings | None = None,
             promotion_days: Iterable[date] = ()) -> dict:
    """Hold back the last ``holdout_days`` days, fit on the rest, and score the forecast
    of the held-back ordinary days: MAPE (half-hours with arrivals), WAPE, daily MAPE."""
    s = settings or ForecastSettings()
    promotion_days = list(promotion_days)
    days = sorted(history)
    result = {"holdout_days": 0, "mape": None, "wape": None, "daily_mape": None}
    if s.holdout_days <= 0 or len(days) < s.holdout_days + 7:
        return result
    cut = days[-s.holdout_days]
    train = {d: history[d] for d in days if d < cut}
    try:
        model = fit(train, s, promotion_days)
    except InvalidInput:
        return result
    promo = _promotion_days(history, s, promotion_days)
    ape: list[float] = []
    abs_err = actual_sum = 0.0
    daily: list[float] = []
    scored = 0
    for d in days:
        if d < cut or d in promo:
            continue
        predicted = model.predict(d, promotion=False)
        actual = history[d]
        scored += 1
        for f, a in zip(predicted, actual, strict=True):
            abs_err += abs(f - a)
            actual_sum += a
            if a > 0:
                ape.append(abs(f - a) / a)
        if sum(actual) > 0:
            daily.append(abs(sum(predicted) - sum(actual)) / sum(actual))
    result["holdout_days"] = scored
    if ape:
        result["mape"] = round(100 * statistics.fmean(ape), 2)
    if actual_sum > 0:
        result["wape"] = round(100 * abs_err / actual_sum, 2)
    if daily:
        result["daily_mape"] = round(100 * statistics.fmean(daily), 2)
    return result


def slot_label(i: int, slot_min: int = 30) -> str:
    """``HH:MM`` of slot ``i``."""
    minutes = i * slot_min
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_uplift(uplift: float | None) -> None:
    """Refuse a promotion uplift that is not a multiplier above 0 and at most
    ``MAX_UPLIFT``."""
    if uplift is not None and not 0 < uplift <= MAX_UPLIFT:
        raise InvalidInput(f"the uplift must be a positive number, at most {MAX_UPLIFT:g}, "
                           f"got {uplift}",
                           key="uplift_range", max=f"{MAX_UPLIFT:g}", value=str(uplift))


def forecast_day(history: History, day: date, settings: ForecastSettings | None = None, *,
                 promotion: bool | None = None, uplift: float | None = None,
                 promotion_days: Iterable[date] = ()) -> dict:
    """The forecast for ``day`` from the history before it, with its accuracy on
    held-back days: a JSON-ready dict."""
    s = settings or ForecastSettings()
    s.check()
    check_uplift(uplift)
    promotion_days = list(promotion_days)
    past = {d: v for d, v in history.items() if d < day}
    model = fit(past, s, promotion_days)
    promo = model.is_promotion(day, promotion_days) if promotion is None else promotion
    values = model.predict(day, promotion=promo, uplift=uplift)
    return {
        "date": day.isoformat(),
        "weekday": day.strftime("%a"),
        "promotion": promo,
        "uplift": round(uplift if uplift is not None else model.uplift, 3) if promo else None,
        "total": round(sum(values), 1),
        "slots": [{"start": slot_label(i, s.slot_min), "arrivals": round(v, 2)}
                  for i, v in enumerate(values)],
        "model": {
            "level": round(model.level, 2),
            "weekday_factor": [round(f, 4) for f in model.weekday_factor],
            "uplift_from_history": round(model.uplift, 3),
            "uplift_days_seen": model.uplift_seen,
        },
        "history": {
            "from": min(past).isoformat(),
            "to": max(past).isoformat(),
            "days": len(past),
            "baseline_days": model.baseline_days,
            "promotion_days": [d.isoformat() for d in model.promotion_days],
        },
        "accuracy": accuracy(past, s, promotion_days),
    }
