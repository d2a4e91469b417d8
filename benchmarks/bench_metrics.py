"""Service metrics on a big file: 100,000 conversations and about 1,000,000 messages
(a generated 双11 promotion day and the ordinary day a week before, 10 shops, 600 agents).

Measures, in one process:
* the full report (``Backend.metrics_report``: every figure of docs/DESIGN.md §9, in total, by shop,
  by agent, by hour, by shop x channel x hour) with the stored conversation facts current —
  beside a naive full-scan SQL computation of the same total figures straight from the
  conversations, messages and orders tables (window functions, correlated look-ups) in the
  same run: ratio naive / ours; and the two must agree figure by figure;
* the one-off fold of every conversation from its messages (a file without metric facts);
* catching up after new desk activity (posts, accepts, replies, closes through the
  backend), report included;
* a dashboard refresh (``Backend.dashboard``: one shop's queue, agents, today's figures,
  hourly volume against the same weekday last week, the agent table, keyword counts) with
  the clock frozen at the end of the promotion day, so that "today" is the whole day: for
  every shop, beside the same figures by three full reports (how the dashboard computed
  them before) and a naive full-scan SQL computation of the shop's day (the queries above,
  restricted to the shop and the day) in the same run: ratios; the snapshot must equal the
  reports for every shop and the naive figures for the shop measured.
Goals: the full report <= 2 s; a dashboard refresh <= 200 ms.

    python benchmarks/bench_metrics.py [--quick] [--conversations N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.clock import FrozenClock  # noqa: E402
from cstool.simulation.promotion_day import PROMOTION, DayPlan, generate_day  # noqa: E402
from cstool.simulation.synthetic_data import Plan, base_document, customers  # noqa: E402

NAIVE_CONVERSATIONS = """
WITH first_agent AS (
    SELECT conversation_id AS cid, MIN(created_at) AS at FROM messages
    WHERE sender = 'agent' GROUP BY conversation_id),
bots AS (SELECT DISTINCT conversation_id AS cid FROM messages WHERE sender = 'bot'),
base AS (
    SELECT c.id, c.shop_id, c.customer_id, c.created_at, c.closed_at, c.handoff_at, c.rating,
           CASE WHEN s.service_mode IN ('human_first', 'human_only') THEN c.created_at
                ELSE c.handoff_at END AS needs,
           fa.at AS first_reply,
           (s.service_mode IN ('bot_first', 'bot_only') OR b.cid IS NOT NULL) AS engaged,
           b.cid IS NOT NULL AS has_bot
    FROM conversations c JOIN shops s ON s.id = c.shop_id
    LEFT JOIN first_agent fa ON fa.cid = c.id LEFT JOIN bots b ON b.cid = c.id
    WHERE {scope})
SELECT COUNT(*),
    SUM(needs IS NOT NULL),
    SUM(needs IS NOT NULL AND first_reply IS NOT NULL),
    SUM(CASE WHEN needs IS NOT NULL AND first_reply IS NOT NULL THEN first_reply - needs END),
    SUM(needs IS NOT NULL AND (first_reply IS NOT NULL
        OR COALESCE(closed_at, :now) - needs > :response)),
    SUM(needs IS NOT NULL AND first_reply IS NOT NULL AND first_reply - needs <= :response),
    SUM(engaged), SUM(engaged AND handoff_at IS NOT NULL),
    SUM(engaged AND closed_at IS NOT NULL),
    SUM(engaged AND closed_at IS NOT NULL AND has_bot AND first_reply IS NULL
        AND needs IS NULL AND NOT EXISTS (
            SELECT 1 FROM conversations n WHERE n.customer_id = base.customer_id
            AND n.shop_id = base.shop_id AND n.created_at > base.closed_at
            AND n.created_at <= base.closed_at + 86400000)),
    SUM(needs IS NOT NULL AND closed_at IS NOT NULL AND first_reply IS NULL),
    SUM(closed_at IS NOT NULL), SUM(closed_at IS NOT NULL AND rating IS NOT NULL),
    SUM(closed_at IS NOT NULL AND rating >= 4)
FROM base
"""

# customer turns: runs of customer messages ended only by an agent message, while a human
# is needed, starting no earlier than that need; rating comments (after the survey) left out
NAIVE_TURNS = """
WITH survey AS (
    SELECT conversation_id AS cid, MIN(id) AS sid FROM messages WHERE kind = 'survey'
    GROUP BY conversation_id),
needs AS (
    SELECT c.id, c.closed_at,
           CASE WHEN s.service_mode IN ('human_first', 'human_only') THEN c.created_at
                ELSE c.handoff_at END AS needs
    FROM conversations c JOIN shops s ON s.id = c.shop_id WHERE {scope}),
ca AS (
    SELECT m.conversation_id AS cid, m.id, m.sender, m.created_at AS at,
           LAG(m.sender) OVER w AS prev, LEAD(m.sender) OVER w AS next,
           LEAD(m.created_at) OVER w AS next_at
    FROM messages m LEFT JOIN survey v ON v.cid = m.conversation_id
    WHERE m.sender IN ('customer', 'agent') AND (v.sid IS NULL OR m.id < v.sid)
    WINDOW w AS (PARTITION BY m.conversation_id ORDER BY m.id)),
runs AS (
    SELECT cid, sender, at, next, next_at,
           MAX(CASE WHEN sender = 'customer' AND (prev IS NULL OR prev = 'agent') THEN at END)
               OVER (PARTITION BY cid ORDER BY id ROWS UNBOUNDED PRECEDING) AS run_start
    FROM ca),
turns AS (
    SELECT MAX(r.run_start, n.needs) AS start,
           CASE WHEN r.next = 'agent' THEN r.next_at END AS answered, n.closed_at
    FROM runs r JOIN needs n ON n.id = r.cid
    WHERE r.sender = 'customer' AND (r.next IS NULL OR r.next = 'agent')
      AND n.needs IS NOT NULL AND r.at >= n.needs)
SELECT SUM(answered IS NOT NULL OR COALESCE(closed_at, :now) - start > :answer),
       SUM(answered IS NOT NULL AND answered - start <= :answer),
       SUM(answered IS NOT NULL), SUM(answered - start)
FROM turns
"""

NAIVE_QUEUE = """
WITH marks AS (
    SELECT conversation_id AS cid, id, created_at AS at,
           CASE WHEN kind = 'survey' THEN 'c'
                WHEN json_extract(payload, '$.assigned') IS NOT NULL THEN 'a'
                WHEN json_type(payload, '$.queue_position') IS NOT NULL THEN 'q' END AS mark
    FROM messages WHERE sender = 'system' AND payload IS NOT NULL),
spells AS (
    SELECT cid, mark, at, LEAD(at) OVER (PARTITION BY cid ORDER BY id) AS until
    FROM marks WHERE mark IS NOT NULL),
waits AS (
    SELECT cid, SUM(COALESCE(until, :now) - at) AS wait FROM spells WHERE mark = 'q'
    GROUP BY cid)
SELECT COUNT(*), SUM(wait), MAX(wait) FROM waits WHERE {waits}
"""

NAIVE_CONVERSION = """
WITH conv AS (
    SELECT c.shop_id * 4294967296 + c.customer_id AS pair,
           EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id
                   AND o.shop_id = c.shop_id AND o.created_at >= c.created_at
                   AND o.created_at <= c.created_at + :window) AS ordered,
           EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id
                   AND o.shop_id = c.shop_id AND o.created_at >= c.created_at
                   AND o.created_at <= c.created_at + :window
                   AND o.paid_at IS NOT NULL) AS paid
    FROM conversations c WHERE {scope})
SELECT COUNT(DISTINCT pair), COUNT(DISTINCT CASE WHEN ordered THEN pair END),
       COUNT(DISTINCT CASE WHEN paid THEN pair END)
FROM conv
"""

NAIVE_ATTRIBUTION = """
SELECT COUNT(*), COALESCE(SUM(CASE WHEN o.paid_at IS NOT NULL
                              AND o.status NOT IN ('refunded', 'cancelled')
                              THEN o.total ELSE 0 END), 0)
FROM orders o
WHERE o.created_at - (
    SELECT MAX(m.created_at) FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE c.customer_id = o.customer_id AND c.shop_id = o.shop_id AND m.sender = 'agent'
      AND m.created_at <= o.created_at AND {scope}) <= :window
"""


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _secs(total: float | None, n: int) -> float | None:
    return round(total / n / 1000, 1) if n else None


SHOP_DAY = "c.shop_id = :shop AND c.created_at >= :since AND c.created_at < :until"


def naive(conn, now: int, shop_id: int | None = None, since: int | None = None,
          until: int | None = None) -> dict:
    """The total figures by full scans of the raw tables (the baseline): of every
    conversation, or of one shop's created in ``[since, until)``."""
    p = {"now": now, "response": 180_000, "answer": 30_000, "window": 86_400_000,
         "shop": shop_id, "since": since, "until": until}
    scope = "1" if shop_id is None else SHOP_DAY
    waits = "1" if shop_id is None else f"cid IN (SELECT c.id FROM conversations c WHERE {scope})"

    def one(sql: str) -> tuple:
        return conn.execute(sql.replace("{scope}", scope).replace("{waits}", waits),
                            p).fetchone()

    (n, human, answered, frt, frt_counted, frt_in, bot, handoffs, bot_closed, resolved,
     abandoned, closed, rated, satisfied) = one(NAIVE_CONVERSATIONS)
    counted, within, turns_answered, response = one(NAIVE_TURNS)
    queued, queue_sum, queue_max = one(NAIVE_QUEUE)
    consulting, ordering, paying = one(NAIVE_CONVERSION)
    attributed, sales = one(NAIVE_ATTRIBUTION)
    return {
        "conversations": n, "human_conversations": human, "answered_conversations": answered,
        "first_response_avg_s": _secs(frt, answered),
        "response_rate": _rate(frt_in, frt_counted), "turns": counted,
        "answer_rate": _rate(within, counted), "avg_response_s": _secs(response, turns_answered),
        "bot_conversations": bot, "handoff_rate": _rate(handoffs, bot),
        "bot_resolution_rate": _rate(resolved, bot_closed), "abandoned": abandoned,
        "abandonment_rate": _rate(abandoned, human), "queued": queued,
        "queue_wait_avg_s": _secs(queue_sum, queued),
        "queue_wait_max_s": round(queue_max / 1000, 1) if queued else None,
        "closed": closed, "rated": rated, "rating_response_rate": _rate(rated, closed),
        "csat": _rate(satisfied, rated), "consulting_customers": consulting,
        "inquiry_conversion": _rate(ordering, consulting),
        "paid_conversion": _rate(paying, consulting), "attributed_orders": attributed,
        "attributed_sales": sales / 100 if sales % 100 else sales // 100,
    }


def _dashboard(path: Path, repeat: int = 3) -> dict:
    """Dashboard refreshes with the clock at the promotion day's last second, for every
    shop: the snapshot, the same figures by three full reports, and for the shop with
    the most conversations that day, the naive full-scan SQL of its day."""
    from cstool.services.dashboard import figures_by_reports

    plan = DayPlan()
    start = plan.start_ms()
    now = start + 86_400_000 - 1_000
    b = LocalBackend(path, clock=FrozenClock(now))
    b.metrics_refresh()
    conn = b.database.conn
    shops = conn.execute(
        "SELECT s.key, s.id, COUNT(c.id) FROM shops s LEFT JOIN conversations c ON "
        "c.shop_id = s.id AND c.created_at >= ? AND c.created_at < ? GROUP BY s.id "
        "ORDER BY s.key", (start, now + 1)).fetchall()
    fast: dict[str, float] = {}
    full: dict[str, float] = {}
    differ = []
    snaps = {}
    for key, _, _ in shops:
        fast[key], snaps[key] = _median_time(lambda key=key: b.dashboard(key), repeat)
        full[key], ref = _median_time(lambda key=key: figures_by_reports(b, key, now), 1)
        differ += [(key, k) for k, v in ref.items() if snaps[key][k] != v]
    key, shop_id, n = max(shops, key=lambda r: (r[2], r[0]))
    naive_s, baseline = _median_time(
        lambda: naive(conn, now, shop_id, start, now + 1), repeat=1)
    today = snaps[key]["today"]
    differ += [(key, k, today[k], v) for k, v in baseline.items() if today[k] != v]
    b.close()
    return {"fast": fast, "full": full, "differ": differ, "shop": key, "conversations": n,
            "naive_s": naive_s, "checked": len(baseline), "agents": len(
                snaps[key]["agent_rows"])}


def _median_time(fn, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def build(path: Path, conversations: int, shops: int, agents: int, customers_n: int
          ) -> dict:
    """Shops, agents and customers, then a promotion day and the ordinary day before it
    whose conversations add up to ``conversations``."""
    b = LocalBackend(path)
    plan = Plan(shops=shops, customers=customers_n, orders=0, agents_per_shop=agents)
    b.apply(base_document(plan))
    b.bulk_load("customers", customers(plan))
    factors = [11.0 if f is None else f for f in PROMOTION]
    promo = round(conversations * sum(factors) / (sum(factors) + 24))
    t0 = time.perf_counter()
    counts = generate_day(b, DayPlan(conversations=promo, seed=7), fold=False)
    generate_s = time.perf_counter() - t0
    b.close()
    return {**counts, "generate_s": generate_s}


def run(conversations: int, shops: int, agents: int, customers_n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.db"
        made = build(path, conversations, shops, agents, customers_n)
        b = LocalBackend(path)
        fold_s, folded = _median_time(b.metrics_rebuild, repeat=1)
        timings = {}
        reports = {}
        for by in (None, "shop", "agent", "hour", "shop,channel,hour"):
            timings[by], reports[by] = _median_time(lambda by=by: b.metrics_report(by=by))
        naive_s, baseline = _median_time(lambda: naive(b.database.conn, b.clock.now_ms()), repeat=1)
        total = reports[None]["total"]
        differ = {k: (total[k], v) for k, v in baseline.items() if total[k] != v}
        b.close()
        dashboard = _dashboard(path)
        catch_s, caught, n_ops = _catch_up(path)
    return {"made": made, "folded": folded, "fold_s": fold_s, "timings": timings,
            "naive_s": naive_s, "differ": differ, "checked": len(baseline),
            "catch_s": catch_s, "caught": caught, "ops": n_ops, "dashboard": dashboard,
            "rows": {k: len(v["rows"]) for k, v in reports.items()}, "total": total}


def _catch_up(path: Path) -> tuple[float, dict, int]:
    """New desk activity after the day (agents online, posts, replies, closes through the
    backend with a clock after the day), then the time of a report that catches up."""
    b = LocalBackend(path, clock=FrozenClock(0))
    shop = b.list("shops", limit=1)[0]["key"]
    conn = b.database.conn
    end = conn.execute("SELECT MAX(created_at) FROM messages").fetchone()[0]
    b.clock.set(end + 3_600_000)
    handles = [a["handle"] for a in b.list("agents", shop=shop)][:5]
    keys = [r[0] for r in conn.execute(
        "SELECT c.key FROM customers c JOIN customer_profiles p ON p.customer_id = c.id "
        "WHERE p.shop_id = (SELECT id FROM shops WHERE key = ?) LIMIT 100", (shop,))]
    b.metrics_refresh()
    ops = 0
    for h in handles:
        b.set_agent_status(h, "online")
        ops += 1
    convs = []
    for i, key in enumerate(keys):
        b.clock.set(b.clock.now_ms() + 2_000)
        r = b.post_message(shop, key, "双十一的快递什么时候到？" if i % 2 else "还有优惠券吗")
        convs.append(r["conversation"])
        ops += 1
    for c in convs:
        b.clock.set(b.clock.now_ms() + 1_000)
        if c["assignee"]:
            b.reply(c["assignee"], c["id"], "亲，已经帮您查询了")
            b.close_conversation(c["id"], by=c["assignee"])
            ops += 2
    t0 = time.perf_counter()
    b.metrics_report()
    catch_s = time.perf_counter() - t0
    b.close()
    return catch_s, {"conversations": len(convs)}, ops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny size for the test suite")
    parser.add_argument("--conversations", type=int, default=100_000)
    args = parser.parse_args(argv)
    if args.quick:
        size = (args.conversations if args.conversations != 100_000 else 1_500, 3, 8, 3_000)
    else:
        size = (args.conversations, 10, 60, 300_000)
    r = run(*size)
    m = r["made"]
    print(f"conversations:          {m['conversations']:,} ({m['messages']:,} messages, "
          f"{m['events']:,} events, {m['orders']:,} orders)")
    print(f"generate the day:       {m['generate_s']:.1f} s "
          f"(peak hour {m['peak_hour_volume']:,}, ordinary mean hour "
          f"{m['baseline_mean_hour']:,})")
    print(f"fold every conversation: {r['fold_s']:.2f} s (once; then kept current from events)")
    labels = {None: "total", "shop": "by shop", "agent": "by agent", "hour": "by hour",
              "shop,channel,hour": "by shop,channel,hour"}
    for by, s in r["timings"].items():
        print(f"report {labels[by]:<22} {s:.3f} s ({r['rows'][by]} rows)")
    print(f"naive full-scan SQL:    {r['naive_s']:.2f} s (total figures)")
    print(f"ratio (naive/ours):     {r['naive_s'] / r['timings'][None]:.1f}x")
    agree = "yes" if not r["differ"] else f"NO: {r['differ']}"
    print(f"figures agree:          {agree} ({r['checked']} figures)")
    print(f"catch up + report after {r['ops']} desk operations: {r['catch_s'] * 1000:.0f} ms")
    worst = max(r["timings"].values())
    print(f"full report:            {worst:.2f} s worst of the five (goal <= 2 s)")
    d = r["dashboard"]
    fast, full = d["fast"], d["full"]
    mid, top = statistics.median(fast.values()), max(fast.values())
    print(f"dashboard refresh:      {mid * 1000:.0f} ms median, {top * 1000:.0f} ms worst of "
          f"{len(fast)} shops (goal <= 200 ms; today = the promotion day)")
    print(f"  by three full reports (before): {statistics.median(full.values()) * 1000:.0f} ms "
          f"median: {statistics.median(full[k] / fast[k] for k in fast):.1f}x")
    shop = d["shop"]
    print(f"  naive full-scan SQL of {shop}'s day ({d['conversations']:,} conversations): "
          f"{d['naive_s']:.2f} s; its refresh {fast[shop] * 1000:.0f} ms: "
          f"ratio (naive/ours) {d['naive_s'] / fast[shop]:.0f}x")
    agree = "yes" if not d["differ"] else f"NO: {d['differ']}"
    print(f"  dashboard agrees:     {agree} (snapshot = reports for {len(fast)} shops, "
          f"{d['checked']} figures = naive, {d['agents']} agent rows)")
    t = r["total"]
    print(f"the day: response rate {t['response_rate']}, answer rate {t['answer_rate']}, "
          f"bot resolution {t['bot_resolution_rate']}, CSAT {t['csat']}, "
          f"inquiry conversion {t['inquiry_conversion']}")
    return 0 if not r["differ"] and not r["dashboard"]["differ"] else 1


if __name__ == "__main__":
    sys.exit(main())
