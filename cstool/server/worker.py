"""The server's storage thread, with group commit.

Every storage call of the server runs on one thread (SQLite takes one writer at a
time anyway). When several calls are waiting, the thread runs them together inside one
transaction, each in its own savepoint, and commits once: one fsync for the group
instead of one per call. A call that fails rolls back to its savepoint and fails alone;
a commit that fails fails the whole group. Answers are released only after the commit,
so an acknowledged change is as durable as before (synchronous=FULL) and nothing is
answered from data that was not committed.

The file's ``Database`` keeps its one-transaction-per-``write()`` contract for every
other caller: the grouping applies only to calls this thread makes while it runs a
group (``write()`` becomes a savepoint there, ``read()`` reads inside the group).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterator
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
        self._grouping = False
        self._names = itertools.count()
        self._plain_write = database.write
        self._plain_read = database.read
        database.write = self._write  # this instance only; undone by stop()
        database.read = self._read
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
        """Finish what is queued, stop the thread and give the Database back its methods."""
        self._queue.put(_STOP)
        self.thread.join(30)
        vars(self.database).pop("write", None)  # the class's methods again
        vars(self.database).pop("read", None)

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
        db = self.database
        with db.lock:
            try:
                db.conn.execute("BEGIN IMMEDIATE")
            except Exception as e:  # locked by another process past the timeout
                err = StorageError(f"{db.path}: {e}")
                return [(False, err) for _ in group]
            self._grouping = True
            try:
                results = [self._call(item[0]) for item in group]
            finally:
                self._grouping = False
            try:
                db.conn.execute("COMMIT")
            except Exception as e:
                with contextlib.suppress(Exception):
                    db.conn.execute("ROLLBACK")
                db.generation += 1
                err = StorageError(f"{db.path}: commit failed: {e}")
                return [(False, err) for _ in group]
        self.groups += 1
        return results

    def _deliver(self, group: list, results: list[tuple[bool, Any]]) -> None:
        for (_, loop, future, _), (ok, value) in zip(group, results, strict=True):
            with contextlib.suppress(RuntimeError):  # the loop closed while we worked
                loop.call_soon_threadsafe(_settle, future, ok, value)

    # -- the Database's write() and read() while grouping -----------------------------------
    def _in_group(self) -> bool:
        return self._grouping and threading.current_thread() is self.thread

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        if not self._in_group():
            with self._plain_write() as conn:
                yield conn
            return
        db = self.database
        name = f"cstool_{next(self._names)}"
        db.conn.execute(f"SAVEPOINT {name}")
        db.generation += 1
        try:
            yield db.conn
        except BaseException:
            db.conn.execute(f"ROLLBACK TO {name}")
            db.conn.execute(f"RELEASE {name}")
            db.generation += 1
            raise
        else:
            db.conn.execute(f"RELEASE {name}")

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        if not self._in_group():
            with self._plain_read() as conn:
                yield conn
            return
        yield self.database.conn


def _settle(future: asyncio.Future, ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)

