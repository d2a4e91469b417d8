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
