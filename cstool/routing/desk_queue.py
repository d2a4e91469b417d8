"""The queue as one agent's desk shows it: the waiting chats the agent may accept, in
the order ``accept_next`` (F2 at the console) takes them. Pure: it reads the ``queue`` of
``agent_desk`` (each entry with ``id``, ``priority``, ``waiting_since_ms`` and
``mine``), so the console asks here instead of ordering the queue itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .queueing import serving_key


def serving_order(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Desk queue entries in serving order (``queueing.serving_key``: priority high to
    low, then the earliest wait, then the conversation id), over every shop."""
    return sorted(entries, key=lambda e: serving_key(e.get("priority", 0),
                                                     e.get("waiting_since_ms", 0), e["id"]))


def agent_queue(queue: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    """The waiting chats this agent may accept (``mine``; an entry without the mark, from
    an older server, counts as the agent's), in serving order, and how many others wait
    for a group or an agent this agent is not in."""
    entries = list(queue)
    mine = [e for e in entries if e.get("mine", True)]
    return serving_order(mine), len(entries) - len(mine)
