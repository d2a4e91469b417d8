"""Housekeeping operations the worker runs on a schedule."""

from __future__ import annotations


class WorkerOps:
    """Worker operations of the Local backend (mixed into LocalBackend)."""

    def drain_queues(self) -> list[tuple[int, str]]:
        """Hand every shop's waiting chats to agents who can take them now (after capacity
        changes, or anything else that freed a slot without a desk operation)."""
        with self.database.write() as conn:
            now = self._now()
            done = []
            for (shop_id,) in conn.execute(
                "SELECT DISTINCT shop_id FROM queue_bands WHERE n > 0 ORDER BY shop_id"
            ).fetchall():
                done.extend(self._drain(conn, shop_id, now))
            return done
