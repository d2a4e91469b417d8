"""Staffing benchmark: size a day of 48 half-hours, the peak needing about 5,000 agents,
with cstool's Erlang C beside pyworkforce's on the same inputs in the same process.

Prints, per model, the time for the 48 sizings, the speed ratio, and whether both
found the same agents and positions (pyworkforce rounds positions with a plain
``ceil(agents / (1 - shrinkage))``, so float error can make it one higher when the
division is exact: such cases are counted apart). Erlang A (no pyworkforce
counterpart) is timed on the same day. pyworkforce is a benchmark baseline only; the
run reports it missing rather than failing when it is not installed.

Usage: python benchmarks/bench_staffing.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cstool.staffing import Workload, positions, required_agents  # noqa: E402

AHT_S = 300.0
TARGET_S = 20.0
SL = 0.8
SHRINKAGE = 0.3
PATIENCE_S = 120.0


def day_curve(peak_erlangs: float) -> list[float]:
    """Chats per half-hour over a day: night trough, late-morning and evening peaks."""
    out = []
    for i in range(48):
        h = i / 2
        shape = (0.04 + 0.55 * math.exp(-((h - 11) / 2.5) ** 2)
                 + 1.0 * math.exp(-((h - 21) / 2.0) ** 2))
        out.append(shape)
    top = max(out)
    return [peak_erlangs * s / top * 1800 / AHT_S for s in out]


def ours(day: list[float], patience: float | None = None) -> list[tuple[int, int]]:
    """(agents, positions) per interval with cstool."""
    res = []
    for calls in day:
        p = required_agents(Workload(calls, 1800, AHT_S, TARGET_S, patience), SL)
        res.append((p.agents, positions(p.agents, SHRINKAGE)))
    return res


def load_pyworkforce():
    """pyworkforce's ErlangC class, imported before any timing, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pyworkforce.queuing import ErlangC
    except ImportError:
        return None
    return ErlangC


def theirs(day: list[float], ErlangC) -> list[tuple[int, int]]:  # noqa: N803
    """(agents, positions) per interval with pyworkforce."""
    res = []
    for calls in day:
        r = ErlangC(transactions=calls, aht=AHT_S / 60, asa=TARGET_S / 60, interval=30,
                    shrinkage=SHRINKAGE).required_positions(service_level=SL, max_occupancy=1.0)
        res.append((r["raw_positions"], r["positions"]))
    return res


def timed(fn, *args, repeat: int = 1):
    """Best wall time of ``repeat`` runs, and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a peak of ~500 agents")
    parser.add_argument("--repeat", type=int, default=None, help="runs per side (best kept)")
    args = parser.parse_args()
    peak = 490.0 if args.quick else 4_950.0
    repeat = args.repeat or 3
    day = day_curve(peak)
    t_ours, mine = timed(ours, day, repeat=repeat)
    peak_agents = max(a for a, _ in mine)
    print(f"day: 48 half-hours, {sum(day):,.0f} chats, AHT {AHT_S:g}s, "
          f"{SL:.0%} in {TARGET_S:g}s, shrinkage {SHRINKAGE:.0%}; peak {peak_agents:,} agents")
    print(f"cstool Erlang C: {t_ours * 1000:8.1f} ms for 48 sizings "
          f"({t_ours / 48 * 1000:.2f} ms each)")
    t_a, mine_a = timed(ours, day, PATIENCE_S, repeat=repeat)
    print(f"cstool Erlang A: {t_a * 1000:8.1f} ms for 48 sizings (patience {PATIENCE_S:g}s; "
          f"peak {max(a for a, _ in mine_a):,} agents)")
    erlang_c_class = load_pyworkforce()
    if erlang_c_class is None:
        print("pyworkforce: not installed (pip install pyworkforce) - no baseline this run")
        return
    t_pw, other = timed(theirs, day, erlang_c_class, repeat=repeat)
    same_agents = sum(a == b for (a, _), (b, _) in zip(mine, other, strict=True))
    same_pos = sum(p == q for (_, p), (_, q) in zip(mine, other, strict=True))
    float_artifacts = sum(
        1 for (a, p), (b, q) in zip(mine, other, strict=True)
        if a == b and p != q and q == math.ceil(a / (1 - SHRINKAGE))
        and abs(a / (1 - SHRINKAGE) - round(a / (1 - SHRINKAGE))) < 1e-9)
    print(f"pyworkforce Erlang C: {t_pw * 1000:8.1f} ms for the same 48 sizings")
    print(f"ratio (pyworkforce time / cstool time): {t_pw / t_ours:.1f}; "
          f"same agents {same_agents}/48, "
          f"same positions {same_pos}/48"
          + (f" ({float_artifacts} differ only by pyworkforce's float rounding of an exact "
             "division)" if float_artifacts else ""))
    if same_agents != 48 or same_pos + float_artifacts != 48:
        sys.exit("answers differ")


if __name__ == "__main__":
    main()
