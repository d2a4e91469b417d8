"""SLA arithmetic to the minute: nights, weekends, holidays, make-up workdays (调休),
pauses while waiting on the customer, the wall clock, spans past midnight, DST."""

from __future__ import annotations

import pytest

from cstool.sla import Calendar, deadline, sla_state
from cstool.sla import elapsed_minutes as open_minutes  # calendar arithmetic, not timing
from cstool.values import parse_time

HOURS = {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
HOURS["sat"] = "10:00-16:00"
SHOP = Calendar.from_settings(
    "Asia/Shanghai", HOURS,
    holidays=[f"2026-10-0{d}" for d in range(1, 8)],  # 国庆 National Day week
    workdays={"2026-09-27": "mon", "2026-10-10": "mon"},  # 调休: a Sunday and a Saturday
)


def t(text: str) -> int:
    return parse_time(text)


@pytest.mark.parametrize("start, minutes, expected", [
    # Friday evening: one hour left today, the rest on Saturday morning
    ("2026-11-20T17:00:00+08:00", 120, "2026-11-21T11:00:00+08:00"),
    # raised at night: the clock starts at Saturday's opening
    ("2026-11-20T20:00:00+08:00", 30, "2026-11-21T10:30:00+08:00"),
    # Saturday afternoon over a closed Sunday to Monday morning
    ("2026-11-21T15:30:00+08:00", 60, "2026-11-23T09:30:00+08:00"),
    # the eve of National Day: the week off is skipped
    ("2026-09-30T17:30:00+08:00", 60, "2026-10-08T09:30:00+08:00"),
    # a Sunday worked as a Monday (调休)
    ("2026-09-26T15:00:00+08:00", 120, "2026-09-27T10:00:00+08:00"),
    # a Saturday worked as a Monday keeps Monday's hours (from 09:00, to 18:00)
    ("2026-10-10T08:00:00+08:00", 600, "2026-10-12T10:00:00+08:00"),
    # exactly at closing time: nothing left today
    ("2026-11-23T18:00:00+08:00", 1, "2026-11-24T09:01:00+08:00"),
    # zero minutes: due at once
    ("2026-11-22T03:00:00+08:00", 0, "2026-11-22T03:00:00+08:00"),
])
def test_business_hours_deadlines(start, minutes, expected):
    assert deadline(SHOP, t(start), minutes) == t(expected)


def test_pause_while_waiting_on_the_customer_stops_the_clock():
    start = t("2026-11-23T09:00:00+08:00")
    pauses = [(t("2026-11-23T10:00:00+08:00"), t("2026-11-23T11:30:00+08:00"))]
    assert deadline(SHOP, start, 240, pauses) == t("2026-11-23T14:30:00+08:00")


def test_a_pause_still_open_runs_until_now():
    start = t("2026-11-23T09:00:00+08:00")
    pauses = [(t("2026-11-23T10:00:00+08:00"), None)]
    now = t("2026-11-23T12:00:00+08:00")
    assert deadline(SHOP, start, 240, pauses, now_ms=now) == t("2026-11-23T15:00:00+08:00")


def test_pause_over_a_night_and_overlapping_pauses():
    start = t("2026-11-23T17:00:00+08:00")
    pauses = [(t("2026-11-23T17:30:00+08:00"), t("2026-11-24T09:15:00+08:00")),
              (t("2026-11-24T09:00:00+08:00"), t("2026-11-24T09:30:00+08:00"))]
    # 30 min on Monday, then from Tuesday 09:30
    assert deadline(SHOP, start, 90, pauses) == t("2026-11-24T10:30:00+08:00")


def test_wall_clock_counts_every_minute():
    wall = Calendar.wall_clock()
    assert deadline(wall, t("2026-11-20T20:00:00+08:00"), 120) == t("2026-11-20T22:00:00+08:00")
    assert open_minutes(wall, t("2026-11-20T20:00:00+08:00"),
                           t("2026-11-21T20:00:00+08:00")) == 1440


def test_a_span_past_midnight_belongs_to_its_start_day():
    night = Calendar.from_settings("Asia/Shanghai", {"fri": "20:00-02:00"})
    assert deadline(night, t("2026-11-20T23:00:00+08:00"), 120) == t("2026-11-21T01:00:00+08:00")
    # Saturday 01:00 is still Friday night's span
    assert night.is_open(t("2026-11-21T01:30:00+08:00"))
    assert not night.is_open(t("2026-11-21T02:30:00+08:00"))


def test_daylight_saving_day_has_23_hours():
    berlin = Calendar.from_settings("Europe/Berlin", {d: "00:00-24:00" for d in
                                                      ("mon", "tue", "wed", "thu", "fri", "sat",
                                                       "sun")})
    assert deadline(berlin, t("2026-03-28T12:00:00+01:00"), 1440) == \
        t("2026-03-29T13:00:00+02:00")


def test_elapsed_open_minutes():
    assert open_minutes(SHOP, t("2026-11-20T17:00:00+08:00"),
                           t("2026-11-23T10:00:00+08:00")) == 60 + 360 + 60
    assert open_minutes(SHOP, t("2026-09-30T12:00:00+08:00"),
                           t("2026-10-08T12:00:00+08:00")) == 360 + 180
    assert open_minutes(SHOP, t("2026-11-23T10:00:00+08:00"),
                           t("2026-11-23T09:00:00+08:00")) == 0


def test_sla_state_warns_at_80_percent_and_breaches():
    start = t("2026-11-23T09:00:00+08:00")
    assert sla_state(SHOP, start, 100, t("2026-11-23T10:19:00+08:00")) == "ok"
    assert sla_state(SHOP, start, 100, t("2026-11-23T10:20:00+08:00")) == "warning"
    assert sla_state(SHOP, start, 100, t("2026-11-23T10:40:00+08:00")) == "breached"
    assert sla_state(SHOP, start, 100, t("2026-11-23T12:00:00+08:00"),
                     done_ms=t("2026-11-23T10:30:00+08:00")) == "met"
    # the night does not count: raised Monday 17:30, checked Tuesday 09:10 = 40 minutes
    assert sla_state(SHOP, t("2026-11-23T17:30:00+08:00"), 50,
                     t("2026-11-24T09:10:00+08:00")) == "warning"


def test_a_calendar_that_never_opens_is_an_error():
    with pytest.raises(ValueError, match="no open time"):
        deadline(Calendar.from_settings("Asia/Shanghai", {"mon": "closed"}),
                 t("2026-11-20T10:00:00+08:00"), 10)
