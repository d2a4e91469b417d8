"""What the agent console reads and does beyond the conversation operations: the
agent's desk in one read (their chats with unread marks and waits, their shops'
queues), the customer's context, read marks, history search, product and coupon cards.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import Conflict, InvalidInput, NotFound
from ..routing import agent_in_pool
from ..storage.repos import queue as queue_index
from ..text_rules import check_text
from ..values import format_money, format_time, format_time_in, short_time, yuan

RECENT_ORDERS = 5
DESK_QUEUE = 200  # waiting chats of each shop the console lists (the rest are counted)


class ConsoleOps:
    """Agent-console operations of the Local backend (mixed into LocalBackend)."""

    def agent_desk(self, agent: str) -> dict:
        """The agent, their open chats (unread, waiting since) and their shops' queues:
        the first ``DESK_QUEUE`` waiting chats of each shop in serving order (each marked
        ``mine`` when the agent may accept it) and, in ``waiting``, how many wait in each
        shop in all."""
        with self.database.read() as conn:
            a = conn.execute(
                "SELECT id, handle, name, status, max_chats, role FROM agents WHERE handle = ?",
                (agent,),
            ).fetchone()
            if a is None:
                raise NotFound(f"no agent {agent!r}", key="no_agent", agent=agent)
            shops = conn.execute(
                "SELECT s.id, s.key, s.name, s.settings FROM agent_shops x JOIN shops s "
                "ON s.id = x.shop_id WHERE x.agent_id = ? ORDER BY x.position, s.key",
                (a[0],),
            ).fetchall()
            chats = [self._desk_chat(conn, row) for row in conn.execute(
                "SELECT c.id, s.key, cu.key, cu.name, c.channel, c.classification, "
                "c.assigned_at, c.last_customer_at, c.agent_seen_at, c.created_at "
                "FROM conversations c JOIN shops s ON s.id = c.shop_id "
                "JOIN customers cu ON cu.id = c.customer_id "
                "WHERE c.assignee_id = ? AND c.state = 'active' AND (? = 'admin' OR c.shop_id "
                "IN (SELECT shop_id FROM agent_shops WHERE agent_id = ?)) "
                "ORDER BY c.assigned_at, c.id",
                (a[0], a[5], a[0]),
            ).fetchall()]
            queue = []
            waiting: dict[str, int] = {}
            for shop_id, shop_key, _name, _settings in shops:
                # the first DESK_QUEUE waiting chats in serving order, by the queue's index
                # (a shop with 50,000 waiting costs no more than one with 200)
                waiting[shop_key] = queue_index.waiting(conn, shop_id)
                keys = queue_index.page(conn, shop_id, None, DESK_QUEUE) \
                    if waiting[shop_key] else []
                rows = {r[0]: r for r in conn.execute(
                    "SELECT c.id, cu.key, cu.name, c.priority, COALESCE(c.queued_at, "
                    "c.created_at), c.pool FROM conversations c JOIN customers cu "
                    f"ON cu.id = c.customer_id WHERE c.id IN ({', '.join('?' * len(keys))})",
                    [k.id for k in keys])} if keys else {}
                me = self._routing_state(conn, shop_id, staff=True).agent(agent) if rows \
                    else None
                for pos, key in enumerate(keys, start=1):
                    row = rows[key.id]
                    # "mine": accept_next may give it to this agent (as there, the one who
                    # transferred a chat away may take it back)
                    pool = {k: v for k, v in self._pool_of(row[5]).items() if k != "except"}
                    queue.append({
                        "id": row[0], "shop": shop_key, "customer": row[1],
                        "customer_name": row[2], "priority": row[3],
                        "waiting_since_ms": row[4], "position": pos,
                        "mine": me is not None and agent_in_pool(me, pool),
                    })
            last_event = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        return {
            "agent": {"handle": a[1], "name": a[2], "status": a[3], "max_chats": a[4],
                      "role": a[5]},
            "shops": [
                {"key": s[1], "name": s[2],
                 "response_target_s": json.loads(s[3]).get("response_target_s", 180)}
                for s in shops
            ],
            "chats": chats,
            "queue": queue,
            "waiting": waiting,
            "last_event": last_event,
        }

    def _desk_chat(self, conn, row: tuple) -> dict:
        cid = row[0]
        last_agent = conn.execute(
            "SELECT MAX(created_at) FROM messages WHERE conversation_id = ? AND sender = 'agent'",
            (cid,),
        ).fetchone()[0]
        waiting = conn.execute(
            "SELECT MIN(created_at) FROM messages WHERE conversation_id = ? AND "
            "sender = 'customer' AND created_at > ?",
            (cid, last_agent or 0),
        ).fetchone()[0]
        last = conn.execute(
            "SELECT sender, kind, body FROM messages WHERE conversation_id = ? "
            "AND sender != 'system' ORDER BY id DESC LIMIT 1",
            (cid,),
        ).fetchone()
        return {
            "id": cid, "shop": row[1], "customer": row[2], "customer_name": row[3],
            "channel": row[4], "classification": row[5],
            "assigned_at_ms": row[6],
            "unread": row[7] is not None and (row[8] is None or row[7] > row[8]),
            "waiting_since_ms": waiting,
            "last_message": None if last is None else {
                "sender": last[0], "kind": last[1], "body": last[2]},
        }

    def mark_seen(self, agent: str, conversation: int) -> None:
        """The agent has read the chat up to now (clears its unread mark)."""
        with self.database.write() as conn:
            a = self._agent_row(conn, agent)
            conv = self._conv_row(conn, conversation)
            if conv["assignee_id"] != a["id"]:
                return
            conn.execute("UPDATE conversations SET agent_seen_at = ? WHERE id = ?",
                         (self._now(), conv["id"]))

    def customer_context(self, conversation: int) -> dict:
        """Who the customer is in this chat's shop: profile, level, tags, classification,
        recent orders with status and logistics, usable coupons, last agent served."""
        with self.database.read() as conn:
            conv = self._conv_row(conn, conversation)
            cust = conn.execute("SELECT key, name, phone FROM customers WHERE id = ?",
                                (conv["customer_id"],)).fetchone()
            prof = conn.execute(
                "SELECT p.level, p.tags, p.region, p.channel, p.credit, la.handle, la.name, "
                "p.last_served_at, da.handle FROM customer_profiles p "
                "LEFT JOIN agents la ON la.id = p.last_agent_id "
                "LEFT JOIN agents da ON da.id = p.dedicated_agent_id "
                "WHERE p.customer_id = ? AND p.shop_id = ?",
                (conv["customer_id"], conv["shop_id"]),
            ).fetchone()
            orders = []
            for o in conn.execute(
                "SELECT id, key, status, total, created_at FROM orders WHERE customer_id = ? "
                "AND shop_id = ? ORDER BY created_at DESC LIMIT ?",
                (conv["customer_id"], conv["shop_id"], RECENT_ORDERS),
            ).fetchall():
                items = conn.execute(
                    "SELECT p.title, i.quantity FROM order_items i JOIN products p "
                    "ON p.id = i.product_id WHERE i.order_id = ? ORDER BY i.id", (o[0],)
                ).fetchall()
                track = conn.execute(
                    "SELECT at, status, detail FROM logistics_events WHERE order_id = ? "
                    "ORDER BY at DESC, id DESC LIMIT 1", (o[0],)
                ).fetchone()
                orders.append({
                    "key": o[1], "status": o[2], "total": format_money(o[3]),
                    "created_at": format_time(o[4]),
                    "items": [{"title": t, "quantity": q} for t, q in items],
                    "logistics": None if track is None else {
                        "at": format_time(track[0]), "status": track[1], "detail": track[2]},
                })
            stats = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status IN ('paid','shipped',"
                "'delivered','refund_requested') THEN total END), 0) FROM orders "
                "WHERE customer_id = ? AND shop_id = ?",
                (conv["customer_id"], conv["shop_id"]),
            ).fetchone()
            now = self._now()
            coupons = [
                {"key": r[0], "name": r[1], "kind": r[2], "amount": format_money(r[3]),
                 "rate": r[4], "threshold": format_money(r[5]),
                 "valid_to": format_time(r[6])}
                for r in conn.execute(
                    "SELECT cp.key, cp.name, cp.kind, cp.amount, cp.rate, cp.threshold, "
                    "cp.valid_to FROM customer_coupons cc JOIN coupons cp ON cp.id = cc.coupon_id "
                    "WHERE cc.customer_id = ? AND cp.shop_id = ? AND cc.used_at IS NULL "
                    "AND (cp.valid_from IS NULL OR cp.valid_from <= ?) "
                    "AND (cp.valid_to IS NULL OR cp.valid_to >= ?) ORDER BY cp.key",
                    (conv["customer_id"], conv["shop_id"], now, now),
                ).fetchall()
            ]
        prof = prof or (0, "[]", None, None, None, None, None, None, None)
        return {
            "conversation": conv["id"], "customer": cust[0], "name": cust[1], "phone": cust[2],
            "level": prof[0], "tags": json.loads(prof[1]), "region": prof[2],
            "channel": prof[3], "credit": prof[4],
            "last_agent": prof[5], "last_agent_name": prof[6],
            "last_served_at": format_time(prof[7]), "dedicated_agent": prof[8],
            "classification": conv["classification"],
            "orders_count": stats[0], "spend": format_money(stats[1]),
            "orders": orders, "coupons": coupons,
        }

    def search_history(self, agent: str, text: str, limit: int = 50) -> list[dict]:
        """Messages containing ``text`` in chats this agent has served, newest first; only
        chats of shops the agent works for now (an agent moved out of a shop no longer
        reads its chats; an admin's reach every shop)."""
        if not text.strip():
            raise InvalidInput("search text is empty", key="search_empty")
        check_text(text, "search text", multiline=True)
        with self.database.read() as conn:
            a = self._agent_row(conn, agent)
            rows = conn.execute(
                "SELECT m.conversation_id, cu.name, m.sender, m.body, m.created_at "
                "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "JOIN customers cu ON cu.id = c.customer_id "
                "WHERE c.id IN (SELECT DISTINCT conversation_id FROM messages WHERE agent_id = ?"
                " UNION SELECT id FROM conversations WHERE assignee_id = ?) "
                "AND (c.shop_id IN (SELECT shop_id FROM agent_shops WHERE agent_id = ?) OR "
                "(SELECT role FROM agents WHERE id = ?) = 'admin') "
                "AND m.body LIKE ? ESCAPE '\\' ORDER BY m.id DESC LIMIT ?",
                (a["id"], a["id"], a["id"], a["id"], "%" + _like(text) + "%", int(limit)),
            ).fetchall()
        return [{"conversation": r[0], "customer_name": r[1], "sender": r[2], "body": r[3],
                 "at": format_time(r[4])} for r in rows]

    def send_card(self, agent: str, conversation: int, kind: str, key: str) -> dict:
        """Send a product card, or a coupon (which the customer then holds), into a chat."""
        if kind not in ("product", "coupon"):
            raise InvalidInput(f"a card is a product or a coupon, not {kind!r}",
                               key="unknown_card", kind=kind)
        with self.database.write() as conn:
            a = self._agent_row(conn, agent)
            conv = self._conv_row(conn, conversation)
            self._must_hold(conv, a, "send a card to")
            if kind == "product":
                row = conn.execute(
                    "SELECT key, title, price, stock, shop_id, status FROM products WHERE key = ?",
                    (key,)).fetchone()
                if row is None or row[4] != conv["shop_id"]:
                    raise NotFound(f"no product {key!r} in this shop", key="no_product_here",
                                   product=key)
                payload: dict[str, Any] = {"product": row[0], "title": row[1],
                                           "price": format_money(row[2]), "stock": row[3],
                                           "status": row[5]}
                body = f"【商品】{row[1]} {yuan(row[2])}"
            else:
                row = conn.execute(
                    "SELECT id, key, name, kind, amount, rate, threshold, shop_id, valid_to, "
                    "valid_from FROM coupons WHERE key = ?", (key,)).fetchone()
                if row is None or row[7] != conv["shop_id"]:
                    raise NotFound(f"no coupon {key!r} in this shop", key="no_coupon_here",
                                   coupon=key)
                if row[8] is not None and row[8] < self._now():
                    raise Conflict(f"coupon {key!r} expired at {format_time(row[8])}",
                                   key="coupon_expired", coupon=key, at=short_time(row[8]))
                if row[9] is not None and row[9] > self._now():
                    raise Conflict(f"coupon {key!r} is valid only from {format_time(row[9])}",
                                   key="coupon_not_yet_valid", coupon=key,
                                   at=short_time(row[9]))
                held = conn.execute(
                    "SELECT 1 FROM customer_coupons WHERE customer_id = ? AND coupon_id = ? "
                    "AND used_at IS NULL", (conv["customer_id"], row[0])).fetchone()
                if held:
                    raise Conflict(f"the customer holds coupon {key!r} already",
                                   key="coupon_held", coupon=key)
                now = self._now()
                conn.execute(
                    "INSERT INTO customer_coupons (customer_id, coupon_id, position, issued_at, "
                    "source) VALUES (?, ?, (SELECT COUNT(*) FROM customer_coupons WHERE "
                    "customer_id = ?), ?, 'agent')",
                    (conv["customer_id"], row[0], conv["customer_id"], now))
                payload = {"coupon": row[1], "name": row[2], "kind": row[3],
                           "amount": format_money(row[4]), "rate": row[5],
                           "threshold": format_money(row[6]),
                           "valid_to": format_time_in(row[8], self._shop_by_id(
                               conn, conv["shop_id"])["timezone"])}  # the shop's time
                body = f"【优惠券】{row[2]} 已发放到您的账户"
            conn.execute(
                "UPDATE conversations SET first_agent_reply_at = COALESCE(first_agent_reply_at,"
                " ?), agent_seen_at = ? WHERE id = ?", (self._now(), self._now(), conv["id"]))
            return self._add_message(conn, conv, "agent", body, agent_id=a["id"], agent=agent,
                                     kind=kind, payload=payload)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
