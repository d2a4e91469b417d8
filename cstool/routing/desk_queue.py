"""The queue as one agent's desk shows it: the waiting chats the agent may accept, in
the order ``accept_next`` (F2 at the console) takes them. Pure: it reads the ``queue`` of
``agent_desk`` (each entry with ``id``, ``priority``, ``waiting_since_ms`` and
``mine``), so the console asks here instead of ordering the queue itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .queueing import queue_order


def serving_order(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Desk queue entries in serving order (``queueing.queue_order``: priority high to
    low, then the earliest wait), equal ones by conversation id, over every shop."""
    items = [{"priority": e.get("priority", 0), "arrival_ms": e.get("waiting_since_ms", 0),
              "id": e["id"], "entry": e} for e in entries]
    items.sort(key=lambda i: i["id"])
    return [i["entry"] for i in queue_order(items)]


def agent_queue(queue: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    """The waiting chats this agent may accept (``mine``; an entry without the mark, from
    an older server, counts as the agent's), in serving order, and how many others wait
    for a group or an agent this agent is not in."""
    entries = list(queue)
    mine = [e for e in entries if e.get("mine", True)]
    return serving_order(mine), len(entries) - len(mine)
