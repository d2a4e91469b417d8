"""The server's CPU per customer post, in-process: PostgreSQL against SQLite.

What one ``cstool serve`` spends of its own CPU on a customer's message, without HTTP
and without the clients: the work of its storage thread (the token checked, the
``post_message`` policy and operation) for posts into open chats of known customers,
grouped into one transaction as the server groups them (``Database.group()`` on SQLite,
``Database.group(shared=True)``, the concurrent posts' group, on PostgreSQL, whose posts'
look-ups are read together first from the tokens' hints, as the server's posts' thread
does: ``DeskService.prefetch_posts``), run in this
process and timed with ``time.process_time`` (this process only: the PostgreSQL server's
own processes are not counted, the SQLite library's work is).

The machine is shared: each engine runs ``--blocks`` blocks of posts and the figure is
the least CPU a post of a block took (the block least disturbed), with the median
beside it. Every post must be stored, none twice (checked after the runs). Ratio:
PostgreSQL's CPU a post over SQLite's, measured in the same run.

Usage: python benchmarks/bench_post_cpu_pg.py [--quick] [--customers 16] [--rounds 5]
       [--blocks 10] [--group 8] [--db postgresql://…]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import pg_cluster  # noqa: E402
from bench_api import SHOP, prepare  # noqa: E402

from cstool.api.operations import BY_NAME  # noqa: E402
from cstool.auth import TokenStore  # noqa: E402
from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.server.access import Access  # noqa: E402
from cstool.server.app import _fill_defaults  # noqa: E402
from cstool.server.policies import POLICIES  # noqa: E402

POST = BY_NAME["post_message"]


def measure(db: str, *, shared: bool, customers: int, rounds: int, blocks: int,
            group: int) -> tuple[list[float], int, int]:
    """CPU milliseconds a post of each block on database ``db``; with the messages
    posted and the customers' messages stored (counted after the runs)."""
    tokens, _ = prepare(db, customers, 1)
    be = LocalBackend(db)
    store = TokenStore(be)
    policy = POLICIES[POST.right]
    posted = 0

    def post(token: str, i: int, n: int) -> None:
        nonlocal posted
        principal = store.authenticate(token)
        args = {"shop": SHOP, "text": f"亲，第{i}个问题：这件有M码吗？",
                "client_id": f"cpu{n}-{i}"}
        _fill_defaults(POST, args)
        policy(Access(principal, be, store, Path(tempfile.gettempdir())), POST, args)
        posted += 1

    def run(first: int, count: int) -> float:
        started, done = time.process_time(), 0
        for r in range(first, first + count):
            items = [(t, r, n) for n, t in enumerate(tokens)]
            for k in range(0, len(items), group):
                with be.database.group(shared=True) if shared else be.database.group():
                    if shared:  # the posts' look-ups read together, as the server does
                        hints = [store.customer_hint(t) for t, _, _ in items[k:k + group]]
                        be.ctx.desk.prefetch_posts([(*h, f"cpu{n}-{i}") for (h, (_, i, n))
                                                    in zip(hints, items[k:k + group],
                                                           strict=True) if h is not None])
                    for item in items[k:k + group]:
                        post(*item)
                done += len(items[k:k + group])
        return (time.process_time() - started) / done * 1000

    try:
        for n, t in enumerate(tokens):  # each customer's first post opens their chat
            with be.database.group():
                post(t, 0, n)
        run(1, 2)  # warm: caches, prepared statements
        figures = [run(10 + b * rounds, rounds) for b in range(blocks)]
        with be.database.read() as conn:
            stored = conn.execute(
                "SELECT COUNT(*) FROM messages WHERE sender = 'customer'").fetchone()[0]
            distinct = conn.execute(
                "SELECT COUNT(DISTINCT client_id) FROM messages WHERE sender = 'customer' "
                "AND client_id IS NOT NULL").fetchone()[0]
    finally:
        be.close()
    if stored != posted or distinct != posted:
        raise SystemExit(f"posted {posted}, stored {stored} ({distinct} client ids): lost "
                         "or doubled")
    return figures, posted, stored


def main() -> None:
    """Measure both engines and print the figures and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (the test suite's)")
    ap.add_argument("--customers", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None, help="posts per customer a block")
    ap.add_argument("--blocks", type=int, default=None)
    ap.add_argument("--group", type=int, default=8, help="posts per transaction")
    ap.add_argument("--db", help="an empty PostgreSQL database (else a throwaway cluster)")
    args = ap.parse_args()
    customers = args.customers or (4 if args.quick else 16)
    rounds = args.rounds or (2 if args.quick else 5)
    blocks = args.blocks or (2 if args.quick else 10)
    sizes = dict(customers=customers, rounds=rounds, blocks=blocks, group=args.group)
    print(f"{customers} customers with open chats, {rounds} posts each a block, {blocks} "
          f"blocks, {args.group} posts a transaction")
    with tempfile.TemporaryDirectory() as tmp:
        lite, posted, stored = measure(str(Path(tmp) / "cpu.db"), shared=False, **sizes)
    print(f"SQLite: {min(lite):.3f} ms CPU a post (median {statistics.median(lite):.3f}); "
          f"{posted} posted, {stored} stored")
    with pg_cluster.database(args.db) as (url, _):
        pg, posted, stored = measure(url, shared=True, **sizes)
    print(f"PostgreSQL: {min(pg):.3f} ms CPU a post (median {statistics.median(pg):.3f}); "
          f"{posted} posted, {stored} stored")
    print(f"ratio PostgreSQL / SQLite (CPU a post): {min(pg) / min(lite):.2f}")


if __name__ == "__main__":
    main()
