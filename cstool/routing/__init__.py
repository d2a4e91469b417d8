"""The routing engine: pure Python over plain data (no I/O, no clock, no storage).

Typical use, per shop::

    ruleset = RuleSet(rules)                  # validate + compile once per rule change
    state = RoutingState(agents)              # index once, then keep current
    state.prepare(ruleset.static_pools())     # optional: build pools up front
    rr = RoundRobinState.from_dict(saved)     # persisted by the caller

    decision = route(ruleset, facts, state, now_ms, rr)
    if decision.agent:
        state.assign(decision.agent, now_ms)  # caller records it atomically
    else:
        ...                                   # queue with decision.pool, decision.priority
    print(explain(decision))

See ``conditions`` for the condition language, ``rules`` for rules and targets
(and ``RULE_KIND_EXAMPLES``), ``fields.KNOWN_FIELDS`` for the facts.
"""

from cstool.routing.agents import (
    STATUSES,
    AgentState,
    RoundRobinState,
    RoutingState,
    agent_in_pool,
    not_in_pool_reason,
    unavailable_reason,
)
from cstool.routing.conditions import (
    OPERATORS,
    OPERATORS_BY_TYPE,
    compile_condition,
    evaluate,
    validate_condition,
)
from cstool.routing.engine import AgentNote, Decision, TraceStep, route
from cstool.routing.explain import display_width, explain, pad
from cstool.routing.fields import (
    AGENT_LEVELS,
    KNOWN_FIELDS,
    FieldSpec,
    format_known_fields,
    local_time_facts,
    prepare_facts,
)
from cstool.routing.queueing import (
    QueuedChat,
    estimate_wait_s,
    pick_for_agent,
    queue_order,
    queue_position,
)
from cstool.routing.rules import (
    RULE_KIND_EXAMPLES,
    STRATEGIES,
    WHEN_UNAVAILABLE,
    Rule,
    RuleSet,
    describe_target,
    target_key,
    validate_rule,
    validate_rules,
    validate_target,
)

__all__ = [
    "AGENT_LEVELS",
    "KNOWN_FIELDS",
    "OPERATORS",
    "OPERATORS_BY_TYPE",
    "RULE_KIND_EXAMPLES",
    "STATUSES",
    "STRATEGIES",
    "WHEN_UNAVAILABLE",
    "AgentNote",
    "AgentState",
    "Decision",
    "FieldSpec",
    "QueuedChat",
    "RoundRobinState",
    "RoutingState",
    "Rule",
    "RuleSet",
    "TraceStep",
    "agent_in_pool",
    "compile_condition",
    "describe_target",
    "display_width",
    "estimate_wait_s",
    "evaluate",
    "explain",
    "format_known_fields",
    "local_time_facts",
    "not_in_pool_reason",
    "pad",
    "pick_for_agent",
    "prepare_facts",
    "queue_order",
    "queue_position",
    "route",
    "target_key",
    "unavailable_reason",
    "validate_condition",
    "validate_rule",
    "validate_rules",
    "validate_target",
]
