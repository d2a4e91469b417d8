"""The readers of one shop's figures over one period (the dashboard's "today so far"):
a few indexed queries over the stored conversation facts (``metrics.py`` here), composed
by ``cstool.services.metrics.shop_period`` and ``hourly``.

``metrics_report`` answers any scope (every shop, any grouping) and the dashboard used to
call it three times per refresh: today by hour, the same weekday last week by hour, today
by agent. Here, for one shop and one period, the same stored facts are read once:

* one scan of the period's *settled* rows, grouped by (first responder, last holder),
  gives the total sums and the agents' first-response and close parts together;
* the open (or otherwise unsettled) rows with their turns, the distinct customers, and the
  buyers (rows of customers who ordered, found through the customers, not a scan);
* one pass over the period's legs gives the agents' leg sums, chats, customers, the
  intervals for concurrency, and the replied legs the sales are attributed to;
* status history only from each agent's last change before the period (the time online
  within the period does not depend on what came before that change);
* hourly volume as counts per hour from the (shop, created_at) index.

``figures.build`` then makes the figures exactly as for a report: ``shop_period`` returns
the total and the agent rows of ``metrics_report(shop, since, until, by="agent")``, and
``hourly`` the conversations per hour of ``metrics_report(..., by="hour")``;
``tests/test_dashboard_fast.py`` checks them figure for figure against full reports.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ...metrics.agent_time import StatusChange
from ...metrics.conversation_rows import ConvRow, Targets
from ...metrics.conversion import Order
from ...metrics.definitions import HOUR_MS
from ...metrics.figures import (
    ADDITIVE,
    CLOSE_PART,
    FRT_PART,
    QUARTER_MS,
    AgentSums,
    Sums,
)
from . import metrics as store

_FRT_AT = [ADDITIVE.index(n) for n in FRT_PART]
_CLOSE_AT = [ADDITIVE.index(n) for n in CLOSE_PART]


class Buyer(NamedTuple):
    """What ``figures.build`` reads of a buyer's row (conversion and attribution)."""

    id: int
    shop_id: int
    customer_id: int
    created_at: int


class Period:
    """One shop's conversations created in ``[since, until)``, as SQL over the stored
    rows ``m``; settled: closed and counted with the shop's current targets."""

    def __init__(self, shop_id: int, since: int, until: int, targets: Targets):
        self.shop_id = shop_id
        self.where = "m.shop_id = ? AND m.created_at >= ? AND m.created_at < ?"
        self.params: list = [shop_id, since, until]
        self.settled = ("(m.closed_at IS NOT NULL AND m.response_target_ms = ? "
                        "AND m.answer_target_ms = ?)")
        self.settled_params: list = [targets.response_ms, targets.answer_ms]


def read_settled(conn: sqlite3.Connection, p: Period) -> tuple[Sums, dict, dict]:
    """The settled rows' sums (total; the distinct customers are counted by
    ``read_unsettled``), and per agent the first-response part (by who answered first) and
    the close part (by who held the chat last)."""
    sums = Sums()
    frt: dict[int, list[int]] = {}
    closes: dict[int, list[int]] = {}
    columns = ", ".join([*(f"SUM(m.c_{n})" for n in ADDITIVE), "MAX(m.c_queue_sum)"])
    total: list[int] | None = None
    queue_max = 0
    n = len(ADDITIVE)
    for row in conn.execute(
            f"SELECT m.frt_agent_id, m.last_agent_id, {columns} FROM metric_conversations m "
            f"WHERE {p.where} AND {p.settled} GROUP BY m.frt_agent_id, m.last_agent_id",
            [*p.params, *p.settled_params]):
        values = row[2:2 + n]
        total = list(values) if total is None else [a + b for a, b in zip(total, values,
                                                                          strict=True)]
        queue_max = max(queue_max, row[-1] or 0)
        for agent, at, target in ((row[0], _FRT_AT, frt), (row[1], _CLOSE_AT, closes)):
            if agent is None:
                continue
            part = target.get(agent)
            if part is None:
                target[agent] = [values[i] for i in at]
            else:
                for k, i in enumerate(at):
                    part[k] += values[i]
    if total is not None:
        sums.additive[()] = total
        sums.queue_max[()] = queue_max
    return sums, frt, closes


def read_unsettled(conn: sqlite3.Connection, p: Period) -> tuple[int, list[ConvRow]]:
    """The number of distinct customers in the period, and the rows whose figures are
    counted now (open, or counted with other targets), from one pass over the period."""
    customers: set[int] = set()
    ids = []
    for customer, unsettled in conn.execute(
            f"SELECT m.customer_id, CASE WHEN NOT {p.settled} THEN m.conversation_id END "
            f"FROM metric_conversations m WHERE {p.where}", [*p.settled_params, *p.params]):
        customers.add(customer)
        if unsettled is not None:
            ids.append(unsettled)
    if not ids:
        return len(customers), []
    make = ConvRow._make
    return len(customers), [make(r) for r in conn.execute(
        f"SELECT {store.M_ROW_COLUMNS} FROM metric_conversations m WHERE m.conversation_id "
        "IN (SELECT value FROM json_each(?)) ORDER BY m.conversation_id", [json.dumps(ids)])]


def read_buyers(conn: sqlite3.Connection, p: Period) -> tuple[list[Buyer], list[Order]]:
    """The rows of customers who placed an order in the shop since the conversation began,
    and those customers' orders since the period's first conversation (as
    ``store.read_buyers``, but found through the customers who ordered, an index look-up
    each rather than a scan of the period, and only the fields ``figures.build`` reads
    of them)."""
    first = conn.execute(f"SELECT MIN(m.created_at) FROM metric_conversations m "
                         f"WHERE {p.where}", p.params).fetchone()[0]
    if first is None:
        return [], []
    orders = [Order(*r) for r in conn.execute(
        "SELECT id, shop_id, customer_id, created_at, paid_at, total, status, "
        f"{store.ORDER_ITEMS} FROM orders "
        "WHERE created_at >= ? AND shop_id = ?", (first, p.shop_id))]
    latest: dict[int, int] = {}
    for o in orders:
        latest[o.customer_id] = max(latest.get(o.customer_id, o.created_at), o.created_at)
    if not latest:
        return [], []
    # their conversations in the period (customer, shop, time index), then the stored rows
    ids = [cid for cid, customer, created in conn.execute(
        "SELECT c.id, c.customer_id, c.created_at FROM json_each(?) j CROSS JOIN "
        "conversations c ON c.customer_id = j.value AND c.shop_id = ? AND c.created_at >= ? "
        "AND c.created_at < ?", [json.dumps(list(latest)), *p.params])
        if latest[customer] >= created]
    rows = [Buyer(*r) for r in conn.execute(
        "SELECT m.conversation_id, m.shop_id, m.customer_id, m.created_at FROM "
        "metric_conversations m WHERE m.conversation_id IN (SELECT value FROM json_each(?)) "
        "AND +m.shop_id = ? AND +m.created_at >= ? AND +m.created_at < ?",
        [json.dumps(ids), *p.params]) if latest.get(r[2], -1) >= r[3]]
    buying = {r.customer_id for r in rows}
    return rows, [o for o in orders if o.customer_id in buying]


def read_legs(conn: sqlite3.Connection, p: Period, unsettled: Sequence[int]) -> AgentSums:
    """The agents' sums over the period's legs (as ``store.read_agent_sums``, without the
    first-response and close parts), summed and counted by SQL, and every leg's interval
    (for concurrency). ``unsettled``: the ids of the period's unsettled rows, whose legs'
    turn counts are left to ``figures.build``."""
    out = AgentSums()
    settled, params = "1", []
    if unsettled:
        settled = "l.conversation_id NOT IN (SELECT value FROM json_each(?))"
        params = [json.dumps(list(unsettled))]
    join = ("FROM metric_conversations m JOIN metric_legs l ON l.conversation_id = "
            f"m.conversation_id WHERE {p.where}")
    turns = ", ".join(f"COALESCE(SUM(CASE WHEN {settled} THEN l.{c} END), 0)"
                      for c in ("turns_counted", "turns_in", "turns_answered", "response_ms"))
    for agent, ended, handle, messages, *rest in conn.execute(
            "SELECT l.agent_id, COUNT(l.handle_ms), COALESCE(SUM(l.handle_ms), 0), "
            f"SUM(l.messages), {turns}, COUNT(DISTINCT l.conversation_id), "
            "COUNT(DISTINCT l.customer_id), "
            "COUNT(DISTINCT CASE WHEN l.messages THEN l.customer_id END) "
            f"{join} GROUP BY l.agent_id", [*params * 4, *p.params]):
        out.legs[agent] = [ended, handle, messages, *rest[:4]]
        out.chats[agent] = tuple(rest[4:])
        out.held[agent] = []
    for agent, started, ended in conn.execute(
            f"SELECT l.agent_id, l.started_at, l.ended_at {join}", p.params):
        out.held[agent].append((started, ended))
    return out


def read_statuses(conn: sqlite3.Connection, agent_ids: Iterable[int], since: int) -> dict:
    """Per agent, its status changes from the last one at or before ``since`` on (oldest
    first): ``agent_time.online_ms`` over a period from ``since`` gives the same as with the
    whole history, since the time before that change lies outside the period."""
    out: dict[int, list[StatusChange]] = {}
    for agent_id in sorted(set(agent_ids)):
        changes = []
        last = conn.execute(
            "SELECT at, previous, status FROM metric_agent_status WHERE agent_id = ? AND "
            "at <= ? ORDER BY at DESC, event_id DESC LIMIT 1", (agent_id, since)).fetchone()
        if last is not None:
            changes.append(StatusChange(*last))
        changes.extend(StatusChange(*r) for r in conn.execute(
            "SELECT at, previous, status FROM metric_agent_status WHERE agent_id = ? AND "
            "at > ? ORDER BY at, event_id", (agent_id, since)))
        if changes:
            out[agent_id] = changes
    return out


def span(conn: sqlite3.Connection, p: Period) -> tuple[int | None, int | None]:
    """The first and last creation time of the period's conversations (None, None: none)."""
    return conn.execute(f"SELECT MIN(m.created_at), MAX(m.created_at) FROM "
                        f"metric_conversations m WHERE {p.where}", p.params).fetchone()


def hourly_counts(conn: sqlite3.Connection, p: Period,
                  offset: int | None) -> list[tuple[int, int]]:
    """Conversations of the period in slots that each lie in one local hour of a zone
    whose UTC offset over the period is ``offset`` (ms): ``(slot start in UTC ms,
    count)``. With whole hours (or None: the offset changes, by whole hours) a slot is a
    UTC hour, from the (shop, created_at) index; otherwise settled rows are numbered by
    their hour shifted by ``offset`` and the others by their UTC quarter hour (a zone's
    offset is whole quarter hours, so a UTC quarter hour is in one local hour)."""
    if offset is None or offset % HOUR_MS == 0:
        sql = (f"SELECT m.created_at / {HOUR_MS} * {HOUR_MS}, COUNT(*) "
               f"FROM metric_conversations m WHERE {p.where} GROUP BY 1")
        params = p.params
    else:
        sql = (f"SELECT CASE WHEN {p.settled} THEN (m.created_at + {offset}) / {HOUR_MS} "
               f"* {HOUR_MS} - {offset} ELSE m.created_at / {QUARTER_MS} * {QUARTER_MS} END, "
               f"COUNT(*) FROM metric_conversations m WHERE {p.where} GROUP BY 1")
        params = [*p.settled_params, *p.params]
    return [(start, n) for start, n in conn.execute(sql, params)]
