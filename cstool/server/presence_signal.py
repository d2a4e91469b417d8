"""The live signal of presence: who is viewing or typing in a chat, pushed on the event
stream (``GET /v1/events``) to the staff of the chat's shop as ``conversation.presence``.

It is not an event (``events.EventHub.publish``): no id, never stored, never replayed;
a console shows it at once and keeps asking the presence table (with its time to live)
for the truth. A customer's stream never carries it (it is not among their events).
"""

from __future__ import annotations

from typing import Any

from ..services.presence import TTL_MS
from ..values import format_time

TYPE = "conversation.presence"


def presence_signal(backend: Any, args: dict, result: dict) -> dict:
    """The signal for one presence claim that ``backend.presence`` accepted (``args``:
    the operation's, ``result``: its answer): the chat, its shop, and who is there in
    what state (``left``: gone), for how long the claim holds (``ttl_s``)."""
    conv = backend.get_conversation(result["conversation"], messages=False)
    handle = args["agent"]
    agent = backend.get("agents", handle)
    state = args.get("state") or "viewing"
    return {"type": TYPE, "entity": "conversation", "key": str(conv["id"]),
            "shop": conv["shop"], "at": format_time(backend.clock.now_ms()),
            "payload": {"conversation": conv["id"], "agent": handle,
                        "name": agent.get("name"), "role": agent.get("role"),
                        "state": state, "ttl_s": TTL_MS.get(state, 0) // 1000}}
