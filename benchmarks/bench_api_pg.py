"""API benchmark on PostgreSQL: `cstool serve` with one and with two server processes on
one database, beside the SQLite server and a raw psycopg insert of the same rows.

Customer messages per second with ``--clients`` concurrent clients (each a customer with
its own widget token, keep-alive connections, ``POST /v1/shops/{shop}/messages``; the
clients and the loop are ``bench_api.py``'s), with p50/p99 latency:

1. ``cstool serve --db postgresql://…``, one process;
2. two ``cstool serve`` processes on different ports on the same database, the clients
   spread over both (client n talks to server n mod 2), as behind a balancer;
3. ``cstool serve`` on a SQLite file (today's default, the figure of bench_api.py);
4. raw psycopg: the same rows (the message and its event) inserted by as many
   connections as there are clients, one transaction per message, no HTTP, no cstool:
   what the cluster itself takes here.

5. the pool of one process (``pool_size``): threads of one process posting and reading
   (the queue, an agent's desk) through one backend, with a pool of one connection (every
   transaction waits for the one before, as before the pool) and with the default pool.

Ratios: two processes over one (goal >= 1.5), PostgreSQL over SQLite, cstool over the
raw inserts, and the pool over one connection. Goals: >= 2,000 messages/s with p99 <= 50
ms on PostgreSQL. Beside each server's p99, the p99 without each client's first post: a
customer's first message opens their chat (a new chat is routed under the database's
write lock, which every concurrent post waits for), the rest go into the open chat.

Every PostgreSQL run gets a fresh database in a throwaway cluster with PostgreSQL's
durable defaults (benchmarks/pg_cluster.py), or ``--db URL`` (an empty database: the
benchmark makes and drops its own databases only in its own cluster).

Usage: python benchmarks/bench_api_pg.py [--quick] [--clients 50] [--requests 100]
       [--db postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import pg_cluster  # noqa: E402
from bench_api import SHOP, Conn, pct, prepare, start, stop  # noqa: E402

from cstool.storage.pg_engine import DEFAULT_POOL_SIZE  # noqa: E402


async def load_spread(ports: list[int], tokens: list[str], requests: int,
                      later: list[float] | None = None) -> tuple[float, list[float], int]:
    """bench_api.load over several servers: client n posts to ``ports[n % len(ports)]``;
    ``later`` (if given) gets the latencies of every client's posts but its first."""
    latencies: list[float] = []
    errors = 0

    async def client(n: int, token: str) -> None:
        nonlocal errors
        conn = await Conn.open(ports[n % len(ports)])
        try:
            for i in range(requests):
                body = json.dumps({"text": f"亲，第{i}个问题：这件有M码吗？",
                                   "client_id": f"b{n}-{i}"}, ensure_ascii=False).encode()
                t0 = time.perf_counter()
                status, _ = await conn.request("POST", f"/v1/shops/{SHOP}/messages", token, body)
                latencies.append(time.perf_counter() - t0)
                if later is not None and i > 0:
                    later.append(latencies[-1])
                if status not in (200, 201):
                    errors += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n, t) for n, t in enumerate(tokens)))
    return time.perf_counter() - started, latencies, errors


def run_servers(db: str, processes: int, clients: int, requests: int) -> dict:
    """Prepare ``db``, start ``processes`` servers on it, post, stop; the figures."""
    tokens, _ = prepare(db, clients, 1)
    procs = [start("real", db) for _ in range(processes)]
    try:
        ports = [port for _, port in procs]
        # warm every server (first statements, caches), then measure
        asyncio.run(load_spread(ports, tokens[:len(ports) * 2], 2))
        later: list[float] = []
        seconds, lat, errors = asyncio.run(load_spread(ports, tokens, requests, later))
    finally:
        for proc, _ in procs:
            stop(proc)
    stored = count_messages(db)
    return {"rate": len(lat) / seconds, "p50": pct(lat, 50), "p99": pct(lat, 99),
            "n": len(lat), "errors": errors, "stored": stored,
            "p99_later": pct(later, 99) if later else None}


def count_messages(db: str) -> int:
    """Customer messages stored (every acknowledged post must be there once)."""
    from cstool.storage import open_database

    database = open_database(db, 0)
    try:
        with database.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM messages WHERE sender = 'customer'"
                                ).fetchone()[0]
    finally:
        database.close()


def raw_inserts(url: str, clients: int, requests: int) -> dict:
    """The same rows through bare psycopg: ``clients`` connections (threads), each
    inserting ``requests`` messages, one transaction (message + event) each."""
    import psycopg

    from cstool.storage import open_database

    open_database(url, 0).close()  # the schema
    setup = psycopg.connect(url, autocommit=True)
    shop = setup.execute("INSERT INTO shops (key, name, created_at, updated_at) VALUES "
                         "('raw', '店', 0, 0) RETURNING id").fetchone()[0]
    cust = setup.execute("INSERT INTO customers (key, name, created_at, updated_at) VALUES "
                         "('raw', '客', 0, 0) RETURNING id").fetchone()[0]
    conv = setup.execute("INSERT INTO conversations (shop_id, customer_id, state, "
                         "created_at, last_message_at) VALUES (%s, %s, 'queued', 0, 0) "
                         "RETURNING id", (shop, cust)).fetchone()[0]
    setup.close()
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        conn = psycopg.connect(url)
        mine = []
        barrier.wait()
        for i in range(requests):
            t0 = time.perf_counter()
            with conn.transaction():
                mid = conn.execute(
                    "INSERT INTO messages (conversation_id, sender, kind, body, client_id, "
                    "created_at) VALUES (%s, 'customer', 'text', %s, %s, %s) RETURNING id",
                    (conv, f"亲，第{i}个问题：这件有M码吗？", f"r{n}-{i}", i)).fetchone()[0]
                conn.execute(
                    "INSERT INTO events (at, shop_id, type, entity, entity_key, payload) "
                    "VALUES (%s, %s, 'message.created', 'message', %s, %s)",
                    (i, shop, str(mid), json.dumps({"conversation": conv})))
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"rate": len(latencies) / seconds, "p50": pct(latencies, 50),
            "p99": pct(latencies, 99), "n": len(latencies), "errors": 0,
            "stored": len(latencies)}


def pool_run(url: str, size: int, threads: int, ops: int) -> dict:
    """``threads`` threads of this process on one backend with a pool of ``size``: half
    post messages, half read (the queue and an agent's desk); operations per second."""
    from cstool.backend.local import LocalBackend

    sep = "&" if "?" in url else "?"
    be = LocalBackend(f"{url}{sep}pool_size={size}")
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def worker(n: int) -> None:
        mine = []
        barrier.wait()
        for i in range(ops):
            t0 = time.perf_counter()
            if n % 2:
                be.post_message(SHOP, f"p{size}-{n}-{i % 5}", f"第{i}个问题",
                                client_id=f"p{size}-{n}-{i}")
            elif i % 2:
                be.queue(SHOP, limit=20)
            else:
                be.agent_desk("a0")
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    try:
        pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        for t in pool:
            t.join()
        seconds = time.perf_counter() - started
    finally:
        be.close()
    return {"rate": len(latencies) / seconds, "p50": pct(latencies, 50),
            "p99": pct(latencies, 99), "n": len(latencies), "errors": 0,
            "stored": len(latencies)}


def _line(name: str, r: dict) -> str:
    later = "" if r.get("p99_later") is None else \
        f"; p99 {r['p99_later']:.1f} ms without each client's first post"
    return (f"    {name}: {r['rate']:,.0f} messages/s; p50 {r['p50']:.1f} ms, "
            f"p99 {r['p99']:.1f} ms ({r['n']:,} posted, {r['stored']:,} stored, "
            f"{r['errors']} errors){later}")


def main() -> None:
    """Run the four and print the figures and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (the test suite's)")
    ap.add_argument("--clients", type=int, default=None)
    ap.add_argument("--requests", type=int, default=None, help="messages per client")
    ap.add_argument("--db", default=None, help="an existing empty PostgreSQL database")
    args = ap.parse_args()
    clients = args.clients or (8 if args.quick else 50)
    requests = args.requests or (5 if args.quick else 100)
    if not args.db and not pg_cluster.available():
        raise SystemExit("PostgreSQL (initdb, pg_ctl) is not installed; give --db URL")
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} (2 cores shared)")
    results: dict[str, dict] = {}
    with pg_cluster.database(args.db) as (url, cluster):
        def fresh() -> str:
            return cluster.database() if cluster is not None else url

        results["pg1"] = run_servers(url, 1, clients, requests)
        if cluster is not None:
            results["pg2"] = run_servers(fresh(), 2, clients, requests)
            results["raw"] = raw_inserts(fresh(), clients, requests)
            pooled = fresh()
            prepare(pooled, 10, 1)
            threads = 4 if args.quick else 8
            ops = 5 if args.quick else 40
            results["pool1"] = pool_run(pooled, 1, threads, ops)
            results["pool"] = pool_run(pooled, DEFAULT_POOL_SIZE, threads, ops)
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run_servers(str(Path(tmp) / "bench.db"), 1, clients, requests)
    print(f"{clients} clients x {requests} customer messages over HTTP, client on this machine")
    print(_line("PostgreSQL, 1 cstool serve", results["pg1"]))
    if "pg2" in results:
        print(_line("PostgreSQL, 2 cstool serve on one database", results["pg2"]))
    print(_line("SQLite file, 1 cstool serve", results["sqlite"]))
    if "raw" in results:
        print(_line("raw psycopg inserts (message + event per transaction, no HTTP)",
                    results["raw"]))
    pg1 = results["pg1"]["rate"]
    if "pg2" in results:
        print(f"    ratio 2 processes / 1: {results['pg2']['rate'] / pg1:.2f} (goal >= 1.5)")
    print(f"    ratio PostgreSQL / SQLite (1 process): {pg1 / results['sqlite']['rate']:.2f}")
    if "raw" in results:
        print(f"    ratio cstool serve / raw psycopg: {pg1 / results['raw']['rate']:.2f}")
    print("    goal on PostgreSQL: >= 2,000 messages/s, p99 <= 50 ms")
    if "pool" in results:
        print("threads of one process on one backend, half posting, half reading:")
        print(_line("pool of 1 connection", results["pool1"]).replace("messages/s",
                                                                     "operations/s"))
        print(_line(f"pool of {DEFAULT_POOL_SIZE} connections (the default)", results["pool"])
              .replace("messages/s", "operations/s"))
        print(f"    ratio pool / one connection: "
              f"{results['pool']['rate'] / results['pool1']['rate']:.2f}")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    bad = [k for k, r in results.items() if r["errors"] or r["stored"] < r["n"]]
    if bad:
        print(f"errors or lost messages in: {', '.join(bad)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
