"""Queries about the declarative records beyond reading and writing them
(``storage.records.RecordStore`` does that): a shop's records, what depends on a record,
a campaign's reply code and decisions, the order of routing rules, a customer's figures.
"""

from __future__ import annotations

import sqlite3

from ...resources import Kind
from ..records import q
from ..where import Where

# kind: [(table, column, what people call one of them, and several)]
DEPENDENTS: dict[str, list[tuple[str, str, str, str]]] = {
    "shops": [
        ("groups", "shop_id", "group", "groups"),
        ("products", "shop_id", "product", "products"),
        ("coupons", "shop_id", "coupon", "coupons"),
        ("promotions", "shop_id", "promotion", "promotions"),
        ("orders", "shop_id", "order", "orders"),
        ("agent_shops", "shop_id", "agent", "agents"),
        ("customer_profiles", "shop_id", "customer profile", "customer profiles"),
        ("conversations", "shop_id", "conversation", "conversations"),
        ("routing_rules", "shop_id", "routing rule", "routing rules"),
        ("sla_policies", "shop_id", "SLA policy", "SLA policies"),
        ("knowledge_entries", "shop_id", "knowledge entry", "knowledge entries"),
        ("webhooks", "shop_id", "webhook", "webhooks"),
        ("channels", "shop_id", "channel", "channels"),
        ("quick_replies", "shop_id", "quick reply", "quick replies"),
        ("macros", "shop_id", "macro", "macros"),
        ("campaigns", "shop_id", "campaign", "campaigns"),
        ("cart_items", "shop_id", "cart item", "cart items"),
        ("tickets", "shop_id", "ticket", "tickets"),
    ],
    "groups": [
        ("group_members", "group_id", "agent", "agents"),
        ("conversations", "group_id", "conversation", "conversations"),
    ],
    "agents": [
        ("conversations", "assignee_id", "conversation", "conversations"),
        ("customer_profiles", "dedicated_agent_id", "customer (dedicated agent)",
         "customers (dedicated agent)"),
        ("customer_profiles", "last_agent_id", "customer (last agent)", "customers (last agent)"),
        ("messages", "agent_id", "message", "messages"),
        ("conversation_notes", "agent_id", "private note", "private notes"),
        ("tickets", "assignee_id", "ticket", "tickets"),
        ("sla_policies", "escalate_to_id", "SLA policy (escalation)", "SLA policies (escalation)"),
        ("quick_replies", "agent_id", "quick reply", "quick replies"),
        ("macros", "agent_id", "macro", "macros"),
    ],
    "customers": [
        ("orders", "customer_id", "order", "orders"),
        ("conversations", "customer_id", "conversation", "conversations"),
        ("cart_items", "customer_id", "cart item", "cart items"),
    ],
    "products": [
        ("order_items", "product_id", "order item", "order items"),
        ("cart_items", "product_id", "cart item", "cart items"),
        ("campaigns", "product_id", "campaign", "campaigns"),
    ],
    "coupons": [
        ("customer_coupons", "coupon_id", "customer holding it", "customers holding it"),
        ("campaigns", "coupon_id", "campaign", "campaigns"),
    ],
    "campaigns": [("campaign_sends", "campaign_id", "decision on record", "decisions on record")],
    "orders": [("tickets", "order_id", "ticket", "tickets")],
}


def shop_filter(k: Kind, shop_id: int) -> Where:
    """The condition that keeps the records of kind ``k`` of one shop (``t`` is the
    kind's table): the shop itself, its agents and customers, or its rows."""
    if k.name == "shops":
        return Where().add("t.id = ?", shop_id)
    if k.name == "agents":
        return Where().add("t.id IN (SELECT agent_id FROM agent_shops WHERE shop_id = ?)",
                           shop_id)
    if k.name == "customers":
        return Where().add(
            "t.id IN (SELECT customer_id FROM customer_profiles WHERE shop_id = ?)", shop_id)
    return Where().add("t.shop_id = ?", shop_id)


class Resources:
    """Queries about records (``uow.repo(Resources)``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def dependents(self, k: Kind, rid: int) -> list[str]:
        """What still uses record ``rid`` of kind ``k``, as ``3 orders``, ``1 ticket``."""
        out = []
        for table, column, one, several in DEPENDENTS.get(k.name, []):
            n = self.conn.execute(f"SELECT COUNT(*) FROM {q(table)} WHERE {column} = ?",
                                  (rid,)).fetchone()[0]
            if n:
                out.append(f"{n} {one if n == 1 else several}")
        return out

    def reply_code_holder(self, shop: str, code: str, campaign: str) -> str | None:
        """Another reply-code campaign of the shop with ``code`` (case ignored)."""
        row = self.conn.execute(
            "SELECT c.key FROM campaigns c JOIN shops s ON s.id = c.shop_id WHERE "
            "s.key = ? AND c.trigger = 'reply_code' AND lower(c.code) = lower(?) "
            "AND c.key != ?", (shop, code, campaign)).fetchone()
        return None if row is None else row[0]

    def has_decisions(self, campaign_id: int) -> bool:
        """Whether the campaign has decisions on record."""
        return self.conn.execute("SELECT 1 FROM campaign_sends WHERE campaign_id = ? LIMIT 1",
                                 (campaign_id,)).fetchone() is not None

    def rule(self, key: str) -> tuple[int, int] | None:
        """(id, shop id) of routing rule ``key``."""
        return self.conn.execute("SELECT id, shop_id FROM routing_rules WHERE key = ?",
                                 (key,)).fetchone()

    def rule_ids(self, shop_id: int) -> list[int]:
        """The shop's routing rules in order."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM routing_rules WHERE shop_id = ? ORDER BY position, key",
            (shop_id,))]

    def set_rule_position(self, rule_id: int, position: int, now: int) -> None:
        """Move a routing rule to ``position``."""
        self.conn.execute("UPDATE routing_rules SET position = ?, updated_at = ? WHERE id = ?",
                          (position, now, rule_id))

    def customer_stats(self, customer_id: int) -> list[tuple]:
        """Per shop (by key): orders, paid spend, paid orders, last order time."""
        return self.conn.execute(
            "SELECT s.key, COUNT(*), "
            "SUM(CASE WHEN o.status NOT IN ('created','cancelled','refunded') "
            "THEN o.total ELSE 0 END), "
            "SUM(CASE WHEN o.status NOT IN ('created','cancelled','refunded') "
            "THEN 1 ELSE 0 END), MAX(o.created_at) "
            "FROM orders o JOIN shops s ON s.id = o.shop_id WHERE o.customer_id = ? "
            "GROUP BY s.key ORDER BY s.key", (customer_id,)).fetchall()
