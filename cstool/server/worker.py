"""The server's storage thread, with group commit.

Every storage call of the server runs on one thread (SQLite takes one writer at a
time anyway). When several calls are waiting, the thread runs them together inside one
transaction, each in its own savepoint, and commits once: one fsync for the group
instead of one per call. A call that fails rolls back to its savepoint and fails alone;
a commit that fails fails the whole group. Answers are released only after the commit,
so an acknowledged change is as durable as before (synchronous=FULL) and nothing is
answered from data that was not committed.

The grouping itself is the storage layer's (``Database.group()``): the file's
``Database`` keeps its one-transaction-per-``write()`` contract for every other caller,
and only the calls this thread makes inside a group become savepoints of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from ..errors import StorageError

MAX_GROUP = 64  # calls committed together at most
_STOP = object()


class StorageWorker:
    """One thread running storage calls, grouping those that wait into one commit."""

    def __init__(self, database: Any, *, max_group: int = MAX_GROUP):
        self.database = database
        self.max_group = max_group
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.groups = 0  # commits that carried more than one call (for tests and figures)
        self.thread = threading.Thread(target=self._loop, name="cstool-storage", daemon=True)
        self.thread.start()

    # -- calls ------------------------------------------------------------------------------
    async def run(self, fn: Callable[[], Any], *, alone: bool = False) -> Any:
        """Run ``fn`` on the storage thread; ``alone`` keeps it out of any group."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((fn, loop, future, alone))
        return await future

    def stop(self) -> None:
        """Finish what is queued and stop the thread."""
        self._queue.put(_STOP)
        self.thread.join(30)

    # -- the thread -------------------------------------------------------------------------
    def _loop(self) -> None:
        held = None
        while True:
            item = held if held is not None else self._queue.get()
            held = None
            if item is _STOP:
                return
            group = [item]
            if not item[3]:
                while len(group) < self.max_group:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP or nxt[3]:
                        held = nxt  # after this group
                        break
                    group.append(nxt)
            if len(group) == 1:
                self._deliver(group, [self._call(item[0])])
            else:
                self._deliver(group, self._run_group(group))

    def _call(self, fn: Callable[[], Any]) -> tuple[bool, Any]:
        try:
            return True, fn()
        except BaseException as e:  # handed to the caller
            return False, e

    def _run_group(self, group: list) -> list[tuple[bool, Any]]:
        try:
            with self.database.group():
                results = [self._call(item[0]) for item in group]
        except StorageError as e:  # begin (locked past the timeout) or commit failed
            return [(False, e) for _ in group]
        self.groups += 1
        return results

    def _deliver(self, group: list, results: list[tuple[bool, Any]]) -> None:
        # One wake-up of each event loop for the whole group, not one per call.
        by_loop: dict[Any, list] = {}
        for (_, loop, future, _), result in zip(group, results, strict=True):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed while we worked
                loop.call_soon_threadsafe(_settle_all, settled)


def _settle_all(settled: list[tuple[asyncio.Future, tuple[bool, Any]]]) -> None:
    for future, (ok, value) in settled:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

