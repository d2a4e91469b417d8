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
  in Erlang A).
- ``occupancy``: carried load over chat slots, ``A·(1 - P(abandon)) / (k·N)``.

Concurrency. A chat agent serves up to ``k`` chats at once. The model treats each
agent as ``k`` chat slots and the desk as one pool of ``k·N`` servers; ``aht_s`` is
the chat's handling time *as measured at the desk* (assignment to close), which
already contains the slowdown of juggling several chats. This is exactly what the
routing engine does: it gives a waiting chat to any agent below ``max_chats`` and
queues it only when every slot is full, so with Poisson arrivals and exponential
durations the desk is an M/M/(kN)(+M) queue. ``cstool.staffing.sim`` checks the
pooled-slot claim against a discrete-event simulation of agents with k slots each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InvalidInput

MAX_SERVERS = 2_000_000  # the fewest-agents search gives up beyond this many chat slots
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
    """Refuse inputs that make no sense, with a one-line InvalidInput."""
    checks = [
        (w.arrivals >= 0 and math.isfinite(w.arrivals), "arrivals must be 0 or more"),
        (w.interval_s > 0 and math.isfinite(w.interval_s), "the interval must be positive"),
        (w.aht_s > 0 and math.isfinite(w.aht_s), "the handling time must be positive"),
        (w.target_s >= 0 and math.isfinite(w.target_s), "the target time must be 0 or more"),
        (w.patience_s is None or (w.patience_s > 0 and math.isfinite(w.patience_s)),
         "patience must be positive"),
        (isinstance(w.concurrency, int) and 1 <= w.concurrency <= 50,
         "concurrency must be a whole number from 1 to 50"),
    ]
    for ok, message in checks:
        if not ok:
            raise InvalidInput(message)


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
        raise InvalidInput("agents must be 0 or more")
    servers = agents * w.concurrency
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
    if servers <= a:  # overloaded: the queue grows without bound
        return Performance(agents, servers, a, 1.0, 0.0, None, None,
                           1.0 if servers else 0.0, None)
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
        return Performance(0, 0, a, 1.0, 0.0, None, w.patience_s, 0.0, 1.0)
    m = _virtual_wait_integrals(lam, servers / w.aht_s, theta, w.target_s)
    # P(wait) = λJ / (1/B(s-1) + λJ), in logs: J = e^peak · I0
    log_lam_j = math.log(lam) + m["peak"] + math.log(m["i0"])
    x = -table.log_b(servers - 1) - log_lam_j
    p_wait = 0.0 if x > 700 else 1.0 / (1.0 + math.exp(x))
    p_ab = p_wait * (1.0 - m["i_theta"] / m["i0"])
    answered = 1.0 - p_ab
    sl = (1.0 - p_wait) + p_wait * m["i_theta_target"] / m["i0"]
    wait_answered = p_wait * m["i_x_theta"] / m["i0"]
    asa = wait_answered / answered if answered > 0 else None
    occupancy = a * answered / servers
    return Performance(agents, servers, a, _clip(p_wait), _clip(sl), asa,
                       p_ab * w.patience_s, min(occupancy, 1.0), _clip(p_ab))


def _virtual_wait_integrals(lam: float, svc: float, theta: float, target: float) -> dict:
    """∫g, ∫g·e^{-θx}, ∫_0^T g·e^{-θx} and ∫x·g·e^{-θx} over x >= 0, each divided by
    e^peak (peak = max log g), for g(x) = exp(λ(1 - e^{-θx})/θ - svc·x)."""

    def log_g(x):
        return lam * (-np.expm1(-theta * x)) / theta - svc * x

    mode = max(0.0, math.log(lam / svc) / theta) if lam > svc else 0.0
    peak = float(log_g(np.float64(mode)))
    floor = peak - _SPAN_E_FOLDS
    lo = 0.0 if float(log_g(np.float64(0.0))) >= floor else _bisect(log_g, 0.0, mode, floor)
    step = 1.0 / svc
    while float(log_g(np.float64(mode + step))) > floor:
        step *= 2.0
    hi = _bisect(log_g, mode, mode + step, floor, rising=False)

    # panel edges at multiples of every scale the integrand has (the patience 1/θ, the
    # service drain 1/svc, the net drift, the width at the mode), so Simpson's rule
    # resolves a fast rise near 0 and a slow tail alike
    scales = [1.0 / theta, 1.0 / svc, 1.0 / math.sqrt(svc * theta)]
    if abs(lam - svc) > 1e-12 * svc:
        scales.append(1.0 / abs(lam - svc))
    cut = min(max(target, lo), hi)
    edges = {lo, hi, cut}
    for base in (lo, mode):
        for scale in scales:
            for f in (-16.0, -4.0, -1.0, -0.25, 0.25, 1.0, 4.0, 16.0, 64.0):
                x = base + f * scale
                if lo < x < hi:
                    edges.add(x)
    edges_arr = np.array(sorted(edges))
    x0, x1 = edges_arr[:-1], edges_arr[1:]
    m = _SIMPSON_INTERVALS
    unit = np.linspace(0.0, 1.0, m + 1)
    xs = x0[:, None] + (x1 - x0)[:, None] * unit[None, :]
    w = np.ones(m + 1)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    weights = ((x1 - x0) / (3.0 * m))[:, None] * w[None, :]
    g = np.exp(log_g(xs) - peak) * weights
    gt = g * np.exp(-theta * xs)
    left = x1 <= cut
    return {"peak": peak, "i0": float(g.sum()), "i_theta": float(gt.sum()),
            "i_theta_target": float(gt[left].sum()), "i_x_theta": float((xs * gt).sum())}


def _bisect(f, x0: float, x1: float, level: float, rising: bool = True) -> float:
    """The x in [x0, x1] where the monotone f crosses ``level`` (f rises on the piece
    when ``rising``, falls otherwise)."""
    for _ in range(200):
        mid = 0.5 * (x0 + x1)
        above = float(f(np.float64(mid))) > level
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
    if not 0 < service_level <= 1:
        raise InvalidInput(f"the service level must be above 0 and at most 1, got {service_level}")
    if not 0 < max_occupancy <= 1:
        raise InvalidInput(f"the occupancy cap must be above 0 and at most 1, got {max_occupancy}")
    if max_abandon is not None and not 0 <= max_abandon <= 1:
        raise InvalidInput(f"the abandonment cap must be from 0 to 1, got {max_abandon}")
    a = w.traffic
    k = w.concurrency
    if a <= 0:
        return evaluate(w, 0)
    limit = max_agents if max_agents is not None else MAX_SERVERS // k
    table = ErlangBTable(a)
    # the occupancy cap alone: carried load / slots <= cap (Erlang C carries all of A)
    floor_occ = math.ceil(a / (k * max_occupancy) - 1e-9)

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
                           f"{service_level}")
    # Erlang A: service level rises and occupancy falls with agents; bracket, then bisect
    lo, hi = 0, max(1, math.ceil(a / k))
    good, best = ok(hi)
    while not good:
        if hi >= limit:
            raise InvalidInput(f"no staffing up to {limit} agents meets a service level of "
                               f"{service_level}")
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


def positions(agents: int, shrinkage: float) -> int:
    """Agents on the roster so that ``agents`` are on the desk after shrinkage (breaks,
    training, absence: the share of paid time not spent serving)."""
    if not 0 <= shrinkage < 1:
        raise InvalidInput(f"shrinkage must be from 0 up to (not including) 1, got {shrinkage}")
    if agents <= 0:
        return 0
    return math.ceil(agents / (1.0 - shrinkage) - 1e-9)
