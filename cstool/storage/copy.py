"""Copying every row of one store into another, across engines (``cstool db copy``).

The rows move table by table in chunks, in an order where every foreign key points to a
table already copied (read from the target's catalogue), inside the caller's write
transaction on the target. The target's triggers are switched off for the copy (they
would recount the queue or stamp campaigns again: the source's rows carry their values
already) and switched back on in the same transaction, so a failure leaves nothing.
Values are converted to the target column's type where the engines differ (SQLite keeps
any value in any column; PostgreSQL does not). Into PostgreSQL the rows go with ``COPY``
(``PgConnection.copy_rows``), into SQLite with ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .connection import Connection
from .records import q

CHUNK = 2000
# Tables the migrations fill themselves; their rows are the target's own.
OWN_ROWS = frozenset({"schema_migrations", "desk_version"})
# Tables of counts kept by triggers (a new store has none; a copy brings the source's).
COUNTS = ("queue_bands", "queue_counts")


def clear_counts(conn: Connection) -> None:
    """Empty the trigger-kept count tables of the target (in its open transaction)."""
    for table in COUNTS:
        conn.execute(f"DELETE FROM {q(table)}")


def tables(database: Any) -> list[str]:
    """The store's tables, parents before children (by foreign key)."""
    conn = database.conn
    names = [n for n in database.table_counts() if n not in OWN_ROWS]
    refs: dict[str, set[str]] = {n: set() for n in names}
    for name in names:
        if database.engine is None:
            parents = {r[2] for r in conn.execute(f"PRAGMA foreign_key_list({q(name)})")}
        else:
            parents = {r[0] for r in conn.raw.execute(
                "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid = %s::regclass", (q(name),))}
            parents = {p.strip('"') for p in parents}
        refs[name] = {p for p in parents if p != name and p in refs}
    order: list[str] = []
    while refs:
        ready = sorted(n for n, parents in refs.items() if not parents)
        if not ready:  # a cycle: the rest in name order (SQLite defers; see below)
            ready = sorted(refs)
        for n in ready:
            order.append(n)
            del refs[n]
        for parents in refs.values():
            parents.difference_update(ready)
    return order


def columns(database: Any, table: str) -> list[tuple[str, str]]:
    """(name, kind) of the table's columns; kind is ``int``, ``real``, ``text`` or ``blob``."""
    conn = database.conn
    if database.engine is None:
        rows = [(r[1], r[2].upper()) for r in conn.execute(f"PRAGMA table_info({q(table)})")]
    else:
        rows = [(r[0], r[1].upper()) for r in conn.raw.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (table,))]

    def kind(declared: str) -> str:
        if "INT" in declared:
            return "int"
        if any(w in declared for w in ("REAL", "DOUBLE", "FLOAT", "NUMERIC")):
            return "real"
        if "BLOB" in declared or "BYTEA" in declared:
            return "blob"
        return "text"

    return [(name, kind(declared)) for name, declared in rows]


def _converter(kind: str) -> Callable[[Any], Any]:
    def to_text(v: Any) -> Any:
        return v if v is None or isinstance(v, str) else str(v)

    def to_int(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    return {"text": to_text, "int": to_int}.get(kind, lambda v: v)


def read_rows(database: Any, table: str, names: list[str],
              order_by: str | None = None) -> Iterator[list[tuple]]:
    """The table's rows in chunks, in the order they were written (``order_by``: the
    column that says it; else a table scan's own order, SQLite's rowid or key)."""
    cols = ", ".join(q(n) for n in names)
    order = f" ORDER BY {q(order_by)}" if order_by else ""
    cur = database.conn.execute(f"SELECT {cols} FROM {q(table)}{order}")
    while True:
        rows = cur.fetchmany(CHUNK)
        if not rows:
            return
        yield rows


def triggers_off(database: Any, conn: Connection) -> Callable[[], None]:
    """Switch the target's triggers off (in the open transaction); returns what switches
    them back on."""
    if database.engine is None:
        saved = [r[0] for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL")]
        for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {q(name)}")
        conn.execute("PRAGMA defer_foreign_keys = ON")

        def on() -> None:
            for sql in saved:
                conn.execute(sql)
        return on
    names = database.engine.table_names(conn)
    for name in names:
        conn.raw.execute(f"ALTER TABLE {q(name)} DISABLE TRIGGER USER")

    def on_pg() -> None:
        for name in names:
            conn.raw.execute(f"ALTER TABLE {q(name)} ENABLE TRIGGER USER")
    return on_pg


def copy_table(source: Any, target: Any, conn: Connection, table: str,
               progress: Callable[[int], None]) -> int:
    """Copy every row of ``table`` from ``source`` into the target's open transaction
    (``conn``); calls ``progress(rows)`` after each chunk; returns the rows copied."""
    target_cols = dict(columns(target, table))
    source_cols = [n for n, _ in columns(source, table)]
    names = [n for n in source_cols if n in target_cols]
    # the write order: the id, or (PostgreSQL) the explicit rowid of a table without key
    order_by = next((n for n in ("id", "rowid") if n in source_cols), None)
    convert = [_converter(target_cols[n]) for n in names]
    marks = ", ".join("?" for _ in names)
    insert = f"INSERT INTO {q(table)} ({', '.join(q(n) for n in names)}) VALUES ({marks})"
    copy_rows = getattr(conn, "copy_rows", None)  # PostgreSQL: COPY, not row by row
    done = 0
    for rows in read_rows(source, table, names, order_by):
        converted = [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in rows]
        if copy_rows is not None:
            copy_rows(table, names, converted)
        else:
            conn.executemany(insert, converted)
        done += len(rows)
        progress(len(rows))
    return done


def count(conn: Connection, table: str) -> int:
    """The table's row count."""
    return conn.execute(f"SELECT COUNT(*) FROM {q(table)}").fetchone()[0]
