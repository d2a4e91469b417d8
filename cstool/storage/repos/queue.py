"""The shop queue read through its indexes (migration 11), never chat by chat.

Serving order is the routing engine's (``cstool.routing.queueing.serving_key``):
priority high to low, then arrival (``COALESCE(queued_at, created_at)``), then id;
``QueueKey.order`` is that key and ``SERVING_ORDER`` the same order in SQL. Two
partial indexes over the chats in state ``queued`` give that order per shop
(``conversations_serving``) and per shop and pool (``conversations_pool_serving``);
``queue_bands`` counts the waiting chats of each (shop, pool, priority), kept exact by
triggers. From those:

- the head of a pool (what a free agent of it takes next) is one index probe;
- how many chats of a pool wait ahead of a given chat is the band counts of higher
  priorities plus, within its own priority, the sum of the arrival-bucket counts
  before it (``queue_counts``, at most 15 a level, ten levels) and the chats of its
  own 16 ms bucket before it (one probe in all when the chat is the newest or the
  oldest of its priority, the usual case: a chat just queued, the head of a page);
- a page of the queue in serving order is one index range.

Nothing here decodes a chat's JSON; the callers decode each distinct pool once.

SQLite-only, on purpose (the queue is the hot path): ``INDEXED BY`` names the partial
indexes, and ``pool IS ?`` compares with NULL (PostgreSQL: ``IS NOT DISTINCT FROM``).
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from ...routing.queueing import serving_key
from ..ids import row_id

ARRIVAL = "COALESCE(queued_at, created_at)"
SERVING_ORDER = f"priority DESC, {ARRIVAL}, id"  # serving_key, in SQL
SHIFT, LEVELS = 4, 10  # queue_counts: level k counts arrivals (ms) >> 4k, k = 1..10


class QueueKey(NamedTuple):
    """Where a chat stands in serving order: smaller keys are served first."""

    priority: int
    arrival: int
    id: int

    def order(self) -> tuple[int, int, int]:
        """The sort key: the engine's ``serving_key`` (priority high to low, then
        arrival, then id)."""
        return serving_key(self.priority, self.arrival, self.id)


def band_counts(conn: sqlite3.Connection, shop_id: int) -> dict[str | None, dict[int, int]]:
    """The shop's waiting chats counted per pool (its stored JSON text; None for a chat
    with no pool, the whole shop) and priority."""
    out: dict[str | None, dict[int, int]] = {}
    for pool, priority, n in conn.execute(
            "SELECT pool, priority, n FROM queue_bands WHERE shop_id = ? AND n > 0",
            (shop_id,)):
        out.setdefault(pool or None, {})[priority] = n
    return out


def waiting(conn: sqlite3.Connection, shop_id: int) -> int:
    """How many chats of the shop wait (from the counts, not the chats)."""
    return conn.execute("SELECT COALESCE(SUM(n), 0) FROM queue_bands WHERE shop_id = ?",
                        (shop_id,)).fetchone()[0]


def waiting_since(conn: sqlite3.Connection, shop_id: int) -> tuple[int, int | None]:
    """How many chats of the shop wait, and the earliest arrival among them: the counts,
    and the first entry of each (pool, priority) band."""
    bands = conn.execute("SELECT pool, priority, n FROM queue_bands WHERE shop_id = ? "
                         "AND n > 0", (shop_id,)).fetchall()
    earliest = None
    for pool, priority, _n in bands:
        row = conn.execute(
            f"SELECT {ARRIVAL} FROM conversations INDEXED BY conversations_pool_serving "
            "WHERE shop_id = ? AND pool IS ? AND state = 'queued' AND priority = ? "
            f"ORDER BY {ARRIVAL} LIMIT 1", (shop_id, pool or None, priority)).fetchone()
        if row is not None and (earliest is None or row[0] < earliest):
            earliest = row[0]
    return sum(b[2] for b in bands), earliest


def key_of(conn: sqlite3.Connection, conv_id: int) -> tuple[QueueKey, int, str, str | None]:
    """A chat's queue key, shop id, state and pool text (raises KeyError when unknown)."""
    rid = row_id(conv_id)
    row = None if rid is None else conn.execute(
        f"SELECT priority, {ARRIVAL}, id, shop_id, state, pool FROM conversations "
        "WHERE id = ?", (rid,)).fetchone()
    if row is None:
        raise KeyError(conv_id)
    return QueueKey(row[0], row[1], row[2]), row[3], row[4], row[5]


def head(conn: sqlite3.Connection, shop_id: int, pool: str | None) -> QueueKey | None:
    """The first waiting chat of one pool in serving order, or None."""
    row = conn.execute(
        f"SELECT priority, {ARRIVAL}, id FROM conversations INDEXED BY "
        "conversations_pool_serving WHERE shop_id = ? AND pool IS ? AND state = 'queued' "
        f"ORDER BY {SERVING_ORDER} LIMIT 1", (shop_id, pool)).fetchone()
    return None if row is None else QueueKey(*row)


def page(conn: sqlite3.Connection, shop_id: int, after: QueueKey | None,
         limit: int | None) -> list[QueueKey]:
    """Up to ``limit`` (None: all) waiting chats in serving order, after the key
    ``after`` (None: from the first). Index ranges only: the rest of the cursor's
    arrival instant, the rest of its priority, then the lower priorities."""
    if limit is None:
        limit = 1 << 62
    select = (f"SELECT priority, {ARRIVAL}, id FROM conversations INDEXED BY "
              "conversations_serving WHERE shop_id = ? AND state = 'queued' AND ")
    if after is None:
        return [QueueKey(*r) for r in conn.execute(
            select + f"1 ORDER BY {SERVING_ORDER} LIMIT ?", (shop_id, limit))]
    out: list[QueueKey] = []
    for where, params, order in (
            (f"priority = ? AND {ARRIVAL} = ? AND id > ?",
             (after.priority, after.arrival, after.id), "id"),
            (f"priority = ? AND {ARRIVAL} > ?", (after.priority, after.arrival),
             f"{ARRIVAL}, id"),
            ("priority < ?", (after.priority,), SERVING_ORDER)):
        if len(out) >= limit:
            break
        out += [QueueKey(*r) for r in conn.execute(
            select + where + f" ORDER BY {order} LIMIT ?",
            (shop_id, *params, limit - len(out)))]
    return out


def _count(conn: sqlite3.Connection, shop_id: int, pool: str | None, key: QueueKey,
           op: str, limit: int, *, every_pool: bool) -> int:
    """Waiting chats of the key's priority before (``<``) or after (``>``) the key, in one
    pool or the whole shop, counted up to ``limit``: those of another arrival instant,
    then those of the key's own instant (two index ranges; chats may share an instant)."""
    if every_pool:
        where, index, params = "", "conversations_serving", (shop_id,)
    else:
        where, index, params = " AND pool IS ?", "conversations_pool_serving", (shop_id, pool)
    counted = 0
    for cond, values in ((f"{ARRIVAL} {op} ?", (key.arrival,)),
                         (f"{ARRIVAL} = ? AND id {op} ?", (key.arrival, key.id))):
        counted += conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM conversations INDEXED BY {index} "
            f"WHERE shop_id = ?{where} AND state = 'queued' AND priority = ? AND {cond} "
            "LIMIT ?)", (*params, key.priority, *values, limit - counted)).fetchone()[0]
        if counted >= limit:
            break
    return counted


class Ranker:
    """How many waiting chats of each pool are ahead of one key, for one read.

    ``counts`` is :func:`band_counts` of the shop. When the key is the first or the
    last of its priority across the whole shop (one probe each way), every pool's answer
    is the counts alone; otherwise each pool's own priority band adds
    :func:`before_in_band`.
    """

    def __init__(self, conn: sqlite3.Connection, shop_id: int,
                 counts: dict[str | None, dict[int, int]], key: QueueKey, own: str | None,
                 queued: bool):
        self.conn, self.shop_id, self.counts, self.key = conn, shop_id, counts, key
        self.own = own if queued else object()  # the key's own pool, when it waits in it
        self.edge: str | None = None  # "first" / "last" of its priority in the whole shop
        if _count(conn, shop_id, None, key, ">", 1, every_pool=True) == 0:
            self.edge = "last"
        elif _count(conn, shop_id, None, key, "<", 1, every_pool=True) == 0:
            self.edge = "first"

    def ahead(self, pool: str | None) -> int:
        """Waiting chats of ``pool`` served before the key."""
        counts = self.counts.get(pool, {})
        p = self.key.priority
        higher = sum(n for q, n in counts.items() if q > p)
        others = counts.get(p, 0) - (pool == self.own)  # the band without the key itself
        if others <= 0 or self.edge == "first":
            return higher
        if self.edge == "last":
            return higher + others
        return higher + before_in_band(self.conn, self.shop_id, pool, self.key)


def before_in_band(conn: sqlite3.Connection, shop_id: int, pool: str | None,
                   key: QueueKey) -> int:
    """Waiting chats of one pool and the key's priority served before the key, from the
    arrival-bucket counts (``queue_counts``): at each level the buckets before the key's
    within the same parent bucket (at most 15 counts), then the chats of the key's own
    16 ms bucket that came before it (an index range). Independent of the queue's
    length."""
    a = key.arrival
    values = {"shop": shop_id, "band": pool or "", "pool": pool, "priority": key.priority,
              "leaf": (a >> SHIFT) << SHIFT, "a": a, "id": key.id}
    for level in range(1, LEVELS + 1):
        values[f"lo{level}"] = (a >> (SHIFT * (level + 1))) << SHIFT
        values[f"hi{level}"] = (a >> (SHIFT * level)) - 1  # below lo: an empty range
    return conn.execute(_BEFORE_IN_BAND, values).fetchone()[0]


# one statement: a bucket range per level (each a primary-key range), then the key's own
# leaf bucket and instant (index ranges)
_BEFORE_IN_BAND = "SELECT " + " + ".join(
    [f"COALESCE((SELECT SUM(n) FROM queue_counts WHERE shop_id = :shop AND pool = :band "
     f"AND priority = :priority AND level = {level} AND bucket BETWEEN :lo{level} "
     f"AND :hi{level}), 0)" for level in range(1, LEVELS + 1)]
    + [f"(SELECT COUNT(*) FROM conversations INDEXED BY conversations_pool_serving "
       f"WHERE shop_id = :shop AND pool IS :pool AND state = 'queued' "
       f"AND priority = :priority AND {cond})"
       for cond in (f"{ARRIVAL} >= :leaf AND {ARRIVAL} < :a", f"{ARRIVAL} = :a AND id < :id")])


class Queue:
    """The functions of this module over one connection (``uow.queue``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def band_counts(self, shop_id: int) -> dict[str | None, dict[int, int]]:
        """See :func:`band_counts`."""
        return band_counts(self.conn, shop_id)

    def waiting(self, shop_id: int) -> int:
        """See :func:`waiting`."""
        return waiting(self.conn, shop_id)

    def waiting_since(self, shop_id: int) -> tuple[int, int | None]:
        """See :func:`waiting_since`."""
        return waiting_since(self.conn, shop_id)

    def key_of(self, conv_id: int) -> tuple[QueueKey, int, str, str | None]:
        """See :func:`key_of`."""
        return key_of(self.conn, conv_id)

    def head(self, shop_id: int, pool: str | None) -> QueueKey | None:
        """See :func:`head`."""
        return head(self.conn, shop_id, pool)

    def page(self, shop_id: int, after: QueueKey | None, limit: int | None
             ) -> list[QueueKey]:
        """See :func:`page`."""
        return page(self.conn, shop_id, after, limit)

    def shops_waiting(self) -> list[int]:
        """The shops with chats waiting, by id."""
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT shop_id FROM queue_bands WHERE n > 0 ORDER BY shop_id"
        ).fetchall()]

    def ranker(self, shop_id: int, counts: dict[str | None, dict[int, int]],
               key: QueueKey, own: str | None, queued: bool) -> Ranker:
        """See :class:`Ranker`."""
        return Ranker(self.conn, shop_id, counts, key, own, queued)
