"""Housekeeping the worker runs on a schedule."""

from __future__ import annotations

from .context import ServiceContext


class WorkerService:
    """Scheduled housekeeping (``ctx.worker``)."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def drain_queues(self) -> list[list]:
        """Hand every shop's waiting chats to agents who can take them now (after capacity
        changes, or anything else that freed a slot without a desk operation): the
        ``[conversation, agent]`` pairs handed out (lists, as JSON carries them)."""
        with self.ctx.write() as uow:
            done = []
            for shop_id in uow.queue.shops_waiting():
                done.extend([cid, agent] for cid, agent in self.ctx.routing.drain(uow, shop_id))
            return done
