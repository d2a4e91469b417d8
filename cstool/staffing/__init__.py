"""Staffing: forecast a shop's chats per half-hour, size the desk with Erlang C and A
(chat concurrency modelled as slots), and cover the requirement with a shift roster."""

from .erlang import (
    MAX_ARRIVALS,
    MAX_SECONDS,
    MAX_SERVERS,
    MAX_TRAFFIC,
    ErlangBTable,
    Performance,
    Workload,
    check_goals,
    check_workload,
    erlang_b,
    erlang_c,
    evaluate,
    positions,
    required_agents,
)

__all__ = [
    "MAX_ARRIVALS",
    "MAX_SECONDS",
    "MAX_SERVERS",
    "MAX_TRAFFIC",
    "ErlangBTable",
    "Performance",
    "Workload",
    "check_goals",
    "check_workload",
    "erlang_b",
    "erlang_c",
    "evaluate",
    "positions",
    "required_agents",
]
