"""The shop queue: order, position, which waiting chat a free agent takes, wait estimate.

A queued item is a :class:`QueuedChat` or any mapping/object with ``id``,
``priority``, ``arrival_ms`` and ``pool`` (the decision's resolved target; a
missing pool means the whole shop). Storage keeps the items; these helpers
only decide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cstool.routing.agents import AgentState, agent_in_pool

__all__ = ["QueuedChat", "estimate_wait_s", "pick_for_agent", "queue_order", "queue_position",
           "serving_key"]

T = TypeVar("T")


@dataclass
class QueuedChat:
    """A chat waiting for an agent of ``pool``."""

    id: Any
    priority: int = 0
    arrival_ms: int = 0
    pool: dict[str, Any] = field(default_factory=lambda: {"shop": True})


def _get(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def serving_key(priority: int | None, arrival_ms: int | None,
                chat_id: int = 0) -> tuple[int, int, int]:
    """THE serving order of waiting chats, as a sort key (smaller is served first):
    priority high to low, then the earliest arrival, then the lowest chat id. Every
    ordering of the queue follows it: ``queue_order`` here, the desk's
    (``desk_queue.serving_order``) and the storage's (``storage.repos.queue``: its
    ``QueueKey.order`` is this key, its SQL ``SERVING_ORDER`` the same in SQL; a test
    compares them)."""
    return (-int(priority or 0), int(arrival_ms or 0), chat_id)


def _order_key(item: Any) -> tuple[int, int, int]:
    # ties of priority and arrival keep their given order (ids may be of any type here)
    return serving_key(_get(item, "priority", 0), _get(item, "arrival_ms", 0))


def queue_order(items: Iterable[T]) -> list[T]:
    """The items in serving order: priority high to low, then earliest arrival
    (ties keep their given order)."""
    return sorted(items, key=_order_key)


def queue_position(items: Iterable[Any], chat_id: Any) -> int | None:
    """1-based position of chat ``chat_id`` in serving order, or None if not queued."""
    for position, item in enumerate(queue_order(items), 1):
        if _get(item, "id") == chat_id:
            return position
    return None


def pick_for_agent(agent: AgentState | Mapping[str, Any], queued_items: Iterable[T],
                   *, check_available: bool = True) -> T | None:
    """The waiting chat a freed or newly online agent should take, or None.

    Among items whose pool includes the agent: highest priority, then oldest.
    With ``check_available`` (the default) an agent who cannot take a chat now
    (not online, or at capacity) gets None.
    """
    record = agent if isinstance(agent, AgentState) else AgentState.from_dict(agent)
    if check_available and not record.available:
        return None
    best: T | None = None
    best_key: tuple[int, int, int] | None = None
    for item in queued_items:
        pool = _get(item, "pool") or {"shop": True}
        if not agent_in_pool(record, pool):
            continue
        key = _order_key(item)
        if best_key is None or key < best_key:
            best, best_key = item, key
    return best


def estimate_wait_s(position: int, capacity: int, avg_handle_s: float) -> int | None:
    """Estimated seconds until the chat at ``position`` (1 = next) is served.

    ``capacity`` is the number of chat slots serving the queue (the sum of
    ``max_chats`` over online agents of the pool). Each slot frees on average
    once every ``avg_handle_s`` seconds, so the queue drains at
    ``capacity / avg_handle_s`` chats per second and position ``p`` waits about
    ``p * avg_handle_s / capacity`` seconds, rounded up. Position 0 or less
    waits 0; with no capacity the wait is unknown (None).
    """
    if position <= 0:
        return 0
    if capacity <= 0 or avg_handle_s <= 0:
        return None
    return math.ceil(position * avg_handle_s / capacity)
