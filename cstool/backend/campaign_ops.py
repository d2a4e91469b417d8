"""Campaigns on the Local backend (docs/DESIGN.md §7): the run-due pass, 退订 / reply codes
answered at post time, sensitive chats, and stats with lift against the holdout.

The pass reads the due triggers of every active campaign with one indexed query each,
then records them in write transactions of at most ``BATCH`` triggers. Inside each
transaction (BEGIN IMMEDIATE: one writer at a time) it re-reads what another worker
may have done meanwhile (triggers already recorded, opt-outs, sensitive chats, sends
that count against the frequency cap) and writes every decision as a row of
``campaign_sends`` (UNIQUE per campaign and trigger) together with the message, the
coupon and the events. So a trigger is decided exactly once, by whichever worker gets
there first, and a worker killed mid-pass leaves whole batches or nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from typing import Any

from ..campaigns import rules
from ..campaigns.lift import lift
from ..campaigns.templates import render, variables_of
from ..errors import CstoolError, InvalidInput, NotFound, UsageError
from ..values import format_money, format_time, format_time_in, parse_time

BATCH = int(os.environ.get("CSTOOL_CAMPAIGN_BATCH", "500"))
OUTCOMES = ("sent", "holdout", "suppressed", "redeemed")
HOUR_MS = 3_600_000
MIN_MS = rules.MINUTE_MS

# One row per due trigger: the same columns for every trigger kind.
COLUMNS = ("trigger_key", "customer_id", "customer_key", "customer_name", "fact_at",
           "conversation_id", "order_id", "order_key", "carrier", "tracking_no",
           "product_key", "product_title", "product_price", "level", "tags", "region")
_PROFILE = ("LEFT JOIN customer_profiles p ON p.customer_id = {c} AND p.shop_id = :shop "
            "JOIN customers cu ON cu.id = {c}")
_LAST_CONV = ("(SELECT MAX(x.id) FROM conversations x WHERE x.customer_id = {c} "
              "AND x.shop_id = :shop)")
_FIRST_ITEM = "(SELECT oi.product_id FROM order_items oi WHERE oi.order_id = o.id " \
              "ORDER BY oi.id LIMIT 1)"
_NOT_DONE = ("NOT EXISTS (SELECT 1 FROM campaign_sends s WHERE s.campaign_id = :cid "
             "AND s.trigger_key = {k})")
_TAIL = "pr.key, pr.title, pr.price, p.level, p.tags, p.region"


def _order_sql(fact: str, status: str, product: str, extra: str = "") -> str:
    key = "'order:' || o.id"
    return (f"SELECT {key}, o.customer_id, cu.key, cu.name, o.{fact}, "
            f"{_LAST_CONV.format(c='o.customer_id')}, o.id, o.key, o.carrier, o.tracking_no, "
            f"{_TAIL} FROM orders o {_PROFILE.format(c='o.customer_id')} "
            f"LEFT JOIN products pr ON pr.id = {product} "
            f"WHERE o.shop_id = :shop AND o.status IN ({status}) "
            f"AND o.{fact} BETWEEN :lo AND :hi {extra} AND {_NOT_DONE.format(k=key)}")


def _nudge_sql() -> str:
    key = "'conv:' || c.id"
    return (f"SELECT {key}, c.customer_id, cu.key, cu.name, c.created_at, c.id, NULL, NULL, "
            f"NULL, NULL, {_TAIL} FROM conversations c {_PROFILE.format(c='c.customer_id')} "
            "LEFT JOIN products pr ON pr.key = COALESCE(c.product_key, :product_key) "
            "WHERE c.shop_id = :shop AND c.created_at BETWEEN :lo AND :hi "
            "AND c.close_reason IS NOT 'campaign_command' "  # 退订 or a code: no consultation
            "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id "
            "AND o.shop_id = c.shop_id AND o.created_at >= c.created_at) "
            f"AND {_NOT_DONE.format(k=key)}")


def _price_drop_sql(categories: bool) -> str:
    key = "'cart:' || ci.id || ':' || pr.price"
    fact = "MAX(ci.added_at, COALESCE(pr.price_changed_at, pr.updated_at))"
    cat = "AND pr.category IN (SELECT value FROM json_each(:categories))" if categories else ""
    return (f"SELECT {key}, ci.customer_id, cu.key, cu.name, {fact}, "
            f"{_LAST_CONV.format(c='ci.customer_id')}, NULL, NULL, NULL, NULL, {_TAIL} "
            f"FROM cart_items ci JOIN products pr ON pr.id = ci.product_id "
            f"{_PROFILE.format(c='ci.customer_id')} "
            "WHERE ci.shop_id = :shop AND pr.price < ci.price AND pr.status = 'on_sale' "
            f"AND {fact} BETWEEN :lo AND :hi {cat} "
            "AND NOT EXISTS (SELECT 1 FROM orders o JOIN order_items oi ON oi.order_id = o.id "
            "WHERE o.customer_id = ci.customer_id AND o.shop_id = ci.shop_id "
            "AND oi.product_id = ci.product_id AND o.created_at >= ci.added_at) "
            f"AND {_NOT_DONE.format(k=key)}")


def _related_sql(categories: bool) -> str:
    extra = ("AND NOT EXISTS (SELECT 1 FROM orders o2 JOIN order_items oi2 "
             "ON oi2.order_id = o2.id WHERE o2.customer_id = o.customer_id "
             "AND o2.shop_id = o.shop_id AND oi2.product_id = :product_id "
             "AND o2.status != 'cancelled')")
    if categories:
        extra += (" AND EXISTS (SELECT 1 FROM order_items oi3 JOIN products q "
                  "ON q.id = oi3.product_id WHERE oi3.order_id = o.id "
                  "AND q.category IN (SELECT value FROM json_each(:categories)))")
    return _order_sql("paid_at", "'paid', 'shipped', 'delivered'", ":product_id", extra)


def _trigger_sql(trigger: str, has_categories: bool) -> str:
    if trigger == "order_nudge":
        return _nudge_sql()
    if trigger == "payment_reminder":
        return _order_sql("created_at", "'created'", _FIRST_ITEM)
    if trigger == "order_shipped":
        return _order_sql("shipped_at", "'shipped'", _FIRST_ITEM)
    if trigger == "follow_up":
        return _order_sql("delivered_at", "'delivered'", _FIRST_ITEM)
    if trigger == "related_offer":
        return _related_sql(has_categories)
    if trigger == "price_drop":
        return _price_drop_sql(has_categories)
    raise ValueError(trigger)


class CampaignOps:
    """Mixed into LocalBackend: needs ``database``, ``_now``, ``_event``, ``_quote``,
    ``_shop_row``, ``_conv_row``, ``_add_message``."""

    # -- the pass --------------------------------------------------------------------------
    def run_due_campaigns(self, now: str | int | None = None, *,
                          shop: str | None = None) -> dict:
        """Send every due trigger of every active campaign (or one shop's), each exactly
        once, through the guards: audience, quiet hours, opt-out, sensitive chats, the
        frequency cap and the holdout. ``now`` replays the pass at another time (ISO 8601
        or epoch ms). Returns what was decided, by outcome."""
        t = self._pass_time(now)
        summary: dict[str, Any] = {"at": format_time(t), "campaigns": 0, "due": 0, "sent": 0,
                                   "holdout": 0, "suppressed": {}, "deferred": 0,
                                   "already_done": 0}
        with self.database.read() as conn:
            shop_id = self._shop_row(conn, shop)["id"] if shop is not None else None
            campaigns = self._running_campaigns(conn, t, shop_id)
            summary["campaigns"] = len(campaigns)
            shops = {c["shop_id"]: self._campaign_shop(conn, c["shop_id"]) for c in campaigns}
            due: dict[int, list[tuple[dict, tuple]]] = {}
            for c in campaigns:
                for row in self._due_triggers(conn, c, t):
                    due.setdefault(c["shop_id"], []).append((c, row))
            prices = self._campaign_prices(conn, campaigns, due, shops, t)
        suppressed: Counter = Counter()
        for sid, items in due.items():
            s = shops[sid]
            quiet_end = rules.quiet_until(s["settings"].get("quiet_hours"), t, s["timezone"])
            audience = [(c, row, None) for c, row in items if self._in_audience(c, row)]
            if any(c["classifications"] for c, _, _ in audience):
                audience = self._classified(sid, audience)
            todo = []
            for c, row, _ in audience:
                summary["due"] += 1
                if quiet_end is not None:
                    expires = row[4] + c["_delay_ms"] + c["_expires_ms"]
                    if expires > quiet_end:
                        summary["deferred"] += 1  # sent when the quiet hours end
                        continue
                    todo.append((c, row, "quiet_hours"))
                else:
                    todo.append((c, row, None))
            todo.sort(key=lambda x: (x[1][4] + x[0]["_delay_ms"],
                                     rules.TRIGGERS[x[0]["trigger"]].rank, x[1][0]))
            for i in range(0, len(todo), BATCH):
                with self.database.write() as conn:
                    out = self._decide_batch(conn, s, todo[i:i + BATCH], t, prices)
                summary["sent"] += out["sent"]
                summary["holdout"] += out["holdout"]
                summary["already_done"] += out["already_done"]
                suppressed.update(out["suppressed"])
        summary["suppressed"] = dict(sorted(suppressed.items()))
        return summary

    def _pass_time(self, now: str | int | None) -> int:
        return self._now() if now is None else _time_arg("now", now)

    def _running_campaigns(self, conn: sqlite3.Connection, t: int,
                           shop_id: int | None) -> list[dict]:
        sql = ("SELECT c.id, c.key, c.shop_id, c.name, c.trigger, c.template, c.delay_min, "
               "c.expires_min, c.coupon_id, cp.key, c.product_id, pr.key, c.categories, "
               "c.min_level, c.max_level, c.tags, c.regions, c.classifications, c.starts_at, "
               "c.holdout, c.paused_from, c.paused_to FROM campaigns c "
               "LEFT JOIN coupons cp ON cp.id = c.coupon_id "
               "LEFT JOIN products pr ON pr.id = c.product_id WHERE c.status = 'active' "
               "AND c.trigger != 'reply_code' AND (c.starts_at IS NULL OR c.starts_at <= :t) "
               "AND (c.ends_at IS NULL OR c.ends_at >= :t)")
        params: dict[str, Any] = {"t": t}
        if shop_id is not None:
            sql += " AND c.shop_id = :shop"
            params["shop"] = shop_id
        out = []
        for r in conn.execute(sql + " ORDER BY c.key", params):
            c = dict(zip(("id", "key", "shop_id", "name", "trigger", "template", "delay_min",
                          "expires_min", "coupon_id", "coupon", "product_id", "product",
                          "categories", "min_level", "max_level", "tags", "regions",
                          "classifications", "starts_at", "holdout", "paused_from",
                          "paused_to"), r, strict=True))
            trig = rules.TRIGGERS[c["trigger"]]
            for name in ("categories", "tags", "regions", "classifications"):
                c[name] = json.loads(c[name])
            c["_delay_ms"] = (trig.delay_min if c["delay_min"] is None else c["delay_min"]) \
                * MIN_MS
            c["_expires_ms"] = (trig.expires_min if c["expires_min"] is None
                                else c["expires_min"]) * MIN_MS
            c["_tags"] = frozenset(c["tags"])
            c["_vars"] = variables_of(c["template"])
            out.append(c)
        return out

    def _campaign_shop(self, conn: sqlite3.Connection, shop_id: int) -> dict:
        row = conn.execute("SELECT id, key, name, timezone, settings FROM shops WHERE id = ?",
                           (shop_id,)).fetchone()
        from ..resources import SHOP_SETTINGS_DEFAULTS

        settings = {**{k: v for k, v in SHOP_SETTINGS_DEFAULTS.items() if v is not None},
                    **json.loads(row[4] or "{}")}
        return {"id": row[0], "key": row[1], "name": row[2], "timezone": row[3],
                "settings": settings}

    def _due_triggers(self, conn: sqlite3.Connection, c: dict, t: int) -> list[tuple]:
        """The campaign's triggers that fall due by ``t`` and are not stale, not yet
        decided."""
        hi = t - c["_delay_ms"]
        lo = hi - c["_expires_ms"]
        if c["starts_at"] is not None:
            lo = max(lo, c["starts_at"] - c["_delay_ms"])
        if lo > hi:
            return []
        spans = [(lo, hi)]
        if c["paused_from"] is not None and c["paused_to"] is not None:
            # what fell due while paused (due = fact + delay in [from, to)) is not sent
            cut_lo = c["paused_from"] - c["_delay_ms"]
            cut_hi = c["paused_to"] - c["_delay_ms"]
            spans = [(a, b) for a, b in ((lo, min(hi, cut_lo - 1)), (max(lo, cut_hi), hi))
                     if a <= b]
        sql = _trigger_sql(c["trigger"], bool(c["categories"]))
        rows: list[tuple] = []
        for a, b in spans:
            params = {"shop": c["shop_id"], "cid": c["id"], "lo": a, "hi": b,
                      "product_key": c["product"], "product_id": c["product_id"],
                      "categories": json.dumps(c["categories"], ensure_ascii=False)}
            rows += conn.execute(sql, params).fetchall()
        return rows

    @staticmethod
    def _in_audience(c: dict, row: tuple) -> bool:
        level, tags, region = row[13] or 0, row[14], row[15]
        if c["min_level"] is not None and level < c["min_level"]:
            return False
        if c["max_level"] is not None and level > c["max_level"]:
            return False
        if c["regions"] and region not in c["regions"]:
            return False
        if c["_tags"]:
            have = json.loads(tags) if tags else []
            if not c["_tags"].intersection(have):
                return False
        return True

    def _classified(self, shop_id: int, todo: list) -> list:
        """Keep the triggers whose customer's classification the campaign wants."""
        ids = sorted({row[1] for c, row, _ in todo if c["classifications"]})
        statuses: dict[int, list[str]] = {}
        with self.database.read() as conn:
            for i in range(0, len(ids), 900):
                chunk = ids[i:i + 900]
                for cid, status in conn.execute(
                        "SELECT customer_id, status FROM orders WHERE shop_id = ? AND "
                        f"customer_id IN ({','.join('?' * len(chunk))}) "
                        "ORDER BY customer_id, created_at DESC", (shop_id, *chunk)):
                    statuses.setdefault(cid, []).append(status)
        return [x for x in todo if not x[0]["classifications"]
                or rules.classify_statuses(statuses.get(x[1][1], [])) in x[0]["classifications"]]

    def _campaign_prices(self, conn: sqlite3.Connection, campaigns: list[dict],
                         due: dict, shops: dict, t: int) -> dict:
        """The price after promotions and the campaign's coupon of every product the
        pass will name, once per campaign and product (for {price_after_discount})."""
        wanted = {(c["id"], row[10]) for items in due.values() for c, row in items
                  if row[10] is not None and "{price_after_discount}" in c["template"]}
        by_id = {c["id"]: c for c in campaigns}
        out: dict[tuple[int, str], int | None] = {}
        for cid, product in sorted(wanted):
            c = by_id[cid]
            shop = {"id": c["shop_id"], "key": shops[c["shop_id"]]["key"]}
            out[(cid, product)] = None
            for coupon in ([c["coupon"], None] if c["coupon"] else [None]):
                try:
                    q = self._quote(conn, shop, [(product, 1)], None, coupon, t)
                except CstoolError:
                    continue
                out[(cid, product)] = q.chosen.total
                break
        return out

    # -- one transaction -------------------------------------------------------------------
    def _decide_batch(self, conn: sqlite3.Connection, shop: dict, batch: list, t: int,
                      prices: dict) -> dict:
        sid = shop["id"]
        out: dict[str, Any] = {"sent": 0, "holdout": 0, "already_done": 0,
                               "suppressed": Counter()}
        cids = sorted({c["id"] for c, _, _ in batch})
        keys = sorted({row[0] for _, row, _ in batch})
        done = set()
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            done.update(conn.execute(
                f"SELECT campaign_id, trigger_key FROM campaign_sends WHERE campaign_id IN "
                f"({','.join('?' * len(cids))}) AND trigger_key IN "
                f"({','.join('?' * len(chunk))})", (*cids, *chunk)).fetchall())
        customers = sorted({row[1] for _, row, _ in batch})
        marks = ",".join("?" * len(customers))
        opted = {r[0] for r in conn.execute(
            f"SELECT customer_id FROM customer_profiles WHERE shop_id = ? AND customer_id IN "
            f"({marks}) AND opted_out_at IS NOT NULL", (sid, *customers))}
        types = rules.SENSITIVE_TICKET_TYPES
        sensitive = {r[0] for r in conn.execute(
            f"SELECT customer_id FROM tickets WHERE customer_id IN ({marks}) AND shop_id = ? "
            f"AND status NOT IN ('resolved', 'closed') AND type IN "
            f"({','.join('?' * len(types))}) UNION "
            f"SELECT customer_id FROM orders WHERE customer_id IN ({marks}) AND shop_id = ? "
            f"AND status = 'refund_requested' UNION "
            f"SELECT customer_id FROM conversations WHERE customer_id IN ({marks}) "
            f"AND shop_id = ? AND sensitive = 1 AND state != 'closed'",
            (*customers, sid, *types, *customers, sid, *customers, sid))}
        convs = sorted({row[5] for _, row, _ in batch if row[5] is not None})
        touchy = {r[0] for r in conn.execute(
            f"SELECT id FROM conversations WHERE id IN ({','.join('?' * len(convs))}) "
            "AND sensitive = 1", convs)} if convs else set()
        settings = shop["settings"]
        window = settings["campaign_cap_window_h"] * HOUR_MS
        cap = settings["campaign_cap"]
        recent = Counter(dict(conn.execute(
            f"SELECT customer_id, COUNT(*) FROM campaign_sends WHERE shop_id = ? AND "
            f"outcome = 'sent' AND at > ? AND customer_id IN ({marks}) GROUP BY customer_id",
            (sid, t - window, *customers)).fetchall()))
        coupon_ids = sorted({c["coupon_id"] for c, _, _ in batch if c["coupon_id"]})
        holding = set()
        if coupon_ids:
            holding = set(conn.execute(
                f"SELECT customer_id, coupon_id FROM customer_coupons WHERE customer_id IN "
                f"({marks}) AND coupon_id IN ({','.join('?' * len(coupon_ids))}) "
                "AND used_at IS NULL", (*customers, *coupon_ids)).fetchall())
        coupons = self._coupon_cards(conn, coupon_ids)
        sends, events, issued = [], [], []
        for c, row, forced in batch:
            key, cust = row[0], row[1]
            if (c["id"], key) in done:
                out["already_done"] += 1
                continue
            done.add((c["id"], key))
            reason = forced
            if reason is None:
                if cust in opted:
                    reason = "opted_out"
                elif (cust in sensitive or row[5] in touchy
                      or rules.SENSITIVE_TAG in json.loads(row[14] or "[]")):
                    reason = "sensitive"
                elif recent[cust] >= cap:
                    reason = "frequency_cap"
            coupon = coupons.get(c["coupon_id"]) if c["coupon_id"] else None
            values = self._template_values(c, row, shop, coupon, prices)
            if reason is None and any(values.get(v) in (None, "") for v in c["_vars"]):
                reason = "missing_value"  # no "券后¥" with the price left out
            base = (c["id"], cust, key, None, None, t, sid, None, row[6], None, None)
            if reason is not None:
                sends.append(_send(base, outcome="suppressed", reason=reason))
                out["suppressed"][reason] += 1
                continue
            if rules.in_holdout(c["key"], row[2], c["holdout"]):
                sends.append(_send(base, outcome="holdout", conversation=row[5]))
                out["holdout"] += 1
                continue
            recent[cust] += 1
            give = coupon is not None and (cust, c["coupon_id"]) not in holding
            if give:
                holding.add((cust, c["coupon_id"]))
                issued.append((cust, c["coupon_id"], cust, t, f"campaign:{c['key']}"))
            body = render(c["template"], values)
            payload: dict[str, Any] = {"campaign": c["key"], "trigger": c["trigger"]}
            if row[10] is not None:
                payload["product"] = row[10]
            if coupon is not None:
                payload.update(coupon, issued=give)
            mid = None
            if row[5] is not None:
                mid = conn.execute(
                    "INSERT INTO messages (conversation_id, sender, kind, body, payload, "
                    "created_at) VALUES (?, 'system', ?, ?, ?, ?)",
                    (row[5], "coupon" if coupon is not None else "text", body,
                     json.dumps(payload, ensure_ascii=False), t)).lastrowid
                events.append((t, sid, "message.created", "conversation", str(row[5]),
                               json.dumps({"message": mid, "sender": "system",
                                           "kind": "coupon" if coupon else "text",
                                           "campaign": c["key"]})))
            events.append((t, sid, "campaign.sent", "campaign", c["key"], json.dumps(
                {"customer": row[2], "trigger": key, "conversation": row[5], "message": mid},
                ensure_ascii=False)))
            sends.append(_send(base, outcome="sent", conversation=row[5], message=mid,
                               coupon=c["coupon_id"] if give else None, body=body))
            out["sent"] += 1
        conn.executemany(
            "INSERT INTO campaign_sends (campaign_id, customer_id, trigger_key, outcome, "
            "conversation_id, message_id, at, shop_id, reason, order_id, coupon_id, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sends)
        conn.executemany(
            "INSERT INTO customer_coupons (customer_id, coupon_id, position, issued_at, source) "
            "VALUES (?, ?, (SELECT COUNT(*) FROM customer_coupons WHERE customer_id = ?), ?, ?)",
            issued)
        conn.executemany("INSERT INTO events (at, shop_id, type, entity, entity_key, payload) "
                         "VALUES (?, ?, ?, ?, ?, ?)", events)
        return out

    def _coupon_cards(self, conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict]:
        if not ids:
            return {}
        return {r[0]: {"coupon": r[1], "name": r[2], "kind": r[3], "amount": format_money(r[4]),
                       "rate": r[5], "threshold": format_money(r[6]),
                       "valid_to": format_time_in(r[7], r[8])}  # the shop's time
                for r in conn.execute(
                    "SELECT c.id, c.key, c.name, c.kind, c.amount, c.rate, c.threshold, "
                    "c.valid_to, s.timezone FROM coupons c JOIN shops s ON s.id = c.shop_id "
                    f"WHERE c.id IN ({','.join('?' * len(ids))})", ids)}

    @staticmethod
    def _template_values(c: dict, row: tuple, shop: dict, coupon: dict | None,
                         prices: dict) -> dict:
        price = prices.get((c["id"], row[10]))
        return {"name": row[3], "shop": shop["name"], "product": row[11],
                "price": None if row[12] is None else f"{format_money(row[12])}",
                "price_after_discount": None if price is None else f"{format_money(price)}",
                "coupon": None if coupon is None else coupon["name"], "order": row[7],
                "carrier": row[8], "tracking_no": row[9], "code": None}

    # -- at post time: 退订 / TD and reply codes -------------------------------------------
    def campaign_command(self, conn: sqlite3.Connection, shop_id: int,
                         text: str) -> tuple[str, dict | None] | None:
        """What a customer's message asks of campaigns: ``("opt_out", None)``,
        ``("code", campaign)`` for an active reply-code campaign's code, or None."""
        if rules.is_opt_out(text):
            return ("opt_out", None)
        word = rules.code_candidate(text)
        if word is None:
            return None
        now = self._now()
        # a post's shop cache (see _post_shop) keeps the shop's codes from post to post
        cache = self.__dict__.setdefault("_post_shops", {})
        codes = cache.get(("codes", shop_id))
        if codes is None:
            codes = cache[("codes", shop_id)] = conn.execute(
                "SELECT c.id, c.key, c.code, c.template, c.coupon_id, cp.key, c.starts_at, "
                "c.ends_at FROM campaigns c LEFT JOIN coupons cp ON cp.id = c.coupon_id "
                "WHERE c.shop_id = ? AND c.status = 'active' AND c.trigger = 'reply_code'",
                (shop_id,)).fetchall()
        for r in codes:
            if (r[6] is not None and r[6] > now) or (r[7] is not None and r[7] < now):
                continue
            if r[2] is not None and r[2].casefold() == word:
                return ("code", {"id": r[0], "key": r[1], "code": r[2], "template": r[3],
                                 "coupon_id": r[4], "coupon": r[5]})
        return None

    def answer_campaign_command(self, conn: sqlite3.Connection, shop: dict, conv: dict,
                                customer_id: int, command: tuple[str, dict | None]
                                ) -> list[dict]:
        """Carry out a command found by ``campaign_command`` and answer in the chat."""
        what, c = command
        now = self._now()
        if what == "opt_out":
            cur = conn.execute(
                "UPDATE customer_profiles SET opted_out_at = ? WHERE customer_id = ? AND "
                "shop_id = ? AND opted_out_at IS NULL", (now, customer_id, shop["id"]))
            if cur.rowcount:
                self._event(conn, "customer.opted_out", "customer",
                            _customer_key(conn, customer_id), shop["id"], {"via": "message"})
            return [self._add_message(conn, conv, "system", rules.OPT_OUT_REPLY,
                                      payload={"opt_out": True})]
        assert c is not None
        key = f"customer:{customer_id}"
        card = self._coupon_cards(conn, [c["coupon_id"]]).get(c["coupon_id"])
        name = card["name"] if card else ""
        done = conn.execute("SELECT 1 FROM campaign_sends WHERE campaign_id = ? AND "
                            "trigger_key = ?", (c["id"], key)).fetchone()
        if done:
            return [self._add_message(
                conn, conv, "system", f"您已领取过「{name}」，每位顾客限领一次。",
                payload={"campaign": c["key"], "trigger": "reply_code", "repeat": True})]
        held = conn.execute("SELECT 1 FROM customer_coupons WHERE customer_id = ? AND "
                            "coupon_id = ? AND used_at IS NULL",
                            (customer_id, c["coupon_id"])).fetchone()
        if not held:
            conn.execute(
                "INSERT INTO customer_coupons (customer_id, coupon_id, position, issued_at, "
                "source) VALUES (?, ?, (SELECT COUNT(*) FROM customer_coupons WHERE "
                "customer_id = ?), ?, ?)",
                (customer_id, c["coupon_id"], customer_id, now, f"campaign:{c['key']}"))
        row = conn.execute("SELECT name FROM customers WHERE id = ?", (customer_id,)).fetchone()
        body = (render(c["template"], {"name": row[0], "shop": shop["name"], "coupon": name,
                                       "code": c["code"]}) if not held
                else f"您已持有「{name}」，下单时可直接使用。")  # nothing new "到账"
        payload = {"campaign": c["key"], "trigger": "reply_code", **(card or {}),
                   "issued": not held}
        msg = self._add_message(conn, conv, "system", body, kind="coupon", payload=payload)
        conn.execute(
            "INSERT INTO campaign_sends (campaign_id, customer_id, trigger_key, outcome, "
            "conversation_id, message_id, at, shop_id, reason, coupon_id, body) "
            "VALUES (?, ?, ?, 'redeemed', ?, ?, ?, ?, NULL, ?, ?)",
            (c["id"], customer_id, key, conv["id"], msg["id"], now, shop["id"],
             None if held else c["coupon_id"], body))
        self._event(conn, "campaign.sent", "campaign", c["key"],
                    shop["id"], {"customer": _customer_key(conn, customer_id),
                                 "trigger": key, "conversation": conv["id"],
                                 "message": msg["id"]})
        return [msg]

    # -- sensitive chats -------------------------------------------------------------------
    def mark_sensitive(self, conversation: int, sensitive: bool = True) -> dict:
        """Tag a conversation sensitive (no campaign message goes to the customer while
        it is open, nor into it ever) or clear the tag."""
        with self.database.write() as conn:
            conv = self._conv_row(conn, conversation)
            conn.execute("UPDATE conversations SET sensitive = ? WHERE id = ?",
                         (int(bool(sensitive)), conversation))
            self._event(conn, "conversation.sensitive", "conversation", str(conversation),
                        conv["shop_id"], {"sensitive": bool(sensitive)})
        return {"conversation": conversation, "sensitive": bool(sensitive)}

    # -- the record of decisions -----------------------------------------------------------
    def campaign_sends(self, key: str, *, outcome: str | None = None,
                       customer: str | None = None, limit: int = 100,
                       after: int | None = None) -> list[dict]:
        """Who got what and when, who was held out or suppressed and why: the campaign's
        decisions in order (``after``: the last id of the previous page)."""
        if outcome is not None and outcome not in OUTCOMES:
            raise InvalidInput(f"outcome: one of {', '.join(OUTCOMES)}")
        if not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("limit: 1..10000")
        sql = ("SELECT s.id, s.at, cu.key, cu.name, s.trigger_key, s.outcome, s.reason, "
               "o.key, s.conversation_id, s.message_id, cp.key, s.body FROM campaign_sends s "
               "JOIN customers cu ON cu.id = s.customer_id LEFT JOIN orders o "
               "ON o.id = s.order_id LEFT JOIN coupons cp ON cp.id = s.coupon_id "
               "WHERE s.campaign_id = ?")
        with self.database.read() as conn:
            row = conn.execute("SELECT id FROM campaigns WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise NotFound(f"no campaign {key!r}", key="no_record", kind="campaign",
                               record=key)
            params: list[Any] = [row[0]]
            for cond, value in (("s.outcome = ?", outcome), ("cu.key = ?", customer),
                                ("s.id > ?", after)):
                if value is not None:
                    sql += f" AND {cond}"
                    params.append(value)
            rows = conn.execute(sql + " ORDER BY s.id LIMIT ?", (*params, limit)).fetchall()
        return [{"id": r[0], "at": format_time(r[1]), "customer": r[2], "customer_name": r[3],
                 "trigger": r[4], "outcome": r[5], "reason": r[6], "order": r[7],
                 "conversation": r[8], "message": r[9], "coupon": r[10], "body": r[11]}
                for r in rows]

    # -- stats -----------------------------------------------------------------------------
    def campaign_stats(self, key: str, *, since: str | int | None = None,
                       until: str | int | None = None) -> dict:
        """Sends, suppressions by guard, conversions, sales and lift against the holdout
        (95 % interval) of one campaign, optionally for sends in [since, until).

        A send (or a holdout decision) converts when the customer places an order in the
        shop within the attribution window after it (a payment reminder: when the order
        it reminded of is paid within the window). Sales: the converting orders' totals,
        each order once."""
        lo = None if since is None else _time_arg("since", since)
        hi = None if until is None else _time_arg("until", until)
        with self.database.read() as conn:
            r = conn.execute(
                "SELECT c.id, c.key, c.name, c.trigger, c.status, c.holdout, c.attribution_h, "
                "s.key, s.settings FROM campaigns c JOIN shops s ON s.id = c.shop_id "
                "WHERE c.key = ?", (key,)).fetchone()
            if r is None:
                raise NotFound(f"no campaign {key!r}", key="no_record", kind="campaign",
                               record=key)
            settings = json.loads(r[8] or "{}")
            hours = r[6] or settings.get("attribution_window_h", 24)
            w = hours * HOUR_MS
            where = "s.campaign_id = ?"
            params: list[Any] = [r[0]]
            if lo is not None:
                where += " AND s.at >= ?"
                params.append(lo)
            if hi is not None:
                where += " AND s.at < ?"
                params.append(hi)
            counts: Counter = Counter()
            suppressed: Counter = Counter()
            for outcome, reason, n in conn.execute(
                    f"SELECT outcome, reason, COUNT(*) FROM campaign_sends s WHERE {where} "
                    "GROUP BY outcome, reason", params):
                counts[outcome] += n
                if outcome == "suppressed":
                    suppressed[reason] += n
            if r[3] == "payment_reminder":
                match = ("o.id = s.order_id AND o.paid_at > s.at AND o.paid_at <= s.at + ?")
            else:
                match = ("o.customer_id = s.customer_id AND o.shop_id = s.shop_id AND "
                         "o.created_at > s.at AND o.created_at <= s.at + ? "
                         "AND o.status != 'cancelled'")
            converted = dict(conn.execute(
                f"SELECT s.outcome, COUNT(*) FROM campaign_sends s WHERE {where} AND "
                f"s.outcome IN ('sent', 'holdout', 'redeemed') AND EXISTS (SELECT 1 FROM "
                f"orders o WHERE {match}) GROUP BY s.outcome", (*params, w)).fetchall())
            sales = {}
            for outcome in ("sent", "holdout", "redeemed"):
                row = conn.execute(
                    f"SELECT COUNT(*), COALESCE(SUM(o.total), 0) FROM orders o WHERE o.id IN "
                    f"(SELECT o.id FROM campaign_sends s JOIN orders o ON {match} WHERE {where} "
                    f"AND s.outcome = ?)", (w, *params, outcome)).fetchone()
                sales[outcome] = row
        treated = "redeemed" if r[3] == "reply_code" else "sent"
        stats = lift(counts[treated], converted.get(treated, 0), counts["holdout"],
                     converted.get("holdout", 0))
        return {
            "campaign": r[1], "name": r[2], "trigger": r[3], "status": r[4], "shop": r[7],
            "holdout_share": r[5], "attribution_h": hours,
            "since": format_time(lo), "until": format_time(hi),
            "decided": sum(counts.values()), "sent": counts[treated],
            "holdout": counts["holdout"], "suppressed": sum(suppressed.values()),
            "suppressed_by": dict(sorted(suppressed.items())),
            "conversions": converted.get(treated, 0),
            "conversion_rate": stats["treated_rate"],
            "orders": sales[treated][0], "sales": format_money(sales[treated][1]),
            "holdout_conversions": converted.get("holdout", 0),
            "holdout_conversion_rate": stats["holdout_rate"],
            "lift": stats["lift"], "lift_low": stats["lift_low"],
            "lift_high": stats["lift_high"], "relative_lift": stats["relative_lift"],
            "significant": stats["significant"],
        }


LAST_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z


def _time_arg(name: str, value: str | int) -> int:
    """A time argument (ISO 8601 or epoch ms) within years 1970..9999, else InvalidInput."""
    try:
        t = parse_time(value)
    except (ValueError, OverflowError, OSError) as e:
        raise UsageError(f"{name}: {e}") from None
    if not 0 <= t <= LAST_MS:
        raise UsageError(f"{name}: {value!r} is out of range (years 1970 to 9999)")
    return t


def _send(base: tuple, *, outcome: str, reason: str | None = None,
          conversation: int | None = None, message: int | None = None,
          coupon: int | None = None, body: str | None = None) -> tuple:
    """A campaign_sends row from the common part and what was decided."""
    cid, cust, key, _, _, at, sid, _, order, _, _ = base
    return (cid, cust, key, outcome, conversation, message, at, sid, reason, order, coupon,
            body)


def _customer_key(conn: sqlite3.Connection, customer_id: int) -> str:
    return conn.execute("SELECT key FROM customers WHERE id = ?", (customer_id,)).fetchone()[0]
