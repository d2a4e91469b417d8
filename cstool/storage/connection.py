"""What the storage hands around as a connection, whichever the engine: ``sqlite3``'s
connection (SQLite) or ``postgres.PgConnection`` (PostgreSQL), which takes the same
statements and answers with the same cursors."""

from __future__ import annotations

from typing import Any, Protocol


class Connection(Protocol):
    """A database connection of either engine (statements in SQLite's dialect)."""

    def execute(self, sql: str, params: Any = ..., /) -> Any:
        """Run one statement; a cursor (fetchone, fetchall, rowcount, lastrowid)."""

    def executemany(self, sql: str, rows: Any, /) -> Any:
        """Run one statement for each parameter row."""


def execute_later(conn: Any, sql: str, params: Any = ()) -> Any:
    """Run a write whose result the caller does not read (no row count, no new id, and
    no constraint it may break that the caller would catch). SQLite runs it at once and
    returns the cursor; PostgreSQL sends it with the transaction's next statement, in
    that round trip, and returns None (``PgConnection.execute_later``)."""
    later = getattr(conn, "execute_later", None)
    if later is None:
        return conn.execute(sql, params)
    later(sql, params)
    return None


def execute_together(conn: Any, statements: list[tuple[str, Any]]) -> list[Any]:
    """Run reads that do not depend on each other's results and return their cursors,
    in order. SQLite runs them one after the other; PostgreSQL sends them in one round
    trip (``PgConnection.execute_together``)."""
    together = getattr(conn, "execute_together", None)
    if together is None:
        return [conn.execute(sql, params) for sql, params in statements]
    return together(statements)
