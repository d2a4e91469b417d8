"""What a customer's post reads before it writes, in one go: the customer (with their
profile in the shop), the message the post's client id names if it was stored already,
the customer's open chat in the shop with the names it points at, and their tickets
resolved lately (which a message of theirs reopens).

The reads name the customer by key, not by id, so that none waits for another's answer:
PostgreSQL sends them in one round trip (``connection.execute_together``), SQLite runs
them one after the other. A customer who does not exist yet has no message, chat or
ticket. On PostgreSQL the same round trip takes the id of the message the post will
store (``connection.next_id_sql``; only for a known customer and no duplicate, so that
no number is spent for nothing), so that the message's row, like its event, goes with
the transaction's next statement. A post running beside other posts (PostgreSQL's
concurrent posts) locks the open chat's row first, in the same round trip. On
PostgreSQL the reads besides the open chat's are one statement (the customer, the id, the
resolved tickets as an array, the duplicate): each statement costs the server's process
more CPU (psycopg's per-statement work) than the rows it reads.

**A group's look-ups together (PostgreSQL's concurrent posts).** The server's thread of
concurrent posts knows, before it runs a group, which customers post into which shops
(from the tokens it has seen: a hint, never trusted): ``prefetch`` reads what every
post of the group would read, for the first post of each customer, in one round trip of
two statements whatever the group's size (the open chats locked FOR UPDATE SKIP LOCKED
first, then the customers, duplicates, resolved tickets and the messages' ids, in a
newer snapshot, with the chats held), and keeps the answers on the connection; a post's
``lookup`` then takes its own answer, named by shop, customer and client id, without a
round trip. A later post of the same customer in the group, or a post without a hint,
looks up itself (after the writes of the posts before it, so that a duplicate client id
inside the group is seen). An id is reserved only where the post will fit beside others
and is no duplicate; a post that still goes to the write lock (a campaign's command, a
file) spends it, like a rolled-back transaction spends a sequence's number.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..connection import execute_together, next_id_sql
from ..errors import DatabaseError, NeedsWriteLock
from .customers import _CUSTOMER_FOR_POST

_DUPLICATE = (
    "SELECT m.id, m.conversation_id FROM messages m JOIN conversations c "
    "ON c.id = m.conversation_id WHERE m.client_id = ? AND c.shop_id = ? "
    "AND c.customer_id = (SELECT id FROM customers WHERE key = ?)")
# the newest open chat (MAX(id) over the covering index, then the row) with its names
_OPEN_CHAT = (
    "SELECT c.*, s.key, cu.key, cu.name, a.handle, g.key FROM conversations c "
    "JOIN shops s ON s.id = c.shop_id JOIN customers cu ON cu.id = c.customer_id "
    'LEFT JOIN agents a ON a.id = c.assignee_id LEFT JOIN "groups" g ON g.id = c.group_id '
    "WHERE c.id = (SELECT MAX(id) FROM conversations WHERE shop_id = ? AND customer_id = "
    "(SELECT id FROM customers WHERE key = ?) AND state IN ('new', 'bot', 'queued', "
    "'active'))")
# PostgreSQL only (a concurrent post): a chat another post holds is not waited for, and
# not read either (SKIP LOCKED, not NOWAIT: no error aborts the round trip, whose other
# reads stand); the post, finding no chat it may write to, goes to the write lock
_LOCK_CHAT = " FOR UPDATE OF c SKIP LOCKED"
_KNOWN = "EXISTS (SELECT 1 FROM customers WHERE key = ?)"
# a post that may run beside others: the customer has a profile in the shop, their open
# chat is served by an agent and locked by this post (a row this transaction holds is
# not skipped), and no ticket of theirs reopens
_FITS = (
    "EXISTS (SELECT 1 FROM customer_profiles p JOIN customers cu ON cu.id = p.customer_id "
    "WHERE cu.key = ? AND p.shop_id = ?) AND EXISTS (SELECT 1 FROM conversations WHERE "
    "state = 'active' AND id = (SELECT MAX(id) FROM conversations WHERE shop_id = ? AND "
    "customer_id = (SELECT id FROM customers WHERE key = ?) AND state IN ('new', 'bot', "
    "'queued', 'active')) FOR UPDATE SKIP LOCKED) AND NOT EXISTS (SELECT 1 FROM tickets "
    "WHERE shop_id = ? AND "
    "status = 'resolved' AND customer_id = (SELECT id FROM customers WHERE key = ?) AND "
    "resolved_at >= ?)")
_RESOLVED = (
    "SELECT id FROM tickets WHERE shop_id = ? AND status = 'resolved' AND customer_id = "
    "(SELECT id FROM customers WHERE key = ?) AND resolved_at >= ?")


@dataclass(frozen=True)
class PostLookup:
    """What a post reads first (see the module's docstring).

    ``customer``: as ``Customers.for_post`` (None for a new key); ``duplicate``: (message
    id, conversation id) of the customer's message with the client id, or None;
    ``open_chat``: the open chat's row (as ``Conversations.open_of``) or None;
    ``names``: its (shop key, customer key, customer name, assignee, group key);
    ``resolved``: ids of the customer's tickets in the shop resolved (not closed) since
    the ``resolved_since`` asked for; ``message_id``: the id reserved for the post's
    message (PostgreSQL), else None."""

    customer: tuple | None
    duplicate: tuple[int, int] | None
    open_chat: dict | None
    names: tuple | None
    resolved: list[int]
    message_id: int | None


# PostgreSQL only: a group's open chats locked at once (one row of input each: the
# shop's key, the customer's key, their place in the group); chats another post holds
# are skipped, as in a post's own look-up
_LOCK_CHATS = (
    "SELECT i.n, c.*, s.key, cu.key, cu.name, a.handle, g.key FROM "
    "unnest(%s::text[], %s::text[]) WITH ORDINALITY AS i(shop_key, customer_key, n) "
    "JOIN conversations c ON c.id = (SELECT MAX(o.id) FROM conversations o JOIN shops os "
    "ON os.id = o.shop_id JOIN customers oc ON oc.id = o.customer_id WHERE os.key = "
    "i.shop_key AND oc.key = i.customer_key AND o.state IN ('new', 'bot', 'queued', "
    "'active')) JOIN shops s ON s.id = c.shop_id JOIN customers cu ON cu.id = "
    "c.customer_id LEFT JOIN agents a ON a.id = c.assignee_id LEFT JOIN \"groups\" g ON "
    "g.id = c.group_id FOR UPDATE OF c SKIP LOCKED")
# ... and the rest of each post's look-up, in a newer snapshot (after the locks): the
# shop's id, the customer (as _CUSTOMER_FOR_POST), the message's id when the post fits
# beside others (as _FITS) and is no duplicate, the resolved tickets, the duplicate
_PREFETCH = (
    "SELECT i.n, s.id, cu.*, CASE WHEN cu.profile IS NOT NULL AND d.id IS NULL AND "
    "cardinality(r.ids) = 0 AND EXISTS (SELECT 1 FROM conversations WHERE state = "
    "'active' AND id = (SELECT MAX(id) FROM conversations WHERE shop_id = s.id AND "
    "customer_id = cu.id AND state IN ('new', 'bot', 'queued', 'active')) FOR UPDATE "
    "SKIP LOCKED) THEN {next_id} END, r.ids, d.id, d.conversation_id FROM "
    "unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS "
    "i(shop_key, customer_key, client_id, n) JOIN shops s ON s.key = i.shop_key "
    "LEFT JOIN LATERAL (SELECT c.id, p.customer_id AS profile, p.level, p.tags, p.region, "
    "p.channel, da.handle AS dedicated, la.handle AS last_agent, p.last_served_at, c.name "
    "FROM customers c LEFT JOIN customer_profiles p ON p.customer_id = c.id AND "
    "p.shop_id = s.id LEFT JOIN agents da ON da.id = p.dedicated_agent_id LEFT JOIN "
    "agents la ON la.id = p.last_agent_id WHERE c.key = i.customer_key) AS cu ON true "
    "LEFT JOIN LATERAL (SELECT ARRAY(SELECT id FROM tickets WHERE shop_id = s.id AND "
    "status = 'resolved' AND customer_id = cu.id AND resolved_at >= %s) AS ids) AS r "
    "ON true LEFT JOIN LATERAL (SELECT m.id, m.conversation_id FROM messages m JOIN "
    "conversations c ON c.id = m.conversation_id WHERE i.client_id IS NOT NULL AND "
    "m.client_id = i.client_id AND c.shop_id = s.id AND c.customer_id = cu.id LIMIT 1) "
    "AS d ON true ORDER BY i.n")


class Posts:
    """The reads of a customer's post (``uow.repo(Posts)``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def prefetch(self, posts: list[tuple[str, str, str | None]], resolved_since: int) -> int:
        """PostgreSQL's concurrent posts: the look-ups of a group's posts, given as
        (shop key, customer key, client id) hints, read together and kept for
        ``lookup`` (see the module's docstring); the first post of each customer only.
        Returns how many were kept (0 elsewhere: SQLite, or outside such a group)."""
        conn = self.conn
        next_id = next_id_sql(conn, "messages")
        if next_id is None or not getattr(conn, "shared", False):
            return 0
        firsts: dict[str, tuple[str, str, str | None]] = {}
        for shop, customer, client_id in posts:
            firsts.setdefault(customer, (shop, customer, client_id))
        if len(firsts) < 2:
            return 0  # one post: its own look-up costs the same round trip
        shops = [p[0] for p in firsts.values()]
        customers = list(firsts)
        clients = [p[2] for p in firsts.values()]
        try:
            conn.defer("SAVEPOINT cstool_prefetch")
            chats, rest = conn.pipeline([
                (_LOCK_CHATS, (shops, customers)),
                (_PREFETCH.format(next_id=next_id),
                 (shops, customers, clients, resolved_since))])
        except (DatabaseError, NeedsWriteLock):
            # nothing kept: each post looks up itself (the chats locked so far are held)
            conn.execute("ROLLBACK TO cstool_prefetch")
            conn.defer("RELEASE SAVEPOINT cstool_prefetch")
            return 0
        conn.defer("RELEASE SAVEPOINT cstool_prefetch")
        cols = [d[0] for d in chats.description][1:-5]
        open_chats = {r[0]: r for r in chats.fetchall()}
        kept: dict[tuple, PostLookup] = {}
        for row in rest.fetchall():
            n, shop_id = row[0], row[1]
            customer = tuple(row[2:12]) if row[2] is not None else None
            message_id, resolved, dup = row[12], list(row[13]), row[14]
            shop, key, client_id = firsts[customers[n - 1]]
            if customer is None:
                found = PostLookup(None, None, None, None, [], message_id)
            else:
                chat = open_chats.get(n)
                found = PostLookup(
                    customer, None if dup is None else (dup, row[15]),
                    None if chat is None else dict(zip(cols, chat[1:-5], strict=True)),
                    None if chat is None else tuple(chat[-5:]), resolved, message_id)
            kept[(shop_id, key, client_id)] = found
        conn.prefetched = (resolved_since, kept)
        return len(kept)

    def lookup(self, shop_id: int, customer_key: str, client_id: str | None,
               resolved_since: int) -> PostLookup:
        """The customer, the duplicate of ``client_id`` (when given), the open chat and
        the tickets resolved since ``resolved_since`` of ``customer_key`` in shop
        ``shop_id``, read together (with a message id reserved on PostgreSQL)."""
        locking = bool(getattr(self.conn, "shared", False))
        kept = getattr(self.conn, "prefetched", None) if locking else None
        if kept and kept[0] <= resolved_since:
            # read at the group's start: its resolved tickets are those since a time at
            # or before this post's (a superset, which only sends more to the lock)
            found = kept[1].pop((shop_id, customer_key, client_id), None)
            if found is not None:
                return found
        statements = [(_CUSTOMER_FOR_POST, (shop_id, customer_key)),
                      (_OPEN_CHAT, (shop_id, customer_key)),
                      (_RESOLVED, (shop_id, customer_key, resolved_since))]
        if locking:
            # beside other posts (PostgreSQL's concurrent posts): the open chat's row
            # locked first (a chat another post holds is skipped: this one goes to the
            # write lock instead of waiting), so that what is read after it (the
            # duplicate of the client id, the id to reserve) is read with the chat held
            statements = [(_OPEN_CHAT + _LOCK_CHAT, (shop_id, customer_key)),
                          statements[0], statements[2]]
        next_id = next_id_sql(self.conn, "messages")
        if next_id is not None:
            # PostgreSQL: the customer, the id, the resolved tickets and the duplicate
            # in one statement (a statement costs more CPU here than the rows it reads)
            statements = [statements[0] if locking else statements[1],
                          self._id_statement(next_id, locking, shop_id, customer_key,
                                             client_id, resolved_since)]
            cursors = execute_together(self.conn, statements)
            chat_cursor = cursors[0]
            chat = chat_cursor.fetchone()
            row = cursors[1].fetchone()
            width = len(row) - (4 if client_id is not None else 2)
            customer = tuple(row[:width]) if row[0] is not None else None
            message_id, resolved = row[width], list(row[width + 1])
            duplicate = (row[width + 2], row[width + 3]) \
                if client_id is not None and row[width + 2] is not None else None
        else:
            if client_id is not None:
                statements.append((_DUPLICATE, (client_id, shop_id, customer_key)))
            cursors = execute_together(self.conn, statements)
            customer = cursors[0].fetchone()
            chat_cursor = cursors[1]
            chat = chat_cursor.fetchone()
            resolved = [r[0] for r in cursors[2].fetchall()]
            duplicate = cursors[3].fetchone() if client_id is not None else None
            message_id = None
        if customer is None:
            return PostLookup(None, None, None, None, [], message_id)
        duplicate = None if duplicate is None else (duplicate[0], duplicate[1])
        if chat is None:
            return PostLookup(customer, duplicate, None, None, resolved, message_id)
        cols = [d[0] for d in chat_cursor.description][:-5]
        return PostLookup(customer, duplicate, dict(zip(cols, chat[:-5], strict=True)),
                          tuple(chat[-5:]), resolved, message_id)

    @staticmethod
    def _id_statement(next_id: str, locking: bool, shop_id: int, customer_key: str,
                      client_id: str | None, resolved_since: int) -> tuple[str, tuple]:
        """PostgreSQL: one row of the id reserved for the message (or NULL), the ids of
        the tickets resolved since ``resolved_since`` (an array) and the duplicate of
        ``client_id`` (message id, conversation id; NULLs when none or no client id)."""
        if locking:
            # beside other posts, only for a post that may stay there (the desk's
            # _fits_beside_others): one that goes to the write lock looks up again
            known, params = _FITS, (customer_key, shop_id, shop_id, customer_key, shop_id,
                                    customer_key, resolved_since)
        else:
            # an id only for a post that will store its message (a known customer, no
            # duplicate): a number spent for nothing would leave a gap in the ids
            known, params = _KNOWN, (customer_key,)
        resolved = f"ARRAY({_RESOLVED})"
        resolved_params = (shop_id, customer_key, resolved_since)
        # the customer's row (NULLs for a key unknown) first; its parameters come after
        # the columns' (the FROM clause follows them)
        customer = f"(VALUES (1)) AS cstool_one LEFT JOIN LATERAL ({_CUSTOMER_FOR_POST}) " \
                   "AS cu ON true"
        customer_params = (shop_id, customer_key)
        if client_id is None:
            return (f"SELECT cu.*, CASE WHEN {known} THEN {next_id} END, {resolved} "
                    f"FROM {customer}", (*params, *resolved_params, *customer_params))
        return (f"SELECT cu.*, CASE WHEN {known} AND NOT EXISTS ({_DUPLICATE}) THEN "
                f"{next_id} END, {resolved}, d.id, d.conversation_id FROM {customer} "
                f"LEFT JOIN LATERAL ({_DUPLICATE} LIMIT 1) AS d ON true",
                (*params, client_id, shop_id, customer_key, *resolved_params,
                 *customer_params, client_id, shop_id, customer_key))
