"""One campaign run-due pass over 1,000,000 customers with 100,000 due triggers, beside a
plain SQL selection of the same eligible set in the same run.

The file is written straight with sqlite3 (setup, not measured): one shop, a million
customers with profiles (2 % opted out), 600,000 older orders, and due now: 40,000
unpaid orders (催付), 30,000 consultations without an order (催拍, into their chat) and
30,000 shipped orders (notices); 1 % of customers have a refund dispute open, some have
two triggers (the frequency cap lets one through), 10 % holdout on the reminders. The
pass decides every trigger (sends with messages, coupons and events; suppressions;
holdouts) in batched write transactions. Goal: <= 30 s here.

The baseline selects the same triggers with their guards joined in one query per
campaign and writes nothing: the floor of any pass that must at least find them.

    python benchmarks/bench_campaigns.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.clock import FrozenClock  # noqa: E402
from cstool.values import parse_time  # noqa: E402

NOW = parse_time("2026-11-20T15:00:00+08:00")
MIN = 60_000
DAY = 1440 * MIN


def build(path: Path, customers: int, due: int) -> dict:
    """Write the file; returns how many triggers of each kind are due."""
    b = LocalBackend(path, clock=FrozenClock(NOW - DAY))
    b.apply({
        "shops": [{"key": "s", "name": "压测旗舰店", "settings": {"quiet_hours": "22:00-08:00"}}],
        "products": [{"key": f"p{i}", "shop": "s", "title": f"商品{i}", "price": 99 + i,
                      "category": "女装"} for i in range(20)],
        "coupons": [{"key": "c", "shop": "s", "name": "满200减20", "kind": "amount",
                     "amount": 20, "threshold": 200}],
        "campaigns": [
            {"key": "pay", "shop": "s", "name": "催付", "trigger": "payment_reminder",
             "template": "{name}您好，订单{order}的{product}还未付款，库存紧张哦", "holdout": 0.1},
            {"key": "nudge", "shop": "s", "name": "催拍", "trigger": "order_nudge",
             "template": "{name}，{product}送您{coupon}，券后¥{price_after_discount}",
             "coupon": "c", "delay_min": 5},
            {"key": "ship", "shop": "s", "name": "发货", "trigger": "order_shipped",
             "template": "订单{order}已由{carrier}发出，单号{tracking_no}"},
        ],
    })
    b.close()
    rnd = random.Random(11)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    t0 = NOW - 400 * DAY
    conn.executemany(
        "INSERT INTO customers (id, key, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        ((i, f"k{i:07d}", f"顾客{i}", t0, t0) for i in range(1, customers + 1)))
    conn.executemany(
        "INSERT INTO customer_profiles (customer_id, shop_id, level, tags, region, "
        "opted_out_at) VALUES (?, 1, ?, '[]', '浙江杭州', ?)",
        ((i, i % 6, t0 if i % 50 == 0 else None) for i in range(1, customers + 1)))
    n_pay, n_nudge = due * 2 // 5, due * 3 // 10
    n_ship = due - n_pay - n_nudge
    orders, items = [], []
    oid = 0

    def add_order(cust: int, status: str, created: int, paid=None, shipped=None) -> None:
        nonlocal oid
        oid += 1
        orders.append((oid, f"o{oid:08d}", cust, status, 29900, created, paid, shipped,
                       "顺丰" if shipped else None, f"SF{oid:010d}" if shipped else None,
                       created))
        items.append((oid, 1 + oid % 20, 1, 29900))

    for _ in range(customers * 3 // 5):  # history: delivered long ago
        created = NOW - rnd.randrange(30, 365) * DAY
        add_order(rnd.randrange(1, customers + 1), "delivered", created, created + MIN,
                  created + DAY)
    picks = rnd.sample(range(1, customers + 1), n_pay + n_ship)
    for cust in picks[:n_pay]:
        add_order(cust, "created", NOW - rnd.randrange(31, 600) * MIN)
    for cust in picks[n_pay:]:
        created = NOW - 2 * DAY
        add_order(cust, "shipped", created, created + MIN, NOW - rnd.randrange(1, 600) * MIN)
    for cust in rnd.sample(range(1, customers + 1), customers // 100):
        add_order(cust, "refund_requested", NOW - 5 * DAY, NOW - 5 * DAY + MIN)
    conn.executemany(
        "INSERT INTO orders (id, key, shop_id, customer_id, status, total, created_at, paid_at, "
        "shipped_at, carrier, tracking_no, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        orders)
    conn.executemany("INSERT INTO order_items (order_id, product_id, quantity, price) "
                     "VALUES (?, ?, ?, ?)", items)
    convs = []
    # a tenth of the consultations come from customers who also have a reminder due
    for i, cust in enumerate(rnd.sample(range(1, customers + 1), n_nudge - n_nudge // 10)
                             + picks[:n_nudge // 10]):
        created = NOW - rnd.randrange(6, 30) * MIN  # after any unpaid order (31+ min)
        convs.append((i + 1, cust, created, created, f"p{i % 20}"))
    conn.executemany(
        "INSERT INTO conversations (id, shop_id, customer_id, state, created_at, "
        "last_message_at, product_key) VALUES (?, 1, ?, 'closed', ?, ?, ?)", convs)
    conn.executemany(
        "INSERT INTO messages (conversation_id, sender, body, created_at) "
        "VALUES (?, 'customer', '这个有货吗', ?)", ((c[0], c[2]) for c in convs))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return {"payment_reminder": n_pay, "order_nudge": n_nudge, "order_shipped": n_ship}


PLAIN = {
    "pay": ("SELECT o.id, o.customer_id FROM orders o JOIN customer_profiles p "
            "ON p.customer_id = o.customer_id AND p.shop_id = o.shop_id "
            "WHERE o.shop_id = 1 AND o.status = 'created' AND o.created_at BETWEEN ? AND ? "
            "AND p.opted_out_at IS NULL AND NOT EXISTS (SELECT 1 FROM orders r WHERE "
            "r.customer_id = o.customer_id AND r.shop_id = 1 AND r.status = 'refund_requested')",
            (NOW - 30 * MIN - DAY, NOW - 30 * MIN)),
    "nudge": ("SELECT c.id, c.customer_id FROM conversations c JOIN customer_profiles p "
              "ON p.customer_id = c.customer_id AND p.shop_id = c.shop_id "
              "WHERE c.shop_id = 1 AND c.created_at BETWEEN ? AND ? AND p.opted_out_at IS NULL "
              "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id "
              "AND o.shop_id = 1 AND o.created_at >= c.created_at) AND NOT EXISTS "
              "(SELECT 1 FROM orders r WHERE r.customer_id = c.customer_id AND r.shop_id = 1 "
              "AND r.status = 'refund_requested')",
              (NOW - 125 * MIN, NOW - 5 * MIN)),
    "ship": ("SELECT o.id, o.customer_id FROM orders o JOIN customer_profiles p "
             "ON p.customer_id = o.customer_id AND p.shop_id = o.shop_id "
             "WHERE o.shop_id = 1 AND o.status = 'shipped' AND o.shipped_at BETWEEN ? AND ? "
             "AND p.opted_out_at IS NULL AND NOT EXISTS (SELECT 1 FROM orders r WHERE "
             "r.customer_id = o.customer_id AND r.shop_id = 1 AND r.status = 'refund_requested')",
             (NOW - DAY, NOW)),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny size for the test suite")
    args = parser.parse_args(argv)
    customers, due = (20_000, 2_000) if args.quick else (1_000_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "campaigns.db"
        t0 = time.perf_counter()
        kinds = build(path, customers, due)
        print(f"customers: {customers:,}; due triggers: {due:,} "
              f"({', '.join(f'{k} {v:,}' for k, v in kinds.items())}); "
              f"built in {time.perf_counter() - t0:.1f} s")
        conn = sqlite3.connect(path)
        t0 = time.perf_counter()
        eligible = sum(len(conn.execute(sql, params).fetchall())
                       for sql, params in PLAIN.values())
        plain_s = time.perf_counter() - t0
        conn.close()
        b = LocalBackend(path, clock=FrozenClock(NOW))
        t0 = time.perf_counter()
        out = b.run_due_campaigns()
        pass_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = b.run_due_campaigns()
        idle_s = time.perf_counter() - t0
        b.close()
    decided = out["sent"] + out["holdout"] + out["undeliverable"] + sum(
        out["suppressed"].values())
    assert out["due"] == due == decided, out
    assert again["due"] == 0, again
    print(f"plain SQL selection of the eligible set: {plain_s:.2f} s ({eligible:,} rows)")
    print(f"run-due pass: {pass_s:.2f} s (goal <= 30 s): sent {out['sent']:,}, "
          f"held out {out['holdout']:,}, undeliverable (no chat) {out['undeliverable']:,}, "
          f"suppressed {out['suppressed']}")
    print(f"a second pass with nothing left: {idle_s:.2f} s")
    print(f"ratio (plain selection / pass): {plain_s / pass_s:.2f}; "
          f"triggers decided per second: {decided / pass_s:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
