"""The results of PostgreSQL statements as ``sqlite3``'s cursors give them (for
``postgres.PgConnection``): rows as tuples, ``description`` as 7-tuples with the name
first, ``rowcount``, ``lastrowid``.

Kept cheap on purpose: a customer's post runs several statements, and psycopg's own
``Cursor.description`` (a Column object per column, each with a type look-up) cost more
than the rest of reading a small result; it is built here only when a caller asks for
the names, from the result's field names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def has_rows(cur: Any) -> bool:
    """Whether psycopg cursor ``cur``'s current result returns rows (psycopg's own test
    for ``description``, without building the Column objects it returns: those cost
    more than the rest of a small read, and only the callers that ask for the names
    need them). A ``Result`` (read whole) answers its fetches itself."""
    if type(cur) is Result:
        return True
    res = cur.pgresult
    return res is not None and bool(res.nfields or res.status == _TUPLES_OK)


def describe(cur: Any) -> list[tuple] | None:
    """sqlite3's ``description`` of psycopg cursor ``cur``'s current result: a 7-tuple
    per column, its name first and the rest None (as sqlite3 gives it), read from the
    result's field names (psycopg's Column objects cost a type look-up each); None for a
    statement without rows."""
    if not has_rows(cur):
        return None
    res = cur.pgresult
    encoding = cur.connection.info.encoding
    return [(res.fname(i).decode(encoding), None, None, None, None, None, None)
            for i in range(res.nfields)]


_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK (libpq's PGRES_TUPLES_OK)


class PgCursor:
    """sqlite3's cursor over a psycopg cursor (the rows are tuples, as sqlite3's)."""

    __slots__ = ("_cur", "lastrowid", "_rows")

    def __init__(self, cur: Any, lastrowid: int | None = None, rows: list | None = None):
        self._cur = cur
        self.lastrowid = lastrowid
        self._rows = rows

    @property
    def rowcount(self) -> int:
        """Rows changed by the statement (-1 when unknown)."""
        return self._cur.rowcount if self._cur is not None else -1

    @property
    def description(self) -> Any:
        """The result's columns (name first, as sqlite3's)."""
        if self._cur is None:
            return None
        if type(self._cur) is Result:
            return self._cur.description
        return describe(self._cur)

    def fetchone(self) -> tuple | None:
        """The next row, or None."""
        if self._rows is not None:
            return self._rows.pop(0) if self._rows else None
        if self._cur is None or not has_rows(self._cur):
            return None
        return self._cur.fetchone()

    def fetchall(self) -> list[tuple]:
        """The remaining rows."""
        if self._rows is not None:
            rows, self._rows = self._rows, []
            return rows
        if self._cur is None or not has_rows(self._cur):
            return []
        return self._cur.fetchall()

    def fetchmany(self, size: int = 100) -> list[tuple]:
        """Up to ``size`` further rows."""
        if self._rows is not None:
            rows, self._rows = self._rows[:size], self._rows[size:]
            return rows
        if self._cur is None or not has_rows(self._cur):
            return []
        return self._cur.fetchmany(size)

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchall())

    def close(self) -> None:
        """Nothing to free (the rows are client-side)."""


class Result:
    """One statement's result of a ``PgConnection.pipeline`` message, read whole (its
    columns' description only when asked for: see ``has_rows``)."""

    __slots__ = ("_cur", "rowcount", "_rows")

    def __init__(self, cur: Any, rowcount: int, rows: list):
        self._cur = cur
        self.rowcount = rowcount
        self._rows = rows

    @classmethod
    def of(cls, cur: Any) -> Result:
        """The current result of psycopg cursor ``cur``."""
        return cls(cur, cur.rowcount, cur.fetchall() if has_rows(cur) else [])

    @property
    def description(self) -> Any:
        """The result's columns (name first, as sqlite3's), None for a statement
        without rows."""
        return describe(self._cur)

    def fetchone(self) -> tuple | None:
        """The next row, or None."""
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple]:
        """The remaining rows."""
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size: int = 100) -> list[tuple]:
        """Up to ``size`` further rows."""
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows


class Count(PgCursor):
    __slots__ = ("_count",)

    def __init__(self, count: int):
        super().__init__(None)
        self._count = count

    @property
    def rowcount(self) -> int:
        return self._count
