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


def execute_later(conn: Any, sql: str, params: Any = (), *, id_reserved: bool = False,
                  many: tuple[str, int | None] | None = None) -> Any:
    """Run a write whose result the caller does not read (no row count, no new id, and
    no constraint it may break that the caller would catch). SQLite runs it at once and
    returns the cursor; PostgreSQL sends it with the transaction's next statement, in
    that round trip, and returns None (``PgConnection.execute_later``). ``id_reserved``:
    the row's ``id`` was taken from the table's own sequence (``next_id_sql``).
    ``many``: PostgreSQL's statement for many such writes at once (its parameters one
    array per parameter of ``sql``) and the parameter naming the row written (of several
    writes to one row, the last stands; None: every write is a row of its own): writes
    of this statement waiting together are sent as one (``PgConnection.pipeline``)."""
    later = getattr(conn, "execute_later", None)
    if later is None:
        return conn.execute(sql, params)
    later(sql, params, id_reserved=id_reserved, many=many)
    return None


def next_id_sql(conn: Any, table: str) -> str | None:
    """An expression that takes the next id of ``table``'s identity, for a row inserted
    later in the transaction (``execute_later``): PostgreSQL's sequence; None on SQLite,
    whose ids are known at once. A number taken is spent even if the row is never
    written (a sequence does not roll back): take one only for a row that will be."""
    if getattr(conn, "execute_later", None) is None:
        return None
    return f"nextval(pg_get_serial_sequence('{table}', 'id'))"


def execute_together(conn: Any, statements: list[tuple[str, Any]]) -> list[Any]:
    """Run reads that do not depend on each other's results and return their cursors,
    in order. SQLite runs them one after the other; PostgreSQL sends them in one round
    trip (``PgConnection.execute_together``)."""
    together = getattr(conn, "execute_together", None)
    if together is None:
        return [conn.execute(sql, params) for sql, params in statements]
    return together(statements)
