"""Service rules of a shop, as pure functions: which mode applies now (business hours),
how a customer's orders classify a conversation, and when a customer asks for a human.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from .resources import WEEKDAYS

MAX_MESSAGE_CHARS = 2000


def local_datetime(now_ms: int, timezone: str) -> datetime:
    """``now_ms`` as a datetime in the shop's zone."""
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(ZoneInfo(timezone))


def utc_offset_minutes(now_ms: int, timezone: str) -> int:
    """The zone's offset from UTC at ``now_ms``, in minutes (480 for Asia/Shanghai)."""
    return _offset_at(now_ms // QUARTER_MS, timezone)


QUARTER_MS = 900_000  # zones change offset on quarter hours of UTC (since the LMT days)


@lru_cache(maxsize=1024)
def _offset_at(quarter: int, timezone: str) -> int:
    """The offset through one quarter hour (every post asks it; it changes twice a year)."""
    return int(local_datetime(quarter * QUARTER_MS, timezone).utcoffset().total_seconds()
               // 60)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def within_business_hours(business_hours: dict | None, now_ms: int, timezone: str) -> bool:
    """True when the shop is open at ``now_ms``. No hours set means always open.

    A span like ``"20:00-02:00"`` runs past midnight into the next day; ``"24:00"``
    is the end of the day. A day missing from the mapping is closed.
    """
    if not business_hours:
        return True
    local = local_datetime(now_ms, timezone)
    minute = local.hour * 60 + local.minute
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    span = business_hours.get(today)
    if span and span != "closed":
        start, end = (_minutes(x) for x in span.split("-"))
        if start <= end and start <= minute < end:
            return True
        if start > end and minute >= start:
            return True
    span = business_hours.get(yesterday)
    if span and span != "closed":
        start, end = (_minutes(x) for x in span.split("-"))
        if start > end and minute < end:
            return True
    return False


def effective_mode(shop: dict, now_ms: int) -> str:
    """The service mode in force: ``off_hours_mode`` outside business hours, if set."""
    off = shop.get("off_hours_mode")
    if off and not within_business_hours(shop.get("business_hours"), now_ms, shop["timezone"]):
        return off
    return shop["service_mode"]


def classify(order_statuses_newest_first: list[str]) -> str:
    """Classify a conversation from the customer's orders in the shop (newest first).

    after_sale: a refund is requested on any order; ordered_not_paid: the newest order
    is created but unpaid; paid: the newest live order is paid, shipped or delivered;
    otherwise consulted_not_ordered (no orders, or only cancelled / refunded ones).
    """
    if "refund_requested" in order_statuses_newest_first:
        return "after_sale"
    for status in order_statuses_newest_first:
        if status == "created":
            return "ordered_not_paid"
        if status in ("paid", "shipped", "delivered"):
            return "paid"
    return "consulted_not_ordered"


# Words that make a message after-sale whatever the orders say (a customer writing
# 我要退货 about an order placed elsewhere, or before it shows here).
AFTERSALE_WORDS = ("退货", "退款", "换货", "售后", "维修", "保修", "坏了", "破损", "质量问题",
                   "少发", "漏发", "错发", "投诉", "refund", "return", "broken", "damaged")
PRESALE_WORDS = ("有货", "库存", "尺码", "优惠", "便宜", "多少钱", "价格", "推荐", "适合", "包邮",
                 "什么时候发货", "能发货", "in stock", "discount", "price")


def intent_of(classification: str, text: str = "") -> str | None:
    """Pre-sale or after-sale: after-sale words in the message win (退货, 退款, 坏了 ...),
    then the orders (after-sale orders; none, or unpaid ones: pre-sale), then pre-sale
    words (尺码, 优惠 ...) for a paid customer asking about something new; else None."""
    low = text.lower() if text else ""
    if low and any(w in low for w in AFTERSALE_WORDS):
        return "aftersale"
    if classification == "after_sale":
        return "aftersale"
    if classification in ("consulted_not_ordered", "ordered_not_paid"):
        return "presale"
    if low and any(w in low for w in PRESALE_WORDS):
        return "presale"
    return None


def asks_for_human(text: str, extra_phrases: tuple[str, ...] = ()) -> bool:
    """True when the customer asks for a person (转人工, "talk to a human" ...).

    The phrases have one home: the knowledge bot's list (``cstool.bot``), which the
    bot step also uses, so the desk and the bot never disagree.
    """
    from .bot.decision import is_handoff_request

    return is_handoff_request(text, extra_phrases)
