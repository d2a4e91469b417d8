"""The partitions of a metrics report besides labels (``--by intent``, ``group-kind``,
``category``): per dimension, how a conversation's value is read, the condition of one
value and of none, over ``metric_conversations m`` (``metrics.Scope``'s ``part``)."""

from __future__ import annotations

import sqlite3

# The partitions of a report besides labels: per dimension, the joins and column that
# give a conversation's value, the condition of one value, and the condition of none.
PARTS: dict[str, tuple[str, str, str, str]] = {
    "intent": (
        "JOIN conversations c ON c.id = m.conversation_id", "c.intent",
        "m.conversation_id IN (SELECT id FROM conversations WHERE intent = ?)",
        "m.conversation_id IN (SELECT id FROM conversations WHERE intent IS NULL)",
    ),
    "group-kind": (
        'JOIN "groups" g ON g.key = m.group_key', "g.kind",
        'm.group_key IN (SELECT key FROM "groups" WHERE kind = ?)',
        '(m.group_key IS NULL OR m.group_key NOT IN (SELECT key FROM "groups"))',
    ),
    "category": (
        "JOIN conversations c ON c.id = m.conversation_id JOIN products p ON "
        "p.key = c.product_key", "p.category",
        "m.conversation_id IN (SELECT c.id FROM conversations c JOIN products p ON "
        "p.key = c.product_key WHERE p.category = ?)",
        "m.conversation_id NOT IN (SELECT c.id FROM conversations c JOIN products p ON "
        "p.key = c.product_key WHERE p.category IS NOT NULL)",
    ),
}


def parts_in(conn: sqlite3.Connection, scope, dim: str) -> list[str]:
    """The values of ``dim`` (intent, group-kind, category) among the conversations in
    scope, in text order."""
    joins, column, _, _ = PARTS[dim]
    sql, params = scope.sql(f"DISTINCT {column}", joins=joins + " ",
                            extra=f"{column} IS NOT NULL")
    return sorted(r[0] for r in conn.execute(sql, params))
