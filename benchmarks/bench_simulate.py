"""Simulation benchmark: a promotion day (双11, the peak hour 11x an ordinary hour) of
1,000,000 conversations through the real routing engine and knowledge bot, in one
process, beside the plain queueing kernel on the same arrivals.

The shop is the demo's 翎衣女装 (its 6 routing rules, its 6 agents cloned up to the
roster, its 103 knowledge entries), in ``bot_first`` all day; AHT 300 s, patience
180 s (exponential), each agent's own ``max_chats``; the roster is what Erlang A says
meets 80 % in 30 s with at most 5 % abandoning, per half-hour (``--agents auto
--max-abandon 0.05``). Timed: reading the shop and asking the bot every distinct
question (about 1,500; answers are cached per question text, the bot being
deterministic for a given question), the simulated day, the report with its Erlang
prediction. Loading the demo set into a temporary file is not timed.

Baseline, same process: ``cstool.simulation.steady_state_queue.simulate_times`` (the plain M/M/n+M
kernel: one FIFO queue, no bot, no rules, no per-chat turns or metrics) on the same
arrival times, with the day's peak agents and their median capacity, its handling
time scaled by the share of chats that reached a human in our run, so that both desks
carry the same load. The ratio says what the real engine and bot cost over a bare
queue.

Goal: the 1,000,000-conversation day in at most 120 s.

Usage: python benchmarks/bench_simulate.py [--quick] [--conversations N] [--seed N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.fixtures import load_set  # noqa: E402
from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.simulation.day import arrival_times, simulate_day  # noqa: E402
from cstool.simulation.inputs import ConversationModel, shaped_curve  # noqa: E402
from cstool.simulation.predict import auto_roster  # noqa: E402
from cstool.simulation.report import build_report  # noqa: E402
from cstool.simulation.steady_state_queue import simulate_times  # noqa: E402
from cstool.simulation.world import load_world  # noqa: E402
from cstool.values import parse_time  # noqa: E402

SHOP = "lingyi-fashion"
DAY = "2026-11-11"
GOAL_S = 120.0
MAX_ABANDON = 0.05


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 20,000-conversation day")
    ap.add_argument("--conversations", type=int, default=None)
    ap.add_argument("--peak", type=float, default=11.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    n = args.conversations or (20_000 if args.quick else 1_000_000)

    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        backend = LocalBackend(Path(folder) / "demo.db")
        load_set(backend, "demo")
        print(f"demo set loaded in {time.perf_counter() - t:.1f}s (not timed below)")
        start = parse_time(f"{DAY}T00:00:00+08:00")
        model = ConversationModel(aht_s=300.0, patience_s=180.0, mode="bot_first")
        curve = shaped_curve(n, "promotion", args.peak)

        t0 = time.perf_counter()
        world = load_world(backend, SHOP, start)
        t1 = time.perf_counter()
        roster = auto_roster(world, curve, model, start, 0.8, 30.0, MAX_ABANDON)
        result = simulate_day(world, curve, roster, model, start, seed=args.seed)
        t2 = time.perf_counter()
        report = build_report(world, curve, model, result, date=DAY, seed=args.seed,
                              roster_source="auto 80/30, abandonment <= 0.05")
        t3 = time.perf_counter()
        backend.close()

    ours = t3 - t0
    tot = report["totals"]
    erl = tot["erlang"]
    print(f"promotion day x{args.peak:g}: {tot['arrivals']:,} conversations "
          f"({n:,} expected), {result.events:,} events, peak {max(roster):,} agents")
    print(f"cstool simulate: {ours:.1f}s = shop + bot answers {t1 - t0:.1f}s "
          f"({len(world.pool.questions):,} distinct questions) + day {t2 - t1:.1f}s "
          f"+ report {t3 - t2:.2f}s; {tot['arrivals'] / (t2 - t1):,.0f} conversations/s")
    print(f"  bot resolved {tot['bot_resolved']:,} ({_pct(tot['bot_resolution_rate'])}), "
          f"{tot['human']:,} to humans; 3-min rate {_pct(tot['response_rate'])} "
          f"(Erlang {_pct(erl['response_rate'])}), 30-s rate {_pct(tot['answer_rate'])}, "
          f"queue wait avg {tot['queue_wait_avg_s']}s p90 {tot['queue_wait_p90_s']}s, "
          f"abandoned {_pct(tot['abandonment_rate'])} (Erlang {_pct(erl['p_abandon'])}); "
          f"peak load {report['routing']['max_load'] * 100:.0f}%")

    times = [(ms - start) / 1000 for ms in arrival_times(curve, start, args.seed)]
    share = tot["human"] / max(1, tot["arrivals"])
    caps = sorted(a.max_chats for a in result.agents[:max(roster)]) or [1]
    b0 = time.perf_counter()
    base = simulate_times(times, aht_s=300.0 * share, agents=max(roster),
                          concurrency=int(statistics.median(caps)), patience_s=180.0,
                          seed=args.seed)
    baseline = time.perf_counter() - b0
    print(f"baseline, same arrivals through the plain sim.py kernel (no bot, no rules): "
          f"{baseline:.1f}s ({base.arrivals:,} arrivals)")
    print(f"ratio cstool simulate / plain kernel: {ours / baseline:.1f}x "
          f"(the day alone {(t2 - t1) / baseline:.1f}x)")
    if not args.quick and args.conversations is None:
        ok = ours <= GOAL_S
        print(f"goal: 1,000,000 conversations <= {GOAL_S:g}s: {'met' if ok else 'NOT met'} "
              f"({ours:.1f}s)")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
