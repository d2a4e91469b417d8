"""Load about 1,000,000 rows (customers, profiles, orders, items, logistics events)
through cstool's own load path (``Backend.bulk_load``), beside raw sqlite3
``executemany`` of the same rows into the same schema, in the same run.

Prints rows/s for both and the ratio (ours / raw). Goal: ratio >= 0.5 and the
million rows (generation included) in under 60 s.

    python benchmarks/bench_load.py            # full size (~1M rows)
    python benchmarks/bench_load.py --quick    # tiny, for the test suite
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.clock import FrozenClock  # noqa: E402
from cstool.simulation.synthetic_data import Plan, base_document, customers, orders  # noqa: E402

NOW = 1_763_600_000_000


def raw_rows(plan: Plan, custs: list[dict], ords: list[dict], ids: dict) -> dict[str, list]:
    """The same rows as tuples, ready for executemany (built outside the timing)."""
    rows: dict[str, list] = {k: [] for k in ("customers", "profiles", "orders", "items", "logi")}
    cid = {}
    for i, c in enumerate(custs, start=1):
        cid[c["key"]] = i
        rows["customers"].append((i, c["key"], c["name"], c.get("phone"), None, NOW, NOW))
        for pos, p in enumerate(c["profiles"]):
            rows["profiles"].append(
                (
                    i,
                    ids["shops"][p["shop"]],
                    pos,
                    p["level"],
                    json.dumps(p["tags"]),
                    p["region"],
                    p["channel"],
                    None,
                    None,
                    None,
                    None,
                )
            )
    for i, o in enumerate(ords, start=1):
        total = -o["discount"]
        for it in o["items"]:
            total += it["price"] * it["quantity"]
            rows["items"].append((i, ids["products"][it["product"]], it["quantity"], it["price"]))
        rows["orders"].append(
            (
                i,
                o["key"],
                ids["shops"][o["shop"]],
                cid[o["customer"]],
                o["status"],
                total,
                o["discount"],
                o.get("region"),
                o.get("carrier"),
                o.get("tracking_no"),
                o["created_at"],
                o.get("paid_at"),
                o.get("shipped_at"),
                o.get("delivered_at"),
                NOW,
            )
        )
        for e in o["logistics"]:
            rows["logi"].append((i, e["at"], e["status"], e.get("detail")))
    return rows


RAW_SQL = {
    "customers": "INSERT INTO customers (id, key, name, phone, email, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "profiles": "INSERT INTO customer_profiles (customer_id, shop_id, position, level, tags, "
    "region, channel, credit, dedicated_agent_id, last_agent_id, last_served_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "orders": "INSERT INTO orders (id, key, shop_id, customer_id, status, total, discount, "
    "region, carrier, tracking_no, created_at, paid_at, shipped_at, delivered_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "items": "INSERT INTO order_items (order_id, product_id, quantity, price) VALUES (?, ?, ?, ?)",
    "logi": "INSERT INTO logistics_events (order_id, at, status, detail) VALUES (?, ?, ?, ?)",
}


def run(n_customers: int, n_orders: int) -> dict:
    """Run both loads once and return the figures."""
    plan = Plan(shops=3, customers=n_customers, orders=n_orders, seed=7)
    t0 = time.perf_counter()
    custs = list(customers(plan))
    ords = list(orders(plan))
    gen_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        ours_path, raw_path = Path(tmp) / "ours.db", Path(tmp) / "raw.db"
        # ours: the project's load path
        backend = LocalBackend(ours_path, clock=FrozenClock(NOW))
        backend.apply(base_document(plan))
        t0 = time.perf_counter()
        backend.bulk_load("customers", custs)
        backend.bulk_load("orders", ords)
        ours_s = time.perf_counter() - t0
        counts = backend.info()["tables"]
        backend.close()
        # raw: the same schema (same migrations) and base rows, plain executemany
        backend = LocalBackend(raw_path, clock=FrozenClock(NOW))
        backend.apply(base_document(plan))
        backend.close()
        conn = sqlite3.connect(raw_path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        ids = {
            "shops": dict(conn.execute("SELECT key, id FROM shops")),
            "products": dict(conn.execute("SELECT key, id FROM products")),
        }
        rows = raw_rows(plan, custs, ords, ids)
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for name, sql in RAW_SQL.items():
            conn.executemany(sql, rows[name])
        conn.execute("COMMIT")
        raw_s = time.perf_counter() - t0
        conn.close()
    n_rows = sum(len(v) for v in rows.values())
    loaded = sum(
        counts[t]
        for t in ("customers", "customer_profiles", "orders", "order_items", "logistics_events")
    )
    assert loaded == n_rows, (loaded, n_rows)
    return {
        "rows": n_rows,
        "generate_s": gen_s,
        "ours_s": ours_s,
        "raw_s": raw_s,
        "ours_rows_per_s": n_rows / ours_s,
        "raw_rows_per_s": n_rows / raw_s,
        "ratio": raw_s / ours_s,
        "total_s": gen_s + ours_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny size for the test suite")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=200_000)
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.orders = 2_000, 4_000
    r = run(args.customers, args.orders)
    print(f"rows loaded:           {r['rows']:,}")
    print(f"generate:              {r['generate_s']:.2f} s")
    print(f"cstool bulk_load:      {r['ours_rows_per_s']:,.0f} rows/s ({r['ours_s']:.2f} s)")
    print(f"raw sqlite3 executemany: {r['raw_rows_per_s']:,.0f} rows/s ({r['raw_s']:.2f} s)")
    print(f"ratio (ours/raw):      {r['ratio']:.2f}  (goal >= 0.5)")
    print(f"generate + load:       {r['total_s']:.1f} s  (goal < 60 s for ~1M rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
