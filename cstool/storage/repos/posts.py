"""What a customer's post reads before it writes, in one go: the customer (with their
profile in the shop), the message the post's client id names if it was stored already,
and the customer's open chat in the shop with the names it points at.

The three reads name the customer by key, not by id, so that none waits for another's
answer: PostgreSQL sends them in one round trip (``connection.execute_together``), SQLite
runs them one after the other. A customer who does not exist yet has no message and no
chat: both come back None.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..connection import execute_together
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


@dataclass(frozen=True)
class PostLookup:
    """What a post reads first (see the module's docstring).

    ``customer``: as ``Customers.for_post`` (None for a new key); ``duplicate``: (message
    id, conversation id) of the customer's message with the client id, or None;
    ``open_chat``: the open chat's row (as ``Conversations.open_of``) or None;
    ``names``: its (shop key, customer key, customer name, assignee, group key)."""

    customer: tuple | None
    duplicate: tuple[int, int] | None
    open_chat: dict | None
    names: tuple | None


class Posts:
    """The reads of a customer's post (``uow.repo(Posts)``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def lookup(self, shop_id: int, customer_key: str, client_id: str | None) -> PostLookup:
        """The customer, the duplicate of ``client_id`` (when given) and the open chat of
        ``customer_key`` in shop ``shop_id``, read together."""
        statements = [(_CUSTOMER_FOR_POST, (shop_id, customer_key)),
                      (_OPEN_CHAT, (shop_id, customer_key))]
        if client_id is not None:
            statements.append((_DUPLICATE, (client_id, shop_id, customer_key)))
        cursors = execute_together(self.conn, statements)
        customer = cursors[0].fetchone()
        chat = cursors[1].fetchone()
        duplicate = cursors[2].fetchone() if client_id is not None else None
        if customer is None:
            return PostLookup(None, None, None, None)
        if chat is None:
            return PostLookup(customer, duplicate and tuple(duplicate), None, None)
        cols = [d[0] for d in cursors[1].description][:-5]
        return PostLookup(customer, duplicate and tuple(duplicate),
                          dict(zip(cols, chat[:-5], strict=True)), tuple(chat[-5:]))
