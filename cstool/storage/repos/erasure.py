"""Erasing a customer's data in one shop (``uow.repo(Erasure)``; the service is
``cstool.services.erasure``).

Every statement here works on one shop's rows of one customer and on the chats, messages
and events they own. Lists of ids go in chunks of 500 (SQLite's and PostgreSQL's limits
on parameters stay far away).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence

CHUNK = 500
ERASED = json.dumps({"erased": True})
# Per-chat tables deleted with the chat (after its messages' dependants).
_CHAT_TABLES = ("conversation_labels", "conversation_notes", "conversation_presence",
                "qa_findings", "qa_inspections", "unanswered_questions",
                "follow_up_invitations")


def _chunks(ids: Sequence[int | str]) -> Iterator[tuple[list, str]]:
    for i in range(0, len(ids), CHUNK):
        part = list(ids[i:i + CHUNK])
        yield part, ", ".join("?" * len(part))


class Erasure:
    """The statements of a customer's erasure in one shop."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def _count(self, sql: str, params: Sequence) -> int:
        return self.conn.execute(sql, params).fetchone()[0]

    # -- what the customer has in the shop ------------------------------------------------
    def has_profile(self, customer_id: int, shop_id: int) -> bool:
        """Whether the customer has a profile in the shop."""
        return self._count("SELECT COUNT(*) FROM customer_profiles WHERE customer_id = ? "
                           "AND shop_id = ?", (customer_id, shop_id)) > 0

    def conversations(self, customer_id: int, shop_id: int) -> list[int]:
        """The customer's chats in the shop."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM conversations WHERE customer_id = ? AND shop_id = ? ORDER BY id",
            (customer_id, shop_id))]

    def messages(self, conversation_ids: Sequence[int]) -> list[int]:
        """The messages of these chats."""
        out: list[int] = []
        for part, marks in _chunks(conversation_ids):
            out += [r[0] for r in self.conn.execute(
                f"SELECT id FROM messages WHERE conversation_id IN ({marks})", part)]
        return out

    def orders(self, customer_id: int, shop_id: int) -> list[int]:
        """The customer's orders in the shop."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM orders WHERE customer_id = ? AND shop_id = ?",
            (customer_id, shop_id))]

    def tickets(self, customer_id: int, shop_id: int,
                conversation_ids: Sequence[int]) -> list[int]:
        """The shop's tickets about the customer or raised from their chats."""
        found = {r[0] for r in self.conn.execute(
            "SELECT id FROM tickets WHERE shop_id = ? AND customer_id = ?",
            (shop_id, customer_id))}
        for part, marks in _chunks(conversation_ids):
            found.update(r[0] for r in self.conn.execute(
                f"SELECT id FROM tickets WHERE conversation_id IN ({marks})", part))
        return sorted(found)

    def sends(self, customer_id: int, shop_id: int) -> int:
        """How many campaign sends the shop's campaigns made to the customer."""
        return self._count(
            "SELECT COUNT(*) FROM campaign_sends WHERE customer_id = ? AND campaign_id IN "
            "(SELECT id FROM campaigns WHERE shop_id = ?)", (customer_id, shop_id))

    def metric_rows(self, customer_id: int, shop_id: int) -> int:
        """How many stored metric rows name the customer in the shop."""
        return self._count("SELECT COUNT(*) FROM metric_conversations WHERE customer_id = ? "
                           "AND shop_id = ?", (customer_id, shop_id))

    # -- deliveries and the event log ------------------------------------------------------
    def drop_channel_deliveries(self, message_ids: Sequence[int]) -> int:
        """Delete the channel deliveries (queued or sent) of these messages and their
        attempts; returns how many deliveries."""
        return self._drop_deliveries("channel", "message_id", message_ids)

    def conversation_events(self, shop_id: int, conversation_ids: Sequence[int]) -> list[int]:
        """The ids of the events of these chats."""
        out: list[int] = []
        for part, marks in _chunks([str(c) for c in conversation_ids]):
            out += [r[0] for r in self.conn.execute(
                "SELECT id FROM events WHERE shop_id = ? AND entity = 'conversation' AND "
                f"entity_key IN ({marks})", (shop_id, *part))]
        return out

    def customer_events(self, shop_id: int, key: str) -> list[tuple[int, str, str | None]]:
        """(id, entity, payload) of the shop's events that name the customer: the
        customer's own (``customer.created``, ``customer.opted_out`` …) and campaign
        events whose payload names them."""
        out = [(r[0], "customer", r[1]) for r in self.conn.execute(
            "SELECT id, payload FROM events WHERE shop_id = ? AND entity = 'customer' AND "
            "entity_key = ?", (shop_id, key))]
        for eid, payload in self.conn.execute(
                "SELECT id, payload FROM events WHERE shop_id = ? AND entity = 'campaign' "
                "AND payload LIKE ?", (shop_id, f"%{key}%")):
            try:
                named = json.loads(payload).get("customer") == key
            except (TypeError, ValueError, AttributeError):
                named = False
            if named:
                out.append((eid, "campaign", payload))
        return out

    def platform_customer_events(self, key: str) -> list[int]:
        """The ids of the platform's events (no shop) of customer ``key``'s own record."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM events WHERE shop_id IS NULL AND entity = 'customer' AND "
            "entity_key = ?", (key,))]

    def blank_events(self, event_ids: Sequence[int]) -> None:
        """Replace these events' payloads with ``{"erased": true}`` (type, time, shop and
        entity stay: the log's counts and order hold)."""
        for part, marks in _chunks(event_ids):
            self.conn.execute(f"UPDATE events SET payload = ? WHERE id IN ({marks})",
                              (ERASED, *part))

    def rename_customer_events(self, event_ids: Sequence[int], key: str) -> None:
        """Point these ``customer`` events at ``key`` (the stand-in)."""
        for part, marks in _chunks(event_ids):
            self.conn.execute(f"UPDATE events SET entity_key = ? WHERE id IN ({marks}) AND "
                              "entity = 'customer'", (key, *part))

    def set_event_payload(self, event_id: int, payload: str) -> None:
        """Replace one event's payload (JSON text)."""
        self.conn.execute("UPDATE events SET payload = ? WHERE id = ?", (payload, event_id))

    def drop_webhook_deliveries(self, event_ids: Sequence[int]) -> int:
        """Delete the webhook deliveries (pending, done or failed) of these events and
        their attempts (their bodies carry the events' payloads); returns how many."""
        return self._drop_deliveries("webhook", "event_id", event_ids)

    def _drop_deliveries(self, kind: str, column: str, ids: Sequence[int]) -> int:
        """Delete ``{kind}_deliveries`` whose ``column`` is one of ``ids``, with their
        ``{kind}_attempts``; how many deliveries."""
        n = 0
        for part, marks in _chunks(ids):
            self.conn.execute(
                f"DELETE FROM {kind}_attempts WHERE delivery_id IN (SELECT id FROM "
                f"{kind}_deliveries WHERE {column} IN ({marks}))", part)
            n += self.conn.execute(f"DELETE FROM {kind}_deliveries WHERE {column} IN "
                                   f"({marks})", part).rowcount
        return n

    # -- chats -----------------------------------------------------------------------------
    def unlink_chats(self, conversation_ids: Sequence[int]) -> None:
        """Campaign sends and tickets stop pointing at these chats (and their messages)."""
        for part, marks in _chunks(conversation_ids):
            self.conn.execute("UPDATE campaign_sends SET conversation_id = NULL, "
                              f"message_id = NULL WHERE conversation_id IN ({marks})", part)
            self.conn.execute("UPDATE tickets SET conversation_id = NULL WHERE "
                              f"conversation_id IN ({marks})", part)

    def top_ids(self) -> tuple[int, int]:
        """The highest conversation id and message id in the store (0 when none)."""
        return (self._count("SELECT COALESCE(MAX(id), 0) FROM conversations", ()),
                self._count("SELECT COALESCE(MAX(id), 0) FROM messages", ()))

    def conversation_of(self, message_id: int) -> int:
        """The chat of a message."""
        return self._count("SELECT conversation_id FROM messages WHERE id = ?",
                           (message_id,))

    def drop_chats(self, conversation_ids: Sequence[int], *, shell_chat: int | None = None,
                   shell_message: int | None = None, stand_in: int | None = None) -> int:
        """Delete these chats, their messages and every per-chat row (labels, private
        notes, presence, quality findings, the bot's unanswered questions, follow-up
        invitations); the files' rows are gone already. Returns how many messages.

        ``shell_chat`` / ``shell_message``: rows kept as empty shells instead (SQLite
        gives a new row the highest id plus one, so deleting the newest chat or message
        would hand its id to the next one, and a receiver that knows the id, a gateway
        ignoring a delivery id it saw or a CRM filing a conversation id, would take the
        next customer's for the erased one's). A shell chat is closed (``erased``), the
        stand-in's, with nothing of the customer; a shell message is a blank system one."""
        n = 0
        if shell_message is not None:
            self.conn.execute(
                "UPDATE messages SET sender = 'system', agent_id = NULL, kind = 'text', "
                "body = '', payload = NULL, client_id = NULL, delivery = NULL WHERE id = ?",
                (shell_message,))
        for part, marks in _chunks(conversation_ids):
            for table in _CHAT_TABLES:
                self.conn.execute(f"DELETE FROM {table} WHERE conversation_id IN ({marks})",
                                  part)
            n += self.conn.execute(f"DELETE FROM messages WHERE conversation_id IN ({marks}) "
                                   "AND id != ?", (*part, shell_message or 0)).rowcount
            self.conn.execute(f"DELETE FROM conversations WHERE id IN ({marks}) AND id != ?",
                              (*part, shell_chat or 0))
        if shell_message is not None:
            n += 1
        if shell_chat is not None:
            self.conn.execute(
                "UPDATE conversations SET customer_id = ?, state = 'closed', "
                "closed_at = COALESCE(closed_at, last_message_at), close_reason = 'erased', "
                "channel = NULL, entry_page = NULL, source = NULL, search_keyword = NULL, "
                "time_on_site_s = NULL, pages_viewed = NULL, intent = NULL, "
                "classification = NULL, assignee_id = NULL, rating = NULL, rated_at = NULL, "
                "flow = NULL, route_trace = NULL, product_key = NULL, channel_id = NULL, "
                "sensitive = 0 WHERE id = ?", (stand_in, shell_chat))
        return n

    def drop_open_suggestions(self, shop_id: int, conversation_ids: Sequence[int]) -> int:
        """Delete the shop's open knowledge proposals drawn from any of these chats (their
        wordings are the customer's; mining the remaining chats again proposes what they
        still show). Decided ones stay: they are the shop's knowledge now. Returns how
        many went."""
        erased = set(conversation_ids)
        gone = []
        for sid, evidence in self.conn.execute(
                "SELECT id, evidence FROM kb_suggestions WHERE shop_id = ? AND "
                "status = 'open'", (shop_id,)):
            try:
                chats = set(json.loads(evidence or "[]"))
            except (TypeError, ValueError):
                chats = set()
            if chats & erased:
                gone.append(sid)
        for part, marks in _chunks(gone):
            self.conn.execute(f"DELETE FROM kb_suggestions WHERE id IN ({marks})", part)
        return len(gone)

    # -- what stays, without the person ----------------------------------------------------
    def stand_in(self, key: str, name: str, shop_id: int, now: int) -> int:
        """A customer with no personal data that keeps the shop's records of an erased one:
        a profile in the shop (so the shop's export holds its orders), opted out of
        campaigns. Returns its row id."""
        cid = self.conn.execute(
            "INSERT INTO customers (key, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (key, name, now, now)).lastrowid
        self.conn.execute(
            "INSERT INTO customer_profiles (customer_id, shop_id, position, opted_out_at) "
            "VALUES (?, ?, 0, ?)", (cid, shop_id, now))
        return cid

    def move_records(self, customer_id: int, shop_id: int, to: int,
                     order_ids: Sequence[int], ticket_ids: Sequence[int]) -> None:
        """The shop's orders, campaign sends, tickets and stored metric rows of the
        customer go to the stand-in ``to``; the orders lose receiver, phone, address and
        region, their logistics steps their free text, the sends their text, the tickets
        their title and their timeline's words."""
        for part, marks in _chunks(order_ids):
            self.conn.execute("UPDATE orders SET customer_id = ?, receiver = NULL, "
                              "phone = NULL, address = NULL, region = NULL "
                              f"WHERE id IN ({marks})", (to, *part))
            self.conn.execute(f"UPDATE logistics_events SET detail = NULL WHERE order_id IN "
                              f"({marks})", part)
        self.conn.execute(
            "UPDATE campaign_sends SET customer_id = ?, body = NULL WHERE customer_id = ? "
            "AND campaign_id IN (SELECT id FROM campaigns WHERE shop_id = ?)",
            (to, customer_id, shop_id))
        for part, marks in _chunks(ticket_ids):
            self.conn.execute("UPDATE tickets SET customer_id = ?, title = ? "
                              f"WHERE id IN ({marks})", (to, "[已删除]", *part))
            self.conn.execute(f"UPDATE ticket_timeline SET body = NULL, payload = NULL "
                              f"WHERE ticket_id IN ({marks})", part)
        for table in ("metric_conversations", "metric_legs"):
            self.conn.execute(f"UPDATE {table} SET customer_id = ? WHERE customer_id = ? "
                              "AND shop_id = ?", (to, customer_id, shop_id))

    def drop_shop_part(self, customer_id: int, shop_id: int) -> dict:
        """Delete the customer's profile, cart, coupons and widget tokens in the shop;
        returns how many of each went."""
        out = {
            "cart_items": self.conn.execute(
                "DELETE FROM cart_items WHERE customer_id = ? AND shop_id = ?",
                (customer_id, shop_id)).rowcount,
            "coupons": self.conn.execute(
                "DELETE FROM customer_coupons WHERE customer_id = ? AND coupon_id IN "
                "(SELECT id FROM coupons WHERE shop_id = ?)", (customer_id, shop_id)).rowcount,
            "tokens": self.conn.execute(
                "DELETE FROM tokens WHERE customer_id = ? AND shop_id = ?",
                (customer_id, shop_id)).rowcount,
        }
        self.conn.execute("DELETE FROM customer_profiles WHERE customer_id = ? AND "
                          "shop_id = ?", (customer_id, shop_id))
        return out

    def drop_customer_if_unused(self, customer_id: int) -> bool:
        """Delete the customer's own row (name, phone, e-mail) when no shop keeps
        anything of them any more; returns whether it went."""
        for table in ("customer_profiles", "conversations", "orders", "campaign_sends",
                      "tickets", "cart_items", "follow_up_invitations"):
            if self.conn.execute(f"SELECT 1 FROM {table} WHERE customer_id = ? LIMIT 1",
                                 (customer_id,)).fetchone() is not None:
                return False
        self.conn.execute("DELETE FROM customers WHERE id = ?", (customer_id,))
        return True
