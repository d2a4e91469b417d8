"""A shop's forecast and shift plan for a day, read through any Backend (local file or
server): the use cases behind ``cstool staffing forecast/plan`` and ``simulate
--forecast``. The front ends parse options and print; the history window, the day's
default, which half-hours humans serve and the plan's inputs are decided here.

The engines stay pure (``forecast.py``, ``plan.py``, ``erlang.py``): this module is the
only one of the package that reads a backend, through its public operations
(``desk_profile``, ``arrivals``) and its clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .. import service
from ..errors import InvalidInput
from .forecast import ForecastSettings, check_uplift, forecast_day, history_from_buckets
from .plan import ShiftSettings, StaffingTarget, make_plan

if TYPE_CHECKING:
    from ..api.backend import Backend

DEFAULT_AHT_S = 300.0
# the desk profile reads the shop's whole history: up to the latest time every backend
# takes (9999-12-30 UTC, as the API's time ranges; 2**62 was refused through --api)
END_OF_TIME_MS = 253_402_214_399_999


@dataclass(frozen=True)
class ShopForecast:
    """A forecast of one shop's day: the forecast (``forecast_day``'s dict with the shop
    and its zone), the shop's desk profile it was read with, and the day."""

    result: dict
    profile: dict
    day: date


def local_today(now_ms: int, tz: str) -> date:
    """The date at ``now_ms`` in the IANA zone ``tz``."""
    return datetime.fromtimestamp(now_ms / 1000, tz=ZoneInfo(tz)).date()


def next_day(backend: Backend, tz: str) -> date:
    """Tomorrow in the zone ``tz`` by the backend's clock (the default day to plan)."""
    return local_today(backend.clock.now_ms(), tz) + timedelta(days=1)


def midnight_ms(day: date, tz: str) -> int:
    """The start of ``day`` in the zone ``tz``, UTC epoch milliseconds."""
    return int(datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def check_forecast_options(settings: ForecastSettings, uplift: float | None) -> None:
    """Refuse option values the forecast cannot use (``InvalidInput``), before any read."""
    settings.check()
    check_uplift(uplift)


def forecast_shop_day(backend: Backend, shop: str, day: date | None = None,
                      settings: ForecastSettings | None = None, *,
                      promotion: bool | None = None, uplift: float | None = None,
                      promotion_days: Iterable[date] = (),
                      desk_only: bool = False) -> ShopForecast:
    """Forecast ``shop``'s arrivals per half-hour on ``day`` (default: tomorrow in the
    shop's zone) from the complete days of history before it (``settings.weeks`` weeks
    and the held-back days); ``InvalidInput`` when the shop has no conversation there."""
    settings = settings or ForecastSettings()
    check_forecast_options(settings, uplift)
    profile = backend.desk_profile(shop, 0, END_OF_TIME_MS)
    tz = profile["timezone"]
    now_ms = backend.clock.now_ms()
    today = local_today(now_ms, tz)
    day = day if day is not None else today + timedelta(days=1)
    last = min(day, today) - timedelta(days=1)  # the last complete day before the target
    first = last - timedelta(days=7 * settings.weeks + settings.holdout_days - 1)
    data = backend.arrivals(shop, midnight_ms(first, tz), midnight_ms(last + timedelta(1), tz),
                            settings.slot_min, desk_only=desk_only)
    if data["first"] is None:
        raise InvalidInput(f"shop {shop!r} has no conversations between {first} and {last} "
                           "to forecast from",
                           key="forecast_no_history", shop=shop, first=first, last=last)
    # the history runs from the first to the last day with a recorded conversation
    first_seen = local_today(data["first"], tz)
    last_seen = local_today(data["last"], tz)
    history = history_from_buckets(data["buckets"], tz, max(first, first_seen),
                                   min(last, last_seen), settings.slot_min)
    result = forecast_day(history, day, settings, promotion=promotion, uplift=uplift,
                          promotion_days=list(promotion_days))
    return ShopForecast({"shop": shop, "timezone": tz, **result}, profile, day)


def human_slots(profile: dict, start_ms: int, slots: int, slot_min: int) -> list[bool]:
    """Per slot from ``start_ms``: whether humans serve then (the shop's service mode by
    its business hours is anything but ``bot_only``)."""
    shop_info = {"service_mode": profile["service_mode"],
                 "off_hours_mode": profile["off_hours_mode"],
                 "business_hours": profile["business_hours"], "timezone": profile["timezone"]}
    slot_ms = slot_min * 60_000
    return [service.effective_mode(shop_info, start_ms + i * slot_ms) != "bot_only"
            for i in range(slots)]


def check_plan_options(target: StaffingTarget, rules: ShiftSettings, aht_s: float | None,
                       concurrency: int | None) -> None:
    """Refuse plan option values that cannot be used (``InvalidInput``), before any read
    (a missing ``aht_s`` or ``concurrency`` is checked as its default)."""
    rules.check()
    replace(target, aht_s=DEFAULT_AHT_S if aht_s is None else aht_s,
            concurrency=1 if concurrency is None else concurrency).check()


def plan_shop_day(backend: Backend, shop: str, day: date | None, target: StaffingTarget,
                  rules: ShiftSettings, *, aht_s: float | None = None,
                  concurrency: int | None = None, all_day: bool = False,
                  settings: ForecastSettings | None = None, promotion: bool | None = None,
                  uplift: float | None = None, promotion_days: Iterable[date] = (),
                  desk_only: bool = False) -> dict[str, Any]:
    """Plan ``shop``'s day: the forecast, agents per half-hour (Erlang) and shifts.

    ``target`` gives the service goal, patience, occupancy cap and shrinkage; its
    ``aht_s`` and ``concurrency`` are replaced by ``aht_s`` / ``concurrency`` when given,
    else by the shop's history (its mean handling time, its agents' ``max_chats``),
    else 300 s and 1. Half-hours when only the bot serves need nobody unless
    ``all_day``. The option values are checked first (``InvalidInput``)."""
    check_plan_options(target, rules, aht_s, concurrency)
    fc = forecast_shop_day(backend, shop, day, settings, promotion=promotion, uplift=uplift,
                           promotion_days=promotion_days, desk_only=desk_only)
    profile = fc.profile
    aht = aht_s if aht_s is not None else (profile["handle_s"] or DEFAULT_AHT_S)
    conc = concurrency if concurrency is not None else (profile["concurrency"] or 1)
    slots = fc.result["slots"]
    if all_day:
        open_slots = [True] * len(slots)
    else:
        open_slots = human_slots(profile, midnight_ms(fc.day, profile["timezone"]),
                                 len(slots), rules.slot_min)
    goal = replace(target, aht_s=aht, concurrency=conc)
    plan = make_plan([s["arrivals"] for s in slots], open_slots, goal, rules)
    return {
        "shop": shop,
        "date": fc.result["date"],
        "promotion": fc.result["promotion"],
        "inputs": {"service_level": goal.service_level, "target_s": goal.target_s,
                   "aht_s": aht, "concurrency": conc, "patience_s": goal.patience_s,
                   "shrinkage": goal.shrinkage, "max_occupancy": goal.max_occupancy,
                   "shift_hours": list(rules.shift_hours), "break_min": rules.break_min,
                   "break_after_h": rules.break_after_h,
                   "aht_from": "option" if aht_s is not None else
                   ("history" if profile["handle_s"] else "default"),
                   "concurrency_from": "option" if concurrency is not None else
                   ("agents" if profile["concurrency"] else "default")},
        **plan,
        "forecast_accuracy": fc.result["accuracy"],
    }
