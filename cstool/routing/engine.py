"""The routing decision: which rule, which pool, which agent, or which queue.

:func:`route` evaluates a shop's enabled rules in order. The first rule that
matches picks a pool and a strategy; if someone in the pool can take the chat,
they get it. If nobody can, ``when_unavailable: next`` goes on to the next
matching rule and ``queue`` stops with a queued decision for that pool. When
no rule places the chat, the implicit fallback is the whole shop, least_load,
queue.

``route`` never reads the clock, touches storage or changes agents: the caller
applies the decision (``state.assign(decision.agent, now_ms)``) in the same
transaction that records it. The one thing it updates is the round-robin
state, when it assigns by round_robin (pass a ``copy()`` for dry runs).

The trace (``decision.trace``) is built when first read, from the facts and the
pool notes captured at decision time, so routing stays fast when nobody asks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cstool.plural import count
from cstool.routing.agents import (
    AgentState,
    RoundRobinState,
    RoutingState,
    not_in_pool_reason,
    unavailable_reason,
)
from cstool.routing.conditions import evaluate
from cstool.routing.fields import DEFAULT_UTC_OFFSET_MINUTES, prepare_facts
from cstool.routing.rules import (
    FALLBACK_KEY,
    SHOP_TARGET,
    CompiledRule,
    Rule,
    RuleSet,
    describe_target,
)

__all__ = ["AgentNote", "Decision", "TraceStep", "route"]

#: Pools up to this size are listed agent by agent even without ``detail``.
SMALL_POOL = 12


@dataclass
class AgentNote:
    """One agent as seen by one rule: chosen, or why they were passed over."""

    handle: str
    name: str = ""
    status: str = ""
    load: str = ""
    chosen: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"handle": self.handle, "name": self.name, "status": self.status,
                "load": self.load, "chosen": self.chosen, "note": self.note}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentNote:
        """Rebuild from ``to_dict`` output."""
        return cls(**{k: data[k] for k in ("handle", "name", "status", "load", "chosen", "note")
                      if k in data})


@dataclass
class TraceStep:
    """One rule as the engine saw it; pool fields are set only for rules that matched.

    ``outcome`` is ``assigned``, ``queued``, ``next`` (nobody free, try the next
    rule) or ``skipped`` (the pool does not exist for this customer), or "".
    """

    rule: str
    name: str
    matched: bool
    reason: str = ""
    enabled: bool = True
    pool: dict[str, Any] | None = None
    pool_description: str = ""
    strategy: str = ""
    outcome: str = ""
    outcome_text: str = ""
    agents: list[AgentNote] = field(default_factory=list)
    agents_summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        out: dict[str, Any] = {"rule": self.rule, "name": self.name, "matched": self.matched,
                               "reason": self.reason, "enabled": self.enabled}
        if self.matched:
            out.update(pool=self.pool, pool_description=self.pool_description,
                       strategy=self.strategy, outcome=self.outcome,
                       outcome_text=self.outcome_text,
                       agents=[a.to_dict() for a in self.agents],
                       agents_summary=self.agents_summary)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TraceStep:
        """Rebuild from ``to_dict`` output."""
        step = cls(data["rule"], data.get("name", data["rule"]), bool(data["matched"]),
                   data.get("reason", ""), data.get("enabled", True))
        if step.matched:
            step.pool = data.get("pool")
            step.pool_description = data.get("pool_description", "")
            step.strategy = data.get("strategy", "")
            step.outcome = data.get("outcome", "")
            step.outcome_text = data.get("outcome_text", "")
            step.agents = [AgentNote.from_dict(a) for a in data.get("agents", ())]
            step.agents_summary = data.get("agents_summary", "")
        return step


@dataclass(eq=False)
class Decision:
    """What :func:`route` decided.

    ``agent`` is the handle to assign (None when queued); ``rule`` the deciding
    rule's key or ``"fallback"``; ``pool`` the resolved target (a queued chat
    waits for an agent of this pool: ``$last_agent`` becomes the real handle);
    ``pool_key`` its canonical string; ``priority`` the queue priority.
    """

    agent: str | None
    rule: str
    rule_name: str
    pool: dict[str, Any]
    pool_key: str
    strategy: str
    priority: int
    queued: bool
    now_ms: int
    facts: dict[str, Any] = field(default_factory=dict, repr=False)
    _trace: list[TraceStep] | None = field(default=None, repr=False)
    _pending: tuple[Any, ...] | None = field(default=None, repr=False)

    @property
    def trace(self) -> list[TraceStep]:
        """Every rule evaluated, in order, with the reason; for matching rules, the pool,
        the agents considered and why each was passed over; the fallback last if used."""
        if self._trace is None:
            self._trace = _build_trace(*self._pending) if self._pending else []
            self._pending = None
        return self._trace

    @property
    def pool_description(self) -> str:
        """The pool in words (``group logistics``)."""
        return describe_target(self.pool)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready data including the trace (what storage keeps for explain)."""
        return {"agent": self.agent, "rule": self.rule, "rule_name": self.rule_name,
                "pool": self.pool, "pool_key": self.pool_key,
                "pool_description": self.pool_description, "strategy": self.strategy,
                "priority": self.priority, "queued": self.queued, "now_ms": self.now_ms,
                "facts": self.facts, "trace": [s.to_dict() for s in self.trace]}

    def to_stored(self, rules_id: str) -> dict[str, Any]:
        """A compact form for storage, without building the trace: the decision, the set
        facts, and what each rule step noted (pools, agents, outcomes). The reasons are
        derived again from the rules, kept once per version under ``rules_id``, by
        :meth:`from_stored`; so a stored chat costs a fraction of ``to_dict``."""
        if self._pending is None:  # the trace is built already (or there is none)
            return {**self.to_dict(), "v": 1}
        _ruleset, _f, steps, last, fallback = self._pending
        return {"v": 2, "agent": self.agent, "rule": self.rule, "rule_name": self.rule_name,
                "pool": self.pool, "pool_key": self.pool_key, "strategy": self.strategy,
                "priority": self.priority, "queued": self.queued, "now_ms": self.now_ms,
                "facts": {k: v for k, v in self.facts.items() if v is not None},
                "rules": rules_id, "last": last,
                "steps": {str(i): st.to_dict() for i, st in steps.items()},
                "fallback": None if fallback is None else fallback.to_dict()}

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], ruleset: RuleSet | None) -> Decision:
        """Rebuild a decision stored by :meth:`to_stored` (or ``to_dict``) with the rules
        it was made with (None when they are gone: the steps without their reasons)."""
        if data.get("v") != 2:
            return cls.from_dict(data)
        steps = {int(k): TraceStep.from_dict(v) for k, v in data["steps"].items()}
        fallback = TraceStep.from_dict(data["fallback"]) if data.get("fallback") else None
        facts = dict(data.get("facts") or {})
        d = cls(agent=data.get("agent"), rule=data["rule"], rule_name=data["rule_name"],
                pool=dict(data["pool"]), pool_key=data["pool_key"], strategy=data["strategy"],
                priority=int(data["priority"]), queued=bool(data["queued"]),
                now_ms=int(data["now_ms"]), facts=facts)
        if ruleset is not None:
            d._pending = (ruleset, facts, steps, int(data["last"]), fallback)
        else:
            d._trace = [*(steps[i] for i in sorted(steps)), *([fallback] if fallback else [])]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Rebuild from ``to_dict`` output."""
        return cls(agent=data.get("agent"), rule=data["rule"],
                   rule_name=data.get("rule_name", data["rule"]), pool=dict(data["pool"]),
                   pool_key=data.get("pool_key", ""), strategy=data.get("strategy", ""),
                   priority=int(data.get("priority", 0)), queued=bool(data.get("queued")),
                   now_ms=int(data.get("now_ms", 0)), facts=dict(data.get("facts") or {}),
                   _trace=[TraceStep.from_dict(s) for s in data.get("trace", ())])


# --------------------------------------------------------------------------- route

def route(rules: RuleSet | Iterable[Rule | Mapping[str, Any]],
          facts: Mapping[str, Any] | None,
          agents: RoutingState | Iterable[AgentState | Mapping[str, Any]],
          now_ms: int,
          rr_state: RoundRobinState | None = None,
          *,
          base_priority: int = 0,
          detail: bool = False,
          detail_limit: int = 20,
          utc_offset_minutes: int = DEFAULT_UTC_OFFSET_MINUTES) -> Decision:
    """Decide where one chat goes.

    ``rules`` is a :class:`RuleSet` (or a list of rules, compiled on each call);
    ``facts`` the chat's facts (see ``KNOWN_FIELDS``); ``agents`` a
    :class:`RoutingState` (or a list of agents, indexed on each call); ``now_ms``
    the current time, which also fills ``time.hour``/``time.weekday`` at
    ``utc_offset_minutes`` when the facts lack them. The returned decision's
    priority is ``base_priority`` plus the deciding rule's priority.

    With ``detail=True`` the trace lists, for each matching rule, every agent of
    the shop (up to ``detail_limit``, the rest counted) with why they were
    passed over; otherwise it names the chosen agent and lists small pools only.
    """
    ruleset = rules if isinstance(rules, RuleSet) else RuleSet(rules)
    state = agents if isinstance(agents, RoutingState) else RoutingState(agents)
    f = prepare_facts(facts, now_ms, utc_offset_minutes)
    last_agent = f.get("customer.last_agent")
    compiled = ruleset.compiled
    steps: dict[int, TraceStep] = {}
    for i in ruleset.candidates(f):
        c = compiled[i]
        if c is None or not c.predicate(f):
            continue
        target, key, missing = _resolve(c, f, state)
        if missing is not None:
            steps[i] = _step(c.rule.key, c.rule.title, target, c.strategy, "skipped",
                             f"{missing}; trying the next rule")
            continue
        chosen = state.choose(target, key, c.strategy, rr_state, last_agent)
        rr_last = rr_state.last.get(key) if rr_state is not None else None
        if chosen is not None:
            if c.strategy == "round_robin" and rr_state is not None and "agent" not in target:
                rr_state.advance(key, chosen)
            step = _step(c.rule.key, c.rule.title, target, c.strategy, "assigned",
                         f"assigned to {state.agent(chosen).display}")  # type: ignore[union-attr]
        elif c.go_next:
            step = _step(c.rule.key, c.rule.title, target, c.strategy, "next",
                         "nobody in the pool can take a chat now; trying the next rule "
                         "(when_unavailable: next)")
        else:
            step = _step(c.rule.key, c.rule.title, target, c.strategy, "queued",
                         "nobody in the pool can take a chat now; the chat waits in the queue "
                         "for this pool (when_unavailable: queue)")
        _note_agents(step, state, target, key, c.strategy, chosen, last_agent, rr_last, now_ms,
                     detail, detail_limit)
        steps[i] = step
        if chosen is None and c.go_next:
            continue
        return Decision(chosen, c.rule.key, c.rule.title, dict(target), key, c.strategy,
                        base_priority + c.priority, chosen is None, now_ms, f,
                        _pending=(ruleset, f, steps, i, None))
    # The implicit fallback: the whole shop, least load, queue.
    chosen = state.choose(SHOP_TARGET, "shop", "least_load", rr_state, last_agent)
    fallback_name = "fallback: every agent of the shop, least load, queue"
    if chosen is not None:
        step = _step(FALLBACK_KEY, fallback_name, SHOP_TARGET, "least_load", "assigned",
                     f"assigned to {state.agent(chosen).display}")  # type: ignore[union-attr]
    else:
        step = _step(FALLBACK_KEY, fallback_name, SHOP_TARGET, "least_load", "queued",
                     "nobody in the shop can take a chat now; the chat waits in the shop queue")
    step.reason = ("no rule matched" if not steps
                   else "no earlier rule placed the chat")
    _note_agents(step, state, SHOP_TARGET, "shop", "least_load", chosen, last_agent, None,
                 now_ms, detail, detail_limit)
    return Decision(chosen, FALLBACK_KEY, fallback_name, dict(SHOP_TARGET), "shop",
                    "least_load", base_priority, chosen is None, now_ms, f,
                    _pending=(ruleset, f, steps, len(ruleset.rules) - 1, step))


def _resolve(c: CompiledRule, facts: Mapping[str, Any], state: RoutingState
             ) -> tuple[dict[str, Any], str, str | None]:
    """The concrete target of a rule for this customer, its key, and why it has no
    pool at all (None when it has one)."""
    if c.dynamic is not None:
        handle = facts.get(c.dynamic)
        what = "last agent" if c.dynamic == "customer.last_agent" else "dedicated agent"
        if not isinstance(handle, str) or not handle:
            return dict(c.target), c.target["agent"], f"the customer has no {what}"
        target = {"agent": handle}
        if handle not in state:
            return target, f"agent:{handle}", f"their {what} {handle} is not an agent here"
        return target, f"agent:{handle}", None
    key = c.pool_key or ""
    if "agent" in c.target:
        if c.target["agent"] not in state:
            return c.target, key, f"{c.target['agent']} is not an agent here"
        return c.target, key, None
    if state.pool_size(c.target, key) == 0:
        return c.target, key, f"no agent of the shop is in {describe_target(c.target)}"
    return c.target, key, None


def _step(key: str, name: str, target: Mapping[str, Any], strategy: str, outcome: str,
          text: str) -> TraceStep:
    return TraceStep(key, name, True, pool=dict(target),
                     pool_description=describe_target(target), strategy=strategy,
                     outcome=outcome, outcome_text=text)


def _build_trace(ruleset: RuleSet, facts: Mapping[str, Any], steps: dict[int, TraceStep],
                 last: int, fallback: TraceStep | None) -> list[TraceStep]:
    out: list[TraceStep] = []
    for i, rule in enumerate(ruleset.rules[: last + 1]):
        if not rule.enabled:
            out.append(TraceStep(rule.key, rule.title, False, "disabled", enabled=False))
            continue
        matched, reason = evaluate(rule.conditions, facts)
        step = steps.get(i)
        if step is not None:
            step.reason = reason
            out.append(step)
        else:
            out.append(TraceStep(rule.key, rule.title, matched, reason))
    if fallback is not None:
        out.append(fallback)
    return out


# --------------------------------------------------------------------------- agent notes

def _ago(now_ms: int, then_ms: int) -> str:
    if then_ms <= 0:
        return "a long time"
    s = max(0, now_ms - then_ms) // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _note(agent: AgentState, chosen: bool, text: str) -> AgentNote:
    return AgentNote(agent.handle, agent.name, agent.status, f"{agent.active}/{agent.max_chats}",
                     chosen, text)


def _why_chosen(agent: AgentState, strategy: str, last_agent: Any, rr_last: str | None,
                now_ms: int, single: bool) -> str:
    if single:
        return f"chosen: available, load {agent.active}/{agent.max_chats}"
    if strategy == "longest_idle":
        return f"chosen: idle longest ({_ago(now_ms, agent.waiting_since_ms)})"
    if strategy == "round_robin":
        return (f"chosen: next in the rotation after {rr_last}" if rr_last
                else "chosen: first in the rotation")
    if strategy == "sticky" and agent.handle == last_agent:
        return "chosen: the customer's last agent"
    return f"chosen: lowest load {agent.active}/{agent.max_chats}"


def _why_not(agent: AgentState, best: AgentState | None, strategy: str, last_agent: Any,
             now_ms: int) -> str:
    """Why an available pool member lost to the chosen agent."""
    if best is None:
        return "passed over"
    if strategy == "round_robin":
        return "passed over: not next in the rotation"
    if strategy == "sticky" and best.handle == last_agent:
        return "passed over: not the customer's last agent"
    wait, best_wait = agent.waiting_since_ms, best.waiting_since_ms
    if strategy == "longest_idle":
        if wait != best_wait:
            return (f"passed over: idle {_ago(now_ms, wait)}, "
                    f"chosen agent idle {_ago(now_ms, best_wait)}")
        return "passed over: idle as long as the chosen agent; handle sorts later"
    mine = agent.active / agent.max_chats
    theirs = best.active / best.max_chats
    if mine != theirs:
        return (f"passed over: load {agent.active}/{agent.max_chats}, "
                f"chosen agent has {best.active}/{best.max_chats}")
    if wait != best_wait:
        return (f"passed over: same load, idle {_ago(now_ms, wait)} "
                f"vs {_ago(now_ms, best_wait)}")
    return "passed over: same load and idle time; handle sorts later"


def _category(text: str) -> str:
    """Group passed-over notes for the 'N more' summary."""
    text = text.removeprefix("passed over: ")
    if text.startswith("at capacity"):
        return "at capacity"
    if text.startswith(("load ", "same load", "idle ", "not next")):
        return "available but ranked lower"
    if text.startswith("level "):
        return "other level"
    return text


def _note_agents(step: TraceStep, state: RoutingState, target: Mapping[str, Any], key: str,
                 strategy: str, chosen: str | None, last_agent: Any, rr_last: str | None,
                 now_ms: int, detail: bool, limit: int) -> None:
    single = "agent" in target
    if single:
        agent = state.agent(target["agent"])
        if agent is not None:
            why = unavailable_reason(agent)
            step.agents = [_note(agent, chosen == agent.handle,
                                 _why_chosen(agent, strategy, last_agent, rr_last, now_ms, True)
                                 if why is None else f"passed over: {why}")]
        return
    size = state.pool_size(target, key)
    if not detail and (size > SMALL_POOL):
        if chosen is not None:
            agent = state.agent(chosen)
            assert agent is not None
            step.agents = [_note(agent, True, _why_chosen(agent, strategy, last_agent, rr_last,
                                                          now_ms, False))]
            step.agents_summary = (f"{count(size, 'agent')} in the pool; the others are "
                                   f"listed only when routing with detail")
        else:
            step.agents_summary = (f"none of the {count(size, 'agent')} in the pool can take "
                                   f"a chat; each is listed only when routing with detail")
        return
    best = state.agent(chosen) if chosen is not None else None
    ranked: list[AgentState] = []
    unavailable: list[AgentNote] = []
    outsiders: list[AgentNote] = []
    members = set(state.members(target))
    for handle in state.handles() if detail else sorted(members):
        agent = state.agent(handle)
        assert agent is not None
        if handle not in members:
            miss = not_in_pool_reason(agent, target) or "not in the pool"
            outsiders.append(_note(agent, False, f"passed over: {miss}"))
            continue
        why = unavailable_reason(agent)
        if why is not None:
            unavailable.append(_note(agent, False, f"passed over: {why}"))
        elif handle != chosen:
            ranked.append(agent)
    ranked.sort(key=lambda a: state.rank_key(a.handle, strategy))
    notes: list[AgentNote] = []
    if best is not None:
        notes.append(_note(best, True, _why_chosen(best, strategy, last_agent, rr_last, now_ms,
                                                   False)))
    notes.extend(_note(a, False, _why_not(a, best, strategy, last_agent, now_ms))
                 for a in ranked)
    notes.extend(unavailable)
    notes.extend(outsiders)
    step.agents = notes[:limit]
    rest = notes[limit:]
    if rest:
        counts = Counter(_category(n.note) for n in rest)
        parts = ", ".join(f"{n:,} {what}" for what, n in counts.most_common())
        step.agents_summary = f"{len(rest):,} more: {parts}"
