"""Staffing: forecast a shop's chats per half-hour, size the desk with Erlang C and A
(chat concurrency modelled as slots), and cover the requirement with a shift roster."""

from .erlang import (
    ErlangBTable,
    Performance,
    Workload,
    erlang_b,
    erlang_c,
    evaluate,
    positions,
    required_agents,
)

__all__ = [
    "ErlangBTable",
    "Performance",
    "Workload",
    "erlang_b",
    "erlang_c",
    "evaluate",
    "positions",
    "required_agents",
]
