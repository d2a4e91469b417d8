"""What the agent console reads beyond conversations: the agent's desk, the customer's
context in a shop, history search, and the product and coupon cards an agent sends."""

from __future__ import annotations

import sqlite3


class Console:
    """The console's reads and the card an agent hands out (``uow.repo(Console)``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- the agent's desk -------------------------------------------------------------------
    def agent(self, handle: str) -> tuple | None:
        """(id, handle, name, status, max_chats, role) of agent ``handle``."""
        return self.conn.execute(
            "SELECT id, handle, name, status, max_chats, role FROM agents WHERE handle = ?",
            (handle,)).fetchone()

    def shops_of(self, agent_id: int) -> list[tuple]:
        """(id, key, name, settings JSON) of the agent's shops, in their order."""
        return self.conn.execute(
            "SELECT s.id, s.key, s.name, s.settings FROM agent_shops x JOIN shops s "
            "ON s.id = x.shop_id WHERE x.agent_id = ? ORDER BY x.position, s.key",
            (agent_id,)).fetchall()

    def open_chats(self, agent_id: int, role: str) -> list[tuple]:
        """The agent's open chats (of shops they work for; an admin's, every shop's):
        (id, shop, customer key, name, channel, classification, assigned at, last customer
        message at, seen at, created at), oldest assignment first."""
        return self.conn.execute(
            "SELECT c.id, s.key, cu.key, cu.name, c.channel, c.classification, "
            "c.assigned_at, c.last_customer_at, c.agent_seen_at, c.created_at "
            "FROM conversations c JOIN shops s ON s.id = c.shop_id "
            "JOIN customers cu ON cu.id = c.customer_id "
            "WHERE c.assignee_id = ? AND c.state = 'active' AND (? = 'admin' OR c.shop_id "
            "IN (SELECT shop_id FROM agent_shops WHERE agent_id = ?)) "
            "ORDER BY c.assigned_at, c.id", (agent_id, role, agent_id)).fetchall()

    def chat_marks(self, conv_id: int) -> tuple[int | None, tuple | None]:
        """When the customer has waited since (their first message after the agents'
        last), and the last message not from the system (sender, kind, body)."""
        last_agent = self.conn.execute(
            "SELECT MAX(created_at) FROM messages WHERE conversation_id = ? AND sender = 'agent'",
            (conv_id,)).fetchone()[0]
        waiting = self.conn.execute(
            "SELECT MIN(created_at) FROM messages WHERE conversation_id = ? AND "
            "sender = 'customer' AND created_at > ?", (conv_id, last_agent or 0)).fetchone()[0]
        last = self.conn.execute(
            "SELECT sender, kind, body FROM messages WHERE conversation_id = ? "
            "AND sender != 'system' ORDER BY id DESC LIMIT 1", (conv_id,)).fetchone()
        return waiting, last

    def waiting_rows(self, ids: list[int]) -> dict[int, tuple]:
        """(id, customer key, name, priority, arrival, pool) of waiting chats, by id."""
        if not ids:
            return {}
        return {r[0]: r for r in self.conn.execute(
            "SELECT c.id, cu.key, cu.name, c.priority, COALESCE(c.queued_at, "
            "c.created_at), c.pool FROM conversations c JOIN customers cu "
            f"ON cu.id = c.customer_id WHERE c.id IN ({', '.join('?' * len(ids))})", ids)}

    def last_event(self) -> int:
        """The newest event's id (0 with none)."""
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def mark_seen(self, conv_id: int, now: int) -> None:
        """The assigned agent read the chat at ``now``."""
        self.conn.execute("UPDATE conversations SET agent_seen_at = ? WHERE id = ?",
                          (now, conv_id))

    # -- the customer in the chat's shop ----------------------------------------------------
    def customer(self, customer_id: int) -> tuple:
        """(key, name, phone) of a customer."""
        return self.conn.execute("SELECT key, name, phone FROM customers WHERE id = ?",
                                 (customer_id,)).fetchone()

    def profile(self, customer_id: int, shop_id: int) -> tuple | None:
        """(level, tags, region, channel, credit, last agent, their name, last served,
        dedicated agent) of the customer's profile in the shop."""
        return self.conn.execute(
            "SELECT p.level, p.tags, p.region, p.channel, p.credit, la.handle, la.name, "
            "p.last_served_at, da.handle FROM customer_profiles p "
            "LEFT JOIN agents la ON la.id = p.last_agent_id "
            "LEFT JOIN agents da ON da.id = p.dedicated_agent_id "
            "WHERE p.customer_id = ? AND p.shop_id = ?", (customer_id, shop_id)).fetchone()

    def recent_orders(self, customer_id: int, shop_id: int, limit: int) -> list[tuple]:
        """(id, key, status, total, created at) of the customer's newest orders there."""
        return self.conn.execute(
            "SELECT id, key, status, total, created_at FROM orders WHERE customer_id = ? "
            "AND shop_id = ? ORDER BY created_at DESC LIMIT ?",
            (customer_id, shop_id, limit)).fetchall()

    def order_items(self, order_id: int) -> list[tuple[str, int]]:
        """(product title, quantity) of an order's items."""
        return self.conn.execute(
            "SELECT p.title, i.quantity FROM order_items i JOIN products p "
            "ON p.id = i.product_id WHERE i.order_id = ? ORDER BY i.id", (order_id,)).fetchall()

    def last_tracking(self, order_id: int) -> tuple | None:
        """(at, status, detail) of an order's latest logistics event."""
        return self.conn.execute(
            "SELECT at, status, detail FROM logistics_events WHERE order_id = ? "
            "ORDER BY at DESC, id DESC LIMIT 1", (order_id,)).fetchone()

    def order_stats(self, customer_id: int, shop_id: int) -> tuple[int, int]:
        """(orders, paid spend) of the customer in the shop."""
        return self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status IN ('paid','shipped',"
            "'delivered','refund_requested') THEN total END), 0) FROM orders "
            "WHERE customer_id = ? AND shop_id = ?", (customer_id, shop_id)).fetchone()

    def usable_coupons(self, customer_id: int, shop_id: int, now: int) -> list[tuple]:
        """(key, name, kind, amount, rate, threshold, valid to) of the coupons the
        customer holds unused in the shop, valid at ``now``."""
        return self.conn.execute(
            "SELECT cp.key, cp.name, cp.kind, cp.amount, cp.rate, cp.threshold, "
            "cp.valid_to FROM customer_coupons cc JOIN coupons cp ON cp.id = cc.coupon_id "
            "WHERE cc.customer_id = ? AND cp.shop_id = ? AND cc.used_at IS NULL "
            "AND (cp.valid_from IS NULL OR cp.valid_from <= ?) "
            "AND (cp.valid_to IS NULL OR cp.valid_to >= ?) ORDER BY cp.key",
            (customer_id, shop_id, now, now)).fetchall()

    # -- history search ---------------------------------------------------------------------
    def search(self, agent_id: int, like: str, limit: int) -> list[tuple]:
        """(chat, customer name, sender, body, at) of messages matching the LIKE pattern
        ``like`` (``\\`` escapes) in chats the agent served, of shops they work for (an
        admin's: every shop), newest first."""
        return self.conn.execute(
            "SELECT m.conversation_id, cu.name, m.sender, m.body, m.created_at "
            "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "JOIN customers cu ON cu.id = c.customer_id "
            "WHERE c.id IN (SELECT DISTINCT conversation_id FROM messages WHERE agent_id = ?"
            " UNION SELECT id FROM conversations WHERE assignee_id = ?) "
            "AND (c.shop_id IN (SELECT shop_id FROM agent_shops WHERE agent_id = ?) OR "
            "(SELECT role FROM agents WHERE id = ?) = 'admin') "
            "AND m.body LIKE ? ESCAPE '\\' ORDER BY m.id DESC LIMIT ?",
            (agent_id, agent_id, agent_id, agent_id, like, int(limit))).fetchall()

    # -- cards ------------------------------------------------------------------------------
    def product(self, key: str) -> tuple | None:
        """(key, title, price, stock, shop id, status) of product ``key``."""
        return self.conn.execute(
            "SELECT key, title, price, stock, shop_id, status FROM products WHERE key = ?",
            (key,)).fetchone()

    def coupon(self, key: str) -> tuple | None:
        """(id, key, name, kind, amount, rate, threshold, shop id, valid to, valid from)."""
        return self.conn.execute(
            "SELECT id, key, name, kind, amount, rate, threshold, shop_id, valid_to, "
            "valid_from FROM coupons WHERE key = ?", (key,)).fetchone()

    def holds_coupon(self, customer_id: int, coupon_id: int) -> bool:
        """Whether the customer holds the coupon unused."""
        return self.conn.execute(
            "SELECT 1 FROM customer_coupons WHERE customer_id = ? AND coupon_id = ? "
            "AND used_at IS NULL", (customer_id, coupon_id)).fetchone() is not None

    def give_coupon(self, customer_id: int, coupon_id: int, now: int) -> None:
        """The customer holds the coupon from ``now`` (given by an agent), listed last."""
        self.conn.execute(
            "INSERT INTO customer_coupons (customer_id, coupon_id, position, issued_at, "
            "source) VALUES (?, ?, (SELECT COUNT(*) FROM customer_coupons WHERE "
            "customer_id = ?), ?, 'agent')", (customer_id, coupon_id, customer_id, now))
