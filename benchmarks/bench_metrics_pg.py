"""Service metrics on PostgreSQL: the mall of bench_metrics.py (100,000 conversations,
about 1,000,000 messages: a generated 双11 promotion day and the ordinary day before it)
built once in a SQLite file, moved to PostgreSQL with ``db copy`` (COPY, verified), and
the full report (``Backend.metrics_report``, total and by shop, agent, hour,
shop x channel x hour) timed on both engines in the same run: the ratio PostgreSQL /
SQLite, and the two engines' reports must agree figure by figure.

Goal: the full report over 1M messages <= 2 s on PostgreSQL.

Every run gets a fresh database in a throwaway cluster with PostgreSQL's durable defaults
(benchmarks/pg_cluster.py), or ``--db URL`` (an empty database).

    python benchmarks/bench_metrics_pg.py [--quick] [--conversations N] [--db URL]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import pg_cluster  # noqa: E402
from bench_metrics import _median_time, build  # noqa: E402

from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.services.store_copy import copy_store  # noqa: E402

BY = (None, "shop", "agent", "hour", "shop,channel,hour")
LABELS = {None: "total", "shop": "by shop", "agent": "by agent", "hour": "by hour",
          "shop,channel,hour": "by shop,channel,hour"}


def reports(db: str) -> tuple[float, dict, dict]:
    """(fold seconds, report seconds by ``by``, the reports) on ``db``."""
    b = LocalBackend(db)
    try:
        fold_s, _ = _median_time(b.metrics_rebuild, repeat=1)
        timings, out = {}, {}
        for by in BY:
            timings[by], out[by] = _median_time(lambda by=by: b.metrics_report(by=by))
    finally:
        b.close()
    return fold_s, timings, out


def main(argv: list[str] | None = None) -> int:
    """Build, copy, report on both engines, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny size for the test suite")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="an existing empty PostgreSQL database")
    args = parser.parse_args(argv)
    if args.quick:
        size = (1_500, 3, 8, 3_000)
    else:
        size = (args.conversations, 10, 60, 300_000)
    if not args.db and not pg_cluster.available():
        raise SystemExit("PostgreSQL (initdb, pg_ctl) is not installed; give --db URL")
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores shared)")
    with tempfile.TemporaryDirectory() as tmp, pg_cluster.database(args.db) as (url, _):
        path = str(Path(tmp) / "metrics.db")
        made = build(Path(path), *size)
        src, dst = LocalBackend(path), LocalBackend(url)
        try:
            t0 = time.perf_counter()
            copied = copy_store(src, dst)
            copy_s = time.perf_counter() - t0
        finally:
            src.close()
            dst.close()
        lite_fold, lite, lite_reports = reports(path)
        pg_fold, pg, pg_reports = reports(url)
    def figures(report: dict) -> str:  # as_of: the moment each report was made
        return json.dumps({k: v for k, v in report.items() if k != "as_of"},
                          sort_keys=True, default=str)

    differ = [by for by in BY if figures(pg_reports[by]) != figures(lite_reports[by])]
    print(f"conversations:            {made['conversations']:,} ({made['messages']:,} messages, "
          f"{made['events']:,} events)")
    print(f"db copy SQLite -> PostgreSQL: {copied['rows']:,} rows in {copy_s:.1f} s "
          f"({copied['rows'] / copy_s:,.0f} rows/s, verified)")
    print(f"fold every conversation:  PostgreSQL {pg_fold:.2f} s, SQLite {lite_fold:.2f} s")
    for by in BY:
        print(f"report {LABELS[by]:<22} PostgreSQL {pg[by]:.3f} s, SQLite {lite[by]:.3f} s, "
              f"ratio PostgreSQL/SQLite {pg[by] / lite[by]:.2f}")
    worst = max(pg.values())
    print(f"full report on PostgreSQL: {worst:.2f} s worst of the five (goal <= 2 s)")
    print(f"reports agree between the engines: "
          f"{'yes' if not differ else 'NO: ' + ', '.join(str(d) for d in differ)}")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
