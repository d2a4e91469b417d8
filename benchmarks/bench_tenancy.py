"""Tenancy benchmark: a long queue in one shop costs that shop's posts nothing extra,
and slows no other shop.

(a) Posting and accepting through the Local backend with 0, 1,000, 10,000 and 50,000
    chats queued in one shop (several pools and priorities; every post queues: the
    shop's agents are busy, so routing gives them nothing and they may still pull).
    Per size: the cost of a post (a new customer's chat queued at the back, its place
    computed and told), of an accept-next (the agent pulls the best chat they may serve),
    of the first page of the queue (100 chats with places) and of one chat's place in
    the middle of the queue. Ratios against the empty queue, measured in the same run.
    Goal: a post at 50,000 queued <= 1.5x a post into the empty queue.
(b) Through a real server (`cstool serve`, uvicorn on 127.0.0.1, its own process): a
    quiet shop's customer messages per second and p99 with its clients alone, then again
    while a busy shop with 50,000 queued chats is posted to by five customers at once
    (each as fast as the server answers) and a supervisor pages through its queue (100
    chats a page, the next page 0.2 s after each answer). Ratio busy / alone.
    Goal: >= 0.8.

Seeding writes the queued chats straight into the file (one transaction; the queue's
counts follow through their triggers), so 50,000 take about a second.

Usage: python benchmarks/bench_tenancy.py [--quick] [--part a|b|all] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_api import Conn, pct, start, stop  # noqa: E402

BUSY, QUIET = "busy", "quiet"
PAGE_EVERY_S = 0.2
POOLS = [None, '{"group": "pre"}', '{"group": "log"}', '{"group": "vip"}']


def setup(db: str, *, quiet_clients: int = 0) -> None:
    """Two shops. The busy one: groups, rules by words and priority, agents who are busy
    (routing gives them nothing; they may pull). The quiet one: online agents enough for
    every chat."""
    from cstool.backend.local import LocalBackend

    be = LocalBackend(db)
    try:
        be.apply({
            "shops": [{"key": BUSY, "name": "爆单旗舰店"}, {"key": QUIET, "name": "安静小店"}],
            "groups": [{"key": g, "shop": BUSY, "name": g} for g in ("pre", "log", "vip")],
            "agents": [
                *({"handle": f"b{i}", "name": f"忙{i}", "shops": [BUSY], "status": "busy",
                   "max_chats": 50, "groups": [("pre", "log", "vip")[i % 3]]}
                  for i in range(6)),
                *({"handle": f"q{i}", "name": f"闲{i}", "shops": [QUIET], "status": "online",
                   "max_chats": 50} for i in range(max(1, quiet_clients // 5))),
            ],
            "routing_rules": [
                {"key": "vip", "shop": BUSY, "target": {"group": "vip"}, "priority": 5,
                 "conditions": {"field": "message.text", "op": "contains", "value": "会员"}},
                {"key": "ship", "shop": BUSY, "target": {"group": "log"}, "priority": 1,
                 "conditions": {"field": "message.text", "op": "contains", "value": "快递"}},
                {"key": "rest", "shop": BUSY, "target": {"group": "pre"}},
            ],
        })
    finally:
        be.close()


def seed(db: str, upto: int, have: int) -> int:
    """Queue chats in the busy shop until ``upto`` wait (written straight to the file in
    one transaction, as a bulk load would). Returns the number waiting."""
    import sqlite3

    if upto <= have:
        return have
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        shop_id = conn.execute("SELECT id FROM shops WHERE key = ?", (BUSY,)).fetchone()[0]
        first = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM customers").fetchone()[0]
        n = upto - have
        ids = range(first, first + n)
        t0 = int(time.time() * 1000) - 3_600_000 - n  # waiting for up to an hour
        conn.executemany(
            "INSERT INTO customers (id, key, name, created_at, updated_at) "
            "VALUES (?, ?, '排队客', ?, ?)", ((i, f"seed{i}", t0, t0) for i in ids))
        conn.executemany(
            "INSERT INTO conversations (shop_id, customer_id, channel, state, pool, priority, "
            "created_at, queued_at, handoff_at, last_message_at, last_customer_at) "
            "VALUES (?, ?, 'app', 'queued', ?, ?, ?, ?, ?, ?, ?)",
            ((shop_id, i, POOLS[i % 4], (0, 0, 1, 5)[i % 4], t, t, t, t, t)
             for i in ids for t in (t0 + i - first,)))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return upto


# -- (a) one shop's own costs --------------------------------------------------------------
TEXTS = ["你好，这件有M码吗？", "我的快递到哪了", "会员价多少", "在吗"]


def part_a(sizes: list[int], posts: int, rounds: int) -> dict:
    """Per size: median per-call cost of post, accept, first page, middle place (ms)."""
    from cstool.backend.local import LocalBackend

    out = {"post_ms": [], "accept_ms": [], "page_ms": [], "place_ms": []}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "a.db")
        setup(db)
        have = 0
        serial = 0
        for size in sizes:
            have = seed(db, size, have)
            be = LocalBackend(db)
            post_t, accept_t, page_t, place_t = [], [], [], []
            try:
                middle = be.queue(BUSY, limit=1, after=None)
                for r in range(rounds):
                    t0 = time.perf_counter()
                    for i in range(posts):
                        serial += 1
                        be.post_message(BUSY, f"new{serial}", TEXTS[i % len(TEXTS)])
                    post_t.append((time.perf_counter() - t0) / posts)
                    taken = []
                    t0 = time.perf_counter()
                    for i in range(posts // 4):
                        taken.append(be.accept_next(f"b{(r + i) % 6}"))
                    accept_t.append((time.perf_counter() - t0) / max(1, posts // 4))
                    for c in taken:  # closed again, not timed: the queue keeps its length
                        if c is not None:
                            be.close_conversation(c["id"])
                    t0 = time.perf_counter()
                    for _ in range(5):
                        be.queue(BUSY, limit=100)
                    page_t.append((time.perf_counter() - t0) / 5)
                    if size:
                        mid_id = _middle_id(db, size)
                        t0 = time.perf_counter()
                        for _ in range(5):
                            middle = be.get_conversation(mid_id, messages=False)
                        place_t.append((time.perf_counter() - t0) / 5)
                assert not size or middle["queue_position"] is not None
            finally:
                be.close()
            for name, values in (("post_ms", post_t), ("accept_ms", accept_t),
                                 ("page_ms", page_t), ("place_ms", place_t)):
                if values:
                    out[name].append({"queued": size,
                                      "ms": statistics.median(values) * 1000})
    for name in ("post", "accept", "page"):
        base = out[f"{name}_ms"][0]["ms"]
        out[f"{name}_ratio"] = out[f"{name}_ms"][-1]["ms"] / base
    return out


def _middle_id(db: str, size: int) -> int:
    """A seeded chat about halfway down its band (a place counted from neither end)."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT id FROM conversations WHERE state = 'queued' AND pool = ? "
            "ORDER BY id LIMIT 1 OFFSET ?", (POOLS[1], size // 8)).fetchone()[0]


# -- (b) another shop through a real server ------------------------------------------------
async def _quiet_load(port: int, tokens: list[str], seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def client(n: int, token: str) -> None:
        conn = await Conn.open(port)
        i = 0
        try:
            while time.perf_counter() < stop_at:
                i += 1
                body = json.dumps({"text": f"第{i}个问题：有现货吗？"},
                                  ensure_ascii=False).encode()
                t0 = time.perf_counter()
                status, _ = await conn.request("POST", f"/v1/shops/{QUIET}/messages", token,
                                               body)
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    raise SystemExit(f"quiet shop answered {status}")
        finally:
            conn.close()

    await asyncio.gather(*(client(n, t) for n, t in enumerate(tokens)))
    return len(latencies), latencies


async def _busy_load(port: int, tokens: list[str], supervisor: str, stop: asyncio.Event,
                     counts: dict) -> None:
    async def poster(n: int, token: str) -> None:
        conn = await Conn.open(port)
        i = 0
        try:
            while not stop.is_set():
                i += 1
                body = json.dumps({"text": TEXTS[i % len(TEXTS)]}, ensure_ascii=False).encode()
                status, _ = await conn.request("POST", f"/v1/shops/{BUSY}/messages", token, body)
                counts["posts"] += 1
                if status != 200:
                    raise SystemExit(f"busy shop answered {status}")
        finally:
            conn.close()

    async def pager() -> None:
        conn = await Conn.open(port)
        after = None
        try:
            while not stop.is_set():
                path = f"/v1/shops/{BUSY}/queue?limit=100" + (f"&after={after}" if after else "")
                status, body = await conn.request("GET", path, supervisor)
                if status != 200:
                    raise SystemExit(f"queue page answered {status}: {body[:200]!r}")
                after = json.loads(body)["next"]
                counts["pages"] += 1
                await asyncio.sleep(PAGE_EVERY_S)  # a supervisor reads, then pages on
        finally:
            conn.close()

    await asyncio.gather(*(poster(n, t) for n, t in enumerate(tokens)), pager())


async def _quiet_beside_busy(port, quiet, busy, supervisor, seconds) -> tuple:
    stop_flag = asyncio.Event()
    counts = {"posts": 0, "pages": 0}
    busy_task = asyncio.create_task(_busy_load(port, busy, supervisor, stop_flag, counts))
    await asyncio.sleep(0.3)
    try:
        n, lat = await _quiet_load(port, quiet, seconds)
    finally:
        stop_flag.set()
        await busy_task
    return n, lat, counts


def part_b(queued: int, quiet_clients: int, busy_clients: int, seconds: float) -> dict:
    """The quiet shop alone, then beside the busy one; rates, p99, the ratio."""
    from cstool.auth import TokenStore
    from cstool.backend.local import LocalBackend

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "b.db")
        setup(db, quiet_clients=quiet_clients)
        seed(db, queued, 0)
        be = LocalBackend(db)
        try:
            be.apply({"agents": [{"handle": "sup", "name": "主管", "role": "supervisor",
                                  "shops": [BUSY]}]})
            store = TokenStore(be)
            quiet = [store.create_customer_token(QUIET, f"qc{i}")["token"]
                     for i in range(quiet_clients)]
            busy = [store.create_customer_token(BUSY, f"bc{i}")["token"]
                    for i in range(busy_clients)]
            supervisor = store.create_token("sup")["token"]
        finally:
            be.close()
        proc, port = start("real", db)
        try:
            asyncio.run(_quiet_load(port, quiet[:5], 0.5))  # warm up
            n_alone, lat_alone = asyncio.run(_quiet_load(port, quiet, seconds))
            n_busy, lat_busy, counts = asyncio.run(
                _quiet_beside_busy(port, quiet, busy, supervisor, seconds))
        finally:
            stop(proc)
    alone, beside = n_alone / seconds, n_busy / seconds
    return {"queued": queued, "other_shop_alone_per_s": alone,
            "other_shop_alone_p99_ms": pct(lat_alone, 99), "other_shop_busy_per_s": beside,
            "other_shop_p99_ms": pct(lat_busy, 99), "other_shop_ratio": beside / alone,
            "busy_posts_per_s": counts["posts"] / seconds,
            "busy_pages_per_s": counts["pages"] / seconds,
            "quiet_clients": quiet_clients, "busy_clients": busy_clients}


def main() -> None:
    """Run (a) and (b) and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (the test suite's)")
    ap.add_argument("--part", choices=("a", "b", "all"), default="all")
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = ap.parse_args()
    quick = args.quick
    figures: dict = {}
    if args.part in ("a", "all"):
        sizes = [0, 500, 2_000] if quick else [0, 1_000, 10_000, 50_000]
        a = part_a(sizes, posts=20 if quick else 100, rounds=2 if quick else 5)
        figures.update(a)
        print("(a) one shop's own costs by chats queued (median per call, Local backend):")
        print("    queued   post ms  accept ms  page(100) ms  middle place ms")
        place = {r["queued"]: r["ms"] for r in a["place_ms"]}
        for p, ac, pg in zip(a["post_ms"], a["accept_ms"], a["page_ms"], strict=True):
            mid = place.get(p["queued"])
            print(f"    {p['queued']:>6,}  {p['ms']:>8.3f}  {ac['ms']:>9.3f}  {pg['ms']:>12.2f}"
                  f"  {'' if mid is None else f'{mid:>15.3f}'}")
        print(f"    ratio at {sizes[-1]:,} queued to the empty queue: post "
              f"{a['post_ratio']:.2f}x (goal <= 1.5x), accept {a['accept_ratio']:.2f}x, "
              f"page {a['page_ratio']:.2f}x")
    if args.part in ("b", "all"):
        queued = 5_000 if quick else 50_000
        b = part_b(queued, quiet_clients=20 if quick else 50, busy_clients=5,
                   seconds=1.5 if quick else 6.0)
        figures.update(b)
        print(f"(b) through `cstool serve`: the quiet shop's {b['quiet_clients']} customers "
              f"posting, alone and beside a busy shop with {queued:,} queued "
              f"({b['busy_clients']} customers posting into it, a supervisor paging its "
              f"queue):")
        print(f"    alone: {b['other_shop_alone_per_s']:,.0f} messages/s, "
              f"p99 {b['other_shop_alone_p99_ms']:.1f} ms")
        print(f"    beside the busy shop: {b['other_shop_busy_per_s']:,.0f} messages/s, "
              f"p99 {b['other_shop_p99_ms']:.1f} ms (busy shop meanwhile: "
              f"{b['busy_posts_per_s']:,.0f} posts/s, {b['busy_pages_per_s']:,.0f} queue "
              f"pages/s)")
        print(f"    ratio {b['other_shop_ratio']:.2f} (goal >= 0.8)")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
