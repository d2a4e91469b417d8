"""Bulk load on PostgreSQL: about 1,000,000 rows (customers, profiles, orders, items,
logistics events) through cstool's load path (``Backend.bulk_load``, which uses COPY on
PostgreSQL) beside raw psycopg ``COPY`` of the same rows into the same schema, and
beside the same load into a SQLite file, in the same run.

Prints rows/s and the ratios (ours / raw COPY; PostgreSQL / SQLite). Goal: the million
rows loaded into PostgreSQL in under 60 s (generation not counted: it is the same for
both engines and printed apart).

Every load gets a fresh database in a throwaway cluster with PostgreSQL's durable
defaults (benchmarks/pg_cluster.py), or ``--db URL`` (an empty database; the raw COPY
then is skipped: it needs a second empty database).

    python benchmarks/bench_load_pg.py            # full size (~1M rows)
    python benchmarks/bench_load_pg.py --quick    # tiny, for the test suite
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import pg_cluster  # noqa: E402
from bench_load import NOW, raw_rows  # noqa: E402

from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.clock import FrozenClock  # noqa: E402
from cstool.simulation.synthetic_data import Plan, base_document, customers, orders  # noqa: E402
from cstool.storage import bulk  # noqa: E402

RAW_COPY = {  # bench_load's raw rows, by table and columns
    "customers": ("customers", bulk.CUSTOMER_COLUMNS[:7]),
    "profiles": ("customer_profiles", bulk.PROFILE_COLUMNS[:11]),
    # bench_load's raw order rows leave the delivery address out (NULL as in its INSERT)
    "orders": ("orders", tuple(c for c in bulk.ORDER_COLUMNS
                               if c not in ("receiver", "phone", "address"))),
    "items": ("order_items", bulk.ITEM_COLUMNS),
    "logi": ("logistics_events", bulk.LOGISTICS_COLUMNS),
}
TABLES = ("customers", "customer_profiles", "orders", "order_items", "logistics_events")


def ours(db: str, plan: Plan, custs: list[dict], ords: list[dict]) -> tuple[float, int]:
    """cstool's load path into ``db``: (seconds, rows in the five tables)."""
    backend = LocalBackend(db, clock=FrozenClock(NOW))
    try:
        backend.apply(base_document(plan))
        t0 = time.perf_counter()
        backend.bulk_load("customers", custs)
        backend.bulk_load("orders", ords)
        seconds = time.perf_counter() - t0
        counts = backend.info()["tables"]
    finally:
        backend.close()
    return seconds, sum(counts[t] for t in TABLES)


def raw_copy(url: str, plan: Plan, custs: list[dict], ords: list[dict]) -> tuple[float, int]:
    """The same rows with bare psycopg COPY in one transaction: (seconds, rows)."""
    import psycopg

    backend = LocalBackend(url, clock=FrozenClock(NOW))
    backend.apply(base_document(plan))
    backend.close()
    with psycopg.connect(url) as conn:
        ids = {"shops": dict(conn.execute("SELECT key, id FROM shops").fetchall()),
               "products": dict(conn.execute("SELECT key, id FROM products").fetchall())}
        rows = raw_rows(plan, custs, ords, ids)
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for name, (table, columns) in RAW_COPY.items():
                cols = ", ".join(f'"{c}"' for c in columns)
                with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                    for row in rows[name]:
                        copy.write_row(row)
        seconds = time.perf_counter() - t0
    return seconds, sum(len(v) for v in rows.values())


def main(argv: list[str] | None = None) -> int:
    """Run the loads and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny size for the test suite")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--db", default=None, help="an existing empty PostgreSQL database")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.orders = 2_000, 4_000
    if not args.db and not pg_cluster.available():
        raise SystemExit("PostgreSQL (initdb, pg_ctl) is not installed; give --db URL")
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores shared)")
    plan = Plan(shops=3, customers=args.customers, orders=args.orders, seed=7)
    t0 = time.perf_counter()
    custs, ords = list(customers(plan)), list(orders(plan))
    gen_s = time.perf_counter() - t0
    with pg_cluster.database(args.db) as (url, cluster):
        pg_s, pg_rows = ours(url, plan, custs, ords)
        raw = raw_copy(cluster.database(), plan, custs, ords) if cluster is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        lite_s, lite_rows = ours(str(Path(tmp) / "load.db"), plan, custs, ords)
    if pg_rows != lite_rows or (raw and raw[1] != pg_rows):
        print(f"row counts differ: PostgreSQL {pg_rows}, SQLite {lite_rows}, "
              f"raw {raw and raw[1]}")
        return 1
    print(f"rows loaded:                 {pg_rows:,}")
    print(f"generate (not counted):      {gen_s:.2f} s")
    print(f"cstool bulk_load, PostgreSQL: {pg_rows / pg_s:,.0f} rows/s ({pg_s:.2f} s; "
          f"goal < 60 s for ~1M rows)")
    if raw:
        print(f"raw psycopg COPY:            {raw[1] / raw[0]:,.0f} rows/s ({raw[0]:.2f} s)")
        print(f"ratio ours / raw COPY:       {raw[0] / pg_s:.2f}")
    print(f"cstool bulk_load, SQLite:    {lite_rows / lite_s:,.0f} rows/s ({lite_s:.2f} s)")
    print(f"ratio PostgreSQL / SQLite:   {lite_s / pg_s:.2f}")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
