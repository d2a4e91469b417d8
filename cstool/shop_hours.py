"""When a shop opens next, and the one line the console shows while it is closed.

Pure functions over a shop record (``business_hours``, ``timezone``, ``off_hours_mode``)
and a time; the console reads them for every shop of its agent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .i18n import t
from .resources import WEEKDAYS
from .service import effective_mode, within_business_hours

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def next_opening(business_hours: dict | None, now_ms: int, timezone: str) -> int | None:
    """The next time after ``now_ms`` (epoch ms) a span of the shop's hours starts; None
    when no hours are set (always open) or every day is closed."""
    if not business_hours:
        return None
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(zone)
    for ahead in range(8):
        day = (local + timedelta(days=ahead)).date()
        span = business_hours.get(WEEKDAYS[day.weekday()])
        if not span or span == "closed":
            continue
        h, m = (int(x) for x in span.split("-")[0].split(":"))
        if h >= 24:
            continue
        start = datetime(day.year, day.month, day.day, h, m, tzinfo=zone)
        at = int(start.timestamp() * 1000)
        if at > now_ms:
            return at
    return None


def _when(at_ms: int, now_ms: int, zone) -> str:
    """``今天 09:00``, ``明天 09:00`` or ``周三 09:00`` (in ``zone``): the customer's
    words, in the shop's language."""
    at = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(zone)
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(zone)
    days = (at.date() - now.date()).days
    day = {0: "今天", 1: "明天"}.get(days, WEEKDAYS_ZH[at.weekday()])
    return f"{day} {at:%H:%M}"


def _staff_when(at_ms: int, now_ms: int, zone) -> str:
    """``today 09:00`` / ``今天 09:00``, tomorrow, or the weekday (in ``zone``), in the
    interface language (staff read it)."""
    at = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(zone)
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(zone)
    days = (at.date() - now.date()).days
    clock = f"{at:%H:%M}"
    if days == 0:
        return t("hours.today", time=clock)
    if days == 1:
        return t("hours.tomorrow", time=clock)
    return t("hours.weekday", day=t(f"hours.day.{at.weekday()}"), time=clock)


def closed_notice(shop: dict, now_ms: int, *, kept_open: bool = False,
                  display_zone=None, compact: bool = False) -> str | None:
    """One line for staff, in the interface language, while ``shop`` is outside its
    business hours (None while it is open): when it opens, in the display zone (and in
    the shop's own time when that differs), and what happens to customers meanwhile.
    ``kept_open``: this process keeps the shop open anyway (the demo's demo hours);
    ``compact``: the display zone's time only (a narrow screen keeps the line whole)."""
    hours = shop.get("business_hours")
    if within_business_hours(hours, now_ms, shop["timezone"]):
        return None
    if display_zone is None:
        from .values import display_zone as zone_of_display

        display_zone = zone_of_display()
    name = shop.get("name") or shop.get("key")
    opens = next_opening(hours, now_ms, shop["timezone"])
    if opens is None:
        when = t("hours.not_this_week")
    else:
        shop_zone = ZoneInfo(shop["timezone"])
        at = datetime.fromtimestamp(opens / 1000, tz=UTC)
        if not compact and (at.astimezone(display_zone).utcoffset()
                            != at.astimezone(shop_zone).utcoffset()):
            when = t("hours.opens_shop_time", when=_staff_when(opens, now_ms, display_zone),
                     shop_when=_staff_when(opens, now_ms, shop_zone))
        else:
            when = t("hours.opens", when=_staff_when(opens, now_ms, display_zone))
    if kept_open:
        meanwhile = t("hours.demo_open")
    elif effective_mode(shop, now_ms) == "bot_only":
        meanwhile = t("hours.bot_now")
    else:
        meanwhile = t("hours.humans_as_usual")
    return t("hours.closed", shop=name, when=when, meanwhile=meanwhile)


OFF_HOURS_REPLY = "现在是机器人服务时段，人工客服上班后会尽快回复您。"


def off_hours_reply(shop: dict, now_ms: int) -> str:
    """What a customer asking for a person outside business hours is told: when people
    are back, in the shop's own time (「人工客服今天 09:00 上班后会尽快回复您」)."""
    opens = next_opening(shop.get("business_hours"), now_ms, shop["timezone"])
    if opens is None:
        return OFF_HOURS_REPLY
    when = _when(opens, now_ms, ZoneInfo(shop["timezone"]))
    return f"现在是机器人服务时段，人工客服{when}上班后会尽快回复您。"
