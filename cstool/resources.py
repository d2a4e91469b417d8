"""The resources of the system and their fields: one description drives validation,
the fixture format's JSON Schema, storage mapping and export.

A record is a plain dict in the *external* form (keys as references, money in
yuan, times as ISO 8601): the form of fixture files, ``--json`` output and the API.
Validation turns it into the *internal* form (money in cents, times in epoch ms,
defaults filled in) that storage writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MISSING: Any = object()

LEVELS = ("junior", "senior", "expert")
ROLES = ("admin", "supervisor", "agent")
AGENT_STATUSES = ("online", "busy", "away", "offline")
SERVICE_MODES = ("bot_only", "bot_first", "human_first", "human_only")
CHANNELS = ("app", "mini_program", "h5", "pc", "web")
GROUP_KINDS = ("presale", "aftersale", "logistics", "vip", "other")
ORDER_STATUSES = (
    "created",
    "paid",
    "shipped",
    "delivered",
    "refund_requested",
    "refunded",
    "cancelled",
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGES = ("zh", "en")
TICKET_TYPES = ("complaint", "return_refund", "damaged_goods", "delivery_delay",
                "installation_delay", "invoice", "other")
PRIORITIES = ("P1", "P2", "P3", "P4")  # of tickets, P1 the most urgent

SHOP_SETTINGS_DEFAULTS = {
    "response_target_s": 180,
    "answer_target_s": 30,
    "idle_close_min": 30,
    "quiet_hours": "22:00-08:00",
    "attribution_window_h": 24,
    # Campaigns: at most this many sends per customer within the window, across all of
    # the shop's campaigns (reply-code answers excepted: the customer asked).
    "campaign_cap": 1,
    "campaign_cap_window_h": 24,
    # The knowledge bot (None: the engine's defaults). Thresholds are calibrated
    # confidences 0..1: answer at or above ``bot_answer_threshold``, offer "did you
    # mean" choices at or above ``bot_suggest_threshold``, else hand off.
    "bot_answer_threshold": None,
    "bot_suggest_threshold": None,
    "bot_synonyms": None,  # ["快递|物流|快件", "退款|退钱"]: the first word is canonical
    "bot_handoff_phrases": None,  # extra phrases that ask for a human
    # An OpenAI-compatible embeddings endpoint used in place of the bundled model
    # (cstool.bot.endpoint); the key is read from the environment variable named here.
    "bot_embeddings_url": None,
    "bot_embeddings_model": None,
    "bot_embeddings_timeout": None,  # seconds (0 < t <= 60), default 2
    "bot_embeddings_key_env": None,
    # The business calendar for SLA clocks (with business_hours): days off, and
    # make-up workdays (调休) mapped to the weekday whose hours they keep.
    "holidays": None,  # ["2026-10-01", "2026-10-02"]
    "workdays": None,  # {"2026-10-10": "mon"}
    # human_first: the bot covers a queued chat (answers what it can, tells the place in
    # the queue) when nobody who may serve it is online, or when the estimated wait is
    # above this many seconds (None: only when nobody is online).
    "bot_cover_after_s": None,
    # The shop's conversation labels (售后-破损, 大促, 投诉 …): when set, only these may be
    # put on its chats and the console's picker offers them (None: any short text).
    "labels": None,
    # Quality inspection (质检): rules switched off, points, word lists, the review
    # sample rate, the low-score threshold (cstool/qa/rules.py; None: the defaults).
    "qa": None,
    # Webhooks (None: the defaults of cstool.services.webhooks): the first retry after
    # this many seconds, doubling (with jitter); attempts stop this many hours after the
    # first (then the delivery is dead-lettered); each POST waits at most this long.
    "webhook_retry_base_s": None,  # 10
    "webhook_retry_window_h": None,  # 24
    "webhook_timeout_s": None,  # 10
    # Files in chats: at most this many MB each (None: the platform's limit,
    # $CSTOOL_MAX_FILE_MB or 10; a shop may set a lower limit, not a higher one).
    "max_file_mb": None,
}


@dataclass(frozen=True)
class Field:
    """One field of a resource.

    ``type`` is one of: str, slug, int, number, money, bool, time, enum, strlist,
    attrs (a map of names to a string or list of strings), ref, reflist, records,
    hours (weekly business hours), settings (shop settings). ``item_max_len`` is the
    longest item of a strlist. ``multiline`` text may hold newlines and tabs; no text
    holds any other control character (``cstool.text_rules``).
    """

    name: str
    type: str
    required: bool = False
    default: Any = MISSING
    choices: tuple = ()
    ref: str | None = None
    min: float | None = None
    max: float | None = None
    max_len: int = 200
    fields: tuple[Field, ...] = ()
    doc: str = ""
    nullable: bool = True
    item_max_len: int = 64
    multiline: bool = False  # text that may hold newlines and tabs (no other controls)
    write_only: bool = False  # stored and written, never read back (a webhook's secret)


@dataclass(frozen=True)
class Kind:
    """A resource: its name in fixture files (plural), its key field and fields."""

    name: str
    singular: str
    key: str
    fields: tuple[Field, ...]
    doc: str = ""
    shop_field: str | None = "shop"
    children: tuple[str, ...] = field(default_factory=tuple)

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _f(name, type_, **kw) -> Field:
    return Field(name, type_, **kw)


SHOP = Kind(
    "shops",
    "shop",
    "key",
    (
        _f("key", "slug", required=True, doc="stable slug"),
        _f("name", "str", required=True, max_len=100),
        _f("service_mode", "enum", choices=SERVICE_MODES, default="human_first"),
        _f("off_hours_mode", "enum", choices=SERVICE_MODES, doc="mode outside business hours"),
        _f("timezone", "str", default="Asia/Shanghai", max_len=64),
        _f("languages", "strlist", default=["zh"], choices=LANGUAGES),
        _f("business_hours", "hours", doc="mon..sun: 'HH:MM-HH:MM' or 'closed'"),
        _f("settings", "settings", default={}),
    ),
    doc="A merchant's store and its service desk.",
    shop_field=None,
)

GROUP = Kind(
    "groups",
    "group",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("name", "str", required=True, max_len=100),
        _f("kind", "enum", choices=GROUP_KINDS, default="other"),
    ),
    doc="A team inside a shop: pre-sale, after-sale, logistics, VIP ...",
)

AGENT = Kind(
    "agents",
    "agent",
    "handle",
    (
        _f("handle", "slug", required=True),
        _f("name", "str", required=True, max_len=100),
        _f("role", "enum", choices=ROLES, default="agent"),
        _f("level", "enum", choices=LEVELS, default="junior"),
        _f("max_chats", "int", default=5, min=1, max=50),
        _f("status", "enum", choices=AGENT_STATUSES, default="offline"),
        _f("skills", "strlist", default=[]),
        _f("shops", "reflist", default=[], ref="shops"),
        _f("groups", "reflist", default=[], ref="groups"),
    ),
    doc="A person at the desk: agent, supervisor or admin.",
    shop_field=None,
)

PROFILE_FIELDS = (
    _f("shop", "ref", required=True, ref="shops"),
    _f("level", "int", default=0, min=0, max=5, doc="membership level V0..V5"),
    _f("tags", "strlist", default=[]),
    _f("region", "str", max_len=64),
    _f("channel", "enum", choices=CHANNELS),
    _f("credit", "int", min=0, max=1000),
    _f("dedicated_agent", "ref", ref="agents"),
    _f("last_agent", "ref", ref="agents"),
    _f("last_served_at", "time"),
    _f("opted_out_at", "time",
       doc="when they replied 退订/TD: no campaign message from this shop (apply keeps it "
           "when absent)"),
)

HELD_COUPON_FIELDS = (
    _f("coupon", "ref", required=True, ref="coupons"),
    _f("issued_at", "time"),
    _f("used_at", "time"),
)

CUSTOMER = Kind(
    "customers",
    "customer",
    "key",
    (
        _f("key", "slug", required=True),
        _f("name", "str", required=True, max_len=100),
        _f("phone", "str", max_len=32),
        _f("email", "str", max_len=200),
        _f("profiles", "records", default=[], fields=PROFILE_FIELDS, doc="one per shop"),
        _f("coupons", "records", default=[], fields=HELD_COUPON_FIELDS, doc="coupons held"),
    ),
    doc="A platform-wide customer with a profile per shop.",
    shop_field=None,
)

PRODUCT = Kind(
    "products",
    "product",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("title", "str", required=True, max_len=200),
        _f("category", "str", max_len=64),
        _f("price", "money", required=True, min=0),
        _f("stock", "int", default=0, min=0),
        _f("attributes", "attrs", default={}),
        _f("status", "enum", choices=("on_sale", "off_shelf"), default="on_sale"),
    ),
    doc="An item a shop sells.",
)

COUPON = Kind(
    "coupons",
    "coupon",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("name", "str", required=True, max_len=100),
        _f("kind", "enum", required=True, choices=("amount", "discount")),
        _f("amount", "money", min=0, doc="yuan off, for kind amount"),
        _f("rate", "number", min=0.01, max=0.99, doc="price factor, for kind discount: 0.9 = 9折"),
        _f("threshold", "money", default=0, min=0, doc="minimum spend"),
        _f("valid_from", "time"),
        _f("valid_to", "time"),
        _f("stackable", "bool", default=True, doc="may combine with promotions"),
    ),
    doc="A coupon a customer can hold and use.",
)

TIER_FIELDS = (
    _f("threshold", "money", required=True, min=0),
    _f("off", "money", required=True, min=0),
)
GIFT_FIELDS = (
    _f("threshold", "money", required=True, min=0),
    _f("product", "ref", required=True, ref="products"),
)

PROMOTION = Kind(
    "promotions",
    "promotion",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("name", "str", required=True, max_len=100),
        _f("kind", "enum", required=True, choices=("full_reduction", "discount", "gift")),
        _f("tiers", "records", fields=TIER_FIELDS, doc="for full_reduction"),
        _f("rate", "number", min=0.01, max=0.99, doc="for discount"),
        _f("gift", "record", fields=GIFT_FIELDS, doc="for gift"),
        _f("products", "reflist", default=[], ref="products"),
        _f("categories", "strlist", default=[]),
        _f("starts_at", "time"),
        _f("ends_at", "time"),
        _f("stackable_with_coupons", "bool", default=True),
    ),
    doc="A shop-wide price rule: full reduction, discount or gift.",
)

ITEM_FIELDS = (
    _f("product", "ref", required=True, ref="products"),
    _f("quantity", "int", default=1, min=1, max=100000),
    _f("price", "money", min=0, doc="unit price charged; default the product's price"),
)
LOGISTICS_FIELDS = (
    _f("at", "time", required=True),
    _f("status", "str", required=True, max_len=64),
    _f("detail", "str", max_len=500, multiline=True),
)

ORDER = Kind(
    "orders",
    "order",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("customer", "ref", required=True, ref="customers"),
        _f("status", "enum", required=True, choices=ORDER_STATUSES),
        _f("created_at", "time", required=True),
        _f("paid_at", "time"),
        _f("shipped_at", "time"),
        _f("delivered_at", "time"),
        _f("items", "records", required=True, fields=ITEM_FIELDS),
        _f("discount", "money", default=0, min=0),
        _f("region", "str", max_len=64),
        _f("carrier", "str", max_len=64),
        _f("tracking_no", "str", max_len=64),
        _f("logistics", "records", default=[], fields=LOGISTICS_FIELDS),
        _f("receiver", "str", max_len=64, doc="who receives the parcel"),
        _f("phone", "str", max_len=32, doc="the receiver's phone"),
        _f("address", "str", max_len=200, doc="where the parcel goes"),
    ),
    doc="A customer's order in one shop, with items, a logistics timeline and where it "
        "goes (receiver, phone, address: changed until it ships).",
)

ROUTING_RULE = Kind(
    "routing_rules",
    "routing_rule",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("position", "int", min=1, max=100000, doc="order in the shop (default: last)"),
        _f("name", "str", max_len=100),
        _f("conditions", "json", default={}, doc="all / any / not / {field, op, value}"),
        _f("target", "json", required=True, doc="agent | group | skill | level | shop"),
        _f("strategy", "enum", choices=("least_load", "round_robin", "longest_idle", "sticky"),
           default="least_load"),
        _f("priority", "int", default=0, min=-1000, max=1000, doc="added to queue priority"),
        _f("when_unavailable", "enum", choices=("queue", "next"), default="queue"),
        _f("enabled", "bool", default=True),
    ),
    doc="An ordered routing rule of a shop: conditions pick a pool and a strategy.",
)

KNOWLEDGE_ENTRY = Kind(
    "knowledge_entries",
    "knowledge_entry",
    "key",
    (
        _f("key", "str", required=True, max_len=100,
           doc="stable key: any text without line breaks (intent names import as they are)"),
        _f("shop", "ref", ref="shops", doc="absent: platform-wide"),
        _f("question", "str", required=True, max_len=1000, multiline=True),
        _f("similar", "strlist", default=[], item_max_len=1000, multiline=True,
           doc="other wordings of the question"),
        _f("answer", "str", required=True, max_len=5000, multiline=True),
        _f("category", "str", max_len=64),
        _f("tags", "strlist", default=[],
           doc="free tags; flow:order_status, flow:product or flow:coupons starts a flow"),
        _f("enabled", "bool", default=True),
    ),
    doc="A question the bot can answer, for one shop or the whole platform.",
)

QUICK_REPLY = Kind(
    "quick_replies",
    "quick_reply",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("agent", "ref", ref="agents", doc="absent: for every agent of the shop"),
        _f("title", "str", required=True, max_len=100),
        _f("body", "str", required=True, max_len=2000, multiline=True),
    ),
    doc="A canned reply agents insert with a key: the shop's, or one agent's own.",
)

MACRO = Kind(
    "macros",
    "macro",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("agent", "ref", ref="agents", doc="absent: for every agent of the shop"),
        _f("name", "str", required=True, max_len=64, doc="what agents pick it by"),
        _f("actions", "json", required=True,
           doc="in order: reply (a quick reply's key), label, priority, transfer (a group), "
               "ticket {type, title, priority}, close (a reason); see cstool/macros.py"),
    ),
    doc="A named sequence of desk actions run on a chat in one go: the shop's, or one "
        "agent's own.",
)

SLA_POLICY = Kind(
    "sla_policies",
    "sla_policy",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("position", "int", min=1, max=100000, doc="order in the shop (first match wins)"),
        _f("name", "str", max_len=100),
        _f("conditions", "json", default={},
           doc="types: [...], priorities: [P1..P4], min_customer_level: 0..5"),
        _f("first_response_min", "int", required=True, min=1, max=100000),
        _f("resolution_min", "int", required=True, min=1, max=1000000),
        _f("clock", "enum", choices=("business", "wall"), default="business"),
        _f("warn_share", "number", default=0.8, min=0.1, max=0.99),
        _f("on_breach", "enum", choices=("notify", "raise_priority", "reassign"),
           default="notify"),
        _f("escalate_to", "ref", ref="agents", doc="for on_breach reassign"),
        _f("enabled", "bool", default=True),
    ),
    doc="A shop's SLA targets for the tickets its conditions select.",
)

CART_ITEM = Kind(
    "cart_items",
    "cart_item",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("customer", "ref", required=True, ref="customers"),
        _f("product", "ref", required=True, ref="products"),
        _f("quantity", "int", default=1, min=1, max=100000),
        _f("price", "money", min=0, doc="unit price when carted; default the product's price"),
        _f("added_at", "time", required=True),
    ),
    doc="An item in a customer's cart (price-drop notices compare prices with it).",
)

CAMPAIGN_TRIGGERS = ("order_nudge", "payment_reminder", "order_shipped", "price_drop",
                     "related_offer", "reply_code", "follow_up")
CLASSIFICATIONS = ("consulted_not_ordered", "ordered_not_paid", "paid", "after_sale")

CAMPAIGN = Kind(
    "campaigns",
    "campaign",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops"),
        _f("name", "str", required=True, max_len=100),
        _f("trigger", "enum", required=True, choices=CAMPAIGN_TRIGGERS,
           doc="order_nudge 催拍, payment_reminder 催付, order_shipped, price_drop, "
               "related_offer, reply_code, follow_up 追单"),
        _f("status", "enum", choices=("active", "paused"),
           doc="default active (follow_up: paused, it annoys)"),
        _f("template", "str", required=True, max_len=500, multiline=True,
           doc="text with {name} {shop} {product} {price} {price_after_discount} {coupon} "
               "{order} {carrier} {tracking_no} {code}"),
        _f("delay_min", "int", min=0, max=525600,
           doc="minutes after the trigger (default by trigger)"),
        _f("expires_min", "int", min=1, max=525600,
           doc="a trigger not sent this long after it fell due is dropped"),
        _f("coupon", "ref", ref="coupons", doc="benefit: issue this coupon with the message"),
        _f("product", "ref", ref="products", doc="the item offered (related_offer)"),
        _f("code", "str", max_len=32, doc="reply_code: the code a customer replies"),
        _f("categories", "strlist", default=[],
           doc="related_offer: after orders in these categories; price_drop: only these"),
        _f("min_level", "int", min=0, max=5, doc="audience: customer level at least"),
        _f("max_level", "int", min=0, max=5, doc="audience: customer level at most"),
        _f("tags", "strlist", default=[], doc="audience: customers with any of these tags"),
        _f("regions", "strlist", default=[], doc="audience: customers in these regions"),
        _f("classifications", "strlist", default=[], choices=CLASSIFICATIONS,
           doc="audience: consulted_not_ordered, ordered_not_paid, paid, after_sale"),
        _f("starts_at", "time", doc="schedule window: triggers from then on"),
        _f("ends_at", "time", doc="schedule window: no sends after"),
        _f("holdout", "number", default=0, min=0, max=0.9,
           doc="share of customers who get nothing (for measured lift)"),
        _f("attribution_h", "int", min=1, max=720,
           doc="orders this long after a send count (default: the shop's setting)"),
    ),
    doc="A conversion campaign: a trigger, an audience, a message, a benefit, a holdout.",
)

# The event log's types a webhook may subscribe to (besides every record kind's
# <kind>.created / .updated / .deleted, added below), and "*" for all of them.
WEBHOOK_EVENT_TYPES = (
    "message.created", "message.delivery", "conversation.created", "conversation.assigned",
    "conversation.queued", "conversation.transferred", "conversation.returned",
    "conversation.closed", "conversation.reopened", "conversation.rated",
    "conversation.sensitive", "agent.status", "agent.left_shop", "customer.opted_out",
    "invitation.sent", "campaign.sent", "campaign.undeliverable",
    "ticket.created", "ticket.status", "ticket.priority", "ticket.team", "ticket.assigned",
    "ticket.note", "ticket.reply", "ticket.resolved", "ticket.closed", "ticket.reopened",
    "ticket.sla_warning", "ticket.sla_breached", "ticket.escalated",
    "routing_rule.moved", "bot.unanswered", "bot.learned", "bot.dismissed",
)

WEBHOOK = Kind(
    "webhooks",
    "webhook",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops", doc="only this shop's events"),
        _f("url", "str", required=True, max_len=2000,
           doc="http(s) URL that receives the POSTs (no user:password in it)"),
        _f("events", "strlist", required=True, item_max_len=64,
           doc="event types (see the README's table), or * for all"),
        _f("active", "bool", default=True, doc="false: no new deliveries"),
        _f("secret", "str", max_len=200, write_only=True,
           doc="signing secret (never shown again; generated when left out)"),
    ),
    doc="A webhook: the shop's events of these types POSTed, signed, to a URL.",
)

CHANNEL_KINDS = ("http", "web")

CHANNEL = Kind(
    "channels",
    "channel",
    "key",
    (
        _f("key", "slug", required=True),
        _f("shop", "ref", required=True, ref="shops", doc="the shop it reaches customers for"),
        _f("kind", "enum", default="http", choices=CHANNEL_KINDS,
           doc="http: the merchant's messaging gateway; web: the widget (built in)"),
        _f("url", "str", max_len=2000,
           doc="http: the gateway's http(s) URL that receives the messages"),
        _f("client", "enum", choices=CHANNELS,
           doc="the client it reaches (app, mini_program ...): customers whose profile "
               "prefers it are reached here"),
        _f("active", "bool", default=True, doc="false: nothing is sent through it"),
        _f("secret", "str", max_len=200, write_only=True,
           doc="signing secret (never shown again; generated when left out)"),
    ),
    doc="A channel connector: messages to the shop's customers POSTed, signed, to a gateway.",
)

# Apply order: a record may only refer to kinds that come before it.
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (SHOP, GROUP, AGENT, ROUTING_RULE, SLA_POLICY, PRODUCT, COUPON, PROMOTION,
              CUSTOMER, ORDER, CART_ITEM, KNOWLEDGE_ENTRY, QUICK_REPLY, MACRO, CAMPAIGN,
              WEBHOOK, CHANNEL)
}
WEBHOOK_EVENTS: tuple[str, ...] = WEBHOOK_EVENT_TYPES + tuple(
    f"{k.singular}.{what}" for k in KINDS.values() if k.name not in ("webhooks", "channels")
    for what in ("created", "updated", "deleted"))
# How each kind is listed and exported (default: by key).
ORDER_BY: dict[str, str] = {
    "routing_rules": "r_shop.key, t.position, t.key",
    "sla_policies": "r_shop.key, t.position, t.key",
}
SINGULAR: dict[str, Kind] = {k.singular: k for k in KINDS.values()}


def kind(name: str) -> Kind:
    """Look up a kind by plural or singular name."""
    if name in KINDS:
        return KINDS[name]
    if name in SINGULAR:
        return SINGULAR[name]
    raise KeyError(name)
