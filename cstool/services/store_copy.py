"""Moving a whole mall between stores: ``cstool db copy SRC DST`` (a SQLite file to
PostgreSQL and back, or file to file).

All or nothing: the copy runs in one transaction on the target, and commits only when it
is verified, table by table (the row counts equal) and as a whole (the export of the
target, read inside that transaction, is byte for byte the source's). The target must be
empty (a new file, or a database with no mall in it); the source is migrated to the
latest schema first (both sides then have the same tables).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import Conflict
from ..storage import copy as rows


def _exported(backend: Any) -> bytes:
    return json.dumps(backend.export(), ensure_ascii=False, sort_keys=True).encode()


def require_empty(target: Any) -> None:
    """Conflict ``copy_target_not_empty`` unless the Local backend ``target`` holds no
    mall (only its schema and the store's own rows)."""
    dst = target.database
    occupied = {t: n for t, n in dst.table_counts().items()
                if t not in rows.OWN_ROWS and n and t not in rows.COUNTS}
    if occupied:
        raise Conflict(f"{dst.path} is not empty ({', '.join(sorted(occupied))}); "
                       "copy into a new file or an empty database",
                       key="copy_target_not_empty", target=str(dst.path),
                       tables=", ".join(sorted(occupied)))


def copy_store(source: Any, target: Any, *,
               progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Copy every row of the Local backend ``source`` into the empty Local backend
    ``target``; ``progress(table, rows_done, rows_total)`` after each chunk. Returns
    the tables with their row counts. Conflict when the target holds a mall already or
    the verification fails (nothing is written then)."""
    src, dst = source.database, target.database
    counts = {t: n for t, n in src.table_counts().items() if t not in rows.OWN_ROWS}
    require_empty(target)
    total = sum(counts.values())
    done = 0
    order = rows.tables(dst)
    copied: dict[str, int] = {}
    with dst.group():
        with dst.write() as conn:
            rows.clear_counts(conn)  # the source's queue counts come along
            switch_on = rows.triggers_off(dst, conn)
            for table in order:
                if table not in counts:
                    continue

                def step(n: int, table: str = table) -> None:
                    nonlocal done
                    done += n
                    if progress is not None:
                        progress(table, done, total)

                copied[table] = rows.copy_table(src, dst, conn, table, step)
                if progress is not None:
                    progress(table, done, total)
            switch_on()
            wrong = {t: (n, rows.count(conn, t)) for t, n in counts.items()
                     if rows.count(conn, t) != n}
            if wrong:
                raise Conflict(
                    "the copy does not match the source (table: source rows, copied rows): "
                    + ", ".join(f"{t}: {a}, {b}" for t, (a, b) in sorted(wrong.items())),
                    key="copy_mismatch", detail=", ".join(sorted(wrong)))
        if _exported(target) != _exported(source):
            raise Conflict("the copy's export differs from the source's; nothing was written",
                           key="copy_export_differs")
    return {"source": str(src.path), "target": str(dst.path), "tables": copied,
            "rows": sum(copied.values()), "verified": True}
