"""The facts routing conditions can test, and how a facts dict is prepared.

A *facts* dict describes one incoming chat: who the customer is, how they
arrived, what they wrote. Keys are dotted field names (``"customer.level"``);
a nested form (``{"customer": {"level": 3}}``) is accepted and flattened.
Missing fields are simply absent (or ``None``); conditions treat them as "not set".

``KNOWN_FIELDS`` is the one list of fields a rule may name; a README or
``cstool route fields`` can print it with :func:`format_known_fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Customer levels run 0 (new) .. 5 (top VIP).
CUSTOMER_LEVELS = (0, 5)
CONVERSATION_CHANNELS = ("app", "mini_program", "h5", "pc", "web")
INTENTS = ("presale", "aftersale")
CLASSIFICATIONS = ("consulted_not_ordered", "ordered_not_paid", "paid", "after_sale")
ORDER_STATUSES = ("created", "paid", "shipped", "delivered", "refund_requested", "refunded",
                  "cancelled")
#: Agent levels named in docs/DESIGN.md (§3 "Domain"); ``{"level": [...]}`` targets use these.
AGENT_LEVELS = ("junior", "senior", "expert")
#: China Standard Time: shop-local time when the caller does not say otherwise.
DEFAULT_UTC_OFFSET_MINUTES = 480


@dataclass(frozen=True)
class FieldSpec:
    """What a known field holds.

    ``type`` is one of ``int``, ``number``, ``bool``, ``str``, ``handle`` (an
    agent handle, compared like a string), ``enum`` (one of ``choices``) or
    ``list`` (a list of strings). ``low``/``high`` bound ``int`` fields.
    """

    type: str
    doc: str
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None


KNOWN_FIELDS: dict[str, FieldSpec] = {
    "customer.level": FieldSpec("int", "customer level in this shop, 0 (new) .. 5 (top VIP)",
                                low=0, high=5),
    "customer.tags": FieldSpec("list", "customer tags, e.g. [新客, VIP, 高风险]"),
    "customer.region": FieldSpec("str", "province + city, e.g. 浙江杭州"),
    "customer.channel": FieldSpec("enum", "the customer's usual client",
                                  choices=CONVERSATION_CHANNELS),
    "customer.is_returning": FieldSpec("bool", "has been served by this shop before"),
    "customer.last_agent": FieldSpec("handle", "handle of the agent who served them last"),
    "customer.days_since_last_served": FieldSpec(
        "number", "days since their last served conversation; None when never served"),
    "customer.dedicated_agent": FieldSpec("handle", "handle of their own (VIP) agent, if any"),
    "customer.spend": FieldSpec("number", "total spend in this shop, yuan"),
    "customer.order_count": FieldSpec("int", "number of orders in this shop", low=0),
    "conversation.channel": FieldSpec("enum", "client the chat came from",
                                      choices=CONVERSATION_CHANNELS),
    "conversation.entry_page": FieldSpec("str", "page the chat was opened from, e.g. "
                                                "product_detail, order_detail, cart, home"),
    "conversation.source": FieldSpec("str", "traffic source, e.g. search, ad, live, share"),
    "conversation.search_keyword": FieldSpec("str", "search term that led to the shop"),
    "conversation.time_on_site_s": FieldSpec("number", "seconds on site before opening the chat"),
    "conversation.pages_viewed": FieldSpec("int", "pages viewed before opening the chat", low=0),
    "conversation.intent": FieldSpec("enum", "pre-sale or after-sale; None when unknown",
                                     choices=INTENTS),
    "conversation.classification": FieldSpec("enum", "computed from the customer's orders",
                                             choices=CLASSIFICATIONS),
    "message.text": FieldSpec("str", "the customer's first message (routed later, e.g. after "
                              "the bot: all they wrote so far, a line each)"),
    "order.latest_status": FieldSpec("enum", "status of the customer's latest order",
                                     choices=ORDER_STATUSES),
    "product.category": FieldSpec("str", "category of the product the chat is about"),
    "time.hour": FieldSpec("int", "shop-local hour 0..23 (filled from now_ms if absent)",
                           low=0, high=23),
    "time.weekday": FieldSpec("int", "shop-local ISO weekday 1 (Monday) .. 7 (Sunday) "
                                     "(filled from now_ms if absent)", low=1, high=7),
}


def known_fields() -> list[dict[str, Any]]:
    """The known fields as records: name, type, choices or range, operators, description."""
    from .conditions import OPERATORS_BY_TYPE

    out = []
    for name, spec in KNOWN_FIELDS.items():
        item: dict[str, Any] = {"field": name, "type": spec.type}
        if spec.choices:
            item["choices"] = list(spec.choices)
        if spec.low is not None and spec.high is not None:
            item["range"] = [spec.low, spec.high]
        item["operators"] = list(OPERATORS_BY_TYPE.get(spec.type, ()))
        item["description"] = spec.doc
        out.append(item)
    return out


def format_known_fields() -> str:
    """Return the known fields as aligned ``name  type  operators  description`` lines."""
    lines = []
    width = max(len(name) for name in KNOWN_FIELDS)
    for item in known_fields():
        kind = item["type"]
        if "choices" in item:
            kind = "|".join(item["choices"])
        elif "range" in item:
            kind = f"{item['type']} {item['range'][0]}..{item['range'][1]}"
        ops = " ".join(item["operators"])
        lines.append(f"{item['field'].ljust(width)}  {kind:<28}  {item['description']}\n"
                     f"{'':{width}}  operators: {ops}")
    return "\n".join(lines)


def local_time_facts(now_ms: int, utc_offset_minutes: int = DEFAULT_UTC_OFFSET_MINUTES
                     ) -> tuple[int, int]:
    """Return ``(hour 0..23, ISO weekday 1..7)`` of ``now_ms`` at the given UTC offset."""
    local_s = now_ms // 1000 + utc_offset_minutes * 60
    hour = (local_s // 3600) % 24
    # 1970-01-01 was a Thursday (ISO 4).
    weekday = (local_s // 86400 + 3) % 7 + 1
    return hour, weekday


def prepare_facts(facts: Mapping[str, Any] | None, now_ms: int,
                  utc_offset_minutes: int = DEFAULT_UTC_OFFSET_MINUTES) -> dict[str, Any]:
    """Return a fresh flat facts dict, with ``time.hour``/``time.weekday`` filled in.

    Nested sections (``{"customer": {"level": 3}}``) are flattened to dotted
    keys; dotted keys are kept as they are. Given time fields win over ``now_ms``.
    """
    flat: dict[str, Any] = dict(facts) if facts else {}
    for key in [k for k in flat if "." not in k]:
        value = flat[key]
        if isinstance(value, Mapping):
            del flat[key]
            for sub, sub_value in value.items():
                flat[f"{key}.{sub}"] = sub_value
    if flat.get("time.hour") is None or flat.get("time.weekday") is None:
        hour, weekday = local_time_facts(now_ms, utc_offset_minutes)
        if flat.get("time.hour") is None:
            flat["time.hour"] = hour
        if flat.get("time.weekday") is None:
            flat["time.weekday"] = weekday
    return flat
