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
    "d.done_at, d.created_at FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
    "JOIN shops s ON s.id = d.shop_id")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


class Webhooks:
    """The webhooks, webhook_deliveries and webhook_attempts tables."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- subscriptions -----------------------------------------------------------------
    def start_at_head(self, name: str) -> None:
        """A new webhook gets the events from now on: its cursor at the log's head."""
        self.conn.execute(
            "UPDATE webhooks SET cursor = (SELECT COALESCE(MAX(id), 0) FROM events) "
            "WHERE key = ?", (name,))

    def hook(self, name: str) -> dict | None:
        """A webhook's id, shop (id and key), URL, secret and settings, or None."""
        r = self.conn.execute(
            "SELECT w.id, w.key, w.shop_id, s.key, w.url, w.secret, s.settings, w.active "
            "FROM webhooks w JOIN shops s ON s.id = w.shop_id WHERE w.key = ?",
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
                    "FROM webhooks w JOIN shops s ON s.id = w.shop_id ORDER BY w.id")]

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
        self.conn.execute("UPDATE webhooks SET cursor = ? WHERE id = ? AND cursor < ?",
                          (cursor, webhook_id, cursor))

    def forget(self, webhook_id: int) -> None:
        """Delete a webhook's deliveries and their attempts (the webhook goes)."""
        self.conn.execute(
            "DELETE FROM webhook_attempts WHERE delivery_id IN "
            "(SELECT id FROM webhook_deliveries WHERE webhook_id = ?)", (webhook_id,))
        self.conn.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (webhook_id,))

    # -- deliveries --------------------------------------------------------------------
    def add_deliveries(self, rows: Iterable[Sequence[Any]]) -> None:
        """New pending deliveries: (uid, webhook id, shop id, event id, event type,
        order key, body, first_at = next_at = created_at)."""
        self.conn.executemany(
            "INSERT INTO webhook_deliveries (uid, webhook_id, shop_id, event_id, event_type, "
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
                     .add("NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE "
                          "p.webhook_id = d.webhook_id AND p.order_key = d.order_key AND "
                          "p.status = 'pending' AND p.id < d.id)")
                     .add_if(shop_id, "d.shop_id = ?", shop_id))
        rows = self.conn.execute(
            "SELECT d.id, d.uid, d.event_type, d.body, d.attempts, w.url, w.secret, "
            "s.settings, w.key FROM webhook_deliveries d JOIN webhooks w ON "
            f"w.id = d.webhook_id JOIN shops s ON s.id = d.shop_id {where.sql()} "
            "ORDER BY d.next_at, d.id LIMIT ?", (*where.params, int(limit))).fetchall()
        out = []
        for did, duid, etype, body, attempts, url, secret, settings, name in rows:
            n = attempts + 1
            decoded = json.loads(settings or "{}")
            lease_until = lease_for(decoded)
            self.conn.execute(
                "UPDATE webhook_deliveries SET attempts = ?, lease_until = ?, lease_owner = ? "
                "WHERE id = ?", (n, lease_until, owner, did))
            self.conn.execute(
                "INSERT INTO webhook_attempts (delivery_id, n, worker, started_at) "
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
            "d.event_type, w.key, d.shop_id FROM webhook_deliveries d "
            "JOIN shops s ON s.id = d.shop_id JOIN webhooks w ON w.id = d.webhook_id "
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
            "UPDATE webhook_deliveries SET status = ?, last_code = ?, last_error = ?, "
            "next_at = COALESCE(?, next_at), lease_until = NULL, lease_owner = NULL, "
            "done_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END WHERE id = ? AND "
            "attempts = ? AND lease_owner = ? AND status = 'pending'",
            (status, code, error, next_at, status, now, delivery_id, n, owner))
        if not cur.rowcount:
            return False
        self.conn.execute(
            "UPDATE webhook_attempts SET finished_at = ?, status_code = ?, error = ? "
            "WHERE delivery_id = ? AND n = ?", (now, code, error, delivery_id, n))
        return True

    def redeliver(self, uid: str, now: int) -> bool:
        """Pending again from now, with a new window of attempts (same id)."""
        cur = self.conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_at = ?, first_at = ?, "
            "done_at = NULL, lease_until = NULL, lease_owner = NULL WHERE uid = ? AND "
            "(status != 'pending' OR lease_until IS NULL OR lease_until <= ?)",
            (now, now, uid, now))
        return bool(cur.rowcount)

    def delivery(self, uid: str) -> dict | None:
        """One delivery (see :data:`DELIVERY_COLUMNS`) with its body and attempts."""
        r = self.conn.execute(f"{_SELECT_DELIVERY} WHERE d.uid = ?", (uid,)).fetchone()
        if r is None:
            return None
        d = dict(zip(DELIVERY_COLUMNS, r, strict=True))
        d["body"] = self.conn.execute("SELECT body FROM webhook_deliveries WHERE id = ?",
                                      (d["id"],)).fetchone()[0]
        d["attempt_log"] = self.attempts([d["id"]]).get(d["id"], [])
        return d

    def deliveries(self, webhook_id: int, *, status: str | None, after: str | None,
                   limit: int) -> list[dict]:
        """A page of a webhook's deliveries, newest first (``after``: the delivery id of
        the previous page's last), with their attempts."""
        where = (Where().add("d.webhook_id = ?", webhook_id)
                 .add_if(status, "d.status = ?", status)
                 .add_if(after, "d.id < (SELECT x.id FROM webhook_deliveries x "
                                "WHERE x.uid = ?)", after))
        rows = [dict(zip(DELIVERY_COLUMNS, r, strict=True)) for r in self.conn.execute(
            f"{_SELECT_DELIVERY} {where.sql()} ORDER BY d.id DESC LIMIT ?",
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
                    f"error FROM webhook_attempts WHERE delivery_id IN ({_marks(chunk)}) "
                    "ORDER BY delivery_id, n", chunk):
                out.setdefault(did, []).append({
                    "n": n, "worker": worker, "started_at": started, "finished_at": finished,
                    "status_code": code, "error": error})
        return out
