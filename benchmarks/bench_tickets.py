"""The worker's SLA scan over 1,000,000 tickets, beside a plain SQL selection of the same
due tickets (no stored next instant, so a scan of the open tickets), in the same run.

Tickets are written straight into the file (setup, not measured) with their deadlines
and next SLA instants as cstool stores them; about 1,000 are due for a warning or an
escalation. Goal: one scan (acting on those due: timeline entries, events, escalations)
<= 2 s here.

    python benchmarks/bench_tickets.py [--quick]
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

NOW = 1_795_000_000_000
MIN = 60_000


def build(path: Path, n: int, due: int) -> None:
    """``n`` open tickets; ``due`` of them past a warning or breach instant at NOW."""
    b = LocalBackend(path, clock=FrozenClock(NOW))
    b.apply({"shops": [{"key": "s", "name": "压测店"}],
             "agents": [{"handle": "a", "name": "客服", "shops": ["s"]},
                        {"handle": "boss", "name": "主管", "role": "supervisor",
                         "shops": ["s"]}]})
    b.close()
    rnd = random.Random(5)
    due_ids = set(rnd.sample(range(n), due))
    rows = []
    for i in range(n):
        created = NOW - rnd.randrange(60, 600) * MIN if i in due_ids else NOW - rnd.randrange(
            1, 20) * MIN
        first_due, res_due = created + 60 * MIN, created + 480 * MIN
        first_warn, res_warn = created + 48 * MIN, created + 384 * MIN
        nxt = first_warn
        rows.append((1, "complaint", "P2", "open", f"工单{i}", 60, 480, "business", 0.8,
                     "notify", created, created, first_due, res_due, first_warn, res_warn, nxt))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO tickets (shop_id, type, priority, status, title, first_response_min, "
        "resolution_min, sla_clock, warn_share, on_breach, created_at, updated_at, "
        "first_response_due, resolution_due, first_warn_due, resolution_warn_due, next_sla_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()


PLAIN = ("SELECT id FROM tickets WHERE status IN ('new', 'open', 'waiting_third_party') AND ("
         "(first_responded_at IS NULL AND ((warned_first_at IS NULL AND first_warn_due <= ?) "
         "OR (breached_first_at IS NULL AND first_response_due <= ?))) OR "
         "(resolved_at IS NULL AND ((warned_resolution_at IS NULL AND resolution_warn_due <= ?) "
         "OR (breached_resolution_at IS NULL AND resolution_due <= ?))))")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny size for the test suite")
    args = parser.parse_args(argv)
    n, due = (20_000, 50) if args.quick else (1_000_000, 1_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tickets.db"
        t0 = time.perf_counter()
        build(path, n, due)
        print(f"tickets: {n:,} open, {due:,} due (built in {time.perf_counter() - t0:.1f} s)")
        conn = sqlite3.connect(path)
        t0 = time.perf_counter()
        plain = conn.execute(PLAIN, (NOW, NOW, NOW, NOW)).fetchall()
        plain_s = time.perf_counter() - t0
        conn.close()
        b = LocalBackend(path, clock=FrozenClock(NOW))
        t0 = time.perf_counter()
        done = b.sla_scan()
        scan_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = b.sla_scan()
        idle_s = time.perf_counter() - t0
        b.close()
    acted = {d["ticket"] for d in done}
    assert len(acted) == len(plain) == due, (len(acted), len(plain), due)
    assert again == []
    print(f"plain SQL selection of the due tickets: {plain_s * 1000:.0f} ms ({len(plain):,})")
    print(f"sla scan (select + act on {len(done):,} warnings/escalations): "
          f"{scan_s * 1000:.0f} ms (goal <= 2000 ms)")
    print(f"sla scan with nothing due: {idle_s * 1000:.1f} ms")
    print(f"ratio (plain selection / scan): {plain_s / scan_s:.2f}; "
          f"(plain selection / idle scan): {plain_s / idle_s:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
