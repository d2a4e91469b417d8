"""The worker: one process that keeps the desk moving without anyone pressing keys.

Each pass: close chats idle past their shop's limit, hand waiting chats to free agents,
warn and escalate tickets against their SLA, run due campaigns, POST due webhook
deliveries and catch the metric aggregates up (operations every Backend declares). Every
job is exactly-once safe, so two workers (or a worker killed mid-pass) never double-act
(a webhook attempt cut short by a kill is made again, with the same delivery id).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api.backend import Backend

# (name, the backend operation it runs) in the order a pass runs them.
JOBS: list[tuple[str, Callable[[Backend], Any]]] = [
    ("idle_closed", lambda b: b.close_idle()),
    ("queue_assigned", lambda b: b.drain_queues()),
    ("sla", lambda b: b.sla_scan()),
    ("campaigns", lambda b: b.run_due_campaigns()),
    ("webhooks", lambda b: _send_webhooks(b)),
    ("metrics", lambda b: b.metrics_refresh()),
]


def _send_webhooks(backend: Backend) -> dict[str, Any]:
    from .webhook_sender import send_due

    return send_due(backend)


@dataclass
class Worker:
    """Runs the jobs every ``interval_s`` seconds until told to stop."""

    backend: Backend
    interval_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    passes: int = 0
    errors: list[str] = field(default_factory=list)

    def jobs(self) -> list[tuple[str, Callable[[], Any]]]:
        """The jobs of a pass, in order, as (name, a call of the operation)."""
        return [(name, partial(job, self.backend)) for name, job in JOBS]

    def run_once(self) -> dict[str, Any]:
        """One pass over every job; a failing job is reported and the others still run."""
        from .errors import CstoolError

        out: dict[str, Any] = {}
        for name, job in self.jobs():
            try:
                out[name] = job()
            except CstoolError as e:
                self.errors.append(f"{name}: {e}")
                out[name] = {"error": str(e)}
        self.passes += 1
        return out

    def run(self, keep_going: Callable[[], bool],
            report: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Pass after pass until ``keep_going()`` is false (checked between passes and
        while waiting, so a stop request ends the wait, never a pass half done)."""
        while keep_going():
            result = self.run_once()
            if report is not None:
                report(result)
            waited = 0.0
            while waited < self.interval_s and keep_going():
                step = min(0.2, self.interval_s - waited)
                self.sleep(step)
                waited += step
