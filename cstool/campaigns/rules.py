"""The pure rules of campaigns: trigger defaults, quiet hours, holdout, opt-out words.

No storage and no clock here: the backend passes times in and gets decisions out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from ..service import local_datetime

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Trigger:
    """What a trigger is and its defaults: minutes after the fact it falls due, and how
    long after falling due it may still be sent (later it is dropped as stale)."""

    name: str
    label: str
    delay_min: int
    expires_min: int
    rank: int  # who goes first when the frequency cap leaves room for one


TRIGGERS: dict[str, Trigger] = {t.name: t for t in (
    Trigger("payment_reminder", "催付", 30, 24 * 60, 0),
    Trigger("order_nudge", "催拍", 5, 120, 1),
    Trigger("price_drop", "降价提醒", 0, 72 * 60, 2),
    Trigger("related_offer", "关联推荐", 60, 72 * 60, 3),
    Trigger("order_shipped", "发货通知", 0, 24 * 60, 4),
    Trigger("follow_up", "追单", 7 * 24 * 60, 72 * 60, 5),
    Trigger("reply_code", "回复口令领券", 0, 0, 6),
)}

# A customer message that is exactly one of these (any case, spaces trimmed) opts out.
OPT_OUT_WORDS = frozenset({"退订", "td", "t d"})
OPT_OUT_REPLY = "已为您退订本店的营销与通知消息，此后不再主动发送；您来咨询时客服照常为您服务。"
CODE_MAX_LEN = 32
# Ticket types that make a customer's chats sensitive while the ticket is open.
SENSITIVE_TICKET_TYPES = ("complaint", "return_refund", "damaged_goods", "delivery_delay",
                          "installation_delay")
SENSITIVE_TAG = "sensitive"


def is_opt_out(text: str) -> bool:
    """True when a customer's message asks to stop campaign messages (退订 / TD)."""
    return " ".join(text.split()).casefold() in OPT_OUT_WORDS


def code_candidate(text: str) -> str | None:
    """The text as a reply code if it could be one (one short word), else None."""
    t = text.strip()
    if not t or len(t) > CODE_MAX_LEN or any(ch.isspace() for ch in t):
        return None
    return t.casefold()


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def quiet_until(spec: str | None, now_ms: int, timezone: str) -> int | None:
    """When the quiet hours that ``now_ms`` falls in end (epoch ms), or None when it is
    not quiet. ``spec`` is ``"HH:MM-HH:MM"`` in shop time and may span midnight
    (``"22:00-08:00"``); None or an empty span means never quiet."""
    if not spec:
        return None
    start, end = (_minutes(x) for x in spec.split("-"))
    if start == end:
        return None
    local = local_datetime(now_ms, timezone)
    minute = local.hour * 60 + local.minute
    if start < end:
        quiet = start <= minute < end
    else:
        quiet = minute >= start or minute < end
    if not quiet:
        return None
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        end_at = midnight + timedelta(minutes=end)
        if end_at <= local:
            end_at += timedelta(days=1)
    except OverflowError:  # the last day of year 9999: quiet to the end of time
        return now_ms + 86_400_000
    return int(end_at.timestamp() * 1000)


def in_holdout(campaign_key: str, customer_key: str, share: float) -> bool:
    """Whether the customer is in the campaign's holdout: a stable hash of the two keys,
    so a customer stays on one side of a campaign for every trigger."""
    if share <= 0:
        return False
    digest = hashlib.blake2b(f"{campaign_key}\x1f{customer_key}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def classify_statuses(statuses_newest_first: list[str]) -> str:
    """The customer's classification from their order statuses (as conversations)."""
    from ..service import classify

    return classify(statuses_newest_first)
