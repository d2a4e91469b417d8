"""Who else is in a chat (``ctx.presence``): staff viewing it or typing in it.

Presence is ephemeral: each console says "I am viewing / typing in this chat" every few
seconds and the claim lasts a short time (``TTL_MS``), so a console that quits or loses
its connection drops out by itself. It is kept in the data file (one small row per chat
and staff member, ``storage.repos.presence``), so consoles of other processes on the same
file (local mode) and of the server's clients (remote mode) see one another through the
same operation. It writes no event: a claim every few seconds would flood the event log,
the webhooks and the streams with what is not a change of the chat.
"""

from __future__ import annotations

from ..errors import UsageError
from ..storage.repos.presence import Presence
from .context import ServiceContext

STATES = ("viewing", "typing", "left")
# How long a claim lasts without being renewed (the console renews every few seconds).
TTL_MS = {"viewing": 20_000, "typing": 8_000}


class PresenceService:
    """Presence in chats."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def presence(self, conversation: int, agent: str, state: str = "viewing") -> dict:
        """``agent`` (staff of the chat's shop) is viewing or typing in the chat, or has
        ``left`` it; returns who else is there now: ``{conversation, others: [{agent,
        name, role, state}]}`` (a supervisor's role says so)."""
        if state not in STATES:
            raise UsageError(f"state must be one of {', '.join(STATES)}, not {state!r}",
                             key="presence_state", state=state, states=", ".join(STATES))
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            a = uow.agents.by_handle(agent)
            self.ctx.labels.check_staff(uow, agent, conv["shop_id"])
            rows = uow.repo(Presence)
            now = uow.now
            if state == "left":
                rows.leave(conv["id"], a["id"])
            else:
                rows.touch(conv["id"], a["id"], conv["shop_id"], state, now + TTL_MS[state],
                           now)
            others = [{"agent": h, "name": n, "role": r, "state": s}
                      for h, n, r, s, _ in rows.in_chat(conv["id"], now) if h != agent]
        return {"conversation": conv["id"], "others": others}
