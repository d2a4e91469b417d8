"""Tenancy benchmark: a long queue in one shop costs that shop's posts nothing extra,
and slows no other shop.

(a) Posting and accepting through the Local backend with 0, 1,000, 10,000 and 50,000
    chats queued in one shop (several pools and priorities; every post queues: the
    shop's agents are busy, so routing gives them nothing and they may still pull).
    Per size: the cost of a post (a new customer's chat queued at the back, its place
    computed and told), of an accept-next (the agent pulls the best chat they may serve),
    of the first page of the queue (50 chats with places) and of one chat's place in
    the middle of the queue (these two reads: the best of five each round). The
    baseline: the same calls, in the same rounds, in a calm
    shop set up alike whose queue is kept empty; ratios are the median of the per-round
    ratios. Goal: a post at 50,000 queued <= 1.5x a post into the empty queue.
(b) Through a real server (`cstool serve`, uvicorn on 127.0.0.1, its own process): a
    quiet shop's customer messages per second and p99 with its clients alone, then again
    while a busy shop with 50,000 queued chats is posted to by five customers at once
    (each as fast as the server answers) and a supervisor pages through its queue (100
    chats a page, the next page 0.2 s after each answer). Alone and beside are measured
    in eight short windows each, in turn. Ratio beside / alone. Goal: >= 0.8.

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

BUSY, CALM, QUIET = "busy", "calm", "quiet"
PAGE_EVERY_S = 0.2
WINDOWS = 8  # (b): alone and beside in turn, this many times each
POOLS = [None, '{"group": "b-pre"}', '{"group": "b-log"}', '{"group": "b-vip"}']


def setup(db: str, *, quiet_clients: int = 0) -> None:
    """Three shops. The busy one and the calm one alike: groups, rules by words and
    priority, agents who are busy (routing gives them nothing; they may pull); the busy
    one gets the long queue, the calm one keeps its queue empty (the baseline). The quiet
    one: online agents enough for every chat."""
    from cstool.backend.local import LocalBackend

    def desk(shop: str, tag: str) -> dict:
        return {
            "groups": [{"key": f"{tag}-{g}", "shop": shop, "name": g}
                       for g in ("pre", "log", "vip")],
            "agents": [{"handle": f"{tag}{i}", "name": f"{shop}{i}", "shops": [shop],
                        "status": "busy", "max_chats": 50,
                        "groups": [f"{tag}-{('pre', 'log', 'vip')[i % 3]}"]} for i in range(6)],
            "routing_rules": [
                {"key": f"{tag}-vip", "shop": shop, "target": {"group": f"{tag}-vip"},
                 "priority": 5,
                 "conditions": {"field": "message.text", "op": "contains", "value": "会员"}},
                {"key": f"{tag}-ship", "shop": shop, "target": {"group": f"{tag}-log"},
                 "priority": 1,
                 "conditions": {"field": "message.text", "op": "contains", "value": "快递"}},
                {"key": f"{tag}-rest", "shop": shop, "target": {"group": f"{tag}-pre"}},
            ],
        }

    be = LocalBackend(db)
    try:
        busy, calm = desk(BUSY, "b"), desk(CALM, "c")
        be.apply({
            "shops": [{"key": BUSY, "name": "爆单旗舰店"}, {"key": CALM, "name": "平静小店"},
                      {"key": QUIET, "name": "安静小店"}],
            "groups": busy["groups"] + calm["groups"],
            "agents": busy["agents"] + calm["agents"] + [
                {"handle": f"q{i}", "name": f"闲{i}", "shops": [QUIET], "status": "online",
                 "max_chats": 50} for i in range(max(1, quiet_clients // 5))],
            "routing_rules": busy["routing_rules"] + calm["routing_rules"],
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
    """Per size: median per-call cost (ms) of a post, an accept, a first page and a
    middle place in the busy shop, beside the same calls in the calm shop (its queue
    kept empty) made in the same rounds, and the median of the per-round ratios (the
    machine's load drifts; the two are measured side by side)."""
    from cstool.backend.local import LocalBackend

    out: dict = {"post_ms": [], "accept_ms": [], "page_ms": [], "place_ms": [],
                 "page_size": posts // 2}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "a.db")
        setup(db)
        have = 0
        serial = 0
        for size in sizes:
            have = seed(db, size, have)
            be = LocalBackend(db)
            times: dict = {(k, s): [] for k in ("post", "accept", "page", "place")
                           for s in (BUSY, CALM)}
            try:
                for r in range(rounds):
                    for shop, tag in ((BUSY, "b"), (CALM, "c"))[::1 if r % 2 else -1]:
                        t0 = time.perf_counter()
                        mine = []
                        for i in range(posts):
                            serial += 1
                            mine.append(be.post_message(shop, f"new{serial}",
                                                        TEXTS[i % len(TEXTS)]))
                        times["post", shop].append((time.perf_counter() - t0) / posts)
                        t0 = time.perf_counter()
                        taken = [be.accept_next(f"{tag}{(r + i) % 6}")
                                 for i in range(posts // 4)]
                        times["accept", shop].append(
                            (time.perf_counter() - t0) / max(1, posts // 4))
                        best = float("inf")  # short reads: the best of five (less noise)
                        for _ in range(5):  # pages as full in both shops
                            t0 = time.perf_counter()
                            page = be.queue(shop, limit=posts // 2)
                            best = min(best, time.perf_counter() - t0)
                        times["page", shop].append(best)
                        mid_id = (_middle_id(db, size) if shop == BUSY and size
                                  else page[len(page) // 2]["id"])
                        best = float("inf")
                        for _ in range(5):
                            t0 = time.perf_counter()
                            middle = be.get_conversation(mid_id, messages=False)
                            best = min(best, time.perf_counter() - t0)
                        times["place", shop].append(best)
                        assert middle["queue_position"] is not None
                        # not timed: the accepted chats closed; the calm shop's queue
                        # emptied again (the busy one keeps its length)
                        gone = {c["id"] for c in taken if c is not None}
                        for c in taken:
                            if c is not None:
                                be.close_conversation(c["id"])
                        if shop == CALM:
                            for m in mine:
                                if m["conversation"]["id"] not in gone:
                                    be.close_conversation(m["conversation"]["id"])
            finally:
                be.close()
            for k in ("post", "accept", "page", "place"):
                busy, calm = times[k, BUSY], times[k, CALM]
                out[f"{k}_ms"].append({
                    "queued": size, "ms": statistics.median(busy) * 1000,
                    "empty_ms": statistics.median(calm) * 1000,
                    "ratio": statistics.median(b / c for b, c in zip(busy, calm,
                                                                     strict=True))})
    for k in ("post", "accept", "page", "place"):
        out[f"{k}_ratio"] = out[f"{k}_ms"][-1]["ratio"]
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
        lat_alone: list[float] = []
        lat_busy: list[float] = []
        n_alone = n_busy = 0
        counts = {"posts": 0, "pages": 0}
        try:
            asyncio.run(_quiet_load(port, quiet[:5], 0.5))  # warm up
            # short windows in turn, alone and beside, so that the machine's drifting load
            # falls on both alike
            for _ in range(WINDOWS):
                n, lat = asyncio.run(_quiet_load(port, quiet, seconds / WINDOWS))
                n_alone, lat_alone = n_alone + n, lat_alone + lat
                n, lat, c = asyncio.run(
                    _quiet_beside_busy(port, quiet, busy, supervisor, seconds / WINDOWS))
                n_busy, lat_busy = n_busy + n, lat_busy + lat
                counts = {k: counts[k] + c[k] for k in counts}
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
        print("(a) the busy shop's own costs by chats queued, beside the calm shop's with an "
              "empty queue in the same rounds (median ms per call, Local backend):")
        print(f"    queued    post (empty)  ratio    accept (empty)  ratio    page of "
              f"{a['page_size']} (empty)  ratio    middle place (empty)  ratio")
        for row in zip(a["post_ms"], a["accept_ms"], a["page_ms"], a["place_ms"],
                       strict=True):
            cells = "  ".join(f"{r['ms']:>7.2f} ({r['empty_ms']:>6.2f}) {r['ratio']:>5.2f}x"
                              for r in row)
            print(f"    {row[0]['queued']:>6,}  {cells}")
        print(f"    at {sizes[-1]:,} queued, to the empty queue: post {a['post_ratio']:.2f}x "
              f"(goal <= 1.5x), accept {a['accept_ratio']:.2f}x, page "
              f"{a['page_ratio']:.2f}x, middle place {a['place_ratio']:.2f}x")
    if args.part in ("b", "all"):
        queued = 5_000 if quick else 50_000
        b = part_b(queued, quiet_clients=20 if quick else 50, busy_clients=5,
                   seconds=2.0 if quick else 8.0)
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
