"""Knowledge queries: what the bot reads (the enabled entries, the shops' bot settings,
the knowledge version in the event log, a customer's orders, products, coupons and
promotions), the chat's last customer messages for agent assist, and the learning
loop's ``unanswered_questions`` rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from ..records import RecordStore, strip_ids

# The events that change what the bot knows: any knowledge entry's, and a shop's
# (its bot settings, or a shop gone with its entries).
_KNOWLEDGE_EVENTS = (
    "entity = 'knowledge_entry' OR (entity = 'shop' AND type IN ('shop.created', "
    "'shop.updated', 'shop.deleted', 'bulk.loaded'))")


class Knowledge:
    """knowledge_entries, unanswered_questions, and the rows the bot's flows read."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- the knowledge version -----------------------------------------------------------
    def top_event(self) -> int:
        """The id of the newest event (0 when none)."""
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def newest_knowledge_event(self, after: int, upto: int) -> int | None:
        """The newest event in ``(after, upto]`` that changed knowledge or a shop."""
        return self.conn.execute(
            f"SELECT MAX(id) FROM events WHERE id > ? AND id <= ? AND ({_KNOWLEDGE_EVENTS})",
            (after, upto)).fetchone()[0]

    def event_mark(self, event_id: int) -> list | None:
        """What identifies event ``event_id`` (its type, entity, key, time and payload),
        None when it is gone."""
        row = self.conn.execute("SELECT type, entity, entity_key, at, payload FROM events "
                                "WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else list(row)

    # -- what the bot knows ----------------------------------------------------------------
    def enabled_entries(self) -> list[dict]:
        """Every enabled entry in id order, platform-wide ones with shop None."""
        rows = self.conn.execute(
            "SELECT k.key, s.key, k.question, k.similar, k.answer, k.category, k.tags "
            "FROM knowledge_entries k LEFT JOIN shops s ON s.id = k.shop_id "
            "WHERE k.enabled = 1 ORDER BY k.id").fetchall()
        return [{"key": r[0], "shop": r[1], "question": r[2], "similar": json.loads(r[3]),
                 "answer": r[4], "category": r[5] or "", "tags": json.loads(r[6]),
                 "enabled": True} for r in rows]

    def shop_settings(self) -> list[tuple[str, dict]]:
        """Every shop's key with its decoded settings."""
        return [(key, json.loads(settings))
                for key, settings in self.conn.execute("SELECT key, settings FROM shops")]

    # -- what the bot's flows read -----------------------------------------------------------
    def orders_of(self, customer_id: int, shop_id: int, limit: int,
                  key: str | None = None) -> list[dict]:
        """The customer's newest ``limit`` orders in the shop, with items and logistics
        (``key``: only that one, if it is theirs)."""
        c = self.conn
        out = []
        one = "" if key is None else "AND key = ? "
        for r in c.execute(
                "SELECT id, key, status, created_at, delivered_at, total, carrier, tracking_no, "
                "paid_at, shipped_at, receiver, phone, address FROM orders "
                f"WHERE customer_id = ? AND shop_id = ? {one}ORDER BY created_at DESC, "
                "id DESC LIMIT ?", (customer_id, shop_id, *(() if key is None else (key,)),
                                    limit)):
            items = [{"product": i[0], "title": i[1], "quantity": i[2], "category": i[3]}
                     for i in c.execute(
                         "SELECT p.key, p.title, i.quantity, p.category FROM order_items i "
                         "JOIN products p ON p.id = i.product_id WHERE i.order_id = ? "
                         "ORDER BY i.id", (r[0],))]
            track = [{"at": e[0], "status": e[1], "detail": e[2]} for e in c.execute(
                "SELECT at, status, detail FROM logistics_events WHERE order_id = ? "
                "ORDER BY at, id", (r[0],))]
            out.append({"key": r[1], "status": r[2], "created_at": r[3], "delivered_at": r[4],
                        "total": r[5], "carrier": r[6], "tracking_no": r[7], "items": items,
                        "logistics": track, "paid_at": r[8], "shipped_at": r[9],
                        "receiver": r[10], "phone": r[11], "address": r[12]})
        return out

    def products_of(self, shop_id: int, limit: int) -> list[dict]:
        """Up to ``limit`` of the shop's products (public form), by key."""
        return [strip_ids(p) for p in RecordStore(self.conn).read_where(
            "products", "WHERE t.shop_id = ?", (shop_id,), limit=limit)]

    def products_for_sale(self, shop_id: int, limit: int) -> list[dict]:
        """Up to ``limit`` of the shop's products on sale and in stock (public form): the
        only products a recommendation may name."""
        return [strip_ids(p) for p in RecordStore(self.conn).read_where(
            "products", "WHERE t.shop_id = ? AND t.status = 'on_sale' AND t.stock > 0",
            (shop_id,), order="t.stock DESC, t.key", limit=limit)]

    def promotions_of(self, shop_id: int) -> list[dict]:
        """The shop's promotions (internal form, ids kept), by key."""
        return RecordStore(self.conn).read_where("promotions", "WHERE t.shop_id = ?",
                                                 (shop_id,))

    def held_coupons(self, customer_id: int, shop_id: int) -> list[dict]:
        """The coupons of the shop the customer holds, in wallet order."""
        return [{"coupon": r[0], "issued_at": r[1], "used_at": r[2]} for r in self.conn.execute(
            "SELECT cp.key, cc.issued_at, cc.used_at FROM customer_coupons cc JOIN coupons cp "
            "ON cp.id = cc.coupon_id WHERE cc.customer_id = ? AND cp.shop_id = ? "
            "ORDER BY cc.position, cc.id", (customer_id, shop_id))]

    def last_customer_bodies(self, conversation_id: int, limit: int) -> list[str]:
        """The chat's last ``limit`` customer messages, newest first."""
        return [body for (body,) in self.conn.execute(
            "SELECT body FROM messages WHERE conversation_id = ? AND sender = 'customer' "
            "ORDER BY id DESC LIMIT ?", (conversation_id, limit))]

    # -- the learning loop -------------------------------------------------------------------
    def add_unanswered(self, shop_id: int | None, conversation_id: int | None,
                       question: str, normalized: str, action: str, entry: str | None,
                       confidence: float, now: int) -> int:
        """Record a question the bot could not answer; returns its row id."""
        return self.conn.execute(
            "INSERT INTO unanswered_questions (shop_id, conversation_id, question, normalized, "
            "action, top_entry, confidence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (shop_id, conversation_id, question, normalized, action, entry, confidence,
             now)).lastrowid

    def unanswered(self, shop_id: int | None = None) -> list[tuple]:
        """Every unanswered question (of one shop when given) in id order: (id, shop key,
        question, normalized, action, top entry, confidence, created_at)."""
        where, params = "", []
        if shop_id is not None:
            where, params = "WHERE u.shop_id = ?", [shop_id]
        return self.conn.execute(
            "SELECT u.id, s.key, u.question, u.normalized, u.action, u.top_entry, "
            "u.confidence, u.created_at FROM unanswered_questions u LEFT JOIN shops s "
            f"ON s.id = u.shop_id {where} ORDER BY u.id", params).fetchall()

    def unanswered_head(self, row_id: int) -> tuple[int | None, str] | None:
        """(shop id, normalized text) of one unanswered question, None when gone."""
        row = self.conn.execute("SELECT shop_id, normalized FROM unanswered_questions "
                                "WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def unanswered_like(self, normalized: str, *, any_shop: bool = False,
                        shop_id: int | None = None) -> list[tuple]:
        """(id, question, shop id) of the questions normalised to ``normalized``: of
        every shop with ``any_shop``, else of ``shop_id`` (None: platform-wide)."""
        if any_shop:
            return self.conn.execute("SELECT id, question, shop_id FROM unanswered_questions "
                                     "WHERE normalized = ? ORDER BY id",
                                     (normalized,)).fetchall()
        return self.conn.execute("SELECT id, question, shop_id FROM unanswered_questions "
                                 "WHERE normalized = ? AND shop_id IS ? ORDER BY id",
                                 (normalized, shop_id)).fetchall()

    def delete_unanswered(self, ids: Sequence[int]) -> None:
        """Remove these unanswered questions."""
        if ids:
            self.conn.execute(f"DELETE FROM unanswered_questions WHERE id IN "
                              f"({', '.join('?' for _ in ids)})", list(ids))
