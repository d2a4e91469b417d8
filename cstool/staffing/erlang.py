"""Erlang C and Erlang A (exponential patience): service level, average speed of
answer, occupancy, P(wait), P(abandon), and the fewest agents that meet a target.

Numerics. Nothing here forms a factorial or a power of the traffic. The Erlang B
value comes from the recursion ``B(n) = A·B(n-1) / (n + A·B(n-1))``, which only ever
multiplies numbers below one; once B drops below 1e-280 the recursion continues on
log B, so 10,000 (or 1,000,000) servers neither overflow nor lose the answer to
underflow. Erlang C follows from B in one step. Erlang A uses the exact M/M/n+M
virtual-waiting-time density (Baccelli & Hébuterne 1981; Mandelbaum & Zeltyn,
"The Palm/Erlang-A queue, with applications to call centers", 2005):

    f_V(x) = P(wait) · g(x) / J,   g(x) = exp(λ(1 - e^{-θx})/θ - sμx),   J = ∫ g

with ``P(wait) = λJ / (1/B(s-1, A) + λJ)``; every measure is a one-dimensional
integral of the log-concave g, taken in log space by Simpson's rule over the range
where g is within e^-60 of its peak, on panels cut at multiples of every time scale of
g (patience, service drain, drift, width at the mode), so results agree with the
truncated birth-death chain to ~1e-9.

Definitions (the same for C and A, all per offered contact):

- ``p_wait``: P(an arrival finds every chat slot busy) = P(wait > 0).
- ``service_level``: P(answered within the target). In Erlang A an abandoned chat
  counts as a miss, whether it left before or after the target.
- ``asa_s``: mean wait of the answered chats (Erlang C: of all chats, every one is
  answered); ``mean_wait_s``: mean time in queue of all chats (= P(abandon)·patience
  in Erlang A). Erlang A takes it as ``E[min(V, τ)] = P(wait)·∫g·(1 - e^{-θx})/θ / ∫g``
  (τ the patience) with ``-expm1`` for the factor, and P(abandon) as ``θ·mean_wait``,
  so neither cancels to 0 as patience grows: both tend to Erlang C's (the mean wait to
  its ASA, P(abandon) to 0) for any patience up to the largest float.
- ``occupancy``: carried load over chat slots, ``A·(1 - P(abandon)) / (k·N)``; 1.0 when
  the desk cannot keep up (Erlang C with no more chat slots than Erlangs, including no
  agents at all while chats arrive): every slot there is stays busy.

Limits (``check_workload``; beyond them InvalidInput): at most ``MAX_ARRIVALS``
(10,000,000) arrivals per interval, an interval of at most a day (86,400 s), a handling
time, target of at most a day, a traffic of at most ``MAX_TRAFFIC`` (1,000,000 Erlangs,
i.e. chat slots busy on average), and at most ``MAX_SERVERS`` chat slots evaluated.

Concurrency. A chat agent serves up to ``k`` chats at once. The model treats each
agent as ``k`` chat slots and the desk as one pool of ``k·N`` servers; ``aht_s`` is
the chat's handling time *as measured at the desk* (assignment to close), which
already contains the slowdown of juggling several chats. This is exactly what the
routing engine does: it gives a waiting chat to any agent below ``max_chats`` and
queues it only when every slot is full, so with Poisson arrivals and exponential
durations the desk is an M/M/(kN)(+M) queue. ``cstool.simulation.steady_state_queue`` checks the
pooled-slot claim against a discrete-event simulation of agents with k slots each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: a CLI command starts without it
    import numpy as np

from ..errors import InvalidInput

MAX_SERVERS = 2_000_000  # the fewest-agents search gives up beyond this many chat slots
MAX_ARRIVALS = 10_000_000  # contacts per interval
MAX_SECONDS = 86_400.0  # the longest interval, handling time and target: a day
MAX_TRAFFIC = 1_000_000.0  # Erlangs: sizing it needs about a million chat slots
_SWITCH_TO_LOG = 1e-280
_SIMPSON_INTERVALS = 128  # per panel; even
_SPAN_E_FOLDS = 60.0


@dataclass(frozen=True)
class Workload:
    """One interval's demand and the service target it is measured against."""

    arrivals: float  # contacts offered in the interval
    interval_s: float  # interval length, seconds
    aht_s: float  # average handling time of one contact (one chat slot), seconds
    target_s: float  # "answered within" target, seconds
    patience_s: float | None = None  # mean patience (Erlang A); None = Erlang C
    concurrency: int = 1  # chats one agent serves at once

    @property
    def rate(self) -> float:
        """Arrivals per second."""
        return self.arrivals / self.interval_s

    @property
    def traffic(self) -> float:
        """Offered load in Erlangs (busy chat slots needed on average)."""
        return self.rate * self.aht_s


@dataclass
class Performance:
    """What ``agents`` agents achieve on a Workload."""

    agents: int
    servers: int  # chat slots: agents x concurrency
    traffic_erlangs: float
    p_wait: float
    service_level: float
    asa_s: float | None  # None when the queue grows without bound (Erlang C, A >= servers)
    mean_wait_s: float | None
    occupancy: float
    p_abandon: float | None  # Erlang A only

    def to_dict(self) -> dict:
        """JSON form."""
        return asdict(self)


def check_workload(w: Workload) -> None:
    """Refuse inputs that make no sense or lie beyond the documented limits (see the
    module docstring), with a one-line InvalidInput. (NaN fails every comparison, so it
    is refused too.)"""
    if (0 <= w.arrivals <= MAX_ARRIVALS and 0 < w.interval_s <= MAX_SECONDS
            and 0 < w.aht_s <= MAX_SECONDS and 0 <= w.target_s <= MAX_SECONDS
            and (w.patience_s is None or 0 < w.patience_s < math.inf)
            and isinstance(w.concurrency, int) and 1 <= w.concurrency <= 50
            and w.traffic <= MAX_TRAFFIC * (1 + 1e-12)):  # (the rounding of λ·AHT)
        return  # the common case, checked on every evaluation: no messages to format
    checks = [
        (0 <= w.arrivals <= MAX_ARRIVALS,
         f"arrivals must be from 0 to {MAX_ARRIVALS:,} per interval, got {w.arrivals:g}",
         {"key": "erlang_arrivals_range", "max": f"{MAX_ARRIVALS:,}", "got": f"{w.arrivals:g}"}),
        (0 < w.interval_s <= MAX_SECONDS,
         f"the interval must be positive and at most a day, got {w.interval_s:g} s",
         {"key": "erlang_interval_range", "got": f"{w.interval_s:g}"}),
        (0 < w.aht_s <= MAX_SECONDS,
         f"the handling time must be positive and at most {MAX_SECONDS:,.0f} s, "
         f"got {w.aht_s:g}",
         {"key": "erlang_aht_range", "max": f"{MAX_SECONDS:,.0f}", "got": f"{w.aht_s:g}"}),
        (0 <= w.target_s <= MAX_SECONDS,
         f"the target time must be from 0 to {MAX_SECONDS:,.0f} s, got {w.target_s:g}",
         {"key": "erlang_target_range", "max": f"{MAX_SECONDS:,.0f}", "got": f"{w.target_s:g}"}),
        (w.patience_s is None or 0 < w.patience_s < math.inf,
         f"patience must be a positive number of seconds, got {w.patience_s}",
         {"key": "erlang_patience_range", "got": str(w.patience_s)}),
        (isinstance(w.concurrency, int) and 1 <= w.concurrency <= 50,
         f"concurrency must be a whole number from 1 to 50, got {w.concurrency}",
         {"key": "erlang_concurrency_range", "got": str(w.concurrency)}),
    ]
    for ok, message, params in checks:
        if not ok:
            raise InvalidInput(message, **params)
    raise InvalidInput(f"the traffic is {w.traffic:,.0f} Erlangs (arrivals x handling "
                       f"time / interval); at most {MAX_TRAFFIC:,.0f} is supported",
                       key="erlang_traffic_too_high", traffic=f"{w.traffic:,.0f}",
                       max=f"{MAX_TRAFFIC:,.0f}")


# -- Erlang B, the numerically stable core ------------------------------------------------
class ErlangBTable:
    """log B(n, A) for n = 0, 1, 2, ..., extended on demand by the stable recursion."""

    def __init__(self, traffic: float):
        if traffic <= 0:
            raise ValueError("traffic must be positive")
        self.traffic = traffic
        self._log_a = math.log(traffic)
        self._logs = [0.0]  # B(0, A) = 1
        self._b = 1.0  # B at the last index while it is above the switch point

    def log_b(self, n: int) -> float:
        """log B(n, A)."""
        logs = self._logs
        if n >= len(logs):
            a, b, log_a = self.traffic, self._b, self._log_a
            for m in range(len(logs), n + 1):
                if b > _SWITCH_TO_LOG:
                    b = a * b / (m + a * b)
                    logs.append(math.log(b) if b > 0 else -math.inf)
                else:  # the same recursion on log B: no underflow however far it goes
                    lb = logs[-1]
                    logs.append(log_a + lb - math.log(m + a * math.exp(lb)))
                    b = 0.0
            self._b = b
        return logs[n]

    def b(self, n: int) -> float:
        """B(n, A)."""
        return math.exp(self.log_b(n))


def erlang_b(servers: int, traffic: float) -> float:
    """Erlang B: the probability that all ``servers`` are busy, with ``traffic`` Erlangs
    offered and blocked contacts lost."""
    if traffic <= 0:
        return 0.0 if servers > 0 else 1.0
    return ErlangBTable(traffic).b(servers)


def _log_erlang_c(servers: int, table: ErlangBTable) -> float:
    a = table.traffic
    if servers <= a:
        return 0.0
    lb = table.log_b(servers)
    b = math.exp(lb)
    return math.log(servers) + lb - math.log(servers - a * (1.0 - b))


def erlang_c(servers: int, traffic: float) -> float:
    """Erlang C: the probability that an arrival waits (1 when traffic >= servers)."""
    if traffic <= 0:
        return 0.0
    if servers <= traffic:
        return 1.0
    return math.exp(_log_erlang_c(servers, ErlangBTable(traffic)))


# -- performance of N agents ----------------------------------------------------------------
def evaluate(w: Workload, agents: int, *, table: ErlangBTable | None = None) -> Performance:
    """The service ``agents`` agents give to Workload ``w`` (Erlang A when it has a patience)."""
    check_workload(w)
    if agents < 0:
        raise InvalidInput("agents must be 0 or more", key="agents_negative")
    servers = agents * w.concurrency
    if servers > MAX_SERVERS:
        raise InvalidInput(f"at most {MAX_SERVERS:,} chat slots (agents x concurrency) can "
                           f"be evaluated, got {servers:,}",
                           key="erlang_too_many_slots", max=f"{MAX_SERVERS:,}", got=f"{servers:,}")
    a = w.traffic
    if a <= 0:
        return Performance(agents, servers, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0,
                           None if w.patience_s is None else 0.0)
    if table is None:
        table = ErlangBTable(a)
    if w.patience_s is None:
        return _erlang_c_performance(w, agents, servers, table)
    return _erlang_a_performance(w, agents, servers, table)


def _erlang_c_performance(w: Workload, agents: int, servers: int,
                          table: ErlangBTable) -> Performance:
    a = w.traffic
    if servers <= a:  # overloaded: the queue grows without bound, every slot stays busy
        return Performance(agents, servers, a, 1.0, 0.0, None, None, 1.0, None)
    c = math.exp(_log_erlang_c(servers, table))
    excess = servers - a
    sl = 1.0 - c * math.exp(-excess * w.target_s / w.aht_s)
    asa = c * w.aht_s / excess
    return Performance(agents, servers, a, c, _clip(sl), asa, asa, a / servers, None)


def _erlang_a_performance(w: Workload, agents: int, servers: int,
                          table: ErlangBTable) -> Performance:
    a = w.traffic
    lam = w.rate
    theta = 1.0 / w.patience_s
    if servers == 0:  # nobody answers: every chat waits and leaves
        return Performance(0, 0, a, 1.0, 0.0, None, w.patience_s, 1.0, 1.0)
    m = _virtual_wait_integrals(lam, servers / w.aht_s, theta, w.target_s)
    # P(wait) = λJ / (1/B(s-1) + λJ), in logs: J = e^peak · I0
    log_lam_j = math.log(lam) + m["peak"] + math.log(m["i0"])
    x = -table.log_b(servers - 1) - log_lam_j
    p_wait = 0.0 if x > 700 else 1.0 / (1.0 + math.exp(x))
    # mean time in queue E[min(V, patience)], and P(abandon) = θ·that: no cancellation
    # of 1 - ∫g·e^{-θx}/∫g when the patience is long (see the module docstring)
    mean_wait = p_wait * m["i_min"] / m["i0"]
    p_ab = _clip(theta * mean_wait)
    answered = 1.0 - p_ab
    sl = (1.0 - p_wait) + p_wait * m["i_theta_target"] / m["i0"]
    wait_answered = p_wait * m["i_x_theta"] / m["i0"]
    asa = wait_answered / answered if answered > 0 else None
    occupancy = a * answered / servers
    return Performance(agents, servers, a, _clip(p_wait), _clip(sl), asa,
                       mean_wait, min(occupancy, 1.0), p_ab)


def _rise_minus_drop(z: np.ndarray) -> np.ndarray:
    """``z - (1 - e^{-z})`` (>= 0), without cancellation for small ``z``."""
    import numpy as np
    out = z + np.expm1(-z)
    small = np.abs(z) < 1e-2
    if small.any():  # the Taylor series there: z²/2 - z³/6 + ...
        zs = z[small]
        out[small] = zs * zs * (0.5 - zs * (1 / 6 - zs * (1 / 24 - zs * (1 / 120 - zs / 720))))
    return out


def _rise_minus_drop_1(z: float) -> float:
    """``_rise_minus_drop`` of one number (the searches call it often)."""
    if abs(z) < 1e-2:
        return z * z * (0.5 - z * (1 / 6 - z * (1 / 24 - z * (1 / 120 - z / 720))))
    return z + math.expm1(-z)


def _virtual_wait_integrals(lam: float, svc: float, theta: float, target: float) -> dict:
    """∫g, ∫g·e^{-θx}, ∫_0^T g·e^{-θx}, ∫x·g·e^{-θx} and ∫g·(1 - e^{-θx})/θ over
    x >= 0, each divided by e^peak (returned as ``peak``: max log g plus the log of the
    integration span), for g(x) = exp(λ(1 - e^{-θx})/θ - svc·x).

    The integrand is taken as a function of u = x - mode, log g(mode + u) - peak, which
    for λ > svc is ``-(svc/θ)·(θu - (1 - e^{-θu}))`` (since λe^{-θ·mode} = svc): at a long
    patience λ/θ is huge and log g itself would lose every digit to cancellation."""
    import numpy as np
    if lam > svc:
        log_ratio = math.log(lam / svc)
        mode = log_ratio / theta
        peak = (lam - svc - svc * log_ratio) / theta

        def rel(u):
            return -(svc / theta) * _rise_minus_drop(theta * u)

        def rel_1(u: float) -> float:
            return -(svc / theta) * _rise_minus_drop_1(theta * u)
    else:
        mode = peak = 0.0

        def rel(u):
            return lam * (-np.expm1(-theta * u)) / theta - svc * u

        def rel_1(u: float) -> float:
            return lam * (-math.expm1(-theta * u)) / theta - svc * u

    floor = -_SPAN_E_FOLDS
    lo = -mode if rel_1(-mode) >= floor else _bisect(rel_1, -mode, 0.0, floor)
    step = 1.0 / svc
    while rel_1(step) > floor:
        step *= 2.0
    hi = _bisect(rel_1, 0.0, step, floor, rising=False)

    # panel edges at multiples of every scale the integrand has (the patience 1/θ, the
    # service drain 1/svc, the net drift, the width at the mode), so Simpson's rule
    # resolves a fast rise near 0 and a slow tail alike
    scales = [1.0 / theta, 1.0 / svc, 1.0 / math.sqrt(svc * theta)]
    if abs(lam - svc) > 1e-12 * svc:
        scales.append(1.0 / abs(lam - svc))
    cut = min(max(target - mode, lo), hi)
    edges = {lo, hi, cut}
    for base in (lo, 0.0):
        for scale in scales:
            for f in (-16.0, -4.0, -1.0, -0.25, 0.25, 1.0, 4.0, 16.0, 64.0):
                u = base + f * scale
                if lo < u < hi:
                    edges.add(u)
    edges_arr = np.array(sorted(edges))
    u0, u1 = edges_arr[:-1], edges_arr[1:]
    m = _SIMPSON_INTERVALS
    unit = np.linspace(0.0, 1.0, m + 1)
    us = u0[:, None] + (u1 - u0)[:, None] * unit[None, :]
    w = np.ones(m + 1)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    span = hi - lo  # the weights are in units of the span, so nothing overflows
    weights = ((u1 - u0) / (3.0 * m * span))[:, None] * w[None, :]
    g = np.exp(rel(us)) * weights
    xs = np.maximum(mode + us, 0.0)
    gt = g * np.exp(-theta * xs)
    left = u1 <= cut
    return {"peak": peak + math.log(span), "i0": float(g.sum()), "i_theta": float(gt.sum()),
            "i_theta_target": float(gt[left].sum()), "i_x_theta": float((xs * gt).sum()),
            "i_min": float((g * (-np.expm1(-theta * xs) / theta)).sum())}


def _bisect(f, x0: float, x1: float, level: float, rising: bool = True) -> float:
    """The x in [x0, x1] where the monotone f crosses ``level`` (f rises on the piece
    when ``rising``, falls otherwise)."""
    for _ in range(200):
        mid = 0.5 * (x0 + x1)
        above = f(mid) > level
        if above == rising:
            x1 = mid
        else:
            x0 = mid
        if x1 - x0 <= 1e-12 * max(1.0, abs(x1)):
            break
    return x0 if rising else x1


def _clip(p: float) -> float:
    return min(1.0, max(0.0, p))


# -- the fewest agents ---------------------------------------------------------------------
def required_agents(w: Workload, service_level: float, *, max_occupancy: float = 1.0,
                    max_abandon: float | None = None,
                    max_agents: int | None = None) -> Performance:
    """The fewest agents whose service level is at least ``service_level``, whose
    occupancy is at most ``max_occupancy`` and (Erlang A) whose share abandoning is at
    most ``max_abandon``; their Performance."""
    check_workload(w)
    check_goals(service_level, max_occupancy=max_occupancy, max_abandon=max_abandon,
                patience_s=w.patience_s)
    a = w.traffic
    k = w.concurrency
    if a <= 0:
        return evaluate(w, 0)
    limit = max_agents if max_agents is not None else MAX_SERVERS // k
    # the occupancy cap alone: carried load / slots <= cap (Erlang C carries all of A)
    need = a / (k * max_occupancy) - 1e-9
    if need > limit:
        raise InvalidInput(f"no staffing up to {limit} agents keeps the occupancy under "
                           f"{max_occupancy:g}",
                           key="no_staffing_occupancy", limit=limit, cap=f"{max_occupancy:g}")
    floor_occ = math.ceil(need)
    table = ErlangBTable(a)

    def ok(n: int) -> tuple[bool, Performance]:
        p = evaluate(w, n, table=table)
        good = (p.service_level >= service_level - 1e-12
                and p.occupancy <= max_occupancy + 1e-12
                and (max_abandon is None or p.p_abandon is None
                     or p.p_abandon <= max_abandon + 1e-12))
        return good, p

    if w.patience_s is None:
        n = max(math.floor(a / k) + 1, floor_occ, 1)
        while n <= limit:
            good, p = ok(n)
            if good:
                return p
            n += 1
        raise InvalidInput(f"no staffing up to {limit} agents meets a service level of "
                           f"{service_level}",
                           key="no_staffing_service_level", limit=limit, level=str(service_level))
    # Erlang A: service level rises and occupancy falls with agents; bracket, then bisect
    lo, hi = 0, max(1, math.ceil(a / k))
    good, best = ok(hi)
    while not good:
        if hi >= limit:
            raise InvalidInput(f"no staffing up to {limit} agents meets a service level of "
                               f"{service_level}",
                               key="no_staffing_service_level", limit=limit,
                               level=str(service_level))
        lo, hi = hi, min(limit, hi * 2)
        good, best = ok(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        good, p = ok(mid)
        if good:
            hi, best = mid, p
        else:
            lo = mid
    return best


def check_goals(service_level: float | None = None, *, max_occupancy: float = 1.0,
                max_abandon: float | None = None, patience_s: float | None = None,
                shrinkage: float = 0.0) -> None:
    """Refuse a service-level goal, caps or shrinkage out of range (NaN included), and an
    abandonment cap without a patience (only Erlang A has abandonment)."""
    if service_level is not None and not 0 < service_level <= 1:
        raise InvalidInput(f"the service level must be above 0 and at most 1, got {service_level}",
                           key="service_level_range", value=str(service_level))
    if not 0 < max_occupancy <= 1:
        raise InvalidInput(f"the occupancy cap must be above 0 and at most 1, got {max_occupancy}",
                           key="occupancy_cap_range", value=str(max_occupancy))
    if max_abandon is not None:
        if not 0 <= max_abandon <= 1:
            raise InvalidInput(f"the abandonment cap must be from 0 to 1, got {max_abandon}",
                               key="abandon_cap_range", value=str(max_abandon))
        if patience_s is None:
            raise InvalidInput("an abandonment cap needs a patience (Erlang A): without "
                               "one nobody abandons", key="abandon_cap_needs_patience")
    if not 0 <= shrinkage < 1:
        raise InvalidInput(f"shrinkage must be from 0 up to (not including) 1, got {shrinkage}",
                           key="shrinkage_range", value=str(shrinkage))


def positions(agents: int, shrinkage: float) -> int:
    """Agents on the roster so that ``agents`` are on the desk after shrinkage (breaks,
    training, absence: the share of paid time not spent serving)."""
    check_goals(shrinkage=shrinkage)
    if agents <= 0:
        return 0
    return math.ceil(agents / (1.0 - shrinkage) - 1e-9)
