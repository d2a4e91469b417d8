"""Conversation facts kept in the SQLite file, up to date from the event log, and the
SQL that sums them for a report.

The facts of every conversation (``definitions.Facts``: one row in
``metric_conversations``, its turns in ``metric_turns``, its legs in ``metric_legs``)
and every agent status change (``metric_agent_status``) are stored, with the id of the
last event they reflect (``metric_state.cursor``). Each row also stores its
*contribution* (``c_*`` columns): what the conversation adds to every additive counter
of ``figures.Tally``, made by that same code; each leg stores the counts of the turns
that belong to it.

Before a report, ``refresh`` catches up: it reads the events after the cursor and folds
again each conversation they touch (from its messages, with the same ``Timeline`` as the
full rebuild), plus the chats a new conversation reopens (closed within 24 h before it)
and, after a shop's settings changed, its conversations counted with other targets; it
copies new status changes and moves the cursor, all in one write transaction, so nothing
between the cursor and the head is lost and two processes never fold twice. A file
without a cursor (new, or from before the metrics) is folded in full: one pass over
every message in storage order.

A report then sums the contributions of the *settled* rows (closed, counted with their
shop's current targets) with SQL (``SUM ... GROUP BY``, ``COUNT(DISTINCT ...)`` for
customers) and leaves the rest to ``figures.build``: open conversations (whose figures
depend on "now"), conversion and sales (orders are read live) and agents' online time
and concurrency. ``tests/test_metrics.py`` proves the sums equal counting every row one
by one, and the caught-up facts equal a full rebuild.

The tables are made by migration 4 (``cstool/storage/migrations.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from ... import service
from ...metrics.agent_time import StatusChange
from ...metrics.conversation_rows import (
    ConvRow,
    Targets,
    first_response_agent,
    leg_turn_counts,
    row_of,
)
from ...metrics.conversion import Order
from ...metrics.definitions import (
    BOT_REOPEN_WINDOW_MS,
    CLOSED,
    HOUR_MS,
    QUEUED,
    TRANSFERRED,
    UNKNOWN_AGENT,
    Conversation,
    Facts,
    Leg,
    Timeline,
)
from ...metrics.figures import (
    ADDITIVE,
    CLOSE_PART,
    FRT_PART,
    LEG_PART,
    Agent,
    AgentSums,
    Labels,
    Sums,
    bucket,
    contribution,
)
from ..where import Where
from . import events
from .metric_parts import PARTS, parts_in  # noqa: F401  (the service reads parts_in here)

# Touching more conversations than this since the cursor folds everything again in one
# pass (cheaper than one look-up per conversation).
REBUILD_ABOVE = 20_000
CHUNK = 500
DAY_MS = 24 * HOUR_MS
PAIR = "(m.shop_id * 4294967296 + m.customer_id)"  # a (shop, customer) pair as one number

# What a system notice means (definitions.py's marks), in SQL over messages ``m``.
MARK_SQL = f"""CASE WHEN m.sender = 'system' THEN
    CASE WHEN m.kind = 'survey' THEN {CLOSED}
         WHEN m.payload IS NULL THEN NULL
         WHEN json_extract(m.payload, '$.assigned') IS NOT NULL THEN
              COALESCE((SELECT a.id FROM agents a
                        WHERE a.handle = json_extract(m.payload, '$.assigned')), {UNKNOWN_AGENT})
         WHEN json_type(m.payload, '$.queue_position') IS NOT NULL THEN {QUEUED}
         WHEN json_type(m.payload, '$.transfer') IS NOT NULL THEN {TRANSFERRED}
    END END"""

CONV_SQL = f"""SELECT c.id, c.shop_id, c.customer_id, c.channel,
    COALESCE(json_extract(c.pool, '$.group'), g.key), c.created_at, c.handoff_at,
    c.closed_at, c.rating,
    (SELECT MIN(n.created_at) FROM conversations n WHERE n.customer_id = c.customer_id
     AND n.shop_id = c.shop_id AND n.created_at > c.closed_at
     AND n.created_at <= c.closed_at + {BOT_REOPEN_WINDOW_MS})
    FROM conversations c LEFT JOIN "groups" g ON g.id = c.group_id
    WHERE c.close_reason IS NOT 'campaign_command'"""  # 退订 or a code alone: no inquiry

ROW_COLUMNS = ", ".join(("conversation_id", *ConvRow._fields[1:]))
M_ROW_COLUMNS = ", ".join(f"m.{c}" for c in ROW_COLUMNS.split(", "))
STORED_COLUMNS = ", ".join((*ROW_COLUMNS.split(", "), "frt_agent_id",
                            *(f"c_{n}" for n in ADDITIVE)))


def _chunks(items: Iterable, size: int = CHUNK) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class _Modes:
    """The service mode in force when each conversation began (cached per shop minute)."""

    def __init__(self, conn: sqlite3.Connection):
        self.shops = {}
        for sid, mode, off, hours, tz in conn.execute(
                "SELECT id, service_mode, off_hours_mode, business_hours, timezone FROM shops"):
            self.shops[sid] = {"service_mode": mode, "off_hours_mode": off,
                               "business_hours": json.loads(hours) if hours else None,
                               "timezone": tz}
        self.cache: dict[tuple[int, int], str] = {}

    def at(self, shop_id: int, ms: int) -> str:
        shop = self.shops[shop_id]
        if not shop["off_hours_mode"]:
            return shop["service_mode"]
        key = (shop_id, ms // 60_000)
        mode = self.cache.get(key)
        if mode is None:
            mode = self.cache[key] = service.effective_mode(shop, ms)
        return mode


def _conversation(row: tuple, modes: _Modes) -> Conversation:
    group = row[4]
    if isinstance(group, str) and group.startswith("["):
        group = ",".join(json.loads(group))
    return Conversation(id=row[0], shop_id=row[1], customer_id=row[2], channel=row[3],
                        group_key=group, created_at=row[5], handoff_at=row[6],
                        closed_at=row[7], rating=row[8], entry_mode=modes.at(row[1], row[5]),
                        reopened_at=row[9])


def _write_facts(conn: sqlite3.Connection, facts: Sequence[Facts],
                 targets: dict[int, Targets]) -> None:
    rows, legs = [], []
    for f in facts:
        t = targets[f.shop_id]
        r = row_of(f, t)
        rows.append((*r, first_response_agent(r), *contribution(r, t)))
        for g, counts in zip(f.legs, leg_turn_counts(f, t), strict=True):
            legs.append((f.id, g.agent_id, f.shop_id, f.customer_id, g.started_at, g.ended_at,
                         g.first_reply_at, g.last_reply_at, g.messages,
                         None if g.ended_at is None else g.ended_at - g.started_at, *counts))
    if not facts:
        return
    marks = ", ".join("?" * len(rows[0]))
    conn.executemany(
        f"INSERT OR REPLACE INTO metric_conversations ({STORED_COLUMNS}) VALUES ({marks})", rows)
    conn.executemany(
        "INSERT INTO metric_turns (conversation_id, started_at, answered_at, agent_id) "
        "VALUES (?, ?, ?, ?)",
        [(f.id, x.started_at, x.answered_at, x.agent_id) for f in facts for x in f.turns])
    conn.executemany(
        "INSERT INTO metric_legs (conversation_id, agent_id, shop_id, customer_id, started_at, "
        "ended_at, first_reply_at, last_reply_at, messages, handle_ms, turns_counted, turns_in, "
        "turns_answered, response_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", legs)


def _status_rows(conn: sqlite3.Connection, rows: Iterable[tuple]) -> list[tuple]:
    ids = dict(conn.execute("SELECT handle, id FROM agents"))
    out = []
    for event_id, at, handle, payload in rows:
        agent_id = ids.get(handle)
        if agent_id is None or not payload:
            continue
        p = json.loads(payload)
        out.append((event_id, agent_id, at, p.get("from"), p.get("to")))
    return out


def _set_cursor(conn: sqlite3.Connection, head: int) -> None:
    conn.execute("INSERT INTO metric_state (name, value) VALUES ('cursor', ?) "
                 "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (head,))


def cursor(conn: sqlite3.Connection) -> int | None:
    """The last event the stored facts reflect (None: never folded)."""
    row = conn.execute("SELECT value FROM metric_state WHERE name = 'cursor'").fetchone()
    return None if row is None else row[0]


def head(conn: sqlite3.Connection) -> int:
    """The newest event id."""
    return events.head(conn)


def _clear(conn: sqlite3.Connection, ids: Sequence[int] | None) -> None:
    for table in ("metric_conversations", "metric_turns", "metric_legs"):
        if ids is None:
            conn.execute(f"DELETE FROM {table}")
        else:
            for chunk in _chunks(ids):
                conn.execute(f"DELETE FROM {table} WHERE conversation_id IN "
                             f"({','.join('?' * len(chunk))})", chunk)


def rebuild(conn: sqlite3.Connection) -> dict:
    """Fold every conversation again from all messages, in one pass (caller holds a write
    transaction)."""
    top = head(conn)
    _clear(conn, None)
    conn.execute("DELETE FROM metric_agent_status")
    modes = _Modes(conn)
    timelines = {row[0]: Timeline(_conversation(row, modes)) for row in conn.execute(CONV_SQL)}
    # in id order: SQLite's table scan gives it for free, PostgreSQL's does not promise it
    cur = conn.execute(f"SELECT m.conversation_id, m.sender, m.agent_id, m.created_at, "
                       f"{MARK_SQL}, m.id FROM messages m ORDER BY m.id")
    n = 0
    get = timelines.get
    while rows := cur.fetchmany(50_000):
        n += len(rows)
        for cid, sender, agent_id, at, mark, mid in rows:
            tl = get(cid)
            if tl is not None:
                tl.feed(sender, agent_id, at, mark, mid)
    _write_facts(conn, [tl.facts() for tl in timelines.values()], read_targets(conn)[0])
    conn.executemany(
        "INSERT OR IGNORE INTO metric_agent_status (event_id, agent_id, at, previous, status) "
        "VALUES (?, ?, ?, ?, ?)",
        _status_rows(conn, conn.execute("SELECT id, at, entity_key, payload FROM events "
                                         "WHERE type = 'agent.status' AND id <= ?", (top,))))
    _set_cursor(conn, top)
    return {"rebuilt": True, "conversations": len(timelines), "messages": n, "cursor": top}


def fold_conversations(conn: sqlite3.Connection, ids: Iterable[int],
                       modes: _Modes | None = None) -> list[Facts]:
    """The facts of the conversations ``ids``, each folded from its own messages."""
    modes = modes or _Modes(conn)
    out: list[Facts] = []
    for chunk in _chunks(sorted(set(ids))):
        marks = ",".join("?" * len(chunk))
        timelines = {row[0]: Timeline(_conversation(row, modes)) for row in
                     conn.execute(f"{CONV_SQL} AND c.id IN ({marks})", chunk)}
        for cid, sender, agent_id, at, mark, mid in conn.execute(
                f"SELECT m.conversation_id, m.sender, m.agent_id, m.created_at, {MARK_SQL}, "
                f"m.id FROM messages m WHERE m.conversation_id IN ({marks}) "
                "ORDER BY m.conversation_id, m.id", chunk):
            tl = timelines.get(cid)
            if tl is not None:
                tl.feed(sender, agent_id, at, mark, mid)
        out.extend(tl.facts() for tl in timelines.values())
    return out


def refresh(conn: sqlite3.Connection) -> dict:
    """Catch the stored facts up with the event log (caller holds a write transaction).

    Conversations touched by events after the cursor are folded again; after a shop's
    settings changed, its conversations counted with other targets are too."""
    at = cursor(conn)
    top = head(conn)
    if at is None:
        return rebuild(conn)
    if top <= at:
        return {"rebuilt": False, "conversations": 0, "cursor": at}
    touched = {int(k) for (k,) in conn.execute(
        "SELECT DISTINCT entity_key FROM events WHERE id > ? AND id <= ? AND "
        "entity = 'conversation' AND entity_key IS NOT NULL", (at, top))}
    # a new conversation may reopen its customer's chats closed in the 24 h before it
    new = [int(k) for (k,) in conn.execute(
        "SELECT entity_key FROM events WHERE id > ? AND id <= ? AND "
        "type = 'conversation.created'", (at, top))]
    for chunk in _chunks(new):
        touched.update(r[0] for r in conn.execute(
            "SELECT p.id FROM conversations c JOIN conversations p ON p.customer_id = "
            "c.customer_id AND p.shop_id = c.shop_id AND p.closed_at < c.created_at AND "
            f"p.closed_at >= c.created_at - {BOT_REOPEN_WINDOW_MS} "
            f"WHERE c.id IN ({','.join('?' * len(chunk))})", chunk))
    targets = read_targets(conn)[0]
    if conn.execute("SELECT 1 FROM events WHERE id > ? AND id <= ? AND type = 'shop.updated' "
                    "LIMIT 1", (at, top)).fetchone():
        for shop_id, t in targets.items():
            touched.update(r[0] for r in conn.execute(
                "SELECT conversation_id FROM metric_conversations WHERE shop_id = ? AND "
                "(response_target_ms != ? OR answer_target_ms != ?)",
                (shop_id, t.response_ms, t.answer_ms)))
    if len(touched) > REBUILD_ABOVE:
        return rebuild(conn)
    ids = sorted(touched)
    facts = fold_conversations(conn, ids)
    _clear(conn, ids)
    _write_facts(conn, facts, targets)
    conn.executemany(
        "INSERT OR IGNORE INTO metric_agent_status (event_id, agent_id, at, previous, status) "
        "VALUES (?, ?, ?, ?, ?)",
        _status_rows(conn, conn.execute(
            "SELECT id, at, entity_key, payload FROM events WHERE id > ? AND id <= ? AND "
            "type = 'agent.status'", (at, top))))
    _set_cursor(conn, top)
    return {"rebuilt": False, "conversations": len(facts), "cursor": top}


# -- reading ------------------------------------------------------------------------------
class Scope:
    """The conversations a report covers, as SQL over ``metric_conversations m``, and which
    of them are *settled*: closed and counted with their shop's current targets."""

    def __init__(self, targets: dict[int, Targets], *, shop_id: int | None = None,
                 since: int | None = None, until: int | None = None,
                 agent_id: int | None = None, label: str | None = None,
                 unlabelled: bool = False, part: tuple[str, str | None] | None = None):
        where = (Where().add_if(shop_id, "m.shop_id = ?", shop_id)
                 .add_if(label, "m.conversation_id IN (SELECT conversation_id FROM "
                                "conversation_labels WHERE label = ?)", label)
                 .add_if(since, "m.created_at >= ?", since)
                 .add_if(until, "m.created_at < ?", until)
                 .add_if(agent_id, "m.shop_id IN (SELECT shop_id FROM agent_shops "
                                   "WHERE agent_id = ?)", agent_id))
        if unlabelled:
            where.add("m.conversation_id NOT IN (SELECT conversation_id FROM "
                      "conversation_labels)")
        if part is not None:  # one value of a partition (--by intent / group-kind / category)
            dim, value = part
            if value is None:
                where.add(PARTS[dim][3])
            else:
                where.add(PARTS[dim][2], value)
        self.where = " AND ".join(where.conditions) or "1"
        self.params = where.params
        values = [(s, t.response_ms, t.answer_ms) for s, t in targets.items()] or \
            [(-1, 0, 0)]
        self.settled = ("m.closed_at IS NOT NULL AND (m.shop_id, m.response_target_ms, "
                        "m.answer_target_ms) IN (VALUES "
                        + ", ".join("(?, ?, ?)" for _ in values) + ")")
        self.settled_params = [x for v in values for x in v]

    def sql(self, select: str, *, extra: str = "", group: str = "", settled: bool | None = None,
            joins: str = "", select_params: Sequence = ()) -> tuple[str, list]:
        """``SELECT select FROM metric_conversations m joins WHERE scope [AND (NOT)
        settled] [AND extra] [GROUP BY group]`` and its parameters."""
        cond, params = [self.where], [*select_params, *self.params]
        if settled is not None:
            cond.append(self.settled if settled else f"NOT ({self.settled})")
            params += self.settled_params
        if extra:
            cond.append(extra)
        sql = f"SELECT {select} FROM metric_conversations m {joins}WHERE {' AND '.join(cond)}"
        if group:
            sql += f" GROUP BY {group}"
        return sql, params


def _dimension_sql(dim: str, offset: int) -> str:
    return {"shop": "m.shop_id", "group": "m.group_key", "channel": "m.channel",
            "hour": f"(m.created_at + {offset}) / {HOUR_MS}",
            "day": f"(m.created_at + {offset}) / {DAY_MS}"}[dim]


def _label(dim: str, raw, offset: int, labels: Labels) -> str:
    if dim == "shop":
        return labels.shops.get(raw, str(raw))
    if dim in ("group", "channel"):
        return raw or "-"
    if dim == "hour":
        return bucket(raw * HOUR_MS - offset, "hour", labels.zone)
    return bucket(raw * DAY_MS - offset, "day", labels.zone)


def read_sums(conn: sqlite3.Connection, scope: Scope, dims: Sequence[str], offset: int,
              labels: Labels) -> Sums:
    """SQL sums of the settled rows' contributions and the distinct customers of every
    row, in total and per group of ``dims`` (conversation dimensions; hours and days in
    ``labels.zone``, whose UTC offset is ``offset`` all through the scope)."""
    out = Sums()
    sums = ", ".join([*(f"SUM(m.c_{n})" for n in ADDITIVE), "MAX(m.c_queue_sum)"])
    exprs = [_dimension_sql(d, offset) for d in dims]
    select = "".join(f"{e}, " for e in exprs)
    k = len(exprs)

    def key(row: tuple) -> tuple:
        return tuple(_label(d, row[i], offset, labels) for i, d in enumerate(dims))

    for row in conn.execute(*scope.sql(select + sums, group=", ".join(exprs), settled=True)):
        if row[k] is None:  # no settled row at all
            continue
        label = key(row)
        out.additive[label] = _add(out.additive.get(label), row[k:k + len(ADDITIVE)])
        out.queue_max[label] = max(out.queue_max.get(label, 0), row[-1] or 0)
        if dims:  # the total adds up the groups
            out.additive[()] = _add(out.additive.get(()), row[k:k + len(ADDITIVE)])
            out.queue_max[()] = max(out.queue_max.get((), 0), row[-1] or 0)
    for group in ([()] if not dims else [(), tuple(dims)]):
        gexprs = [_dimension_sql(d, offset) for d in group]
        for row in conn.execute(*scope.sql("".join(f"{e}, " for e in gexprs)
                                           + f"COUNT(DISTINCT {PAIR})",
                                           group=", ".join(gexprs))):
            n = row[len(gexprs)]
            if n:
                label = tuple(_label(d, row[i], offset, labels) for i, d in enumerate(group))
                out.customers[label] = out.customers.get(label, 0) + n
    return out


def _add(a: Sequence[int] | None, b: Sequence[int | None]) -> list[int]:
    if a is None:
        return [y or 0 for y in b]
    return [x + (y or 0) for x, y in zip(a, b, strict=True)]


def read_rows(conn: sqlite3.Connection, scope: Scope, *, settled: bool | None = None,
              extra: str = "", extra_params: Sequence = ()) -> list[ConvRow]:
    """Stored rows in scope (only the unsettled ones with ``settled=False``)."""
    make = ConvRow._make
    sql, params = scope.sql(M_ROW_COLUMNS, settled=settled, extra=extra)
    return [make(r) for r in conn.execute(sql, [*params, *extra_params])]


# how many items (units) an order holds: the attach rate counts orders of more than one
ORDER_ITEMS = ("(SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i "
               "WHERE i.order_id = orders.id)")


def read_buyers(conn: sqlite3.Connection, scope: Scope,
               shop_id: int | None = None) -> tuple[list[ConvRow], list[Order]]:
    """The rows in scope whose customer placed an order in the shop since the conversation
    began (the candidates for conversion and attribution), and those orders."""
    first = conn.execute(*scope.sql("MIN(m.created_at)")).fetchone()[0]
    if first is None:
        return [], []
    sql = ("SELECT id, shop_id, customer_id, created_at, paid_at, total, status, "
           f"{ORDER_ITEMS} FROM orders "
           "WHERE created_at >= ?")
    params: list = [first]
    if shop_id is not None:
        sql += " AND shop_id = ?"
        params.append(shop_id)
    orders = [Order(*r) for r in conn.execute(sql, params)]
    latest: dict[int, int] = {}
    for o in orders:
        pair = o.shop_id * 4294967296 + o.customer_id
        latest[pair] = max(latest.get(pair, o.created_at), o.created_at)
    if not latest:
        return [], []
    rows = [r for r in read_rows(conn, scope, extra=(
        f"{PAIR} IN (SELECT value FROM json_each(?))"), extra_params=[json.dumps(list(latest))])
        if latest[r.shop_id * 4294967296 + r.customer_id] >= r.created_at]
    pairs = {(r.shop_id, r.customer_id) for r in rows}
    return rows, [o for o in orders if (o.shop_id, o.customer_id) in pairs]


def read_agent_sums(conn: sqlite3.Connection, scope: Scope,
                    agent_id: int | None = None) -> AgentSums:
    """Sums for agents over the legs and rows in scope (see ``AgentSums``): every leg in one
    pass, first responses and closes of settled rows summed by SQL."""
    out = AgentSums()
    only = f"l.agent_id = {int(agent_id)}" if agent_id is not None else "1"
    chats: dict[int, tuple[set, set, set]] = {}
    for (agent, cid, shop, customer, messages, handle, started, ended, settled, counted,
         within, answered, response) in conn.execute(*scope.sql(
            "l.agent_id, l.conversation_id, l.shop_id, l.customer_id, l.messages, "
            f"l.handle_ms, l.started_at, l.ended_at, {scope.settled}, l.turns_counted, "
            "l.turns_in, l.turns_answered, l.response_ms",
            joins="JOIN metric_legs l ON l.conversation_id = m.conversation_id ",
            extra=only, select_params=scope.settled_params)):
        sums = out.legs.get(agent)
        if sums is None:
            sums = out.legs[agent] = [0] * len(LEG_PART)
            chats[agent] = (set(), set(), set())
            out.held[agent] = []
        if handle is not None:
            sums[0] += 1
            sums[1] += handle
        sums[2] += messages
        if settled:
            sums[3] += counted
            sums[4] += within
            sums[5] += answered
            sums[6] += response
        ids, customers, replied = chats[agent]
        ids.add(cid)
        customers.add((shop, customer))
        if messages:
            replied.add((shop, customer))
        out.held[agent].append((started, ended))
    out.chats = {a: (len(i), len(c), len(r)) for a, (i, c, r) in chats.items()}
    for column, part, target in (("frt_agent_id", FRT_PART, out.frt),
                                 ("last_agent_id", CLOSE_PART, out.closes)):
        cond = f"m.{column} IS NOT NULL"
        if agent_id is not None:
            cond += f" AND m.{column} = {int(agent_id)}"
        for row in conn.execute(*scope.sql(
                f"m.{column}, " + ", ".join(f"SUM(m.c_{n})" for n in part),
                settled=True, extra=cond, group=f"m.{column}")):
            target[row[0]] = row[1:]
    return out


def read_turns(conn: sqlite3.Connection, ids: Iterable[int]) -> dict:
    """Per conversation id of ``ids``, its turns ``(started, answered, agent)`` in order."""
    out: dict[int, list[tuple[int, int | None, int | None]]] = {}
    for chunk in _chunks(ids):
        for cid, started, answered, agent in conn.execute(
                "SELECT conversation_id, started_at, answered_at, agent_id FROM metric_turns "
                f"WHERE conversation_id IN ({','.join('?' * len(chunk))}) ORDER BY rowid",
                chunk):
            out.setdefault(cid, []).append((started, answered, agent))
    return out


def read_replied_legs(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, list[Leg]]:
    """Per conversation id of ``ids``, its legs with at least one reply, in order."""
    out: dict[int, list[Leg]] = {}
    for chunk in _chunks(ids):
        for cid, *rest in conn.execute(
                "SELECT conversation_id, agent_id, started_at, ended_at, first_reply_at, "
                "last_reply_at, messages FROM metric_legs WHERE conversation_id IN "
                f"({','.join('?' * len(chunk))}) AND first_reply_at IS NOT NULL ORDER BY rowid",
                chunk):
            out.setdefault(cid, []).append(Leg(*rest))
    return out


def read_targets(conn: sqlite3.Connection) -> tuple[dict[int, Targets], dict[int, str]]:
    """Per shop id: its thresholds, and its key."""
    targets, keys = {}, {}
    for sid, key, settings in conn.execute("SELECT id, key, settings FROM shops"):
        targets[sid] = Targets.from_settings(json.loads(settings) if settings else None)
        keys[sid] = key
    return targets, keys


def read_agents(conn: sqlite3.Connection) -> dict[int, Agent]:
    """Every agent by id."""
    return {r[0]: Agent(*r) for r in conn.execute(
        "SELECT id, handle, name, status, created_at FROM agents")}


def read_statuses(conn: sqlite3.Connection, agent_ids: Iterable[int]) -> dict:
    """Per agent id, its status changes, oldest first."""
    out: dict[int, list[StatusChange]] = {}
    for chunk in _chunks(agent_ids):
        marks = ",".join("?" * len(chunk))
        for agent_id, at, previous, status in conn.execute(
                f"SELECT agent_id, at, previous, status FROM metric_agent_status WHERE "
                f"agent_id IN ({marks}) ORDER BY agent_id, at, event_id", chunk):
            out.setdefault(agent_id, []).append(StatusChange(at, previous, status))
    return out


# -- look-ups of a report's scope ---------------------------------------------------------
def shop_id(conn: sqlite3.Connection, key: str) -> int | None:
    """A shop's id by key (None: no such shop)."""
    row = conn.execute("SELECT id FROM shops WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def agent_id(conn: sqlite3.Connection, handle: str) -> int | None:
    """An agent's id by handle (None: no such agent)."""
    row = conn.execute("SELECT id FROM agents WHERE handle = ?", (handle,)).fetchone()
    return None if row is None else row[0]


def shop_agents(conn: sqlite3.Connection, shop_id: int | None) -> list[int]:
    """The ids of the agents of one shop (of any shop when ``shop_id`` is None)."""
    where = Where().add_if(shop_id, "shop_id = ?", shop_id)
    return [r[0] for r in conn.execute(
        f"SELECT DISTINCT agent_id FROM agent_shops {where.sql()}", where.params)]


def agent_shops(conn: sqlite3.Connection, agent_id: int) -> list[tuple[int, str]]:
    """An agent's shops as (id, key), in the agent's order."""
    return conn.execute(
        "SELECT s.id, s.key FROM agent_shops a JOIN shops s ON s.id = a.shop_id "
        "WHERE a.agent_id = ? ORDER BY a.position, s.key", (agent_id,)).fetchall()


def labels_in(conn: sqlite3.Connection, scope: Scope) -> list[str]:
    """The labels carried by the conversations in scope, in text order."""
    sql, params = scope.sql("DISTINCT l.label", joins="JOIN conversation_labels l "
                            "ON l.conversation_id = m.conversation_id ")
    return sorted(r[0] for r in conn.execute(sql, params))


def span(conn: sqlite3.Connection, scope: Scope) -> tuple[int | None, int | None]:
    """The first and last creation time of the conversations in scope."""
    return conn.execute(*scope.sql("MIN(m.created_at), MAX(m.created_at)")).fetchone()
