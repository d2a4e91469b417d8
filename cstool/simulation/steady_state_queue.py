"""A small discrete-event simulation of a chat desk in steady state, to check the
queueing formulas: Poisson arrivals, exponential chat durations, optional exponential
patience, ``agents`` agents with ``concurrency`` chat slots each, one first-come
first-served queue, and a waiting chat handed to the least-loaded agent with a free
slot (as the routing engine's least-busy strategy does).

It is independent of ``erlang``: it never pools the slots itself, so agreement with
Erlang C/A on ``agents x concurrency`` servers is evidence for the slot model.

``simulate_times`` runs the same kernel on given arrival times (a whole day's, say);
``benchmarks/bench_simulate.py`` uses it as the plain baseline of ``cstool simulate``.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class SimResult:
    """What one simulated run measured (over the arrivals after the warm-up)."""

    arrivals: int
    p_wait: float  # share that found every slot busy
    service_level: float  # share answered within the target
    p_abandon: float
    asa_s: float  # mean wait of the answered
    occupancy: float  # busy slot-seconds / available slot-seconds


def simulate(*, rate: float, aht_s: float, agents: int, concurrency: int = 1,
             target_s: float = 20.0, patience_s: float | None = None,
             arrivals: int = 50_000, warmup: int = 5_000, seed: int = 1) -> SimResult:
    """Simulate ``arrivals + warmup`` chats arriving at ``rate`` per second."""
    rnd = random.Random(seed)
    return _run(lambda now: now + rnd.expovariate(rate), arrivals + warmup, warmup, rnd,
                aht_s=aht_s, agents=agents, concurrency=concurrency, target_s=target_s,
                patience_s=patience_s)


def simulate_times(times_s: Sequence[float], *, aht_s: float, agents: int,
                   concurrency: int = 1, target_s: float = 20.0,
                   patience_s: float | None = None, seed: int = 1) -> SimResult:
    """Simulate chats arriving at the given times (seconds, ascending), no warm-up."""
    rnd = random.Random(seed)
    it = iter(times_s)
    return _run(lambda now: next(it, float("inf")), len(times_s), 0, rnd, aht_s=aht_s,
                agents=agents, concurrency=concurrency, target_s=target_s,
                patience_s=patience_s)


def _run(next_arrival_after: Callable[[float], float], total: int, warmup: int,
         rnd: random.Random, *, aht_s: float, agents: int, concurrency: int,
         target_s: float, patience_s: float | None) -> SimResult:
    load = [0] * agents  # chats each agent holds
    free = [(0, i) for i in range(agents)]  # (load, agent) heap of agents with a free slot
    heapq.heapify(free)
    ends: list[tuple[float, int]] = []  # (end time, agent) of chats in service
    queue: deque[tuple[float, float]] = deque()  # (arrival time, give-up time)
    now = 0.0
    next_arrival = next_arrival_after(0.0)
    n = waited = within = abandoned = answered = 0
    wait_sum = 0.0
    busy_area = 0.0
    busy = 0
    start_t = None

    def take_slot(t: float, arrived: float) -> None:
        nonlocal busy
        while True:  # entries of agents whose load changed since are stale
            ld, agent = heapq.heappop(free)
            if ld == load[agent] and ld < concurrency:
                break
        load[agent] += 1
        busy += 1
        if load[agent] < concurrency:
            heapq.heappush(free, (load[agent], agent))
        heapq.heappush(ends, (t + rnd.expovariate(1.0 / aht_s), agent))

    def has_free() -> bool:
        while free and free[0][0] != load[free[0][1]]:
            heapq.heappop(free)
        return bool(free)

    seen = 0
    while seen < total or ends:
        t_end = ends[0][0] if ends else float("inf")
        if seen < total and next_arrival <= t_end:
            t = next_arrival
            if start_t is not None:
                busy_area += busy * (t - now)
            now = t
            seen += 1
            counted = seen > warmup
            if counted and start_t is None:
                start_t = now
            if counted:
                n += 1
            if has_free() and not queue:
                take_slot(now, now)
                if counted:
                    answered += 1
                    within += 1 if target_s >= 0 else 0
            else:
                if counted:
                    waited += 1
                give_up = now + rnd.expovariate(1.0 / patience_s) if patience_s else float("inf")
                queue.append((now if counted else -now - 1.0, give_up))
            next_arrival = next_arrival_after(now)
            continue
        if not ends:
            break
        t, agent = heapq.heappop(ends)
        if start_t is not None:
            busy_area += busy * (t - now)
        now = t
        load[agent] -= 1
        busy -= 1
        heapq.heappush(free, (load[agent], agent))
        while queue:
            arrived, give_up = queue.popleft()
            counted = arrived >= 0
            if give_up < now:  # left before this slot freed up
                if counted:
                    abandoned += 1
                continue
            take_slot(now, arrived)
            if counted:
                wait = now - arrived
                answered += 1
                wait_sum += wait
                within += wait <= target_s
            break
        if seen >= total and not queue and start_t is not None:
            break
    horizon = max(now - (start_t or 0.0), 1e-9)
    return SimResult(
        arrivals=n,
        p_wait=waited / n,
        service_level=within / n,
        p_abandon=abandoned / n,
        asa_s=wait_sum / answered if answered else 0.0,
        occupancy=busy_area / (horizon * agents * concurrency),
    )
