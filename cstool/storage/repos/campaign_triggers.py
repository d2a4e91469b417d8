"""The due-trigger queries of campaigns: one indexed query per trigger kind, every one
answering the same columns (:data:`COLUMNS`), so the pass treats all kinds alike.

Parameters (named): ``shop``, ``cid`` (the campaign's id), ``lo``/``hi`` (the fact's
instant range), ``product_key``, ``product_id`` and ``categories`` (a JSON list).
``json_each``, two-argument ``MAX(a, b)`` and ``:name`` parameters are SQLite's
(PostgreSQL: ``jsonb_array_elements_text``, ``GREATEST`` and ``%(name)s``); they are
isolated here.
"""

from __future__ import annotations

import json
import sqlite3

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
            "AND (c.close_reason IS NULL OR c.close_reason != 'campaign_command') "  # 退订/code
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


def trigger_sql(trigger: str, has_categories: bool) -> str:
    """The query of one trigger kind (``has_categories``: filter on the campaign's
    categories)."""
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


def due_triggers(conn: sqlite3.Connection, campaign: dict,
                 spans: list[tuple[int, int]]) -> list[tuple]:
    """The campaign's undecided triggers whose fact falls in one of ``spans`` (inclusive
    instant ranges), as rows of :data:`COLUMNS`. ``campaign`` gives ``id``, ``shop_id``,
    ``trigger``, ``product`` (key), ``product_id`` and ``categories`` (a list)."""
    sql = trigger_sql(campaign["trigger"], bool(campaign["categories"]))
    rows: list[tuple] = []
    for lo, hi in spans:
        params = {"shop": campaign["shop_id"], "cid": campaign["id"], "lo": lo, "hi": hi,
                  "product_key": campaign["product"], "product_id": campaign["product_id"],
                  "categories": json.dumps(campaign["categories"], ensure_ascii=False)}
        rows += conn.execute(sql, params).fetchall()
    return rows
