"""Campaign queries: the running campaigns and their reply codes, the guards a pass
reads in one go for a batch of customers (opt-outs, sensitive matters, recent sends),
the record of decisions (``campaign_sends``) and the figures behind the stats.

Lists of ids are bound in chunks of at most :data:`CHUNK` parameters (SQLite's old
limit was 999).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ..where import Where
from . import campaign_triggers

CHUNK = 900

_CAMPAIGN_FIELDS = ("id", "key", "shop_id", "name", "trigger", "template", "delay_min",
                    "expires_min", "coupon_id", "coupon", "product_id", "product",
                    "categories", "min_level", "max_level", "tags", "regions",
                    "classifications", "starts_at", "holdout", "paused_from", "paused_to")
_JSON_LISTS = ("categories", "tags", "regions", "classifications")

# The columns of a campaign_sends row, in the order record_sends takes them.
SEND_COLUMNS = ("campaign_id", "customer_id", "trigger_key", "outcome", "conversation_id",
                "message_id", "at", "shop_id", "reason", "order_id", "coupon_id", "body")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


# A decision that reached the customer (or a holdout): not a send reported failed.
REACHED = "(s.delivery IS NULL OR s.delivery != 'failed')"


class Campaigns:
    """The campaigns and campaign_sends tables, and what a pass reads of customers'
    situations (profiles, tickets, orders, chats) to guard its sends."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def due_triggers(self, campaign: dict, spans: list[tuple[int, int]]) -> list[tuple]:
        """The campaign's undecided triggers in ``spans`` (see
        :func:`cstool.storage.repos.campaign_triggers.due_triggers`)."""
        return campaign_triggers.due_triggers(self.conn, campaign, spans)

    def running(self, t: int, shop_id: int | None) -> list[dict]:
        """The active campaigns sent by the pass (every trigger but reply codes) that run
        at ``t``, of one shop or all, by key; JSON lists decoded."""
        where = (Where().add("c.status = 'active'").add("c.trigger != 'reply_code'")
                 .add("(c.starts_at IS NULL OR c.starts_at <= ?)", t)
                 .add("(c.ends_at IS NULL OR c.ends_at >= ?)", t)
                 .add_if(shop_id, "c.shop_id = ?", shop_id))
        sql = ("SELECT c.id, c.key, c.shop_id, c.name, c.trigger, c.template, c.delay_min, "
               "c.expires_min, c.coupon_id, cp.key, c.product_id, pr.key, c.categories, "
               "c.min_level, c.max_level, c.tags, c.regions, c.classifications, c.starts_at, "
               "c.holdout, c.paused_from, c.paused_to FROM campaigns c "
               "LEFT JOIN coupons cp ON cp.id = c.coupon_id "
               f"LEFT JOIN products pr ON pr.id = c.product_id {where.sql()} ORDER BY c.key")
        out = []
        for r in self.conn.execute(sql, where.params):
            c = dict(zip(_CAMPAIGN_FIELDS, r, strict=True))
            for name in _JSON_LISTS:
                c[name] = json.loads(c[name])
            out.append(c)
        return out

    def reply_codes(self, shop_id: int) -> list[dict]:
        """The shop's active reply-code campaigns (their run window not checked)."""
        return [{"id": r[0], "key": r[1], "code": r[2], "template": r[3], "coupon_id": r[4],
                 "coupon": r[5], "starts_at": r[6], "ends_at": r[7]}
                for r in self.conn.execute(
                    "SELECT c.id, c.key, c.code, c.template, c.coupon_id, cp.key, c.starts_at, "
                    "c.ends_at FROM campaigns c LEFT JOIN coupons cp ON cp.id = c.coupon_id "
                    "WHERE c.shop_id = ? AND c.status = 'active' AND c.trigger = 'reply_code'",
                    (shop_id,))]

    def id_of(self, key: str) -> int | None:
        """The id of the campaign with ``key``, or None."""
        row = self.conn.execute("SELECT id FROM campaigns WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def with_shop(self, key: str) -> dict | None:
        """A campaign's identity and attribution settings with its shop's key and settings
        (decoded), or None."""
        r = self.conn.execute(
            "SELECT c.id, c.key, c.name, c.trigger, c.status, c.holdout, c.attribution_h, "
            "s.key, s.settings FROM campaigns c JOIN shops s ON s.id = c.shop_id "
            "WHERE c.key = ?", (key,)).fetchone()
        if r is None:
            return None
        return {"id": r[0], "key": r[1], "name": r[2], "trigger": r[3], "status": r[4],
                "holdout": r[5], "attribution_h": r[6], "shop": r[7],
                "shop_settings": json.loads(r[8] or "{}")}

    # -- what a pass reads for a batch ----------
    def order_statuses(self, shop_id: int,
                       customer_ids: Sequence[int]) -> dict[int, list[str]]:
        """Each customer's order statuses in the shop, newest first."""
        out: dict[int, list[str]] = {}
        for i in range(0, len(customer_ids), CHUNK):
            chunk = customer_ids[i:i + CHUNK]
            for cid, status in self.conn.execute(
                    f"SELECT customer_id, status FROM orders WHERE shop_id = ? AND "
                    f"customer_id IN ({_marks(chunk)}) ORDER BY customer_id, created_at DESC",
                    (shop_id, *chunk)):
                out.setdefault(cid, []).append(status)
        return out

    def decided_triggers(self, campaign_ids: Sequence[int],
                         trigger_keys: Sequence[str]) -> set[tuple[int, str]]:
        """The (campaign, trigger) pairs among these already decided."""
        done: set[tuple[int, str]] = set()
        for i in range(0, len(trigger_keys), CHUNK):
            chunk = trigger_keys[i:i + CHUNK]
            done.update(self.conn.execute(
                f"SELECT campaign_id, trigger_key FROM campaign_sends WHERE campaign_id IN "
                f"({_marks(campaign_ids)}) AND trigger_key IN ({_marks(chunk)})",
                (*campaign_ids, *chunk)).fetchall())
        return done

    def trigger_decided(self, campaign_id: int, trigger_key: str) -> bool:
        """Whether the campaign decided this trigger already."""
        return self.conn.execute(
            "SELECT 1 FROM campaign_sends WHERE campaign_id = ? AND trigger_key = ?",
            (campaign_id, trigger_key)).fetchone() is not None

    def opted_out(self, shop_id: int, customers: Sequence[int]) -> set[int]:
        """The customers among these who opted out of the shop's campaigns."""
        return {r[0] for r in self.conn.execute(
            f"SELECT customer_id FROM customer_profiles WHERE shop_id = ? AND customer_id IN "
            f"({_marks(customers)}) AND opted_out_at IS NOT NULL", (shop_id, *customers))}

    def opt_out(self, customer_id: int, shop_id: int, at: int) -> bool:
        """Record the customer's opt-out of the shop's campaigns; False if it stood already."""
        cur = self.conn.execute(
            "UPDATE customer_profiles SET opted_out_at = ? WHERE customer_id = ? AND "
            "shop_id = ? AND opted_out_at IS NULL", (at, customer_id, shop_id))
        return bool(cur.rowcount)

    def customers_in_sensitive_matters(self, shop_id: int,
                                       customers: Sequence[int],
                                       ticket_types: Sequence[str]) -> set[int]:
        """The customers among these with an open ticket of a sensitive type, a refund
        dispute or an open chat tagged sensitive in the shop."""
        marks = _marks(customers)
        return {r[0] for r in self.conn.execute(
            f"SELECT customer_id FROM tickets WHERE customer_id IN ({marks}) AND shop_id = ? "
            f"AND status NOT IN ('resolved', 'closed') AND type IN ({_marks(ticket_types)}) "
            f"UNION SELECT customer_id FROM orders WHERE customer_id IN ({marks}) "
            f"AND shop_id = ? AND status = 'refund_requested' UNION "
            f"SELECT customer_id FROM conversations WHERE customer_id IN ({marks}) "
            f"AND shop_id = ? AND sensitive = 1 AND state != 'closed'",
            (*customers, shop_id, *ticket_types, *customers, shop_id, *customers, shop_id))}

    def sensitive_conversations(self, conversations: Sequence[int]) -> set[int]:
        """The conversations among these tagged sensitive (open or not)."""
        if not conversations:
            return set()
        return {r[0] for r in self.conn.execute(
            f"SELECT id FROM conversations WHERE id IN ({_marks(conversations)}) "
            "AND sensitive = 1", conversations)}

    def recent_sends(self, shop_id: int, since: int,
                     customers: Sequence[int]) -> dict[int, int]:
        """How many campaign messages and invitations sent from a follow-up list each of
        these customers got from the shop after ``since`` (the frequency cap's count)."""
        marks = _marks(customers)
        return dict(self.conn.execute(
            "SELECT customer_id, COUNT(*) FROM (SELECT customer_id FROM campaign_sends "
            f"WHERE shop_id = ? AND outcome = 'sent' AND at > ? AND customer_id IN ({marks}) "
            "UNION ALL SELECT customer_id FROM follow_up_invitations WHERE shop_id = ? AND "
            f"at > ? AND customer_id IN ({marks})) s GROUP BY customer_id",
            (shop_id, since, *customers, shop_id, since, *customers)).fetchall())

    # -- writing decisions ----------
    def record_sends(self, sends: Iterable[Sequence[Any]]) -> None:
        """Write decisions, each a row in the order of :data:`SEND_COLUMNS`."""
        self.conn.executemany(
            f"INSERT INTO campaign_sends ({', '.join(SEND_COLUMNS)}) "
            f"VALUES ({_marks(SEND_COLUMNS)})", sends)

    # -- the record of decisions ----------
    def sends_page(self, campaign_id: int, *, outcome: str | None,
                   customer: str | None, after: int | None, limit: int) -> list[dict]:
        """One page of a campaign's decisions in id order, with customer, order and coupon
        keys."""
        where = (Where().add("s.campaign_id = ?", campaign_id)
                 .add_if(outcome, "s.outcome = ?", outcome)
                 .add_if(customer, "cu.key = ?", customer)
                 .add_if(after, "s.id > ?", after))
        rows = self.conn.execute(
            "SELECT s.id, s.at, cu.key, cu.name, s.trigger_key, s.outcome, s.reason, o.key, "
            "s.conversation_id, s.message_id, cp.key, s.body FROM campaign_sends s "
            "JOIN customers cu ON cu.id = s.customer_id LEFT JOIN orders o ON o.id = s.order_id "
            f"LEFT JOIN coupons cp ON cp.id = s.coupon_id {where.sql()} ORDER BY s.id LIMIT ?",
            (*where.params, limit)).fetchall()
        return [{"id": r[0], "at": r[1], "customer": r[2], "customer_name": r[3],
                 "trigger": r[4], "outcome": r[5], "reason": r[6], "order": r[7],
                 "conversation": r[8], "message": r[9], "coupon": r[10], "body": r[11]}
                for r in rows]

    def send_figures(self, campaign_id: int, *, since: int | None,
                     until: int | None, by_order: bool, window_ms: int) -> dict:
        """The counts behind a campaign's stats, for decisions in [since, until).

        ``outcomes``: ``{(outcome, reason): n}``; ``converted``: ``{outcome: n}`` of the
        decisions followed by an order within ``window_ms`` (``by_order``: the very order
        of the decision paid in time, as for payment reminders; else any order of the
        customer in the shop created in time and not cancelled); ``sales``: ``{outcome:
        (orders, total)}`` over those orders, each once; ``delivery``: ``{state: n}`` of
        the sends a channel reported on (delivered, read, failed). A send its channel
        reported ``failed`` never reached the customer: it converts nothing.
        """
        where = (Where().add("s.campaign_id = ?", campaign_id)
                 .add_if(since, "s.at >= ?", since).add_if(until, "s.at < ?", until))
        if by_order:
            match = "o.id = s.order_id AND o.paid_at > s.at AND o.paid_at <= s.at + ?"
        else:
            match = ("o.customer_id = s.customer_id AND o.shop_id = s.shop_id AND "
                     "o.created_at > s.at AND o.created_at <= s.at + ? "
                     "AND o.status != 'cancelled'")
        outcomes = {(outcome, reason): n for outcome, reason, n in self.conn.execute(
            f"SELECT outcome, reason, COUNT(*) FROM campaign_sends s {where.sql()} "
            "GROUP BY outcome, reason", where.params)}
        delivery = dict(self.conn.execute(
            f"SELECT delivery, COUNT(*) FROM campaign_sends s {where.sql()} AND "
            "s.outcome = 'sent' AND s.delivery IS NOT NULL GROUP BY delivery",
            where.params).fetchall())
        converted = dict(self.conn.execute(
            f"SELECT s.outcome, COUNT(*) FROM campaign_sends s {where.sql()} AND "
            f"s.outcome IN ('sent', 'holdout', 'redeemed') AND {REACHED} AND EXISTS (SELECT 1 FROM "
            f"orders o WHERE {match}) GROUP BY s.outcome", (*where.params, window_ms)).fetchall())
        sales = {}
        for outcome in ("sent", "holdout", "redeemed"):
            sales[outcome] = tuple(self.conn.execute(
                f"SELECT COUNT(*), COALESCE(SUM(o.total), 0) FROM orders o WHERE o.id IN "
                f"(SELECT o.id FROM campaign_sends s JOIN orders o ON {match} {where.sql()} "
                f"AND s.outcome = ? AND {REACHED})",
                (window_ms, *where.params, outcome)).fetchone())
        return {"outcomes": outcomes, "converted": converted, "sales": sales,
                "delivery": delivery}
