"""Webhook queries: the subscriptions' cursors over the event log, the deliveries they
make (one per event and webhook), the claim of a delivery attempt by one worker and
its outcome, and the log of attempts.

A claim is an UPDATE inside the caller's write transaction (BEGIN IMMEDIATE: one writer
at a time), guarded by the lease: a delivery is claimed only when it is pending, due,
not leased (or its lease ran out) and no earlier delivery of the same webhook and the
same conversation (``order_key``) is still pending. So an attempt is made by one
worker, and a worker killed mid-attempt leaves a lease that runs out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..where import Where

DELIVERY_COLUMNS = ("id", "uid", "webhook", "shop", "event_id", "event_type", "order_key",
                    "status", "attempts", "first_at", "next_at", "lease_until",
                    "last_code", "last_error", "done_at", "created_at")
_SELECT_DELIVERY = (
    "SELECT d.id, d.uid, w.key, s.key, d.event_id, d.event_type, d.order_key, d.status, "
    "d.attempts, d.first_at, d.next_at, d.lease_until, d.last_code, d.last_error, "
    "d.done_at, d.created_at{EXTRA} FROM {D} d JOIN {T} w ON w.id = d.{FK} "
    "JOIN shops s ON s.id = d.shop_id")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


class Webhooks:
    """The webhooks, webhook_deliveries and webhook_attempts tables (a subclass names
    other tables of the same shape: ``ChannelDeliveries``)."""

    T, D, A, FK = "webhooks", "webhook_deliveries", "webhook_attempts", "webhook_id"
    EXTRA: tuple[str, ...] = ()  # more columns of a delivery (a subclass's)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def _select(self) -> str:
        extra = "".join(f", d.{c}" for c in self.EXTRA)
        return _SELECT_DELIVERY.format(D=self.D, T=self.T, FK=self.FK, EXTRA=extra)

    # -- subscriptions -----------------------------------------------------------------
    def start_at_head(self, name: str) -> None:
        """A new webhook gets the events from now on: its cursor at the log's head."""
        self.conn.execute(
            f"UPDATE {self.T} SET cursor = (SELECT COALESCE(MAX(id), 0) FROM events) "
            "WHERE key = ?", (name,))

    def hook(self, name: str) -> dict | None:
        """A webhook's id, shop (id and key), URL, secret and settings, or None."""
        r = self.conn.execute(
            "SELECT w.id, w.key, w.shop_id, s.key, w.url, w.secret, s.settings, w.active "
            f"FROM {self.T} w JOIN shops s ON s.id = w.shop_id WHERE w.key = ?",
            (name,)).fetchone()
        if r is None:
            return None
        return {"id": r[0], "name": r[1], "shop_id": r[2], "shop": r[3], "url": r[4],
                "secret": r[5], "settings": json.loads(r[6] or "{}"), "active": bool(r[7])}

    def subscriptions(self) -> list[dict]:
        """Every webhook: id, shop id and key, event types, cursor, active."""
        return [{"id": r[0], "shop_id": r[1], "shop": r[2], "events": json.loads(r[3]),
                 "cursor": r[4], "active": bool(r[5])}
                for r in self.conn.execute(
                    "SELECT w.id, w.shop_id, s.key, w.events, w.cursor, w.active "
                    f"FROM {self.T} w JOIN shops s ON s.id = w.shop_id ORDER BY w.id")]

    def events_after(self, shop_id: int, after: int, types: Sequence[str] | None,
                     limit: int) -> list[tuple]:
        """(id, at, type, entity, key, payload) of the shop's events after id ``after``
        of these types (all when None), oldest first, at most ``limit``."""
        where = Where().add("shop_id = ?", shop_id).add("id > ?", after)
        if types is not None:
            where.add(f"type IN ({_marks(types)})", *types)
        return self.conn.execute(
            f"SELECT id, at, type, entity, entity_key, payload FROM events {where.sql()} "
            "ORDER BY id LIMIT ?", (*where.params, int(limit))).fetchall()

    def head(self) -> int:
        """The event log's last id."""
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    def move_cursor(self, webhook_id: int, cursor: int) -> None:
        """The webhook has made deliveries for the events up to ``cursor``."""
        self.conn.execute(f"UPDATE {self.T} SET cursor = ? WHERE id = ? AND cursor < ?",
                          (cursor, webhook_id, cursor))

    def forget(self, webhook_id: int) -> None:
        """Delete a webhook's deliveries and their attempts (the webhook goes)."""
        self.conn.execute(
            f"DELETE FROM {self.A} WHERE delivery_id IN "
            f"(SELECT id FROM {self.D} WHERE {self.FK} = ?)", (webhook_id,))
        self.conn.execute(f"DELETE FROM {self.D} WHERE {self.FK} = ?", (webhook_id,))

    # -- deliveries --------------------------------------------------------------------
    def add_deliveries(self, rows: Iterable[Sequence[Any]]) -> None:
        """New pending deliveries: (uid, webhook id, shop id, event id, event type,
        order key, body, first_at = next_at = created_at)."""
        self.conn.executemany(
            f"INSERT INTO {self.D} (uid, {self.FK}, shop_id, event_id, event_type, "
            "order_key, body, first_at, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?)",  # plain parameters (portable): the instant three times
            [(*row, row[7], row[7]) for row in rows])

    def claim(self, now: int, owner: str, lease_for: Callable[[dict], int], limit: int, *,
              uid: str | None = None, shop_id: int | None = None) -> list[dict]:
        """Claim due deliveries for one attempt each (or the one named ``uid``, due or
        not): lease them to ``owner`` until ``lease_for(shop settings)``, count the
        attempt and log its start. Returns what the attempt needs (body, URL, secret,
        the attempt's number, the shop's settings, the lease's end)."""
        if uid is not None:
            where = (Where().add("d.uid = ?", uid).add("d.status = 'pending'")
                     .add("(d.lease_until IS NULL OR d.lease_until <= ?)", now))
        else:
            where = (Where().add("d.status = 'pending'").add("d.next_at <= ?", now)
                     .add("(d.lease_until IS NULL OR d.lease_until <= ?)", now)
                     .add(f"NOT EXISTS (SELECT 1 FROM {self.D} p WHERE "
                          f"p.{self.FK} = d.{self.FK} AND p.order_key = d.order_key AND "
                          "p.status = 'pending' AND p.id < d.id)")
                     .add_if(shop_id, "d.shop_id = ?", shop_id))
        rows = self.conn.execute(
            "SELECT d.id, d.uid, d.event_type, d.body, d.attempts, w.url, w.secret, "
            f"s.settings, w.key FROM {self.D} d JOIN {self.T} w ON "
            f"w.id = d.{self.FK} JOIN shops s ON s.id = d.shop_id {where.sql()} "
            "ORDER BY d.next_at, d.id LIMIT ?", (*where.params, int(limit))).fetchall()
        out = []
        for did, duid, etype, body, attempts, url, secret, settings, name in rows:
            n = attempts + 1
            decoded = json.loads(settings or "{}")
            lease_until = lease_for(decoded)
            self.conn.execute(
                f"UPDATE {self.D} SET attempts = ?, lease_until = ?, lease_owner = ? "
                "WHERE id = ?", (n, lease_until, owner, did))
            self.conn.execute(
                f"INSERT INTO {self.A} (delivery_id, n, worker, started_at) "
                "VALUES (?, ?, ?, ?)", (did, n, owner, now))
            out.append({"_id": did, "id": duid, "event": etype, "body": body, "attempt": n,
                        "url": url, "secret": secret, "webhook": name,
                        "settings": decoded, "lease_until": lease_until})
        return out

    def attempt_of(self, uid: str) -> dict | None:
        """The delivery ``uid``'s id, state, attempts, lease owner, first try and shop
        (settings too), or None."""
        r = self.conn.execute(
            "SELECT d.id, d.status, d.attempts, d.lease_owner, d.first_at, s.key, s.settings, "
            f"d.event_type, w.key, d.shop_id FROM {self.D} d "
            f"JOIN shops s ON s.id = d.shop_id JOIN {self.T} w ON w.id = d.{self.FK} "
            "WHERE d.uid = ?", (uid,)).fetchone()
        if r is None:
            return None
        return {"id": r[0], "status": r[1], "attempts": r[2], "owner": r[3], "first_at": r[4],
                "shop": r[5], "settings": json.loads(r[6] or "{}"), "event": r[7],
                "webhook": r[8], "shop_id": r[9]}

    def finish(self, delivery_id: int, n: int, owner: str, now: int, *, status: str,
               code: int | None, error: str | None, next_at: int | None) -> bool:
        """Record attempt ``n``'s outcome: the delivery ``done``, ``failed`` (dead
        letter) or ``pending`` again from ``next_at``. Only the lease holder of that
        attempt may (False: the attempt was not theirs, or not the last)."""
        cur = self.conn.execute(
            f"UPDATE {self.D} SET status = ?, last_code = ?, last_error = ?, "
            "next_at = COALESCE(?, next_at), lease_until = NULL, lease_owner = NULL, "
            "done_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END WHERE id = ? AND "
            "attempts = ? AND lease_owner = ? AND status = 'pending'",
            (status, code, error, next_at, status, now, delivery_id, n, owner))
        if not cur.rowcount:
            return False
        self.conn.execute(
            f"UPDATE {self.A} SET finished_at = ?, status_code = ?, error = ? "
            "WHERE delivery_id = ? AND n = ?", (now, code, error, delivery_id, n))
        return True

    def redeliver(self, uid: str, now: int) -> bool:
        """Pending again from now, with a new window of attempts (same id)."""
        cur = self.conn.execute(
            f"UPDATE {self.D} SET status = 'pending', next_at = ?, first_at = ?, "
            "done_at = NULL, lease_until = NULL, lease_owner = NULL WHERE uid = ? AND "
            "(status != 'pending' OR lease_until IS NULL OR lease_until <= ?)",
            (now, now, uid, now))
        return bool(cur.rowcount)

    def delivery(self, uid: str) -> dict | None:
        """One delivery (see :data:`DELIVERY_COLUMNS`) with its body and attempts."""
        r = self.conn.execute(f"{self._select()} WHERE d.uid = ?", (uid,)).fetchone()
        if r is None:
            return None
        d = dict(zip(DELIVERY_COLUMNS + self.EXTRA, r, strict=True))
        d["body"] = self.conn.execute(f"SELECT body FROM {self.D} WHERE id = ?",
                                      (d["id"],)).fetchone()[0]
        d["attempt_log"] = self.attempts([d["id"]]).get(d["id"], [])
        return d

    def deliveries(self, webhook_id: int, *, status: str | None, after: str | None,
                   limit: int) -> list[dict]:
        """A page of a webhook's deliveries, newest first (``after``: the delivery id of
        the previous page's last), with their attempts."""
        where = (Where().add(f"d.{self.FK} = ?", webhook_id)
                 .add_if(status, "d.status = ?", status)
                 .add_if(after, f"d.id < (SELECT x.id FROM {self.D} x "
                                "WHERE x.uid = ?)", after))
        rows = [dict(zip(DELIVERY_COLUMNS + self.EXTRA, r, strict=True)) for r in self.conn.execute(
            f"{self._select()} {where.sql()} ORDER BY d.id DESC LIMIT ?",
            (*where.params, int(limit)))]
        log = self.attempts([d["id"] for d in rows])
        for d in rows:
            d["attempt_log"] = log.get(d["id"], [])
        return rows

    def attempts(self, delivery_ids: Sequence[int]) -> dict[int, list[dict]]:
        """Each delivery's attempts in order."""
        out: dict[int, list[dict]] = {}
        for i in range(0, len(delivery_ids), 900):
            chunk = delivery_ids[i:i + 900]
            for did, n, worker, started, finished, code, error in self.conn.execute(
                    "SELECT delivery_id, n, worker, started_at, finished_at, status_code, "
                    f"error FROM {self.A} WHERE delivery_id IN ({_marks(chunk)}) "
                    "ORDER BY delivery_id, n", chunk):
                out.setdefault(did, []).append({
                    "n": n, "worker": worker, "started_at": started, "finished_at": finished,
                    "status_code": code, "error": error})
        return out


# A message's delivery state only moves forward: a late "delivered" does not undo "read".
DELIVERY_RANK = {"queued": 0, "sent": 1, "failed": 2, "delivered": 3, "read": 4}


class ChannelDeliveries(Webhooks):
    """The channels, channel_deliveries and channel_attempts tables: messages to the
    customers of a chat that came through an ``http`` channel, with the same claim,
    lease and attempt log as webhooks; plus the gateway's receipts and each message's
    delivery state."""

    T, D, A, FK = "channels", "channel_deliveries", "channel_attempts", "channel_id"
    EXTRA = ("message_id", "receipt")

    def subscriptions(self) -> list[dict]:
        """Every http channel: id, shop id and key, name, cursor, active."""
        return [{"id": r[0], "shop_id": r[1], "shop": r[2], "cursor": r[3],
                 "active": bool(r[4]), "name": r[5]}
                for r in self.conn.execute(
                    "SELECT w.id, w.shop_id, s.key, w.cursor, w.active, w.key FROM channels w "
                    "JOIN shops s ON s.id = w.shop_id WHERE w.kind = 'http' ORDER BY w.id")]

    def channel_of(self, shop_id: int, name: str) -> dict | None:
        """The shop's channel ``name``: id, kind, client, active; None when the shop has
        no channel of that name."""
        r = self.conn.execute(
            "SELECT id, kind, client, active FROM channels WHERE shop_id = ? AND key = ?",
            (shop_id, name)).fetchone()
        return None if r is None else {"id": r[0], "name": name, "kind": r[1],
                                       "client": r[2], "active": bool(r[3])}

    def preferred_for(self, shop_id: int, customer_id: int) -> dict | None:
        """The shop's oldest active http channel for the client the customer's profile in
        the shop prefers (id, name, client), or None."""
        r = self.conn.execute(
            "SELECT w.id, w.key, w.client FROM channels w JOIN customer_profiles p ON "
            "p.shop_id = w.shop_id AND p.channel = w.client WHERE w.shop_id = ? AND "
            "p.customer_id = ? AND w.kind = 'http' AND w.active = 1 ORDER BY w.id LIMIT 1",
            (shop_id, customer_id)).fetchone()
        return None if r is None else {"id": r[0], "name": r[1], "client": r[2]}

    def message_events(self, shop_id: int, after: int, limit: int) -> list[tuple]:
        """(event id, payload) of the shop's ``message.created`` events after ``after``,
        oldest first, at most ``limit``."""
        return self.conn.execute(
            "SELECT id, payload FROM events WHERE shop_id = ? AND id > ? AND "
            "type = 'message.created' ORDER BY id LIMIT ?",
            (shop_id, after, int(limit))).fetchall()

    def outbound(self, channel_id: int, message_ids: Sequence[int]) -> dict[int, dict]:
        """Of these messages, those to the customer of a chat on the channel (every
        sender but the customer): id, chat, customer key, sender, agent handle, kind,
        body, payload, created_at."""
        out: dict[int, dict] = {}
        for i in range(0, len(message_ids), 900):
            chunk = list(message_ids[i:i + 900])
            for r in self.conn.execute(
                    "SELECT m.id, m.conversation_id, cu.key, m.sender, a.handle, m.kind, "
                    "m.body, m.payload, m.created_at FROM messages m "
                    "JOIN conversations c ON c.id = m.conversation_id "
                    "JOIN customers cu ON cu.id = c.customer_id "
                    "LEFT JOIN agents a ON a.id = m.agent_id "
                    f"WHERE m.id IN ({_marks(chunk)}) AND c.channel_id = ? "
                    "AND m.sender != 'customer'", (*chunk, channel_id)):
                out[r[0]] = {"id": r[0], "conversation": r[1], "customer": r[2],
                             "sender": r[3], "agent": r[4], "kind": r[5], "body": r[6],
                             "payload": json.loads(r[7]) if r[7] else None,
                             "created_at": r[8]}
        return out

    def add_deliveries(self, rows: Iterable[Sequence[Any]]) -> None:
        """New pending deliveries: (uid, channel id, shop id, event id, event type,
        order key, body, created_at, message id); their messages become ``queued``."""
        rows = list(rows)
        self.conn.executemany(
            "INSERT INTO channel_deliveries (uid, channel_id, shop_id, event_id, event_type, "
            "order_key, body, first_at, next_at, created_at, message_id) VALUES (?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?)", [(*row[:8], row[7], row[7], row[8]) for row in rows])
        self.conn.executemany("UPDATE messages SET delivery = 'queued' WHERE id = ?",
                              [(row[8],) for row in rows if row[8] is not None])

    def receipt_target(self, uid: str) -> dict | None:
        """The delivery ``uid``'s message, shop (id, key), channel and receipt, or None."""
        r = self.conn.execute(
            "SELECT d.id, d.message_id, d.shop_id, s.key, w.key, d.receipt, d.status "
            "FROM channel_deliveries d JOIN shops s ON s.id = d.shop_id "
            "JOIN channels w ON w.id = d.channel_id WHERE d.uid = ?", (uid,)).fetchone()
        if r is None:
            return None
        return {"id": r[0], "message": r[1], "shop_id": r[2], "shop": r[3], "channel": r[4],
                "receipt": r[5], "status": r[6]}

    def set_receipt(self, delivery_id: int, state: str, at: int) -> None:
        """The gateway's latest word on a delivery."""
        self.conn.execute("UPDATE channel_deliveries SET receipt = ?, receipt_at = ? "
                          "WHERE id = ?", (state, at, delivery_id))

    def message_state(self, message_id: int) -> str | None:
        """A message's delivery state (None: not to a channel)."""
        r = self.conn.execute("SELECT delivery FROM messages WHERE id = ?",
                              (message_id,)).fetchone()
        return None if r is None else r[0]

    def advance_message(self, message_id: int, state: str, *, over: tuple = ()) -> bool:
        """Move a message's delivery state forward to ``state`` (never back: see
        :data:`DELIVERY_RANK`; but from a state in ``over``: a redelivered dead letter
        the gateway took is ``sent`` again), its campaign send's too; True when it moved."""
        now = self.message_state(message_id)
        if now is not None and now not in over and \
                DELIVERY_RANK.get(now, -1) >= DELIVERY_RANK[state]:
            return False
        self.conn.execute("UPDATE messages SET delivery = ? WHERE id = ?", (state, message_id))
        if state in ("delivered", "read", "failed") or now in over:
            self.conn.execute("UPDATE campaign_sends SET delivery = ? WHERE message_id = ? "
                              "AND outcome = 'sent'",
                              (state if state != "sent" else None, message_id))
        return True

    def message_of(self, delivery_id: int) -> int | None:
        """The message a delivery carries."""
        r = self.conn.execute("SELECT message_id FROM channel_deliveries WHERE id = ?",
                              (delivery_id,)).fetchone()
        return None if r is None else r[0]

    def conversation_of_message(self, message_id: int) -> int | None:
        """The chat a message is in."""
        r = self.conn.execute("SELECT conversation_id FROM messages WHERE id = ?",
                              (message_id,)).fetchone()
        return None if r is None else r[0]

    def clear_chats(self, channel_id: int) -> None:
        """Chats of a deleted channel keep their messages and lose the connector."""
        self.conn.execute("UPDATE conversations SET channel_id = NULL WHERE channel_id = ?",
                          (channel_id,))
