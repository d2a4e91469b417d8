"""`serve`'s own sender: webhook and channel deliveries POSTed from the server process.

A background task wakes every ``interval_s`` seconds and runs the worker's sender
(``cstool.webhook_sender.send_due``) on a thread of its own. Its claims and outcomes go
through the server's storage thread like every request's, as the very operations a
``cstool worker`` calls (``claim_webhook_deliveries``, ``finish_webhook_delivery``), so an
attempt is claimed exactly once between the server and any number of workers (a lease
in a write transaction), and the POSTs never hold the storage thread: a slow receiver
slows nobody's request. A worker killed meanwhile, or the server stopped mid-POST, leaves
a lease that runs out; the next claim makes the attempt again with the same delivery id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

log = logging.getLogger("cstool.server")


class _StorageProxy:
    """The two Backend operations the sender calls, run on the server's storage thread
    from the sender's own thread."""

    def __init__(self, state: Any, loop: asyncio.AbstractEventLoop):
        self.state = state
        self.loop = loop

    def _call(self, fn, *args, **kw) -> Any:
        future = asyncio.run_coroutine_threadsafe(
            self.state.run(lambda: fn(*args, **kw)), self.loop)
        return future.result()

    def claim_webhook_deliveries(self, worker: str, **kw) -> list[dict]:
        """See :meth:`Backend.claim_webhook_deliveries`."""
        return self._call(self.state.backend.claim_webhook_deliveries, worker, **kw)

    def finish_webhook_delivery(self, delivery: str, attempt: int, worker: str,
                                **kw) -> dict:
        """See :meth:`Backend.finish_webhook_delivery`."""
        return self._call(self.state.backend.finish_webhook_delivery, delivery, attempt,
                          worker, **kw)


class BackgroundSender:
    """Sends due deliveries every ``interval_s`` seconds while the server runs."""

    def __init__(self, state: Any, interval_s: float):
        self.state = state
        self.interval_s = interval_s
        self.worker = f"serve:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.passes = 0
        self.sent: dict[str, int] = {"attempted": 0, "done": 0, "retrying": 0, "failed": 0}
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    @classmethod
    async def started(cls, state: Any, interval_s: float | None) -> BackgroundSender | None:
        """A running sender every ``interval_s`` seconds; None when that is None or 0
        (only workers send)."""
        if not interval_s:
            return None
        sender = cls(state, interval_s)
        await sender.start()
        return sender

    @staticmethod
    async def stopped(sender: BackgroundSender | None) -> None:
        """Stop ``sender`` if there is one (its last outcomes still need the storage)."""
        if sender is not None:
            await sender.stop()

    async def start(self) -> None:
        """Begin the passes (with the app's lifespan)."""
        self._task = asyncio.create_task(self._run(), name="cstool-sender")

    async def stop(self) -> None:
        """Stop after the pass in progress (its POSTs end within their timeouts)."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        from ..errors import CstoolError
        from ..webhook_sender import send_due

        loop = asyncio.get_running_loop()
        proxy = _StorageProxy(self.state, loop)
        # a thread of its own: the POSTs never take the loop's default executor
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cstool-sender") as pool:
            while not self._stop.is_set():
                try:
                    counts = await loop.run_in_executor(
                        pool, partial(send_due, proxy, worker=self.worker, rounds=10))
                    for k, v in counts.items():
                        self.sent[k] = self.sent.get(k, 0) + v
                except CstoolError as e:  # the storage said no (stopping): next pass
                    log.warning("sender: %s", e)
                except RuntimeError:  # the loop is closing: the server is stopping
                    return
                except Exception:  # a pass must not end the server
                    log.exception("sender pass failed")
                self.passes += 1
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval_s)
